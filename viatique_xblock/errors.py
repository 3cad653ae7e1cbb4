"""Typed errors of the public API, each with a stable code, an HTTP status and a translatable message.

Handlers turn any :class:`ViatiqueError` into ``{"error": code, "message": text, ...}``
with ``status``; the code never changes between releases, the message is translated.
"""
from .i18n import gettext as _


class ViatiqueError(Exception):
    """Base of every error a user can cause. Subclasses set ``code`` and ``status``."""

    code = "error"
    status = 400

    def __init__(self, message, **params):
        self.template = message
        self.params = params
        super().__init__(self.message)

    @property
    def message(self):
        """The message in the active language, with its parameters filled in."""
        return _(self.template).format(**self.params)

    def as_json(self):
        body = {"error": self.code, "message": self.message}
        body.update(self.extra())
        return body

    def extra(self):
        return {}


class PermissionDenied(ViatiqueError):
    code = "forbidden"
    status = 403


class NotFound(ViatiqueError):
    code = "not_found"
    status = 404


class InvalidRequest(ViatiqueError):
    code = "invalid_request"
    status = 400
