"""JSON responses and the handler decorator shared by every XBlock handler.

Errors users can cause are :class:`~viatique_xblock.errors.ViatiqueError`
subclasses; the decorator turns them into ``{"error": code, "message": text}``
with their HTTP status, so no handler formats errors by hand.

The decorator also applies the lockout (:mod:`.lockout`) to every handler: a
locked-out requester gets 429 before any permission check, and an error flagged
``counts_for_lockout`` counts one failure for the user and the client address (a
denial counted past the threshold is answered 429 instead: :func:`.lockout.refuse`).

It is also the one strict layer every handler's input goes through before the handler
runs (issue 13): a JSON body over :func:`body_limit` is refused with 413
``request_too_large`` before it is read; a body that is no JSON object, or is nested more
than :data:`.inputs.MAX_DEPTH` deep, is 400 ``invalid_request``; every text of a body, a
query or the suffix must be storable (no lone surrogate, no NUL: 400 ``invalid_text``) and
every number finite and within 64 bits (400 ``invalid_number``), the answer's ``field``
naming the faulty value. Handlers and domain modules then read fields with
:mod:`viatique_xblock.inputs` (ids, whole numbers), so that no input makes a 500.
"""
import functools
import json
import logging

from webob import Response
from xblock.core import XBlock

from django.core.exceptions import SuspiciousOperation

from viatique_xblock import inputs
from viatique_xblock.errors import InvalidRequest, MethodNotAllowed, RequestTooLarge, ServerError, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.platform import compat, lockout, monitoring

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


#: the largest JSON body read when the platform sets no DATA_UPLOAD_MAX_MEMORY_SIZE (Django's default)
DEFAULT_BODY_LIMIT = 2621440


def body_limit():
    """The largest JSON body accepted: the platform's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default),
    the size over which Django itself refuses ``request.body``."""
    from django.conf import settings

    return getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or DEFAULT_BODY_LIMIT


def read_body(request, limit):
    """The raw body, read from the stream up to ``limit`` bytes (a number, or a callable giving it).

    A body whose ``Content-Length`` is over the limit is refused (413 ``request_too_large``) before any
    of it is read; one without a length is read up to one byte past the limit, and refused past it.
    Django's ``request.body`` is never used: it raises ``RequestDataTooBig`` over
    DATA_UPLOAD_MAX_MEMORY_SIZE, whatever our own limit is.
    """
    most = limit() if callable(limit) else limit
    length = request.content_length
    if length is not None and most is not None and length > most:
        raise RequestTooLarge(most)
    if length == 0:
        return b""
    try:
        raw = request.body_file.read(length if length is not None else (most + 1 if most is not None else -1))
    except SuspiciousOperation as exc:  # RequestDataTooBig: something read the body through Django first
        raise RequestTooLarge(most or body_limit()) from exc
    if most is not None and len(raw) > most:
        raise RequestTooLarge(most)
    return raw or b""


def parse_json(raw):
    """The JSON object in ``raw`` (bytes), checked by :func:`.inputs.check_tree`; an empty body is ``{}``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(N_("The request body is not valid JSON.")) from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except RecursionError as exc:  # nested thousands deep: deeper than any limit
        raise InvalidRequest(N_("The request is nested more than {depth} levels deep."),
                             depth=inputs.MAX_DEPTH) from exc
    except ValueError as exc:
        raise InvalidRequest(N_("The request body is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise InvalidRequest(N_("The request body must be a JSON object."))
    return inputs.check_tree(data)


def request_json(request):
    """The JSON object in a request body (at most :func:`body_limit` bytes), or a 400/413 error."""
    return parse_json(read_body(request, body_limit()))


def request_query(request):
    """The query of a GET as ``{name: value}`` (the first value of a repeated name), checked like a body."""
    try:
        query = request.GET
        data = {key: query.get(key) for key in query}
    except UnicodeDecodeError as exc:
        raise InvalidRequest(N_("The request's query is not valid UTF-8.")) from exc
    return inputs.check_tree(data)


def _count_denial(block, request, user, exc):
    """One failure towards the lockout for the requester of a denied request; returns the error to
    answer: the denial itself, or 429 ``locked_out`` when the requester was locked out meanwhile (a
    burst of denials that passed the lock check together: see :func:`.lockout.refuse`)."""
    locked = lockout.refuse(
        user, compat.client_ip(request), compat.course_key(block),
        exam=getattr(block, "get_exam", None),
        publish=lambda name, data: compat.publish_event(block, name, data),
        reason=exc.code,
    )
    return locked or exc


def _usage_key(block):
    """The block's usage key for monitoring (None when the block has none: monitoring never fails a call)."""
    try:
        return compat.usage_key(block)
    except Exception:  # noqa: BLE001
        return None


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
            with monitoring.transaction(handler=method.__name__, usage_key=_usage_key(block)) as record:
                response = _answer(block, request, suffix, record)
                record["status"] = response.status_code
                if response.status_code >= 400 and "outcome" not in record:  # a Response built by the handler
                    record["outcome"] = f"http_{response.status_code}"
                return response

        def _answer(block, request, suffix, record):
            user = None
            try:
                user = compat.current_user(block)
                record["role"] = getattr(user, "role", None) or None
                lockout.check(user, compat.client_ip(request))
                if request.method not in methods:
                    raise MethodNotAllowed(methods)
                if permission is not None:
                    permission(block, user)
                suffix = inputs.check_text(suffix or "", "suffix")
                if raw_body:
                    request_query(request)  # the query some raw-body handlers read (print_booklets)
                    data = read_body(request, raw_body)
                elif request.method == "POST":
                    data = request_json(request)
                else:
                    data = request_query(request)
                result = method(block, request, user, data, suffix)
                if isinstance(result, Response):
                    return result
                return json_response(result)
            except ViatiqueError as exc:
                if exc.counts_for_lockout:
                    exc = _count_denial(block, request, user, exc)
                record["outcome"] = exc.code
                return json_response(exc.as_json(), status=exc.status, headers=exc.headers())
            except Exception:  # noqa: BLE001  (logged with its traceback; the user gets a stable code)
                log.exception("Viatique handler %s failed", method.__name__)
                error = ServerError(N_("The server could not do this. Try again; if it fails again, "
                                       "tell the course team."))
                record["outcome"] = error.code
                return json_response(error.as_json(), status=error.status)

        wrapper.api_methods = tuple(methods)
        return wrapper
    return decorate
