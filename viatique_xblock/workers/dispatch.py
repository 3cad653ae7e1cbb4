"""Sending tasks to the queue the operator chose (``VIATIQUE['CELERY_QUEUE']``)."""
from .. import conf


def task_options():
    """Options for ``apply_async``: the configured queue, or the platform's default queue."""
    queue = conf.get("CELERY_QUEUE")
    return {"queue": queue} if queue else {}


def limits():
    """Soft and hard time limits for PDF tasks, from the settings."""
    return {"soft_time_limit": conf.get("TASK_SOFT_TIME_LIMIT"), "time_limit": conf.get("TASK_TIME_LIMIT")}


def send(task, *args, **kwargs):
    """Queue ``task`` with the configured queue and time limits."""
    return task.apply_async(args=args, kwargs=kwargs, **task_options(), **limits())
