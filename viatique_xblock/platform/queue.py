"""Sending Celery tasks by their registered names, to the queue the operator chose.

The stages queue their tasks through :func:`send` with the task's name
(``"viatique.render_graded_copy"``), never by importing ``viatique_xblock.workers``:
the workers call the stages, so the stages cannot import the workers without a
circle. The task modules are registered with Celery when ``viatique_xblock.tasks``
is imported (the platform's autodiscovery does it in every worker and web
process; :func:`send` makes sure of it in processes that have not).

When the broker cannot be reached, :func:`send` gives up quickly (:data:`PUBLISH_RETRY_POLICY`: three
attempts within about half a second, each bounded by the broker's connection timeout: Celery's
``broker_connection_timeout`` for RabbitMQ, ``socket_connect_timeout`` of
``broker_transport_options`` for Redis, see docs/operations.md) and raises
:class:`QueueUnavailable` (HTTP 503 ``queue_unavailable``), instead of the 19 seconds and the 500 of
Celery's defaults. Tasks whose result nobody reads are sent with ``ignore_result`` (their ``Task``
says so): the web process then never subscribes to the result backend, whose reconnection attempts
(twenty, a second apart) were those 19 seconds when Redis, broker and result store at once, was down.
Every caller leaves its work in a state that calling again (or ``viatique_recover``) sends again.
"""
import importlib
import logging

from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.platform import conf

log = logging.getLogger(__name__)

#: how hard one send tries to reach the broker before :class:`QueueUnavailable` (kombu's ``ensure``):
#: the first attempt and two retries, 0.2 s then 0.4 s apart
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.4}


class QueueUnavailable(ViatiqueError):
    """The Celery broker could not be reached: nothing was queued; calling again once it is back does it."""

    code = "queue_unavailable"
    status = 503

    def __init__(self, message=None, **params):
        super().__init__(message or N_(
            "The server cannot start this work now: its task queue does not answer. Nothing was lost; "
            "try again in a few minutes."), **params)


#: the module the platform's Celery autodiscovery imports: it registers every task of the plugin
TASKS_MODULE = "viatique_xblock.tasks"


def task_options():
    """Options for ``apply_async``: the configured queue, or the platform's default queue."""
    queue = conf.get("CELERY_QUEUE")
    return {"queue": queue} if queue else {}


def limits():
    """Soft and hard time limits for PDF tasks, from the settings."""
    return {"soft_time_limit": conf.get("TASK_SOFT_TIME_LIMIT"), "time_limit": conf.get("TASK_TIME_LIMIT")}


def task(name):
    """The registered task called ``name`` in the current Celery app."""
    from celery import current_app

    importlib.import_module(TASKS_MODULE)  # shared tasks register with every app when their module loads
    return current_app.tasks[name]


def send(name, *args, **kwargs):
    """Queue the task registered as ``name`` with the configured queue and time limits.

    Raises :class:`QueueUnavailable` when the broker cannot be reached (after
    :data:`PUBLISH_RETRY_POLICY`). Tasks run eagerly (no broker) raise what they raise.
    """
    from kombu.exceptions import OperationalError

    registered = task(name)
    try:
        return registered.apply_async(args=args, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY_POLICY,
                                      **task_options(), **limits())
    except OperationalError as error:  # kombu's name for "the broker's connection failed"
        if registered.app.conf.task_always_eager:
            raise
        log.warning("Viatique could not queue %s%r: %s", name, args, error)
        raise QueueUnavailable() from error
