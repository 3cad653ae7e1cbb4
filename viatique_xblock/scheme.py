"""The marking scheme: a tree of questions with stable ids, validated on save.

A scheme is ``{"questions": [node, ...], "next_id": n}``. A node is either a
leaf question ``{"id", "label", "max", "step"}`` that receives points (with, optionally, its
``layout``: where its answer is on the copy, :mod:`viatique_xblock.question_layout`, and its
``scoring``: :data:`GAINS`, the default, or :data:`DEDUCTIONS`, see :func:`score`), or a
group ``{"id", "label", "children": [node, ...]}`` whose maximum is the sum of
its children. Ids are stable: editing labels or order never changes them, and
points are stored by id, so they never move to another question. New questions
(no id) get ``q<next_id>``; ``next_id`` only grows, so an id is never reused.

This module is pure Python: no Django, no XBlock.
"""
import re
from decimal import Decimal, InvalidOperation

from viatique_xblock import i18n, inputs
from viatique_xblock.errors import ViatiqueError
from viatique_xblock import question_layout as layout_module
from viatique_xblock.i18n import N_, gettext as _

ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_LABEL = 200
MAX_QUESTIONS = 300
MAX_DEPTH = 4
MAX_DECIMALS = 3
MAX_POINTS = Decimal("10000")
#: the largest ``next_id`` of a scheme (question ids are ``q<number>``)
MAX_NEXT_ID = 10 ** 6
#: how a leaf question's rubric items count (:func:`score`): gains from 0 (the default), or deductions from
#: the question's maximum
GAINS = "gains"
DEDUCTIONS = "deductions"
SCORING = (GAINS, DEDUCTIONS)
#: the ids the editor hands out: ``q`` and a number
QUESTION_ID = re.compile(r"q(\d{1,7})")


class SchemeError(ViatiqueError):
    """The scheme is malformed. ``problems`` lists ``{"path", "message"}``, one per fault."""

    code = "invalid_scheme"
    status = 400

    def __init__(self, problems):
        self.problems = problems
        super().__init__(N_("The marking scheme has {count} problem(s)."), count=len(problems))

    def extra(self):
        return {"problems": self.problems}


def _number(value):
    """A Decimal from a JSON number or numeric string, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def plain_number(number):
    """A number as the shortest JSON number (int when whole): 2.50 -> 2.5, 4.0 -> 4."""
    normal = Decimal(str(number)).normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


def _decimals(number):
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent)


class _Validator:
    def __init__(self, next_id, pages_per_copy=None):
        self.pages_per_copy = pages_per_copy
        self.problems = []
        self.seen = set()
        self.count = 0
        self.next_id = next_id
        self.pending = []  # nodes waiting for a fresh id once all given ids are known

    def fail(self, where, message, field=None, **params):
        """A problem of the question at ``where``; ``field`` ("max" or "step") names which of its fields."""
        problem = {"path": where, "message": _(message).format(**params)}
        if field:
            problem["field"] = field
        self.problems.append(problem)

    def node(self, raw, path, depth):
        self.count += 1
        if not isinstance(raw, dict):
            self.fail(path, N_("Question {path} is not a question."), path=path)
            return None
        label = str(raw.get("label", "")).strip()
        name = label or path
        out = {"label": label}
        qid = raw.get("id")
        if qid in (None, ""):
            self.pending.append(out)
        elif not isinstance(qid, str) or not ID_PATTERN.match(qid):
            self.fail(
                path,
                N_("Question “{name}” has the id “{id}”: an id starts with a letter and has only letters, "
                   "digits, “-” and “_” (64 at most)."),
                name=name, id=qid,
            )
        elif qid in self.seen:
            self.fail(path, N_("Two questions have the id “{id}”: question ids must be unique."), id=qid)
        else:
            self.seen.add(qid)
            out["id"] = qid
        if not label:
            self.fail(path, N_("Question {path} has no label."), path=path)
        elif len(label) > MAX_LABEL:
            self.fail(path, N_("The label of question “{name}” is longer than {max} characters."),
                      name=name[:40], max=MAX_LABEL)
        children = raw.get("children")
        if children is not None:
            if depth >= MAX_DEPTH:
                self.fail(path, N_("Question “{name}” is nested more than {max} levels deep."),
                          name=name, max=MAX_DEPTH)
                return out
            if not isinstance(children, list):
                self.fail(path, N_("The sub-questions of “{name}” are not a list."), name=name)
                return out
            nodes = (self.node(child, f"{path}.{index + 1}", depth + 1) for index, child in enumerate(children))
            out["children"] = [node for node in nodes if node is not None]
            return out
        return self.leaf(raw, out, path, name)

    def leaf(self, raw, out, path, name):
        maximum = _number(raw.get("max"))
        step = _number(raw.get("step", 1))
        if maximum is None:
            self.fail(path, N_("Question “{name}” needs a maximum number of points."), field="max", name=name)
        elif maximum <= 0:
            self.fail(path, N_("Question “{name}” has a maximum of {max}: a maximum must be greater than zero."),
                      field="max", name=name, max=raw.get("max"))
        elif maximum > MAX_POINTS:
            self.fail(path, N_("Question “{name}” has a maximum of {max}: the largest allowed is {limit}."),
                      field="max", name=name, max=raw.get("max"), limit=MAX_POINTS)
        elif _decimals(maximum) > MAX_DECIMALS:
            self.fail(path, N_("The maximum of question “{name}” has more than {n} decimals."),
                      field="max", name=name, n=MAX_DECIMALS)
        if step is None:
            self.fail(path, N_("Question “{name}” needs a step (for example 0.5 or 1)."), field="step", name=name)
        elif step <= 0:
            self.fail(path, N_("Question “{name}” has a step of {step}: a step must be greater than zero."),
                      field="step", name=name, step=raw.get("step"))
        elif _decimals(step) > MAX_DECIMALS:
            self.fail(path, N_("The step of question “{name}” has more than {n} decimals."),
                      field="step", name=name, n=MAX_DECIMALS)
        elif maximum is not None and maximum > 0:
            if step > maximum:
                self.fail(path, N_("Question “{name}”: the step {step} is larger than the maximum {max}."),
                          field="step", name=name, step=i18n.number(step), max=i18n.number(maximum))
            elif maximum % step != 0:
                self.fail(
                    path,
                    N_("Question “{name}”: the step {step} does not divide the maximum {max}, "
                       "so the maximum could never be given. Change the step or the maximum."),
                    field="step", name=name, step=i18n.number(step), max=i18n.number(maximum),
                )
        if maximum is not None and maximum > 0:
            out["max"] = plain_number(maximum)
        if step is not None and step > 0:
            out["step"] = plain_number(step)
        scoring = raw.get("scoring")
        if scoring not in (None, ""):
            if scoring not in SCORING:
                self.fail(path, N_("Question “{name}”: scoring must be “gains” (from 0) or “deductions” "
                                   "(from the maximum)."), field="scoring", name=name)
            else:
                out["scoring"] = scoring
        if raw.get("layout") not in (None, {}):
            layout, problem = layout_module.check(raw["layout"], self.pages_per_copy)
            if problem:
                self.problems.append({"path": path, "field": "layout", "code": problem["code"],
                                      "message": _("Question “{name}”: {problem}").format(
                                          name=name, problem=problem["message"])})
            else:
                out["layout"] = layout
        return out

    def assign_ids(self):
        for node in self.pending:
            while f"q{self.next_id}" in self.seen:
                self.next_id += 1
            node["id"] = f"q{self.next_id}"
            self.seen.add(node["id"])
            self.next_id += 1


def validate(raw, previous=None, pages_per_copy=None):
    """Validate a scheme sent by the editor and return it normalised.

    ``previous`` is the scheme stored before this edit: its ``next_id`` carries
    over so that ids of deleted questions are never handed out again.
    ``pages_per_copy`` bounds the pages of the questions' layouts (None: not checked against it); a
    faulty layout is a problem with ``field: "layout"`` and the layout error's ``code``.
    Raises :class:`SchemeError` listing every problem found.
    """
    if isinstance(raw, list):
        raw = {"questions": raw}
    if not isinstance(raw, dict):
        raise SchemeError([{"path": "", "message": _("The marking scheme is not a list of questions.")}])
    questions = raw.get("questions")
    sent_next = inputs.whole_number(raw.get("next_id") or 1, None, 1, MAX_NEXT_ID)
    if sent_next is None:
        raise SchemeError([{"path": "next_id", "message": _("The next question number must be a whole number "
                                                            "from 1 to {max}.").format(max=MAX_NEXT_ID)}])
    next_id = max(sent_next, inputs.whole_number((previous or {}).get("next_id"), 1, 1, MAX_NEXT_ID))
    validator = _Validator(next_id, pages_per_copy)
    if not isinstance(questions, list) or not questions:
        raise SchemeError([{"path": "", "message": _("The marking scheme needs at least one question.")}])
    nodes = [node for index, item in enumerate(questions)
             if (node := validator.node(item, str(index + 1), 1)) is not None]
    if validator.count > MAX_QUESTIONS:
        validator.fail("", N_("The marking scheme has {count} questions; the largest allowed is {max}."),
                       count=validator.count, max=MAX_QUESTIONS)
    for node in _walk(nodes):
        if "children" in node and not node["children"]:
            validator.fail("", N_("Question group “{name}” has no sub-question."), name=node["label"] or "?")
    if validator.problems:
        raise SchemeError(validator.problems)
    # a scheme written by hand (an OLX import) may carry ids past its next_id, or none: the next new
    # question must never take an id that some question already has, or had in this scheme
    numbered = [int(found.group(1)) for found in map(QUESTION_ID.fullmatch, validator.seen) if found]
    validator.next_id = min(max([validator.next_id, *(number + 1 for number in numbered)]), MAX_NEXT_ID)
    validator.assign_ids()
    return {"questions": nodes, "next_id": validator.next_id}


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.get("children") or [])


def leaves(scheme):
    """The questions that receive points, in reading order."""
    return [node for node in _walk((scheme or {}).get("questions") or []) if "children" not in node]


def question_ids(scheme):
    return {node["id"] for node in _walk((scheme or {}).get("questions") or []) if "id" in node}


def total(scheme):
    """The maximum total of a scheme, as a Decimal."""
    return sum((Decimal(str(node["max"])) for node in leaves(scheme)), Decimal(0))


def default_scheme():
    """The scheme of a new block: two questions the author will edit."""
    return {
        "questions": [
            {"id": "q1", "label": "Question 1", "max": 10, "step": 0.5},
            {"id": "q2", "label": "Question 2", "max": 10, "step": 0.5},
        ],
        "next_id": 3,
    }


class InvalidPoints(ViatiqueError):
    """Points given to a question are not a number, out of bounds or off the question's step."""

    code = "invalid_points"
    status = 400


def scoring(leaf):
    """The leaf question's scoring: :data:`GAINS` or :data:`DEDUCTIONS`."""
    return DEDUCTIONS if leaf.get("scoring") == DEDUCTIONS else GAINS


def base_points(leaf):
    """Where a question's points start from: 0 (gains) or its maximum (deductions)."""
    return Decimal(str(leaf["max"])) if scoring(leaf) == DEDUCTIONS else Decimal(0)


def score(leaf, items=0, adjustment=0):
    """A question's points from its rubric: its base (:func:`base_points`) plus the sum of the points of the
    items applied (``items``) plus the grader's adjustment, bounded to [0, maximum], then snapped to the
    question's step: the nearest multiple of the step, a value half-way between two multiples going to the
    one nearer the base (down when scored by gains, up when by deductions), so that a rubric never gives
    more (gains) or takes more (deductions) than its items say. The maximum is a multiple of the step (the
    scheme's validation), so the result stays within bounds."""
    maximum = Decimal(str(leaf["max"]))
    step = Decimal(str(leaf.get("step") or 1))
    value = base_points(leaf) + Decimal(str(items)) + Decimal(str(adjustment))
    value = min(max(value, Decimal(0)), maximum)
    below = (value // step) * step
    above = below if below == value else below + step
    if value - below < above - value:
        snapped = below
    elif value - below > above - value:
        snapped = above
    else:
        snapped = above if scoring(leaf) == DEDUCTIONS else below
    return min(max(snapped, Decimal(0)), maximum)


def check_points(leaf, raw):
    """The points ``raw`` (a JSON number or a decimal string) given to the leaf question ``leaf``,
    as a Decimal from 0 to the question's maximum on a multiple of its step; else :class:`InvalidPoints`."""
    points = _number(raw)
    label = leaf.get("label") or leaf.get("id")
    maximum = Decimal(str(leaf["max"]))
    step = Decimal(str(leaf.get("step") or 1))
    if points is None:
        raise InvalidPoints(N_("The points of “{name}” are not a number."), name=label)
    if points < 0 or points > maximum:
        raise InvalidPoints(N_("The points of “{name}” must be from 0 to {max}."), name=label,
                            max=i18n.number(maximum))
    if points % step != 0:
        raise InvalidPoints(N_("The points of “{name}” must be a multiple of {step}."), name=label,
                            step=i18n.number(step))
    return points
