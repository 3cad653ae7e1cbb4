"""Django app configuration, registered as an Open edX plugin app (LMS and Studio)."""
from django.apps import AppConfig


class ViatiqueConfig(AppConfig):
    """The Viatique Django app: models, migrations, system checks, Celery tasks."""

    name = "viatique_xblock"
    label = "viatique_xblock"
    verbose_name = "Viatique paper exams"
    default_auto_field = "django.db.models.BigAutoField"

    # Read by edx-django-utils' plugin framework in the LMS and Studio. The plugin
    # has no URLs and no settings module of its own: its settings are the VIATIQUE
    # dict (viatique_xblock.platform.conf), read lazily with documented defaults.
    plugin_app = {}

    def ready(self):
        from viatique_xblock.platform import checks  # noqa: F401  (registers the system checks)
        from viatique_xblock.results import \
            release  # noqa: F401  (connects the gradebook to the grading domain's signals)
        from viatique_xblock.grading import leases  # noqa: F401  (ends a retired user's leases)
        from viatique_xblock.identity import retirement

        from viatique_xblock.platform import warmup

        retirement.connect()  # the platform's retirement signals, where there are (the LMS)
        warmup.connect_worker()  # a Celery worker imports what the tasks need when it starts
