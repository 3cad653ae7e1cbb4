"""XBlock handlers of results: release to the gradebook, the learner's view of their results, regrade
requests (:class:`ResultsHandlers`), and downloads, signed links and the lockout viewer
(:class:`DownloadHandlers`).

Mixins of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks permission
(through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates to a domain module
(:mod:`.release`, :mod:`.learner`, :mod:`.regrades`, :mod:`.downloads`, :mod:`.signed_urls`,
:mod:`viatique_xblock.platform.lockout`). Who may download what is decided per copy by
:mod:`.downloads`, so the file handlers take no role permission: a learner reaches them for
their own copy.
"""
from urllib.parse import urlencode

from viatique_xblock import files, permissions
from viatique_xblock.jsonapi import api_handler
from viatique_xblock.platform import compat, lockout
from viatique_xblock import exams
from viatique_xblock.results import downloads, learner, regrades, release, scheme_changes

LEARNER_JS = "static/js/viatique_learner.js"
RESULTS_CSS = "static/css/viatique_results.css"


class ResultsHandlers:
    """Handlers mixed into the block."""

    def learner_fragment(self, user, exam):
        """The learner's part of ``student_view``: the state of their own copy in plain words; once results
        are released, ``viatique_learner.js`` shows the rest from ``my_results``."""
        code, message = learner.learner_status(exam, user.anonymous_id)
        return self._fragment("learner.html", {"status_code": code, "status_message": message},
                              js_class="ViatiqueLearner", js_args={"status": code},
                              scripts=[LEARNER_JS], css=[RESULTS_CSS])

    # ------------------------------------------------------------------ learners

    @api_handler(methods=("GET",))
    def my_results(self, request, user, data, suffix=""):
        """The requester's own results: ``{status, message, released}``, and once released ``copy``,
        ``questions``, ``pages``, ``annotations``, ``regrade`` (see :mod:`.learner_results`)."""
        return learner.results(self.get_exam(), user, scale=self.grade_scale,
                                       window_days=self.regrade_window_days)

    @api_handler()
    def request_regrade(self, request, user, data, suffix=""):
        """``{question_id, message}``: ask for a regrade of one question of one's own released copy.
        409 ``regrade_closed`` outside the window, 409 ``regrade_open`` when one is already open."""
        regrades.request_regrade(self.get_exam(), user, self.regrade_window_days, data.get("question_id"),
                                 data.get("message"), **self._audit_context(request))
        return learner.results(self.get_exam(), user, scale=self.grade_scale,
                                       window_days=self.regrade_window_days)

    # ------------------------------------------------------------------ staff

    @api_handler(permission=permissions.staff, methods=("GET",))
    def regrade_requests(self, request, user, data, suffix=""):
        """Open regrade requests: all of them for instructors, those of a grader's own copies for graders."""
        return {"requests": regrades.open_requests(self.get_exam(), user)}

    @api_handler(permission=permissions.staff)
    def answer_regrade(self, request, user, data, suffix=""):
        """``{id, answer, reopen}``: answer a request; ``reopen`` (instructors) reopens the copy for grading."""
        exam = self.get_exam()
        result = regrades.answer(exam, user, data.get("id"), data.get("answer"), reopen=bool(data.get("reopen")),
                                 **self._audit_context(request))
        return {**result, "requests": regrades.open_requests(exam, user)}

    @api_handler(permission=permissions.author)
    def scheme_change_impact(self, request, user, data, suffix=""):
        """The Studio editor's settings (as ``studio_submit`` takes them): what saving their marking scheme
        would do to the copies, before it is saved (:func:`.scheme_changes.impact`): counts, lists, whether
        it ``needs_confirmation`` and the ``token`` to send with the save; ``{"invalid": true}`` for settings the
        save would refuse (it says why)."""
        return scheme_changes.impact_of_settings(compat.usage_key(self), data, self.marking_scheme)

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def scheme_versions(self, request, user, data, suffix=""):
        """The versions of the exam's marking scheme, newest first, each with who changed it and its impact."""
        return {"versions": exams.scheme_versions(self.get_exam())}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def release_summary(self, request, user, data, suffix=""):
        """Counts for the release confirmation: ``{total, graded, graded_unidentified, ungraded,
        unidentified, published, released, released_at}`` (``graded``: graded and identified)."""
        return release.release_summary(self.get_exam())

    @api_handler(permission=permissions.instructor)
    def release_results(self, request, user, data, suffix=""):
        """Release: scores of graded, identified copies go to the gradebook; learners see their copies.
        409 ``already_released``. Answers the summary after the release."""
        return release.release(self.get_exam(), user, **self._audit_context(request))

    @api_handler(permission=permissions.instructor)
    def unrelease_results(self, request, user, data, suffix=""):
        """Unrelease: published scores are reset, learners see only the state of their copy again.
        409 ``not_released``."""
        return release.unrelease(self.get_exam(), user, **self._audit_context(request))


class DownloadHandlers:
    """Handlers mixed into the block."""

    @api_handler(methods=("GET",))
    def graded_pdf(self, request, user, data, suffix=""):
        """The graded PDF of a copy (suffix: the copy's public id): staff of the block, or the copy's learner
        once results are released. ``?sig=`` a signed link's token (see ``download_url``);
        ``?inline=1`` to show it in the browser instead of saving it."""
        name, download_name = downloads.graded_pdf(self.get_exam(), user, suffix.strip("/"),
                                                   signature=data.get("sig"), **self._audit_context(request))
        return files.stored_file_response(name, download_name, inline=data.get("inline") in ("1", "true"))

    @api_handler()
    def download_url(self, request, user, data, suffix=""):
        """``{"copy_id", "kind": "graded_pdf"}``: a short-lived link to that download, for this user only."""
        copy, token, expires_at = downloads.sign_download(self.get_exam(), user, data.get("copy_id"),
                                                          data.get("kind") or downloads.GRADED_PDF)
        url = self.runtime.handler_url(self, "graded_pdf", copy.public_id, query=urlencode({"sig": token}))
        return {"url": url, "expires_at": expires_at}

    @api_handler(methods=("GET",))
    def learner_page_image(self, request, user, data, suffix=""):
        """A page image of the learner's own copy once results are released (suffix ``<page_id>`` or
        ``<page_id>/thumb``); staff get what ``page_image`` gives them."""
        page_id, _, kind = suffix.partition("/")
        exam = self.get_exam()
        page = downloads.learner_page(exam, user, page_id)
        return files.stored_file_response(downloads.page_image_name(exam, user, page, thumbnail=kind == "thumb"))

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def lockouts(self, request, user, data, suffix=""):
        """Lockouts started in this course and still in force."""
        return {"lockouts": [lockout.as_json(record) for record in lockout.current(compat.course_key(self))]}

    @api_handler(permission=permissions.instructor)
    def lift_lockout(self, request, user, data, suffix=""):
        """``{"id"}``: end a lockout of this course now (audited)."""
        record = lockout.lift(compat.course_key(self), data.get("id"), self.get_exam(), actor=user,
                              **self._audit_context(request))
        return {"lifted": lockout.as_json(record),
                "lockouts": [lockout.as_json(item) for item in lockout.current(compat.course_key(self))]}
