"""Resumable uploads: chunks in any order and more than once, checks, refusals that leave nothing."""
import hashlib
import json

import pymupdf
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.harness import make_block
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.models import Copy, Page, ScanBatch, UploadChunk
from viatique_xblock.pdf import booklets as pdf_booklets, synthetic
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import current_user
from viatique_xblock.scanning import uploads
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
    assert uploads.finish(upload, send=lambda *a: queued.append(a))["state"] == UploadState.ASSEMBLING
    assert len(queued) == 1, "finishing twice queues the assembly once"


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
    uploads.finish(upload, send=lambda *a: None)
    uploads.assemble(upload.pk)
    assert fresh_status(upload)["error"] == "pdf_encrypted"
    assert not ScanBatch.objects.exists()


def test_a_file_that_differs_from_the_declared_sha256_is_refused(exam, instructor):
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, "ab" * 32, send=lambda *a: None)
    uploads.assemble(upload.pk)
    assert fresh_status(upload)["error"] == "chunk_corrupted"
    assert not ScanBatch.objects.exists() and stored_files(exam) == []


def test_the_same_file_uploaded_again_is_recognised(exam, instructor):
    data = pdf_bytes()
    batches = []
    for _attempt in range(2):
        upload = uploads.start(exam, instructor, "scan.pdf", len(data))
        send_all(upload, data)
        uploads.finish(upload, send=lambda *a: None)
        batches.append(uploads.assemble(upload.pk, send=lambda *a: None))
    assert batches[0] == batches[1]
    assert fresh_status(upload)["state"] == UploadState.DUPLICATE
    assert ScanBatch.objects.count() == 1 and len(stored_files(exam)) == 1


def test_a_closed_upload_takes_no_more_chunks(exam, instructor):
    data = pdf_bytes()
    upload = uploads.start(exam, instructor, "scan.pdf", len(data))
    send_all(upload, data)
    uploads.finish(upload, send=lambda *a: None)
    upload.refresh_from_db()
    assert error_of(lambda: uploads.put_chunk(upload, 0, data[:CHUNK])).code == "upload_closed"


def test_uploads_are_found_only_within_their_exam(exam, instructor):
    upload = uploads.start(exam, instructor, "scan.pdf", 100)
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@other").get_exam()
    assert error_of(lambda: uploads.get(other, upload.public_id)).code == "not_found"
    assert error_of(lambda: uploads.get(exam, "not-a-uuid")).code == "not_found"
    assert uploads.get(exam, str(upload.public_id)) == upload
