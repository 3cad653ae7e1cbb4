"""The platform's monitoring (APM): custom attributes, counters and spans, through edx-django-utils.

Open edX reports to New Relic or Datadog through ``edx_django_utils.monitoring``; without an APM agent
its functions do nothing. This module looks it up lazily, on first use, and is a no-op when it is not
installed (the workbench without it), so nothing here may break a request or a task: a failing
monitoring call is logged at debug level and forgotten.

- :func:`transaction` around a handler call (:mod:`viatique_xblock.jsonapi`) or a Celery task
  (:mod:`viatique_xblock.workers`): sets ``viatique.<name>`` custom attributes for what it was given
  (handler or task name, ids, role...) and, when it ends, ``viatique.outcome`` (``ok``, an error's
  code or an exception's class name), ``viatique.duration_ms``; it resets the counters;
- :func:`increment`: a counter of the current handler call or task (``viatique.lockout_refusals``,
  ``viatique.lease_conflicts``, ``viatique.render_failures``), set again as a custom attribute at each
  increment, so it needs no edx-django-utils middleware and works in Celery workers too;
- :func:`span`: a ``function_trace`` segment named ``viatique.<name>`` (ingestion ranges, graded-PDF
  renders, ZIP builds).

The attribute names are listed in docs/operations.md ("What to alert on").
"""
import contextlib
import logging
import threading
import time

log = logging.getLogger(__name__)

PREFIX = "viatique."

_api = None  # edx_django_utils.monitoring once looked up, False when it is not installed
_local = threading.local()


def _monitoring():
    """edx-django-utils' monitoring module, or None. Looked up once (a failed import is not remembered
    by Python, and would search sys.path on every call)."""
    global _api  # noqa: PLW0603
    if _api is None:
        try:
            from edx_django_utils import monitoring as api
        except ImportError:
            api = False
        _api = api
    return _api or None


def set_custom_attribute(key, value):
    """edx-django-utils' ``set_custom_attribute``, or nothing without it (the one place it is called)."""
    api = _monitoring()
    if api is not None:
        api.set_custom_attribute(key, value)


def function_trace(name):
    """edx-django-utils' ``function_trace`` context manager, or an empty one without it."""
    api = _monitoring()
    if api is None:
        return contextlib.nullcontext()
    return api.function_trace(name)


def set_attribute(name, value):
    """Set ``viatique.<name>`` on the current transaction (never raises)."""
    try:
        set_custom_attribute(PREFIX + name, value)
    except Exception:  # noqa: BLE001 - monitoring must not break the work it watches
        log.debug("Viatique monitoring: attribute %s not set", name, exc_info=True)


def set_attributes(**values):
    for name, value in values.items():
        if value is not None:
            set_attribute(name, value)


def reset_counters():
    _local.counters = {}


def increment(name, amount=1):
    """Add ``amount`` to the counter ``viatique.<name>`` of the current handler call or task, and set its
    new value as a custom attribute."""
    counters = getattr(_local, "counters", None)
    if counters is None:
        counters = _local.counters = {}
    counters[name] = counters.get(name, 0) + amount
    set_attribute(name, counters[name])


def counters():
    """The counters of the current handler call or task (a copy)."""
    return dict(getattr(_local, "counters", None) or {})


@contextlib.contextmanager
def span(name):
    """A ``function_trace`` segment ``viatique.<name>`` around the block; a no-op without an APM."""
    try:
        trace = function_trace(PREFIX + name)
        trace.__enter__()
    except Exception:  # noqa: BLE001
        log.debug("Viatique monitoring: span %s not started", name, exc_info=True)
        trace = None
    try:
        yield
    except BaseException as exc:
        if trace is not None:
            _exit_quietly(trace, type(exc), exc, exc.__traceback__)
            trace = None
        raise
    finally:
        if trace is not None:
            _exit_quietly(trace, None, None, None)


def _exit_quietly(trace, *exc_info):
    try:
        trace.__exit__(*exc_info)
    except Exception:  # noqa: BLE001
        log.debug("Viatique monitoring: span not ended", exc_info=True)


def outcome_of(exc):
    """The outcome recorded for an exception: its stable ``code`` (Viatique errors), else its class name."""
    return getattr(exc, "code", None) or type(exc).__name__


@contextlib.contextmanager
def transaction(**attributes):
    """Record one handler call or task: ``attributes`` (``viatique.<name>``, None left out) at once, and on
    the way out ``viatique.outcome`` and ``viatique.duration_ms``. The block receives a dict it may add
    attributes to (``pages``, or ``outcome`` and ``status`` when it answers an error itself); an exception
    leaving the block is recorded with :func:`outcome_of` and goes on."""
    reset_counters()
    started = time.monotonic()
    set_attributes(**attributes)
    record = {}
    try:
        yield record
    except BaseException as exc:
        record.setdefault("outcome", outcome_of(exc))
        raise
    finally:
        record.setdefault("outcome", "ok")
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        set_attributes(**record)
