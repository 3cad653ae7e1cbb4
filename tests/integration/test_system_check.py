"""System check viatique.E001, as an operator meets it: ``manage.py check`` in a subprocess."""
import pytest

from .conftest import manage, redis_url, subprocess_env

pytestmark = pytest.mark.integration


def check(scratch, debug, redis):
    env = subprocess_env(
        DEBUG=debug, REDIS_URL=redis, DATABASE_URL=None, CELERY_BROKER_URL=None,
        VIATIQUE_VAR_DIR=scratch,
    )
    return manage("check", env=env, timeout=120)


def test_per_process_cache_outside_debug_fails_the_check(scratch):
    result = check(scratch, debug="0", redis=None)
    assert result.returncode != 0
    assert "viatique.E001" in result.stderr
    assert "LocMemCache" in result.stderr


def test_redis_cache_outside_debug_passes_the_check(scratch):
    result = check(scratch, debug="0", redis=redis_url(14))
    assert result.returncode == 0, result.stderr
    assert "viatique.E001" not in result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_per_process_cache_in_debug_passes_the_check(scratch):
    result = check(scratch, debug="1", redis=None)
    assert result.returncode == 0, result.stderr
    assert "viatique.E001" not in result.stdout + result.stderr
