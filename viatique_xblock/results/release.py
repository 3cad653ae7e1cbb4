"""Release of an exam's results to the platform's gradebook, and their withdrawal.

Scores reach the LMS as a problem's do: through the platform's grade signal
(:func:`compat.publish_grade <viatique_xblock.platform.compat.publish_grade>`), which stores the raw
points as floats on the learner's courseware StudentModule for the block's usage key; the LMS
then weights them with the block's ``weight`` (None: the raw points count as they are, the
scheme's total as possible). Nothing is scaled here: a copy graded 16 on a scheme of 20 is sent
as 16.0 / 20.0, and with a weight of 1 counts 0.8 of 1 point in its subsection.

- :func:`release` publishes the score of every copy that is graded AND identified;
  ``Copy.published_points`` records the total that was sent. Ungraded and unidentified
  copies publish nothing.
- :func:`unrelease` withdraws every published score (the StudentModule keeps no total: the
  LMS counts the exam as an unattempted problem, 0 of its maximum) and clears
  ``published_points``.
- Signals of the grading domain keep the gradebook right between the two: a copy re-scored by a
  living rubric item (:data:`~viatique_xblock.signals.copy_rescored`) has its new total published; a copy
  reopened (:data:`~viatique_xblock.signals.copy_reopened`) has its published score
  withdrawn; a copy graded (:data:`~viatique_xblock.signals.copy_graded`) while results
  are released has its new score published (a regrade reaches the gradebook).

Outside the LMS (the workbench) there is no gradebook: the release happens all the same
(learners see their copies, ``published_points`` is kept) and nothing is sent.

Earlier versions published through edx-submissions, whose scores the LMS takes as already
weighted and ranks before every other score of the block. A copy still holding such a
submission (``Copy.submission_uuid``) has that score reset, and the uuid cleared, the next time
its score is published or withdrawn; :func:`republish` (the ``viatique_republish_grades``
command) does it at once for every released exam. edx-submissions is used for nothing else.
"""
import logging

from django.db import transaction
from django.db.models import Count, Q
from django.dispatch import receiver
from django.utils import timezone

from viatique_xblock import audit, scheme as scheme_module, signals
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy, Exam
from viatique_xblock.platform import compat
from viatique_xblock.states import Grading, Identity

log = logging.getLogger(__name__)


class AlreadyReleased(ViatiqueError):
    code = "already_released"
    status = 409


class NotReleased(ViatiqueError):
    code = "not_released"
    status = 409


def _submissions():
    from submissions import api  # legacy scores only; imported when a copy still has one
    return api


def possible_points(exam):
    """The raw points possible sent with every score of ``exam``: its scheme's total."""
    return scheme_module.total(exam.scheme)


def publishable(exam):
    """The copies whose score goes to the gradebook on release: graded and identified."""
    return Copy.objects.filter(exam=exam, grading_state=Grading.GRADED, identity_state=Identity.IDENTIFIED,
                               learner_anonymous_id__isnull=False, total_points__isnull=False)


def release_summary(exam):
    """What a release would do, for its confirmation: counts of copies (one query)."""
    graded = Q(grading_state=Grading.GRADED)
    identified = Q(identity_state=Identity.IDENTIFIED)
    counts = Copy.objects.filter(exam=exam).aggregate(
        total=Count("id"),
        graded=Count("id", filter=graded & identified),
        graded_unidentified=Count("id", filter=graded & ~identified),
        ungraded=Count("id", filter=~graded),
        unidentified=Count("id", filter=~identified),
        published=Count("id", filter=Q(published_points__isnull=False)),
    )
    counts["released"] = exam.released_at is not None
    counts["released_at"] = exam.released_at.isoformat() if exam.released_at else None
    return counts


def forget_legacy_score(copy):
    """Reset the edx-submissions score an earlier version sent for this copy, and forget its submission.

    The LMS ranks a block's submissions score before its StudentModule score, so left in place it
    would hide every score sent since. The score reset is the one of the submission's own student
    item (the learner it was sent for). Returns whether the copy had one; the caller saves the copy.
    """
    if not copy.submission_uuid:
        return False
    api = _submissions()
    try:
        stored = api.get_submission_and_student(copy.submission_uuid)
    except api.SubmissionNotFoundError:
        stored = None
    if stored:
        item = stored["student_item"]
        # no signal: the score sent next through the grade signal has the LMS recompute the grade
        api.reset_score(item["student_id"], item["course_id"], item["item_id"], emit_signal=False)
    copy.submission_uuid = ""
    return True


def publish_copy(exam, copy, possible=None, points=None):
    """Send one graded, identified copy's total to the gradebook as raw points; returns whether a
    gradebook received it. ``possible``: :func:`possible_points`, when the caller has it; ``points``:
    the points to send, the copy's total unless given."""
    possible = possible_points(exam) if possible is None else possible
    points = copy.total_points if points is None else points
    legacy = forget_legacy_score(copy)
    delivered = compat.publish_grade(exam.usage_key, exam.weight, copy.learner_anonymous_id,
                                     float(points), float(possible))
    copy.published_points = points
    copy.save(update_fields=["published_points", "updated_at"] + (["submission_uuid"] if legacy else []))
    return delivered


def withdraw_copy(exam, copy):
    """Take one copy's published score back from the gradebook; returns whether a gradebook received it."""
    legacy = forget_legacy_score(copy)
    delivered = bool(copy.learner_anonymous_id) and compat.withdraw_grade(exam.usage_key, exam.weight,
                                                                           copy.learner_anonymous_id)
    copy.published_points = None
    copy.save(update_fields=["published_points", "updated_at"] + (["submission_uuid"] if legacy else []))
    return delivered


def _sent(exam, possible):
    """The audit details of what a score carries besides the copy's points."""
    return {"possible": str(scheme_module.plain_number(possible)), "weight": exam.weight}


def _locked_exam(exam):
    return Exam.objects.select_for_update().get(pk=exam.pk)


def release(exam, actor, client_ip=None, publish=None):
    """Release an exam's results: learners see their graded copies, scores go to the gradebook.

    Returns :func:`release_summary` after the release. One transaction: a failure leaves
    nothing released and no score stored (the LMS keeps scores in the platform's database).
    """
    with transaction.atomic():
        locked = _locked_exam(exam)
        if locked.released_at:
            raise AlreadyReleased(N_("Results are already released."))
        possible = possible_points(locked)
        published = delivered = 0
        for copy in publishable(exam).order_by("pk"):
            delivered += publish_copy(locked, copy, possible)
            published += 1
        exam.released_at = locked.released_at = timezone.now()
        locked.save(update_fields=["released_at", "updated_at"])
        summary = release_summary(exam)
        audit.record(exam, "results.released", actor=actor, client_ip=client_ip, publish=publish,
                     details={"published": published, "delivered": delivered, "graded": summary["graded"],
                              "ungraded": summary["ungraded"], "unidentified": summary["unidentified"],
                              **_sent(locked, possible)})
    return summary


def unrelease(exam, actor, client_ip=None, publish=None):
    """Take the results back: every published score is withdrawn and learners no longer see their copies."""
    with transaction.atomic():
        locked = _locked_exam(exam)
        if not locked.released_at:
            raise NotReleased(N_("Results are not released."))
        withdrawn = delivered = 0
        for copy in Copy.objects.filter(exam=exam, published_points__isnull=False).order_by("pk"):
            delivered += withdraw_copy(locked, copy)
            withdrawn += 1
        exam.released_at = locked.released_at = None
        locked.save(update_fields=["released_at", "updated_at"])
        audit.record(exam, "results.unreleased", actor=actor, client_ip=client_ip, publish=publish,
                     details={"withdrawn": withdrawn, "delivered": delivered})
    return release_summary(exam)


def republish(exam, publish=None):
    """Send every published score of ``exam`` again through the grade signal (operators upgrading from
    a version that published through edx-submissions), and reset every score such a version left.

    The points sent are the ones recorded (``published_points``); copies of an exam not released
    publish nothing, and only lose their legacy score. Returns ``{"republished", "delivered",
    "legacy_reset"}``; audited as ``results.republished`` when it did anything.
    """
    with transaction.atomic():
        locked = _locked_exam(exam)
        possible = possible_points(locked)
        counts = {"republished": 0, "delivered": 0, "legacy_reset": 0}
        wanted = ~Q(submission_uuid="")
        if locked.released_at:
            wanted |= Q(published_points__isnull=False)
        for copy in Copy.objects.filter(wanted, exam=locked).order_by("pk"):
            counts["legacy_reset"] += bool(copy.submission_uuid)
            if locked.released_at and copy.published_points is not None:
                counts["delivered"] += publish_copy(locked, copy, possible, points=copy.published_points)
                counts["republished"] += 1
            elif forget_legacy_score(copy):
                copy.save(update_fields=["submission_uuid", "updated_at"])
        if counts["republished"] or counts["legacy_reset"]:
            audit.record(locked, "results.republished", publish=publish,
                         details={**counts, **_sent(locked, possible), "by": "operator"})
    return counts


# ------------------------------------------------------------------ signals of the grading domain

def _fresh(copy):
    return Copy.objects.select_related("exam").get(pk=copy.pk)


@receiver(signals.copy_reopened, dispatch_uid="viatique.release.copy_reopened")
def withdraw_reopened(sender, copy, actor=None, **kwargs):
    """A reopened copy's score leaves the gradebook until the copy is graded again."""
    copy = _fresh(copy)
    if copy.published_points is None:
        return
    with transaction.atomic():
        points = copy.published_points
        delivered = withdraw_copy(copy.exam, copy)
        audit.record(copy.exam, "results.score_withdrawn", actor=actor, copy=copy,
                     details={"points": str(scheme_module.plain_number(points)), "delivered": delivered,
                              **_sent(copy.exam, possible_points(copy.exam))})


@receiver(signals.copy_graded, dispatch_uid="viatique.release.copy_graded")
def publish_regraded(sender, copy, actor=None, **kwargs):
    """A copy graded while results are released (a regrade) has its new score published."""
    copy = _fresh(copy)
    exam = copy.exam
    if not exam.released_at or not publishable(exam).filter(pk=copy.pk).exists():
        return
    with transaction.atomic():
        possible = possible_points(exam)
        delivered = publish_copy(exam, copy, possible)
        audit.record(exam, "results.score_published", actor=actor, copy=copy,
                     details={"points": str(scheme_module.plain_number(copy.published_points)),
                              "delivered": delivered, **_sent(exam, possible)})


@receiver(signals.copy_rescored, dispatch_uid="viatique.release.copy_rescored")
def publish_rescored(sender, copy, actor=None, **kwargs):
    """A graded copy re-scored by a living rubric edit: its new total is published when it is released and
    differs from the one the gradebook holds. Returns whether it was published."""
    with transaction.atomic():
        copy = Copy.objects.select_for_update().select_related("exam").get(pk=copy.pk)
        exam = copy.exam
        if not exam.released_at or copy.published_points is None or copy.published_points == copy.total_points \
                or not publishable(exam).filter(pk=copy.pk).exists():
            return False
        possible = possible_points(exam)
        before = copy.published_points
        delivered = publish_copy(exam, copy, possible)
        audit.record(exam, "results.score_published", actor=actor, copy=copy,
                     details={"points": str(scheme_module.plain_number(copy.published_points)),
                              "before": str(scheme_module.plain_number(before)), "reason": "rubric",
                              "delivered": delivered, **_sent(exam, possible)})
    return True
