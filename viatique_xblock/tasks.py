"""Imported by Celery's autodiscovery (``<app>.tasks``), as the LMS does for every installed app."""
from viatique_xblock.workers.grading import render_graded_copy, rerender_graded_copy, rubric_rescore  # noqa: F401
from viatique_xblock.workers.health import health_report  # noqa: F401
from viatique_xblock.workers.recovery import recover_task  # noqa: F401
from viatique_xblock.workers.reports import (  # noqa: F401
    build_exam_archive, build_export_zip, import_exam_archive, print_booklets,
)
from viatique_xblock.workers.scanning import assemble_batch, assemble_upload, process_batch, process_range  # noqa: F401
