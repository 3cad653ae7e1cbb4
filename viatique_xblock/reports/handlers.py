"""XBlock handlers of exports (grades CSV, ZIP of graded PDFs, the exam archive), statistics and the audit log viewer (issue 6).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module (:mod:`~viatique_xblock.reports.exports`, :mod:`~viatique_xblock.reports.statistics`,
:mod:`~viatique_xblock.reports.audit_log`). Every download is audited.
"""
from viatique_xblock import files, inputs, permissions
from viatique_xblock.jsonapi import api_handler
from viatique_xblock.platform import conf
from viatique_xblock.reports import archive_jobs, audit_log, exports, statistics

CSV_TYPE = "text/csv; charset=utf-8"


#: the largest offset asked of the database (an absurd one made MariaDB refuse the query: a 500)
MAX_OFFSET = 10 ** 9


def _int(raw, default, high=MAX_OFFSET):
    """A whole number from a query parameter, ``default`` when it is none, kept within ``[0, high]``."""
    return inputs.whole_number(raw, default, 0, high, clamp=True)


class ReportsHandlers:
    """Handlers mixed into the block."""

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def grades_csv(self, request, user, data, suffix=""):
        """The grades CSV (``?separator=comma|semicolon``): one row per copy, one column per question."""
        exam = self.get_exam()
        body = exports.grades_csv(exam, data.get("separator"), grade_scale=self.grade_scale, actor=user,
                                  **self._audit_context(request))
        return files.bytes_response(body, CSV_TYPE, f"grades-{exports.download_slug(exam.title)}.csv")

    @api_handler(permission=permissions.instructor)
    def export_zip(self, request, user, data, suffix=""):
        """``{"naming": "username"|"code"}``: queue a ZIP of the graded PDFs; answers the job's status."""
        job = exports.start_zip(self.get_exam(), data.get("naming") or "code", actor=user,
                                **self._audit_context(request))
        return exports.job_status(job)

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def export_status(self, request, user, data, suffix=""):
        """``?id=<export id>``: one job's progress; without ``id``: ``{"exports": [the latest jobs]}``."""
        exam = self.get_exam()
        if data.get("id"):
            return exports.job_status(exports.get_job(exam, data.get("id")))
        return {"exports": exports.recent_jobs(exam)}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def export_download(self, request, user, data, suffix=""):
        """``export_download/<export id>``: the finished ZIP, streamed privately (audited)."""
        name, download_name = exports.download(self.get_exam(), suffix.strip("/"), actor=user,
                                               **self._audit_context(request))
        return files.stored_file_response(name, download_name)

    @api_handler(permission=permissions.instructor)
    def archive_export(self, request, user, data, suffix=""):
        """Queue the exam's archive (docs/archive.md); answers the job's status."""
        job = archive_jobs.start_export(self.get_exam(), actor=user, **self._audit_context(request))
        return archive_jobs.job_status(job)

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def archive_status(self, request, user, data, suffix=""):
        """``?id=<job id>``: an archive job's progress; without ``id``: ``{"archives": [...], "importable"}``."""
        exam = self.get_exam()
        if data.get("id"):
            return archive_jobs.job_status(archive_jobs.get_job(exam, data.get("id")))
        return archive_jobs.overview(exam)

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def archive_download(self, request, user, data, suffix=""):
        """``archive_download/<job id>``: the finished archive, streamed privately (audited)."""
        name, download_name = archive_jobs.download(self.get_exam(), suffix.strip("/"), actor=user,
                                                    **self._audit_context(request))
        return files.stored_file_response(name, download_name)

    @api_handler(permission=permissions.instructor, raw_body=lambda: conf.get("ARCHIVE_IMPORT_MAX_BYTES"))
    def archive_import(self, request, user, data, suffix=""):
        """An exam archive (.zip) as the raw body: stored, then imported by a task; answers the job's status."""
        job = archive_jobs.start_import(self.get_exam(), data, actor=user, **self._audit_context(request))
        return archive_jobs.job_status(job)

    @api_handler(permission=permissions.staff, methods=("GET",))
    def statistics(self, request, user, data, suffix=""):
        """Progress, per-question figures with histograms, per-grader figures (all staff)."""
        return statistics.exam_statistics(self.get_exam(), user)

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def audit_log(self, request, user, data, suffix=""):
        """One page of the audit log: ``?copy=&actor=&action=&date_from=&date_to=&offset=&limit=``."""
        return audit_log.page(self.get_exam(), data, offset=_int(data.get("offset"), 0),
                              limit=_int(data.get("limit"), audit_log.DEFAULT_LIMIT, audit_log.MAX_LIMIT))

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def audit_log_csv(self, request, user, data, suffix=""):
        """The audit log as CSV, with the filters of ``audit_log`` and ``separator`` (audited)."""
        exam = self.get_exam()
        body = audit_log.log_csv(exam, data, data.get("separator"), actor=user, **self._audit_context(request))
        return files.bytes_response(body, CSV_TYPE, f"audit-log-{exports.download_slug(exam.title)}.csv")
