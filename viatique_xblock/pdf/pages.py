"""Recognising a scanner page: one image drawn over the whole page and nothing else.

Public API:

- ``scanner_image(doc, index) -> ScannerImage | None``: the image of page ``index`` when
  the page's content is exactly ``[q] [matrices cm] /Im Do [Q]`` drawing one image XObject,
  upright (no skew, no mirror) and covering the page's crop box (within 1 %); None
  otherwise. Only the tiny content stream and the image dictionary are read.
- ``ScannerImage``: ``xref``, ``width``, ``height``, ``filters`` (list of names without the
  slash), ``colorspace`` (``"gray"``, ``"rgb"``, ``"cmyk"`` or ``"other"``),
  ``bits``, ``plain`` (no soft mask, mask or decode array, so the image's own pixels are
  what the page shows), ``page_rotation`` (the page's /Rotate), ``dpi``.
"""
import re
from dataclasses import dataclass

_TOKEN = re.compile(rb"/[^\s/\[\]()<>{}%]+|[-+]?(?:\d+\.?\d*|\.\d+)|[A-Za-z*']+|\S")
_MAX_CONTENT = 4096
_TOLERANCE = 0.01
_COLORSPACES = {"DeviceGray": "gray", "DeviceRGB": "rgb", "DeviceCMYK": "cmyk", "CalGray": "gray", "CalRGB": "rgb"}


@dataclass(frozen=True)
class ScannerImage:
    xref: int
    width: int
    height: int
    filters: tuple
    colorspace: str
    bits: int
    plain: bool
    page_rotation: int
    dpi: float


def _multiply(m, n):
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _placement(content):
    """(image name, matrix) when ``content`` only draws one image, else None."""
    matrix, numbers, name, drawn = (1, 0, 0, 1, 0, 0), [], None, False
    for token in _TOKEN.findall(content):
        if drawn:
            if token != b"Q":
                return None
        elif token[:1].isdigit() or token[:1] in b"+-.":
            numbers.append(float(token))
        elif token.startswith(b"/") and name is None and not numbers:
            name = token[1:].decode("latin-1")
        elif token == b"cm" and len(numbers) == 6 and name is None:
            matrix = _multiply(tuple(numbers), matrix)
            numbers = []
        elif token == b"Do" and name is not None and not numbers:
            drawn = True
        elif token != b"q" or numbers or name is not None:
            return None
    return (name, matrix) if drawn else None


def _colorspace(doc, xref):
    kind, value = doc.xref_get_key(xref, "ColorSpace")
    if kind == "name":
        return _COLORSPACES.get(value.lstrip("/"), "other")
    if kind == "xref":
        kind, value = "array", doc.xref_object(int(value.split()[0]), compressed=True)
    if kind == "array" and "/ICCBased" in value:
        ref = re.search(r"/ICCBased\s+(\d+)\s+0\s+R", value)
        if ref:
            components = doc.xref_get_key(int(ref.group(1)), "N")[1]
            return {"1": "gray", "3": "rgb", "4": "cmyk"}.get(components, "other")
    return "other"


def _int_key(doc, xref, key):
    kind, value = doc.xref_get_key(xref, key)
    return int(value) if kind == "int" else 0


def _own_image(doc, page, name):
    """(xref, smask xref, width, height, bits) of the image XObject ``name`` of the page's own
    resources, read from its dictionary (four times cheaper than listing the page's images),
    or None when the page names no such image itself."""
    kind, value = doc.xref_get_key(page.xref, f"Resources/XObject/{name}")
    if kind != "xref" or doc.xref_get_key(int(value.split()[0]), "Subtype")[1] != "/Image":
        return None
    xref = int(value.split()[0])
    kind, value = doc.xref_get_key(xref, "SMask")
    smask = int(value.split()[0]) if kind == "xref" else 0
    return (xref, smask, _int_key(doc, xref, "Width"), _int_key(doc, xref, "Height"),
            _int_key(doc, xref, "BitsPerComponent"))


def scanner_image(doc, index):
    """The one image that makes up page ``index``, or None (see the module docstring)."""
    page = doc.load_page(index)
    contents = page.get_contents()
    content = b""
    for xref in contents:
        raw_length = doc.xref_get_key(xref, "Length")[1]
        if not raw_length.isdigit() or int(raw_length) > _MAX_CONTENT:
            return None
        content += (doc.xref_stream(xref) or b"") + b"\n"
        if len(content) > _MAX_CONTENT:
            return None
    placed = _placement(content)
    if placed is None:
        return None
    name, (a, b, c, d, e, f) = placed
    found = _own_image(doc, page, name)
    if found is None:  # resources inherited, or a name PyMuPDF spells otherwise: the long way
        images = [entry for entry in doc.get_page_images(index, full=True) if entry[7] == name and entry[9] == 0]
        if len(images) != 1:
            return None
        found = images[0][:5]
    xref, smask, width, height, bits = found
    box = page.cropbox  # top-left origin, unrotated; the image space is bottom-left
    x0, y0 = box.x0, page.mediabox.y1 - box.y1
    if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
        return None
    tolerance_x, tolerance_y = box.width * _TOLERANCE, box.height * _TOLERANCE
    if (abs(e - x0) > tolerance_x or abs(f - y0) > tolerance_y
            or abs(a - box.width) > tolerance_x or abs(d - box.height) > tolerance_y):
        return None
    kind, value = doc.xref_get_key(xref, "Filter")
    filters = () if kind == "null" else value.strip("[] ").replace("/", " ").split()
    plain = not smask and all(doc.xref_get_key(xref, key)[0] == "null" for key in ("SMask", "Mask", "Decode"))
    return ScannerImage(
        xref=xref,
        width=width,
        height=height,
        filters=tuple(filters),
        colorspace=_colorspace(doc, xref),
        bits=bits,
        plain=plain,
        page_rotation=page.rotation % 360,
        dpi=width / (box.width / 72.0),
    )
