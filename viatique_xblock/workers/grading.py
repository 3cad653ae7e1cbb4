"""Celery task rendering a finalized copy's graded PDF. It only calls :mod:`viatique_xblock.grading.rendering`,
which holds the logic and is idempotent (a copy is rendered only while ``submitted``).

Like the pipeline's tasks (:mod:`.scanning`): acknowledged late and redelivered when its
worker dies, retried with backoff on transient errors only (database connection,
storage I/O), sent with the soft and hard time limits of the settings (:mod:`viatique_xblock.platform.queue`).
A task that gives up, or hits its time limit, leaves the copy ``render_failed`` with the
reason, and staff may retry.
"""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from viatique_xblock.workers.scanning import COMMON, exam_id_of, monitored

log = logging.getLogger(__name__)


class RenderTask(Task):
    """Marks the copy (first argument) ``render_failed`` when the task fails for good."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from viatique_xblock.grading import rendering
        if isinstance(exc, SoftTimeLimitExceeded):
            reason = "The graded PDF took longer than the time limit to render."
        else:
            reason = rendering.failure_reason(exc)
        log.error("Viatique task %s failed on copy %s: %s", self.name, args[:1], exc)
        if args:
            rendering.mark_failed(args[0], reason)


@shared_task(name="viatique.render_graded_copy", base=RenderTask, **COMMON)
def render_graded_copy(self, copy_pk, scale=None):
    """Render and store the graded PDF of a submitted copy; returns its state afterwards."""
    from viatique_xblock.grading import rendering
    from viatique_xblock.models import Copy
    from viatique_xblock.states import Grading
    with monitored(self, copy_id=copy_pk, exam_id=exam_id_of(Copy, copy_pk)) as record:
        state = rendering.render_copy(copy_pk, scale=scale)
        if state == Grading.RENDER_FAILED:
            record["outcome"] = "render_failed"
        return state


@shared_task(name="viatique.rubric_rescore", **COMMON)
def rubric_rescore(self, rescore_pk):
    """After a living rubric edit: publish the released copies' new scores, queue their PDFs' renders."""
    from viatique_xblock.grading import rubrics
    from viatique_xblock.models import RubricRescore
    with monitored(self, exam_id=exam_id_of(RubricRescore, rescore_pk)):
        return rubrics.run_rescore(rescore_pk)


@shared_task(name="viatique.rerender_graded_copy", **COMMON)
def rerender_graded_copy(self, copy_pk, rescore_pk=None):
    """Render a graded copy's PDF again (its points changed by a living rubric item)."""
    from viatique_xblock.grading import rubrics
    from viatique_xblock.models import Copy
    with monitored(self, copy_id=copy_pk, exam_id=exam_id_of(Copy, copy_pk)):
        return rubrics.rerender(copy_pk, rescore_pk)
