"""Exports of an exam: the grades CSV and the ZIP of graded PDFs (built by a Celery task).

Grades CSV
    One row per copy (by anonymous code), one column per question (the leaves of
    the marking scheme, in scheme order, headed ``label (id)`` so the stable id
    stays visible whatever the label becomes). UTF-8 with a BOM, so spreadsheet
    programs read accents right. Two separators:

    - ``comma``: numbers with a decimal point (``12.5``);
    - ``semicolon``: numbers with a decimal comma (``12,5``), as spreadsheets
      set up for French and most European languages expect with that separator.

    Formula injection: every *text* cell (codes, names, usernames, labels, states)
    that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe, so a spreadsheet shows it as text and never evaluates it.
    Numbers are written by this module from decimals (points are never negative),
    so they stay numbers.

    Two queries whatever the number of copies (the copies, then every point of the
    exam), both ``values_list`` rows; the file is built in memory (about 100 bytes a
    copy, 1 MB for 10,000 copies).

ZIP of graded PDFs
    :func:`start_zip` records an :class:`~viatique_xblock.models.ExportJob` and queues
    :func:`build_zip` (``workers/reports.py``), which writes every graded copy's PDF
    into one ZIP (stored, not compressed again: PDFs already are) in the storage,
    counting ``done``/``total`` as it goes. Inside, a PDF is named after the learner's
    username (``naming="username"``, identified copies only) or the anonymous code.
"""
import csv
import datetime
import io
import logging
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from decimal import Decimal

from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from viatique_xblock import audit, scheme as scheme_module
from viatique_xblock.errors import InvalidRequest, NotFound, ViatiqueError
from viatique_xblock.grading import rubrics
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import Copy, ExportJob, QuestionPoints
from viatique_xblock.platform import conf, monitoring, queue, storage
from viatique_xblock.states import Grading, Identity

log = logging.getLogger(__name__)

SEPARATORS = {"comma": ",", "semicolon": ";"}
BOM = "\ufeff"
#: first characters a spreadsheet takes as the start of a formula (or that hide one)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NAMINGS = ("username", "code")


# ------------------------------------------------------------------------- CSV helpers

def neutralise(text):
    """A text cell a spreadsheet will show as text: a leading apostrophe before a formula start."""
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def number_cell(value, decimal_comma=False):
    """A number as a CSV cell (empty for None): shortest form, decimal comma on request."""
    if value is None:
        return ""
    text = str(scheme_module.plain_number(value))
    return text.replace(".", ",") if decimal_comma else text


def separator(raw):
    """The separator character of a ``separator`` parameter (``comma`` by default)."""
    if raw in (None, ""):
        return ","
    if raw not in SEPARATORS:
        raise InvalidRequest(N_("The separator must be “comma” or “semicolon”."))
    return SEPARATORS[raw]


def csv_text(rows, delimiter):
    """The CSV document of ``rows`` (lists of already neutralised cells), with a BOM, as bytes."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def download_slug(text, fallback="exam"):
    """A file-name part from a title, its letters kept, accents included ("Bac blanc de mathématiques"
    gives "bac-blanc-de-mathématiques"): the download's header sends it in RFC 6266 ``filename*`` form
    with an ASCII fallback (:func:`viatique_xblock.files.content_disposition`)."""
    slug = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", str(text or ""))).strip("-").lower()[:60]
    return slug or fallback


# ------------------------------------------------------------------------- grades CSV

def grade_header(leaves, grade_scale, rubric=False):
    header = [_("Code"), _("Username"), _("Name"), _("Identity"), _("Grading state"), _("Grader"), _("Total")]
    if grade_scale:
        header.append(_("Total on {scale}").format(scale=scheme_module.plain_number(grade_scale)))
    header.extend(f"{leaf['label']} ({leaf['id']})" for leaf in leaves)
    if rubric:
        header.extend(_("{question}: rubric").format(question=f"{leaf['label']} ({leaf['id']})") for leaf in leaves)
    return [neutralise(cell) for cell in header]


def rubric_cell(items, adjustment, comment):
    """One question's rubric as one cell: the items applied with their points, then the adjustment and the
    comment ("Pas de justification (-1); Méthode (+1.5); Adjustment +0.5; Bien vu")."""
    parts = [f"{item['text']} ({item['points']})" if item["points"] else item["text"] for item in items]
    if adjustment:
        parts.append(_("Adjustment {points}").format(points=adjustment))
    if comment:
        parts.append(comment)
    return neutralise("; ".join(parts))


def grade_rows(exam, grade_scale=0, decimal_comma=False):
    """The grades CSV as rows (header first): three queries whatever the number of copies. When rubric items
    are applied to the exam's copies, one more column per question lists them with their points, then the
    adjustment and the comment (:func:`rubric_cell`)."""
    leaves = scheme_module.leaves(exam.scheme)
    ids = [leaf["id"] for leaf in leaves]
    maximum = scheme_module.total(exam.scheme)
    scale = Decimal(str(grade_scale)) if grade_scale else None
    points, rows = {}, {}
    for row in QuestionPoints.objects.filter(copy__exam=exam).only("copy_id", "question_id", "points", "adjustment",
                                                                   "comment"):
        points.setdefault(row.copy_id, {})[row.question_id] = row.points
        rows[(row.copy_id, row.question_id)] = row
    applied = rubrics.applied_details(copy__exam=exam)
    yield grade_header(leaves, grade_scale, rubric=bool(applied))
    copies = (Copy.objects.filter(exam=exam).order_by("anonymous_code")
              .values_list("id", "anonymous_code", "learner_username", "learner_name", "identity_state",
                           "grading_state", "grader", "total_points"))
    for copy_id, code, username, name, identity, state, grader, total in copies.iterator(chunk_size=2000):
        identified = identity == Identity.IDENTIFIED
        row = [neutralise(code), neutralise(username if identified else ""),
               neutralise(name if identified else ""), identity, state, neutralise(grader),
               number_cell(total, decimal_comma)]
        if scale is not None:
            on_scale = None
            if total is not None and maximum:
                on_scale = (total * scale / maximum).quantize(Decimal("0.01"))
            row.append(number_cell(on_scale, decimal_comma))
        mine = points.get(copy_id, {})
        row.extend(number_cell(mine.get(question_id), decimal_comma) for question_id in ids)
        if applied:
            for question_id in ids:
                items, stored = applied.get((copy_id, question_id), []), rows.get((copy_id, question_id))
                row.append(rubric_cell(items, rubrics.shown_adjustment(stored, items),
                                       stored.comment if stored else ""))
        yield row


def grades_csv(exam, separator_name=None, grade_scale=0, actor=None, client_ip=None, publish=None):
    """The grades CSV of an exam as bytes (audited as a download: ``export.grades_csv``)."""
    delimiter = separator(separator_name)
    data = csv_text(grade_rows(exam, grade_scale, decimal_comma=delimiter == ";"), delimiter)
    audit.record(exam, "export.grades_csv", actor=actor, client_ip=client_ip, publish=publish,
                 details={"separator": "semicolon" if delimiter == ";" else "comma", "bytes": len(data)})
    return data


# ------------------------------------------------------------------------- ZIP of PDFs

class ExportNotReady(ViatiqueError):
    code = "export_not_ready"
    status = 409


class ExportExpired(ViatiqueError):
    code = "export_expired"
    status = 410


class NothingToExport(ViatiqueError):
    code = "nothing_to_export"
    status = 409


def graded_copies(exam):
    """The copies whose graded PDF exists, by code."""
    return (Copy.objects.filter(exam=exam, grading_state=Grading.GRADED).exclude(graded_pdf_name="")
            .order_by("anonymous_code"))


def start_zip(exam, naming, actor=None, client_ip=None, publish=None, send=None):
    """Record an export job and queue its task (after the transaction commits).

    Idempotent while the job waits: when the exam already has a job of this ``naming`` still
    ``queued`` (its task may never have reached the broker), that job's task is sent again and
    the job returned; the task builds a job once (:func:`build_zip`). When the broker cannot be
    reached, :class:`~viatique_xblock.platform.queue.QueueUnavailable` (503) leaves the job
    ``queued``: calling again, or ``viatique_recover``, sends it.
    """
    if naming not in NAMINGS:
        raise InvalidRequest(N_("Name the PDFs by “username” or by “code”."))
    waiting = (ExportJob.objects.filter(exam=exam, kind="zip", naming=naming, state="queued")
               .order_by("-created_at", "-id").first())
    if waiting is not None:
        requeue_job(waiting, send=send, reason="asked_again")
        waiting.refresh_from_db()
        return waiting
    total = graded_copies(exam).count()
    if not total:
        raise NothingToExport(N_("No copy has a graded PDF yet."))
    with transaction.atomic():
        job = ExportJob.objects.create(exam=exam, naming=naming, total=total,
                                       created_by=getattr(actor, "username", "") or "")
        audit.record(exam, "export.zip_requested", actor=actor, client_ip=client_ip, publish=publish,
                     details={"export": str(job.public_id), "naming": naming, "copies": total})
        transaction.on_commit(lambda: (send or send_export)(job.pk))
    return job


def send_export(job_pk):
    """Queue the ZIP export task of a job, by the task's name."""
    queue.send("viatique.build_export_zip", job_pk)


#: the task that builds each kind of job other than "zip" (:mod:`.archive_jobs`, and the booklets of
#: :mod:`viatique_xblock.scanning.booklet_jobs`), sent again by :func:`requeue_job`
SENDERS = {
    "archive": lambda job_pk: queue.send("viatique.build_exam_archive", job_pk),
    "archive_import": lambda job_pk: queue.send("viatique.import_exam_archive", job_pk),
    "booklets": lambda job_pk: queue.send("viatique.print_booklets", job_pk),
}


def stuck_jobs(queued_before, running_before):
    """Jobs ``queued`` since before ``queued_before`` (or last sent again then), and jobs ``running``
    since before ``running_before`` (when their task claimed them: a task cannot run longer than
    ``TASK_TIME_LIMIT``, so the caller gives a time at least that far back)."""
    return list(ExportJob.objects.filter(Q(state="queued", updated_at__lt=queued_before)
                                         | Q(state="running", updated_at__lt=running_before))
                .select_related("exam").order_by("pk"))


def requeue_job(job, send=None, reason="stuck"):
    """Send a ``queued`` job's task again, or put a ``running`` job whose task died back to ``queued``
    and send it (audited ``recovery.export_requeued`` unless the instructor asked again). Returns whether
    it was sent; :class:`~viatique_xblock.platform.queue.QueueUnavailable` when the broker cannot be reached."""
    now = timezone.now()
    if not ExportJob.objects.filter(pk=job.pk, state=job.state, updated_at=job.updated_at).update(
            state="queued", updated_at=now):
        return False  # it moved on, or was sent again, meanwhile
    try:
        (send or SENDERS.get(job.kind, send_export))(job.pk)
    except queue.QueueUnavailable:
        ExportJob.objects.filter(pk=job.pk, updated_at=now).update(updated_at=job.updated_at)
        raise
    if reason != "asked_again":
        audit.record(job.exam, "recovery.export_requeued", details={
            "export": str(job.public_id), "state": job.state, "done": job.done, "total": job.total,
            "reason": reason, "since": job.updated_at.isoformat()})
    return True


def get_job(exam, public_id, kinds=("zip",)):
    """An export job of this exam (of one of ``kinds``) by its public id, or :class:`NotFound`."""
    try:
        value = uuid.UUID(str(public_id or "").strip())
    except ValueError:
        value = None
    job = ExportJob.objects.filter(exam=exam, kind__in=kinds, public_id=value).first() if value else None
    if job is None:
        raise NotFound(N_("This export does not exist."))
    return job


#: the state of a job whose ZIP :func:`purge` deleted
EXPIRED = "expired"


def job_status(job):
    return {"id": str(job.public_id), "state": job.state, "naming": job.naming, "done": job.done,
            "total": job.total, "created_at": job.created_at, "created_by": job.created_by,
            "error": error_text(job.error_message), "ready": job.state == "done"}


#: a job's ``error_message`` is ``<code>:<detail>``, put in words in the reader's language by :func:`error_text`
#: (never an exception's own text: it may name server paths; that stays in the logs)
ERROR_TIMEOUT, ERROR_FAILED, ERROR_MISSING = "timeout", "failed", "missing"
#: an expired job's ``error_message``: ``expired:<days>`` (the retention it was deleted under)
ERROR_EXPIRED = "expired"
EXPIRED_MESSAGE = N_("This ZIP was deleted after {days} days; build a new one.")


def error_text(stored):
    """The translated words of a job's stored error (``""`` for none)."""
    if not stored:
        return ""
    code, _sep, detail = stored.partition(":")
    if code == ERROR_EXPIRED:
        return _(EXPIRED_MESSAGE).format(days=detail)
    if code == ERROR_MISSING:
        return _("Missing graded PDFs: {codes}").format(codes=detail)
    if code == ERROR_TIMEOUT:
        return _("The export took longer than the time limit.")
    return _("The export failed ({kind}); the details are in the server's logs.").format(
        kind=detail if code == ERROR_FAILED else "?")


def recent_jobs(exam, limit=5):
    jobs = ExportJob.objects.filter(exam=exam, kind="zip").order_by("-created_at", "-id")[:limit]
    return [job_status(job) for job in jobs]


def zip_name(job):
    return storage.file_name("exports", job.exam_id, f"{job.public_id}.zip")


def safe_file_name(text):
    """A file name part with only ASCII letters, digits, ``.``, ``_`` and ``-``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text or "")).strip("._-")[:100]
    return cleaned or "copy"


def member_names(rows, naming):
    """``{copy_id: "name.pdf"}``, unique: usernames for identified copies when asked, else codes."""
    names, taken = {}, set()
    for copy_id, code, identity, username in rows:
        use_username = naming == "username" and identity == Identity.IDENTIFIED and username
        base = safe_file_name(username if use_username else code)
        name, number = f"{base}.pdf", 2
        while name.lower() in taken:
            name, number = f"{base}-{number}.pdf", number + 1
        taken.add(name.lower())
        names[copy_id] = name
    return names


def build_zip(job_pk, progress_every=None, takeover=False):
    """Write the ZIP of an export job into the storage.

    Idempotent and exclusive: the task claims the job, moving it from ``queued`` to ``running``
    (the claim's time is the job's ``updated_at``); a job another task claimed is left to it, and a
    finished job alone. ``takeover``: this run is a retry, or the redelivery of a task whose worker
    died, so it takes a ``running`` job over and writes the same storage name again. Returns the
    ZIP's storage name, or ``""`` when this run built nothing."""
    job = ExportJob.objects.select_related("exam").get(pk=job_pk)
    store = storage.get_storage()
    name = zip_name(job)
    if job.state == "done" and store.exists(job.file_name or name):
        return job.file_name
    claimable = ("queued", "running") if takeover else ("queued",)
    if not ExportJob.objects.filter(pk=job.pk, state__in=claimable).update(
            state="running", done=0, error_message="", updated_at=timezone.now()):
        log.info("Viatique export %s is %s: another task builds it, or it is over", job.public_id, job.state)
        return ""
    rows = list(graded_copies(job.exam).values_list("id", "anonymous_code", "identity_state",
                                                    "learner_username", "graded_pdf_name"))
    names = member_names([row[:4] for row in rows], job.naming)
    total = len(rows)
    every = progress_every or max(1, total // 50)
    ExportJob.objects.filter(pk=job.pk).update(total=total)
    missing = []
    with monitoring.span("build_export_zip"), tempfile.TemporaryFile(prefix="viatique-export-") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for done, (copy_id, code, _identity, _username, pdf_name) in enumerate(rows, start=1):
                if store.exists(pdf_name):
                    with store.open(pdf_name, "rb") as source, archive.open(names[copy_id], "w") as target:
                        for chunk in iter(lambda: source.read(256 * 1024), b""):
                            target.write(chunk)
                else:
                    missing.append(code)
                if done % every == 0 or done == total:
                    ExportJob.objects.filter(pk=job.pk).update(done=done)
        handle.seek(0)
        if store.exists(name):
            store.delete(name)
        saved = store.save(name, File(handle, name=os.path.basename(name)))
    message = ""
    if missing:
        message = f"{ERROR_MISSING}:" + ", ".join(missing)
        log.warning("Viatique export %s: missing graded PDFs of %s", job.public_id, ", ".join(missing))
    ExportJob.objects.filter(pk=job.pk).update(state="done", done=total, file_name=saved, error_message=message)
    return saved


def fail_job(job_pk, code, detail=""):
    """Mark a job failed with a stable ``code`` (:data:`ERROR_TIMEOUT`, :data:`ERROR_FAILED`) and a short detail."""
    ExportJob.objects.filter(pk=job_pk).update(state="failed", error_message=f"{code}:{detail}"[:2000])


def download(exam, public_id, actor=None, client_ip=None, publish=None):
    """The storage name and download name of a finished export (audited: ``export.zip_downloaded``)."""
    job = get_job(exam, public_id)
    if job.state == EXPIRED:
        raise ExportExpired(EXPIRED_MESSAGE, days=job.error_message.partition(":")[2])
    if job.state != "done" or not job.file_name:
        raise ExportNotReady(N_("This export is not ready yet."))
    audit.record(exam, "export.zip_downloaded", actor=actor, client_ip=client_ip, publish=publish,
                 details={"export": str(job.public_id), "naming": job.naming, "copies": job.total})
    return job.file_name, f"graded-copies-{download_slug(exam.title)}.zip"


def purge(days=None, dry_run=False):
    """Delete the ZIPs of exports finished more than ``days`` (default ``EXPORT_RETENTION_DAYS``; 0:
    none) days ago and mark their jobs ``expired`` (the instructor then builds a new one). Jobs
    still queued or running are left alone. Returns the public ids of the jobs purged (or that
    would be, with ``dry_run``)."""
    days = conf.get("EXPORT_RETENTION_DAYS") if days is None else days
    if not days:
        return []
    cutoff = timezone.now() - datetime.timedelta(days=days)
    jobs = list(ExportJob.objects.filter(state="done", updated_at__lt=cutoff).exclude(file_name="").order_by("id"))
    if dry_run:
        return [str(job.public_id) for job in jobs]
    store = storage.get_storage()
    for job in jobs:
        if store.exists(job.file_name):
            store.delete(job.file_name)
        ExportJob.objects.filter(pk=job.pk).update(state=EXPIRED, file_name="",
                                                   error_message=f"{ERROR_EXPIRED}:{days}")
        log.info("Viatique export %s of exam %s deleted after %s days", job.public_id, job.exam_id, days)
    return [str(job.public_id) for job in jobs]
