"""The grading workspace (public API): open a copy, save work under a lease, finalize, reopen, comment bank
(the rubric items of :mod:`viatique_xblock.grading.rubrics`).

Every function takes the :class:`~viatique_xblock.models.Exam` first and looks copies
up in it only. Graders see the copies of the exam dealt to them or to nobody;
instructors see all. Every write:

1. in ONE transaction: locks the copy row (``select_for_update``), checks the lease's
   fencing number (:func:`viatique_xblock.grading.leases.check_write`), then that the copy is the
   requester's and that its state allows changes;
2. validates what it was sent (annotations, points against the scheme's maximum and
   step, text lengths): :class:`InvalidWork` lists every fault and nothing is written;
3. moves the grader's draft version on (a draft save also checks the version it was
   based on: :class:`StaleDraft`), writes the rows (annotations by ``uid``, points by
   question id, general comment, total) and moves ``ready``/``reopened`` to
   ``in_progress`` through :func:`~viatique_xblock.states.check_grading_transition`.

Points changes are audited per save that changes them (``copy.points_changed``), state
changes always (``copy.started``, ``copy.finalized``, ``copy.reopened``, ``copy.render_retried``).
"""
import uuid
from decimal import Decimal
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from viatique_xblock import audit, inputs, public_ids, question_layout as layout, scheme as scheme_module, signals
from viatique_xblock.errors import AccessDenied, InvalidRequest, ObjectNotFound, PermissionDenied, ViatiqueError
from viatique_xblock.grading import leases, rendering
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.identity import anonymity
from viatique_xblock.models import AppliedItem, Annotation, Copy, Draft, Page, QuestionPoints, RubricItem
from viatique_xblock.platform import conf
from viatique_xblock.scanning import splitting
from viatique_xblock.states import Grading, IllegalTransition, check_grading_transition

MAX_ANNOTATIONS = 500
MAX_TEXT = 2000
MAX_COMMENT = 5000
MAX_BANK_COMMENTS = 1000
KINDS = {kind for kind, _label in Annotation.KINDS}
#: grading states in which a copy's work may change
EDITABLE = (Grading.READY, Grading.IN_PROGRESS, Grading.REOPENED)
#: a little slack for coordinates computed in floating point by the browser
EPSILON = 1e-9


class StaleDraft(ViatiqueError):
    """The draft was saved from an older version (another tab saved since): reload, never overwrite."""

    code = "stale_draft"
    status = 409

    def __init__(self, version):
        self.version = version
        super().__init__(N_("This copy was changed in another window since you opened it. "
                            "Reload it to see the latest work."))

    def extra(self):
        return {"version": self.version}


class InvalidWork(ViatiqueError):
    """What was sent cannot be stored; ``problems`` lists ``{"path", "message"}``, one per fault."""

    code = "invalid_work"
    status = 400

    def __init__(self, problems):
        self.problems = problems
        super().__init__(N_("The work sent has {count} problem(s): nothing was saved."), count=len(problems))

    def extra(self):
        return {"problems": self.problems}


class Incomplete(ViatiqueError):
    """Finalize refused: questions without (valid) points."""

    code = "incomplete"
    status = 400

    def __init__(self, missing):
        self.missing = missing
        super().__init__(N_("Give points to every question before finalizing: {labels}."),
                         labels=", ".join(item["label"] for item in missing))

    def extra(self):
        return {"missing": self.missing}


# ------------------------------------------------------------------ lookups

def visible_copies(exam, viewer):
    """The copies of ``exam`` that ``viewer`` may open: all for instructors; a grader's own and unassigned ones."""
    queryset = Copy.objects.filter(exam=exam)
    if not viewer.is_instructor:
        queryset = queryset.filter(grader__in=[viewer.username, ""])
    return queryset


def copy_key(copy_id):
    """A copy id as sent: the copy's public id (:mod:`viatique_xblock.public_ids`, never its database
    key). A request without one, or with something else (a number, ``true``, a list), is refused as
    invalid, which is no lockout matter."""
    value = public_ids.parse(copy_id)
    if value is None:
        raise InvalidRequest(N_("The request must name a copy by its id."))
    return value


#: ``get_copy``'s ``fencing`` when the call is not a write
READ = object()


def get_copy(exam, viewer, copy_id, lock=False, fencing=READ):
    """A copy of ``exam`` that ``viewer`` may open (``lock``: ``select_for_update``, inside a transaction).

    With ``fencing`` (a write), the lease is checked before the copy's owner: a tab whose lease
    ended while the copy went to another grader is told ``lease_lost``, like any stale tab."""
    queryset = Copy.objects.filter(exam=exam, public_id=copy_key(copy_id))
    if lock:
        queryset = queryset.select_for_update()
    copy = queryset.first()
    if copy is None:
        raise ObjectNotFound(N_("This copy does not exist."))
    if fencing is not READ:
        leases.check_write(copy, fencing, viewer)
    if not viewer.is_instructor and copy.grader not in ("", viewer.username):
        raise AccessDenied(N_("This copy was given to another grader."))
    copy.exam = exam
    return copy


def lease_copy(exam, copy_id):
    """A copy of ``exam`` for renewing or releasing a lease: the token proves the holder, so a tab
    whose copy went to another grader meanwhile is told ``lease_lost``, not ``forbidden``."""
    # only its id is used: the token is checked in the cache
    copy = Copy.objects.filter(exam=exam, public_id=copy_key(copy_id)).only("pk", "public_id", "exam_id").first()
    if copy is None:
        raise ObjectNotFound(N_("This copy does not exist."))
    copy.exam = exam
    return copy


def _leaves(exam):
    return {leaf["id"]: leaf for leaf in scheme_module.leaves(exam.scheme)}


def questions(exam):
    """The questions that receive points, with the labels of their groups as ``path`` and their
    ``layout`` (:func:`viatique_xblock.question_layout.effective`: ``{pages, box, whole_copy}``)."""
    rows = []

    def walk(nodes, parents):
        for node in nodes:
            if "children" in node:
                walk(node["children"], parents + [node.get("label", "")])
            else:
                rows.append({"id": node["id"], "label": node.get("label", ""),
                             "path": " › ".join(parents + [node.get("label", "")]),
                             "max": node.get("max"), "step": node.get("step"),
                             "layout": layout.effective(node.get("layout"), exam.pages_per_copy)})

    walk((exam.scheme or {}).get("questions") or [], [])
    return rows


def _text(number):
    return None if number is None else str(scheme_module.plain_number(number))


# ------------------------------------------------------------------ reading

#: an annotation's fields as :func:`annotation_json` gives them (:func:`work_json` reads them as values);
#: ``page_id`` is the page's public id
JSON_FIELDS = ("uid", "page_id", "kind", "x", "y", "width", "height", "text", "question_id", "points")
#: the values read for them (the page's public id, never its database key)
VALUE_FIELDS = ("uid", "page__public_id", *JSON_FIELDS[2:])


def _annotation_values_json(row):
    """:func:`annotation_json` of the values of ``VALUE_FIELDS``, in that order."""
    return {**dict(zip(JSON_FIELDS, row)), "uid": str(row[0]), "points": _text(row[-1])}


def annotation_json(annotation):
    return _annotation_values_json([annotation.uid, annotation.page.public_id,
                                    *(getattr(annotation, name) for name in JSON_FIELDS[2:])])


def work_json(copy):
    """The work stored on a copy, in the shape of a draft's payload (read as values: an autosave
    of a copy with many annotations builds no model instance of them)."""
    annotations = copy.annotations.order_by("created_at", "id").values_list(*VALUE_FIELDS)
    points = copy.points.order_by("question_id").values_list("question_id", "points", "comment")
    return {
        "annotations": [_annotation_values_json(row) for row in annotations],
        "points": {question_id: {"points": _text(value), "comment": comment} for question_id, value, comment in points},
        "general_comment": copy.general_comment,
    }


def _add_comments_without_points(work, payload):
    """Question comments written before any points (kept only in the grader's draft, since a
    points row needs points) go back into the work shown, so a reload does not lose them."""
    for question_id, entry in ((payload or {}).get("points") or {}).items():
        comment = (entry or {}).get("comment") if isinstance(entry, dict) else None
        if comment and question_id not in work["points"]:
            work["points"][question_id] = {"points": None, "comment": comment}


def _rows_and_pending_comments(copy, draft, written):
    """A single write's new draft payload: the rows, plus the question comments without points the
    draft held (a single write must not drop them) and those ``written`` now."""
    work, held = work_json(copy), {}
    if draft.version > 1:  # a draft saved before may hold some (its payload is not loaded: read it now)
        previous = Draft.objects.filter(pk=draft.pk).values_list("payload", flat=True).first() or {}
        held = {question_id: entry for question_id, entry in (previous.get("points") or {}).items()
                if isinstance(entry, dict) and entry.get("points") in (None, "")}
    held.update((question_id, {"comment": comment}) for question_id, comment in written.items())
    _add_comments_without_points(work, {"points": held})
    return work


def _neighbours(exam, viewer, copy):
    queryset = visible_copies(exam, viewer).values_list("public_id", flat=True)
    previous = queryset.filter(anonymous_code__lt=copy.anonymous_code).order_by("-anonymous_code").first()
    following = queryset.filter(anonymous_code__gt=copy.anonymous_code).order_by("anonymous_code").first()
    return {"previous": previous, "next": following}


def can_edit(copy):
    return copy.grading_state in EDITABLE


def open_copy(exam, viewer, copy_id):
    """Everything the workspace shows of one copy (see docs/handlers.md), names only when allowed."""
    copy = get_copy(exam, viewer, copy_id)
    info = {
        "id": copy.public_id, "code": copy.anonymous_code, "state": copy.grading_state,
        "identity": copy.identity_state, "grader": copy.grader, "general_comment": copy.general_comment,
        "total": _text(copy.total_points), "render_error": copy.render_error,
        "graded_pdf": bool(copy.graded_pdf_name),
    }
    if not anonymity.hides_identity(exam, viewer):
        info.update(name=copy.learner_name, username=copy.learner_username)
    pages = list(copy.pages.filter(discarded=False).order_by("position", "id"))
    missing = splitting.missing_pages([page.position for page in pages if page.position], exam.pages_per_copy)
    draft = Draft.objects.filter(copy=copy, grader=viewer.username).values_list("version", "payload").first()
    work = work_json(copy)
    if draft is not None:
        _add_comments_without_points(work, draft[1])
    from viatique_xblock.grading import rubrics  # rubrics builds on this module
    for question_id, entry in rubrics.applied_by_question(copy).items():
        work["points"].setdefault(question_id, {"points": None, "comment": ""}).update(entry)
    return {
        "copy": info,
        "pages": [{"id": page.public_id, "position": page.position, "width_pt": page.width_pt,
                   "height_pt": page.height_pt} for page in pages],
        # page numbers never scanned (``[3]``: "page 3 of 4 was not scanned"), out of ``expected_pages``
        "missing_pages": missing, "expected_pages": max([exam.pages_per_copy] + [page.position or 0 for page in pages]),
        "missing_accepted": copy.missing_accepted,
        "questions": questions(exam),
        # by question id: ``{points, comment, adjustment, items}`` (``items``: the rubric items applied)
        "points": work["points"],
        "rubric": rubrics.rubric(exam),
        "annotations": work["annotations"],
        "draft": {"version": draft[0] if draft else 0},
        "neighbours": _neighbours(exam, viewer, copy),
        "lease": leases.current(exam, viewer, copy),
        "settings": {"heartbeat_seconds": conf.get("LEASE_HEARTBEAT_SECONDS"),
                     "autosave_seconds": conf.get("DRAFT_AUTOSAVE_SECONDS"),
                     "lease_ttl_seconds": conf.get("LEASE_TTL_SECONDS")},
        "can_edit": can_edit(copy),
        "is_instructor": viewer.is_instructor,
    }


# ------------------------------------------------------------------ validation

@dataclass
class Work:
    """Validated work: what a draft (or a single write) stores."""

    annotations: list = field(default_factory=list)
    points: dict = field(default_factory=dict)  # question id -> (Decimal, comment)
    general_comment: str = ""


class _Checker:
    def __init__(self, exam, copy):
        self.leaves = _leaves(exam)
        self.page_ids = None
        self.copy = copy
        self.problems = []

    def fail(self, path, message, **params):
        self.problems.append({"path": path, "message": _(message).format(**params)})

    def pages(self):
        """The copy's pages: ``{public id: database key}``."""
        if self.page_ids is None:
            self.page_ids = dict(self.copy.pages.filter(discarded=False).values_list("public_id", "pk"))
        return self.page_ids

    def text(self, raw, path, limit):
        if raw is None:
            return ""
        if not isinstance(raw, str):
            self.fail(path, N_("This must be text."))
            return ""
        if len(raw) > limit:
            self.fail(path, N_("This text is longer than {limit} characters."), limit=limit)
        return raw

    def points(self, question_id, raw, path):
        """Decimal points for a question, or None (None when absent or wrong, with a problem for the latter)."""
        if raw is None or raw == "":
            return None
        leaf = self.leaves.get(question_id)
        if leaf is None:
            self.fail(path, N_("There is no question “{id}” in the marking scheme."), id=str(question_id)[:64])
            return None
        try:
            return scheme_module.check_points(leaf, raw)
        except scheme_module.InvalidPoints as exc:
            self.problems.append({"path": path, "message": exc.message})
            return None

    def coordinate(self, raw, path):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw \
                or not -EPSILON <= raw <= 1 + EPSILON:
            self.fail(path, N_("A position or size must be a number from 0 to 1."))
            return 0.0
        return min(max(float(raw), 0.0), 1.0)

    def question(self, raw, path):
        """A question id of the scheme (a leaf), or "" for none; anything else is a problem."""
        if raw in (None, ""):
            return ""
        if not isinstance(raw, str) or raw not in self.leaves:
            self.fail(path, N_("There is no question “{id}” in the marking scheme."), id=str(raw)[:64])
            return ""
        return raw

    def annotation(self, raw, path):
        if not isinstance(raw, dict):
            self.fail(path, N_("An annotation must be an object."))
            return None
        try:
            uid = uuid.UUID(str(raw.get("uid")))
        except ValueError:
            self.fail(path + ".uid", N_("An annotation needs a uid (a UUID)."))
            return None
        page = public_ids.parse(raw.get("page_id"))
        page_id = self.pages().get(page)
        if page_id is None:
            self.fail(path + ".page_id", N_("This page is not a page of the copy."))
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            self.fail(path + ".kind", N_("Unknown kind of annotation “{kind}”."), kind=str(kind)[:20])
        box = {name: self.coordinate(raw.get(name, 0), f"{path}.{name}") for name in ("x", "y", "width", "height")}
        if box["x"] + box["width"] > 1 + EPSILON or box["y"] + box["height"] > 1 + EPSILON:
            self.fail(path, N_("The annotation goes beyond the edge of the page."))
        question_id = self.question(raw.get("question_id"), path + ".question_id")
        points = raw.get("points")
        if points not in (None, "") and not question_id:
            self.fail(path + ".points", N_("Points on an annotation need a question."))
            points = None
        return {"uid": uid, "page_id": page_id, "page": page, "kind": kind, **box,
                "text": self.text(raw.get("text"), path + ".text", MAX_TEXT), "question_id": question_id,
                "points": self.points(question_id, points, path + ".points") if question_id else None}

    def point_entry(self, question_id, raw, path):
        """``(Decimal or None, comment)`` of one entry of ``points``."""
        if not isinstance(raw, dict):
            raw = {"points": raw}
        if not isinstance(question_id, str) or question_id not in self.leaves:
            self.fail(path, N_("There is no question “{id}” in the marking scheme."), id=str(question_id)[:64])
            return None, ""
        return (self.points(question_id, raw.get("points"), path + ".points"),
                self.text(raw.get("comment"), path + ".comment", MAX_COMMENT))

    def done(self):
        if self.problems:
            raise InvalidWork(self.problems)


def validate_work(exam, copy, payload):
    """Check a draft's payload against the copy's pages and the scheme; :class:`InvalidWork` lists every fault."""
    checker = _Checker(exam, copy)
    if not isinstance(payload, dict):
        checker.fail("", N_("The work must be an object."))
        checker.done()
    work = Work()
    annotations = payload.get("annotations") or []
    if not isinstance(annotations, list) or len(annotations) > MAX_ANNOTATIONS:
        checker.fail("annotations", N_("Annotations must be a list of at most {limit}."), limit=MAX_ANNOTATIONS)
        annotations = []
    seen = set()
    for index, raw in enumerate(annotations):
        item = checker.annotation(raw, f"annotations.{index}")
        if item is not None:
            if item["uid"] in seen:
                checker.fail(f"annotations.{index}.uid", N_("Two annotations have the same uid."))
            seen.add(item["uid"])
            work.annotations.append(item)
    points = payload.get("points") or {}
    if not isinstance(points, dict):
        checker.fail("points", N_("Points must be an object keyed by question id."))
        points = {}
    for question_id, raw in points.items():
        value, comment = checker.point_entry(question_id, raw, f"points.{question_id}")
        if value is not None or comment:
            work.points[question_id] = (value, comment)
    work.general_comment = checker.text(payload.get("general_comment"), "general_comment", MAX_COMMENT)
    checker.done()
    return work


# ------------------------------------------------------------------ writing

def _write(exam, user, copy_id, fencing):
    """The copy, locked for this transaction, once the lease and the state allow a write."""
    copy = get_copy(exam, user, copy_id, lock=True, fencing=fencing)
    if not can_edit(copy):
        raise IllegalTransition(N_("This copy was finalized: an instructor must reopen it before it changes."))
    return copy


def _next_version(copy, user, expected=None):
    """The grader's draft with its version moved on; ``expected`` (a draft save) must be the current one."""
    # the payload is not read: every write replaces it (see _finish)
    draft, _created = Draft.objects.select_for_update().defer("payload").get_or_create(copy=copy,
                                                                                      grader=user.username)
    if expected is not None:
        expected = inputs.whole_number(expected)
        if expected is None:
            raise inputs.field_error(InvalidRequest, N_("The draft version must be a whole number."), "version")
        if expected != draft.version:
            raise StaleDraft(draft.version)
    draft.version += 1
    return draft


ANNOTATION_FIELDS = ("page_id", "kind", "x", "y", "width", "height", "text", "question_id", "points")


def _store_annotations(copy, items, user, replace):
    """Upsert annotations by uid, writing only new and changed ones (an autosave resends them all);
    with ``replace``, delete those not sent."""
    # (pk, uid, *ANNOTATION_FIELDS) by uid, read as values: only the changed rows become instances
    existing = {row[1]: row for row in copy.annotations.values_list("pk", "uid", *ANNOTATION_FIELDS)}
    new, changed = [], []
    now = timezone.now()
    for item in items:
        row = existing.get(item["uid"])
        fields = {name: item[name] for name in ANNOTATION_FIELDS}
        if row is None:
            new.append(Annotation(copy=copy, uid=item["uid"], author=user.username, **fields))
        elif any(stored != item[name] for name, stored in zip(ANNOTATION_FIELDS, row[2:])):
            changed.append(Annotation(pk=row[0], copy=copy, uid=row[1], updated_at=now, **fields))
    if new:
        Annotation.objects.bulk_create(new)
    if changed:
        Annotation.objects.bulk_update(changed, [*ANNOTATION_FIELDS, "updated_at"])
    if replace:
        sent = {item["uid"] for item in items}
        gone = [row[0] for uid, row in existing.items() if uid not in sent]
        if gone:
            Annotation.objects.filter(copy=copy, pk__in=gone).delete()


def _store_points(copy, points, user, replace):
    """Upsert points by question id (None points: delete); with ``replace``, delete questions not sent.

    Points typed are stored as the question's adjustment against its base and the rubric items applied
    (:mod:`viatique_xblock.grading.rubrics`), so that they are the question's points as typed; a question whose
    points are removed loses its applied items too.

    Returns ``(changes, given)``: ``{question id: [before, after]}`` for the points that changed
    (text, None for none), and the points the copy holds now by question id."""
    existing = {row.question_id: row for row in copy.points.all()}
    given = {question_id: row.points for question_id, row in existing.items()}
    changes = {}
    gone = []
    leaves = None
    for question_id, (value, comment) in points.items():
        row = existing.get(question_id)
        before = _text(row.points) if row else None
        if value is None:
            if row is not None:
                gone.append(row.pk)
                given.pop(question_id)
                changes[question_id] = [before, None]
            continue
        given[question_id] = value
        if before != _text(value):
            changes[question_id] = [before, _text(value)]
        if row is None or before != _text(value) or row.comment != comment:
            if leaves is None:
                leaves = _leaves(copy.exam)
            row = row or QuestionPoints(copy=copy, question_id=question_id)
            row.points, row.comment, row.grader = value, comment, user.username
            if before != _text(value):
                row.adjustment = value - scheme_module.base_points(leaves[question_id]) - _applied_sum(copy,
                                                                                                   question_id)
            row.save()
    if replace:
        for question_id, row in existing.items():
            if question_id not in points:
                gone.append(row.pk)
                given.pop(question_id)
                changes[question_id] = [_text(row.points), None]
    if gone:
        removed = [row.question_id for row in existing.values() if row.pk in gone]
        AppliedItem.objects.filter(copy=copy, question_id__in=removed).delete()
        QuestionPoints.objects.filter(copy=copy, pk__in=gone).delete()
    return changes, given


def _applied_sum(copy, question_id):
    """The sum of the points of the rubric items applied to one question of a copy."""
    return sum((points or 0 for points in AppliedItem.objects.filter(copy=copy, question_id=question_id)
                .values_list("item__points", flat=True)), Decimal(0))


def _total(exam, given):
    """The total of the points given to the scheme's questions, or None when none has points."""
    values = [given[question_id] for question_id in _leaves(exam) if question_id in given]
    return sum(values) if values else None


def _work_payload(work):
    """The draft's copy of validated work, as JSON."""
    return {
        "annotations": [{**{name: value for name, value in item.items() if name != "page"},
                         "uid": str(item["uid"]), "page_id": item["page"], "points": _text(item["points"])}
                        for item in work.annotations],
        "points": {question_id: {"points": _text(value), "comment": comment}
                   for question_id, (value, comment) in work.points.items()},
        "general_comment": work.general_comment,
    }


def _finish(exam, copy, user, draft, changes, context, given=None, payload=None, written=None, claim_copy=True):
    """Common end of every write: total (when points were written: ``given``), the draft (``payload``,
    else the rows and the draft's question comments without points), state ``-> in_progress``, audit.

    ``written``: ``{question id: comment without points, or None}`` of the questions a single write
    just set, whose entries follow that write rather than the previous draft. ``claim_copy`` (grading by
    copy): a copy dealt to nobody becomes the writer's; graded by question, copies are nobody's."""
    fields = ["general_comment", "updated_at"]
    if given is not None:
        copy.total_points = _total(exam, given)
        fields.append("total_points")
    if claim_copy and not copy.grader:
        # a copy dealt to nobody belongs to whoever starts it: dispatch never moves started work
        copy.grader = user.username
        fields.append("grader")
    if copy.grading_state != Grading.IN_PROGRESS:
        before = copy.grading_state
        check_grading_transition(before, Grading.IN_PROGRESS)
        copy.grading_state = Grading.IN_PROGRESS
        fields.append("grading_state")
        audit.record(exam, "copy.started", actor=user, copy=copy, details={"from": before, "grader": copy.grader},
                     **context)
    copy.save(update_fields=fields)
    if payload is None:
        payload = _rows_and_pending_comments(copy, draft, written or {})
    draft.payload = payload
    draft.save()
    if changes:
        audit.record(exam, "copy.points_changed", actor=user, copy=copy, **context,
                     details={"changes": changes, "total": _text(copy.total_points)})
    return {"version": draft.version, "saved_at": leases.iso(draft.updated_at), "total": _text(copy.total_points)}


def _context(client_ip, publish):
    return {"client_ip": client_ip, "publish": publish}


def save_draft(exam, user, copy_id, fencing, version, payload, client_ip=None, publish=None):
    """Store a whole draft (annotations, points, general comment) in one transaction.

    Returns ``{"version", "saved_at", "total"}``; :class:`StaleDraft` when ``version`` is not
    the grader's current draft version, :class:`~viatique_xblock.grading.leases.LeaseLost` when
    ``fencing`` is not the current lease's.
    """
    with transaction.atomic():
        copy = _write(exam, user, copy_id, fencing)
        work = validate_work(exam, copy, payload)
        draft = _next_version(copy, user, version)
        _store_annotations(copy, work.annotations, user, replace=True)
        changes, given = _store_points(copy, work.points, user, replace=True)
        copy.general_comment = work.general_comment
        return _finish(exam, copy, user, draft, changes, _context(client_ip, publish), given=given,
                       payload=_work_payload(work))


def save_points(exam, user, copy_id, fencing, question_id, points, comment="", client_ip=None, publish=None):
    """Points (and comment) of one question; ``points`` None or "" removes them."""
    checker = _Checker(exam, None)
    value, comment = checker.point_entry(question_id, {"points": points, "comment": comment}, "points")
    checker.done()
    with transaction.atomic():
        copy = _write(exam, user, copy_id, fencing)
        draft = _next_version(copy, user)
        changes, given = _store_points(copy, {question_id: (value, comment)}, user, replace=False)
        result = _finish(exam, copy, user, draft, changes, _context(client_ip, publish), given=given,
                         written={question_id: comment if value is None else None})
    return {"question_id": question_id, "points": _text(value), "comment": comment, "total": result["total"],
            "version": result["version"]}


def save_annotation(exam, user, copy_id, fencing, annotation, client_ip=None, publish=None):
    """Add or update (by uid) one annotation."""
    with transaction.atomic():
        copy = _write(exam, user, copy_id, fencing)
        checker = _Checker(exam, copy)
        item = checker.annotation(annotation, "annotation")
        checker.done()
        if copy.annotations.exclude(uid=item["uid"]).count() >= MAX_ANNOTATIONS:
            raise InvalidWork([{"path": "annotation", "message": _("A copy holds at most {limit} annotations.")
                                .format(limit=MAX_ANNOTATIONS)}])
        draft = _next_version(copy, user)
        _store_annotations(copy, [item], user, replace=False)
        result = _finish(exam, copy, user, draft, {}, _context(client_ip, publish))
        row = copy.annotations.select_related("page").get(uid=item["uid"])
    return {"annotation": annotation_json(row), "total": result["total"], "version": result["version"]}


def delete_annotation(exam, user, copy_id, fencing, uid, client_ip=None, publish=None):
    """Remove one annotation by uid; ``deleted`` is False when there was none."""
    try:
        uid = uuid.UUID(str(uid))
    except ValueError:
        raise InvalidRequest(N_("An annotation needs a uid (a UUID).")) from None
    with transaction.atomic():
        copy = _write(exam, user, copy_id, fencing)
        draft = _next_version(copy, user)
        deleted, _rows = Annotation.objects.filter(copy=copy, uid=uid).delete()
        result = _finish(exam, copy, user, draft, {}, _context(client_ip, publish))
    return {"deleted": bool(deleted), "total": result["total"], "version": result["version"]}


def save_comment(exam, user, copy_id, fencing, general_comment, client_ip=None, publish=None):
    """The copy's general comment."""
    checker = _Checker(exam, None)
    text = checker.text(general_comment, "general_comment", MAX_COMMENT)
    checker.done()
    with transaction.atomic():
        copy = _write(exam, user, copy_id, fencing)
        draft = _next_version(copy, user)
        copy.general_comment = text
        result = _finish(exam, copy, user, draft, {}, _context(client_ip, publish))
    return {"version": result["version"]}


# ------------------------------------------------------------------ finalize and after

def missing_questions(exam, given):
    """``[{"id", "label"}]`` of the questions without points within their bounds (``given``: by question id)."""
    missing = []
    for leaf in scheme_module.leaves(exam.scheme):
        points = given.get(leaf["id"])
        try:
            scheme_module.check_points(leaf, points)
        except scheme_module.InvalidPoints:
            missing.append({"id": leaf["id"], "label": leaf.get("label", "")})
    return missing


def _queue_render(copy_pk):
    """Queue the render task once the copy is submitted (``robust`` on_commit: a broker or, with eager
    tasks, a render that fails is logged; the copy stays ``submitted`` and
    ``manage.py viatique_render_submitted`` sends the task again)."""
    rendering.queue_renders([copy_pk])


def finalize(exam, user, copy_id, fencing, scale=None, client_ip=None, publish=None):
    """Submit a complete copy: ``in_progress``/``reopened -> submitted``, exactly once, then render its PDF.

    The copy row is locked for the transition, so of concurrent calls (from any number
    of processes) one moves the copy and the others find it ``submitted``
    (:class:`~viatique_xblock.states.IllegalTransition`). The lease is released and the
    render task queued once the transaction has committed. ``scale``: the block's grade
    scale (e.g. 20), for the PDF's summary.
    """
    with transaction.atomic():
        copy = get_copy(exam, user, copy_id, lock=True, fencing=fencing)
        check_grading_transition(copy.grading_state, Grading.SUBMITTED)
        given = dict(copy.points.values_list("question_id", "points"))
        missing = missing_questions(exam, given)
        if missing:
            raise Incomplete(missing)
        before = copy.grading_state
        copy.grading_state = Grading.SUBMITTED
        copy.total_points = _total(exam, given)
        copy.finalized_at = timezone.now()
        copy.render_error = ""
        copy.save(update_fields=["grading_state", "total_points", "finalized_at", "render_error", "updated_at"])
        audit.record(exam, "copy.finalized", actor=user, copy=copy, client_ip=client_ip, publish=publish,
                     details={"from": before, "total": _text(copy.total_points), "fencing": copy.lease_fencing,
                              "grader_name": user.full_name, "scale": scale})
        transaction.on_commit(lambda: _after_finalize(copy, fencing), robust=True)
    return {"state": copy.grading_state}


def _after_finalize(copy, fencing):
    try:
        leases.release_fencing(copy, fencing)
    except leases.LeaseUnavailable:
        pass  # it expires by itself; the copy is submitted, so nobody can write to it anyway
    _queue_render(copy.pk)


def reopen(exam, user, copy_id, client_ip=None, publish=None):
    """An instructor reopens a graded (or failed) copy for changes: ``-> reopened``; sends ``copy_reopened``."""
    if not user.is_instructor:
        raise PermissionDenied(N_("Only instructors can do this."))
    with transaction.atomic():
        copy = get_copy(exam, user, copy_id, lock=True)
        before = copy.grading_state
        check_grading_transition(before, Grading.REOPENED)
        copy.grading_state = Grading.REOPENED
        copy.save(update_fields=["grading_state", "updated_at"])
        audit.record(exam, "copy.reopened", actor=user, copy=copy, client_ip=client_ip, publish=publish,
                     details={"from": before})
    signals.copy_reopened.send(sender=Copy, copy=copy, actor=user)
    return {"state": copy.grading_state}


def retry_render(exam, user, copy_id, client_ip=None, publish=None):
    """Render a copy whose render failed again: ``render_failed -> submitted``, then queue the task."""
    with transaction.atomic():
        copy = get_copy(exam, user, copy_id, lock=True)
        check_grading_transition(copy.grading_state, Grading.SUBMITTED)
        if copy.grading_state != Grading.RENDER_FAILED:
            raise IllegalTransition(N_("Only a copy whose PDF failed can be rendered again."))
        error = copy.render_error
        copy.grading_state, copy.render_error = Grading.SUBMITTED, ""
        copy.save(update_fields=["grading_state", "render_error", "updated_at"])
        audit.record(exam, "copy.render_retried", actor=user, copy=copy, client_ip=client_ip, publish=publish,
                     details={"error": error[:500]})
        transaction.on_commit(lambda: _queue_render(copy.pk), robust=True)
    return {"state": copy.grading_state}


# ------------------------------------------------------------------ comment bank

def bank_json(item):
    return {"id": item.public_id, "text": item.text, "question_id": item.question_id,
            "points": _text(item.points)}


def comment_bank(exam):
    """The exam's reusable comments, shared by its graders, by question then text: its rubric items
    (:mod:`viatique_xblock.grading.rubrics`; the comment bank and the rubric are one thing)."""
    return [bank_json(item) for item in RubricItem.objects.filter(exam=exam).order_by("question_id", "text", "id")]


def add_bank_comment(exam, user, text, question_id="", points=None, client_ip=None, publish=None):
    """Add a comment to the exam's bank (optionally for a question, with signed points): a rubric item of the
    question (or an exam-wide one), checked and made by :func:`viatique_xblock.grading.rubrics.create_item`;
    audited."""
    from viatique_xblock.grading import rubrics  # rubrics builds on this module

    checker = _Checker(exam, None)
    text = checker.text(text, "text", MAX_TEXT).strip()
    if not text:
        checker.fail("text", N_("A comment cannot be empty."))
    checker.done()
    if RubricItem.objects.filter(exam=exam).count() >= MAX_BANK_COMMENTS:
        raise InvalidRequest(N_("The comment bank holds at most {limit} comments."), limit=MAX_BANK_COMMENTS)
    item = rubrics.create_item(exam, user, question_id, text, points, client_ip=client_ip, publish=publish)
    audit.record(exam, "bank.comment_added", actor=user, client_ip=client_ip, publish=publish,
                 details={"comment": item["id"], "question_id": question_id})
    return bank_json(RubricItem.objects.get(exam=exam, public_id=item["id"]))
