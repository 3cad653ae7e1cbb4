"""Regrade requests: a learner asks for one question of their released copy to be looked at again.

- :func:`request_regrade`: the learner, on their own graded copy, within the block's
  regrade window after release (``regrade_window_days``; 0: no regrades), for one
  question of the scheme, with a message. While a change of the marking scheme has the
  copy graded or rendered again (its published score still shown, :func:`waits_for_new_grade`),
  requests wait for the new grade: refused with a message that says so, and the learner's
  view shows that message instead of the form. One open request per question: the
  ``open_question`` column holds the question id while the request is open (a unique
  index with the copy), NULL once answered.
- :func:`open_requests`: what staff answer: instructors see every open request of the
  exam, a grader those of the copies dealt to them. Names only when the viewer may see
  them (:func:`~viatique_xblock.identity.anonymity.hides_identity`).
- :func:`answer`: staff answer a request; ``reopen`` also reopens the copy through the
  grading domain (:func:`viatique_xblock.grading.workspace.reopen`, instructors only), so it is
  graded and finalized again; once graded, the new score reaches the gradebook
  (:mod:`.release`).

Every request and answer is audited (``regrade.requested``, ``regrade.answered``).
"""
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from viatique_xblock import audit, inputs, scheme as scheme_module
from viatique_xblock.errors import InvalidRequest, NotFound, ObjectNotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.identity import anonymity
from viatique_xblock.models import Copy, QuestionPoints, RegradeRequest
from viatique_xblock.platform import conf
from viatique_xblock.states import Grading, GradingMode

MAX_MESSAGE = 2000


class RegradeClosed(ViatiqueError):
    """No regrade can be asked now: results not released, no window, or the window is over."""

    code = "regrade_closed"
    status = 409


class RegradeAlreadyOpen(ViatiqueError):
    code = "regrade_open"
    status = 409


class NoCopy(NotFound):
    """The learner has no copy in this exam (their own situation, not a probe)."""

    code = "no_copy"


def window_end(exam, window_days):
    """When regrade requests close (None when there is no window or results are not released)."""
    if not exam.released_at or not window_days:
        return None
    return exam.released_at + timedelta(days=int(window_days))


def is_open(exam, window_days, now=None):
    end = window_end(exam, window_days)
    return end is not None and (now or timezone.now()) < end


def waits_for_new_grade(exam, copy):
    """Whether ``copy``'s published score is shown while the copy is graded or rendered again (a change of
    the marking scheme reopened it or changed its total): regrade requests wait for its new grade."""
    return bool(exam.released_at) and copy.published_result is not None and copy.grading_state != Grading.GRADED


def _text(raw, limit, name):
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidRequest(N_("Write a message."), field=name)
    if len(raw) > limit:
        raise InvalidRequest(N_("This text is longer than {limit} characters."), limit=limit)
    return raw.strip()


def own_copy(exam, learner):
    """The learner's own copy of this exam (looked up by their anonymous id only), or :class:`NoCopy`."""
    copy = None
    if learner.anonymous_id:
        copy = Copy.objects.filter(exam=exam, learner_anonymous_id=learner.anonymous_id).first()
    if copy is None:
        raise NoCopy(N_("No copy of yours has been received for this exam yet."))
    return copy


def _number(value):
    return None if value is None else str(scheme_module.plain_number(value))


def request_json(item, show_grader=False):
    """A request as its learner sees it (who answered only when the course shows grader identities)."""
    body = {"id": item.pk, "question_id": item.question_id, "message": item.message, "state": item.state,
            "answer": item.answer, "created_at": item.created_at.isoformat(),
            "answered_at": item.answered_at.isoformat() if item.answered_at else None,
            "points_before": _number(item.points_before)}
    if show_grader:
        body["answered_by"] = item.answered_by
    return body


def learner_requests(copy):
    """Every request of a copy, newest first, as its learner sees them."""
    show = conf.get("SHOW_GRADER_IDENTITY")
    return [request_json(item, show) for item in copy.regrade_requests.order_by("-created_at", "-id")]


def request_regrade(exam, learner, window_days, question_id, message, client_ip=None, publish=None):
    """A learner asks for a regrade of one question of their own released, graded copy."""
    copy = own_copy(exam, learner)
    if waits_for_new_grade(exam, copy):
        raise RegradeClosed(N_("Your copy is being updated after a change of the marking scheme. You can ask for "
                               "a regrade once its new grade is published."))
    if not exam.released_at or copy.grading_state != Grading.GRADED:
        raise RegradeClosed(N_("Regrade requests open once your graded copy is released."))
    if not window_days:
        raise RegradeClosed(N_("This exam takes no regrade requests."))
    if not is_open(exam, window_days):
        raise RegradeClosed(N_("The time for regrade requests is over."))
    leaves = {leaf["id"]: leaf for leaf in scheme_module.leaves(exam.scheme)}
    if not isinstance(question_id, str) or question_id not in leaves:  # a list or object: 400, not a 500
        raise InvalidRequest(N_("Choose a question of the marking scheme."), field="question_id")
    message = _text(message, MAX_MESSAGE, "message")
    before = QuestionPoints.objects.filter(copy=copy, question_id=question_id).values_list("points", flat=True).first()
    try:
        with transaction.atomic():
            item = RegradeRequest.objects.create(copy=copy, question_id=question_id, open_question=question_id,
                                                 message=message, points_before=before)
            audit.record(exam, "regrade.requested", actor=learner, copy=copy, client_ip=client_ip,
                         publish=publish, details={"request": item.pk, "question_id": question_id})
    except IntegrityError:
        raise RegradeAlreadyOpen(N_("You already asked for a regrade of this question; wait for the answer.")) \
            from None
    return request_json(item)


def _visible(exam, viewer):
    queryset = RegradeRequest.objects.filter(copy__exam=exam)
    if not viewer.is_instructor:
        queryset = queryset.filter(copy__grader=viewer.username)
    return queryset


def open_requests(exam, viewer):
    """The open requests staff answer, oldest first, with the question and the points it has now."""
    labels = {leaf["id"]: leaf.get("label", "") for leaf in scheme_module.leaves(exam.scheme)}
    show_names = not anonymity.hides_identity(exam, viewer)
    items = list(_visible(exam, viewer).filter(state=RegradeRequest.OPEN).select_related("copy")
                 .order_by("created_at", "id")[:500])
    points = {(row.copy_id, row.question_id): row for row in
              QuestionPoints.objects.filter(copy_id__in={item.copy_id for item in items})}
    rows = []
    for item in items:
        current = points.get((item.copy_id, item.question_id))
        row = {"id": item.pk, "copy_id": item.copy.public_id, "code": item.copy.anonymous_code,
               "copy_state": item.copy.grading_state, "grader": item.copy.grader,
               "question_id": item.question_id, "question": labels.get(item.question_id, item.question_id),
               "points": _number(current.points if current else None),
               "message": item.message, "created_at": item.created_at.isoformat()}
        if show_names:
            row.update(name=item.copy.learner_name, username=item.copy.learner_username)
        rows.append(row)
    return rows


def answer(exam, viewer, request_id, text, reopen=False, client_ip=None, publish=None):
    """Staff answer an open request (``reopen``: also reopen the copy, instructors only); audited."""
    from viatique_xblock.grading import answers, workspace

    text = _text(text, MAX_MESSAGE, "answer")
    pk = inputs.parse_id(request_id)
    with transaction.atomic():
        item = _visible(exam, viewer).select_for_update().select_related("copy").filter(pk=pk).first()
        if item is None:
            raise ObjectNotFound(N_("This regrade request does not exist."))
        if item.state != RegradeRequest.OPEN:
            raise RegradeClosed(N_("This regrade request was already answered."))
        if reopen and exam.grading_mode == GradingMode.BY_QUESTION:
            # graded by question, only the request's question goes back to grading
            answers.reopen_question(exam, viewer, item.copy.public_id, item.question_id, client_ip=client_ip,
                                    publish=publish)
        elif reopen:
            workspace.reopen(exam, viewer, item.copy.public_id, client_ip=client_ip, publish=publish)
        item.state, item.open_question = RegradeRequest.ANSWERED, None
        item.answer, item.answered_by, item.answered_at = text, viewer.username, timezone.now()
        item.save(update_fields=["state", "open_question", "answer", "answered_by", "answered_at"])
        audit.record(exam, "regrade.answered", actor=viewer, copy=item.copy_id, client_ip=client_ip,
                     publish=publish, details={"request": item.pk, "question_id": item.question_id,
                                               "reopened": bool(reopen)})
    return {"id": item.pk, "state": item.state, "reopened": bool(reopen)}
