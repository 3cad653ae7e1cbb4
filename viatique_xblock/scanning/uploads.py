"""Resumable, chunked upload of scan files (public API).

1. :func:`start` opens an upload for a declared file name and size (refused at
   once when the size is over the limit).
2. :func:`put_chunk` stores chunk ``index`` (all chunks are ``chunk_bytes`` long
   but the last). A chunk sent twice is stored once; any web worker can take any
   chunk, because chunks live in the storage and are recorded in the database.
3. :func:`status` tells which chunks the server has, so an interrupted upload
   resumes where it stopped.
4. :func:`finish` hands the upload to a Celery task (:func:`assemble`) which
   joins the chunks, checks the SHA-256 the client declared, validates the PDF
   and only then stores the file and creates the :class:`~.models.ScanBatch`. A
   refused file leaves no batch, page, copy or stored file: only the upload row
   with its error code, so the dashboard can say why.
"""
import hashlib
import os
import tempfile
import uuid

from django.db import IntegrityError, transaction

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest, NotFound, ViatiqueError
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import ScanBatch, UploadChunk, UploadSession
from viatique_xblock.pdf import errors as pdf_errors
from viatique_xblock.platform import conf, storage
from viatique_xblock.scanning import batches
from viatique_xblock.states import UploadState

MAX_NAME = 255


class UploadClosed(ViatiqueError):
    code = "upload_closed"
    status = 409


class ChunkCorrupted(ViatiqueError):
    code = "chunk_corrupted"
    status = 400


class UploadIncomplete(ViatiqueError):
    code = "upload_incomplete"
    status = 409


def _chunk_name(upload, index):
    return storage.file_name("uploads", upload.public_id, f"{index:06d}.part")


SPLIT_MODES = ("auto", "per_file")


def start(exam, user, file_name, size_bytes, split_mode="auto"):
    """Open an upload; refuse a file that is empty or over the size limit before any byte is sent.

    ``split_mode`` is "auto" (by codes, else every pages-per-copy pages) or
    "per_file" (the whole file is one learner's copy).
    """
    if split_mode not in SPLIT_MODES:
        raise InvalidRequest(N_("Unknown way of splitting the scan: {mode}."), mode=split_mode)
    try:
        size_bytes = int(size_bytes)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(N_("The file size is missing.")) from exc
    file_name = os.path.basename(str(file_name or "scan.pdf"))[:MAX_NAME] or "scan.pdf"
    limit = conf.get("MAX_UPLOAD_BYTES")
    if size_bytes <= 0:
        raise pdf_errors.FileEmpty()
    if size_bytes > limit:
        raise pdf_errors.FileTooLarge(size_mb=_megabytes(size_bytes), limit_mb=_megabytes(limit))
    upload = UploadSession.objects.create(
        exam=exam, created_by=user.username, file_name=file_name, size_bytes=size_bytes,
        chunk_bytes=conf.get("UPLOAD_CHUNK_BYTES"), split_mode=split_mode,
    )
    return upload


def _megabytes(size):
    return round(size / 1024 / 1024, 1)


def get(exam, public_id):
    """An upload of this exam by its public id, or :class:`NotFound`."""
    try:
        return UploadSession.objects.get(exam=exam, public_id=uuid.UUID(str(public_id)))
    except (UploadSession.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(N_("This upload does not exist.")) from exc


def put_chunk(upload, index, data, sha256=None):
    """Store chunk ``index``; ``sha256`` (hex), when sent, is checked against the bytes."""
    if upload.state != UploadState.OPEN:
        raise UploadClosed(N_("This upload is already complete."))
    try:
        index = int(index)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(N_("The chunk number is missing.")) from exc
    expected = upload.chunk_bytes if index < upload.chunk_count - 1 else \
        upload.size_bytes - upload.chunk_bytes * (upload.chunk_count - 1)
    if not 0 <= index < upload.chunk_count or len(data) != expected:
        raise InvalidRequest(
            N_("Chunk {index} should be {expected} bytes long; {size} bytes arrived."),
            index=index, expected=expected, size=len(data),
        )
    digest = hashlib.sha256(data).hexdigest()
    if sha256 and sha256.lower() != digest:
        raise ChunkCorrupted(N_("Chunk {index} was damaged on the way; it will be sent again."), index=index)
    if UploadChunk.objects.filter(upload=upload, index=index, sha256=digest).exists():
        return status(upload)
    storage.overwrite(_chunk_name(upload, index), data)
    try:
        UploadChunk.objects.update_or_create(upload=upload, index=index,
                                             defaults={"size_bytes": len(data), "sha256": digest})
    except IntegrityError:
        pass  # the same chunk recorded by a concurrent request
    return status(upload)


def status(upload):
    """What the client needs to resume: which chunks the server has, and the upload's state."""
    received = sorted(UploadChunk.objects.filter(upload=upload).values_list("index", flat=True))
    body = {
        "upload_id": str(upload.public_id),
        "state": upload.state,
        "file_name": upload.file_name,
        "size": upload.size_bytes,
        "chunk_bytes": upload.chunk_bytes,
        "chunks": upload.chunk_count,
        "received": received,
    }
    if upload.error_code:
        body["error"] = upload.error_code
        body["message"] = _(upload.error_template).format(**upload.error_params)
    if upload.batch_id:
        body["batch_id"] = upload.batch_id
    return body


def recent(exam, limit=10):
    """The exam's latest uploads with their outcome (a refusal keeps its reason here)."""
    return [status_summary(upload) for upload in
            UploadSession.objects.filter(exam=exam).order_by("-created_at", "-id")[:limit]]


def status_summary(upload):
    body = {"upload_id": str(upload.public_id), "file_name": upload.file_name, "state": upload.state,
            "size": upload.size_bytes, "batch_id": upload.batch_id}
    if upload.error_code:
        body["error"] = upload.error_code
        body["message"] = _(upload.error_template).format(**upload.error_params)
    return body


def finish(upload, sha256=None, send=None):
    """All chunks are there: queue assembly and validation (``send``: see :func:`batches.create_batch`)."""
    if upload.state != UploadState.OPEN:
        return status(upload)
    missing = upload.chunk_count - UploadChunk.objects.filter(upload=upload).count()
    if missing:
        raise UploadIncomplete(N_("{missing} part(s) of the file have not arrived yet."), missing=missing)
    updated = UploadSession.objects.filter(pk=upload.pk, state=UploadState.OPEN).update(
        state=UploadState.ASSEMBLING, declared_sha256=(sha256 or "").strip().lower()[:64])
    if updated:
        (send or batches.send_step)("assemble_upload", upload.pk)
    upload.refresh_from_db()
    return status(upload)


def assemble(upload_pk, send=None):
    """Join the chunks, check the declared SHA-256, validate, store and create the batch.

    Runs in Celery. Idempotent: a redelivered task finds the upload no longer
    ``assembling`` and returns. Returns the new :class:`ScanBatch` or None.
    """
    upload = UploadSession.objects.select_related("exam").get(pk=upload_pk)
    if upload.state != UploadState.ASSEMBLING:
        return upload.batch
    declared_sha = upload.declared_sha256
    store = storage.get_storage()
    with tempfile.NamedTemporaryFile(suffix=".pdf", prefix="viatique-upload-") as assembled:
        digest = hashlib.sha256()
        for index in range(upload.chunk_count):
            with store.open(_chunk_name(upload, index), "rb") as part:
                for block in iter(lambda: part.read(1024 * 1024), b""):
                    digest.update(block)
                    assembled.write(block)
        assembled.flush()
        sha = digest.hexdigest()
        try:
            if declared_sha and declared_sha != sha:
                raise ChunkCorrupted(N_("The file that arrived differs from the one sent (SHA-256 mismatch). "
                                        "Upload it again."))
            info = batches.validate_file(assembled.name)
        except ViatiqueError as error:
            _close(upload, UploadState.REFUSED, error)
            return None
        existing = ScanBatch.objects.filter(exam=upload.exam, sha256=sha).first()
        if existing is not None:
            _close(upload, UploadState.DUPLICATE, None, batch=existing)
            return existing
        assembled.seek(0)
        batch = batches.create_batch(upload.exam, upload.file_name, sha, info, assembled,
                                   uploaded_by=upload.created_by, split_mode=upload.split_mode, send=send)
    _close(upload, UploadState.ACCEPTED, None, batch=batch)
    return batch


def _close(upload, state, error, batch=None):
    """Record the outcome and delete the chunks (a refused file leaves nothing in the storage)."""
    store = storage.get_storage()
    for index in range(upload.chunk_count):
        name = _chunk_name(upload, index)
        if store.exists(name):
            store.delete(name)
    with transaction.atomic():
        UploadChunk.objects.filter(upload=upload).delete()
        upload.state = state
        upload.batch = batch
        upload.error_code = error.code if error else ""
        upload.error_template = error.template if error else ""
        upload.error_params = {key: value if isinstance(value, (int, float, str)) else str(value)
                               for key, value in (error.params if error else {}).items()}
        upload.save()
        details = {"file_name": upload.file_name, "size": upload.size_bytes, "state": state}
        if error:
            details["error"] = error.code
        audit.record(upload.exam, "scan.upload_" + state, details=details)
