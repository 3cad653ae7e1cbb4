"""Typed errors of the public API, each with a stable code, an HTTP status and a translatable message.

Handlers turn any :class:`ViatiqueError` into ``{"error": code, "message": text, ...}``
with ``status``; the code never changes between releases, the message is translated.
"""
from viatique_xblock.i18n import N_, gettext as _


class ViatiqueError(Exception):
    """Base of every error a user can cause. Subclasses set ``code`` and ``status``."""

    code = "error"
    status = 400
    #: True for a denied access to something (a copy, page or file that is not the requester's or does
    #: not exist, a bad or expired signed link): such errors count towards the lockout (:mod:`.lockout`).
    #: Plain validation errors and role refusals do not.
    counts_for_lockout = False

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

    def headers(self):
        """HTTP headers the error response carries (e.g. ``Retry-After``)."""
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
    #: the path of the faulty value (``message``, ``payload.annotations.3.text``, ``copy_id``), when known;
    #: the answer then carries it as ``field`` (see :func:`viatique_xblock.inputs.field_error`)
    field = None

    def extra(self):
        return {"field": self.field} if self.field else {}


class InvalidText(InvalidRequest):
    """Text the database cannot store: a lone surrogate (MariaDB's utf8mb4 cannot encode one), or a
    NUL character; ``field`` names it."""

    code = "invalid_text"


class InvalidNumber(InvalidRequest):
    """A number that is not finite (``NaN``, ``Infinity``, ``1e400``) or too large to store; ``field`` names it."""

    code = "invalid_number"


class RequestTooLarge(ViatiqueError):
    """A request body over the largest one accepted (``limit`` bytes), refused before it is read."""

    code = "request_too_large"
    status = 413

    def __init__(self, limit):
        self.limit = int(limit)
        super().__init__(N_("The request is larger than {limit} bytes."), limit=self.limit)

    def extra(self):
        return {"limit": self.limit}


class MethodNotAllowed(ViatiqueError):
    """A handler called with an HTTP method it does not answer (``Allow`` lists those it does)."""

    code = "method_not_allowed"
    status = 405

    def __init__(self, methods):
        self.methods = tuple(methods)
        super().__init__(N_("Use {methods}."), methods=" / ".join(self.methods))

    def headers(self):
        return {"Allow": ", ".join(self.methods)}


class ServerError(ViatiqueError):
    """Anything unexpected in a handler: logged with its traceback, answered without it."""

    code = "server_error"
    status = 500


class AccessDenied(PermissionDenied):
    """Something that exists but is not the requester's: counts towards the lockout."""

    counts_for_lockout = True


class ObjectNotFound(NotFound):
    """A copy, page or file that is not in this exam, or not the requester's (the two are not told
    apart, so ids cannot be probed): counts towards the lockout."""

    counts_for_lockout = True


class BadSignature(ViatiqueError):
    """A signed link that was tampered with, or made for another user or file: counts towards the lockout."""

    code = "bad_signature"
    status = 403
    counts_for_lockout = True


class ExpiredLink(ViatiqueError):
    """A signed link older than ``SIGNED_URL_SECONDS``: counts towards the lockout."""

    code = "expired_link"
    status = 403
    counts_for_lockout = True


class LockedOut(ViatiqueError):
    """Too many denied requests: every handler refuses the requester for ``retry_after`` seconds."""

    code = "locked_out"
    status = 429

    def __init__(self, message, retry_after, **params):
        self.retry_after = int(retry_after)
        super().__init__(message, retry_after=self.retry_after, **params)

    def extra(self):
        return {"retry_after": self.retry_after}

    def headers(self):
        return {"Retry-After": str(self.retry_after)}
