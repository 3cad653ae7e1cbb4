"""XBlock handlers of the scan pipeline: resumable uploads, progress, the anomaly queue, printable booklets.

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks permission
(through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates to the scanning stage's
modules. The contract is docs/handlers.md ("Scans").
"""
from viatique_xblock import exams, files, permissions
from viatique_xblock.jsonapi import api_handler
from viatique_xblock.platform import compat, conf
from viatique_xblock.scanning import anomalies, batches, booklet_jobs, booklets, subjects, uploads


class ScanningHandlers:
    """Handlers mixed into the block (instructors, and staff for the progress)."""

    @api_handler(permission=permissions.instructor)
    def upload_start(self, request, user, data, suffix=""):
        """Open a resumable upload: ``{"file_name", "size", "split_mode"}``."""
        upload = uploads.start(self.get_exam(), user, data.get("file_name"), data.get("size"),
                               data.get("split_mode") or "auto")
        return uploads.status(upload)

    @api_handler(permission=permissions.instructor, raw_body=lambda: conf.get("UPLOAD_CHUNK_BYTES"))
    def upload_chunk(self, request, user, data, suffix=""):
        """One chunk as the raw body; suffix ``<upload_id>/<index>``; header ``X-Chunk-SHA256``."""
        upload_id, _, index = suffix.partition("/")
        upload = uploads.get(self.get_exam(), upload_id)
        return uploads.put_chunk(upload, index, data, request.headers.get("X-Chunk-SHA256"))

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def upload_status(self, request, user, data, suffix=""):
        """Which chunks arrived and the upload's state (suffix: the upload id)."""
        return uploads.status(uploads.get(self.get_exam(), suffix))

    @api_handler(permission=permissions.instructor)
    def upload_finish(self, request, user, data, suffix=""):
        """All chunks sent: ``{"upload_id", "sha256"}``; assembly and validation run in Celery."""
        upload = uploads.get(self.get_exam(), data.get("upload_id"))
        return uploads.finish(upload, data.get("sha256"))

    @api_handler(permission=permissions.staff, methods=("GET",))
    def scan_progress(self, request, user, data, suffix=""):
        """Batches with pages done / total, and the latest uploads with their outcome."""
        exam = self.get_exam()
        return {"batches": batches.progress(exam, show_file_names=user.is_instructor),
                "uploads": uploads.recent(exam) if user.is_instructor else [],
                "progress": exams.progress(exam)}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def anomaly_queue(self, request, user, data, suffix=""):
        """Pages waiting to be placed, and copies missing pages."""
        return anomalies.queue(self.get_exam())

    @api_handler(permission=permissions.instructor)
    def fix_page(self, request, user, data, suffix=""):
        """``{"page_id", "action": "assign"|"discard"|"restore", "copy_id", "position"}``: place a page (from
        the queue or another copy; no position: after the copy's last page), discard it, or undo a discard."""
        exam = self.get_exam()
        context = self._audit_context(request)
        action = data.get("action")
        if action == "discard":
            anomalies.discard_page(exam, data.get("page_id"), actor=user, **context)
        elif action == "restore":
            anomalies.restore_page(exam, data.get("page_id"), actor=user, **context)
        else:
            anomalies.assign_page(exam, data.get("page_id"), data.get("copy_id"), data.get("position"),
                                  actor=user, **context)
        return anomalies.queue(exam)

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def copy_pages(self, request, user, data, suffix=""):
        """The pages of one copy (suffix: its public id), to move or discard them."""
        return anomalies.copy_pages(self.get_exam(), suffix)

    @api_handler(permission=permissions.instructor)
    def accept_missing(self, request, user, data, suffix=""):
        """``{"copy_id", "accepted"}``: accept a copy without its missing pages (or take that back)."""
        exam = self.get_exam()
        anomalies.accept_missing(exam, data.get("copy_id"), data.get("accepted", True) is not False, actor=user,
                                 **self._audit_context(request))
        return anomalies.queue(exam)

    @api_handler(permission=permissions.instructor)
    def merge_copies(self, request, user, data, suffix=""):
        """``{"source_copy_id", "target_copy_id"}``: two partial copies of one learner become one."""
        exam = self.get_exam()
        anomalies.merge_copies(exam, data.get("source_copy_id"), data.get("target_copy_id"), actor=user,
                               **self._audit_context(request))
        return anomalies.queue(exam)

    @api_handler(permission=permissions.instructor, raw_body=lambda: conf.get("MAX_UPLOAD_BYTES"))
    def print_booklets(self, request, user, data, suffix=""):
        """The printable booklets as a PDF download. Body: the blank exam PDF (or nothing for blank
        pages); query: ``copies``, ``blank_pages``, ``prenamed=1`` (one booklet per enrolled learner)."""
        query = request.GET
        learners = compat.roster(self) if query.get("prenamed") in ("1", "true") else None
        pdf, numbers = booklets.print_booklets(
            self.get_exam(), copies=query.get("copies"), subject=data or None,
            blank_pages=query.get("blank_pages"), learners=learners, actor=user, **self._audit_context(request))
        return files.bytes_response(pdf, "application/pdf", f"booklets-{len(numbers)}.pdf")

    @api_handler(permission=permissions.instructor)
    def booklet_print(self, request, user, data, suffix=""):
        """The print screen: ``{prenamed, copies, pages, extra_pages, subject}`` (``subject``: on the uploaded
        blank exam, not on ``pages`` blank pages); the PDF is made by a task
        (:mod:`~viatique_xblock.scanning.booklet_jobs`). Answers the print run's status."""
        prenamed = data.get("prenamed") in (True, "1", "true")
        job = booklet_jobs.start(
            self.get_exam(), prenamed=prenamed, copies=data.get("copies"), pages=data.get("pages"),
            extra_pages=data.get("extra_pages"), learners=compat.roster(self) if prenamed else None,
            subject=data.get("subject") in (True, "1", "true"), actor=user, **self._audit_context(request))
        return booklet_jobs.job_status(job)

    @api_handler(permission=permissions.instructor, raw_body=lambda: subjects.limit())
    def booklet_subject(self, request, user, data, suffix=""):
        """The blank exam to print the booklets on: the PDF as the body, its file name in the query
        (``name``). Answers what the print screen shows of it (:func:`~viatique_xblock.scanning.subjects.info`)."""
        return subjects.store(self.get_exam(), data, request.GET.get("name"), actor=user,
                              **self._audit_context(request))

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def booklet_status(self, request, user, data, suffix=""):
        """A print run's status (``id``), or ``{"jobs": [the latest], "pages_per_copy", "subject",
        "max_subject_bytes"}`` (the blank exam uploaded, or None; the largest one accepted) and, with ``roster=1``,
        ``"roster"``: the number of enrolled learners (the prenamed booklets a print run would make)."""
        exam = self.get_exam()
        if data.get("id"):
            return booklet_jobs.job_status(booklet_jobs.get_job(exam, data.get("id")))
        answer = {"jobs": booklet_jobs.recent_jobs(exam), "pages_per_copy": exam.pages_per_copy,
                  "subject": subjects.info(exam), "max_subject_bytes": subjects.limit()}
        if data.get("roster") in ("1", "true"):
            answer["roster"] = len(compat.roster(self))
        return answer

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def booklet_download(self, request, user, data, suffix=""):
        """The PDF of a finished print run (its id as the suffix)."""
        name, download_name = booklet_jobs.download(self.get_exam(), suffix, actor=user,
                                                     **self._audit_context(request))
        return files.stored_file_response(name, download_name)
