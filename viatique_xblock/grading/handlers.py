"""XBlock handlers of grading: the staff copy list and the grading workspace (copies, leases, drafts,
points, annotations, comment bank, finalize).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to :mod:`viatique_xblock.grading.workspace` and :mod:`viatique_xblock.grading.leases`. The contract
is docs/handlers.md ("Grading workspace").
"""
from webob import Response

from viatique_xblock import inputs, permissions, public_ids, scheme
from viatique_xblock.grading import answers, copies, leases, workspace
from viatique_xblock.jsonapi import NO_STORE, api_handler
from viatique_xblock.platform import compat


class GradingHandlers:
    """Handlers mixed into the block."""

    def _scale(self):
        return float(self.grade_scale) if self.grade_scale else None

    def _copy_for(self, user, data):
        return workspace.get_copy(self.get_exam(), user, data.get("copy_id"))

    def _by_copy_exam(self):
        """The exam, for a write of grading by copy: 409 ``wrong_grading_mode`` when it is graded by question
        (its answers have their own leases and writes: :mod:`~viatique_xblock.grading.answer_handlers`)."""
        exam = self.get_exam()
        answers.require_mode(exam, answers.BY_COPY)
        return exam

    @api_handler(permission=permissions.staff, methods=("GET",))
    def workspace(self, request, user, data, suffix=""):
        """The full-window grading workspace, a whole HTML page (``?copy=<public id>``: that copy;
        ``?question=<id>``: grading that question; neither: the first copy the requester may grade). The
        page's scripts call the other handlers; what it may open they check, as from the dashboard."""
        target = {}
        copy_id = public_ids.parse(data.get("copy"))
        if copy_id:
            target["copy_id"] = copy_id
        question = data.get("question")
        if isinstance(question, str) and question in {node["id"] for node in scheme.leaves(self.marking_scheme)}:
            target["question_id"] = question
        compat.ensure_csrf_cookie(request)
        response = Response(body=self.workspace_page(user, target).encode("utf-8"),
                            content_type="text/html", charset="utf-8")
        for name, value in NO_STORE.items():
            response.headers[name] = value
        return response

    @api_handler(permission=permissions.staff, methods=("GET",))
    def open_copy(self, request, user, data, suffix=""):
        """``?copy_id=``: the copy, its pages, questions, work, draft version, lease and settings."""
        return workspace.open_copy(self.get_exam(), user, data.get("copy_id"))

    @api_handler(permission=permissions.staff)
    def acquire_lease(self, request, user, data, suffix=""):
        """``{copy_id}``: take the copy's lease (the same one again from a second tab)."""
        copy = workspace.get_copy(self._by_copy_exam(), user, data.get("copy_id"))
        lease = leases.acquire_lease(copy, user, **self._audit_context(request))
        return lease.as_json()

    @api_handler(permission=permissions.staff)
    def renew_lease(self, request, user, data, suffix=""):
        """``{copy_id, token}``: the heartbeat."""
        expires_at = leases.renew_lease(workspace.lease_copy(self.get_exam(), data.get("copy_id")), data.get("token"))
        return {"expires_at": leases.iso(expires_at)}

    @api_handler(permission=permissions.staff)
    def release_lease(self, request, user, data, suffix=""):
        """``{copy_id, token}``: give the lease back when leaving the copy."""
        copy = workspace.lease_copy(self.get_exam(), data.get("copy_id"))
        return {"released": leases.release_lease(copy, data.get("token"))}

    @api_handler(permission=permissions.instructor)
    def force_release_lease(self, request, user, data, suffix=""):
        """``{copy_id}``: take the lease away from whoever holds it (audited)."""
        copy = self._copy_for(user, data)
        return {"released": leases.force_release(copy, user, **self._audit_context(request))}

    @api_handler(permission=permissions.staff)
    def save_draft(self, request, user, data, suffix=""):
        """``{copy_id, fencing, version, payload}``: the autosave."""
        return workspace.save_draft(self._by_copy_exam(), user, data.get("copy_id"), data.get("fencing"),
                                  data.get("version"), data.get("payload"), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def save_points(self, request, user, data, suffix=""):
        """``{copy_id, fencing, question_id, points, comment}``."""
        return workspace.save_points(self._by_copy_exam(), user, data.get("copy_id"), data.get("fencing"),
                                   data.get("question_id"), data.get("points"), data.get("comment") or "",
                                   **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def save_annotation(self, request, user, data, suffix=""):
        """``{copy_id, fencing, annotation}``: add or update one annotation by uid."""
        return workspace.save_annotation(self._by_copy_exam(), user, data.get("copy_id"), data.get("fencing"),
                                       data.get("annotation"), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def delete_annotation(self, request, user, data, suffix=""):
        """``{copy_id, fencing, uid}``."""
        return workspace.delete_annotation(self._by_copy_exam(), user, data.get("copy_id"), data.get("fencing"),
                                         data.get("uid"), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def save_comment(self, request, user, data, suffix=""):
        """``{copy_id, fencing, general_comment}``."""
        return workspace.save_comment(self._by_copy_exam(), user, data.get("copy_id"), data.get("fencing"),
                                    data.get("general_comment"), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def finalize(self, request, user, data, suffix=""):
        """``{copy_id, fencing}``: submit a complete copy; its PDF is rendered by a Celery task."""
        return workspace.finalize(self._by_copy_exam(), user, data.get("copy_id"), data.get("fencing"),
                                scale=self._scale(), **self._audit_context(request))

    @api_handler(permission=permissions.instructor)
    def reopen_copy(self, request, user, data, suffix=""):
        """``{copy_id}``: a graded (or failed) copy goes back to grading."""
        return workspace.reopen(self._by_copy_exam(), user, data.get("copy_id"), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def retry_render(self, request, user, data, suffix=""):
        """``{copy_id}``: render the PDF of a ``render_failed`` copy again."""
        return workspace.retry_render(self.get_exam(), user, data.get("copy_id"), **self._audit_context(request))

    @api_handler(permission=permissions.staff, methods=("GET",))
    def comment_bank(self, request, user, data, suffix=""):
        """The exam's reusable comments."""
        return {"comments": workspace.comment_bank(self.get_exam())}

    @api_handler(permission=permissions.staff)
    def add_bank_comment(self, request, user, data, suffix=""):
        """``{text, question_id?, points?}``."""
        comment = workspace.add_bank_comment(self.get_exam(), user, data.get("text"), data.get("question_id"),
                                           data.get("points"), **self._audit_context(request))
        return {"comment": comment}

    @api_handler(permission=permissions.staff, methods=("GET", "POST"))
    def list_copies(self, request, user, data, suffix=""):
        """One page of this exam's copies, as the caller may see them: searched (``q``), filtered
        (``identity``, ``state``, ``grader``, ``missing``) and sorted (``sort``) by
        :func:`~viatique_xblock.grading.copies.list_copies`."""
        offset = _bounded_int(data.get("offset"), 0, 0, 10 ** 9)
        limit = _bounded_int(data.get("limit"), 50, 1, 200)
        filters = {key: data.get(key) for key in ("q", "identity", "state", "grader", "missing", "sort")
                   if isinstance(data.get(key), (str, int))}
        return copies.list_copies(self.get_exam(), user, offset=offset, limit=limit, filters=filters)


def _bounded_int(raw, default, low, high):
    return inputs.whole_number(raw, default, low, high, clamp=True)
