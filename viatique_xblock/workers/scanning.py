"""Celery tasks of the scan pipeline. They only call :mod:`viatique_xblock.scanning.uploads` and
:mod:`viatique_xblock.scanning.batches`, which hold the logic and are idempotent.

Every task acknowledges late and is rejected (so redelivered) when its worker dies,
retries transient errors only (database connection, storage I/O, the broker unreachable when it
queues the next step) with backoff, and carries the soft and hard time limits of the settings (see
:mod:`viatique_xblock.platform.queue`). Nobody reads their results, so none is stored
(``ignore_result``: the sender does not wait on the result backend either). A task that gives up
marks its batch ``failed``, or its upload ``refused``, with the reason.

Every task records itself to the platform's monitoring (:func:`monitored`: ``viatique.task``, its ids,
``viatique.outcome``, ``viatique.duration_ms``, and ``viatique.pages`` for the steps that handle pages).
Tasks have no XBlock runtime, so they send no tracking event: what they do is in the audit trail
(``scan.processed``, ``copy.graded``, ``copy.render_failed``...), see docs/operations.md.
"""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from viatique_xblock.platform import monitoring
from viatique_xblock.platform.queue import QueueUnavailable

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError, QueueUnavailable)
COMMON = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
    "ignore_result": True,
}


def exam_id_of(model, pk):
    """The exam id of the ``model`` row ``pk`` (for monitoring; None when there is no such row)."""
    try:
        return model.objects.filter(pk=pk).values_list("exam_id", flat=True).first()
    except Exception:  # noqa: BLE001 - the task itself will meet and report a database outage
        return None


def monitored(task, **ids):
    """:func:`viatique_xblock.platform.monitoring.transaction` for one run of ``task``: ``viatique.task``
    (its name), the ids given (``exam_id``, ``batch_id``...), its outcome and duration."""
    return monitoring.transaction(task=task.name, **ids)


def retried_or_redelivered(task):
    """Whether this run of ``task`` follows an earlier one of the same message: a retry, or the
    redelivery of a message whose worker died (so the work it claimed is this run's to take over)."""
    request = task.request
    return bool(request.retries or (request.delivery_info or {}).get("redelivered"))


class BatchTask(Task):
    """Marks the batch (first argument) failed when the task fails for good."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from viatique_xblock.scanning import batches
        if isinstance(exc, SoftTimeLimitExceeded):
            code, message = "processing_timeout", "Processing took longer than the time limit."
        else:
            code, message = "processing_failed", f"{type(exc).__name__}: {exc}"
        log.error("Viatique task %s failed on batch %s: %s", self.name, args[:1], exc)
        if args:
            batches.fail_batch(args[0], code, message)


class UploadTask(Task):
    """Marks the upload (first argument) ``refused`` when its assembly fails for good: an upload never
    stays ``assembling``, and its chunks leave the storage."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from viatique_xblock.scanning import uploads
        log.error("Viatique task %s failed on upload %s: %s", self.name, args[:1], exc)
        if args:
            uploads.fail(args[0], timeout=isinstance(exc, SoftTimeLimitExceeded))


@shared_task(name="viatique.assemble_upload", base=UploadTask, **COMMON)
def assemble_upload(self, upload_pk):
    """Join an upload's chunks, validate the file and create its batch (or record the refusal)."""
    from viatique_xblock.models import UploadSession
    from viatique_xblock.scanning import uploads
    with monitored(self, upload_id=upload_pk, exam_id=exam_id_of(UploadSession, upload_pk)) as record:
        batch = uploads.assemble(upload_pk)
        record["batch_id"] = batch.pk if batch else None
        return batch.pk if batch else None


@shared_task(name="viatique.process_batch", base=BatchTask, **COMMON)
def process_batch(self, batch_pk):
    from viatique_xblock.models import ScanBatch
    from viatique_xblock.scanning import batches
    with monitored(self, batch_id=batch_pk, exam_id=exam_id_of(ScanBatch, batch_pk)) as record:
        ranges = batches.process_batch(batch_pk)
        record["ranges"] = len(ranges)
        return ranges


@shared_task(name="viatique.process_range", base=BatchTask, **COMMON)
def process_range(self, batch_pk, start, stop):
    from viatique_xblock.models import ScanBatch
    from viatique_xblock.scanning import batches
    with monitored(self, batch_id=batch_pk, exam_id=exam_id_of(ScanBatch, batch_pk), range_start=start,
                   range_stop=stop) as record:
        pages = batches.process_range(batch_pk, start, stop)
        record["pages"] = pages
        return pages


@shared_task(name="viatique.assemble_batch", base=BatchTask, **COMMON)
def assemble_batch(self, batch_pk):
    from viatique_xblock.models import Page, ScanBatch
    from viatique_xblock.scanning import batches
    with monitored(self, batch_id=batch_pk, exam_id=exam_id_of(ScanBatch, batch_pk)) as record:
        batches.assemble_batch(batch_pk)
        record["pages"] = Page.objects.filter(batch_id=batch_pk).count()
