"""Security and privacy review: one test per flaw found and fixed (bad input that made a 500,
identity leaks to graders, internal details in messages)."""
import pytest

from tests.harness import call
from tests.unit import results_helpers
from viatique_xblock.models import AuditEvent, RegradeRequest

pytestmark = pytest.mark.django_db


def test_an_absurd_audit_log_offset_is_an_empty_page_not_a_server_error():
    instructor = results_helpers.block()
    AuditEvent.objects.create(exam=instructor.get_exam(), action="roster.uploaded", actor="instructor_1")
    status, body = call(instructor, "audit_log", method="GET", query="offset=" + "9" * 30 + "&limit=" + "9" * 30)
    assert status == 200
    assert body["events"] == [] and body["count"] == 1 and body["limit"] == 200
    status, body = call(instructor, "audit_log", method="GET", query="offset=-5&limit=-1")
    assert status == 200 and body["offset"] == 0 and body["limit"] == 1 and len(body["events"]) == 1


@pytest.mark.parametrize("question_id", [["q2"], {"id": "q2"}, 2, None])
def test_a_regrade_request_naming_a_question_by_a_list_or_object_is_invalid_not_a_server_error(question_id):
    instructor = results_helpers.block()
    results_helpers.classroom(instructor.get_exam())
    results_helpers.release(instructor)
    status, body = call(results_helpers.learner_block("learner_1"), "request_regrade",
                        {"question_id": question_id, "message": "Please look again."})
    assert (status, body["error"]) == (400, "invalid_request")
    assert not RegradeRequest.objects.exists()
