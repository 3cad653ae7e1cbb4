"""Question layout (shared by the stages, as the scheme it is part of): where the answer to each leaf question of the marking scheme is on a copy.

A leaf question of the scheme (:mod:`viatique_xblock.scheme`) may carry a ``layout``::

    {"id": "q3", "label": "2. a)", "max": 6, "step": 1,
     "layout": {"pages": [2, 3],
                "box": {"page": 2, "x0": 0.05, "y0": 0.1, "x1": 0.95, "y1": 0.55}}}

- ``pages``: the page numbers of the copy where the answer is (booklet page numbers; for scans
  split by a fixed count, the page within the copy), 1 to the exam's pages per copy, sorted,
  each once.
- ``box`` (optional): a rectangle on one of those pages, in coordinates normalised to the page as
  shown upright (0, 0 top left; 1, 1 bottom right), ``x0 < x1`` and ``y0 < y1``, at least
  :data:`MIN_SIZE` wide and high, 4 decimals at most.

No ``layout`` means the whole copy. The layout lives in the scheme next to the question's stable
id, so it travels with the scheme (Studio, OLX, the exam archive); points are stored by question
id, so moving a box or changing pages never changes a grade.

Public API (pure Python, no Django): :func:`check` (one layout, with the problems found),
:func:`validate` (one layout or a typed error), :func:`with_layouts` (a scheme with some
questions' layouts replaced), :func:`layout_of` and :func:`effective` (a question's layout, the
whole copy by default), :func:`layouts` (every leaf's layout by id). Errors: :class:`LayoutError`
and its subclasses, each with a stable code.
"""
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_

#: the smallest width and height of a box (a fraction of the page)
MIN_SIZE = 0.01
#: decimals kept of a box's coordinates
DECIMALS = 4
#: the most pages one question may list
MAX_PAGES = 200
BOX_KEYS = ("x0", "y0", "x1", "y1")


class LayoutError(ViatiqueError):
    """A question layout that cannot be stored: ``invalid_layout`` when it is malformed."""

    code = "invalid_layout"
    status = 400

    def __init__(self, message, question_id=None, **params):
        self.question_id = question_id
        super().__init__(message, **params)

    def extra(self):
        return {"question_id": self.question_id} if self.question_id else {}


class PageOutOfRange(LayoutError):
    """A page number outside 1 to the exam's pages per copy (or a box on a page the layout does not list)."""

    code = "layout_page_out_of_range"


class BoxOutside(LayoutError):
    """A box with a coordinate outside [0, 1]."""

    code = "layout_box_outside"


class BoxEmpty(LayoutError):
    """A box with no area (``x1 <= x0`` or ``y1 <= y0``) or thinner than :data:`MIN_SIZE`."""

    code = "layout_box_empty"


class UnknownQuestion(LayoutError):
    """A layout given for a question id the scheme does not have, or for a group of questions."""

    code = "unknown_question"


def _whole(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    return None


def _coordinate(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _check_pages(raw, pages_per_copy):
    if not isinstance(raw, list) or not raw or len(raw) > MAX_PAGES:
        raise LayoutError(N_("The pages of a question are a list of page numbers (at least one)."))
    pages = set()
    for value in raw:
        page = _whole(value)
        if page is None:
            raise LayoutError(N_("“{value}” is not a page number."), value=str(value)[:20])
        if page < 1 or (pages_per_copy and page > pages_per_copy):
            raise PageOutOfRange(N_("Page {page} is not a page of the copy: pages go from 1 to {max}."),
                                 page=page, max=pages_per_copy or MAX_PAGES)
        pages.add(page)
    return sorted(pages)


def _check_box(raw, pages):
    if not isinstance(raw, dict):
        raise LayoutError(N_("The box of a question is an object with its page and x0, y0, x1, y1."))
    page = _whole(raw.get("page", pages[0]))
    if page not in pages:
        raise PageOutOfRange(N_("The box is on page {page}, which is not one of the question's pages."),
                             page=raw.get("page"))
    values = [_coordinate(raw.get(key)) for key in BOX_KEYS]
    if any(value is None for value in values):
        raise LayoutError(N_("The box needs four numbers: x0, y0, x1 and y1."))
    if any(value < 0 or value > 1 for value in values):
        raise BoxOutside(N_("The box goes outside the page: its coordinates must be from 0 to 1."))
    x0, y0, x1, y1 = (round(value, DECIMALS) for value in values)
    if x1 - x0 < MIN_SIZE or y1 - y0 < MIN_SIZE:
        raise BoxEmpty(N_("The box is empty: draw it from its top left corner to its bottom right corner, "
                          "at least {min} % of the page wide and high."), min=round(MIN_SIZE * 100))
    return {"page": page, "x0": x0, "y0": y0, "x1": x1, "y1": y1}


def validate(raw, pages_per_copy=None, question_id=None):
    """One question's layout normalised (None: the whole copy), or a :class:`LayoutError`.

    ``raw`` is ``None``/``{}`` (the whole copy) or ``{"pages": [...], "box"?: {...}}``;
    ``pages_per_copy`` bounds the page numbers (None: only 1 to :data:`MAX_PAGES`)."""
    if raw is None or raw == {}:
        return None
    try:
        if not isinstance(raw, dict):
            raise LayoutError(N_("A question layout is an object with its pages and, optionally, a box."))
        pages = _check_pages(raw.get("pages"), pages_per_copy)
        out = {"pages": pages}
        if raw.get("box") is not None:
            out["box"] = _check_box(raw["box"], pages)
        return out
    except LayoutError as exc:
        exc.question_id = question_id
        raise


def check(raw, pages_per_copy=None):
    """``(layout, problem)``: the normalised layout and None, or None and ``{"code", "message"}``."""
    try:
        return validate(raw, pages_per_copy), None
    except LayoutError as exc:
        return None, {"code": exc.code, "message": exc.message}


def _leaves(nodes):
    for node in nodes:
        if "children" in node:
            yield from _leaves(node["children"])
        else:
            yield node


def layouts(scheme):
    """``{question id: layout or None}`` of every leaf question of ``scheme``."""
    return {leaf["id"]: leaf.get("layout") for leaf in _leaves((scheme or {}).get("questions") or [])
            if "id" in leaf}


def layout_of(scheme, question_id):
    """The stored layout of a leaf question (None: the whole copy); :class:`UnknownQuestion` when the
    scheme has no leaf question of that id."""
    found = layouts(scheme)
    if question_id not in found:
        raise UnknownQuestion(N_("The marking scheme has no question “{id}”."), question_id=None,
                              id=str(question_id)[:64])
    return found[question_id]


def effective(layout, pages_per_copy):
    """The layout as the workspace uses it: ``{"pages", "box", "whole_copy"}``, every page of the
    copy and no box when none was set."""
    if not layout:
        return {"pages": list(range(1, int(pages_per_copy) + 1)), "box": None, "whole_copy": True}
    return {"pages": list(layout["pages"]), "box": layout.get("box"), "whole_copy": False}


def with_layouts(scheme, changes, pages_per_copy):
    """A copy of ``scheme`` with the layouts of ``changes`` (``{question id: layout or None}``) set;
    None removes a question's layout (the whole copy). Raises :class:`UnknownQuestion` for an id
    that is not a leaf question, or the first :class:`LayoutError` found."""
    if not isinstance(changes, dict):
        raise LayoutError(N_("The layouts are an object: question id to layout."))
    known = layouts(scheme)
    checked = {}
    for question_id, raw in changes.items():
        if question_id not in known:
            raise UnknownQuestion(N_("The marking scheme has no question “{id}”."), id=str(question_id)[:64])
        checked[question_id] = validate(raw, pages_per_copy, question_id)

    def copy_nodes(nodes):
        out = []
        for node in nodes:
            node = dict(node)
            if "children" in node:
                node["children"] = copy_nodes(node["children"])
            elif node.get("id") in checked:
                node.pop("layout", None)
                if checked[node["id"]] is not None:
                    node["layout"] = checked[node["id"]]
            out.append(node)
        return out

    return {**scheme, "questions": copy_nodes(scheme.get("questions") or [])}

