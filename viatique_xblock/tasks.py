"""Imported by Celery's autodiscovery (``<app>.tasks``), as the LMS does for every installed app."""
from .workers.health import health_report  # noqa: F401
from .workers.ingest import assemble_batch, assemble_upload, process_batch, process_range  # noqa: F401
from .workers.export import build_export_zip  # noqa: F401
from .workers.render import render_graded_copy  # noqa: F401
