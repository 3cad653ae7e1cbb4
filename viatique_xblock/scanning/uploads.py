"""Resumable, chunked upload of scan files (public API).

1. :func:`start` opens an upload for a declared file name and size (refused at
   once when the size is over the limit).
2. :func:`put_chunk` stores chunk ``index`` (all chunks are ``chunk_bytes`` long
   but the last). A chunk sent twice is stored once; any web worker can take any
   chunk, because chunks live in the storage and are recorded in the database.
3. :func:`status` tells which chunks the server has, so an interrupted upload
   resumes where it stopped.
4. :func:`finish` takes the whole file's SHA-256 and hands the upload to a Celery task
   (:func:`assemble`) which joins the chunks, checks that SHA-256 (chunks of two
   different files under one upload are refused, each chunk's own hash being right),
   validates the PDF and only then stores the file and creates the
   :class:`~.models.ScanBatch`. A refused file leaves no batch, page, copy or stored
   file: only the upload row with its error code, so the dashboard can say why.

Every upload ends in a final state (``accepted``, ``duplicate``, ``refused``) or is picked
up again: :func:`finish` called again sends the assembly again (the broker may have been
down); a task that gives up refuses the upload (:func:`fail`); :func:`stuck` lists uploads
left ``assembling`` for :mod:`viatique_xblock.workers.recovery`, and :func:`remove_abandoned`
deletes uploads whose chunks stopped arriving long ago, with their chunks.
"""
import hashlib
import logging
import os
import re
import tempfile
import uuid

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from viatique_xblock import audit, inputs
from viatique_xblock.errors import InvalidRequest, NotFound, ViatiqueError
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import ScanBatch, UploadChunk, UploadSession
from viatique_xblock.pdf import errors as pdf_errors
from viatique_xblock.platform import conf, storage
from viatique_xblock.platform.queue import QueueUnavailable
from viatique_xblock.scanning import batches
from viatique_xblock.states import UploadState

log = logging.getLogger(__name__)

MAX_NAME = 255
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class UploadClosed(ViatiqueError):
    code = "upload_closed"
    status = 409


class ChunkCorrupted(ViatiqueError):
    code = "chunk_corrupted"
    status = 400


class UploadIncomplete(ViatiqueError):
    code = "upload_incomplete"
    status = 409


class FileHashMismatch(ViatiqueError):
    """The assembled file is not the file the client read: its SHA-256 differs from the one declared."""

    code = "file_hash_mismatch"
    status = 400


class UploadFailed(ViatiqueError):
    """The assembly task gave up (a server error, or its time limit): the upload is refused with this code."""

    code = "upload_failed"
    status = 500


def _chunk_name(upload, index):
    return storage.file_name("uploads", upload.public_id, f"{index:06d}.part")


SPLIT_MODES = ("auto", "per_file", "loose")


def start(exam, user, file_name, size_bytes, split_mode="auto"):
    """Open an upload; refuse a file that is empty or over the size limit before any byte is sent.

    ``split_mode`` is "auto" (by codes, else every pages-per-copy pages) or
    "per_file" (the whole file is one learner's copy) or "loose" (pages without a code wait in the
    anomaly queue, to be attached to their copies by hand).
    """
    if split_mode not in SPLIT_MODES:
        raise InvalidRequest(N_("Unknown way of splitting the scan: {mode}."), mode=split_mode)
    size_bytes = inputs.whole_number(size_bytes)
    if size_bytes is None:
        raise inputs.field_error(InvalidRequest, N_("The file size is missing."), "size")
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
    index = inputs.whole_number(index)
    if index is None:
        raise InvalidRequest(N_("The chunk number is missing."))
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
    # the upload's last activity, which tells an abandoned upload (:func:`abandoned`); and the upload
    # must still be open (not closed, nor removed as abandoned, since it was read)
    if not UploadSession.objects.filter(pk=upload.pk, state=UploadState.OPEN).update(updated_at=timezone.now()):
        raise UploadClosed(N_("This upload is already complete."))
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
    """All chunks are there: queue assembly and validation (``send``: see :func:`batches.create_batch`).

    ``sha256`` is the whole file's SHA-256 (64 hexadecimal digits) as the client read the file; the
    assembled file must match it (:class:`FileHashMismatch` otherwise). Idempotent: an upload already
    ``assembling`` has its task sent again, since the first send may never have reached the broker
    (the task assembles an upload once, see :func:`assemble`); a closed upload's status is returned
    as it is. When the broker cannot be reached, :class:`~viatique_xblock.platform.queue.QueueUnavailable`
    (503) leaves the upload ``assembling``: calling again, or ``viatique_recover``, sends it.
    """
    if upload.state == UploadState.OPEN:
        missing = upload.chunk_count - UploadChunk.objects.filter(upload=upload).count()
        if missing:
            raise UploadIncomplete(N_("{missing} part(s) of the file have not arrived yet."), missing=missing)
        declared = str(sha256 or "").strip().lower()
        if not SHA256_HEX.fullmatch(declared):
            raise InvalidRequest(N_("The SHA-256 of the whole file is missing: reload the page and upload "
                                    "the file again."))
        UploadSession.objects.filter(pk=upload.pk, state=UploadState.OPEN).update(
            state=UploadState.ASSEMBLING, declared_sha256=declared, updated_at=timezone.now())
        upload.refresh_from_db()
    if upload.state == UploadState.ASSEMBLING:
        (send or batches.send_step)("assemble_upload", upload.pk)
        upload.refresh_from_db()
    return status(upload)


def _lock_assembling(upload_pk):
    """The upload, locked for this transaction, if it is ``assembling`` and no other transaction holds
    it (that one is assembling it: skipped, not waited for, where the database can); else None."""
    skip = connection.features.has_select_for_update_skip_locked
    return (UploadSession.objects.select_for_update(skip_locked=skip)
            .filter(pk=upload_pk, state=UploadState.ASSEMBLING).first())


def assemble(upload_pk, send=None):
    """Join the chunks, check the declared SHA-256, validate, store and create the batch.

    Runs in Celery. Idempotent and exclusive: the task holds the upload's row lock while it works
    (released at once if its worker dies), so a second task for the same upload (:func:`finish`
    called again, ``viatique_recover``, a redelivery) skips an upload being assembled, and finds a
    finished one no longer ``assembling``. Returns the new :class:`ScanBatch`, the batch of an upload
    already accepted, or None.
    """
    with transaction.atomic():
        upload = _lock_assembling(upload_pk)
        if upload is None:
            return UploadSession.objects.get(pk=upload_pk).batch
        return _assemble(upload, send)


def _assemble(upload, send):
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
                raise FileHashMismatch(N_("The file that arrived is not the file that was chosen (their SHA-256 "
                                          "differ). Upload it again."))
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


def fail(upload_pk, timeout=False):
    """The assembly task gave up: refuse the upload (``upload_failed``) and delete its chunks, unless
    another task is assembling it or it is closed already. Returns whether it was refused."""
    with transaction.atomic():
        upload = _lock_assembling(upload_pk)
        if upload is None:
            return False
        if timeout:
            error = UploadFailed(N_("Checking this file took longer than allowed. Split the scan into smaller "
                                    "files and upload them one after the other."))
        else:
            error = UploadFailed(N_("This file could not be checked because of a server error. Upload it again; "
                                    "if it fails again, ask your platform's support team (the reason is in the "
                                    "server's logs)."))
        _close(upload, UploadState.REFUSED, error)
    return True


def stuck(before):
    """Uploads still ``assembling`` that were finished (or last sent again) before ``before``."""
    return list(UploadSession.objects.filter(state=UploadState.ASSEMBLING, updated_at__lt=before)
                .select_related("exam").order_by("pk"))


def requeue(upload, send=None, reason="stuck"):
    """Send the assembly of an ``assembling`` upload again (audited ``recovery.upload_requeued``);
    :class:`~viatique_xblock.platform.queue.QueueUnavailable` when the broker cannot be reached."""
    now = timezone.now()
    if not UploadSession.objects.filter(pk=upload.pk, state=UploadState.ASSEMBLING,
                                        updated_at=upload.updated_at).update(updated_at=now):
        return False  # closed, or sent again, meanwhile
    try:
        (send or batches.send_step)("assemble_upload", upload.pk)
    except QueueUnavailable:
        UploadSession.objects.filter(pk=upload.pk, updated_at=now).update(updated_at=upload.updated_at)
        raise
    audit.record(upload.exam, "recovery.upload_requeued", details={
        "upload": str(upload.public_id), "file_name": upload.file_name, "reason": reason,
        "since": upload.updated_at.isoformat()})
    return True


def abandoned(before):
    """Uploads still ``open`` (chunks arriving) whose last chunk arrived before ``before``."""
    return list(UploadSession.objects.filter(state=UploadState.OPEN, updated_at__lt=before)
                .select_related("exam").order_by("pk"))


def remove_abandoned(upload):
    """Delete an abandoned upload, its chunk rows and its chunk files (audited ``recovery.upload_removed``),
    unless a chunk arrived meanwhile. Returns whether it was removed."""
    with transaction.atomic():
        locked = (UploadSession.objects.select_for_update()
                  .filter(pk=upload.pk, state=UploadState.OPEN, updated_at=upload.updated_at).first())
        if locked is None:
            return False
        chunks = UploadChunk.objects.filter(upload=locked).count()
        _delete_chunk_files(locked)
        locked.delete()  # its chunk rows go with it
        audit.record(upload.exam, "recovery.upload_removed", details={
            "upload": str(upload.public_id), "file_name": upload.file_name, "size": upload.size_bytes,
            "chunks": chunks, "created_by": upload.created_by, "last_chunk_at": upload.updated_at.isoformat()})
    log.info("Viatique removed the abandoned upload %s (%s, %s chunks)", upload.public_id, upload.file_name, chunks)
    return True


def _delete_chunk_files(upload):
    """Delete every file under the upload's chunk folder (the expected chunk names, and any other a
    request interrupted between storing a chunk and recording it may have left)."""
    store = storage.get_storage()
    names = {_chunk_name(upload, index) for index in range(upload.chunk_count)}
    folder = storage.file_name("uploads", upload.public_id)
    try:
        names.update(f"{folder}/{name}" for name in store.listdir(folder)[1])
    except (FileNotFoundError, NotImplementedError):
        pass  # no folder left, or a storage that cannot list one: the expected chunk names are deleted
    for name in sorted(names):
        if store.exists(name):
            store.delete(name)


def _close(upload, state, error, batch=None):
    """Record the outcome and delete the chunks (a refused file leaves nothing in the storage)."""
    _delete_chunk_files(upload)
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
