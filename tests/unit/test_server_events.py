"""Milestones reached outside a request (a scan processed by Celery, a command) go out as platform tracking
events through the LMS's event tracker (``eventtracking.tracker.emit``), not only to the audit trail."""
import io
import sys
import types

import pymupdf
import pytest

from tests.harness import make_block
from tests.unit.pdf import builders
from viatique_xblock import audit
from viatique_xblock.models import AuditEvent
from viatique_xblock.scanning import batches

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracker(monkeypatch):
    """A stand-in for the LMS's ``eventtracking`` package (the event-tracking distribution), recording emits."""
    emitted = []
    package = types.ModuleType("eventtracking")
    package.tracker = types.SimpleNamespace(emit=lambda name, data: emitted.append((name, data)))
    monkeypatch.setitem(sys.modules, "eventtracking", package)
    return emitted


def test_an_event_without_a_runtime_goes_to_the_platforms_tracker(tracker):
    exam = make_block().get_exam()
    audit.record(exam, "scan.processed", details={"batch": 7, "pages": 4})
    assert tracker == [("edx.viatique.scan.processed", {"exam_id": exam.pk, "copy_id": None, "batch": 7, "pages": 4})]


def test_an_event_published_through_the_runtime_is_not_sent_twice(tracker):
    exam = make_block().get_exam()
    published = []
    audit.record(exam, "results.released", publish=lambda name, data: published.append(name))
    assert published == ["edx.viatique.results.released"] and tracker == []


def test_outside_the_lms_the_audit_trail_keeps_the_event_and_nothing_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "eventtracking", None)  # import fails, as in the workbench
    exam = make_block().get_exam()
    audit.record(exam, "scan.processed", details={"batch": 1})
    assert AuditEvent.objects.filter(exam=exam, action="scan.processed").count() == 1


def test_a_scan_processed_by_the_pipeline_is_a_tracking_event(tracker, django_capture_on_commit_callbacks):
    exam = make_block().get_exam()
    page = pymupdf.open(stream=builders.subject(1), filetype="pdf")[0].get_pixmap(dpi=100)
    data = builders.image_pdf([builders.baseline_jpeg(page)] * 4)
    info = batches.validate_bytes(data)
    with django_capture_on_commit_callbacks(execute=True):
        batches.create_batch(exam, "scan.pdf", info.sha256, info, io.BytesIO(data), send=batches.run_locally)
    names = [name for name, _data in tracker]
    assert "edx.viatique.scan.processed" in names
    processed = dict(tracker)["edx.viatique.scan.processed"]
    assert processed["exam_id"] == exam.pk and processed["pages"] == 4
