"""The scan pipeline on a real Celery worker: an upload becomes copies, and a worker killed in
the middle of a batch leaves, once a worker runs again (and, for a message Redis's transport lost with
the killed worker, once viatique_recover has run), every page once and every copy once."""
import io
import json
import re
import time

import pytest
from django.conf import settings
from django.test import override_settings

from tests.harness import make_block, upload_in_chunks
from viatique_xblock.models import Copy, Page, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.scanning import batches, booklets
from viatique_xblock.states import BatchState, UploadState
from viatique_xblock.workers import recovery

from .conftest import (RUN_TAG, Worker, celery_configured, eventually, redis_url, reserved_redis_db, scratch_dir,
                       wait_for)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = f"viatique-pipeline-{RUN_TAG}"
NODE = f"viatique-pipeline-{RUN_TAG}@%h"
PAGES_PER_TASK = 8
#: a dead worker's tasks go back to the queue 4 s after delivery, looked for every second
#: (kombu's defaults: one hour, looked for every 100 s)
TRANSPORT_OPTIONS = {"visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


@pytest.fixture(scope="module")
def broker():
    from viatique_xblock.workers.scanning import process_batch
    app = process_batch.app
    with reserved_redis_db() as db, celery_configured(app, broker_url=redis_url(db), result_backend=None,
                                                      task_always_eager=False,
                                                      broker_transport_options=TRANSPORT_OPTIONS):
        yield redis_url(db)


def pipeline_worker(broker, concurrency=1):
    """A worker on this module's queue, PAGES_PER_TASK and transport options; stopped at the end."""
    with scratch_dir("pipeline") as log_dir:
        handle = Worker(broker, log_dir / "worker.log", QUEUE, NODE, concurrency=concurrency, env={
            "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(TRANSPORT_OPTIONS),
            "VIATIQUE_SETTINGS": f'{{"PAGES_PER_TASK": {PAGES_PER_TASK}}}',
        })
        try:
            yield handle
        finally:
            handle.stop()


@pytest.fixture
def worker(broker):
    yield from pipeline_worker(broker)


@pytest.fixture(autouse=True)
def settings_for_the_web_side():
    with override_settings(VIATIQUE={**settings.VIATIQUE, "CELERY_QUEUE": QUEUE, "PAGES_PER_TASK": PAGES_PER_TASK,
                                     "UPLOAD_CHUNK_BYTES": 256 * 1024}):
        yield


def class_scan(exam, copies):
    pdf, numbers = booklets.print_booklets(exam, copies=copies, blank_pages=4)
    return synthetic.scan(pdf, upside_down=(5,)), numbers


def test_an_upload_is_assembled_validated_and_split_by_the_worker(worker):
    exam = make_block().get_exam()
    data, numbers = class_scan(exam, copies=6)
    upload = upload_in_chunks(exam, make_block(), data)
    worker.start()
    wait_for(lambda: ScanBatch.objects.filter(exam=exam, state=BatchState.DONE).exists(), 60, worker)
    upload.refresh_from_db()
    assert upload.state == UploadState.ACCEPTED
    assert Copy.objects.filter(exam=exam).count() == 6
    assert sorted(Copy.objects.filter(exam=exam).values_list("booklet_number", flat=True)) == sorted(numbers)
    assert Page.objects.filter(exam=exam, copy__isnull=True).count() == 0
    upside_down = Page.objects.get(exam=exam, source_index=5)
    assert upside_down.rotation == 180 and upside_down.position == 2


#: how long the restarted worker has to finish the batch from the messages the broker gives back
REDELIVERY_SECONDS = 45


def test_a_worker_killed_mid_batch_finishes_the_batch_once_restarted_without_duplicates(worker):
    exam = make_block().get_exam()
    data, _numbers = class_scan(exam, copies=30)
    info = batches.validate_bytes(data)  # the same validation as an upload
    worker.start()
    batch = batches.create_batch(exam, "class.pdf", info.sha256, info, io.BytesIO(data))
    wait_for(lambda: Page.objects.filter(batch=batch).exists(), 60, worker)
    worker.kill()
    batch.refresh_from_db()
    assert batch.state == BatchState.PROCESSING and 0 < Page.objects.filter(batch=batch).count() < 120, \
        "killed in the middle"
    # The killed task's message is redelivered once it has been unacknowledged longer than the
    # visibility timeout. kombu checks that when a worker starts, then only every 100 s (kombu 5.5
    # and 5.6: every tenth of its 10-second checks), so the worker comes back after the timeout, as
    # it would after a crash and a supervisor's restart.
    time.sleep(TRANSPORT_OPTIONS["visibility_timeout"] + 1)
    worker.start()
    done = lambda: ScanBatch.objects.get(pk=batch.pk).state == BatchState.DONE  # noqa: E731
    if not eventually(done, REDELIVERY_SECONDS):
        # Redis's transport loses a message when the worker dies between taking it from the queue (BRPOP)
        # and recording it as unacknowledged: nothing gives it back. What stands for it, the batch left
        # "processing", is what viatique_recover (every 15 minutes in production) queues again: the ranges
        # whose pages are missing, once. Run here as that cron would, the batch's last step counting as old.
        report = recovery.recover(stuck_after=0)
        assert report["requeued"]["batches"] == [batch.pk], report
        print(f"[pipeline worker] a message lost with the killed worker: recovery queued batch {batch.pk} again")
    wait_for(done, 90, worker)
    assert Page.objects.filter(batch=batch).count() == 120
    assert Copy.objects.filter(exam=exam).count() == 30
    for copy in Copy.objects.filter(exam=exam):
        assert sorted(Page.objects.filter(copy=copy).values_list("position", flat=True)) == [1, 2, 3, 4]
    assert Page.objects.filter(batch=batch, copy__isnull=True).count() == 0


@pytest.fixture
def two_process_worker(broker):
    yield from pipeline_worker(broker, concurrency=2)


def test_ranges_processed_by_two_worker_processes_at_once_are_assembled_exactly_once(two_process_worker):
    """A scan cut into 15 ranges, taken by the two processes of one worker as they come (nothing makes one
    wait for the other): every page once, one copy per booklet with its four pages, one assembly."""
    from viatique_xblock.models import AuditEvent

    exam = make_block().get_exam()
    data, numbers = class_scan(exam, copies=30)
    info = batches.validate_bytes(data)
    batch = batches.create_batch(exam, "class.pdf", info.sha256, info, io.BytesIO(data))
    two_process_worker.start()
    wait_for(lambda: ScanBatch.objects.get(pk=batch.pk).state == BatchState.DONE, 120, two_process_worker)
    log = two_process_worker.output().splitlines()

    def succeeded(task):
        return [line for line in log if f"Task viatique.{task}[" in line and "succeeded" in line]
    ranges = succeeded("process_range")
    assert len(ranges) == len(batches.page_ranges(120, PAGES_PER_TASK)) == 120 // PAGES_PER_TASK - 1 + 4
    assert {re.search(r"/(ForkPoolWorker-\d+)\]", line)[1] for line in ranges} == {"ForkPoolWorker-1",
                                                                                   "ForkPoolWorker-2"}
    assert len(succeeded("assemble_batch")) == 1
    assert AuditEvent.objects.filter(exam=exam, action="scan.processed").count() == 1
    assert Page.objects.filter(batch=batch).count() == 120
    assert sorted(Copy.objects.filter(exam=exam).values_list("booklet_number", flat=True)) == sorted(numbers)
    for copy in Copy.objects.filter(exam=exam):
        assert sorted(Page.objects.filter(copy=copy).values_list("position", flat=True)) == [1, 2, 3, 4]
    assert Page.objects.filter(batch=batch, copy__isnull=True).count() == 0
    assert ScanBatch.objects.get(pk=batch.pk).pages_done == 120
