"""Vector drawing over a PDF page, in the coordinates of the page as it is read.

Public API:

- ``Drawing(doc)``: what the drawings on the pages of ``doc`` share: ``.fonts`` (a
  :class:`.fonts.Embedded`), ``.surface(page)``, and ``.finish()`` once every surface is
  committed (the fonts subset).
- ``Surface(page, drawing)``: drawing on ``page`` in upright coordinates (the page as shown,
  after its /Rotate: origin top-left, ``width`` x ``height`` points):
  ``rect(rect, color=None, fill=None, width=1, fill_opacity=1)``,
  ``strokes(points, color, width)`` (an open polyline, round caps and joins),
  ``line(x, baseline, text, size=9, style=REGULAR, color=black)`` (one line of text, no wrapping), and
  ``commit()`` once, which puts the drawing on the page.

The drawing is written as PDF operators (text as glyph indexes, so nothing in a text is PDF
syntax) into one Form XObject per page, drawn after the page's own content, which is put
between ``q`` and ``Q`` so that whatever graphics state it leaves does not reach the drawing.
The page's content streams and images are not touched: only its /Contents array and its
resources get one more entry. PyMuPDF's shapes and text insertion were not used: they look
fonts up again on every call (the graded PDF took five times longer with them), and a turned
page with an offset crop box got its drawing in the wrong place.
"""
import pymupdf
from pymupdf import mupdf

from viatique_xblock.pdf import fonts
from viatique_xblock.pdf.objects import new_stream

_BBOX = "[-20000 -20000 20000 20000]"  # larger than any page (PDF pages are at most 14,400 units)


def _colour(color):
    return " ".join(f"{component:.3f}" for component in color)


class Drawing:
    def __init__(self, doc):
        self.doc = doc
        self.fonts = fonts.Embedded(doc)
        self._opening = None

    def opening(self):
        """The stream ``q`` put before the content of every page drawn on (one per document)."""
        if self._opening is None:
            self._opening = new_stream(self.doc, "<<>>", b"q\n", deflate=False)
        return self._opening

    def surface(self, page):
        return Surface(page, self)

    def finish(self):
        self.fonts.finish()


class Surface:
    def __init__(self, page, drawing):
        self.page = page
        self.drawing = drawing
        self.embedded = drawing.fonts
        self.to_pdf = _upright_to_pdf(page)
        self.width, self.height = page.rect.width, page.rect.height
        self.operators = []
        self.styles = set()
        self.opacities = set()

    def _path(self, points):
        pdf = [pymupdf.Point(point) * self.to_pdf for point in points]
        return " ".join([f"{pdf[0].x:.2f} {pdf[0].y:.2f} m"] + [f"{p.x:.2f} {p.y:.2f} l" for p in pdf[1:]])

    def rect(self, rect, color=None, fill=None, width=1.0, fill_opacity=1.0):
        rect = pymupdf.Rect(rect)
        state = []
        if fill_opacity < 1:
            opacity = round(fill_opacity * 100)
            self.opacities.add(opacity)
            state.append(f"/VqAlpha{opacity} gs")
        if fill is not None:
            state.append(f"{_colour(fill)} rg")
        if color is not None:
            state.append(f"{_colour(color)} RG {width:g} w")
        paint = "B" if fill is not None and color is not None else ("f" if fill is not None else "S")
        path = self._path([rect.tl, rect.tr, rect.br, rect.bl])
        self.operators.append(f"q {' '.join(state)} {path} h {paint} Q")

    def strokes(self, points, color, width):
        self.operators.append(f"q {_colour(color)} RG {width:g} w 1 J 1 j {self._path(points)} S Q")

    def line(self, x, baseline, text, size=9.0, style=fonts.REGULAR, color=(0, 0, 0)):
        shown = []
        for current, part in fonts.runs(fonts.clean(text).replace("\n", " "), style):
            a, b, c, d, e, f = pymupdf.Matrix(1, 0, 0, -1, x, baseline) * self.to_pdf
            self.styles.add(current)
            shown.append(f"/{self.embedded.name(current)} {size:g} Tf {a:g} {b:g} {c:g} {d:g} {e:.2f} {f:.2f} Tm "
                         f"<{self.embedded.glyphs(part, current)}> Tj")
            x += fonts.measure(part, size, current)
        if shown:
            self.operators.append(f"BT {_colour(color)} rg " + " ".join(shown) + " ET")

    def commit(self):
        if not self.operators:
            return
        doc = self.page.parent
        states = "".join(f"/VqAlpha{value}<</ca {value / 100:g} /CA {value / 100:g}>>" for value in
                         sorted(self.opacities))
        resources = f"/Font {self.embedded.resources(self.styles)}" if self.styles else ""
        resources += f"/ExtGState <<{states}>>" if states else ""
        form = new_stream(doc, f"<</Type/XObject/Subtype/Form/BBox {_BBOX}/Resources <<{resources}>>>>",
                           "\n".join(self.operators).encode())
        name = f"VqDrawing{form}"
        target, path = _dictionary(doc, self.page.xref, "Resources")
        target, path = _dictionary(doc, target, f"{path}XObject")
        doc.xref_set_key(target, f"{path}{name}", f"{form} 0 R")
        kind, value = doc.xref_get_key(self.page.xref, "Contents")
        existing = value.strip("[]") if kind == "array" else (value if kind == "xref" else "")
        after = new_stream(doc, "<<>>", f"\nQ q /{name} Do Q\n".encode(), deflate=False)
        doc.xref_set_key(self.page.xref, "Contents", f"[{self.drawing.opening()} 0 R {existing} {after} 0 R]")
        self.operators = []


def _upright_to_pdf(page):
    """The matrix from the page as shown (after /Rotate, origin top-left of the crop box) to PDF
    user space: the inverse of MuPDF's page transform. (PyMuPDF's ``transformation_matrix``
    leaves out the crop box's offset on a turned page.)"""
    ctm = mupdf.FzMatrix()
    mupdf.pdf_page_transform(pymupdf._as_pdf_page(page), mupdf.FzRect(mupdf.FzRect.Fixed_UNIT), ctm)
    return ~pymupdf.Matrix(ctm.a, ctm.b, ctm.c, ctm.d, ctm.e, ctm.f)


def _dictionary(doc, xref, key):
    """``(xref, path prefix)`` of the dictionary at ``key`` of object ``xref``, created if missing:
    the page's own, or the one it shares with other pages."""
    kind, value = doc.xref_get_key(xref, key)
    if kind == "xref":
        return int(value.split()[0]), ""
    if kind != "dict":
        doc.xref_set_key(xref, key, "<<>>")
    return xref, f"{key}/"
