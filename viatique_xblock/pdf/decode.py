"""Reading the booklet code of a scanned page, and which way up the page is.

Public API:

- ``read_page_code(doc, index, *, dpi=DECODE_DPI, image=None, after_first_look=False) -> PageCode | None``
  (``image``: the page's :func:`.pages.scanner_image` when the caller already has it): the code
  found on page ``index`` of an open PyMuPDF document, or None when the page carries no
  Viatique code that can be read (blank page, page of another system, code torn or smudged).
  ``after_first_look``: the caller already ran :func:`first_look` on the page and found
  nothing; its pass is not repeated.
- ``first_look(doc, index, *, image=None, data=None) -> Look(code, complete)``: the cheapest look alone,
  for a caller that decides from the scan (its other pages, the exam) whether a page that
  shows no code there deserves the expensive passes: ``code`` the code found, or None;
  ``complete`` whether that was the whole search already (then :func:`read_page_code` would
  find nothing more). For a baseline scanner JPEG the first look is one quick pass over the
  top-right corner of its first rows (:data:`FIRST_LOOK_STRIP` of the rows,
  :data:`FIRST_LOOK_WIDTH` of the columns; about 0.75 ms at 200 dpi, where the whole search
  of a page without a code costs 30 to 40 ms); for any other page it is the whole search.
- ``PageCode``: ``payload`` (a :class:`~.qr.QrPayload`, or None when a Viatique code was
  read but its check failed), ``text`` (what the QR code says), ``rotation`` (0, 90, 180
  or 270: the clockwise turn that puts the page upright as it is displayed, ready for
  ``page.set_rotation((page.rotation + rotation) % 360)``), ``position`` (the code's centre
  in the upright page, normalised to [0, 1]), ``error`` (None, or the error code of a
  misread: ``qr_checksum_mismatch``).

How: the booklets print the code in the top-right corner (:mod:`.booklets`). When the page
is one scanner image (:func:`.pages.scanner_image`), that image is searched, never the
rendered page: for a baseline JPEG (the usual case) its first ``STRIP`` of rows alone is
decoded first (:func:`.jpeg.top_rows`, by Pillow's libjpeg-turbo), which finds the code of
every page fed upright, or turned a quarter to the left, at a fraction of a full decode;
then the whole image. :func:`first_look` decodes fewer rows still and searches only their
right part, where an upright page's code is. Each image is first searched by zxing-cpp's quick look (:data:`QUICK`),
then, when it finds nothing, by its thorough one.
Any other page is rendered in grey at ``dpi`` and searched.

A page that carries no code is what makes the search expensive: every pass runs and finds
nothing. :func:`first_look` lets the caller stop after the corner's quick pass, the one that
finds the code of an upright booklet page; the top rows are then the only part of the JPEG
ever decoded. Decoding them is most of its cost: a JPEG's data is read row after row, so the
fewer rows the cheaper, whatever the crop. Whatever the caller decides, a page's JPEG is decoded whole at most once. The symbol's orientation, which
a QR code gives unambiguously (three finder patterns), tells the page's rotation; its
position is returned for checks and display.
"""
import io
import math
from dataclasses import dataclass

import pymupdf
import zxingcpp

from viatique_xblock.pdf import jpeg, qr
from viatique_xblock.pdf.errors import PdfError
from viatique_xblock.pdf.pages import scanner_image

DECODE_DPI = 120  # a 1.8 pt module is 3 px: enough for zxing-cpp, with noise and skew
STRIP = 0.2  # share of the image's rows read first: the top band and a wide margin for shifts
#: share of the rows :func:`first_look` decodes. An upright booklet page's code spans 2 to 7.5 % of its
#: height (:mod:`.booklets`), and a sheet fed 3 degrees askew lowers that corner by about 2 % more: 12 %
#: leaves a margin of about 13 mm under the code. Decoding the rows is most of the look's cost (the JPEG's
#: entropy-coded data must be read row after row), so it grows with this share.
FIRST_LOOK_STRIP = 0.12
#: share of the columns, on the right, that the first look's quick pass searches. The code sits 10 to
#: 26 mm from the right edge of a 210 mm page; the crop also makes the quick pass's one global threshold
#: fit the code instead of the rest of the band (over the whole width, 15 % of the rows missed 2 of the
#: benchmark's 131 upright pages; over this crop, 10 % of the rows miss none)
FIRST_LOOK_WIDTH = 0.4
MAX_IMAGE_DPI = 220  # scanner images finer than this are halved before searching


@dataclass(frozen=True)
class Look:
    """What :func:`first_look` saw: the code (or None) and whether the page was searched entirely."""

    code: object  # PageCode or None
    complete: bool


@dataclass(frozen=True)
class PageCode:
    payload: object  # qr.QrPayload or None
    text: str
    rotation: int
    position: tuple
    error: object = None


def _gray(pix, halve=False):
    """``pix`` in grey without alpha, halved in both directions if asked."""
    if halve:
        pix.shrink(1)
    if pix.alpha:
        pix = pymupdf.Pixmap(pix, 0)
    if pix.n != 1:
        pix = pymupdf.Pixmap(pymupdf.csGRAY, pix)
    return pix


#: zxing-cpp's cheapest look: one global threshold, no rotated or downscaled copies (a QR
#: code's finder patterns give its orientation anyway). It finds a clean code in a third
#: of the time of the thorough look, which follows when it finds nothing.
QUICK = {"binarizer": zxingcpp.Binarizer.GlobalHistogram, "try_rotate": False, "try_downscale": False}


def _barcodes(pix, quick=False):
    """QR codes in a grey pixmap without alpha (whose stride is its width), or a grey Pillow image
    (handed over as one buffer: zxing-cpp's own reading of a Pillow image copies it twice)."""
    samples = pix.samples_mv if isinstance(pix, pymupdf.Pixmap) else memoryview(pix.tobytes())
    view = samples.cast("B", (pix.height, pix.width))
    return zxingcpp.read_barcodes(view, formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False,
                                  **(QUICK if quick else {}))


def _pil_gray(data, halve):
    """JPEG ``data`` decoded in grey by Pillow (libjpeg-turbo: about twice MuPDF's speed), halved
    by DCT scaling if asked: the top rows of an upright scan, the hot path of every page."""
    from PIL import Image  # noqa: PLC0415 - a dependency of the package; imported where used

    decoded = Image.open(io.BytesIO(data))
    size = (decoded.width // 2, decoded.height // 2) if halve else decoded.size
    decoded.draft("L", size)
    grey = decoded if decoded.mode == "L" else decoded.convert("L")
    grey.load()
    return grey if grey.size == size else grey.resize(size, Image.Resampling.BOX)


def _centre(barcode):
    pos = barcode.position
    points = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
    return sum(p.x for p in points) / 4, sum(p.y for p in points) / 4


def _upright(u, v, rotation):
    """Where the normalised point (u, v) of an image goes once the image turns clockwise by ``rotation``."""
    return {0: (u, v), 90: (1 - v, u), 180: (1 - u, 1 - v), 270: (v, 1 - u)}[rotation]


def _code(pix, turned=0, full_height=None, quick=False, left=0, full_width=None):
    """The first Viatique code in ``pix``.

    ``turned`` is the clockwise turn from the pixmap to the page as displayed (the page's
    /Rotate when ``pix`` is the scanner image), ``full_height`` the height of the whole
    image when ``pix`` holds only its top rows, ``left`` and ``full_width`` the first column
    and the width of the whole image when ``pix`` holds only its right part; ``quick``:
    zxing-cpp's :data:`QUICK` look only.
    """
    for barcode in _barcodes(pix, quick):
        text = barcode.text or ""
        if not text.upper().startswith(qr.PREFIX + ":"):
            continue  # another system's QR code printed in the subject
        rotation = (-90 * round((barcode.orientation + turned) / 90.0)) % 360
        x, y = _centre(barcode)
        u, v = _upright((left + x) / (full_width or pix.width), y / (full_height or pix.height),
                        (turned + rotation) % 360)
        try:
            payload, error = qr.decode(text), None
        except PdfError as refusal:
            payload, error = None, refusal.code
        return PageCode(payload, text, rotation, (round(u, 4), round(v, 4)), error)
    return None


def _jpeg(doc, image, data=None):
    """(data, header) of a scanner image coded as a JPEG that can be searched, else None."""
    if image.filters != ("DCTDecode",):
        return None
    data = data or doc.xref_stream_raw(image.xref)
    header = jpeg.info(data)
    if header is None or header.orientation != 1 or header.components not in (1, 3):
        return None
    return data, header


def _candidates(doc, image, strip=STRIP, source=None):
    """(grey pixmap or Pillow image, height of the whole image in its pixels, whole?, quick?) to
    search, cheapest first; ``strip``: the share of a JPEG's rows searched first, 0 to leave them out
    (already searched). ``source``: the image's :func:`_jpeg`, when the caller read it already."""
    halve = image.dpi > MAX_IMAGE_DPI
    if image.filters == ("DCTDecode",):
        source = source or _jpeg(doc, image)
        if source is None:
            return
        data, header = source
        strip = jpeg.top_rows(data, math.ceil(header.height * strip), header) if strip else None
        if strip is not None:
            strip = _pil_gray(strip, halve)
            yield strip, header.height // (2 if halve else 1), False, True
            yield strip, header.height // (2 if halve else 1), False, False
        whole = _pil_gray(data, halve)  # libjpeg-turbo: a third faster than MuPDF's decoder
        yield whole, whole.height, True, True
        yield whole, whole.height, True, False
        # A coarser look smooths specks and JPEG noise away.
        coarse = whole.reduce(2)
    else:  # JBIG2, CCITT, Flate...: MuPDF decodes the image alone, without drawing the page
        whole = _gray(pymupdf.Pixmap(doc, image.xref), halve)
        yield whole, whole.height, True, False
        # (A scaled copy: shrinking in place a pixmap whose samples were viewed trips PyMuPDF 1.28.)
        coarse = pymupdf.Pixmap(whole, whole.width // 2, whole.height // 2, None)
    yield coarse, coarse.height, True, False


def _searchable(image):
    return image.plain and image.colorspace in ("gray", "rgb")


def _from_image(doc, image, strip=STRIP):
    """(searched, code) from the image of a scanner page; ``searched`` once the whole image was.
    ``strip=0``: the strip was looked at already (:func:`first_look`), the whole image is next."""
    if not _searchable(image):
        return False, None
    searched = False
    try:
        for pix, full_height, whole, quick in _candidates(doc, image, strip):
            searched = searched or whole
            found = _code(pix, image.page_rotation, full_height, quick)
            if found is not None:
                return True, found
    except Exception:  # an image MuPDF cannot read alone: rendering the page says what it can
        return False, None
    return searched, None


def _with_strip(doc, image, data=None):
    """The :func:`_jpeg` of ``image`` when its first candidate is the quick look at its top strip (a
    baseline JPEG), else None."""
    if image is None or not _searchable(image):
        return None
    source = _jpeg(doc, image, data)
    if source is None or source[1].process != "baseline" or math.ceil(source[1].height * STRIP) >= source[1].height:
        return None
    return source


def first_look(doc, index, *, image=None, data=None):
    """The cheapest look at page ``index`` (see the module docstring): a :class:`Look`. ``data``: the
    raw stream of the page's scanner image, when the caller read it already."""
    image = image or scanner_image(doc, index)
    source = _with_strip(doc, image, data)
    if source is None:
        return Look(read_page_code(doc, index, image=image), True)
    data, header = source
    halve = image.dpi > MAX_IMAGE_DPI
    try:
        strip = _pil_gray(jpeg.top_rows(data, math.ceil(header.height * FIRST_LOOK_STRIP), header), halve)
        left = int(strip.width * (1 - FIRST_LOOK_WIDTH))
        corner = strip.crop((left, 0, strip.width, strip.height))
        full_height = header.height // (2 if halve else 1)
        return Look(_code(corner, image.page_rotation, full_height, True, left, strip.width), False)
    except Exception:  # noqa: BLE001 - an image Pillow cannot read: the whole search says what it can
        return Look(read_page_code(doc, index, image=image), True)


def read_page_code(doc, index, *, dpi=DECODE_DPI, image=None, after_first_look=False):
    """The Viatique code of page ``index``, or None (see the module docstring).

    The document must have passed :func:`.validate.validate_pdf`, which bounds the pixels
    of every page and image this decodes.
    """
    image = image or scanner_image(doc, index)
    if image is not None:
        searched, found = _from_image(doc, image, 0 if after_first_look and _with_strip(doc, image) else STRIP)
        if found is not None or searched:
            return found
    pix = doc.load_page(index).get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    return _code(pix)
