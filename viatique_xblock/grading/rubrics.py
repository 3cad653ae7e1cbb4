"""Living rubrics (public API): rubric items per question, applied to copies, and re-scoring when they change.

A leaf question of the marking scheme has rubric items (:class:`~viatique_xblock.models.RubricItem`): a text
shown to the learner and signed points (a gain or a deduction; None: a comment without points), in an order,
optionally in a group (:class:`~viatique_xblock.models.RubricGroup`), which may be "pick one" (one applied item
of the group per copy's question: applying another replaces it). An item with no question (``question_id``
"") is an exam-wide comment usable on any question. The comment bank of earlier versions IS these items
(migration ``0015_rubrics``): :func:`~viatique_xblock.grading.workspace.comment_bank` lists them.

**Scoring.** A question's points are :func:`viatique_xblock.scheme.score`: its base (0 when scored by
``gains``, the default; its maximum by ``deductions``, the leaf's ``scoring``) plus the points of the items
applied plus the grader's free adjustment (:attr:`QuestionPoints.adjustment`), bounded to [0, maximum] and
snapped to the step. Points typed directly (``save_points``, ``save_draft``, ``save_answer``) are stored as the
adjustment against base + items, so a copy graded without items keeps exactly the points typed.

**Applying** (:func:`apply_item`, :func:`save_adjustment`) follows the same lease rules as every other write:
by copy, the copy's lease fencing (:func:`~viatique_xblock.grading.workspace.get_copy`); graded by question,
the answer's lease (:mod:`viatique_xblock.grading.answers`). Both move the grader's draft version on, the
copy's total and its state (``-> in_progress``) like any write, and are audited (``rubric.item_applied``,
``rubric.item_removed``, ``copy.points_changed``).

**Living items.** :func:`edit_item` changes an item and, in ONE transaction, re-scores every (copy, question)
it is applied to and each such copy's total (the copy rows locked, in key order, as writes lock them), audited
``rubric.item_edited`` (who, the item before and after, the number of copies, the totals before and after,
summed and for the first :data:`AUDITED_COPIES` copies). Then, after commit, the Celery task
``viatique.rubric_rescore`` (:func:`run_rescore`) publishes the new score of every released copy it changed
(:data:`viatique_xblock.signals.copy_rescored`: the results stage publishes, as for a regrade) and queues
``viatique.rerender_graded_copy`` (:func:`rerender`) for each graded copy, whose PDF is rendered again in
place. :class:`~viatique_xblock.models.RubricRescore` counts the progress (:func:`rescore_progress`).
:func:`delete_item` asks for the number of copies it touches first (``confirmation_needed``), then removes the
applications and re-scores the same way.

**Who may change a rubric** (the block's ``rubric_editors``, :data:`EDITORS`): ``instructors`` (the default),
``staff`` (every grader too), or ``nobody_after_grading`` (instructors, until grading started: a copy left
``ready``, or has points). Editing, deleting, grouping and reordering follow it. Creating an item is open to
every grader of the exam whatever the setting: a new item changes no grade until someone applies it.
"""
import uuid
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from viatique_xblock import audit, public_ids, scheme as scheme_module
from viatique_xblock.errors import InvalidRequest, ObjectNotFound, PermissionDenied, ViatiqueError
from viatique_xblock.grading import answers, leases, workspace
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import (
    Answer, AppliedItem, Copy, QuestionPoints, RubricGroup, RubricItem, RubricRescore,
)
from viatique_xblock.platform import queue
from viatique_xblock.states import Grading, IllegalTransition

INSTRUCTORS = "instructors"
STAFF = "staff"
NOBODY_AFTER_GRADING = "nobody_after_grading"
#: the values of the block's ``rubric_editors`` setting
EDITORS = (INSTRUCTORS, STAFF, NOBODY_AFTER_GRADING)
MAX_ITEMS = 1000
MAX_GROUPS = 300
MAX_TEXT = workspace.MAX_TEXT
MAX_LABEL = 255
#: copies listed one by one in a ``rubric.item_edited`` audit event (the sums cover them all)
AUDITED_COPIES = 100
#: rows per statement of a re-scoring's bulk updates
BULK = 500
#: an argument not given (the grading domain's one sentinel, :data:`viatique_xblock.grading.answers.MISSING`)
MISSING = answers.MISSING


class StaleItem(ViatiqueError):
    """The item was changed since the editor read it: reload, never overwrite."""

    code = "stale_item"
    status = 409

    def __init__(self, item):
        self.item = item
        super().__init__(N_("This rubric item was changed by someone else since you opened it. "
                            "Reload the rubric to see the latest version."))

    def extra(self):
        return {"item": self.item}


class ConfirmationNeeded(ViatiqueError):
    """Deleting an applied item needs the number of copies it touches, as the instructor confirmed it."""

    code = "confirmation_needed"
    status = 409

    def __init__(self, copies):
        self.copies = copies
        super().__init__(N_("This item is applied to {copies} copies: confirm to remove it from them and "
                            "re-score them."), copies=copies)

    def extra(self):
        return {"copies": self.copies}


class RubricLocked(PermissionDenied):
    """The block's ``rubric_editors`` setting does not let this user change the rubric now."""

    code = "rubric_locked"


# ------------------------------------------------------------------ reading

def _text(number):
    return workspace._text(number)


def item_json(item):
    return {"id": item.public_id, "question_id": item.question_id,
            "group_id": item.group.public_id if item.group_id else None, "text": item.text,
            "points": _text(item.points), "position": item.position, "version": item.version}


def group_json(group):
    return {"id": group.public_id, "question_id": group.question_id, "label": group.label,
            "pick_one": group.pick_one, "position": group.position}


def _items(exam):
    return RubricItem.objects.filter(exam=exam).select_related("group").order_by("position", "id")


def rubric(exam, question_id=None):
    """The rubric of every leaf question (or of ``question_id``): ``{"questions": {id: {"scoring", "groups",
    "items"}}, "exam_wide": [items]}`` (``exam_wide``: the items usable on any question), in order."""
    leaves = workspace._leaves(exam)
    if question_id not in (None, ""):
        answers.question(exam, question_id)  # 400 for an unknown question
        wanted = [question_id]
    else:
        wanted = list(leaves)
    out = {qid: {"scoring": scheme_module.scoring(leaves[qid]), "groups": [], "items": []} for qid in wanted}
    for group in RubricGroup.objects.filter(exam=exam, question_id__in=wanted).order_by("position", "id"):
        out[group.question_id]["groups"].append(group_json(group))
    exam_wide = []
    for item in _items(exam).filter(question_id__in=wanted + [""]):
        (out[item.question_id]["items"] if item.question_id else exam_wide).append(item_json(item))
    return {"questions": out, "exam_wide": exam_wide}


def question_rubric(exam, question_id):
    """What a grader's panel shows of one question's rubric, in one query: ``{"scoring", "groups", "items",
    "exam_wide"}`` as :func:`rubric` gives them, but only the groups that hold items (an empty group has
    nothing to apply; the editor reads :func:`rubric`)."""
    leaf = workspace._leaves(exam)[question_id]
    groups, items, exam_wide = {}, [], []
    for item in _items(exam).filter(question_id__in=[question_id, ""]):
        if item.question_id:
            items.append(item_json(item))
            if item.group_id:
                groups[item.group_id] = item.group
        else:
            exam_wide.append(item_json(item))
    ordered = sorted(groups.values(), key=lambda group: (group.position, group.pk))
    return {"scoring": scheme_module.scoring(leaf), "groups": [group_json(group) for group in ordered],
            "items": items, "exam_wide": exam_wide}


def grading_started(exam):
    """Whether grading of ``exam`` started: a copy left ``ready``, or holds points."""
    return (Copy.objects.filter(exam=exam).exclude(grading_state=Grading.READY).exists()
            or QuestionPoints.objects.filter(copy__exam=exam).exists())


def can_edit(exam, user, editors=INSTRUCTORS):
    """Whether ``user`` may edit, delete, group or reorder rubric items under the ``rubric_editors`` setting."""
    if editors == STAFF:
        return bool(user.is_staff)
    if editors == NOBODY_AFTER_GRADING:
        return bool(user.is_instructor) and not grading_started(exam)
    return bool(user.is_instructor)


def _check_editor(exam, user, editors):
    if not can_edit(exam, user, editors):
        if editors == NOBODY_AFTER_GRADING and user.is_instructor:
            raise RubricLocked(N_("Grading has started: this exam's rubric can no longer be changed."))
        raise RubricLocked(N_("Only instructors can change this exam's rubric."))


def _item(exam, item_id, lock=False):
    key = public_ids.parse(item_id)
    if key is None:
        raise InvalidRequest(N_("The request must name a rubric item by its id."))
    queryset = RubricItem.objects.filter(exam=exam, public_id=key).select_related("group")
    if lock:
        queryset = queryset.select_for_update()
    item = queryset.first()
    if item is None:
        raise ObjectNotFound(N_("This rubric item does not exist."))
    return item


def _group(exam, group_id, question_id=None):
    if group_id in (None, ""):
        return None
    key = public_ids.parse(group_id)
    group = RubricGroup.objects.filter(exam=exam, public_id=key).first() if key else None
    if group is None:
        raise ObjectNotFound(N_("This rubric group does not exist."))
    if question_id is not None and group.question_id != question_id:
        raise InvalidRequest(N_("This group belongs to another question."))
    return group


def item_usage(exam, item_id):
    """``{"copies", "released"}``: how many copies have the item applied, and how many of them are released
    (their score published to the gradebook)."""
    item = _item(exam, item_id)
    copies = Copy.objects.filter(exam=exam, applied_items__item=item).distinct()
    return {"copies": copies.count(), "released": copies.filter(published_points__isnull=False).count()}


# ------------------------------------------------------------------ validation

def _check_item_fields(exam, question_id, text, points, checker):
    """``(question_id, text, Decimal or None)`` checked: a leaf question or "", non-empty text, signed points
    with at most 3 decimals and no larger than the question's maximum (points need a question)."""
    question_id = checker.question(question_id, "question_id")
    text = checker.text(text, "text", MAX_TEXT).strip()
    if not text:
        checker.fail("text", N_("A rubric item needs a text."))
    value = None
    if points not in (None, ""):
        value = scheme_module._number(points)
        if value is None or isinstance(points, bool):
            checker.fail("points", N_("The points of a rubric item must be a number (negative for a deduction)."))
            value = None
        elif not question_id:
            checker.fail("points", N_("Points on a comment need a question."))
            value = None
        else:
            maximum = Decimal(str(checker.leaves[question_id]["max"]))
            if abs(value) > maximum:
                checker.fail("points", N_("The points of a rubric item must be from -{max} to {max}."),
                             max=scheme_module.plain_number(maximum))
            elif scheme_module._decimals(value) > scheme_module.MAX_DECIMALS:
                checker.fail("points", N_("The points of a rubric item have at most 3 decimals."))
    return question_id, text, value


# ------------------------------------------------------------------ creating, groups

def create_item(exam, user, question_id, text, points=None, group_id=None, client_ip=None, publish=None):
    """Add an item to a question's rubric (``question_id`` "": an exam-wide comment); it is then offered to
    every grader. Any staff member may create one (it changes no grade until applied). Audited
    ``rubric.item_created``. Returns :func:`item_json`."""
    checker = workspace._Checker(exam, None)
    question_id, text, value = _check_item_fields(exam, question_id, text, points, checker)
    checker.done()
    group = _group(exam, group_id, question_id)
    if RubricItem.objects.filter(exam=exam).count() >= MAX_ITEMS:
        raise InvalidRequest(N_("A rubric holds at most {limit} items."), limit=MAX_ITEMS)
    last = RubricItem.objects.filter(exam=exam, question_id=question_id).order_by("-position").first()
    item = RubricItem.objects.create(exam=exam, question_id=question_id, text=text, points=value, group=group,
                                     created_by=user.username, position=(last.position + 1) if last else 0)
    audit.record(exam, "rubric.item_created", actor=user, client_ip=client_ip, publish=publish,
                 details={"item": item.public_id, "question_id": question_id, "points": _text(value)})
    return item_json(item)


def save_group(exam, user, question_id, label="", pick_one=False, position=None, group_id=None,
               editors=INSTRUCTORS, client_ip=None, publish=None):
    """Create (no ``group_id``) or change a group of a question's items. A group made "pick one" keeps the
    applications it already has (the rule applies to the next ones). Returns :func:`group_json`."""
    _check_editor(exam, user, editors)
    checker = workspace._Checker(exam, None)
    label = checker.text(label, "label", MAX_LABEL).strip()
    if group_id in (None, ""):
        question_id = checker.question(question_id, "question_id")
        if not question_id:
            checker.fail("question_id", N_("A rubric group belongs to a question."))
    checker.done()
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
        raise InvalidRequest(N_("A position must be a whole number."))
    if group_id in (None, ""):
        if RubricGroup.objects.filter(exam=exam).count() >= MAX_GROUPS:
            raise InvalidRequest(N_("A rubric holds at most {limit} groups."), limit=MAX_GROUPS)
        group = RubricGroup(exam=exam, question_id=question_id)
    else:
        group = _group(exam, group_id)
    group.label, group.pick_one = label, pick_one is True
    if position is not None:
        group.position = position
    group.save()
    audit.record(exam, "rubric.group_saved", actor=user, client_ip=client_ip, publish=publish,
                 details=group_json(group))
    return group_json(group)


def delete_group(exam, user, group_id, editors=INSTRUCTORS, client_ip=None, publish=None):
    """Remove a group; its items stay, ungrouped (no grade changes)."""
    _check_editor(exam, user, editors)
    group = _group(exam, group_id)
    if group is None:
        raise InvalidRequest(N_("The request must name a rubric group by its id."))
    details = group_json(group)
    group.delete()
    audit.record(exam, "rubric.group_deleted", actor=user, client_ip=client_ip, publish=publish, details=details)
    return {"deleted": True}


# ------------------------------------------------------------------ applying

def _lock_for_write(exam, user, copy_id, question_id, fencing):
    """The copy, locked, once its lease (by copy) or the answer's lease (by question) allows ``user`` to write
    to ``question_id``; and whether a copy dealt to nobody becomes the writer's (grading by copy)."""
    if exam.grading_mode == answers.BY_QUESTION:
        copy = answers._copy(exam, copy_id, lock=True)
        answer = Answer.objects.select_for_update().filter(copy=copy, question_id=question_id).first()
        if answer is None:  # no lease was ever granted on it
            raise leases.LeaseLost(leases.LOST_MESSAGE)
        leases.check_write(copy, fencing, user, answer)
        answers._check_dealt(user, answer)
        if not workspace.can_edit(copy):
            raise IllegalTransition(N_("This copy was finalized: an instructor must reopen the question first."))
        return copy, False
    return workspace._write(exam, user, copy_id, fencing), True


def applied_sums(copy_pks):
    """``{(copy pk, question id): sum of the points of the items applied}`` (items without points count 0)."""
    sums = defaultdict(Decimal)
    for copy_pk, question_id, points in AppliedItem.objects.filter(copy_id__in=copy_pks).values_list(
            "copy_id", "question_id", "item__points"):
        sums[(copy_pk, question_id)] += points or 0
    return sums


def question_json(copy, question_id, row=MISSING):
    """``{question_id, points, adjustment, comment, items}`` of one question of a copy (``items``: the ids of
    the items applied, in the rubric's order). ``row``: its :class:`QuestionPoints`, or None when the caller
    read that it has none (an item applied always gives the question points, and removing the points removes
    the items: a question without points has no item to read)."""
    if row is MISSING:
        row = QuestionPoints.objects.filter(copy=copy, question_id=question_id).first()
    items = [] if row is None else list(
        AppliedItem.objects.filter(copy=copy, question_id=question_id)
        .order_by("item__position", "item_id").values_list("item__public_id", flat=True))
    return {"question_id": question_id, "points": _text(row.points) if row else None,
            "adjustment": _text(row.adjustment) if row else "0", "comment": row.comment if row else "",
            "items": items}


def applied_by_question(copy):
    """``{question id: {"adjustment", "items"}}`` of a copy's questions with points (for the workspace)."""
    out = {question_id: {"adjustment": _text(adjustment), "items": []}
           for question_id, adjustment in copy.points.values_list("question_id", "adjustment")}
    for question_id, item_id in (AppliedItem.objects.filter(copy=copy).order_by("item__position", "item_id")
                                 .values_list("question_id", "item__public_id")):
        out.setdefault(question_id, {"adjustment": "0", "items": []})["items"].append(item_id)
    return out


def applied_details(**filters):
    """``{(copy pk, question id): [{"text", "points"}]}`` of the items applied to the copies ``filters`` selects
    (``copy=`` one copy, ``copy__exam=`` an exam), in the rubric's order: what the learner's view, the graded
    PDF and the grades CSV list per question (one query)."""
    out = {}
    for copy_pk, question_id, text, points in (AppliedItem.objects.filter(**filters)
                                               .order_by("item__position", "item_id")
                                               .values_list("copy_id", "question_id", "item__text", "item__points")):
        out.setdefault((copy_pk, question_id), []).append({"text": text, "points": _signed(points)})
    return out


def _signed(number):
    """Signed points as text ("+1.5", "-1"), None for none: how an item or an adjustment is shown."""
    if number is None:
        return None
    text = _text(number)
    return text if text.startswith("-") or text == "0" else "+" + text


def shown_adjustment(row, items):
    """The adjustment as shown to the learner beside the items applied (signed text), or None: a question graded
    without items shows its points alone (its adjustment is those points)."""
    if row is None or not items or not row.adjustment:
        return None
    return _signed(row.adjustment)


def _rescore_question(exam, copy, question_id, user, adjustment=MISSING, comment=MISSING):
    """Recompute one question's points of a locked copy from its items and adjustment; ``(row, changes)``."""
    leaf = workspace._leaves(exam)[question_id]
    row = QuestionPoints.objects.filter(copy=copy, question_id=question_id).first()
    before = _text(row.points) if row else None
    row = row or QuestionPoints(copy=copy, question_id=question_id, adjustment=Decimal(0))
    if adjustment is not MISSING:
        row.adjustment = adjustment
    if comment is not MISSING:
        row.comment = comment
    items = applied_sums([copy.pk]).get((copy.pk, question_id), Decimal(0))
    row.points = scheme_module.score(leaf, items, row.adjustment)
    row.grader, row.no_answer = user.username, False
    row.save()
    changes = {question_id: [before, _text(row.points)]} if before != _text(row.points) else {}
    return row, changes


def _finish_write(exam, copy, user, question_id, row, changes, claim, context):
    draft = workspace._next_version(copy, user)
    given = dict(copy.points.values_list("question_id", "points"))
    result = workspace._finish(exam, copy, user, draft, changes, context, given=given, claim_copy=claim)
    return {**question_json(copy, question_id, row), "total": result["total"], "version": result["version"]}


def apply_item(exam, user, copy_id, question_id, item_id, applied, fencing, client_ip=None, publish=None):
    """Apply (``applied`` True) or remove an item on one question of a copy, under the lease (module's
    docstring). In a "pick one" group, applying an item removes the group's other one. Returns
    :func:`question_json` with the copy's ``total`` and the grader's draft ``version``."""
    answers.question(exam, question_id)
    if not isinstance(applied, bool):
        raise InvalidRequest(N_("“applied” must be true or false."))
    item = _item(exam, item_id)
    if item.question_id not in ("", question_id):
        raise InvalidRequest(N_("This rubric item belongs to another question."))
    context = {"client_ip": client_ip, "publish": publish}
    with transaction.atomic():
        copy, claim = _lock_for_write(exam, user, copy_id, question_id, fencing)
        existing = AppliedItem.objects.filter(copy=copy, question_id=question_id)
        if applied:
            if item.group_id and item.group.pick_one:
                existing.filter(item__group_id=item.group_id).exclude(item=item).delete()
            AppliedItem.objects.get_or_create(copy=copy, question_id=question_id, item=item,
                                              defaults={"applied_by": user.username})
        else:
            existing.filter(item=item).delete()
        row, changes = _rescore_question(exam, copy, question_id, user)
        audit.record(exam, "rubric.item_applied" if applied else "rubric.item_removed", actor=user, copy=copy,
                     **context, details={"item": item.public_id, "question_id": question_id,
                                         "points": _text(row.points)})
        return _finish_write(exam, copy, user, question_id, row, changes, claim, context)


def save_adjustment(exam, user, copy_id, question_id, adjustment, comment, fencing, client_ip=None,
                    publish=None):
    """The grader's free adjustment (signed points, added to base and items) and the question's comment,
    under the lease. Returns as :func:`apply_item`."""
    answers.question(exam, question_id)
    value = Decimal(0) if adjustment in (None, "") else scheme_module._number(adjustment)
    leaf = workspace._leaves(exam)[question_id]
    if value is None or isinstance(adjustment, bool) or abs(value) > Decimal(str(leaf["max"])) \
            or scheme_module._decimals(value) > scheme_module.MAX_DECIMALS:
        raise workspace.InvalidWork([{"path": "adjustment", "message": _(
            "An adjustment is a number of points, at most the question's maximum either way.")}])
    checker = workspace._Checker(exam, None)
    comment = checker.text(comment, "comment", workspace.MAX_COMMENT)
    checker.done()
    context = {"client_ip": client_ip, "publish": publish}
    with transaction.atomic():
        copy, claim = _lock_for_write(exam, user, copy_id, question_id, fencing)
        row, changes = _rescore_question(exam, copy, question_id, user, adjustment=value, comment=comment)
        return _finish_write(exam, copy, user, question_id, row, changes, claim, context)


# ------------------------------------------------------------------ living items

def _lock_copies(copy_pks):
    """Lock the copy rows ``copy_pks`` in key order (as every write locks a copy first); ``{pk: total}``."""
    copies = {}
    copy_pks = sorted(copy_pks)
    for start in range(0, len(copy_pks), BULK * 4):
        chunk = copy_pks[start:start + BULK * 4]
        copies.update({pk: total for pk, total in Copy.objects.select_for_update().filter(pk__in=chunk)
                       .order_by("pk").values_list("pk", "total_points")})
    return copies


def _applied_copies(exam, item_id):
    """The keys of the copies an item is applied to, their rows locked BEFORE the item's: a write applying an
    item locks its copy, then needs the item's row (its foreign key), so locking the item first could wait on
    such a write while it waits on us."""
    key = public_ids.parse(item_id)
    copy_pks = sorted(set(AppliedItem.objects.filter(item__exam=exam, item__public_id=key)
                          .values_list("copy_id", flat=True))) if key else []
    _lock_copies(copy_pks)
    return copy_pks


def rescore_copies(exam, copy_pks):
    """Re-score every question of the copies ``copy_pks`` from their items and adjustments, and their totals,
    inside the caller's transaction (the copy rows locked in key order). Returns ``{copy pk: (total before,
    total after)}`` of the copies whose total changed."""
    leaves = workspace._leaves(exam)
    copy_pks = sorted(copy_pks)
    copies = _lock_copies(copy_pks)
    sums = defaultdict(Decimal)
    rows, totals = [], {}
    for start in range(0, len(copy_pks), BULK * 4):
        chunk = copy_pks[start:start + BULK * 4]
        sums.update(applied_sums(chunk))
        for row in QuestionPoints.objects.filter(copy_id__in=chunk).only("pk", "copy_id", "question_id", "points",
                                                                         "adjustment"):
            leaf = leaves.get(row.question_id)
            if leaf is None:
                continue
            points = scheme_module.score(leaf, sums.get((row.copy_id, row.question_id), 0), row.adjustment)
            if points != row.points:
                row.points = points
                rows.append(row)
            totals[row.copy_id] = totals.get(row.copy_id, Decimal(0)) + points
    QuestionPoints.objects.bulk_update(rows, ["points"], batch_size=BULK)
    changed = {pk: (copies[pk], totals.get(pk)) for pk in copies if copies[pk] != totals.get(pk)}
    Copy.objects.bulk_update([Copy(pk=pk, total_points=after) for pk, (_before, after) in changed.items()],
                             ["total_points"], batch_size=BULK)
    return changed


def keep_points(exam, question_ids=None):
    """After the marking scheme changed a question's ``scoring`` (its base) or its maximum: every stored
    adjustment of those questions (all leaves when None) recomputed against the new base and the items applied,
    so that the points stay exactly as they are (``adjustment = points - base - items``) and a later re-scoring
    starts from them; nothing a learner sees changes. For the scheme's change flow (which decides whether
    points that no longer fit are shown to the instructor). Inside the caller's transaction; returns the number
    of rows changed."""
    leaves = workspace._leaves(exam)
    wanted = [qid for qid in (question_ids if question_ids is not None else leaves) if qid in leaves]
    rows = list(QuestionPoints.objects.filter(copy__exam=exam, question_id__in=wanted)
                .only("pk", "copy_id", "question_id", "points", "adjustment"))
    sums = applied_sums(sorted({row.copy_id for row in rows}))
    changed = []
    for row in rows:
        adjustment = row.points - scheme_module.base_points(leaves[row.question_id]) \
            - sums.get((row.copy_id, row.question_id), Decimal(0))
        if adjustment != row.adjustment:
            row.adjustment = adjustment
            changed.append(row)
    QuestionPoints.objects.bulk_update(changed, ["adjustment"], batch_size=BULK)
    return len(changed)


def _start_rescore(exam, user, copy_pks, changed):
    """The progress record of a re-scoring, and its Celery task queued after commit: the released copies whose
    total changed are published again, the graded copies rendered again."""
    states = dict(Copy.objects.filter(pk__in=copy_pks).values_list("pk", "grading_state"))
    published = set(Copy.objects.filter(pk__in=list(changed), published_points__isnull=False)
                    .values_list("pk", flat=True))
    graded = sorted(pk for pk, state in states.items() if state == Grading.GRADED)
    record = RubricRescore.objects.create(exam=exam, copy_ids=graded, copies=len(copy_pks),
                                          released=len(published), to_render=len(graded),
                                          created_by=user.username)
    if graded:
        transaction.on_commit(lambda: queue.send("viatique.rubric_rescore", record.pk), robust=True)
    return record


def _totals_details(changed):
    rows = sorted(changed.items())
    before = sum((total or 0 for total, _after in changed.values()), Decimal(0))
    after = sum((total or 0 for _before, total in changed.values()), Decimal(0))
    return {"copies_changed": len(changed), "totals_before": _text(before), "totals_after": _text(after),
            "per_copy": [[pk, _text(b), _text(a)] for pk, (b, a) in rows[:AUDITED_COPIES]]}


def _rescore_json(record):
    return {"id": str(record.public_id), "copies": record.copies, "released": record.released}


def edit_item(exam, user, item_id, version, text=MISSING, points=MISSING, group_id=MISSING, position=MISSING,
              editors=INSTRUCTORS, client_ip=None, publish=None):
    """Change an item (its text, points, group or position) made from ``version`` (else :class:`StaleItem`);
    a change of its points or text re-scores every copy it is applied to (module's docstring).

    Returns ``{"item": item_json, "rescore": {"id", "copies", "released"}}`` (``rescore`` None when nothing
    was re-scored)."""
    _check_editor(exam, user, editors)
    with transaction.atomic():
        _applied_copies(exam, item_id)
        item = _item(exam, item_id, lock=True)
        if isinstance(version, bool) or version != item.version:
            raise StaleItem(item_json(item))
        before = item_json(item)
        checker = workspace._Checker(exam, None)
        _question, new_text, new_points = _check_item_fields(
            exam, item.question_id, item.text if text is MISSING else text,
            item.points if points is MISSING else points, checker)
        checker.done()
        if group_id is not MISSING:
            item.group = _group(exam, group_id, item.question_id)
        if position is not MISSING:
            if isinstance(position, bool) or not isinstance(position, int):
                raise InvalidRequest(N_("A position must be a whole number."))
            item.position = position
        living = new_points != item.points or new_text != item.text
        item.text, item.points = new_text, new_points
        item.version = F("version") + 1
        item.save()
        item.refresh_from_db()
        record, changed, copy_pks = None, {}, []
        if living:
            copy_pks = list(AppliedItem.objects.filter(item=item).values_list("copy_id", flat=True).distinct())
            changed = rescore_copies(exam, copy_pks)
            if copy_pks:
                record = _start_rescore(exam, user, copy_pks, changed)
        audit.record(exam, "rubric.item_edited", actor=user, client_ip=client_ip, publish=publish,
                     details={"item": item.public_id, "before": before, "after": item_json(item),
                              "copies": len(copy_pks), **_totals_details(changed)})
    return {"item": item_json(item), "rescore": _rescore_json(record) if record else None}


def delete_item(exam, user, item_id, copies=None, editors=INSTRUCTORS, client_ip=None, publish=None):
    """Remove an item. Applied to copies, it needs ``copies``: the number of copies it touches as the
    instructor confirmed it (:func:`item_usage`), else :class:`ConfirmationNeeded` with the count; then it is
    removed from them and they are re-scored as by :func:`edit_item`. Returns ``{"deleted", "rescore"}``."""
    _check_editor(exam, user, editors)
    with transaction.atomic():
        _applied_copies(exam, item_id)
        item = _item(exam, item_id, lock=True)
        copy_pks = list(AppliedItem.objects.filter(item=item).values_list("copy_id", flat=True).distinct())
        if copy_pks and (isinstance(copies, bool) or copies != len(copy_pks)):
            raise ConfirmationNeeded(len(copy_pks))
        details = item_json(item)
        item.delete()  # its applications go with it
        changed = rescore_copies(exam, copy_pks)
        record = _start_rescore(exam, user, copy_pks, changed) if copy_pks else None
        audit.record(exam, "rubric.item_deleted", actor=user, client_ip=client_ip, publish=publish,
                     details={"item": details, "copies": len(copy_pks), **_totals_details(changed)})
    return {"deleted": True, "rescore": _rescore_json(record) if record else None}


# ------------------------------------------------------------------ after a living edit (Celery)

def rescore_progress(exam, rescore_id):
    """``{"total", "republished", "rendered", "done", ...}`` of a re-scoring: ``total`` copies re-scored,
    ``released`` of them to publish again, ``to_render`` graded PDFs to render again."""
    try:
        key = uuid.UUID(str(rescore_id))
    except ValueError:
        key = None
    record = RubricRescore.objects.filter(exam=exam, public_id=key).first() if key else None
    if record is None:
        raise ObjectNotFound(N_("This re-scoring does not exist."))
    return {"id": str(record.public_id), "total": record.copies, "released": record.released,
            "republished": record.republished, "to_render": record.to_render, "rendered": record.rendered,
            "done": record.republished >= record.released and record.rendered >= record.to_render}


def run_rescore(rescore_pk):
    """The Celery side of a re-scoring (task ``viatique.rubric_rescore``): each released copy's new score
    published (:data:`~viatique_xblock.signals.copy_rescored`, received by the results stage, which publishes
    only a changed total of a released, graded copy), then a render queued for each graded copy. Idempotent
    enough: publishing the same total again is harmless, a second render overwrites the PDF."""
    from viatique_xblock import signals

    record = RubricRescore.objects.select_related("exam").filter(pk=rescore_pk).first()
    if record is None:
        return None
    published = 0
    for index, copy in enumerate(Copy.objects.filter(pk__in=record.copy_ids).order_by("pk")):
        results = signals.copy_rescored.send_robust(sender=Copy, copy=copy, actor=None)
        published += any(result is True for _receiver, result in results)
        if index % 50 == 49:
            RubricRescore.objects.filter(pk=record.pk).update(republished=published)
    # a copy the results stage did not publish (results taken back meanwhile) is no longer waited for
    RubricRescore.objects.filter(pk=record.pk).update(republished=published, released=min(record.released, published))
    for copy_pk in record.copy_ids:
        queue.send("viatique.rerender_graded_copy", copy_pk, record.pk)
    return published


def rerender(copy_pk, rescore_pk=None):
    """Render the graded PDF of a graded copy again, in place (task ``viatique.rerender_graded_copy``), and
    count it in the re-scoring's progress."""
    from viatique_xblock.grading import rendering

    state = rendering.rerender_copy(copy_pk)
    if rescore_pk is not None:
        RubricRescore.objects.filter(pk=rescore_pk).update(rendered=F("rendered") + 1)
    return state
