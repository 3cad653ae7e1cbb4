"""Celery tasks of the scan pipeline. They only call :mod:`viatique_xblock.scanning.uploads` and
:mod:`viatique_xblock.scanning.batches`, which hold the logic and are idempotent.

Every task acknowledges late and is rejected (so redelivered) when its worker dies,
retries transient errors only (database connection, storage I/O) with backoff,
and carries the soft and hard time limits of the settings (see :mod:`viatique_xblock.platform.queue`).
A task that gives up marks its batch ``failed`` with the reason.
"""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
COMMON = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


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


@shared_task(name="viatique.assemble_upload", **COMMON)
def assemble_upload(self, upload_pk):
    """Join an upload's chunks, validate the file and create its batch (or record the refusal)."""
    from viatique_xblock.scanning import uploads
    batch = uploads.assemble(upload_pk)
    return batch.pk if batch else None


@shared_task(name="viatique.process_batch", base=BatchTask, **COMMON)
def process_batch(self, batch_pk):
    from viatique_xblock.scanning import batches
    return batches.process_batch(batch_pk)


@shared_task(name="viatique.process_range", base=BatchTask, **COMMON)
def process_range(self, batch_pk, start, stop):
    from viatique_xblock.scanning import batches
    return batches.process_range(batch_pk, start, stop)


@shared_task(name="viatique.assemble_batch", base=BatchTask, **COMMON)
def assemble_batch(self, batch_pk):
    from viatique_xblock.scanning import batches
    return batches.assemble_batch(batch_pk)
