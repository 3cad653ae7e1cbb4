"""Shared fixtures: the LMS-like harness around the block, and cleanup of real services."""
import os
import shutil
import tempfile

import pytest
from django.conf import settings


@pytest.fixture(scope="session", autouse=True)
def _clean_services_after_run(tmp_path_factory):
    """Leave nothing behind: this run's Redis keys and its temporary files.

    This process's temporary folder is one in the run's var dir, removed at the end: the copies of
    stored scans (``storage.local_file``) of a test whose ``VIATIQUE`` has no ``LOCAL_CACHE_DIR`` go
    there rather than into the machine's. pytest's own folders stay where they are."""
    tmp_path_factory.getbasetemp()
    folder = os.path.join(settings.VAR_DIR, "tmp")
    os.makedirs(folder, exist_ok=True)
    saved, tempfile.tempdir = tempfile.tempdir, folder
    yield
    tempfile.tempdir = saved
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
