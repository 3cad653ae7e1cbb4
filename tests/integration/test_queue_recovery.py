"""The broker down, then back, with a real Celery worker (subprocess) on a Redis broker of its own.

``upload_finish`` and ``export_zip`` called while the broker cannot be reached (this process's Celery
app pointed at a Redis URL on a port nothing listens on, for the broker and the result backend: Redis
down) answer 503 ``queue_unavailable`` and leave their work waiting; called again once the broker is
there, they complete it, once. ``viatique_recover`` sends the work a lost message left waiting to the
worker, which finishes it.
"""
import datetime
import hashlib
import io
import json
import time

import pymupdf
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from tests.harness import call, make_block
from viatique_xblock.models import AuditEvent, Copy, ExportJob, ScanBatch, UploadSession
from viatique_xblock.platform import storage
from viatique_xblock.scanning import uploads
from viatique_xblock.states import BatchState, Grading, Identity, UploadState

from .conftest import RUN_TAG, Worker, celery_configured, free_port, redis_url, reserved_redis_db, scratch_dir

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = f"viatique-recovery-{RUN_TAG}"
NODE = f"viatique-recovery-{RUN_TAG}@%h"
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def broker_db():
    with reserved_redis_db() as db:
        yield db


@pytest.fixture
def worker(broker_db):
    with scratch_dir("recovery") as log_dir:
        handle = Worker(redis_url(broker_db), log_dir / "worker.log", QUEUE, NODE)
        try:
            yield handle
        finally:
            handle.stop()


@pytest.fixture(autouse=True)
def settings_for_the_web_side():
    with override_settings(VIATIQUE={**settings.VIATIQUE, "CELERY_QUEUE": QUEUE, "UPLOAD_CHUNK_BYTES": CHUNK}):
        yield


def app():
    from viatique_xblock.workers.scanning import process_batch
    return process_batch.app


def broker_down():
    """This process's Celery app on a Redis that does not answer (a port nothing listens on)."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    return celery_configured(app(), broker_url=nowhere, result_backend=nowhere, task_always_eager=False)


def broker_back(broker_db):
    return celery_configured(app(), broker_url=redis_url(broker_db), result_backend=None, task_always_eager=False)


def wait_for(condition, worker, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, worker.output()[-4000:]
        time.sleep(0.05)


def plain_scan(pages=4):
    doc = pymupdf.open()
    for number in range(pages):
        doc.new_page(width=595, height=842).insert_text((72, 72), f"Copie {RUN_TAG}, page {number + 1}")
    return doc.tobytes()


def send_chunks(block, data):
    status, started = call(block, "upload_start", {"file_name": "scan.pdf", "size": len(data)})
    assert status == 200, started
    upload = uploads.get(block.get_exam(), started["upload_id"])
    for index in range(upload.chunk_count):
        uploads.put_chunk(upload, index, data[index * CHUNK:(index + 1) * CHUNK])
    return started["upload_id"]


def graded_copies(exam, count=2):
    for number in range(count):
        name = storage.overwrite(storage.file_name("graded", exam.pk, f"recovery-{RUN_TAG}-{number}.pdf"),
                                 b"%PDF-1.7 graded " + bytes(str(number), "ascii"))
        Copy.objects.create(exam=exam, anonymous_code=f"R{number:04d}", grading_state=Grading.GRADED,
                            identity_state=Identity.UNIDENTIFIED, graded_pdf_name=name)


def test_finish_and_export_with_the_broker_down_answer_503_and_complete_when_called_again(worker, broker_db):
    block = make_block()
    exam = block.get_exam()
    data = plain_scan()
    upload_id = send_chunks(block, data)
    graded_copies(exam)
    finish = {"upload_id": upload_id, "sha256": hashlib.sha256(data).hexdigest()}

    with broker_down():
        status, body = call(block, "upload_finish", finish)
        assert (status, body["error"]) == (503, "queue_unavailable"), body
        assert body["message"]
        status, export = call(block, "export_zip", {"naming": "code"})
        assert (status, export["error"]) == (503, "queue_unavailable"), export
    # what was asked is kept, waiting for a send
    upload = UploadSession.objects.get(public_id=upload_id)
    assert upload.state == UploadState.ASSEMBLING
    (job,) = ExportJob.objects.filter(exam=exam)
    assert job.state == "queued"

    worker.start()
    with broker_back(broker_db):
        status, body = call(block, "upload_finish", {"upload_id": upload_id})  # as the page does, again
        assert status == 200 and body["state"] in (UploadState.ASSEMBLING, UploadState.ACCEPTED), body
        status, again = call(block, "export_zip", {"naming": "code"})
        assert status == 200 and again["id"] == str(job.public_id), again
        wait_for(lambda: ScanBatch.objects.filter(exam=exam, state=BatchState.DONE).exists(), worker)
        wait_for(lambda: ExportJob.objects.get(pk=job.pk).state == "done", worker)
        # called once more when all is done: nothing is sent, nothing is made twice
        status, body = call(block, "upload_finish", {"upload_id": upload_id})
        assert status == 200 and body["state"] == UploadState.ACCEPTED
    upload.refresh_from_db()
    assert upload.state == UploadState.ACCEPTED
    assert ScanBatch.objects.filter(exam=exam).count() == 1
    assert AuditEvent.objects.filter(exam=exam, action="scan.upload_accepted").count() == 1
    assert ExportJob.objects.filter(exam=exam).count() == 1
    job.refresh_from_db()
    assert job.done == job.total == 2 and storage.get_storage().exists(job.file_name)


def test_recover_sends_stuck_work_to_the_worker(worker, broker_db):
    """An upload left assembling and an export left queued (their messages lost) are finished by the
    worker once ``viatique_recover`` sends them again; an abandoned upload is removed."""
    block = make_block()
    exam = block.get_exam()
    data = plain_scan(pages=8)
    upload_id = send_chunks(block, data)
    UploadSession.objects.filter(public_id=upload_id).update(
        state=UploadState.ASSEMBLING, declared_sha256=hashlib.sha256(data).hexdigest())
    abandoned_id = send_chunks(block, plain_scan(pages=2))
    graded_copies(exam, count=3)
    job = ExportJob.objects.create(exam=exam, naming="code", total=3)
    long_ago = timezone.now() - datetime.timedelta(days=2)
    UploadSession.objects.filter(exam=exam).update(updated_at=long_ago)
    ExportJob.objects.filter(pk=job.pk).update(updated_at=long_ago)

    worker.start()
    with broker_back(broker_db):
        out = io.StringIO()
        call_command("viatique_recover", "--json", stdout=out)
        report = json.loads(out.getvalue().strip().splitlines()[-1])
        assert report["requeued"]["uploads"] == [upload_id]
        assert report["requeued"]["exports"] == [str(job.public_id)]
        assert report["removed"]["uploads"] == [abandoned_id]
        wait_for(lambda: ScanBatch.objects.filter(exam=exam, state=BatchState.DONE).exists(), worker)
        wait_for(lambda: ExportJob.objects.get(pk=job.pk).state == "done", worker)
    assert UploadSession.objects.get(public_id=upload_id).state == UploadState.ACCEPTED
    assert not UploadSession.objects.filter(public_id=abandoned_id).exists()
    assert Copy.objects.filter(exam=exam, source_batch__isnull=False).count() == 2  # 8 pages, 4 a copy
