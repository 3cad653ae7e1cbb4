"""Sending Celery tasks by their registered names, to the queue the operator chose.

The stages queue their tasks through :func:`send` with the task's name
(``"viatique.render_graded_copy"``), never by importing ``viatique_xblock.workers``:
the workers call the stages, so the stages cannot import the workers without a
circle. The task modules are registered with Celery when ``viatique_xblock.tasks``
is imported (the platform's autodiscovery does it in every worker and web
process; :func:`send` makes sure of it in processes that have not).
"""
import importlib

from viatique_xblock.platform import conf

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
    """Queue the task registered as ``name`` with the configured queue and time limits."""
    return task(name).apply_async(args=args, kwargs=kwargs, **task_options(), **limits())
