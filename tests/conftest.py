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


@pytest.fixture(autouse=True)
def _no_lockout_carried_between_tests():
    """Denied requests of one test never lock a user of the next (counters and locks live in the cache)."""
    yield
    from django.core.cache import caches

    from viatique_xblock.platform import conf, lockout

    cache = caches[conf.get("CACHE_ALIAS")]
    if hasattr(cache, "delete_pattern"):  # django-redis: only this run's keys (its KEY_PREFIX)
        cache.delete_pattern(lockout.KEY_ROOT + ":*")
