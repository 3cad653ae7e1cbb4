"""Recovery (``viatique_recover`` and the periodic task ``viatique.recover``): work left waiting longer than
``RECOVER_AFTER_SECONDS`` is queued again, only what is missing, once per run; abandoned uploads go with their
chunks; the broker being down leaves everything for the next run; everything done is audited."""
import datetime
import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from tests.harness import make_block
from tests.unit.grading_helpers import make_batch, make_copy
from viatique_xblock.models import AuditEvent, Copy, ExportJob, Page, ScanBatch, UploadChunk, UploadSession
from viatique_xblock.platform import queue, storage
from viatique_xblock.platform.compat import current_user
from viatique_xblock.platform.queue import QueueUnavailable
from viatique_xblock.scanning import uploads
from viatique_xblock.states import BatchState, Grading, UploadState
from viatique_xblock.workers import recovery

pytestmark = pytest.mark.django_db
CHUNK = 1024
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def small_chunks_and_ranges():
    with override_settings(VIATIQUE={"UPLOAD_CHUNK_BYTES": CHUNK, "PAGES_PER_TASK": 2}):
        yield


@pytest.fixture
def exam():
    return make_block().get_exam()


@pytest.fixture
def sent(monkeypatch):
    """What the stages queue, by task name (nothing runs)."""
    messages = []
    monkeypatch.setattr(queue, "send", lambda name, *args: messages.append((name, *args)))
    return messages


def ago(delta):
    return timezone.now() - delta


def age(model, pk, delta):
    """Make a row's last step ``delta`` old."""
    model.objects.filter(pk=pk).update(updated_at=ago(delta))


def chunked_upload(exam, data=b"%PDF-1.7 not a real scan" * 100, chunks=None, state=UploadState.OPEN):
    upload = uploads.start(exam, current_user(make_block()), "scan.pdf", len(data))
    for index in range(upload.chunk_count if chunks is None else chunks):
        uploads.put_chunk(upload, index, data[index * CHUNK:(index + 1) * CHUNK])
    if state == UploadState.ASSEMBLING:
        uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
    upload.refresh_from_db()
    return upload


def chunk_files(upload):
    try:
        return storage.get_storage().listdir(storage.file_name("uploads", upload.public_id))[1]
    except FileNotFoundError:
        return []


def recover(*args):
    """``viatique_recover --json``: the report on its last line."""
    out = StringIO()
    call_command("viatique_recover", "--json", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def stuck_world(exam):
    """One of each kind of stuck work, and the same work still within its time (never sent again)."""
    world = {}
    world["upload"] = chunked_upload(exam, state=UploadState.ASSEMBLING)
    world["fresh_upload"] = chunked_upload(exam, data=b"%PDF-1.7 another file" * 100, state=UploadState.ASSEMBLING)
    age(UploadSession, world["upload"].pk, 2 * HOUR)

    world["abandoned"] = chunked_upload(exam, data=b"%PDF-1.7 a third file" * 100, chunks=2)
    world["open"] = chunked_upload(exam, data=b"%PDF-1.7 a fourth one" * 100, chunks=1)
    age(UploadSession, world["abandoned"].pk, 25 * HOUR)
    age(UploadSession, world["open"].pk, 23 * HOUR)

    # a batch of 5 pages (ranges 0-2, 2-3, 3-4, 4-5 of PAGES_PER_TASK=2: its last 2 pages in ranges of one, as
    # batches.page_ranges cuts them) whose pages 0, 1 and 3 are done
    world["processing"] = make_batch(exam, pages=5)
    ScanBatch.objects.filter(pk=world["processing"].pk).update(state=BatchState.PROCESSING, pages_done=3)
    for index in (0, 1, 3):
        Page.objects.create(exam=exam, batch=world["processing"], source_index=index, width_pt=595, height_pt=842)
    world["queued"], world["assembling"], world["fresh_batch"] = (make_batch(exam) for _ in range(3))
    ScanBatch.objects.filter(pk=world["queued"].pk).update(state=BatchState.QUEUED)
    ScanBatch.objects.filter(pk__in=[world["assembling"].pk, world["fresh_batch"].pk]).update(
        state=BatchState.ASSEMBLING)
    for name in ("processing", "queued", "assembling"):
        age(ScanBatch, world[name].pk, 2 * HOUR)

    world["copy"] = make_copy(exam, "AAAAA", state=Grading.SUBMITTED, pages=0)
    world["fresh_copy"] = make_copy(exam, "BBBBB", state=Grading.SUBMITTED, pages=0)
    Copy.objects.filter(pk=world["copy"].pk).update(finalized_at=ago(2 * HOUR), updated_at=ago(2 * HOUR))
    Copy.objects.filter(pk=world["fresh_copy"].pk).update(finalized_at=ago(HOUR / 6), updated_at=ago(HOUR / 6))

    for name, state, old in (("queued_export", "queued", 2 * HOUR), ("dead_export", "running", 2 * HOUR),
                             ("running_export", "running", HOUR / 6), ("done_export", "done", 2 * HOUR)):
        world[name] = ExportJob.objects.create(exam=exam, naming="code", state=state, total=1)
        age(ExportJob, world[name].pk, old)
    for name in world:
        world[name].refresh_from_db()
    return world


def test_recover_requeues_stuck_work_once_and_removes_abandoned_uploads(exam, sent):
    world = stuck_world(exam)
    abandoned_files = chunk_files(world["abandoned"])
    assert len(abandoned_files) == 2

    report = recover()

    assert report["requeued"] == {
        "uploads": [str(world["upload"].public_id)],
        "batches": [world["processing"].pk, world["queued"].pk, world["assembling"].pk],
        "copies": [world["copy"].pk],
        "exports": [str(world["queued_export"].public_id), str(world["dead_export"].public_id)],
    }
    assert report["removed"] == {"uploads": [str(world["abandoned"].public_id)]}
    assert report["queue_unavailable"] is False
    assert sorted(sent) == sorted([
        ("viatique.assemble_upload", world["upload"].pk),
        ("viatique.process_range", world["processing"].pk, 2, 3),  # only the ranges whose pages are missing
        ("viatique.process_range", world["processing"].pk, 4, 5),
        ("viatique.process_batch", world["queued"].pk),
        ("viatique.assemble_batch", world["assembling"].pk),
        ("viatique.render_graded_copy", world["copy"].pk),
        ("viatique.build_export_zip", world["queued_export"].pk),
        ("viatique.build_export_zip", world["dead_export"].pk),
    ])
    # the dead task's export waits for a task to claim it again
    assert ExportJob.objects.get(pk=world["dead_export"].pk).state == "queued"
    assert ExportJob.objects.get(pk=world["running_export"].pk).state == "running"
    # the abandoned upload is gone with its chunks, rows and files; the others stay as they were
    assert not UploadSession.objects.filter(pk=world["abandoned"].pk).exists()
    assert not UploadChunk.objects.filter(upload_id=world["abandoned"].pk).exists()
    assert chunk_files(world["abandoned"]) == []
    assert UploadSession.objects.get(pk=world["open"].pk).state == UploadState.OPEN and chunk_files(world["open"])
    assert UploadSession.objects.get(pk=world["upload"].pk).state == UploadState.ASSEMBLING

    # audited under the exam, as the system
    events = {event.action: event for event in AuditEvent.objects.filter(exam=exam, action__startswith="recovery.")}
    assert sorted(AuditEvent.objects.filter(exam=exam, action__startswith="recovery.")
                  .values_list("action", flat=True)) == sorted(
        ["recovery.upload_requeued", "recovery.upload_removed", "recovery.render_requeued"]
        + ["recovery.batch_requeued"] * 3 + ["recovery.export_requeued"] * 2)
    assert events["recovery.upload_removed"].details["chunks"] == 2
    assert events["recovery.upload_removed"].actor == ""
    assert events["recovery.render_requeued"].copy_id_ref == world["copy"].pk
    batch_events = {event.details["batch"]: event.details
                    for event in AuditEvent.objects.filter(exam=exam, action="recovery.batch_requeued")}
    assert batch_events[world["processing"].pk]["steps"] == [["process_range", 2, 3], ["process_range", 4, 5]]

    # what was sent again waits a whole RECOVER_AFTER_SECONDS before the next send
    del sent[:]
    report = recover()
    assert report["requeued"] == {"uploads": [], "batches": [], "copies": [], "exports": []}
    assert report["removed"] == {"uploads": []} and sent == []


def test_a_dry_run_lists_and_does_nothing(exam, sent):
    world = stuck_world(exam)
    report = recover("--dry-run")
    assert report["dry_run"] is True
    assert report["requeued"]["uploads"] == [str(world["upload"].public_id)]
    assert report["removed"]["uploads"] == [str(world["abandoned"].public_id)]
    assert sent == [] and UploadSession.objects.filter(pk=world["abandoned"].pk).exists()
    assert not AuditEvent.objects.filter(action__startswith="recovery.").exists()


def test_the_thresholds_come_from_the_settings_or_the_options(exam, sent):
    world = stuck_world(exam)
    with override_settings(VIATIQUE={"UPLOAD_CHUNK_BYTES": CHUNK, "PAGES_PER_TASK": 2,
                                     "RECOVER_AFTER_SECONDS": 3 * 3600, "ABANDONED_UPLOAD_SECONDS": 26 * 3600}):
        report = recover("--dry-run")
    assert report["requeued"] == {"uploads": [], "batches": [], "copies": [], "exports": []}
    assert report["removed"]["uploads"] == []
    report = recover("--dry-run", "--minutes", "5", "--abandoned-hours", "22")
    assert report["requeued"]["copies"] == [world["copy"].pk, world["fresh_copy"].pk]
    # a running export is left to its task until TASK_TIME_LIMIT has passed, whatever --minutes says
    assert str(world["running_export"].public_id) not in report["requeued"]["exports"]
    assert sorted(report["removed"]["uploads"]) == sorted([str(world["abandoned"].public_id),
                                                           str(world["open"].public_id)])


def test_the_broker_down_leaves_the_stuck_work_for_the_next_run(exam, monkeypatch):
    world = stuck_world(exam)

    def broker_down(*args):
        raise QueueUnavailable()
    monkeypatch.setattr(queue, "send", broker_down)
    with pytest.raises(CommandError) as failed:
        call_command("viatique_recover")
    assert "broker cannot be reached" in str(failed.value)
    with pytest.raises(SystemExit) as exited:
        recover()
    assert exited.value.code == 1
    # nothing was marked as sent, so the next run sends it; removals need no broker
    assert UploadSession.objects.get(pk=world["upload"].pk).updated_at == world["upload"].updated_at
    assert not UploadSession.objects.filter(pk=world["abandoned"].pk).exists()
    assert not AuditEvent.objects.filter(action__endswith="_requeued").exists()
    sent = []
    monkeypatch.setattr(queue, "send", lambda name, *args: sent.append(name))
    assert recover()["requeued"]["uploads"] == [str(world["upload"].public_id)]


def test_the_periodic_task_runs_the_recovery(exam, sent):
    world = stuck_world(exam)
    from viatique_xblock.tasks import recover_task
    assert recover_task.name == "viatique.recover"
    report = recover_task.apply().get()
    assert report["requeued"]["uploads"] == [str(world["upload"].public_id)]
    assert ("viatique.assemble_upload", world["upload"].pk) in sent


def test_a_requeued_upload_is_assembled_by_its_task(exam):
    """With the tasks run here (no broker), the recovery's send assembles the stuck upload for real."""
    world_upload = chunked_upload(exam, data=b"<html>not a pdf</html>" * 60, state=UploadState.ASSEMBLING)
    age(UploadSession, world_upload.pk, 2 * HOUR)
    report = recovery.recover()
    assert report["requeued"]["uploads"] == [str(world_upload.public_id)]
    world_upload.refresh_from_db()
    assert world_upload.state == UploadState.REFUSED and world_upload.error_code == "not_a_pdf"
    assert chunk_files(world_upload) == []


def test_a_chunk_arriving_keeps_an_upload_from_being_abandoned(exam):
    data = b"%PDF-1.7 still coming" * 100
    upload = chunked_upload(exam, data=data, chunks=1)
    age(UploadSession, upload.pk, 25 * HOUR)
    uploads.put_chunk(upload, 1, data[CHUNK:2 * CHUNK])
    assert recovery.recover()["removed"]["uploads"] == []
    # and one that arrives after its removal finds the upload closed
    upload.refresh_from_db()
    age(UploadSession, upload.pk, 25 * HOUR)
    assert recovery.recover()["removed"]["uploads"] == [str(upload.public_id)]
    with pytest.raises(uploads.UploadClosed):
        uploads.put_chunk(upload, 2, data[2 * CHUNK:3 * CHUNK])
    assert chunk_files(upload) == []
