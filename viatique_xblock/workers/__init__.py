"""Celery tasks of Viatique. Every task is a ``shared_task`` so it binds to the
platform's Celery app; :mod:`viatique_xblock.tasks` imports them for autodiscovery."""
