"""Resumable uploads: chunks in any order and more than once, checks, refusals that leave nothing."""
import hashlib
import json
import threading

import pymupdf
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings

from tests.harness import call, make_block
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.models import AuditEvent, Copy, Page, ScanBatch, UploadChunk, UploadSession
from viatique_xblock.pdf import booklets as pdf_booklets, synthetic
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import current_user
from viatique_xblock.platform.queue import QueueUnavailable
from viatique_xblock.scanning import batches, uploads
from viatique_xblock.states import BatchState, UploadState

pytestmark = pytest.mark.django_db
CHUNK = 4096


def pdf_bytes(pages=3, text="copy"):
    doc = pymupdf.open()
    for number in range(pages):
        doc.new_page(width=595, height=842).insert_text((72, 72), f"{text} page {number + 1}")
    return doc.tobytes()


@pytest.fixture
def exam():
    return make_block().get_exam()


@pytest.fixture
def instructor():
    return current_user(make_block())


@pytest.fixture(autouse=True)
def small_chunks():
    with override_settings(VIATIQUE={"UPLOAD_CHUNK_BYTES": CHUNK}):
        yield


def send_all(upload, data, order=None):
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    for index in order or range(len(chunks)):
        uploads.put_chunk(upload, index, chunks[index], hashlib.sha256(chunks[index]).hexdigest())


def stored_files(exam):
    store = storage.get_storage()
    root = storage.file_name("scans", exam.pk)
    try:
        return store.listdir(root)[1]
    except FileNotFoundError:
        return []


def fresh_status(upload):
    upload.refresh_from_db()
    return uploads.status(upload)


def error_of(call):
    with pytest.raises(ViatiqueError) as caught:
        call()
    return caught.value


def test_size_is_checked_before_any_byte_is_sent(exam, instructor):
    assert error_of(lambda: uploads.start(exam, instructor, "a.pdf", 0)).code == "file_empty"
    with override_settings(VIATIQUE={"MAX_UPLOAD_BYTES": 1000}):
        error = error_of(lambda: uploads.start(exam, instructor, "a.pdf", 5000))
    assert error.code == "file_too_large" and error.status == 413
    assert error_of(lambda: uploads.start(exam, instructor, "a.pdf", 10, "sideways")).code == "invalid_request"


def test_chunks_arrive_in_any_order_once_each_and_the_upload_resumes(exam, instructor):
    data = pdf_bytes(pages=40)
    upload = uploads.start(exam, instructor, "../../etc/scan.pdf", len(data))
    assert upload.file_name == "scan.pdf"
    count = upload.chunk_count
    assert count >= 2
    send_all(upload, data, order=[count - 1, 0])
    status = uploads.status(upload)
    assert status["received"] == [0, count - 1] and status["chunks"] == count
    send_all(upload, data, order=[0])  # sent again after a dropped connection: stored once
    assert UploadChunk.objects.filter(upload=upload).count() == 2
    error = error_of(lambda: uploads.finish(upload, send=lambda *args: None))
    assert error.code == "upload_incomplete" and error.status == 409
    send_all(upload, data)
    queued = []
    assert uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: queued.append(a))["state"] \
        == UploadState.ASSEMBLING
    assert queued == [("assemble_upload", upload.pk)]
    # finishing again sends the assembly again (the first send may never have reached the broker)...
    assert uploads.finish(upload, send=lambda *a: queued.append(a))["state"] == UploadState.ASSEMBLING
    assert queued == [("assemble_upload", upload.pk)] * 2
    # ...and the assembly runs once, however many times it is sent
    batch = uploads.assemble(upload.pk, send=lambda *a: None)
    assert uploads.assemble(upload.pk, send=lambda *a: None) == batch and ScanBatch.objects.count() == 1
    assert fresh_status(upload)["state"] == UploadState.ACCEPTED
    # once it ran, finishing again sends nothing
    assert uploads.finish(upload, send=lambda *a: queued.append(a))["state"] == UploadState.ACCEPTED
    assert len(queued) == 2


def test_damaged_or_wrong_sized_chunks_are_refused(exam, instructor):
    data = pdf_bytes(pages=40)
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    error = error_of(lambda: uploads.put_chunk(upload, 0, data[:CHUNK], "0" * 64))
    assert error.code == "chunk_corrupted"
    assert error_of(lambda: uploads.put_chunk(upload, 0, data[:100])).code == "invalid_request"
    assert error_of(lambda: uploads.put_chunk(upload, 99, data[:CHUNK])).code == "invalid_request"
    assert UploadChunk.objects.count() == 0


def test_a_valid_scan_becomes_a_batch_and_its_chunks_are_gone(exam, instructor):
    data = pdf_bytes(pages=3)
    upload = uploads.start(exam, instructor, "class.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
    queued = []
    batch = uploads.assemble(upload.pk, send=lambda *a: queued.append(a))
    upload.refresh_from_db()
    assert upload.state == UploadState.ACCEPTED and upload.batch == batch
    assert batch.page_count == 3 and batch.sha256 == hashlib.sha256(data).hexdigest()
    assert batch.state == BatchState.QUEUED
    assert storage.get_storage().open(batch.file_name).read() == data
    assert UploadChunk.objects.filter(upload=upload).count() == 0
    assert uploads.assemble(upload.pk) == batch, "a redelivered assembly changes nothing"
    assert ScanBatch.objects.count() == 1


def truncated_scan(size=2000):
    """The first ``size`` bytes of a valid synthetic scan (MuPDF opens them, then cannot count their pages)."""
    return synthetic.scan(pdf_booklets.make_booklets(blank_pages=4, copies=2, exam_ref="V1", first_copy=1))[:size]


def chunk_files(upload):
    """The chunk files of an upload still in the storage."""
    store = storage.get_storage()
    try:
        return store.listdir(storage.file_name("uploads", upload.public_id))[1]
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("payload, code", [
    (b"<html>not a pdf</html>" * 10, "not_a_pdf"),
    (b"%PDF-1.7\n" + b"\x00garbage" * 50, "pdf_unreadable"),
    (truncated_scan(), "pdf_unreadable"),
], ids=["html", "garbage", "first-2000-bytes-of-a-scan"])
def test_a_refused_file_leaves_no_batch_page_copy_or_file(exam, instructor, payload, code):
    upload = uploads.start(exam, instructor, "bad.pdf", len(payload))
    send_all(upload, payload)
    assert chunk_files(upload)
    uploads.finish(upload, hashlib.sha256(payload).hexdigest(), send=lambda *a: None)
    assert uploads.assemble(upload.pk) is None
    status = fresh_status(upload)
    assert status["state"] == UploadState.REFUSED and status["error"] == code and status["message"]
    assert not ScanBatch.objects.exists() and not Page.objects.exists() and not Copy.objects.exists()
    assert stored_files(exam) == []
    assert UploadChunk.objects.filter(upload=upload).count() == 0
    assert chunk_files(upload) == []


def test_check_pdf_reports_the_code_of_a_truncated_scan_instead_of_crashing(tmp_path, capsys):
    path = tmp_path / "cut.pdf"
    path.write_bytes(truncated_scan())
    with pytest.raises(SystemExit) as exited:
        call_command("viatique_check_pdf", str(path), "--json")
    assert exited.value.code == 1
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["ok"] is False and result["code"] == "pdf_unreadable" and result["message"]
    with pytest.raises(CommandError) as refused:
        call_command("viatique_check_pdf", str(path))
    assert str(refused.value) == "pdf_unreadable"
    assert capsys.readouterr().out.startswith("Refused (pdf_unreadable): ")


def test_an_encrypted_pdf_is_refused_with_its_code(exam, instructor):
    doc = pymupdf.open()
    doc.new_page()
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")
    upload = uploads.start(exam, instructor, "locked.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
    uploads.assemble(upload.pk)
    assert fresh_status(upload)["error"] == "pdf_encrypted"
    assert not ScanBatch.objects.exists()


def test_a_file_that_differs_from_the_declared_sha256_is_refused(exam, instructor):
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, "ab" * 32, send=lambda *a: None)
    uploads.assemble(upload.pk)
    status = fresh_status(upload)
    assert status["state"] == UploadState.REFUSED and status["error"] == "file_hash_mismatch" and status["message"]
    assert not ScanBatch.objects.exists() and stored_files(exam) == [] and chunk_files(upload) == []


def test_chunks_of_two_different_files_under_one_upload_are_refused(exam, instructor):
    """Each chunk's own hash is right, but together they are neither file: the whole file's hash tells."""
    first, second = pdf_bytes(pages=40, text="first"), pdf_bytes(pages=40, text="other")
    assert len(first) == len(second) and len(first) > 2 * CHUNK and first[CHUNK:] != second[CHUNK:]
    upload = uploads.start(exam, instructor, "scan.pdf", len(first))
    send_all(upload, first, order=[0])
    send_all(upload, second, order=range(1, upload.chunk_count))
    uploads.finish(upload, hashlib.sha256(first).hexdigest(), send=lambda *a: None)
    assert uploads.assemble(upload.pk) is None
    status = fresh_status(upload)
    assert status["state"] == UploadState.REFUSED and status["error"] == "file_hash_mismatch"
    assert not ScanBatch.objects.exists() and stored_files(exam) == [] and chunk_files(upload) == []


@pytest.mark.parametrize("sha256", [None, "", "not a hash", "ab" * 31, "zz" * 32])
def test_finishing_needs_the_whole_files_sha256(exam, instructor, sha256):
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    queued = []
    error = error_of(lambda: uploads.finish(upload, sha256, send=lambda *a: queued.append(a)))
    assert error.code == "invalid_request" and error.status == 400 and "SHA-256" in error.message
    assert fresh_status(upload)["state"] == UploadState.OPEN and queued == []
    # upper-case hexadecimal digits are the same hash
    assert uploads.finish(upload, hashlib.sha256(data).hexdigest().upper(),
                          send=lambda *a: queued.append(a))["state"] == UploadState.ASSEMBLING


def test_the_broker_down_at_finish_answers_503_and_finishing_again_completes(exam, instructor, monkeypatch):
    data = pdf_bytes()
    block = make_block()
    status, started = call(block, "upload_start", {"file_name": "scan.pdf", "size": len(data)})
    upload = uploads.get(exam, started["upload_id"])
    send_all(upload, data)

    def broker_down(*args, **kwargs):
        raise QueueUnavailable()
    monkeypatch.setattr(batches, "send_step", broker_down)
    body = {"upload_id": started["upload_id"], "sha256": hashlib.sha256(data).hexdigest()}
    status, answer = call(block, "upload_finish", body)
    assert status == 503 and answer["error"] == "queue_unavailable" and answer["message"]
    assert fresh_status(upload)["state"] == UploadState.ASSEMBLING  # nothing lost: calling again sends it
    status, answer = call(block, "upload_finish", {"upload_id": started["upload_id"]})
    assert status == 503
    monkeypatch.setattr(batches, "send_step", batches.run_locally)  # the broker is back
    status, answer = call(block, "upload_finish", {"upload_id": started["upload_id"]})
    assert status == 200 and answer["state"] == UploadState.ACCEPTED, answer
    assert ScanBatch.objects.get(exam=exam).sha256 == hashlib.sha256(data).hexdigest()


def test_an_assembly_that_fails_for_good_refuses_the_upload_and_leaves_nothing(exam, instructor):
    from viatique_xblock.workers.scanning import UploadTask
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
    UploadTask().on_failure(MemoryError(), "task-id", (upload.pk,), {}, None)
    status = fresh_status(upload)
    assert status["state"] == UploadState.REFUSED and status["error"] == "upload_failed" and status["message"]
    assert chunk_files(upload) == [] and UploadChunk.objects.filter(upload=upload).count() == 0
    assert uploads.fail(upload.pk) is False, "a closed upload stays as it is"
    assert AuditEvent.objects.filter(exam=exam, action="scan.upload_refused").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_upload_being_assembled_is_skipped_by_a_second_assembly_task(exam, instructor):
    """finish called again, or viatique_recover, sends the assembly while a worker assembles the upload
    (holding its row lock): the second task leaves it alone instead of assembling it twice."""
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
    outcome = {}

    def second_task():
        try:
            outcome["batch"] = uploads.assemble(upload.pk, send=lambda *a: None)
        finally:
            connection.close()

    with transaction.atomic():
        UploadSession.objects.select_for_update().get(pk=upload.pk)  # the first task, at work
        thread = threading.Thread(target=second_task)
        thread.start()
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert outcome == {"batch": None}
    assert fresh_status(upload)["state"] == UploadState.ASSEMBLING and not ScanBatch.objects.exists()
    batch = uploads.assemble(upload.pk, send=lambda *a: None)  # the first task goes on
    assert fresh_status(upload)["state"] == UploadState.ACCEPTED and batch.sha256 == hashlib.sha256(data).hexdigest()
    storage.get_storage().delete(batch.file_name)


def test_the_same_file_uploaded_again_is_recognised(exam, instructor):
    data = pdf_bytes()
    made = []
    for _attempt in range(2):
        upload = uploads.start(exam, instructor, "scan.pdf", len(data))
        send_all(upload, data)
        uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
        made.append(uploads.assemble(upload.pk, send=lambda *a: None))
    assert made[0] == made[1]
    assert fresh_status(upload)["state"] == UploadState.DUPLICATE
    assert ScanBatch.objects.count() == 1 and len(stored_files(exam)) == 1


def test_a_closed_upload_takes_no_more_chunks(exam, instructor):
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, hashlib.sha256(data).hexdigest(), send=lambda *a: None)
    assert error_of(lambda: uploads.put_chunk(upload, 0, data[:CHUNK])).code == "upload_closed"
    upload.refresh_from_db()
    assert error_of(lambda: uploads.put_chunk(upload, 0, data[:CHUNK])).code == "upload_closed"


def test_uploads_are_found_only_within_their_exam(exam, instructor):
    upload = uploads.start(exam, instructor, "scan.pdf", 100)
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@other").get_exam()
    assert error_of(lambda: uploads.get(other, upload.public_id)).code == "not_found"
    assert error_of(lambda: uploads.get(exam, "not-a-uuid")).code == "not_found"
    assert uploads.get(exam, str(upload.public_id)) == upload
