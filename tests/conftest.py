"""Shared fixtures: the LMS-like harness around the block, and cleanup of real services."""
import shutil

import pytest
from django.conf import settings


@pytest.fixture(scope="session", autouse=True)
def _clean_services_after_run():
    """Leave nothing behind: this run's Redis keys and its temporary files."""
    yield
    from django.core.cache import cache

    try:
        cache.delete_pattern("*")  # django-redis: only keys under this run's KEY_PREFIX
    except AttributeError:
        cache.clear()
    shutil.rmtree(settings.VAR_DIR, ignore_errors=True)
