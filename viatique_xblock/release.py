"""Release of an exam's results to the platform's gradebook, and their withdrawal.

Scores reach the LMS through edx-submissions (``submissions.api``), keyed by the
learner's anonymous id and the block's usage key (``item_type`` ``"viatique"``):

- :func:`release` publishes the score of every copy that is graded AND identified:
  one submission per learner and block (created once, its uuid kept on
  ``Copy.submission_uuid``, reused by every later release), then ``set_score``;
  ``Copy.published_points`` records the total that was sent. Ungraded and
  unidentified copies publish nothing.
- :func:`unrelease` calls ``reset_score`` for every published copy and clears
  ``published_points``.
- Signals of the grading domain keep the gradebook right between the two: a copy
  reopened (:data:`~viatique_xblock.signals.copy_reopened`) has its published score
  withdrawn; a copy graded (:data:`~viatique_xblock.signals.copy_graded`) while
  results are released has its new score published (a regrade reaches the gradebook).

edx-submissions keeps whole points only (``PositiveIntegerField``), so earned and
possible points are both multiplied by :func:`points_factor` (the smallest whole
number making every maximum and step of the scheme whole, e.g. 4 for steps of 0.25):
the fraction the gradebook computes is exactly the copy's.
"""
import logging
import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db import transaction
from django.db.models import Count, Q
from django.dispatch import receiver
from django.utils import timezone

from . import audit, scheme as scheme_module, signals
from .errors import ViatiqueError
from .i18n import N_
from .models import Copy, Exam
from .states import Grading, Identity

log = logging.getLogger(__name__)

ITEM_TYPE = "viatique"


class AlreadyReleased(ViatiqueError):
    code = "already_released"
    status = 409


class NotReleased(ViatiqueError):
    code = "not_released"
    status = 409


def _submissions():
    from submissions import api  # the platform's app (and the demo host's): imported when used
    return api


def student_item(exam, anonymous_id):
    """The edx-submissions student item of a learner for this block."""
    return {"student_id": anonymous_id, "course_id": exam.course_key, "item_id": exam.usage_key,
            "item_type": ITEM_TYPE}


def points_factor(scheme):
    """The smallest whole number that makes every maximum and step of ``scheme`` whole (1 for whole points)."""
    factor = 1
    for leaf in scheme_module.leaves(scheme):
        for key in ("max", "step"):
            value = leaf.get(key)
            if value not in (None, ""):
                factor = math.lcm(factor, Fraction(str(value)).denominator)
    return factor


def _whole(points, factor):
    return int((Decimal(points) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


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


def _submission_uuid(exam, copy):
    """The learner's submission for this block: the one kept on the copy when it is the learner's, else
    an existing one of theirs, else a new one."""
    api = _submissions()
    item = student_item(exam, copy.learner_anonymous_id)
    if copy.submission_uuid:
        try:
            stored = api.get_submission_and_student(copy.submission_uuid)
        except api.SubmissionNotFoundError:
            stored = None
        if stored and stored["student_item"]["student_id"] == copy.learner_anonymous_id \
                and stored["student_item"]["item_id"] == exam.usage_key:
            return copy.submission_uuid
    existing = api.get_submissions(item, limit=1)
    if existing:
        return str(existing[0]["uuid"])
    return str(api.create_submission(item, {"viatique_copy": copy.pk})["uuid"])


def publish_copy(exam, copy):
    """Send one graded, identified copy's total to the gradebook; returns the points sent."""
    factor = points_factor(exam.scheme)
    uuid = _submission_uuid(exam, copy)
    maximum = scheme_module.total(exam.scheme)
    _submissions().set_score(uuid, _whole(copy.total_points, factor), _whole(maximum, factor))
    copy.submission_uuid = uuid
    copy.published_points = copy.total_points
    copy.save(update_fields=["submission_uuid", "published_points", "updated_at"])
    return copy.published_points


def withdraw_copy(exam, copy):
    """Take one copy's published score back from the gradebook (``reset_score``)."""
    if copy.learner_anonymous_id:
        _submissions().reset_score(copy.learner_anonymous_id, exam.course_key, exam.usage_key)
    copy.published_points = None
    copy.save(update_fields=["published_points", "updated_at"])


def _locked_exam(exam):
    return Exam.objects.select_for_update().get(pk=exam.pk)


def release(exam, actor, client_ip=None, publish=None):
    """Release an exam's results: learners see their graded copies, scores go to the gradebook.

    Returns :func:`release_summary` after the release. One transaction: a failure leaves
    nothing released and no score sent (edx-submissions shares the platform's database).
    """
    with transaction.atomic():
        locked = _locked_exam(exam)
        if locked.released_at:
            raise AlreadyReleased(N_("Results are already released."))
        published = 0
        for copy in publishable(exam).order_by("pk"):
            publish_copy(exam, copy)
            published += 1
        exam.released_at = locked.released_at = timezone.now()
        locked.save(update_fields=["released_at", "updated_at"])
        summary = release_summary(exam)
        audit.record(exam, "results.released", actor=actor, client_ip=client_ip, publish=publish,
                     details={"published": published, "graded": summary["graded"],
                              "ungraded": summary["ungraded"], "unidentified": summary["unidentified"],
                              "points_factor": points_factor(exam.scheme)})
    return summary


def unrelease(exam, actor, client_ip=None, publish=None):
    """Take the results back: every published score is reset and learners no longer see their copies."""
    with transaction.atomic():
        locked = _locked_exam(exam)
        if not locked.released_at:
            raise NotReleased(N_("Results are not released."))
        withdrawn = 0
        for copy in Copy.objects.filter(exam=exam, published_points__isnull=False).order_by("pk"):
            withdraw_copy(exam, copy)
            withdrawn += 1
        exam.released_at = locked.released_at = None
        locked.save(update_fields=["released_at", "updated_at"])
        audit.record(exam, "results.unreleased", actor=actor, client_ip=client_ip, publish=publish,
                     details={"withdrawn": withdrawn})
    return release_summary(exam)


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
        withdraw_copy(copy.exam, copy)
        audit.record(copy.exam, "results.score_withdrawn", actor=actor, copy=copy,
                     details={"points": str(scheme_module.plain_number(points))})


@receiver(signals.copy_graded, dispatch_uid="viatique.release.copy_graded")
def publish_regraded(sender, copy, actor=None, **kwargs):
    """A copy graded while results are released (a regrade) has its new score published."""
    copy = _fresh(copy)
    exam = copy.exam
    if not exam.released_at or not publishable(exam).filter(pk=copy.pk).exists():
        return
    with transaction.atomic():
        points = publish_copy(exam, copy)
        audit.record(exam, "results.score_published", actor=actor, copy=copy,
                     details={"points": str(scheme_module.plain_number(points))})
