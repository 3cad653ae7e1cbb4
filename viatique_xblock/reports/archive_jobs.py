"""The exam archive from the staff dashboard: exported and imported by Celery tasks, with their progress.

Both are :class:`~viatique_xblock.models.ExportJob` rows, like the ZIP of graded PDFs
(:mod:`.exports`), of ``kind`` "archive" (an export) or "archive_import":

- :func:`start_export` records a job and queues ``viatique.build_exam_archive``, which runs
  :func:`build_archive`: :func:`.archive.export_exam` into a temporary file, then into the storage
  (``archives/<exam>/<job>.zip``); :func:`download` hands it out (audited ``archive.downloaded``);
  ``viatique_purge_exports`` deletes it after ``EXPORT_RETENTION_DAYS`` as it does the ZIPs.
- :func:`start_import` stores an uploaded archive (``archive-imports/<exam>/<job>.zip``), records a job
  and queues ``viatique.import_exam_archive``, which runs :func:`run_import`:
  :func:`.archive.import_exam`, then the upload is deleted whatever the outcome.

A refusal of the archive module (a :class:`~viatique_xblock.errors.ViatiqueError` with its stable code)
ends the job ``refused`` with ``details`` ``{"code", "template", "params"}``, put in words in the
reader's language by :func:`job_status`. The export and the import each write their rows in one
transaction, so their progress (files copied or stored, of the files to come) goes through the cache,
which the status reads while the job runs.
"""
import logging
import os
import tempfile

from django.core.cache import caches
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest, NotFound, ViatiqueError
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import ExportJob
from viatique_xblock.platform import conf, queue, storage
from viatique_xblock.reports import archive, exports

log = logging.getLogger(__name__)

EXPORT, IMPORT = "archive", "archive_import"
KINDS = (EXPORT, IMPORT)
#: a job whose archive module refused (its code in ``details``)
REFUSED = "refused"
#: how long a running job's progress stays in the cache
PROGRESS_TTL = 24 * 3600


EXPIRED_MESSAGE = N_("This exam archive was deleted after {days} days; export it again.")


class ImportRunning(ViatiqueError):
    code = "archive_import_running"
    status = 409


# ------------------------------------------------------------------ progress


def _cache():
    return caches[conf.get("CACHE_ALIAS")]


def _progress_key(job_pk):
    return f"viatique:archive-job:{job_pk}:progress"


def _set_progress(job_pk, done, total):
    _cache().set(_progress_key(job_pk), [done, total], PROGRESS_TTL)


def _progress(job):
    if job.state != "running":
        return job.done, job.total
    value = _cache().get(_progress_key(job.pk))
    return (value[0], value[1]) if value else (job.done, job.total)


def _finish(job_pk, **fields):
    ExportJob.objects.filter(pk=job_pk).update(updated_at=timezone.now(), **fields)
    _cache().delete(_progress_key(job_pk))


def _claim(job, takeover):
    """Move a job from ``queued`` (or ``running`` when ``takeover``) to ``running``; False when another task has it."""
    claimable = ("queued", "running") if takeover else ("queued",)
    return bool(ExportJob.objects.filter(pk=job.pk, state__in=claimable).update(
        state="running", done=0, error_message="", updated_at=timezone.now()))


def _refused(job_pk, error):
    log.info("Viatique archive job %s refused: %s", job_pk, error.code)
    _finish(job_pk, state=REFUSED, details={"code": error.code, "template": error.template,
                                            "params": {key: str(value) for key, value in error.params.items()}})


# ------------------------------------------------------------------ status


def job_status(job):
    """``{id, kind, state, done, total, created_at, created_by, ready, error, message, report}``: ``error``
    the stable code of a refusal (or of the failure), ``message`` its words; ``report`` an import's
    report (``archive.import_exam``'s) or an export's counts."""
    done, total = _progress(job)
    details = job.details or {}
    code, message = "", ""
    if job.state == REFUSED:
        code = details.get("code") or "archive_invalid"
        try:
            message = _(details.get("template") or "").format(**(details.get("params") or {}))
        except (KeyError, IndexError, ValueError):
            message = details.get("template") or ""
    elif job.state in ("failed", exports.EXPIRED):
        code = "export_expired" if job.state == exports.EXPIRED else "archive_job_failed"
        message = _(EXPIRED_MESSAGE).format(days=job.error_message.partition(":")[2]) \
            if job.state == exports.EXPIRED else _(
                "The work stopped on a server error; the details are in the server's logs.")
    return {"id": str(job.public_id), "kind": job.kind, "state": job.state, "done": done, "total": total,
            "created_at": job.created_at, "created_by": job.created_by,
            "ready": job.state == "done" and job.kind == EXPORT and bool(job.file_name),
            "error": code, "message": message, "report": details.get("report")}


def get_job(exam, public_id):
    return exports.get_job(exam, public_id, kinds=KINDS)


def overview(exam, limit=5):
    """``{archives: [the latest archive jobs], importable: bool}``: ``importable`` when the exam has no data
    (an archive is imported only into such an exam) and no import is waiting or running."""
    jobs = ExportJob.objects.filter(exam=exam, kind__in=KINDS).order_by("-created_at", "-id")[:limit]
    return {"archives": [job_status(job) for job in jobs],
            "importable": archive.is_empty(exam) and not _import_pending(exam)}


def _import_pending(exam):
    return ExportJob.objects.filter(exam=exam, kind=IMPORT, state__in=("queued", "running")).exists()


# ------------------------------------------------------------------ export


def send_export(job_pk):
    queue.send("viatique.build_exam_archive", job_pk)


def start_export(exam, actor=None, client_ip=None, publish=None, send=None):
    """Record an archive export job and queue its task (after the transaction commits); a job still ``queued``
    is sent again and returned instead. ``archive_exam_busy`` while a scan is being processed."""
    waiting = (ExportJob.objects.filter(exam=exam, kind=EXPORT, state="queued")
               .order_by("-created_at", "-id").first())
    if waiting is not None:
        exports.requeue_job(waiting, send=send, reason="asked_again")
        waiting.refresh_from_db()
        return waiting
    if archive.ScanBatch.objects.filter(exam=exam, state__in=archive.BUSY_STATES).exists():
        raise archive.ExamBusy(N_("A scan of this exam is still being processed: export it once processing is "
                                  "over."))
    with transaction.atomic():
        job = ExportJob.objects.create(exam=exam, kind=EXPORT, naming="", total=archive.stored_file_count(exam),
                                       created_by=getattr(actor, "username", "") or "")
        audit.record(exam, "archive.export_requested", actor=actor, client_ip=client_ip, publish=publish,
                     details={"export": str(job.public_id)})
        transaction.on_commit(lambda: (send or send_export)(job.pk))
    return job


def archive_name(job):
    return storage.file_name("archives", job.exam_id, f"{job.public_id}.zip")


def build_archive(job_pk, takeover=False):
    """Write the archive of an export job into the storage (idempotent and exclusive, as
    :func:`.exports.build_zip`). Returns the storage name, or ``""`` when this run built nothing."""
    job = ExportJob.objects.select_related("exam").get(pk=job_pk)
    if not _claim(job, takeover):
        log.info("Viatique archive export %s is %s: another task builds it, or it is over", job.public_id, job.state)
        return ""
    total = archive.stored_file_count(job.exam)
    counter = {"done": 0}
    _set_progress(job.pk, 0, total)

    def step():
        counter["done"] += 1
        if counter["done"] % max(1, total // 50) == 0 or counter["done"] == total:
            _set_progress(job.pk, counter["done"], total)

    with tempfile.TemporaryDirectory(prefix="viatique-archive-") as folder:
        path = os.path.join(folder, "archive.zip")
        try:
            manifest = archive.export_exam(job.exam, path, progress=step)
        except ViatiqueError as error:
            _refused(job.pk, error)
            return ""
        name = archive_name(job)
        store = storage.get_storage()
        if store.exists(name):
            store.delete(name)
        with open(path, "rb") as handle:
            saved = store.save(name, File(handle, name=os.path.basename(name)))
    _finish(job.pk, state="done", done=counter["done"], total=total, file_name=saved,
            details={"report": {"archive_id": manifest["archive_id"], "counts": manifest["counts"],
                                "missing_files": manifest["missing_files"]}})
    return saved


def download(exam, public_id, actor=None, client_ip=None, publish=None):
    """The storage name and download name of a finished archive (audited: ``archive.downloaded``)."""
    job = get_job(exam, public_id)
    if job.kind != EXPORT:
        raise NotFound(N_("This export does not exist."))
    if job.state == exports.EXPIRED:
        raise exports.ExportExpired(EXPIRED_MESSAGE, days=job.error_message.partition(":")[2])
    if job.state != "done" or not job.file_name:
        raise exports.ExportNotReady(N_("This export is not ready yet."))
    audit.record(exam, "archive.downloaded", actor=actor, client_ip=client_ip, publish=publish,
                 details={"export": str(job.public_id),
                          "archive_id": (job.details.get("report") or {}).get("archive_id")})
    return job.file_name, f"exam-archive-{exports.download_slug(exam.title)}.zip"


# ------------------------------------------------------------------ import


def send_import(job_pk):
    queue.send("viatique.import_exam_archive", job_pk)


def upload_name(job):
    return storage.file_name("archive-imports", job.exam_id, f"{job.public_id}.zip")


def start_import(exam, data, actor=None, client_ip=None, publish=None, send=None):
    """Store an uploaded archive (``data``, bytes) and queue its import. Refused at once: an empty upload
    (``invalid_request``), an exam with data (``exam_not_empty``), an import already waiting or running
    (``archive_import_running``); what the archive holds is checked by the task."""
    if not data:
        raise InvalidRequest(N_("Choose an exam archive (.zip) to import."))
    if _import_pending(exam):
        raise ImportRunning(N_("An archive is already being imported into this exam."))
    if not archive.is_empty(exam):
        raise archive.ExamNotEmpty(N_("This exam already has scans, copies or booklets: an archive is imported "
                                      "only into an exam that has none (a new block)."))
    with transaction.atomic():
        job = ExportJob.objects.create(exam=exam, kind=IMPORT, naming="", total=0,
                                       created_by=getattr(actor, "username", "") or "")
        name = upload_name(job)
        saved = storage.get_storage().save(name, ContentFile(data, name=os.path.basename(name)))
        ExportJob.objects.filter(pk=job.pk).update(file_name=saved)
        job.file_name = saved
        audit.record(exam, "archive.import_requested", actor=actor, client_ip=client_ip, publish=publish,
                     details={"import": str(job.public_id), "bytes": len(data)})
        transaction.on_commit(lambda: (send or send_import)(job.pk))
    return job


def _delete_upload(name):
    if not name:
        return
    store = storage.get_storage()
    try:
        if store.exists(name):
            store.delete(name)
    except OSError:
        log.warning("Viatique: an imported archive's upload could not be deleted: %s", name)


def run_import(job_pk, takeover=False):
    """Import the uploaded archive of a job into its exam (idempotent and exclusive); the upload is deleted
    once the job ends, imported or refused. Returns the report, or None."""
    job = ExportJob.objects.select_related("exam").get(pk=job_pk)
    if not _claim(job, takeover):
        log.info("Viatique archive import %s is %s: another task runs it, or it is over", job.public_id, job.state)
        return None
    store = storage.get_storage()
    if not job.file_name or not store.exists(job.file_name):
        _refused(job.pk, archive.ArchiveError(N_("This file is not an exam archive (not a ZIP file).")))
        return None
    with tempfile.TemporaryDirectory(prefix="viatique-import-") as folder:
        path = os.path.join(folder, "archive.zip")
        with store.open(job.file_name, "rb") as source, open(path, "wb") as target:
            for chunk in iter(lambda: source.read(archive.CHUNK), b""):
                target.write(chunk)
        seen = {"done": 0, "total": 0}

        def progress(done, total):
            seen.update(done=done, total=total)
            _set_progress(job.pk, done, total)

        try:
            report = archive.import_exam(job.exam, path, progress=progress)
        except ViatiqueError as error:
            _refused(job.pk, error)
            _delete_upload(job.file_name)
            ExportJob.objects.filter(pk=job.pk).update(file_name="")
            return None
    _finish(job.pk, state="done", file_name="", done=seen["done"], total=seen["total"], details={"report": report})
    _delete_upload(job.file_name)
    return report
