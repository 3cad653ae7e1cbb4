"""XBlock handlers of identity: staff page images (masked for graders), the roster, the identification
desk, and dispatch to graders.

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks permission
(through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates to the identity stage's
modules. The contract is docs/handlers.md.
"""
from viatique_xblock import audit, files, permissions
from viatique_xblock.identity import anonymity, desk, dispatch, roster
from viatique_xblock.jsonapi import api_handler
from viatique_xblock.platform import compat


class IdentityHandlers:
    """Handlers mixed into the block."""

    @api_handler(permission=permissions.staff, methods=("GET",))
    def page_image(self, request, user, data, suffix=""):
        """A page image (suffix ``<page_id>``) or its thumbnail (``<page_id>/thumb``), for staff.

        Graders get only pages placed in copies, and, when grading is anonymous, the
        cover with its name area painted over."""
        page_id, _, kind = suffix.partition("/")
        exam = self.get_exam()
        page = anonymity.page_for(exam, user, page_id)
        return files.stored_file_response(anonymity.image_name(exam, user, page, thumbnail=kind == "thumb"))

    # ------------------------------------------------------- identification (instructors)

    def _roster(self):
        """The enrolled learners, with the names of the instructor's roster CSV when one was uploaded."""
        return roster.apply(compat.roster(self), self.get_exam().roster_details)

    def _learner(self, username):
        return next((learner for learner in self._roster() if learner.username == username), None)

    @api_handler(permission=permissions.instructor, raw_body=lambda: roster.MAX_BYTES)
    def upload_roster(self, request, user, data, suffix=""):
        """A roster CSV as the body (username or email, name): names shown at the identification desk."""
        exam = self.get_exam()
        learners = compat.roster(self)
        details, unknown = roster.details_from(roster.parse(data), learners)
        exam.roster_details = details
        exam.save(update_fields=["roster_details", "updated_at"])
        audit.record(exam, "roster.uploaded", actor=user, details={"matched": len(details), "unknown": len(unknown)},
                     **self._audit_context(request))
        return {"matched": len(details), "unknown": unknown[:50]}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def roster_search(self, request, user, data, suffix=""):
        """Enrolled learners best named by ``q`` (accents, case and word order ignored)."""
        exam = self.get_exam()
        return {"results": desk.search(self._roster(), data.get("q") or "",
                                                  desk.matched_codes(exam)),
                "progress": desk.progress(exam)}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def name_area(self, request, user, data, suffix=""):
        """The name area of a copy's cover (suffix: the copy's public id), as a JPEG."""
        exam = self.get_exam()
        copy = desk.get_copy(exam, suffix)
        image = anonymity.name_crop(exam, copy)
        return files.bytes_response(image.data, image.mime)

    @api_handler(permission=permissions.instructor)
    def identify(self, request, user, data, suffix=""):
        """``{"copy_id", "username", "swap"}``: match a copy to an enrolled learner."""
        exam = self.get_exam()
        copy = desk.match(exam, data.get("copy_id"), self._learner(data.get("username")), actor=user,
                                    swap=bool(data.get("swap")), **self._audit_context(request))
        return {"copy": {"id": copy.public_id, "code": copy.anonymous_code, "username": copy.learner_username,
                         "name": copy.learner_name}, "progress": desk.progress(exam)}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def desk_queue(self, request, user, data, suffix=""):
        """The copies the desk shows this instructor (their skips last, until the next scan), and the hold list."""
        exam = self.get_exam()
        return {**desk.queue(exam, user.username), "progress": desk.progress(exam)}

    @api_handler(permission=permissions.instructor)
    def desk_skip(self, request, user, data, suffix=""):
        """``{"copy_id"}``: this instructor skips the copy; it comes after the others until the next scan."""
        exam = self.get_exam()
        desk.skip(exam, data.get("copy_id"), user.username)
        return desk.queue(exam, user.username)

    @api_handler(permission=permissions.instructor)
    def hold_copy(self, request, user, data, suffix=""):
        """``{"copy_id", "note"}``: the name is not on the roster; the copy goes on the hold list."""
        exam = self.get_exam()
        desk.hold(exam, data.get("copy_id"), data.get("note"), actor=user, **self._audit_context(request))
        return {**desk.queue(exam, user.username), "progress": desk.progress(exam)}

    @api_handler(permission=permissions.instructor)
    def release_hold(self, request, user, data, suffix=""):
        """``{"copy_id"}``: a copy of the hold list goes back to the desk."""
        exam = self.get_exam()
        desk.release_hold(exam, data.get("copy_id"), actor=user, **self._audit_context(request))
        return {**desk.queue(exam, user.username), "progress": desk.progress(exam)}

    @api_handler(permission=permissions.instructor)
    def unidentify(self, request, user, data, suffix=""):
        """``{"copy_id"}``: undo a match (until results are released)."""
        exam = self.get_exam()
        desk.unmatch(exam, data.get("copy_id"), actor=user, **self._audit_context(request))
        return {"progress": desk.progress(exam)}

    @api_handler(permission=permissions.instructor)
    def reveal_identity(self, request, user, data, suffix=""):
        """``{"copy_id"}``: who wrote an anonymous copy (audited)."""
        return desk.reveal(self.get_exam(), data.get("copy_id"), actor=user,
                                     **self._audit_context(request))

    # --------------------------------------------------------------- dispatch (instructors)

    def _staff_usernames(self):
        return [username for username, _name in compat.course_staff(self)]

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def graders(self, request, user, data, suffix=""):
        """Course staff who may grade, with the number of copies each has in this exam."""
        staff = compat.course_staff(self)
        load = dispatch.load(self.get_exam(), [username for username, _ in staff])
        return {"graders": [{"username": username, "name": name, "copies": load[username]}
                            for username, name in staff]}

    @api_handler(permission=permissions.instructor)
    def dispatch(self, request, user, data, suffix=""):
        """``{"graders": [usernames]}``: deal the unassigned copies nobody started, balanced."""
        return dispatch.deal(self.get_exam(), data.get("graders"), self._staff_usernames(), actor=user,
                                    **self._audit_context(request))

    @api_handler(permission=permissions.instructor)
    def assign_copy(self, request, user, data, suffix=""):
        """``{"copy_id", "grader"}``: give one copy to a grader ("" for nobody)."""
        copy = dispatch.assign(self.get_exam(), data.get("copy_id"), data.get("grader") or "",
                                      self._staff_usernames(), actor=user, **self._audit_context(request))
        return {"copy": {"id": copy.public_id, "grader": copy.grader}}

    @api_handler(permission=permissions.instructor)
    def rebalance(self, request, user, data, suffix=""):
        """``{"graders": [usernames]}``: even out copies nobody started."""
        return dispatch.rebalance(self.get_exam(), data.get("graders"), self._staff_usernames(),
                                         actor=user, **self._audit_context(request))
