"""JSON responses and the handler decorator shared by every XBlock handler.

Errors users can cause are :class:`~viatique_xblock.errors.ViatiqueError`
subclasses; the decorator turns them into ``{"error": code, "message": text}``
with their HTTP status, so no handler formats errors by hand.

The decorator also applies the lockout (:mod:`.lockout`) to every handler: a
locked-out requester gets 429 before any permission check, and an error flagged
``counts_for_lockout`` counts one failure for the user and the client address.
"""
import functools
import json
import logging

from webob import Response
from xblock.core import XBlock

from viatique_xblock.errors import InvalidRequest, MethodNotAllowed, ServerError, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.platform import compat, lockout

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def json_response(data, status=200, headers=None):
    response = Response(
        body=json.dumps(data, default=str).encode("utf-8"),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )
    for name, value in {**NO_STORE, **(headers or {})}.items():
        response.headers[name] = value
    return response


def request_json(request):
    """The JSON object in a request body, or :class:`InvalidRequest`."""
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(N_("The request body is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise InvalidRequest(N_("The request body must be a JSON object."))
    return data


def read_body(request, limit):
    """The raw body, read from the stream up to ``limit()`` bytes (Django's ``request.body``
    would refuse anything over DATA_UPLOAD_MAX_MEMORY_SIZE, whatever our own limit is)."""
    most = limit() if callable(limit) else None
    length = request.content_length or 0
    if most is not None and length > most:
        raise InvalidRequest(N_("The request is larger than {limit} bytes."), limit=most)
    return request.body_file.read(length) if length else b""


def _count_denial(block, request, user, exc):
    """One failure towards the lockout for the requester of a denied request."""
    lockout.count_failure(
        user, compat.client_ip(request), compat.course_key(block),
        exam=getattr(block, "get_exam", None),
        publish=lambda name, data: compat.publish_event(block, name, data),
        reason=exc.code,
    )


def api_handler(permission=None, methods=("POST",), raw_body=False):
    """Make a block method an XBlock handler returning JSON.

    ``permission(block, user)`` raises :class:`~viatique_xblock.errors.PermissionDenied`
    when the requester may not call it. The wrapped method receives
    ``(self, request, user, data, suffix)`` and returns a JSON-able object, or a
    webob ``Response`` it built itself (files). ``data`` is the JSON body of a POST,
    the query of a GET, or the raw bytes with ``raw_body`` (a callable giving the largest
    body accepted).
    """
    def decorate(method):
        @XBlock.handler
        @functools.wraps(method)
        def wrapper(block, request, suffix=""):
            user = None
            try:
                user = compat.current_user(block)
                lockout.check(user, compat.client_ip(request))
                if request.method not in methods:
                    raise MethodNotAllowed(methods)
                if permission is not None:
                    permission(block, user)
                if raw_body:
                    data = read_body(request, raw_body)
                elif request.method == "POST":
                    data = request_json(request)
                else:
                    data = {key: request.GET.get(key) for key in request.GET}
                result = method(block, request, user, data, suffix)
                if isinstance(result, Response):
                    return result
                return json_response(result)
            except ViatiqueError as exc:
                if exc.counts_for_lockout:
                    _count_denial(block, request, user, exc)
                return json_response(exc.as_json(), status=exc.status, headers=exc.headers())
            except Exception:  # noqa: BLE001  (logged with its traceback; the user gets a stable code)
                log.exception("Viatique handler %s failed", method.__name__)
                error = ServerError(N_("The server could not do this. Try again; if it fails again, "
                                       "tell the course team."))
                return json_response(error.as_json(), status=error.status)
        return wrapper
    return decorate
