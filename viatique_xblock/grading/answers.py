"""Grading by question (public API): the unit of work is an *answer*, one leaf question of one copy.

Used when the exam's ``grading_mode`` is ``by_question`` (:data:`BY_QUESTION`; ``by_copy`` exams are
graded whole copy by whole copy through :mod:`viatique_xblock.grading.workspace`). What it adds to the
workspace's rules (docs/grading.md, "Grading by question"):

- **Leases per answer.** An answer's lease is the copy's lease generalised
  (:mod:`viatique_xblock.grading.leases` with ``question_id``: the same Redis scripts, key
  ``viatique:lease:<copy>:<question>``), its fencing number :attr:`~viatique_xblock.models.Answer.lease_fencing`.
  Two graders on two questions of one copy never wait for each other's lease; on one answer, one at a time.
- **Claiming.** :func:`next_answer` gives a grader the next ungraded answer to a question among those dealt to
  them or to nobody, by taking its lease: Redis grants a lease once, so two graders asking at once never get
  the same answer.
- **Writes** (:func:`save_answer`, :func:`mark_no_answer`) lock the copy row, then the answer's, check the
  answer's fencing, the grader's draft version (``stale_draft``) and the copy's state, and store the
  question's points, comment and annotations (every annotation takes the question's id) and, when sent, the
  copy's general comment. ``done`` grades the answer; the write that grades the copy's last answer moves the
  copy to ``submitted`` and queues its render, once: the copy row lock makes concurrent last answers queue,
  and only the one that finds every answer graded submits.
- **Reopening one question** (:func:`reopen_question`, instructors; regrade requests) sends only that answer
  back to grading; a graded copy becomes ``reopened`` (its published score withdrawn) and is rendered and
  published again when its answers are all graded again.
"""
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
from django.utils import timezone

from viatique_xblock import audit, public_ids, question_layout, signals
from viatique_xblock.errors import AccessDenied, InvalidRequest, ObjectNotFound, PermissionDenied, ViatiqueError
from viatique_xblock.grading import leases, workspace
from viatique_xblock.i18n import N_
from viatique_xblock.identity import anonymity
from viatique_xblock.models import AppliedItem, Answer, Copy, Draft, QuestionPoints
from viatique_xblock.platform import conf
from viatique_xblock.scanning import splitting
from viatique_xblock.states import Grading, GradingMode, IllegalTransition, check_grading_transition

BY_COPY = GradingMode.BY_COPY
BY_QUESTION = GradingMode.BY_QUESTION
#: a copy in these states has all its work done (its answers count as graded)
FINISHED = (Grading.SUBMITTED, Grading.GRADED, Grading.RENDER_FAILED)
#: how many candidate answers :func:`next_answer` looks at per cache round trip
BATCH = 40
#: how many candidates' ids :func:`next_answer` reads at once (and counts, for ``remaining``, without a query
#: of its own when there are fewer)
LISTED = 1000
#: an argument not given: a field ``save_answer`` was not sent, a row ``answer_json`` has to read itself
MISSING = object()


class WrongGradingMode(ViatiqueError):
    """The handler belongs to the other grading mode than the exam's."""

    code = "wrong_grading_mode"
    status = 409

    def __init__(self, mode):
        self.mode = mode
        if mode == BY_QUESTION:
            super().__init__(N_("This exam is graded by question: open the questions' answers, not whole copies."))
        else:
            super().__init__(N_("This exam is graded by copy: open whole copies, not questions."))

    def extra(self):
        return {"mode": self.mode}


def require_mode(exam, mode):
    """Refuse (:class:`WrongGradingMode`) unless ``exam`` is graded in ``mode``."""
    if exam.grading_mode != mode:
        raise WrongGradingMode(exam.grading_mode)


# ------------------------------------------------------------------ lookups

def question(exam, question_id):
    """The leaf question ``question_id`` of the scheme, as :func:`workspace.questions` gives it, with its
    ``layout`` (pages and optional box, or None); 400 ``invalid_request`` otherwise."""
    if isinstance(question_id, str):
        for row in workspace.questions(exam):
            if row["id"] == question_id:
                return row
    error = InvalidRequest(N_("There is no question “{id}” in the marking scheme."), id=str(question_id)[:64])
    error.field = "question_id"
    raise error


def layout(exam, question_id):
    """The question's layout as the marking scheme stores it (``{"pages": [...], "box"?}``), or None
    (the whole copy; also for an id that is no leaf question)."""
    return question_layout.layouts(exam.scheme).get(question_id)


def question_pages(exam, question_id, expected_pages):
    """The page numbers where the answer is: the layout's, else every page of the copy."""
    return question_layout.effective(layout(exam, question_id), expected_pages)["pages"]


def _copy(exam, copy_id, lock=False):
    queryset = Copy.objects.filter(exam=exam, public_id=workspace.copy_key(copy_id))
    if lock:
        queryset = queryset.select_for_update()
    copy = queryset.first()
    if copy is None:
        raise ObjectNotFound(N_("This copy does not exist."))
    copy.exam = exam
    return copy


def _check_dealt(viewer, answer):
    """Graders work on the answers dealt to them or to nobody; instructors on all."""
    if answer is not None and not viewer.is_instructor and answer.grader not in ("", viewer.username):
        raise AccessDenied(N_("This answer was given to another grader."))


def candidates(exam, viewer, question_id):
    """The copies whose answer to ``question_id`` ``viewer`` may take and nobody graded, in the order
    :func:`next_answer` offers them: dealt to the viewer, then to nobody, by code; those the viewer
    skipped last."""
    answers = Answer.objects.filter(copy=OuterRef("pk"), question_id=question_id)
    queryset = (Copy.objects.filter(exam=exam, grading_state__in=workspace.EDITABLE)
                .exclude(Exists(answers.filter(state=Answer.GRADED)))
                .exclude(Exists(answers.exclude(grader__in=[viewer.username, ""]))))
    return queryset.annotate(
        mine=Case(When(Exists(answers.filter(grader=viewer.username)), then=Value(0)), default=Value(1),
                  output_field=IntegerField()),
        skipped=Case(When(Exists(answers.filter(skipped_by=viewer.username)), then=Value(1)), default=Value(0),
                     output_field=IntegerField()),
    ).order_by("skipped", "mine", "anonymous_code")


# ------------------------------------------------------------------ reading

def _draft(copy, viewer):
    return Draft.objects.filter(copy=copy, grader=viewer.username).values_list("version", "payload").first()


def _grader(exam, viewer, row, field):
    """A grader's username as ``viewer`` may see it (under ``HIDE_GRADER_IDENTITIES``, "Grader N" for another
    grader, as leases show them)."""
    name = getattr(row, field, "") if row is not None else ""
    if not name or viewer.is_instructor or name == viewer.username or not conf.get("HIDE_GRADER_IDENTITIES"):
        return name
    return leases.holder_label(exam, viewer, {"user": name})


def answer_json(exam, viewer, copy, question_row, lease=None, held_by=None, remaining=None, row=MISSING):
    """Everything the workspace shows of one answer (docs/handlers.md, "Grading by question"); ``row``: its
    :class:`Answer` (or None) when the caller read it already."""
    question_id = question_row["id"]
    if row is MISSING:
        row = Answer.objects.filter(copy=copy, question_id=question_id).first()
    info = {"id": copy.public_id, "code": copy.anonymous_code, "state": copy.grading_state,
            "general_comment": copy.general_comment, "total": workspace._text(copy.total_points)}
    if not anonymity.hides_identity(exam, viewer):
        info.update(name=copy.learner_name, username=copy.learner_username)
    pages = list(copy.pages.filter(discarded=False).order_by("position", "id"))
    positions = [page.position for page in pages if page.position]
    missing = splitting.missing_pages(positions, exam.pages_per_copy)
    expected = max([exam.pages_per_copy] + [page.position or 0 for page in pages])
    wanted = question_pages(exam, question_id, expected)
    points = QuestionPoints.objects.filter(copy=copy, question_id=question_id).first()
    draft = _draft(copy, viewer)
    comment = points.comment if points else ""
    if points is None and draft is not None:  # a comment written before any points, kept in the draft
        entry = ((draft[1] or {}).get("points") or {}).get(question_id)
        if isinstance(entry, dict):
            comment = entry.get("comment") or ""
    annotations = (copy.annotations.filter(question_id=question_id).order_by("created_at", "id")
                   .values_list(*workspace.VALUE_FIELDS))
    if remaining is None:
        remaining = candidates(exam, viewer, question_id).count()
    from viatique_xblock.grading import rubrics  # rubrics builds on this module
    applied = rubrics.question_json(copy, question_id, points)
    return {
        "copy": info,
        "question": {name: question_row[name] for name in ("id", "label", "path", "max", "step")},
        # the question's rubric: ``{"scoring", "groups", "items"}``, and the items usable on any question
        "rubric": rubrics.question_rubric(exam, question_id),
        "answer": {"state": row.state if row else Answer.OPEN,
                   "points": workspace._text(points.points) if points else None, "comment": comment,
                   "adjustment": applied["adjustment"], "items": applied["items"],
                   "no_answer": bool(points and points.no_answer), "grader": _grader(exam, viewer, row, "grader"),
                   "graded_by": _grader(exam, viewer, row, "graded_by")},
        "annotations": [workspace._annotation_values_json(item) for item in annotations],
        "pages": [{"id": page.public_id, "position": page.position, "width_pt": page.width_pt,
                   "height_pt": page.height_pt} for page in pages],
        "question_pages": wanted,
        "layout": layout(exam, question_id),
        "page_missing": any(page in missing or page not in positions for page in wanted),
        "missing_pages": missing, "expected_pages": expected,
        "lease": lease.as_json() if lease is not None else None,
        "held_by": held_by,
        "draft": {"version": draft[0] if draft else 0},
        "can_edit": workspace.can_edit(copy),
        "remaining": remaining,
        "settings": {"heartbeat_seconds": conf.get("LEASE_HEARTBEAT_SECONDS"),
                     "autosave_seconds": conf.get("DRAFT_AUTOSAVE_SECONDS"),
                     "lease_ttl_seconds": conf.get("LEASE_TTL_SECONDS")},
    }


def _still_open(exam, copy_pk, question_id):
    """The answer's row with its copy, read again after taking the answer's lease, when the copy can still
    change and the answer is not graded; else None. (Its lease made the row: it exists.)"""
    answer = Answer.objects.select_related("copy").filter(copy_id=copy_pk, question_id=question_id).first()
    if answer is None or answer.state == Answer.GRADED or answer.copy.grading_state not in workspace.EDITABLE:
        return None
    answer.copy.exam = exam
    return answer


def next_answer(exam, viewer, question_id, client_ip=None, publish=None):
    """Claim the next ungraded answer to ``question_id`` for ``viewer``: ``(answer json, remaining)``, the
    answer None when none is free (``remaining``: how many are left, held by other graders right now).

    A grader who already holds the lease of an ungraded answer to the question gets it back (a reload).
    Each candidate's lease is tried in turn (the cache's leases of a batch read in one round trip first):
    Redis grants a lease once, so of graders asking at once each gets a different answer.
    """
    require_mode(exam, BY_QUESTION)
    row = question(exam, question_id)
    queryset = candidates(exam, viewer, question_id)
    store = leases.store()
    # the candidates' ids in one query (ids only: cheap), which also counts them for ``remaining`` but for the
    # largest classes, where the count is its own query
    listed = list(queryset.values_list("pk", flat=True)[:LISTED])
    remaining = len(listed) if len(listed) < LISTED else queryset.count()
    offset = 0
    while True:
        keys = listed[offset:offset + BATCH] if offset < len(listed) else \
            list(queryset.values_list("pk", flat=True)[offset:offset + BATCH])
        if not keys:
            return None, queryset.count()
        held = leases._guarded(store.get_many, [leases.subject(pk, question_id) for pk in keys])
        mine = [pk for pk in keys if (held.get(leases.subject(pk, question_id)) or {}).get("user") == viewer.username]
        free = [pk for pk in keys if leases.subject(pk, question_id) not in held]
        for pk in mine + free:
            copy = Copy.objects.get(pk=pk)
            copy.exam = exam
            lease = leases.try_acquire(copy, viewer, client_ip, publish, question_id)
            if not isinstance(lease, leases.Lease):
                continue  # taken a moment ago by another grader
            answer = _still_open(exam, pk, question_id)
            if answer is None:  # graded and released between the query and the lease
                leases.release_lease(copy, lease.token, question_id)
                continue
            return answer_json(exam, viewer, answer.copy, row, lease=lease, remaining=remaining, row=answer), None
        offset += BATCH


def open_answer(exam, viewer, copy_id, question_id, take_lease=True, client_ip=None, publish=None):
    """One answer (a previous one, a link of the dashboard): with ``take_lease`` its lease is taken when it
    is free and the copy can change; else ``held_by`` says who holds it."""
    require_mode(exam, BY_QUESTION)
    row = question(exam, question_id)
    copy = _copy(exam, copy_id)
    _check_dealt(viewer, Answer.objects.filter(copy=copy, question_id=question_id).first())
    lease = held_by = None
    if take_lease and workspace.can_edit(copy):
        taken = leases.try_acquire(copy, viewer, client_ip, publish, question_id)
        if isinstance(taken, leases.Lease):
            lease = taken
        else:
            held_by = leases._holder_json(exam, viewer, taken)
    else:
        held_by = leases.current(exam, viewer, copy, question_id)
        if held_by is not None and not take_lease:
            mine = leases._guarded(leases.store().get, leases.subject(copy.pk, question_id))
            if mine and mine["user"] == viewer.username:
                held_by = None
    return answer_json(exam, viewer, copy, row, lease=lease, held_by=held_by)


def renew(exam, copy_id, question_id, token):
    """The heartbeat of an answer's lease: its new expiry, or :class:`~.leases.LeaseLost`."""
    require_mode(exam, BY_QUESTION)
    question(exam, question_id)
    return leases.renew_lease(workspace.lease_copy(exam, copy_id), token, question_id)


def release(exam, copy_id, question_id, token):
    """Give an answer's lease back; True when it was released."""
    question(exam, question_id)
    return leases.release_lease(workspace.lease_copy(exam, copy_id), token, question_id)


def skip(exam, viewer, copy_id, question_id, token):
    """Leave an answer for later: its lease is released and the grader's :func:`next_answer` gives the
    others first."""
    require_mode(exam, BY_QUESTION)
    question(exam, question_id)
    copy = workspace.lease_copy(exam, copy_id)
    released = leases.release_lease(copy, token, question_id)
    Answer.objects.filter(copy=copy, question_id=question_id).update(skipped_by=viewer.username)
    return {"skipped": True, "released": released}


def force_release(exam, actor, copy_id, question_id, client_ip=None, publish=None):
    """An instructor frees an answer's lease (audited ``lease.forced`` with the question)."""
    if not actor.is_instructor:
        raise PermissionDenied(N_("Only instructors can do this."))
    question(exam, question_id)
    return leases.force_release(_copy(exam, copy_id), actor, client_ip, publish, question_id)


# ------------------------------------------------------------------ writing

def _question_annotations(exam, copy, question_id, raw, checker):
    """The validated annotations of one question (each takes the question's id); an annotation of another
    question (by uid) is a problem."""
    if not isinstance(raw, list) or len(raw) > workspace.MAX_ANNOTATIONS:
        checker.fail("annotations", N_("Annotations must be a list of at most {limit}."),
                     limit=workspace.MAX_ANNOTATIONS)
        return []
    others = set(copy.annotations.exclude(question_id=question_id).values_list("uid", flat=True))
    items, seen = [], set()
    for index, entry in enumerate(raw):
        if isinstance(entry, dict):
            entry = {**entry, "question_id": question_id}
        item = checker.annotation(entry, f"annotations.{index}")
        if item is None:
            continue
        if item["uid"] in seen:
            checker.fail(f"annotations.{index}.uid", N_("Two annotations have the same uid."))
        elif item["uid"] in others:
            checker.fail(f"annotations.{index}.uid", N_("This annotation belongs to another question."))
        seen.add(item["uid"])
        items.append(item)
    if len(items) + len(others) > workspace.MAX_ANNOTATIONS:
        checker.fail("annotations", N_("A copy holds at most {limit} annotations."), limit=workspace.MAX_ANNOTATIONS)
    return items


def _store_annotations(copy, question_id, items, user):
    """Upsert the question's annotations by uid and delete those of the question not sent."""
    workspace._store_annotations(copy, items, user, replace=False)
    sent = {item["uid"] for item in items}
    copy.annotations.filter(question_id=question_id).exclude(uid__in=sent).delete()


def _pending_comments(draft, question_id, comment):
    """The grader's draft of a copy graded by question: only the question comments written before their
    points (a points row needs points), as ``{"points": {question id: {"points": None, "comment"}}}``, the
    shape :func:`workspace.open_copy` and :func:`answer_json` read; the work itself is in the rows."""
    held = {}
    if draft.version > 1:  # a draft saved before may hold some (its payload is not loaded: read it now)
        previous = Draft.objects.filter(pk=draft.pk).values_list("payload", flat=True).first() or {}
        held = {key: entry for key, entry in (previous.get("points") or {}).items()
                if isinstance(entry, dict) and entry.get("points") in (None, "") and entry.get("comment")}
    if comment:
        held[question_id] = {"points": None, "comment": comment}
    else:
        held.pop(question_id, None)
    return {"points": held}


def _was_no_answer(changes, question_id, copy, value):
    """Whether the question's points row was marked "no answer" before this write (only a row of 0 points can
    be: a row new or of other points is not, without a query)."""
    before = changes[question_id][0] if question_id in changes else workspace._text(value)
    if before != "0":
        return False
    return QuestionPoints.objects.filter(copy=copy, question_id=question_id, no_answer=True).exists()


def _complete(exam, copy):
    """Every leaf question of the copy has a graded answer with points within bounds."""
    leaves = [row["id"] for row in workspace.questions(exam)]
    # a locking read: the latest committed answers, whatever the transaction's isolation level
    graded = set(Answer.objects.select_for_update().filter(copy=copy, state=Answer.GRADED, question_id__in=leaves)
                 .values_list("question_id", flat=True))
    if graded != set(leaves):
        return False
    given = dict(copy.points.values_list("question_id", "points"))
    return not workspace.missing_questions(exam, given)


def _submit(exam, copy, user, scale, context):
    """The copy's last answer was graded: ``-> submitted`` and its render queued after commit (the caller
    holds the copy row lock, so this runs once whatever the number of concurrent last answers)."""
    before = copy.grading_state
    check_grading_transition(before, Grading.SUBMITTED)
    given = dict(copy.points.values_list("question_id", "points"))
    copy.grading_state = Grading.SUBMITTED
    copy.total_points = workspace._total(exam, given)
    copy.finalized_at = timezone.now()
    copy.render_error = ""
    copy.save(update_fields=["grading_state", "total_points", "finalized_at", "render_error", "updated_at"])
    audit.record(exam, "copy.finalized", actor=user, copy=copy, **context,
                 details={"from": before, "total": workspace._text(copy.total_points), "mode": BY_QUESTION,
                          "grader_name": user.full_name, "scale": scale})
    copy_pk = copy.pk
    transaction.on_commit(lambda: workspace._queue_render(copy_pk), robust=True)


def save_answer(exam, user, copy_id, question_id, fencing, version, points=None, comment="",
                annotations=MISSING, general_comment=MISSING, done=False, no_answer=False, scale=None,
                client_ip=None, publish=None):
    """Store the work on one answer under its lease (see the module's docstring); ``done`` grades it.

    Returns ``{"version", "saved_at", "total", "answer": {...}, "copy_state", "finalized"}``.
    """
    require_mode(exam, BY_QUESTION)
    row = question(exam, question_id)
    checker = workspace._Checker(exam, None)
    value, comment = checker.point_entry(question_id, {"points": points, "comment": comment}, "points")
    text = MISSING if general_comment is MISSING else checker.text(general_comment, "general_comment",
                                                                    workspace.MAX_COMMENT)
    checker.done()
    if no_answer:
        value = Decimal(0)
    context = {"client_ip": client_ip, "publish": publish}
    with transaction.atomic():
        copy = _copy(exam, copy_id, lock=True)
        answer = Answer.objects.select_for_update().filter(copy=copy, question_id=question_id).first()
        if answer is None:  # no lease was ever granted on it
            raise leases.LeaseLost(leases.LOST_MESSAGE)
        leases.check_write(copy, fencing, user, answer)
        _check_dealt(user, answer)
        if not workspace.can_edit(copy):
            raise IllegalTransition(N_("This copy was finalized: an instructor must reopen the question first."))
        items = None
        if annotations is not MISSING:
            checker = workspace._Checker(exam, copy)
            items = _question_annotations(exam, copy, question_id, annotations, checker)
            checker.done()
        if done and value is None:
            raise workspace.Incomplete([{"id": question_id, "label": row["label"]}])
        draft = workspace._next_version(copy, user, version)
        if items is not None:
            _store_annotations(copy, question_id, items, user)
        if no_answer:  # nothing to grade: its rubric items go with the points they gave (the learner sees 0)
            AppliedItem.objects.filter(copy=copy, question_id=question_id).delete()
        changes, given = workspace._store_points(copy, {question_id: (value, comment)}, user, replace=False)
        if value is not None and (no_answer or _was_no_answer(changes, question_id, copy, value)):
            QuestionPoints.objects.filter(copy=copy, question_id=question_id).update(no_answer=bool(no_answer))
        if text is not MISSING:
            copy.general_comment = text
        result = workspace._finish(exam, copy, user, draft, changes, context, given=given, claim_copy=False,
                                   payload=_pending_comments(draft, question_id, None if value is not None else comment))
        finalized = False
        if done:
            answer.state, answer.graded_by, answer.graded_at = Answer.GRADED, user.username, timezone.now()
            answer.save(update_fields=["state", "graded_by", "graded_at", "updated_at"])
            audit.record(exam, "answer.graded", actor=user, copy=copy, **context,
                         details={"question_id": question_id, "points": workspace._text(value),
                                  "no_answer": bool(no_answer)})
            if _complete(exam, copy):
                _submit(exam, copy, user, scale, context)
                finalized = True
            number = answer.lease_fencing
            transaction.on_commit(lambda: _release_after_grading(copy, number, question_id), robust=True)
    return {"version": result["version"], "saved_at": result["saved_at"], "total": workspace._text(copy.total_points),
            "answer": {"state": answer.state, "points": workspace._text(value), "comment": comment,
                       "no_answer": bool(no_answer) and value is not None},
            "copy_state": copy.grading_state, "finalized": finalized}


def _release_after_grading(copy, fencing, question_id):
    try:
        leases.release_fencing(copy, fencing, question_id)
    except leases.LeaseUnavailable:
        pass  # it expires by itself; a graded answer is not offered again anyway


def mark_no_answer(exam, user, copy_id, question_id, fencing, version, scale=None, client_ip=None, publish=None):
    """Grade an answer as "no answer" (nothing written, or its page never scanned): 0 points, stated to the
    learner; the question's comment stays as it was."""
    existing = QuestionPoints.objects.filter(copy__exam=exam, copy__public_id=public_ids.parse(copy_id),
                                             question_id=question_id).values_list("comment", flat=True).first()
    return save_answer(exam, user, copy_id, question_id, fencing, version, points=0, comment=existing or "",
                       done=True, no_answer=True, scale=scale, client_ip=client_ip, publish=publish)


# ------------------------------------------------------------------ reopening one question

def _rows_of_a_copy_graded_whole(copy, exam):
    """A copy finished before its exam was graded by question has no answers: they are all graded."""
    leaves = [row["id"] for row in workspace.questions(exam)]
    existing = set(Answer.objects.filter(copy=copy).values_list("question_id", flat=True))
    Answer.objects.bulk_create([Answer(copy=copy, question_id=leaf, state=Answer.GRADED, graded_by=copy.grader,
                                       graded_at=copy.finalized_at) for leaf in leaves if leaf not in existing],
                               ignore_conflicts=True)


def reopen_question(exam, user, copy_id, question_id, client_ip=None, publish=None):
    """An instructor sends one graded answer back to grading; a finished copy becomes ``reopened``
    (``copy_reopened`` sent: a published score is withdrawn until the copy is graded again)."""
    if not user.is_instructor:
        raise PermissionDenied(N_("Only instructors can do this."))
    require_mode(exam, BY_QUESTION)
    question(exam, question_id)
    with transaction.atomic():
        copy = _copy(exam, copy_id, lock=True)
        if copy.grading_state == Grading.SUBMITTED:
            raise IllegalTransition(N_("This copy's PDF is being made: reopen the question in a moment."))
        if copy.grading_state in FINISHED:
            _rows_of_a_copy_graded_whole(copy, exam)
        answer = Answer.objects.select_for_update().filter(copy=copy, question_id=question_id).first()
        if answer is None or answer.state != Answer.GRADED:
            raise IllegalTransition(N_("This question is not graded yet: there is nothing to reopen."))
        answer.state = Answer.OPEN
        answer.save(update_fields=["state", "updated_at"])
        before = copy.grading_state
        if before in FINISHED:
            check_grading_transition(before, Grading.REOPENED)
            copy.grading_state = Grading.REOPENED
            copy.save(update_fields=["grading_state", "updated_at"])
        audit.record(exam, "copy.question_reopened", actor=user, copy=copy, client_ip=client_ip, publish=publish,
                     details={"question_id": question_id, "from": before})
    if before in FINISHED:
        signals.copy_reopened.send(sender=Copy, copy=copy, actor=user)
    return {"state": copy.grading_state, "answer_state": answer.state}

