"""Readying a web process at its start for Viatique's handlers, and a Celery worker for its tasks,
instead of on their first call.

A fresh web worker otherwise pays, on the first handler call that needs them:

- the Redis client behind the lease and lockout cache (importing ``redis`` and the cache backend:
  about 120 ms on the 2-core reference machine, on the first handler call of every worker, since
  every handler checks the lockout);
- Celery's producer, its broker connection and the task modules (about 90 to 150 ms on the first
  ``finalize`` a worker sends to the queue);
- edx-django-utils, which every handler call uses: its monitoring (importing it, and loading the APM
  backends ``OPENEDX_TELEMETRY`` names) and its reading of the client's IP address: about 20 ms on the
  first handler call of every worker (a third of a ``next_answer``, which made that call the slowest of all);
- the connections themselves (database, Redis), opened on first use.

Each worker's first graders waited for that. :func:`warm_up` does it once when the process starts;
the demo host's WSGI module calls it (``demo/demo_host/wsgi.py``), and docs/operations.md says how
an LMS deployment can. It never raises: what cannot be readied (Redis or the broker down) is
logged and left to the first request, which reports it as it always did (503 ``lease_unavailable``
for grading writes, a copy kept ``submitted`` for a render that could not be queued).

A Celery worker's first Viatique task paid its own share: the task modules, the image and code libraries
that read a scan's pages (Pillow's JPEG decoder, zxing-cpp) and edx-django-utils' monitoring that
wraps every range of pages: 50 ms on the reference machine in the demo host's worker (whose Celery
app has loaded the tasks already), 120 ms in a process that had not, a tenth to a quarter of the
ingestion of a 140-page scan. :func:`warm_up_worker` imports them when the worker starts, before its
pool forks (the children inherit them); :func:`connect_worker` ties it to Celery's ``worker_init``
signal, in every host (the app's ``ready``). It opens no connection and never raises: an import that
fails is logged and left to the first task.

:func:`freeze_startup_objects` then moves everything loaded so far out of the garbage collector's
way (:func:`gc.freeze`): a full collection of a Django worker walks its 150,000 start-up objects
(70 to 80 ms measured, during one request) although none of them will ever be garbage.
"""
import gc
import importlib
import logging
import time

from django.db import connections

log = logging.getLogger(__name__)

#: modules the handlers import on their first call of some kind (tasks: every task of Viatique,
#: which the handlers queue; the block's handler mixins; the lease and lockout stores)
MODULES = ("viatique_xblock.tasks", "viatique_xblock.block", "viatique_xblock.grading.workspace",
           "viatique_xblock.grading.leases", "viatique_xblock.platform.lockout", "viatique_xblock.grading.rendering",
           "viatique_xblock.platform.queue")


def warm_up(connect=True, celery_app=None):
    """Import what the handlers need and, with ``connect``, open the database, cache and broker
    connections this process will use. Returns ``{step: milliseconds}`` of what was done, and
    ``{step: error text}`` under ``"errors"`` for what could not be.

    ``connect=False`` only imports and builds objects: for a process about to fork (gunicorn's
    ``--preload`` master), whose connections must not be shared with its children. ``celery_app``
    defaults to the current Celery app (the platform's, in the LMS).
    """
    done, errors = {}, {}
    _step(done, errors, "modules", lambda: [importlib.import_module(name) for name in MODULES])
    _step(done, errors, "cache", lambda: _cache(connect))
    _step(done, errors, "celery", lambda: _celery(connect, celery_app))
    _step(done, errors, "platform", _platform)
    if connect:
        _step(done, errors, "database", lambda: [connections[alias].ensure_connection() for alias in connections])
    if errors:
        log.warning("Viatique warm-up: not readied (left to the first request): %s", errors)
    log.info("Viatique warm-up (milliseconds): %s", done)
    done["errors"] = errors
    return done


#: what a Viatique task imports on its first call: the tasks, the PDF layer's readers of scanned pages and
#: the libraries under them (Pillow's JPEG decoder and zxing-cpp are imported on a scan's first page)
WORKER_MODULES = ("viatique_xblock.tasks", "viatique_xblock.pdf.decode", "viatique_xblock.pdf.pages",
                  "viatique_xblock.pdf.jpeg", "PIL.Image", "PIL.JpegImagePlugin", "zxingcpp")


def warm_up_worker():
    """Import what Viatique's Celery tasks need, and edx-django-utils' monitoring with its APM backends
    (every task sets attributes and spans). Imports only, no connection: it runs in the worker's main
    process, before the pool forks. Never raises; returns ``{step: milliseconds, "errors": {...}}``."""
    done, errors = {}, {}
    _step(done, errors, "modules", lambda: [importlib.import_module(name) for name in WORKER_MODULES])
    _step(done, errors, "platform", _platform)
    if errors:
        log.warning("Viatique worker warm-up: not readied (left to the first task): %s", errors)
    log.info("Viatique worker warm-up (milliseconds): %s", done)
    done["errors"] = errors
    return done


def connect_worker():
    """Run :func:`warm_up_worker` when a Celery worker starts (its ``worker_init`` signal, sent in the
    main process before the pool is made: prefork children inherit the imports, a solo pool runs there).
    Nothing where Celery is not installed."""
    try:
        from celery import signals
    except ImportError:
        return
    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid="viatique-warm-up-worker")


def _on_worker_init(**_kwargs):
    warm_up_worker()


def freeze_startup_objects():
    """Collect what start-up left behind, then keep every remaining object out of later full
    collections (:func:`gc.freeze`). Call it once, after :func:`warm_up`, in each worker process
    (or in a ``--preload`` master just before it forks). Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _step(done, errors, name, action):
    started = time.perf_counter()
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - a warm-up never stops a process from starting
        errors[name] = f"{type(exc).__name__}: {exc}"
    else:
        done[name] = round((time.perf_counter() - started) * 1000, 1)


def _cache(connect):
    """Build the Redis client of the cache that holds the leases and lockout counters (imports the
    Redis client library); with ``connect``, open a connection of the pool they share (a Redis PING)."""
    from django.core.cache import caches

    from viatique_xblock.platform import conf, redis_client

    client = redis_client.raw_client(caches[conf.get("CACHE_ALIAS")])
    if connect and client is not None:  # None: a per-process cache (DEBUG), nothing to connect
        client.ping()


def _platform():
    """Import what of edx-django-utils a handler call uses, and load its APM backends as a handler's first
    attribute would (outside a request or a task, an attribute set records nothing)."""
    from viatique_xblock.platform import monitoring

    importlib.import_module("edx_django_utils.ip")
    monitoring.set_custom_attribute(monitoring.PREFIX + "warm_up", True)


def _celery(connect, app):
    """Build Celery's producer (loading the task modules); with ``connect``, open the broker
    connection the first ``apply_async`` would. Skipped when tasks run eagerly (no broker)."""
    from celery import current_app

    celery = app or current_app
    celery.tasks  # noqa: B018 - finalizes the app: binds the shared tasks the handlers queue
    if celery.conf.task_always_eager:
        return
    celery.amqp  # noqa: B018 - builds the queues, routes and message producer class
    celery.backend  # noqa: B018 - the result backend's client (a task's id is registered there)
    if connect:
        with celery.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5,
                                                  interval_max=0.5, timeout=5)
