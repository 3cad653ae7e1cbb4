"""Printable exam booklets: the subject once per copy, every page stamped with its QR code.

Public API:

- ``make_booklets(subject=None, *, blank_pages=None, copies=None, exam_ref, names=None,
  numbers=None, first_copy=1, page_size=A4, extra_pages=0, cover=None, progress=None) -> bytes``:
  the PDF to print. ``subject`` is the blank
  exam (PDF bytes, which should have passed :func:`.validate.validate_pdf`); without it,
  ``blank_pages`` empty pages of ``page_size`` (points) make the booklet.
  Booklet ``i`` carries ``numbers[i]`` (distinct, 1 to :data:`.qr.MAX_COPY`: the caller chooses
  them, at random for an exam, see :mod:`viatique_xblock.scanning.booklets`); without ``numbers``
  they are ``first_copy, first_copy + 1, ...`` (benchmarks, tests). With ``names`` (prenamed mode)
  there is one booklet per name, in that order, and the name is printed on its cover.
  ``extra_pages`` blank pages (of the last page's size) end every booklet, numbered on from it.
  ``cover`` (a :class:`Cover`: the words, translated by the caller, and the height of the band
  hidden from graders) puts on the first page of an anonymous booklet a box labelled with the
  word for "Name", and on every cover a one-line instruction, all inside that band.
  ``progress(done)`` is called with the number of booklets made so far, every few booklets.
- ``layout(width, height) -> Layout``: where the subject, the QR code, the short code and
  the name go on a page of that size (PDF points, origin top-left); ``Layout.name_area``
  gives the name's place normalised to [0, 1] (for masking the cover of anonymous copies).

Placement: the top band of every page (``BAND`` points, about 25 mm) is kept for the
stamp, and the subject page is scaled down uniformly (about 92 % on A4 portrait) and
centred in the space below it, so the stamp never covers the subject whatever its
margins are. The QR code (``QR_SIDE`` points, about 16 mm) sits in the top-right corner,
6 mm from the top edge (printers reach it) and 10 mm from the right one (a sheet fed 2 or
3 degrees askew keeps it whole); the short code ``MATH1 12-3 4F9A0C`` is printed on its
left, and the learner's name, on the cover of prenamed booklets, at the left of the band.
The top, not the bottom: a scanner writes its JPEG from the top of the sheet, so
:mod:`.decode` reads the code of an upright page from the first rows of the image alone,
without decoding the rest.

The cover (:func:`cover_layout`): graders never see the top band of a cover, the exam's name area
(``name_area_height`` % of the page, 12 % by default, painted over in their images and cut out at
the identification desk). The name box and the instruction are drawn inside both that band and
the stamp's band, left of the short code: the box from 6 pt under the top edge, the instruction's
baseline 4 pt above the lower of the two bands' edges.

Speed: each subject page is embedded once as a Form XObject that every copy reuses; the
QR code is drawn as vector rectangles straight into the page's content stream (one path,
one fill) with the base-14 Courier and Helvetica-Bold fonts shared by all pages. Names
that these fonts cannot show (outside Windows-1252) go through ``insert_htmlbox``, which
finds a font for any script, at a few milliseconds each.
"""
import functools
import html
import re
from dataclasses import dataclass

import pymupdf
import segno

from viatique_xblock.pdf import qr
from viatique_xblock.pdf.errors import PdfEmpty
from viatique_xblock.pdf.validate import open_document

A4 = (595.0, 842.0)
QR_SIDE = 45.0  # a version-2 symbol: 25 modules of 1.8 pt, 3.8 px each at 150 dpi
QR_VERSION = 2
QR_ERROR = "m"
EDGE_X = 28.0  # from the right edge of the paper
EDGE_Y = 18.0  # from the top edge
GAP = 7.0  # between the code and the subject
BAND = EDGE_Y + QR_SIDE + GAP  # 70 pt, about 25 mm
CODE_SIZE = 9.0
COURIER_ADVANCE = 0.6  # every Courier glyph is 600/1000 em wide
NAME_SIZE = 12.0
MIN_NAME_SIZE = 7.0
MAX_COPIES = 5000
MAX_BOOKLET_PAGES = 200
MAX_TOTAL_PAGES = 50_000
LABEL_SIZE = 7.0
BOX_TOP = 6.0


@dataclass(frozen=True)
class Cover:
    """What the cover says, in the reader's language (``name``: the box's label, ``anonymous`` and
    ``prenamed``: the one-line instructions), and ``band``: the fraction of the page's height hidden
    from graders (the exam's name area)."""

    name: str
    anonymous: str
    prenamed: str
    band: float = 0.12


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    content: pymupdf.Rect  # where the subject page is shown
    qr: pymupdf.Rect
    code_right: float  # the short code ends here (right-aligned)
    baseline: float  # baseline of the short code and of the name
    name_left: float
    name_right: float

    @property
    def name_area(self):
        """The name's place on the cover as (x0, y0, x1, y1) normalised to the page."""
        return (self.name_left / self.width, 0.0, self.name_right / self.width, self.content.y0 / self.height)


@functools.lru_cache(maxsize=64)
def cover_layout(width, height, band):
    """``(box, baseline)`` of a cover of ``width`` x ``height`` points whose top ``band`` (a fraction of
    the height) is hidden from graders: the name box (a Rect, origin top-left) and the baseline of the
    instruction, both above the stamp's band's lower edge and inside the hidden band."""
    box = layout(width, height)
    bottom = min(box.content.y0, band * height)
    baseline = bottom - 4
    return pymupdf.Rect(box.name_left, BOX_TOP, box.name_right, max(BOX_TOP + 8, baseline - LABEL_SIZE - 3)), baseline


@functools.lru_cache(maxsize=64)
def layout(width, height):
    """Where everything goes on a page of ``width`` x ``height`` points."""
    scale = (height - BAND) / height
    content_width = width * scale
    content = pymupdf.Rect((width - content_width) / 2, BAND, (width + content_width) / 2, height)
    qr_rect = pymupdf.Rect(width - EDGE_X - QR_SIDE, EDGE_Y, width - EDGE_X, EDGE_Y + QR_SIDE)
    code_right = qr_rect.x0 - 8
    code_width = 24 * COURIER_ADVANCE * CODE_SIZE
    return Layout(
        width=width,
        height=height,
        content=content,
        qr=qr_rect,
        code_right=code_right,
        baseline=qr_rect.y0 + QR_SIDE / 2 + CODE_SIZE / 3,
        name_left=EDGE_X,
        name_right=max(EDGE_X, code_right - code_width - 8),
    )


_DARK_RUN = re.compile(rb"\x01+")


def _qr_path(text, rect):
    """PDF operators filling the dark modules of the QR code of ``text`` inside ``rect`` (PDF space).

    The mask is fixed (pattern 0) rather than chosen by scoring the eight masks: any mask is
    valid QR, decoders read it alike, and scoring would cost 3 ms a page.
    """
    matrix = segno.make(text, error=QR_ERROR, version=QR_VERSION, mode="alphanumeric", mask=0,
                        micro=False, boost_error=False).matrix
    module = rect.width / len(matrix)
    ops = [b"q 0 g %.4f 0 0 %.4f %.4f %.4f cm" % (module, -module, rect.x0, rect.y1)]
    for row, cells in enumerate(matrix):
        ops.extend(b"%d %d %d 1 re" % (run.start(), row, run.end() - run.start())
                   for run in _DARK_RUN.finditer(cells))
    ops.append(b"f Q")
    return b"\n".join(ops)


def _pdf_string(text):
    """A PDF literal string of Windows-1252 text (raises UnicodeEncodeError otherwise)."""
    raw = text.encode("cp1252")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"\\()":
            out += b"\\" + bytes([byte])
        elif byte < 32 or byte == 127:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b")")


def _text(font, size, x, y, text):
    return b"BT /%s %.1f Tf %.2f %.2f Td %s Tj ET" % (font, size, x, y, _pdf_string(text))


def _label(font, size, x, y, text, max_width):
    """A line of the cover's own words (Windows-1252 or shown with ``?``), shrunk to ``max_width``."""
    text = text.encode("cp1252", "replace").decode("cp1252")
    base = "cour" if font == b"VQc" else "hebo"
    width = pymupdf.get_text_length(text, fontname=base, fontsize=size)
    if width > max_width:
        size = max(4.0, size * max_width / width)
    return _text(font, size, x, y, text)


def _cover_ops(cover, width, height, prenamed):
    """The name box (anonymous booklets) and the instruction of a cover, as PDF operators."""
    box = layout(width, height)
    rect, baseline = cover_layout(width, height, cover.band)
    ops = []
    if not prenamed:
        ops.append(b"q 0.6 w 0 G %.2f %.2f %.2f %.2f re S Q" % (
            rect.x0, height - rect.y1, rect.width, rect.height))
        ops.append(_label(b"VQb", LABEL_SIZE, rect.x0 + 3, height - (rect.y0 + LABEL_SIZE + 1), cover.name,
                          rect.width - 6))
    ops.append(_label(b"VQb", LABEL_SIZE, box.name_left, height - baseline,
                      cover.prenamed if prenamed else cover.anonymous, box.name_right - box.name_left))
    return ops


def _fit_name(name, max_width):
    """(font size, text) so that the name fits ``max_width`` in Helvetica-Bold."""
    name = " ".join(str(name).split())
    size = NAME_SIZE
    width = pymupdf.get_text_length(name, fontname="hebo", fontsize=size)
    if width > max_width:
        size = max(MIN_NAME_SIZE, size * max_width / width)
        while name and pymupdf.get_text_length(name, fontname="hebo", fontsize=size) > max_width:
            name = name[:-2] + "\u2026"
    return size, name


class _Writer:
    """Builds the page objects of ``doc`` directly, sharing fonts and subject forms between pages.

    Pages are plain objects listed at once in the page tree by :meth:`finish` (PyMuPDF's
    ``new_page`` costs more than everything else a page needs).
    """

    def __init__(self, doc, subject, sizes):
        self.doc = doc
        self.root = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
        self.pages = []
        self.late_names = []  # (page number, layout, name) for names the base-14 fonts cannot show
        fonts = "".join(
            f"/{name} {self._object(f'<</Type/Font/Subtype/Type1/BaseFont/{base}/Encoding/WinAnsiEncoding>>')} 0 R"
            for name, base in (("VQc", "Courier"), ("VQb", "Helvetica-Bold"))
        )
        self.resources = {None: self._object(f"<</Font<<{fonts}>>>>")}
        for index, size in enumerate(sizes if subject is not None else ()):
            # show_pdf_page embeds the subject page as a form on a scratch page (dropped by finish).
            scratch = doc.new_page(width=size[0], height=size[1])
            scratch.show_pdf_page(layout(*size).content, subject, index)
            form = next(xref for xref, _name, invoker, _bbox in scratch.get_xobjects() if invoker == 0)
            self.resources[index] = self._object(f"<</XObject<</VQs {form} 0 R>>/Font<<{fonts}>>>>")

    def _object(self, source, stream=None):
        xref = self.doc.get_new_xref()
        self.doc.update_object(xref, source)
        if stream is not None:
            self.doc.update_stream(xref, stream, compress=False)  # deflated once, when saved
        return xref

    def page(self, index, size, code_text, short_text, name=None, cover=None):
        """Add one stamped page showing subject page ``index`` (None: a blank page); ``cover`` (a
        :class:`Cover`) on the first page of a booklet."""
        width, height = size
        box = layout(width, height)
        qr_pdf = pymupdf.Rect(box.qr.x0, height - box.qr.y1, box.qr.x1, height - box.qr.y0)
        ops = [b"q /VQs Do Q" if index is not None else b"", _qr_path(code_text, qr_pdf)]
        code_width = len(short_text) * COURIER_ADVANCE * CODE_SIZE
        ops.append(_text(b"VQc", CODE_SIZE, box.code_right - code_width, height - box.baseline, short_text))
        if name:
            size_pt, shown = _fit_name(name, box.name_right - box.name_left)
            try:
                ops.append(_text(b"VQb", size_pt, box.name_left, height - box.baseline, shown))
            except UnicodeEncodeError:
                self.late_names.append((len(self.pages), box, shown))
        if cover is not None:
            ops.extend(_cover_ops(cover, width, height, prenamed=bool(name)))
        contents = self._object("<<>>", b"\n".join(ops))
        self.pages.append(self._object(
            f"<</Type/Page/Parent {self.root} 0 R/MediaBox[0 0 {width:g} {height:g}]"
            f"/Resources {self.resources[index]} 0 R/Contents {contents} 0 R>>"
        ))

    def finish(self):
        """The PDF bytes: the page tree lists our pages, then the names needing other fonts."""
        kids = " ".join(f"{xref} 0 R" for xref in self.pages)
        self.doc.update_object(self.root, f"<</Type/Pages/Count {len(self.pages)}/Kids[{kids}]>>")
        for number, box, name in self.late_names:
            top = box.baseline - NAME_SIZE * 1.2
            rect = pymupdf.Rect(box.name_left, top, box.name_right, top + NAME_SIZE * 2)
            self.doc[number].insert_htmlbox(
                rect, f"<b>{html.escape(name)}</b>",
                css=f"* {{font-family: sans-serif; font-size: {NAME_SIZE}px;}}",
            )
        return self.doc.tobytes(garbage=1, deflate=True)


def make_booklets(subject=None, *, blank_pages=None, copies=None, exam_ref, names=None, numbers=None,
                  first_copy=1, page_size=A4, extra_pages=0, cover=None, progress=None):
    """The printable PDF of the booklets (bytes); see the module docstring."""
    names = list(names) if names is not None else None
    numbers = list(numbers) if numbers is not None else None
    for given in (names, numbers):
        if given is not None:
            if copies is not None and copies != len(given):
                raise ValueError("copies, names and numbers disagree")
            copies = len(given)
    if not copies or not 1 <= copies <= MAX_COPIES:
        raise ValueError(f"copies must be from 1 to {MAX_COPIES}")
    if numbers is None:
        numbers = list(range(first_copy, first_copy + copies))
    if len(set(numbers)) != len(numbers) or any(
            isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= qr.MAX_COPY
            for number in numbers):
        raise ValueError("copy numbers out of range or repeated")
    source = None
    if subject is not None:
        source = open_document(subject)
        sizes = [(page.rect.width, page.rect.height) for page in source]
        if not sizes:
            raise PdfEmpty()
    elif blank_pages:
        sizes = [tuple(page_size)] * blank_pages
    else:
        raise ValueError("give a subject PDF or a number of blank pages")
    subject_pages = len(sizes)
    sizes = sizes + [sizes[-1]] * int(extra_pages or 0)
    if len(sizes) > MAX_BOOKLET_PAGES or len(sizes) * copies > MAX_TOTAL_PAGES:
        raise ValueError(f"at most {MAX_BOOKLET_PAGES} pages a booklet and {MAX_TOTAL_PAGES} in all")
    qr.check(exam_ref, numbers[0], 1)  # ValueError early on a bad exam reference

    writer = _Writer(pymupdf.open(), source, sizes[:subject_pages])
    every = max(1, copies // 50)
    for booklet, number in enumerate(numbers):
        name = names[booklet] if names else None
        for index, size in enumerate(sizes):
            writer.page(
                index if source is not None and index < subject_pages else None,
                size,
                qr.encode(exam_ref, number, index + 1),
                qr.short(exam_ref, number, index + 1),
                name=name if index == 0 else None,
                cover=cover if index == 0 else None,
            )
        if progress is not None and ((booklet + 1) % every == 0 or booklet + 1 == copies):
            progress(booklet + 1)
    return writer.finish()
