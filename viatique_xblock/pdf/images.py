"""Page images for the browser: the scanner's own JPEG when it can go as it is, else a rendering.

Public API:

- ``page_image(doc, index, dpi=150, max_pixels=60_000_000, rotate=0, quality=85, image=None, data=None)
  -> PageImage(data, mime, width, height)`` (``image``, ``data``: the page's scanner image and its raw
  stream, when the caller has them): the image of page ``index`` upright after
  turning it clockwise by ``rotate`` (0, 90, 180 or 270, as :mod:`.decode` finds).
  ``width`` and ``height`` are those of the image as shown (upright).
- ``thumbnail(doc, index, width=180, rotate=0, quality=75) -> PageImage``.
- ``mask_area(data, area, quality=85) -> PageImage``: the image with the normalised
  ``area`` ``(x0, y0, x1, y1)`` of the upright page painted over (the name on an anonymous
  copy's cover).
- ``crop_area(data, area, width=600, quality=85) -> PageImage``: only that area, scaled to
  ``width`` (the identification desk's view of the name).
- ``release_caches()``: empty MuPDF's own cache (between ranges of pages, to keep memory flat).
- ``thumbnail_from_image(data, width=180, quality=75) -> PageImage``: a thumbnail of a page
  image already made (a JPEG or PNG), decoded at a reduced scale straight from the JPEG's
  DCT coefficients (Pillow's draft mode): a few milliseconds, made when first asked for.
- ``passthrough_jpeg(doc, index, max_pixels, image=None, rotate=0) -> PageImage | None``: the
  scanner's JPEG, its coded pixels untouched, when the page is exactly that one image
  (:func:`.pages.scanner_image`): grey or RGB, 8 bits, no mask or decode array, no EXIF
  orientation of its own, within ``max_pixels``. Byte for byte when the page is upright;
  a page to turn (its /Rotate, plus ``rotate``) gets an Exif orientation instead
  (:func:`.jpeg.with_orientation`): browsers show it upright as the PDF does, without
  re-encoding a pixel (about nothing, where a rendering costs 10-40 ms a page).

- ``encode_jpeg(pixmap, quality) -> bytes``.

Stored page images may thus carry an Exif orientation: :func:`mask_area`, :func:`crop_area`
and :func:`thumbnail_from_image` turn them upright first (their areas are in the upright
page), and return upright images without it. Renderings are JPEG (grey when the page is a
grey scan, RGB otherwise), at most ``max_pixels`` pixels (the resolution is lowered to fit).
One page's pixmap is alive at a time, and released before the function returns. The
document must have passed :func:`.validate.validate_pdf`.
"""
import io
import math
from typing import NamedTuple

import pymupdf

from viatique_xblock.pdf import jpeg
from viatique_xblock.pdf.pages import scanner_image

JPEG = "image/jpeg"


class PageImage(NamedTuple):
    data: bytes
    mime: str
    width: int
    height: int


def passthrough_jpeg(doc, index, max_pixels, image=None, rotate=0, data=None):
    """The page's scanner JPEG (tagged with the turn that shows it upright), or None when it
    must be rendered. ``data``: the image's raw stream, when the caller read it already."""
    image = image or scanner_image(doc, index)
    if (image is None or image.filters != ("DCTDecode",) or not image.plain
            or image.colorspace not in ("gray", "rgb") or image.bits != 8
            or image.width * image.height > max_pixels):
        return None
    data = data or doc.xref_stream_raw(image.xref)
    header = jpeg.info(data)
    if (header is None or header.orientation != 1 or header.process == "other" or header.precision != 8
            or header.components not in (1, 3) or (header.width, header.height) != (image.width, image.height)):
        return None
    turn = (image.page_rotation + int(rotate)) % 360
    if turn:
        data = jpeg.with_orientation(data, turn, header)
        if data is None:
            return None
    width, height = (image.height, image.width) if turn in (90, 270) else (image.width, image.height)
    return PageImage(data, JPEG, width, height)


def encode_jpeg(pix, quality):
    """JPEG bytes of a grey or RGB pixmap: Pillow's libjpeg-turbo when installed (ten times
    faster), else MuPDF's encoder."""
    try:
        from PIL import Image  # noqa: PLC0415 - optional accelerator
    except ImportError:
        return pix.tobytes("jpg", jpg_quality=quality)
    mode = "L" if pix.n == 1 else "RGB"
    image = Image.frombytes(mode, (pix.width, pix.height), pix.samples)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _render(page, zoom, rotate, gray, quality):
    pix = page.get_pixmap(
        matrix=pymupdf.Matrix(zoom, zoom).prerotate(rotate),
        colorspace=pymupdf.csGRAY if gray else pymupdf.csRGB,
        alpha=False,
    )
    try:
        return PageImage(encode_jpeg(pix, quality), JPEG, pix.width, pix.height)
    finally:
        del pix


def _is_gray(image):
    return image is not None and image.colorspace == "gray"


def page_image(doc, index, dpi=150, max_pixels=60_000_000, rotate=0, quality=85, image=None, data=None):
    """The browser image of a page (see the module docstring)."""
    rotate = int(rotate) % 360
    image = image or scanner_image(doc, index)
    passed = passthrough_jpeg(doc, index, max_pixels, image, rotate, data)
    if passed is not None:
        return passed
    page = doc.load_page(index)
    zoom = dpi / 72.0
    pixels = page.rect.width * zoom * page.rect.height * zoom
    if pixels > max_pixels:
        zoom *= math.sqrt(max_pixels / pixels) * 0.999
    return _render(page, zoom, rotate, _is_gray(image), quality)


def thumbnail(doc, index, width=180, rotate=0, quality=75):
    """A small image of the page, ``width`` pixels wide once upright."""
    rotate = int(rotate) % 360
    page = doc.load_page(index)
    shown_width = page.rect.height if rotate in (90, 270) else page.rect.width
    return _render(page, width / shown_width, rotate, _is_gray(scanner_image(doc, index)), quality)


#: Exif orientations that show an image turned a quarter (its width becomes its height)
_SIDEWAYS = (5, 6, 7, 8)


def _orientation(image):
    return image.getexif().get(0x0112, 1) if image.format == "JPEG" else 1


def _shown_size(image):
    """(width, height) of an opened stored page image once upright."""
    return (image.height, image.width) if _orientation(image) in _SIDEWAYS else image.size


def _upright(image, size=None):
    """An opened Pillow ``image`` of a stored page image, in grey or RGB, turned as its Exif
    orientation says; with ``size`` (upright), decoded at the smallest DCT scale that still
    gives at least that size (Pillow's draft mode), not resized."""
    from PIL import ImageOps  # noqa: PLC0415 - a dependency of the package; imported where used

    orientation = _orientation(image)
    if size and image.format == "JPEG":
        wanted = (size[1], size[0]) if orientation in _SIDEWAYS else size
        image.draft(image.mode if image.mode in ("L", "RGB") else "RGB", wanted)
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
    return image.convert("L" if image.mode in ("L", "1", "LA") else "RGB")


def _jpeg_page_image(image, quality):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return PageImage(out.getvalue(), JPEG, image.width, image.height)


def thumbnail_from_image(data, width=180, quality=75):
    """A ``width``-pixel-wide JPEG of a stored page image (see the module docstring)."""
    from PIL import Image  # noqa: PLC0415 - a dependency of the package; imported where used

    with Image.open(io.BytesIO(data)) as image:
        shown_width, shown_height = _shown_size(image)
        size = (width, max(1, round(shown_height * width / shown_width)))
        small = _upright(image, size)
        if small.width > width:
            small = small.resize(size, Image.Resampling.LANCZOS)
        return _jpeg_page_image(small, quality)


def release_caches():
    """Empty MuPDF's cache of decoded images and fonts (call between batches of pages)."""
    pymupdf.TOOLS.store_shrink(100)


def _pixel_box(image, area):
    return pixel_box(image.width, image.height, area)


def mask_area(data, area, quality=85):
    """The upright page image with ``area`` painted over in grey (nothing under it can be recovered)."""
    from PIL import Image, ImageDraw  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as opened:
        image = _upright(opened)
        ImageDraw.Draw(image).rectangle(_pixel_box(image, area), fill=128 if image.mode == "L" else (128, 128, 128))
        return _jpeg_page_image(image, quality)


def pixel_box(width, height, area):
    """The pixel rectangle ``(left, top, right, bottom)`` (right and bottom excluded) of the normalised
    ``area`` ``(x0, y0, x1, y1)`` on an upright image of ``width`` x ``height`` pixels: what
    :func:`crop_area` keeps and :func:`mask_area` paints."""
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(value))) for value in area)
    return (int(x0 * width), int(y0 * height),
            max(int(x0 * width) + 1, round(x1 * width)), max(int(y0 * height) + 1, round(y1 * height)))


def crop_area(data, area, width=600, quality=85):
    """Only ``area`` of the upright page image, ``width`` pixels wide at most (None: as stored)."""
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as opened:
        image = _upright(opened)
        part = image.crop(_pixel_box(image, area))
        if width and part.width > width:
            part = part.resize((width, max(1, round(part.height * width / part.width))))
        return _jpeg_page_image(part, quality)
