"""The demo host's Celery app. In the LMS the platform's own app runs the same shared tasks."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_host.settings")

app = Celery("demo_host")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
