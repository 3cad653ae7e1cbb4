"""Celery tasks of reports: the ZIP of graded PDFs of an export job (:func:`viatique_xblock.reports.exports.build_zip`),
the exam archive's export and import (:mod:`viatique_xblock.reports.archive_jobs`), and the booklets printed
from the dashboard (:mod:`viatique_xblock.scanning.booklet_jobs`), export jobs too.

Same conventions as :mod:`.scanning`: acknowledged late and redelivered when its worker
dies, transient errors retried with backoff, the time limits of the settings (given by
:func:`viatique_xblock.platform.queue.send`), idempotent and exclusive (a task builds the job it
claims from ``queued``; a finished job is left alone; a retried or redelivered task takes its
``running`` job over and writes the same storage name again). A task that gives up marks its job ``failed``.
"""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from viatique_xblock.workers.scanning import COMMON, exam_id_of, monitored, retried_or_redelivered

log = logging.getLogger(__name__)


class ExportTask(Task):
    """Marks the export job (first argument) failed when the task fails for good."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from viatique_xblock.reports import exports
        log.error("Viatique task %s failed on export job %s: %s", self.name, args[:1], exc)
        if args:
            if isinstance(exc, SoftTimeLimitExceeded):
                exports.fail_job(args[0], exports.ERROR_TIMEOUT)
            else:  # the kind of failure only: the exception's text (in the log above) may name server paths
                exports.fail_job(args[0], exports.ERROR_FAILED, type(exc).__name__)


@shared_task(name="viatique.build_export_zip", base=ExportTask, **COMMON)
def build_export_zip(self, job_pk):
    """Build the job's ZIP if this task claims it (a job already ``running`` is another task's, unless
    this run is a retry or a redelivery of the task that claimed it)."""
    from viatique_xblock.models import ExportJob
    from viatique_xblock.reports import exports
    with monitored(self, job_id=job_pk, exam_id=exam_id_of(ExportJob, job_pk)) as record:
        saved = exports.build_zip(job_pk, takeover=retried_or_redelivered(self))
        if not saved:
            record["outcome"] = "skipped"  # another task builds it, or it is over
        return saved


@shared_task(name="viatique.build_exam_archive", base=ExportTask, **COMMON)
def build_exam_archive(self, job_pk):
    """Build an exam archive export job's ZIP (:func:`viatique_xblock.reports.archive_jobs.build_archive`)."""
    from viatique_xblock.models import ExportJob
    from viatique_xblock.reports import archive_jobs
    with monitored(self, job_id=job_pk, exam_id=exam_id_of(ExportJob, job_pk)):
        return archive_jobs.build_archive(job_pk, takeover=retried_or_redelivered(self))


@shared_task(name="viatique.import_exam_archive", base=ExportTask, **COMMON)
def import_exam_archive(self, job_pk):
    """Import an uploaded exam archive (:func:`viatique_xblock.reports.archive_jobs.run_import`)."""
    from viatique_xblock.models import ExportJob
    from viatique_xblock.reports import archive_jobs
    with monitored(self, job_id=job_pk, exam_id=exam_id_of(ExportJob, job_pk)):
        archive_jobs.run_import(job_pk, takeover=retried_or_redelivered(self))


@shared_task(name="viatique.print_booklets", base=ExportTask, **COMMON)
def print_booklets(self, job_pk):
    """Make the PDF of a print run from the dashboard (:func:`viatique_xblock.scanning.booklet_jobs.build`);
    an export job like the others, so it fails, is recovered and purged the same way."""
    from viatique_xblock.models import ExportJob
    from viatique_xblock.scanning import booklet_jobs
    with monitored(self, job_id=job_pk, exam_id=exam_id_of(ExportJob, job_pk)):
        return booklet_jobs.build(job_pk, takeover=retried_or_redelivered(self))
