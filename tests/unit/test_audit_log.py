"""The audit log viewer: filters (copy by code or id, actor, action family, dates), pages, CSV, queries."""
import datetime
from unittest import mock

import pytest

from tests.harness import call, make_block
from tests.unit.test_exports import add_copy, download, parse
from viatique_xblock import audit
from viatique_xblock.models import AuditEvent
from viatique_xblock.reports import audit_log

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc


def at(day, hour=12):
    return mock.patch("django.utils.timezone.now", return_value=datetime.datetime(2026, 11, day, hour, tzinfo=UTC))


@pytest.fixture
def logged():
    block = make_block()
    exam = block.get_exam()
    first = add_copy(exam, "AAAAA", "learner_1", "Chloé")
    second = add_copy(exam, "CCCCC", "learner_2", "Léo")
    actor = type("Actor", (), {"username": "instructor_1", "role": "instructor"})()
    grader = type("Actor", (), {"username": "staff_1", "role": "grader"})()
    with at(20):
        audit.record(exam, "identification.matched", actor=actor, copy=first, client_ip="10.0.0.1",
                     details={"username": "learner_1"})
    with at(21):
        audit.record(exam, "grading.finalized", actor=grader, copy=first, details={"total": "12"})
    with at(22):
        audit.record(exam, "grading.finalized", actor=grader, copy=second)
        audit.record(exam, "export.grades_csv", actor=actor, details={"comment": "=cmd|' /C calc'!A0"})
    with at(23):
        audit.record(exam, "copies.merged", actor=actor, copy=987654, details={"into": second.pk})
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2").get_exam()
    audit.record(other, "grading.finalized", actor=grader, copy=first.pk)
    return block, exam, first, second


def events(block, query=""):
    status, body = call(block, "audit_log", method="GET", query=query)
    assert status == 200, body
    return body


def actions(body):
    return [event["action"] for event in body["events"]]


def test_newest_first_with_copy_codes_and_only_this_exam(logged):
    block, _exam, first, _second = logged
    body = events(block)
    assert body["count"] == 5
    assert actions(body) == ["copies.merged", "export.grades_csv", "grading.finalized", "grading.finalized",
                             "identification.matched"]
    oldest = body["events"][-1]
    assert oldest["copy_code"] == "AAAAA" and oldest["copy_id"] == first.pk and oldest["client_ip"] == "10.0.0.1"
    assert oldest["actor"] == "instructor_1" and oldest["role"] == "instructor"
    assert oldest["time"].startswith("2026-11-20T12:00:00")
    assert body["actions"] == ["copies.merged", "export.grades_csv", "grading.finalized", "identification.matched"]


def test_filters(logged):
    block, _exam, first, second = logged
    assert events(block, "copy=AAAAA")["count"] == 2
    assert events(block, "copy=aaaaa")["count"] == 2
    assert events(block, f"copy={second.pk}")["count"] == 1
    assert actions(events(block, "copy=987654")) == ["copies.merged"]  # a merged-away copy, by id
    assert events(block, "copy=ZZZZZ")["count"] == 0
    assert events(block, "actor=staff_1")["count"] == 2
    assert events(block, "action=grading")["count"] == 2  # a family
    assert events(block, "action=grading.finalized")["count"] == 2
    assert events(block, "action=grad")["count"] == 0
    assert actions(events(block, "date_from=2026-11-21&date_to=2026-11-22")) == [
        "export.grades_csv", "grading.finalized", "grading.finalized"]
    assert events(block, "date_to=2026-11-20")["count"] == 1
    assert events(block, "date_from=2026-11-22T12:00:00Z&date_to=2026-11-22T12:00:00Z")["count"] == 2
    assert events(block, "actor=staff_1&copy=AAAAA&action=grading")["count"] == 1
    status, body = call(block, "audit_log", method="GET", query="date_from=yesterday")
    assert status == 400 and body["error"] == "invalid_request"


def test_pages(logged):
    block, *_ = logged
    body = events(block, "limit=2&offset=2")
    assert body["count"] == 5 and body["offset"] == 2 and body["limit"] == 2
    assert actions(body) == ["grading.finalized", "grading.finalized"]
    assert events(block, "limit=100000")["limit"] == audit_log.MAX_LIMIT
    assert events(block, "limit=x&offset=-3")["offset"] == 0


def test_query_count_does_not_grow_with_the_log(logged, django_assert_max_num_queries):
    block, exam, first, _second = logged
    for number in range(150):
        audit.record(exam, "grading.draft_saved", copy=add_copy(exam, f"K{number:04d}") if number < 40 else first)
    block = make_block()
    with django_assert_max_num_queries(6):  # exam sync, copy code, count, page, codes, actions
        body = events(block, "copy=AAAAA&limit=200")
    assert body["count"] == 112


def test_csv_with_filters_neutralised_and_audited(logged):
    block, exam, *_ = logged
    response = download(block, "audit_log_csv", "action=export&separator=semicolon")
    assert response.status_code == 200 and response.content_type == "text/csv"
    rows = parse(response.body, ";")
    assert rows[0] == ["Time (UTC)", "Actor", "Role", "Action", "Copy code", "Copy id", "Client IP", "Details"]
    assert len(rows) == 2
    assert rows[1][3] == "export.grades_csv"
    assert rows[1][7] == "{\"comment\": \"=cmd|' /C calc'!A0\"}"  # a JSON object: never a formula
    rows = parse(download(block, "audit_log_csv", "copy=AAAAA").body)
    assert [row[4] for row in rows[1:]] == ["AAAAA", "AAAAA"]
    event = AuditEvent.objects.filter(exam=exam, action="export.audit_log_csv").first()
    assert event.details["filters"] == {"copy": "AAAAA"}


def test_csv_cells_starting_like_formulas_get_an_apostrophe(logged):
    block, exam, *_ = logged
    audit.record(exam, "-1+1", actor=type("Actor", (), {"username": "@evil", "role": "grader"})())
    rows = parse(download(block, "audit_log_csv").body)
    cells = [cell for row in rows for cell in row]
    assert "'@evil" in cells and "'-1+1" in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
