"""XBlock handlers of grading by question: progress, claiming the next answer, opening one, its lease,
saving it, "no answer", skipping, reopening one question, dealing questions to graders.

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks permission (through
:func:`~viatique_xblock.jsonapi.api_handler`) and delegates to :mod:`viatique_xblock.grading.answers` and
:mod:`viatique_xblock.grading.question_dispatch`. The contract is docs/handlers.md ("Grading by question").
"""
from viatique_xblock import permissions
from viatique_xblock.grading import answers, leases, question_dispatch
from viatique_xblock.jsonapi import api_handler


def _optional(data, name):
    return data[name] if name in data else answers.MISSING


class QuestionGradingHandlers:
    """Handlers mixed into the block."""

    @api_handler(permission=permissions.staff, methods=("GET",))
    def question_progress(self, request, user, data, suffix=""):
        """Graded answers per question, the requester's own, and (instructors) each grader's."""
        return question_dispatch.progress(self.get_exam(), user)

    @api_handler(permission=permissions.staff)
    def next_answer(self, request, user, data, suffix=""):
        """``{question_id}``: claim the next ungraded answer to the question (its lease taken)."""
        answer, remaining = answers.next_answer(self.get_exam(), user, data.get("question_id"),
                                                **self._audit_context(request))
        if answer is None:
            return {"answer": None, "remaining": remaining}
        return {"answer": answer}

    @api_handler(permission=permissions.staff)
    def open_answer(self, request, user, data, suffix=""):
        """``{copy_id, question_id, take_lease}``: one answer, its lease taken when free (``take_lease``)."""
        take_lease = data.get("take_lease", True) is not False
        return {"answer": answers.open_answer(self.get_exam(), user, data.get("copy_id"), data.get("question_id"),
                                              take_lease=take_lease, **self._audit_context(request))}

    @api_handler(permission=permissions.staff)
    def renew_answer_lease(self, request, user, data, suffix=""):
        """``{copy_id, question_id, token}``: the heartbeat."""
        expires_at = answers.renew(self.get_exam(), data.get("copy_id"), data.get("question_id"), data.get("token"))
        return {"expires_at": leases.iso(expires_at)}

    @api_handler(permission=permissions.staff)
    def release_answer_lease(self, request, user, data, suffix=""):
        """``{copy_id, question_id, token}``: give the answer's lease back."""
        return {"released": answers.release(self.get_exam(), data.get("copy_id"), data.get("question_id"),
                                            data.get("token"))}

    @api_handler(permission=permissions.instructor)
    def force_release_answer_lease(self, request, user, data, suffix=""):
        """``{copy_id, question_id}``: free an answer's lease (audited)."""
        return {"released": answers.force_release(self.get_exam(), user, data.get("copy_id"), data.get("question_id"),
                                                  **self._audit_context(request))}

    @api_handler(permission=permissions.staff)
    def save_answer(self, request, user, data, suffix=""):
        """``{copy_id, question_id, fencing, version, points, comment, annotations?, general_comment?, done?}``."""
        return answers.save_answer(
            self.get_exam(), user, data.get("copy_id"), data.get("question_id"), data.get("fencing"),
            data.get("version"), points=data.get("points"), comment=data.get("comment") or "",
            annotations=_optional(data, "annotations"), general_comment=_optional(data, "general_comment"),
            done=data.get("done") is True, scale=self._scale(), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def mark_no_answer(self, request, user, data, suffix=""):
        """``{copy_id, question_id, fencing, version}``: 0 points, "no answer" stated to the learner."""
        return answers.mark_no_answer(self.get_exam(), user, data.get("copy_id"), data.get("question_id"),
                                      data.get("fencing"), data.get("version"), scale=self._scale(),
                                      **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def skip_answer(self, request, user, data, suffix=""):
        """``{copy_id, question_id, token}``: leave the answer for later."""
        return answers.skip(self.get_exam(), user, data.get("copy_id"), data.get("question_id"), data.get("token"))

    @api_handler(permission=permissions.instructor)
    def reopen_question(self, request, user, data, suffix=""):
        """``{copy_id, question_id}``: one graded question of a copy goes back to grading."""
        return answers.reopen_question(self.get_exam(), user, data.get("copy_id"), data.get("question_id"),
                                       **self._audit_context(request))

    @api_handler(permission=permissions.instructor)
    def dispatch_questions(self, request, user, data, suffix=""):
        """``{assignments: {question_id: [usernames]}}``: deal each question's answers among its graders."""
        return question_dispatch.deal(self.get_exam(), data.get("assignments"), self._staff_usernames(),
                                      actor=user, **self._audit_context(request))
