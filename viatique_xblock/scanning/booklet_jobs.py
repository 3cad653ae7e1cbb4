"""Booklets printed from the dashboard's print screen: the PDF made by a Celery task, with its progress.

A print run is an :class:`~viatique_xblock.models.ExportJob` of ``kind`` "booklets", like the ZIP of
graded PDFs (:mod:`viatique_xblock.reports.exports`), so the recovery sends a lost one again and
``viatique_purge_exports`` deletes its PDF after ``EXPORT_RETENTION_DAYS``:

- :func:`start` checks the request, reserves the booklet numbers at once (random, never used before:
  :func:`.booklets.reserve`; prenamed booklets remember their learner), records the job with the
  numbers in print order in ``details`` and queues ``viatique.print_booklets`` once the transaction
  commits. Audited ``booklets.printed``, as a print run from the command.
- :func:`build` (the task) makes the PDF (:func:`viatique_xblock.pdf.booklets.make_booklets`, the
  covers of :func:`.booklets.cover`), counting the booklets made in ``done``, and stores it
  (``booklets/<exam>/<job>.pdf``). Idempotent and exclusive as :func:`.reports.exports.build_zip`.
- :func:`job_status`, :func:`recent_jobs` and :func:`download` (the stored PDF, audited
  ``booklets.downloaded``).
"""
import logging
import os
import uuid

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest, NotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.inputs import whole_number
from viatique_xblock.models import Booklet, ExportJob
from viatique_xblock.pdf import booklets as pdf_booklets
from viatique_xblock.platform import queue, storage
from viatique_xblock.scanning import batches, booklets, subjects

log = logging.getLogger(__name__)

KIND = "booklets"
TASK = "viatique.print_booklets"


class BookletsNotReady(ViatiqueError):
    code = "booklets_not_ready"
    status = 409


def send(job_pk):
    """Queue the task that makes a print run's PDF, by its name."""
    queue.send(TASK, job_pk)


def _count(raw, default, low, high, message, **params):
    value = whole_number(raw, default)
    if value is None or not low <= value <= high:
        raise InvalidRequest(message, **params)
    return value


def start(exam, *, prenamed=False, copies=None, pages=None, extra_pages=0, learners=None, subject=False,
          actor=None, client_ip=None, publish=None, send_task=None):
    """Record a print run and queue its task; return the job.

    Anonymous (``copies`` booklets) or prenamed (one per learner of ``learners``, the course's roster, in
    its order); ``pages`` blank pages per booklet (default: the exam's pages per copy), or with ``subject``
    the pages of the exam's blank exam (:mod:`.subjects`, kept in the job as it is now: a later upload does
    not change this run), then ``extra_pages`` blank pages. Refused (``invalid_request``) before any number
    is reserved: a count out of range, too many pages in all, an empty roster, no blank exam uploaded."""
    if prenamed:
        learners = list(learners or [])
        if not learners:
            raise InvalidRequest(N_("Nobody is enrolled in this course yet: there is no booklet to prename."))
        copies = len(learners)
    copies = _count(copies, None, 1, booklets.MAX_COPIES, N_("Choose from 1 to {max} booklets."),
                    max=booklets.MAX_COPIES)
    record = None
    if subject:
        record = dict(exam.subject or {})
        if not record.get("file"):
            raise InvalidRequest(N_("Upload the blank exam first, or print on blank pages."))
        pages = record["pages"]
    pages = _count(pages, exam.pages_per_copy, 1, pdf_booklets.MAX_BOOKLET_PAGES,
                   N_("A booklet has from 1 to {max} pages."), max=pdf_booklets.MAX_BOOKLET_PAGES)
    extra_pages = _count(extra_pages, 0, 0, pdf_booklets.MAX_BOOKLET_PAGES,
                         N_("A booklet has from 0 to {max} extra blank pages."), max=pdf_booklets.MAX_BOOKLET_PAGES)
    booklets.check_pages(pages, copies, extra_pages)
    with transaction.atomic():
        numbers = booklets.reserve(exam, learners if prenamed else None, copies, actor)
        job = ExportJob.objects.create(
            exam=exam, kind=KIND, naming="", total=copies, created_by=getattr(actor, "username", "") or "",
            details={"numbers": numbers, "pages": pages, "extra_pages": extra_pages, "prenamed": bool(prenamed),
                     "subject": record})
        audit.record(exam, "booklets.printed", actor=actor, client_ip=client_ip, publish=publish, details={
            "copies": copies, "prenamed": bool(prenamed), "subject": bool(record), "pages": pages,
            "extra_pages": extra_pages, "job": str(job.public_id)})
        transaction.on_commit(lambda: (send_task or send)(job.pk))
    return job


def pdf_name(job):
    return storage.file_name("booklets", job.exam_id, f"{job.public_id}.pdf")


def build(job_pk, takeover=False):
    """Make and store the PDF of a print run (the task). Returns its storage name, or ``""`` when this run
    made nothing (another task has the job, or it is over)."""
    job = ExportJob.objects.select_related("exam").get(pk=job_pk)
    claimable = ("queued", "running") if takeover else ("queued",)
    if not ExportJob.objects.filter(pk=job.pk, state__in=claimable).update(
            state="running", done=0, error_message="", updated_at=timezone.now()):
        log.info("Viatique print run %s is %s: another task makes it, or it is over", job.public_id, job.state)
        return ""
    details = job.details or {}
    numbers = list(details.get("numbers") or [])
    names = None
    if details.get("prenamed"):
        by_number = dict(Booklet.objects.filter(exam=job.exam, number__in=numbers)
                         .values_list("number", "learner_name"))
        names = [by_number.get(number) or "?" for number in numbers]

    def progress(done):
        ExportJob.objects.filter(pk=job.pk).update(done=done)

    record = details.get("subject")
    pdf = pdf_booklets.make_booklets(
        subjects.read(record) if record else None,
        blank_pages=None if record else details.get("pages") or job.exam.pages_per_copy,
        extra_pages=details.get("extra_pages") or 0,
        exam_ref=batches.exam_ref(job.exam), names=names, numbers=numbers, cover=booklets.cover(job.exam),
        progress=progress)
    name = pdf_name(job)
    store = storage.get_storage()
    if store.exists(name):
        store.delete(name)
    saved = store.save(name, ContentFile(pdf, name=os.path.basename(name)))
    ExportJob.objects.filter(pk=job.pk).update(state="done", done=len(numbers), file_name=saved,
                                               updated_at=timezone.now())
    return saved


def get_job(exam, public_id):
    """A print run of this exam by its public id, or :class:`NotFound`."""
    try:
        value = uuid.UUID(str(public_id or "").strip())
    except ValueError:
        value = None
    job = ExportJob.objects.filter(exam=exam, kind=KIND, public_id=value).first() if value else None
    if job is None:
        raise NotFound(N_("This print run does not exist."))
    return job


def job_status(job):
    """``{id, state, done, total, pages, extra_pages, prenamed, subject, ready, failed, created_at, created_by}``
    (``subject``: the file name of the blank exam printed, or None for blank pages)."""
    details = job.details or {}
    return {"id": str(job.public_id), "state": job.state, "done": job.done, "total": job.total,
            "pages": details.get("pages"), "extra_pages": details.get("extra_pages") or 0,
            "subject": (details.get("subject") or {}).get("name"),
            "prenamed": bool(details.get("prenamed")), "ready": job.state == "done" and bool(job.file_name),
            "failed": job.state in ("failed", "expired"), "created_at": job.created_at,
            "created_by": job.created_by}


def recent_jobs(exam, limit=5):
    jobs = ExportJob.objects.filter(exam=exam, kind=KIND).order_by("-created_at", "-id")[:limit]
    return [job_status(job) for job in jobs]


def download(exam, public_id, actor=None, client_ip=None, publish=None):
    """The storage name and download name of a print run's PDF (audited ``booklets.downloaded``)."""
    job = get_job(exam, public_id)
    if job.state != "done" or not job.file_name:
        raise BookletsNotReady(N_("These booklets are not ready yet."))
    audit.record(exam, "booklets.downloaded", actor=actor, client_ip=client_ip, publish=publish,
                 details={"job": str(job.public_id), "copies": job.total})
    kind = "prenamed" if (job.details or {}).get("prenamed") else "anonymous"
    return job.file_name, f"booklets-{kind}-{job.total}.pdf"
