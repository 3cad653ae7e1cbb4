"""XBlock handlers of living rubrics: reading a rubric, applying items and adjustments, creating, editing and
deleting items and groups, and the progress of a re-scoring.

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks permission (through
:func:`~viatique_xblock.jsonapi.api_handler`: course staff) and delegates to
:mod:`viatique_xblock.grading.rubrics`, which applies the block's ``rubric_editors`` setting to edits. The
contract is docs/handlers.md ("Rubrics").
"""
from viatique_xblock import permissions
from viatique_xblock.grading import rubrics
from viatique_xblock.jsonapi import api_handler


def _given(data, name):
    return data[name] if name in data else rubrics.MISSING


class RubricHandlers:
    """Handlers mixed into the block."""

    def _rubric_editors(self):
        value = getattr(self, "rubric_editors", rubrics.INSTRUCTORS)
        return value if value in rubrics.EDITORS else rubrics.INSTRUCTORS

    @api_handler(permission=permissions.staff, methods=("GET",))
    def rubric(self, request, user, data, suffix=""):
        """``?question_id=`` (optional): the rubric of every question (or one), and whether the requester may
        edit it."""
        exam = self.get_exam()
        return {**rubrics.rubric(exam, data.get("question_id")),
                "can_edit": rubrics.can_edit(exam, user, self._rubric_editors())}

    @api_handler(permission=permissions.staff)
    def apply_rubric_item(self, request, user, data, suffix=""):
        """``{copy_id, question_id, item_id, applied, fencing}``: apply or remove an item under the lease."""
        return rubrics.apply_item(self.get_exam(), user, data.get("copy_id"), data.get("question_id"),
                                  data.get("item_id"), data.get("applied"), data.get("fencing"),
                                  **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def save_adjustment(self, request, user, data, suffix=""):
        """``{copy_id, question_id, adjustment, comment, fencing}``: the free adjustment and the comment."""
        return rubrics.save_adjustment(self.get_exam(), user, data.get("copy_id"), data.get("question_id"),
                                       data.get("adjustment"), data.get("comment") or "", data.get("fencing"),
                                       **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def create_rubric_item(self, request, user, data, suffix=""):
        """``{question_id, text, points, group_id?}``: a new item, offered to every grader."""
        return {"item": rubrics.create_item(self.get_exam(), user, data.get("question_id"), data.get("text"),
                                            data.get("points"), data.get("group_id"),
                                            **self._audit_context(request))}

    @api_handler(permission=permissions.staff)
    def edit_rubric_item(self, request, user, data, suffix=""):
        """``{item_id, version, text?, points?, group_id?, position?}``: a living edit (re-scores its copies)."""
        return rubrics.edit_item(self.get_exam(), user, data.get("item_id"), data.get("version"),
                                 text=_given(data, "text"), points=_given(data, "points"),
                                 group_id=_given(data, "group_id"), position=_given(data, "position"),
                                 editors=self._rubric_editors(), **self._audit_context(request))

    @api_handler(permission=permissions.staff, methods=("GET",))
    def rubric_item_usage(self, request, user, data, suffix=""):
        """``?item_id=``: how many copies have the item applied, and how many of them are released."""
        return rubrics.item_usage(self.get_exam(), data.get("item_id"))

    @api_handler(permission=permissions.staff)
    def delete_rubric_item(self, request, user, data, suffix=""):
        """``{item_id, copies}``: remove an item (``copies``: the count confirmed, when it is applied)."""
        return rubrics.delete_item(self.get_exam(), user, data.get("item_id"), data.get("copies"),
                                   editors=self._rubric_editors(), **self._audit_context(request))

    @api_handler(permission=permissions.staff)
    def save_rubric_group(self, request, user, data, suffix=""):
        """``{group_id?, question_id, label, pick_one, position?}``: create or change a group."""
        return {"group": rubrics.save_group(self.get_exam(), user, data.get("question_id"), data.get("label") or "",
                                            data.get("pick_one") is True, data.get("position"),
                                            data.get("group_id"), editors=self._rubric_editors(),
                                            **self._audit_context(request))}

    @api_handler(permission=permissions.staff)
    def delete_rubric_group(self, request, user, data, suffix=""):
        """``{group_id}``: remove a group (its items stay, ungrouped)."""
        return rubrics.delete_group(self.get_exam(), user, data.get("group_id"), editors=self._rubric_editors(),
                                    **self._audit_context(request))

    @api_handler(permission=permissions.staff, methods=("GET",))
    def rescore_progress(self, request, user, data, suffix=""):
        """``?id=``: the progress of a re-scoring (republished scores, re-rendered PDFs)."""
        return rubrics.rescore_progress(self.get_exam(), data.get("id"))
