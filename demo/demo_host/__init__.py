"""The Viatique demo host: the xblock-sdk workbench with Viatique's services and settings."""
from .celery import app as celery_app

__all__ = ["celery_app"]
