"""XBlock handlers of release to the gradebook, the learner's view of their results, regrade requests (issue 6).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module (:mod:`.release`, :mod:`.learner_results`, :mod:`.regrades`).
"""
from . import api, learner_results, permissions, regrades, release
from .jsonapi import api_handler

LEARNER_JS = "static/js/viatique_learner.js"
RESULTS_CSS = "static/css/viatique_results.css"


class ResultsHandlers:
    """Handlers mixed into the block."""

    def learner_fragment(self, user, exam):
        """The learner's part of ``student_view``: the state of their own copy in plain words; once results
        are released, ``viatique_learner.js`` shows the rest from ``my_results``."""
        code, message = api.learner_status(exam, user.anonymous_id)
        return self._fragment("learner.html", {"status_code": code, "status_message": message},
                              js_class="ViatiqueLearner", js_args={"status": code},
                              scripts=[LEARNER_JS], css=[RESULTS_CSS])

    # ------------------------------------------------------------------ learners

    @api_handler(methods=("GET",))
    def my_results(self, request, user, data, suffix=""):
        """The requester's own results: ``{status, message, released}``, and once released ``copy``,
        ``questions``, ``pages``, ``annotations``, ``regrade`` (see :mod:`.learner_results`)."""
        return learner_results.results(self.get_exam(), user, scale=self.grade_scale,
                                       window_days=self.regrade_window_days)

    @api_handler()
    def request_regrade(self, request, user, data, suffix=""):
        """``{question_id, message}``: ask for a regrade of one question of one's own released copy.
        409 ``regrade_closed`` outside the window, 409 ``regrade_open`` when one is already open."""
        regrades.request_regrade(self.get_exam(), user, self.regrade_window_days, data.get("question_id"),
                                 data.get("message"), **self._audit_context(request))
        return learner_results.results(self.get_exam(), user, scale=self.grade_scale,
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
