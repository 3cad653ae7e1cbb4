"""Imported by Celery's autodiscovery (``<app>.tasks``), as the LMS does for every installed app."""
from .workers.health import health_report  # noqa: F401
