"""Monitoring (issue 18): the custom attributes, counters and spans handler calls and Celery tasks send to
the platform's APM through edx-django-utils (:mod:`viatique_xblock.platform.monitoring`).

edx-django-utils is installed in the suite's virtualenvs, at each release's version, as in the LMS. Its
own ``set_custom_attribute`` and ``function_trace`` run: they hand every call to the telemetry backends
named by the platform's ``OPENEDX_TELEMETRY`` setting (New Relic, Datadog, OpenTelemetry in production),
here :class:`RecordingBackend`, so the tests see what an APM agent would get. The last tests check that
the plugin does nothing when edx-django-utils is missing (the workbench without it) and that a failing
backend never breaks a handler.
"""
import contextlib
import io
import sys

import pytest
from django.test import override_settings
from edx_django_utils.monitoring import TelemetryBackend

from tests.harness import USAGE, call
from tests.unit import grading_helpers as helpers
from tests.unit.test_grading import full_payload, grader_block, save, take
from viatique_xblock.models import AuditEvent, Copy, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.platform import lockout, monitoring, queue, storage
from viatique_xblock.scanning import batches, booklets
from viatique_xblock.states import BatchState, Grading

pytestmark = pytest.mark.django_db


class RecordingBackend(TelemetryBackend):
    """An edx-django-utils telemetry backend (what ``OPENEDX_TELEMETRY`` names) that records what it gets:
    the custom attributes in order, and the spans entered. edx-django-utils makes one instance per
    configuration; they all record into :attr:`received`."""

    received = None  # the APM of the running test

    def set_attribute(self, key, value):
        self.received.calls.append((key, value))

    def record_exception(self):
        """Not used by the plugin."""

    def create_span(self, name):
        return self.received.span(name)

    def tag_root_span_with_error(self, exception):
        """Not used by the plugin."""

    def set_local_root_span_name(self, name, group=None, priority=None):
        """Not used by the plugin."""


class APM:
    """What an APM agent receives: the custom attributes in order, and the spans entered."""

    def __init__(self):
        self.calls, self.spans = [], []

    @contextlib.contextmanager
    def span(self, name):
        self.spans.append(name)
        yield

    @property
    def attributes(self):
        """The last value of each attribute (a later set replaces an earlier one, as in the agents)."""
        return dict(self.calls)

    def clear(self):
        self.calls, self.spans = [], []


BACKEND = f"{__name__}.RecordingBackend"


@pytest.fixture
def apm(settings, monkeypatch):
    """The platform's telemetry setting naming :class:`RecordingBackend` (edx-django-utils reloads its
    backends when a setting changes), which records into the returned :class:`APM`."""
    agent = APM()
    monkeypatch.setattr(RecordingBackend, "received", agent)
    settings.OPENEDX_TELEMETRY = [BACKEND]
    return agent


@pytest.fixture
def exam():
    made = helpers.exam()
    yield made
    store = storage.get_storage()
    for copy in Copy.objects.filter(exam=made).exclude(graded_pdf_name=""):
        store.delete(copy.graded_pdf_name)
    helpers.remove_files(made)


def assert_duration(attributes):
    assert isinstance(attributes.pop("viatique.duration_ms"), (int, float))


# ------------------------------------------------------------------ handler calls


def test_a_successful_handler_call_records_its_attributes(apm, exam):
    status, _body = call(helpers.block(), "list_copies", method="GET")
    assert status == 200
    attributes = apm.attributes
    assert_duration(attributes)
    assert attributes == {"viatique.handler": "list_copies", "viatique.usage_key": USAGE,
                          "viatique.role": "instructor", "viatique.outcome": "ok", "viatique.status": 200}


def test_a_refused_handler_call_records_its_error_code(apm, exam):
    status, body = call(grader_block(), "force_release_lease", {"copy_id": "x"})  # instructors only
    assert (status, body["error"]) == (403, "forbidden")
    attributes = apm.attributes
    assert_duration(attributes)
    assert attributes == {"viatique.handler": "force_release_lease", "viatique.usage_key": USAGE,
                          "viatique.role": "grader", "viatique.outcome": "forbidden", "viatique.status": 403}


def test_a_lease_conflict_is_counted(apm, exam):
    copy = helpers.make_copy(exam, "A001")
    take(copy)
    apm.clear()
    status, body = call(helpers.block("staff_2", "staff"), "acquire_lease", {"copy_id": copy.public_id})
    assert (status, body["error"]) == (409, "lease_held")
    attributes = apm.attributes
    assert attributes["viatique.outcome"] == "lease_held" and attributes["viatique.status"] == 409
    assert attributes["viatique.lease_conflicts"] == 1
    # counters belong to one handler call: the next call starts again from nothing
    apm.clear()
    call(helpers.block("staff_2", "staff"), "acquire_lease", {"copy_id": copy.public_id})
    assert apm.attributes["viatique.lease_conflicts"] == 1


def test_a_lockout_refusal_is_counted(apm, exam, monkeypatch):
    monkeypatch.setattr(lockout, "_remaining", lambda cache, pairs: 600)  # the requester is locked out
    status, body = call(grader_block(), "list_copies", method="GET")
    assert (status, body["error"]) == (429, "locked_out")
    attributes = apm.attributes
    assert (attributes["viatique.outcome"], attributes["viatique.status"]) == ("locked_out", 429)
    assert attributes["viatique.lockout_refusals"] == 1


# ------------------------------------------------------------------ Celery tasks


def test_an_ingestion_records_each_task_with_its_pages_outcome_and_span(apm, exam, monkeypatch,
                                                                        django_capture_on_commit_callbacks):
    """A small synthetic scan goes through the pipeline's Celery tasks, run here one at a time."""
    pdf, _numbers = booklets.print_booklets(exam, copies=2, blank_pages=1)
    data = synthetic.scan(pdf)
    info = batches.validate_bytes(data)
    steps = []
    monkeypatch.setattr(batches, "send_step", lambda name, *args: steps.append((name, args)))
    with override_settings(VIATIQUE={"PAGES_PER_TASK": 1}):
        with django_capture_on_commit_callbacks(execute=True):
            batch = batches.create_batch(exam, "scan.pdf", info.sha256, info, io.BytesIO(data))
        runs = []
        while steps:
            name, args = steps.pop(0)
            apm.clear()
            result = queue.task(f"viatique.{name}").apply(args=args)
            assert result.successful(), result.result
            runs.append((apm.attributes, apm.spans))
    batch.refresh_from_db()
    assert batch.state == BatchState.DONE and info.pages == 2
    assert AuditEvent.objects.filter(exam=exam, action="scan.processed").count() == 1
    tasks = [attributes["viatique.task"] for attributes, _spans in runs]
    assert tasks == ["viatique.process_batch", "viatique.process_range", "viatique.process_range",
                     "viatique.assemble_batch"]
    for attributes, _spans in runs:
        assert_duration(attributes)
        assert (attributes["viatique.batch_id"], attributes["viatique.exam_id"]) == (batch.pk, exam.pk)
        assert attributes["viatique.outcome"] == "ok"
    assert runs[0][0]["viatique.ranges"] == 2
    ranges = [(attributes["viatique.range_start"], attributes["viatique.range_stop"], attributes["viatique.pages"],
               spans) for attributes, spans in runs[1:3]]
    assert ranges == [(0, 1, 1, ["viatique.process_range"]), (1, 2, 1, ["viatique.process_range"])]
    assert runs[3][0]["viatique.pages"] == 2


def test_a_failing_task_records_the_exception_as_its_outcome(apm, exam):
    with pytest.raises(ScanBatch.DoesNotExist):  # eager tasks raise what they raise (tests' settings)
        queue.task("viatique.process_range").apply(args=(10 ** 9, 0, 3))  # no such batch
    attributes = apm.attributes
    assert_duration(attributes)
    assert attributes == {"viatique.task": "viatique.process_range", "viatique.batch_id": 10 ** 9,
                          "viatique.range_start": 0, "viatique.range_stop": 3, "viatique.outcome": "DoesNotExist"}


def finalize(copy, django_capture_on_commit_callbacks):
    lease = take(copy)
    save(copy, lease, 0, full_payload(copy))
    with django_capture_on_commit_callbacks(execute=True):  # the render task runs (eagerly) at commit
        status, body = call(grader_block(), "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    assert (status, body) == (200, {"state": "submitted"})


def test_a_render_records_its_span_and_its_task(apm, exam, django_capture_on_commit_callbacks):
    copy = helpers.make_copy(exam, "A001")
    finalize(copy, django_capture_on_commit_callbacks)
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED
    assert apm.spans == ["viatique.render_graded_pdf"]
    # the render task ran when the finalize committed: its attributes come after the handler's
    task = dict(apm.calls[apm.calls.index(("viatique.task", "viatique.render_graded_copy")):])
    assert_duration(task)
    assert task == {"viatique.task": "viatique.render_graded_copy", "viatique.copy_id": copy.pk,
                    "viatique.exam_id": exam.pk, "viatique.outcome": "ok"}


def test_a_render_failure_is_counted_and_is_the_task_outcome(apm, exam, django_capture_on_commit_callbacks):
    copy = helpers.make_copy(exam, "A001")
    storage.overwrite(copy.pages.first().batch.file_name, b"this is not a PDF any more")
    finalize(copy, django_capture_on_commit_callbacks)
    copy.refresh_from_db()
    assert copy.grading_state == Grading.RENDER_FAILED
    # the render task ran when the finalize committed: its attributes come after the handler's
    task = dict(apm.calls[apm.calls.index(("viatique.task", "viatique.render_graded_copy")):])
    assert task["viatique.render_failures"] == 1 and task["viatique.outcome"] == "render_failed"


def test_an_export_zip_records_its_span_and_its_job(apm, exam):
    from viatique_xblock.models import ExportJob
    from viatique_xblock.states import Grading as States
    copy = helpers.make_copy(exam, "A001", state=States.GRADED)
    storage.overwrite("viatique-test/graded.pdf", b"%PDF-1.4 test")
    Copy.objects.filter(pk=copy.pk).update(graded_pdf_name="viatique-test/graded.pdf")
    job = ExportJob.objects.create(exam=exam, state="queued")
    result = queue.task("viatique.build_export_zip").apply(args=(job.pk,))
    assert result.successful(), result.result
    job.refresh_from_db()
    assert job.state == "done"
    storage.get_storage().delete(job.file_name)
    assert apm.spans == ["viatique.build_export_zip"]
    attributes = apm.attributes
    assert_duration(attributes)
    assert attributes == {"viatique.task": "viatique.build_export_zip", "viatique.job_id": job.pk,
                          "viatique.exam_id": exam.pk, "viatique.outcome": "ok"}


# ------------------------------------------------------------------ edx-django-utils, or nothing


@pytest.fixture
def fresh_lookup(monkeypatch):
    monkeypatch.setattr(monitoring, "_api", None)
    yield
    monitoring._api = None


def test_the_calls_go_through_edx_django_utils_own_functions(apm, fresh_lookup):
    import edx_django_utils.monitoring as platform_monitoring

    with monitoring.transaction(task="viatique.example", batch_id=3) as record:
        with monitoring.span("process_range"):
            record["pages"] = 2
        monitoring.increment("render_failures")
    assert monitoring._api is platform_monitoring
    attributes = apm.attributes
    assert_duration(attributes)
    assert attributes == {"viatique.task": "viatique.example", "viatique.batch_id": 3, "viatique.pages": 2,
                          "viatique.render_failures": 1, "viatique.outcome": "ok"}
    assert apm.spans == ["viatique.process_range"]


def test_without_edx_django_utils_nothing_happens_and_nothing_breaks(fresh_lookup, monkeypatch):
    monkeypatch.setitem(sys.modules, "edx_django_utils", None)  # import fails
    with pytest.raises(ValueError):
        with monitoring.transaction(handler="x"):
            with monitoring.span("render_graded_pdf"):
                monitoring.increment("lease_conflicts")
                raise ValueError("the work's own error goes on")
    assert monitoring._api is False


class BrokenBackend(RecordingBackend):
    """A telemetry backend whose agent is down."""

    def set_attribute(self, key, value):
        raise RuntimeError("agent down")

    def create_span(self, name):
        raise RuntimeError("agent down")


def test_a_failing_apm_never_breaks_a_handler_or_a_span(settings, exam):
    settings.OPENEDX_TELEMETRY = [f"{__name__}.BrokenBackend"]
    status, body = call(helpers.block(), "list_copies", method="GET")
    assert status == 200 and "copies" in body
    ran = []
    with monitoring.span("render_graded_pdf"):
        ran.append("the work")
    assert ran == ["the work"]
