"""Where the text of an annotation goes on its page: the one layout rule of the graded PDF and the screen.

Public API:

- ``SIZE``, ``LEAD``, ``PAD``, ``EDGE``, ``MIN_BOX_WIDTH``: the rule's measures, in PDF points
  (text size, line height as a multiple of it, padding inside a box, distance kept from the
  page's edges, narrowest box).
- ``page_size(width_pt, height_pt, rotation) -> (width, height)``: a scanned page's upright size.
- ``text_box(text, x, y, width, height, page_width, page_height, boxed=True) -> TextBox``: the
  box of a comment (``boxed``) or a free text placed at ``x, y`` with ``width, height``
  (fractions of the upright page, origin top-left) on a page of ``page_width`` by
  ``page_height`` points: widened to ``MIN_BOX_WIDTH`` when narrow, kept inside the page, the
  text wrapped (:func:`.fonts.wrap`) in the box's inner width at ``SIZE`` points, growing
  downwards to the page's end (moved up if need be, to cover at most ``ROOM`` of the page).
- ``place(x0, y0, width, height, needed, page_width, page_height, boxed)`` and ``room_at(y0,
  page_height)``: that placement rule alone (the PDF uses it again when a text is cut short).
- ``TextBox.as_fractions() -> dict``: the same box for the browser, everything relative to the
  page (``x, y, width`` of the page's width or height, ``size``, ``lead`` and ``pad`` as
  fractions of the page's width, so that the text scales with the page) and its ``lines``.

The graded PDF (:mod:`.graded`) draws a text box's lines at ``x + PAD`` with baselines
``y + PAD + SIZE + n * SIZE * LEAD``; the learner's view (``viatique_learner.js``) draws the
same lines (never wraps them again) at the same fractions of the page, with a font size that
follows the page's width on screen: a box shows the same lines on screen and on paper.
"""
from dataclasses import dataclass

from viatique_xblock.pdf import fonts

A4 = (595.0, 842.0)
SIZE = 9.0  # annotation text, in points
LEAD = 1.25  # line height, times the font size
PAD = 3.0  # inside comment boxes
EDGE = 6.0  # distance kept from the page's edges
MIN_BOX_WIDTH = 110.0  # a comment or text narrower than this is widened
ROOM = 0.35  # share of a page that a long comment may cover (the rest goes on in a note)


@dataclass
class TextBox:
    x0: float
    y0: float
    width: float
    height: float  # the height the text needs (2 * PAD included)
    lines: list
    page_width: float
    page_height: float

    def as_fractions(self):
        page_width, page_height = self.page_width, self.page_height
        return {
            "x": self.x0 / page_width, "y": self.y0 / page_height,
            "width": self.width / page_width, "height": self.height / page_height,
            "size": SIZE / page_width, "lead": SIZE * LEAD / page_width, "pad": PAD / page_width,
            "lines": list(self.lines),
        }


def fraction(value):
    """A fraction of the page from any input: 0 to 1, 0 when it is no number."""
    try:
        return min(max(float(value or 0), 0.0), 1.0)
    except (TypeError, ValueError):
        return 0.0


def page_size(width_pt, height_pt, rotation=0):
    """The upright size of a scanned page (``rotation``: the clockwise turn that makes it upright);
    A4 when the size is unknown."""
    if not width_pt or not height_pt or width_pt <= 0 or height_pt <= 0:
        return A4
    return (height_pt, width_pt) if int(rotation or 0) % 180 == 90 else (width_pt, height_pt)


def room_at(y0, page_height):
    """The height a text starting at ``y0`` may take: down to the page's end, or up to ``ROOM`` of
    the page's height (then moved up), so that the work under it stays visible."""
    return min(max(page_height - EDGE - max(y0, EDGE), page_height * ROOM), page_height - 2 * EDGE)


def place(x0, y0, width, height, needed, page_width, page_height, boxed=True):
    """``(y0, height)`` of a box of ``width`` needing ``needed`` points of height: as tall as the
    area drawn (a box) or the text (free text), at most its room, moved up at the page's end."""
    room = room_at(y0, page_height)
    height = min(max(height, needed) if boxed else needed, room)
    return min(max(y0, EDGE), page_height - EDGE - height), height


def text_box(text, x, y, width, height, page_width, page_height, boxed=True):
    """The box and lines of ``text`` (see the module's docstring)."""
    box_width = min(max(fraction(width) * page_width, MIN_BOX_WIDTH), page_width - 2 * EDGE)
    x0 = min(max(fraction(x) * page_width, EDGE), page_width - EDGE - box_width)
    lines = fonts.wrap(fonts.clean(text or "").strip(), box_width - 2 * PAD, SIZE)
    needed = len(lines) * SIZE * LEAD + 2 * PAD
    y0, box_height = place(x0, fraction(y) * page_height, box_width, fraction(height) * page_height, needed,
                           page_width, page_height, boxed)
    return TextBox(x0, y0, box_width, box_height, lines, page_width, page_height)
