"""An app config exposing the demo host's management commands without its Celery app or models."""
from django.apps import AppConfig


class I18nToolsConfig(AppConfig):
    name = "demo_host"
    label = "demo_host_i18n"
