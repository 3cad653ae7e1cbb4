"""XBlock handlers of downloads (graded PDFs, learners' page images, signed URLs) and the lockout viewer (issue 6).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module (:mod:`.downloads`, :mod:`.signed_urls`, :mod:`.lockout`).
Who may download what is decided per copy by :mod:`.downloads`, so the file
handlers take no role permission: a learner reaches them for their own copy.
"""
from urllib.parse import urlencode

from . import compat, downloads, files, lockout, permissions
from .jsonapi import api_handler


class DownloadHandlers:
    """Handlers mixed into the block."""

    @api_handler(methods=("GET",))
    def graded_pdf(self, request, user, data, suffix=""):
        """The graded PDF of a copy (suffix: the copy id): staff of the block, or the copy's learner
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
        url = self.runtime.handler_url(self, "graded_pdf", str(copy.pk), query=urlencode({"sig": token}))
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
