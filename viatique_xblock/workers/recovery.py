"""Recovery: work that a lost message, a dead worker or an unreachable broker left waiting is queued
again, and abandoned uploads are removed with their chunks.

:func:`recover` is what the periodic task ``viatique.recover`` (for platforms that run celery beat,
see docs/operations.md) and the command ``viatique_recover`` run. Each stage's module says what
"stuck" means for its work and sends it again (every task it sends is idempotent, and runs once
however many times it is sent), and audits what it did under the exam (``recovery.*`` events):

- uploads ``assembling`` (:func:`viatique_xblock.scanning.uploads.stuck`): ``viatique.assemble_upload``;
- batches ``queued``, ``processing`` or ``assembling`` whose last step is old
  (:func:`viatique_xblock.scanning.batches.stuck`): the step they wait for, only the ranges whose
  pages are missing;
- copies ``submitted`` without their graded PDF (:func:`viatique_xblock.grading.rendering.stuck_renders`):
  ``viatique.render_graded_copy``;
- export jobs ``queued``, or ``running`` since longer than ``TASK_TIME_LIMIT`` (their task died)
  (:func:`viatique_xblock.reports.exports.stuck_jobs`): ``viatique.build_export_zip`` for a ZIP of
  graded PDFs, the exam archive's task for an archive export or import;
- uploads ``open`` whose last chunk arrived longer than ``ABANDONED_UPLOAD_SECONDS`` ago: removed
  (:func:`viatique_xblock.scanning.uploads.remove_abandoned`).

"Stuck" is "last step older than ``RECOVER_AFTER_SECONDS``". When the broker cannot be reached, the
run stops sending (what it could not send stays as it was, for the next run) and says so; removals
need no broker and go on.
"""
import datetime
import logging

from celery import shared_task
from django.utils import timezone

from viatique_xblock.grading import rendering
from viatique_xblock.platform import conf, monitoring
from viatique_xblock.platform.queue import QueueUnavailable
from viatique_xblock.reports import exports
from viatique_xblock.scanning import batches, uploads

log = logging.getLogger(__name__)


def _ago(now, seconds):
    return now - datetime.timedelta(seconds=seconds)


def recover(dry_run=False, stuck_after=None, abandoned_after=None, now=None):
    """Queue stuck work again and remove abandoned uploads; returns what was (or, with ``dry_run``,
    would be) done::

        {"requeued": {"uploads": [public ids], "batches": [ids], "copies": [ids], "exports": [public ids]},
         "removed": {"uploads": [public ids]}, "queue_unavailable": bool, "dry_run": bool}

    ``stuck_after`` and ``abandoned_after`` (seconds) default to ``RECOVER_AFTER_SECONDS`` and
    ``ABANDONED_UPLOAD_SECONDS``.
    """
    now = now or timezone.now()
    stuck_after = conf.get("RECOVER_AFTER_SECONDS") if stuck_after is None else stuck_after
    abandoned_after = conf.get("ABANDONED_UPLOAD_SECONDS") if abandoned_after is None else abandoned_after
    before = _ago(now, stuck_after)
    # a running export's task may run up to its hard time limit: only then is it surely dead
    running_before = _ago(now, max(stuck_after, conf.get("TASK_TIME_LIMIT")))
    kinds = (
        ("uploads", uploads.stuck(before), lambda upload: str(upload.public_id), uploads.requeue),
        ("batches", batches.stuck(before), lambda batch: batch.pk, batches.requeue),
        ("copies", rendering.stuck_renders(before), lambda copy: copy.pk, rendering.requeue_render),
        ("exports", exports.stuck_jobs(before, running_before), lambda job: str(job.public_id), exports.requeue_job),
    )
    report = {"requeued": {name: [] for name, *_rest in kinds}, "removed": {"uploads": []},
              "queue_unavailable": False, "dry_run": bool(dry_run)}
    for name, items, key, requeue in kinds:
        for item in items:
            if report["queue_unavailable"]:
                break
            if dry_run:
                report["requeued"][name].append(key(item))
                continue
            try:
                if requeue(item):
                    report["requeued"][name].append(key(item))
            except QueueUnavailable:
                log.warning("Viatique recovery: the broker cannot be reached; stuck work is left for the next run")
                report["queue_unavailable"] = True
    for upload in uploads.abandoned(_ago(now, abandoned_after)):
        if dry_run or uploads.remove_abandoned(upload):
            report["removed"]["uploads"].append(str(upload.public_id))
    if any(report["requeued"].values()) or report["removed"]["uploads"]:
        log.info("Viatique recovery%s: %s", " (dry run)" if dry_run else "", report)
    return report


@shared_task(name="viatique.recover", ignore_result=True)
def recover_task():
    """The periodic recovery (celery beat): :func:`recover` with the settings."""
    with monitoring.transaction(task=recover_task.name) as record:
        report = recover()
        record["requeued"] = sum(len(items) for items in report["requeued"].values())
        record["removed"] = len(report["removed"]["uploads"])
        if report["queue_unavailable"]:
            record["outcome"] = "queue_unavailable"
        return report
