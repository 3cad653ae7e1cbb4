"""A real Celery worker (subprocess) on the test database pytest-django created, the test's
Redis cache and files, and a Redis broker of its own: what ``viatique_doctor`` verifies.

The web side is this process: ``queue.send`` puts tasks on a queue unique to the run,
which only the worker started here consumes.
"""
import io
import json
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from viatique_xblock.platform import conf, queue, storage
from viatique_xblock.workers.health import health_report

from .conftest import (REDIS_HOST, REDIS_PORT, RUN_TAG, Worker, celery_configured, eventually, redis_url,
                       reserved_redis_db, scratch_dir)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = f"viatique-test-{RUN_TAG}"
NODE = f"viatique-test-{RUN_TAG}@%h"


@pytest.fixture(scope="module")
def broker_db():
    with reserved_redis_db() as db:
        yield db


@pytest.fixture(scope="module")
def worker(broker_db):
    """The worker (not started) and this process's Celery app pointed at the same broker."""
    app = health_report.app
    with celery_configured(app, broker_url=redis_url(broker_db), result_backend=redis_url(broker_db),
                           task_always_eager=False), scratch_dir("celery") as log_dir:
        handle = Worker(redis_url(broker_db), log_dir / "worker.log", QUEUE, NODE)
        try:
            yield handle
        finally:
            handle.stop()


@pytest.fixture
def queue_setting():
    with override_settings(VIATIQUE={**settings.VIATIQUE, "CELERY_QUEUE": QUEUE}):
        yield QUEUE


def doctor(*args):
    """Run ``viatique_doctor --json``; return (report, error message or None)."""
    out = io.StringIO()
    error = None
    try:
        call_command("viatique_doctor", "--json", *args, stdout=out)
    except CommandError as exc:
        error = str(exc)
    return json.loads(out.getvalue().strip().splitlines()[-1]), error


def test_task_sent_while_the_worker_is_down_runs_when_it_starts(worker, queue_setting, broker_db):
    worker.stop()
    broker = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=broker_db)
    nonce = uuid.uuid4().hex
    cache = caches[conf.get("CACHE_ALIAS")]
    store = storage.get_storage()
    name = storage.health_file_name(nonce)
    cache.set(f"viatique:health:{nonce}", nonce, 120)
    store.save(name, ContentFile(nonce.encode()))
    try:
        result = queue.send("viatique.health_report", nonce)
        # Nobody consumes the queue: the message waits in the broker.
        assert broker.llen(QUEUE) == 1
        worker.start()
        seen = result.get(timeout=60)
        assert seen["cache_seen"] and seen["storage_seen"], seen
        assert seen["database"] == {"vendor": connection.vendor, "name": connection.settings_dict["NAME"]}
        # Acknowledged once run: nothing left in the queue or among unacknowledged messages.
        assert broker.llen(QUEUE) == 0
        assert eventually(lambda: broker.hlen("unacked") == 0)
        # The worker acknowledges late (after the task), so a worker lost mid-task loses nothing.
        worker_conf = health_report.app.control.inspect(
            destination=[NODE.replace("%h", seen["host"])], timeout=5).conf()
        assert worker_conf, worker.output()
        # (the app reads Django's settings with the CELERY_ namespace)
        assert [node_conf.get("CELERY_TASK_ACKS_LATE") for node_conf in worker_conf.values()] == [True]
        result.forget()
    finally:
        cache.delete(f"viatique:health:{nonce}")
        store.delete(name)


def test_the_worker_imports_what_the_tasks_need_when_it_starts(worker, queue_setting, broker_db):
    worker.start()
    assert eventually(lambda: "Viatique worker warm-up (milliseconds)" in worker.output(), timeout=30), \
        worker.output()[-3000:]
    line = next(line for line in worker.output().splitlines() if "Viatique worker warm-up (milliseconds)" in line)
    # both steps done, nothing left to the first task
    assert "'modules'" in line and "'platform'" in line, line
    assert "Viatique worker warm-up: not readied" not in worker.output()


def test_doctor_reports_a_worker_sharing_database_cache_and_storage(worker, queue_setting, broker_db):
    worker.start()
    report, error = doctor("--timeout", "60")
    assert error is None, (error, worker.output()[-3000:])
    assert report["ok"] is True and report["problems"] == []
    celery = report["celery"]
    assert celery["queue"] == QUEUE and celery["eager"] is False
    assert celery["database_match"] is True
    assert celery["worker"]["database"]["name"] == connection.settings_dict["NAME"]
    assert celery["worker"]["database"]["vendor"] == connection.vendor == report["web"]["database"]["vendor"]
    assert celery["worker"]["cache_seen"] and celery["worker"]["storage_seen"]
    # It cleaned up: its cache key, its file and the task's result are gone.
    nonce = report["nonce"]
    assert caches[conf.get("CACHE_ALIAS")].get(f"viatique:health:{nonce}") is None
    assert not storage.get_storage().exists(storage.health_file_name(nonce))
    broker = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=broker_db)
    assert not broker.exists(f"celery-task-meta-{celery['task_id']}")


def test_doctor_says_what_differs_when_the_worker_sees_another_cache_and_storage(
        worker, queue_setting, scratch):
    worker.start()
    other_cache = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"viatique-other-{RUN_TAG}"}}
    other_storage = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(scratch)}}}
    # MEDIA_ROOT too: Django 4.2's override of STORAGES keeps only the default storage's BACKEND (it
    # mirrors it into the deprecated DEFAULT_FILE_STORAGE), so its location falls back to MEDIA_ROOT
    with override_settings(CACHES=other_cache, STORAGES=other_storage, MEDIA_ROOT=str(scratch)):
        report, error = doctor("--timeout", "60")
    assert report["ok"] is False
    assert error is not None
    assert "does not see the web side's cache key" in error
    assert "does not see the file the web side wrote" in error
    assert report["celery"]["database_match"] is True
    assert "another database" not in error


def test_doctor_fails_when_no_worker_consumes_the_queue(worker, queue_setting, broker_db):
    worker.stop()
    started = time.monotonic()
    report, error = doctor("--timeout", "1")
    assert report["ok"] is False
    assert f"No Celery worker answered on queue {QUEUE!r}" in error
    assert time.monotonic() - started < 30  # it gave up instead of hanging
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=broker_db).delete(QUEUE)  # the unanswered message
