"""Sending tasks (platform/queue.py): a broker that cannot be reached is given up on after a short retry policy,
with a typed 503 error, instead of Celery's defaults (19 s and a 500 with Redis down); results nobody reads are
not waited for."""
import pytest
from django.test import override_settings
from kombu.exceptions import OperationalError

from viatique_xblock.platform import queue
from viatique_xblock.tasks import assemble_upload, build_export_zip, health_report, recover_task, render_graded_copy


@pytest.fixture
def not_eager():
    app = assemble_upload.app
    saved = app.conf.task_always_eager
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        app.conf.task_always_eager = False
        try:
            yield app
        finally:
            app.conf.task_always_eager = saved


def test_a_broker_that_cannot_be_reached_gives_queue_unavailable_after_a_short_retry_policy(monkeypatch, not_eager):
    task = queue.task("viatique.assemble_upload")
    seen = []

    def refused(**options):
        seen.append(options)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    monkeypatch.setattr(task, "apply_async", refused)
    with override_settings(VIATIQUE={"CELERY_QUEUE": "viatique-queue"}):
        with pytest.raises(queue.QueueUnavailable) as caught:
            queue.send("viatique.assemble_upload", 42)
    error = caught.value
    assert (error.code, error.status) == ("queue_unavailable", 503)
    assert error.as_json()["message"] and "{" not in error.message
    (options,) = seen
    assert options["args"] == (42,) and options["queue"] == "viatique-queue"
    assert options["retry"] is True and options["retry_policy"] == queue.PUBLISH_RETRY_POLICY
    policy = queue.PUBLISH_RETRY_POLICY
    assert policy["max_retries"] <= 2 and policy["interval_max"] <= 0.5  # well under a second of waiting


def test_eager_tasks_raise_what_they_raise(monkeypatch):
    """Without a broker (tasks run in the process) an OperationalError is the task's own, not the broker's."""
    task = queue.task("viatique.assemble_upload")

    def failing(**options):
        raise OperationalError("raised by the task itself")
    monkeypatch.setattr(task, "apply_async", failing)
    with pytest.raises(OperationalError):
        queue.send("viatique.assemble_upload", 42)


def test_only_the_health_report_keeps_its_result():
    """The web process waits on the result backend for no other task (with Redis down, that wait was 19 s)."""
    for task in (assemble_upload, build_export_zip, render_graded_copy, recover_task):
        assert task.ignore_result is True, task.name
    assert health_report.ignore_result is False
