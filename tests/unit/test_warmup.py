"""viatique_xblock.platform.warmup: what a web process and a Celery worker ready at their start, and that it
never stops them starting."""
import gc
import os
import sys

import logging

import pytest
from celery import Celery
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from viatique_xblock.platform import warmup

pytestmark = pytest.mark.django_db

#: nothing listens on port 1 of this machine
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def redis_cache(location):
    return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location,
            "KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}


def broker_app(url):
    """A Celery app with a broker (the test settings run tasks eagerly, with none)."""
    app = Celery("viatique-warmup-test", broker=url, set_as_current=False)
    app.conf.task_always_eager = False
    app.conf.broker_connection_retry_on_startup = False
    return app


def test_warm_up_imports_connects_and_reports_each_step():
    app = broker_app(os.environ["REDIS_URL"])
    try:
        done = warmup.warm_up(celery_app=app)
        assert done["errors"] == {}
        assert {"modules", "cache", "celery", "platform", "database"} <= set(done)
        assert all(isinstance(done[step], float) for step in ("modules", "cache", "celery", "platform", "database"))
        # what of edx-django-utils every handler call uses: its monitoring with its backends, the client's IP
        assert {"edx_django_utils.monitoring", "edx_django_utils.ip"} <= set(sys.modules)
        # the producer the first apply_async will take already holds an open broker connection
        with app.producer_or_acquire() as producer:
            assert producer.connection.connected
    finally:
        app.close()


def test_warm_up_leaves_the_connections_alone_when_told_not_to_connect():
    app = broker_app(UNREACHABLE_REDIS)
    try:
        # connect=False (a --preload master): nothing is opened, so an unreachable broker is no error
        done = warmup.warm_up(connect=False, celery_app=app)
        assert done["errors"] == {}
        assert "database" not in done
    finally:
        app.close()


def test_an_unreachable_broker_is_reported_not_raised():
    app = broker_app(UNREACHABLE_REDIS)
    try:
        done = warmup.warm_up(celery_app=app)
        assert set(done["errors"]) == {"celery"}
        assert "celery" not in done and "cache" in done
    finally:
        app.close()


def test_an_unreachable_cache_is_reported_not_raised():
    viatique = {**getattr(settings, "VIATIQUE", {}), "CACHE_ALIAS": "warmup_unreachable"}
    with override_settings(CACHES={**settings.CACHES, "warmup_unreachable": redis_cache(UNREACHABLE_REDIS)},
                           VIATIQUE=viatique):
        done = warmup.warm_up(connect=True)
        assert set(done["errors"]) == {"cache"}
        assert "ConnectionError" in done["errors"]["cache"]
        assert {"modules", "celery", "database"} <= set(done)
    caches["default"].get("warm-up check")  # the regular cache still answers afterwards


def test_worker_warm_up_imports_the_tasks_their_page_readers_and_monitoring():
    done = warmup.warm_up_worker()
    assert done["errors"] == {}
    assert isinstance(done["modules"], float) and isinstance(done["platform"], float)
    assert "database" not in done and "cache" not in done  # imports only: it runs before the pool forks
    assert set(warmup.WORKER_MODULES) <= set(sys.modules)
    assert {"viatique_xblock.tasks", "PIL.JpegImagePlugin", "zxingcpp", "edx_django_utils.monitoring"} <= set(sys.modules)


def test_a_worker_warm_up_that_fails_is_reported_not_raised(monkeypatch, caplog):
    monkeypatch.setattr(warmup, "WORKER_MODULES", (*warmup.WORKER_MODULES, "viatique_xblock.no_such_module"))
    caplog.set_level(logging.WARNING, logger=warmup.__name__)
    done = warmup.warm_up_worker()
    assert "ModuleNotFoundError" in done["errors"]["modules"]
    assert "platform" in done  # the other step still ran
    assert any("left to the first task" in record.getMessage() for record in caplog.records)


def test_freeze_keeps_start_up_objects_out_of_full_collections():
    try:
        frozen = warmup.freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 10000
        gc.collect()
        # frozen objects are no longer in any generation the collector walks
        assert len(gc.get_objects()) < frozen
    finally:
        gc.unfreeze()
