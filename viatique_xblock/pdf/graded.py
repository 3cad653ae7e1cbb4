"""The graded PDF of a copy: its scan pages as they are, the grading drawn over them, then a summary.

Public API:

- ``render_graded_pdf(sources, pages, annotations, summary, gettext=None) -> bytes``

  ``sources``: ``{key: path or bytes}`` of scan PDFs. ``pages``: the copy's pages in order,
  each ``{"source": key, "index": page index in that file, "rotation": 0/90/180/270}``, the
  clockwise turn that makes the page upright. ``annotations``: ``{"page": index in pages,
  "kind": "comment" | "tick" | "cross" | "highlight" | "text", "x", "y", "width", "height"
  (fractions of the upright page, origin top-left), "text", "question_label", "points"
  (a string such as "1.5", or None)}``. ``summary``: ``{"title", "code", "total", "max",
  "scale_total", "scale", "questions": [{"id", "label", "points", "max", "comment", "items"?, "adjustment"?}],
  (``items``: the rubric items applied, ``[{"text", "points"}]`` with signed points; ``adjustment``: signed, or
  None),
  "general_comment", "grader"}`` (``scale``, ``scale_total`` and ``grader`` may be None).

What it makes:

- every page is the scan's own page object, copied with its image streams byte for byte
  (nothing re-encoded), turned upright by the page's /Rotate (never re-rendered); links,
  annotations and forms of the uploaded file are left out;
- over it, vector graphics: a tick or a cross as strokes, a highlight as a translucent
  rectangle, a comment as a bordered box of wrapped text, free text as text, both laid out by
  :mod:`.layout` (the rule the learner's view follows too); the points of an annotation (with
  its question) in a badge beside it. A box grows downwards to the page's end (moved up if
  need be, to cover at most a third of the page), and what still does not fit is continued
  on the summary pages ("note N"), never cut;
- summary pages (A4) at the end: title, copy code, total (and on the scale), a table of the
  questions (points / max, comment), the grader when given, the general comment, and the
  continued notes; long texts go on over as many pages as needed.

Text is drawn with embedded Unicode fonts (:mod:`.fonts`, subset at the end) as glyph
indexes, so accents, mathematical signs and any PDF syntax in a comment are just text.
Labels are translated by ``gettext`` (default: :func:`viatique_xblock.i18n.gettext`, the
active language; scripts without Django settings pass their own, e.g. ``str``). A page whose
source is not a PDF, cannot be read, is no longer stored or has no such page raises a
:class:`.errors.PdfError` (``not_a_pdf``, ``pdf_unreadable``, ``pdf_encrypted``,
``source_page_missing``); an annotation on a page the copy does not have, a ``ValueError``.
"""
from decimal import Decimal, InvalidOperation

import pymupdf

from viatique_xblock import i18n
from viatique_xblock.i18n import N_
from viatique_xblock.pdf import fonts, layout
from viatique_xblock.pdf.errors import NotAPdf, SourcePageMissing
from viatique_xblock.pdf.overlay import Drawing
from viatique_xblock.pdf.validate import open_document

A4 = (595.0, 842.0)
INK = (0.78, 0.06, 0.06)  # the grader's red
TICK = (0.05, 0.5, 0.15)
HIGHLIGHT = (1.0, 0.84, 0.0)
PAPER = (1.0, 1.0, 0.94)
BLACK = (0.0, 0.0, 0.0)
GREY = (0.45, 0.45, 0.45)
RULE = (0.75, 0.75, 0.75)

EDGE, SIZE, LEAD, PAD = layout.EDGE, layout.SIZE, layout.LEAD, layout.PAD  # the annotations' text (.layout)
MARK = 16.0  # size of a tick or a cross placed by a click (no width or height)
MARGIN = 50.0  # summary pages

# Labels, translated when drawn with the ``gettext`` given to render_graded_pdf.
CONTINUED = N_("… continued on the last pages, note {number}")
QUESTION_POINTS = N_("{question}: {points}")
QUESTION = N_("Question")
POINTS = N_("Points")
COMMENT = N_("Comment")
ADJUSTMENT = N_("Adjustment")
POINTS_OF_MAX = N_("{points} / {max}")
COPY = N_("Copy {code}")
TOTAL = N_("Total: {total} / {max}")
ON_SCALE = N_("On {scale}: {total} / {scale}")
GRADED_BY = N_("Graded by {grader}")
GENERAL_COMMENT = N_("General comment")
NOTES = N_("Comments continued from the pages")
NOTE = N_("Note {number}, page {page}")
NOTE_OF_QUESTION = N_("Note {number}, page {page}, {question}")


# -- the scan pages ---------------------------------------------------------------------------


def _open_source(source, number):
    """The PyMuPDF document of a scan (path or bytes), refused unless it is a readable PDF."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            head = bytes(source[:1024])
        else:
            with open(source, "rb") as handle:
                head = handle.read(1024)
    except FileNotFoundError as error:  # the stored scan is gone (other I/O errors may be transient: raised)
        raise SourcePageMissing(page=number) from error
    if b"%PDF-" not in head:
        raise NotAPdf()
    return open_document(source)


def _copy_pages(doc, sources, pages):
    """Each page of the scans, as it is, in the order of ``pages``, turned by its rotation."""
    opened = {}
    try:
        for number, page in enumerate(pages, 1):
            key = page["source"]
            if key not in opened:
                if key not in sources:
                    raise SourcePageMissing(page=number)
                opened[key] = _open_source(sources[key], number)
            index = int(page["index"])
            if not 0 <= index < opened[key].page_count:
                raise SourcePageMissing(page=number)
            doc.insert_pdf(opened[key], from_page=index, to_page=index, links=False, annots=False, widgets=False,
                           final=False)
            copied = doc[-1]
            copied.set_rotation((copied.rotation + int(page.get("rotation") or 0)) % 360)
    finally:
        for source in opened.values():
            source.close()


# -- annotations ------------------------------------------------------------------------------


class _Notes:
    """Texts too long for their page, continued on the summary pages."""

    def __init__(self, gettext, number):
        self.items = []
        self.gettext = gettext
        self.number = number

    def add(self, page_number, label, text):
        self.items.append((page_number, label, text))
        return len(self.items)


def _area(surface, annotation):
    x0 = layout.fraction(annotation.get("x")) * surface.width
    y0 = layout.fraction(annotation.get("y")) * surface.height
    x1 = min(x0 + layout.fraction(annotation.get("width")) * surface.width, surface.width)
    y1 = min(y0 + layout.fraction(annotation.get("height")) * surface.height, surface.height)
    return pymupdf.Rect(x0, y0, x1, y1)


def _mark_area(surface, area):
    """The area of a tick or a cross, a square of ``MARK`` points when it was placed by a click."""
    if area.width >= 4 and area.height >= 4:
        return area
    x0 = min(area.x0, surface.width - MARK)
    y0 = min(area.y0, surface.height - MARK)
    return pymupdf.Rect(x0, y0, x0 + MARK, y0 + MARK)


def _tick(surface, area):
    area = _mark_area(surface, area)
    width = max(1.5, min(area.width, area.height) * 0.1)
    surface.strokes([(area.x0, area.y0 + area.height * 0.55), (area.x0 + area.width * 0.38, area.y1),
                     (area.x1, area.y0)], TICK, width)
    return area


def _cross(surface, area):
    area = _mark_area(surface, area)
    width = max(1.5, min(area.width, area.height) * 0.1)
    surface.strokes([area.tl, area.br], INK, width)
    surface.strokes([area.tr, area.bl], INK, width)
    return area


def _highlight(surface, area):
    if area.is_empty:
        return area
    surface.rect(area, fill=HIGHLIGHT, fill_opacity=0.35)
    return area


def _text_block(surface, area, text, notes, page_number, label, boxed):
    """Text laid out by :func:`.layout.text_box` (the rule the learner's view follows too); what the
    page cannot hold goes on in a note of the summary."""
    box = layout.text_box(text, area.x0 / surface.width, area.y0 / surface.height, area.width / surface.width,
                          area.height / surface.height, surface.width, surface.height, boxed)
    x0, lines, inner, lead = box.x0, box.lines, box.width - 2 * PAD, SIZE * LEAD
    room = layout.room_at(area.y0, surface.height)
    needed = len(lines) * lead + 2 * PAD
    y0, height = box.y0, box.height
    if needed > room:
        number = notes.add(page_number, label, text)
        more = fonts.wrap(notes.gettext(CONTINUED).format(number=number), inner, SIZE)
        lines = lines[:max(int((room - 2 * PAD) / lead) - len(more), 0)] + more
        y0, height = layout.place(x0, area.y0, box.width, area.height, len(lines) * lead + 2 * PAD,
                                  surface.width, surface.height, boxed)
    rect = pymupdf.Rect(x0, y0, x0 + box.width, y0 + height)
    if boxed:
        surface.rect(rect, color=INK, fill=PAPER, width=0.8, fill_opacity=0.9)
    baseline = y0 + PAD + SIZE
    for line in lines:
        surface.line(x0 + PAD, baseline, line, color=INK)
        baseline += lead
    return rect


def _badge(surface, area, annotation, gettext, number):
    """The points of an annotation (with its question) beside it."""
    points = annotation.get("points")
    if points is None or str(points).strip() == "":
        return
    points = number(points)
    label = fonts.clean(annotation.get("question_label") or "").strip()
    text = gettext(QUESTION_POINTS).format(question=label, points=points) if label else str(points)
    text = fonts.clean(text)
    width = fonts.measure(text, SIZE, fonts.BOLD) + 2 * PAD
    height = SIZE + 2 * PAD
    x0 = area.x1 + 3
    if x0 + width > surface.width - EDGE:
        x0 = area.x0 - 3 - width
    if x0 < EDGE:
        x0 = min(max(area.x1 - width, EDGE), surface.width - EDGE - width)
    y0 = min(max(area.y0, EDGE), surface.height - EDGE - height)
    surface.rect((x0, y0, x0 + width, y0 + height), color=INK, fill=(1, 1, 1), width=0.8, fill_opacity=0.9)
    surface.line(x0 + PAD, y0 + PAD + SIZE * 0.8, text, style=fonts.BOLD, color=INK)


_MARKS = {"tick": _tick, "cross": _cross, "highlight": _highlight}


def _annotate(surface, annotation, notes, page_number):
    kind = annotation.get("kind")
    area = _area(surface, annotation)
    text = fonts.clean(annotation.get("text") or "").strip()
    label = fonts.clean(annotation.get("question_label") or "").strip()
    if kind in ("comment", "text"):
        if text:
            area = _text_block(surface, area, text, notes, page_number, label, boxed=kind == "comment")
    else:
        area = _MARKS.get(kind, _highlight)(surface, area)
        if text:
            below = pymupdf.Rect(area.x0, area.y1 + 2, area.x1, area.y1 + 2)
            _text_block(surface, below, text, notes, page_number, label, boxed=False)
    _badge(surface, area, annotation, notes.gettext, notes.number)


# -- summary pages ----------------------------------------------------------------------------


def _number(value):
    if value is None or value == "":
        return "—"
    try:
        text = f"{Decimal(str(value)):f}"
    except InvalidOperation:
        return fonts.clean(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


class _Flow:
    """Lines of text down summary pages, a new page when one is full."""

    def __init__(self, doc, drawing):
        self.doc = doc
        self.drawing = drawing
        self.surface = None
        self.y = 0.0
        self.on_new_page = None

    def new_page(self):
        self.commit()  # a new page orphans the Page objects of the others
        self.surface = self.drawing.surface(self.doc.new_page(-1, width=A4[0], height=A4[1]))
        self.y = MARGIN
        if self.on_new_page:
            self.on_new_page()

    def need(self, height):
        if self.surface is None or self.y + height > A4[1] - MARGIN:
            self.new_page()

    def space(self, height):
        self.y += height

    def paragraph(self, text, size=10.0, style=fonts.REGULAR, x=MARGIN, width=A4[0] - 2 * MARGIN, color=BLACK):
        for line in fonts.wrap(text, width, size, style):
            self.need(size * LEAD)
            self.surface.line(x, self.y + size, line, size, style, color)
            self.y += size * LEAD

    def rule(self, color=RULE):
        self.surface.strokes([(MARGIN, self.y), (A4[0] - MARGIN, self.y)], color, 0.5)

    def commit(self):
        if self.surface is not None:
            self.surface.commit()


_COLUMNS = (MARGIN, MARGIN + 120, MARGIN + 200)  # question, points, comment
_TABLE_SIZE = 10.0


def _cells(texts, style=fonts.REGULAR):
    widths = (_COLUMNS[1] - _COLUMNS[0] - 8, _COLUMNS[2] - _COLUMNS[1] - 8, A4[0] - MARGIN - _COLUMNS[2])
    return [fonts.wrap(text, width, _TABLE_SIZE, style) for text, width in zip(texts, widths)]


def _row(flow, cells, style=fonts.REGULAR):
    lead = _TABLE_SIZE * LEAD
    for index in range(max(len(column) for column in cells)):
        flow.need(lead)
        for x, column in zip(_COLUMNS, cells):
            if index < len(column):
                flow.surface.line(x, flow.y + _TABLE_SIZE, column[index], _TABLE_SIZE, style)
        flow.y += lead


def _signed(text, _number):
    """Signed points ("+1.5", "-1") written as the reader's language writes numbers; "" for none."""
    if text in (None, ""):
        return ""
    sign = "-" if str(text).startswith("-") else "+"
    return sign + _number(str(text).lstrip("+-"))


def _table(flow, questions, _, _number):
    header = _cells((_(QUESTION), _(POINTS), _(COMMENT)), fonts.BOLD)

    def repeat_header():
        _row(flow, header, fonts.BOLD)
        flow.rule(BLACK)
        flow.space(4)

    flow.need(_TABLE_SIZE * LEAD * 3)
    repeat_header()
    flow.on_new_page = repeat_header
    for question in questions:
        points = _(POINTS_OF_MAX).format(points=_number(question.get("points")), max=_number(question.get("max")))
        items = question.get("items") or []
        if not items:
            _row(flow, _cells((question.get("label") or "", points, question.get("comment") or "")))
        else:  # the question's points, its rubric items with theirs, then the adjustment and the comment
            _row(flow, _cells((question.get("label") or "", points, "")))
            for item in items:
                _row(flow, _cells(("", _signed(item.get("points"), _number), item.get("text") or "")))
            adjustment = question.get("adjustment")
            if adjustment or question.get("comment"):
                _row(flow, _cells(("", _signed(adjustment, _number) if adjustment else "",
                                   question.get("comment") or _(ADJUSTMENT))))
        flow.space(2)
        flow.rule()
        flow.space(4)
    flow.on_new_page = None


def _summary(doc, summary, notes, drawing):
    _, _number = notes.gettext, notes.number
    flow = _Flow(doc, drawing)
    flow.new_page()
    flow.paragraph(summary.get("title") or "", 16, fonts.BOLD)
    flow.space(4)
    flow.paragraph(_(COPY).format(code=summary.get("code") or ""), 11, color=GREY)
    flow.space(8)
    flow.paragraph(_(TOTAL).format(total=_number(summary.get("total")), max=_number(summary.get("max"))),
                   13, fonts.BOLD)
    if summary.get("scale") not in (None, ""):
        scaled = _(ON_SCALE).format(scale=_number(summary.get("scale")), total=_number(summary.get("scale_total")))
        flow.paragraph(scaled, 13, fonts.BOLD)
    if summary.get("grader"):
        flow.paragraph(_(GRADED_BY).format(grader=summary["grader"]), 10, color=GREY)
    flow.space(12)
    if summary.get("questions"):
        _table(flow, summary["questions"], _, _number)
        flow.space(8)
    general = fonts.clean(summary.get("general_comment") or "").strip()
    if general:
        flow.need(11 * LEAD * 3)
        flow.paragraph(_(GENERAL_COMMENT), 11, fonts.BOLD)
        flow.space(2)
        flow.paragraph(general)
        flow.space(12)
    if notes.items:
        flow.need(11 * LEAD * 3)
        flow.paragraph(_(NOTES), 11, fonts.BOLD)
        for number, (page_number, label, text) in enumerate(notes.items, 1):
            flow.space(4)
            heading = _(NOTE_OF_QUESTION) if label else _(NOTE)
            flow.paragraph(heading.format(number=number, page=page_number, question=label), 10, fonts.BOLD)
            flow.paragraph(text)
    flow.commit()


# -- the whole ----------------------------------------------------------------------------


def render_graded_pdf(sources, pages, annotations, summary, gettext=None, number=None):
    """The graded PDF of a copy, as bytes (see the module's docstring). ``number`` writes a number (given
    as plain digits, "15.75") for the reader: the host passes its language's (e.g. "15,75" in French);
    by default plain digits without trailing zeros."""
    doc = pymupdf.open()
    try:
        _copy_pages(doc, sources, pages)
        by_page = {}
        for annotation in annotations:
            index = int(annotation["page"])
            if not 0 <= index < len(pages):
                raise ValueError(f"annotation on page {index}, the copy has {len(pages)} pages")
            by_page.setdefault(index, []).append(annotation)
        notes = _Notes(gettext or i18n.gettext, number or _number)
        drawing = Drawing(doc)
        for index in sorted(by_page):
            surface = drawing.surface(doc[index])
            for annotation in by_page[index]:
                _annotate(surface, annotation, notes, index + 1)
            surface.commit()
        _summary(doc, summary, notes, drawing)
        drawing.finish()
        return doc.tobytes(garbage=1)
    finally:
        doc.close()
