"""The learner's own results (my_results), regrade requests and staff answers, through the block's handlers."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.harness import call, startup_data
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from tests.unit.results_helpers import block, classroom, learner_block, release
from viatique_xblock import signals
from viatique_xblock.models import AuditEvent, Copy, Exam, QuestionPoints, RegradeRequest
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db


def ask(username, question_id="q2", message="I think my induction is complete.", **fields):
    return call(learner_block(username, **fields), "request_regrade", {"question_id": question_id,
                                                                         "message": message})


def results(username, **fields):
    status, body = call(learner_block(username, **fields), "my_results", method="GET")
    assert status == 200
    return body


@pytest.fixture
def released():
    instructor = block()
    copies = classroom(instructor.get_exam())
    release(instructor)
    return copies


# ------------------------------------------------------------------ the learner's results

def test_before_release_a_learner_sees_the_state_of_their_copy_and_nothing_graded():
    classroom(block().get_exam())
    body = results("learner_1")
    assert body == {"status": "awaiting_release", "released": False, "message": body["message"]}
    assert "graded" in body["message"]
    assert results("learner_3")["status"] == "grading"
    assert results("learner_9")["status"] == "no_copy"


def test_after_release_a_learner_sees_their_points_comments_pages_and_annotations(released):
    body = results("learner_1")
    assert body["status"] == "released" and body["released"] is True
    copy = body["copy"]
    assert (copy["id"], copy["code"], copy["total"], copy["max"]) == (released["learner_1"].public_id, "AAA1", "7.25", "10")
    assert (copy["scale"], copy["scale_total"]) == ("20", "14.5")
    assert copy["general_comment"] == "General comment for AAA1" and copy["graded_pdf"] is True
    assert [(q["id"], q["label"], q["path"], q["points"], q["max"], q["comment"]) for q in body["questions"]] == [
        ("q2", "1. a) Suites", "Exercice 1 › 1. a) Suites", "3.5", "4", "AAA1 q2 comment"),
        ("q3", "Exercice 2", "Exercice 2", "3.75", "6", "AAA1 q3 comment"),
    ]
    assert [page["position"] for page in body["pages"]] == [1, 2]
    assert [note["text"] for note in body["annotations"]] == ["AAA1 note on page 1", "AAA1 note on page 2"]
    assert {note["page_id"] for note in body["annotations"]} == {page["id"] for page in body["pages"]}
    assert body["regrade"]["open"] is True and body["regrade"]["requests"] == []
    assert "grader" not in copy and "staff_1" not in json.dumps(body)


def test_a_learner_never_sees_another_learners_data(released):
    text = json.dumps(results("learner_2"))
    for foreign in ("AAA1", "learner_1", "Learner 1", str(released["learner_1"].general_comment), "DDD4"):
        assert foreign not in text
    assert "BBB2" in text
    # the copy being graded of learner_3 is not shown, even after release
    assert results("learner_3") == {"status": "grading", "released": False, "message": results("learner_3")["message"]}


def test_grader_identity_only_when_the_course_shows_it(released):
    with override_settings(VIATIQUE={"SHOW_GRADER_IDENTITY": True}):
        assert results("learner_1")["copy"]["grader"] == "staff_1"


def test_the_learner_view_starts_the_learner_script_with_the_status_only():
    classroom(block().get_exam())
    frag = learner_block("learner_1").student_view()
    assert frag.js_init_fn == "ViatiqueLearner" and startup_data(frag)["status"] == "awaiting_release"
    urls = [resource.data for resource in frag.resources]
    assert "/xblock/resource/viatique/static/js/viatique_learner.js" in urls
    assert "/xblock/resource/viatique/static/css/viatique_results.css" in urls
    assert 'data-region="learner-results"' in frag.content and "AAA1" not in frag.content


# ------------------------------------------------------------------ regrade requests

def test_no_regrade_before_release():
    classroom(block().get_exam())
    status, body = ask("learner_1")
    assert status == 409 and body["error"] == "regrade_closed"
    assert not RegradeRequest.objects.exists()


def test_one_open_request_per_question(released):
    status, body = ask("learner_1")
    assert status == 200
    assert body["regrade"]["open_questions"] == ["q2"]
    assert body["regrade"]["requests"][0]["points_before"] == "3.5"
    status, body = ask("learner_1", message="Again")
    assert status == 409 and body["error"] == "regrade_open"
    assert ask("learner_1", "q3")[0] == 200
    assert RegradeRequest.objects.filter(copy=released["learner_1"], state="open").count() == 2
    event = AuditEvent.objects.filter(action="regrade.requested").first()
    assert event.actor == "learner_1" and event.copy_id_ref == released["learner_1"].pk


def test_regrade_window(released):
    Exam.objects.update(released_at=timezone.now() - timedelta(days=8))
    status, body = ask("learner_1")
    assert status == 409 and body["error"] == "regrade_closed"
    assert ask("learner_1", regrade_window_days=9)[0] == 200
    status, body = ask("learner_2", regrade_window_days=0)
    assert status == 409 and body["error"] == "regrade_closed"
    assert results("learner_2", regrade_window_days=0)["regrade"] == {
        "open": False, "waits_for_new_grade": False, "closes_at": None, "open_questions": [], "requests": []}


def test_bad_requests_and_copies_that_cannot_be_regraded(released):
    assert ask("learner_1", "q1")[1]["error"] == "invalid_request"  # a group, not a question
    assert ask("learner_1", "nope")[1]["error"] == "invalid_request"
    assert ask("learner_1", message="   ")[1]["error"] == "invalid_request"
    assert ask("learner_1", message="x" * 2001)[1]["error"] == "invalid_request"
    status, body = ask("learner_9")
    assert status == 404 and body["error"] == "no_copy"
    assert ask("learner_3")[1]["error"] == "regrade_closed"  # not graded
    assert not RegradeRequest.objects.exists()


# ------------------------------------------------------------------ staff

def test_staff_see_open_requests_graders_only_their_copies(released):
    ask("learner_1")
    ask("learner_2", "q3", "Please look at question 2 again")
    status, body = call(block(), "regrade_requests", method="GET")
    assert status == 200
    assert [(row["code"], row["question_id"], row["username"]) for row in body["requests"]] == [
        ("AAA1", "q2", "learner_1"), ("BBB2", "q3", "learner_2")]
    status, body = call(block("staff_2", "staff"), "regrade_requests", method="GET")
    assert [(row["code"], row["message"], row["points"]) for row in body["requests"]] == [
        ("BBB2", "Please look at question 2 again", "2")]
    assert "username" not in body["requests"][0]  # anonymous grading: no name for graders
    assert call(learner_block("learner_1"), "regrade_requests", method="GET")[0] == 403


def test_a_grader_answers_and_the_learner_sees_the_answer(released):
    ask("learner_1")
    request = RegradeRequest.objects.get()
    assert call(block("staff_2", "staff"), "answer_regrade", {"id": request.pk, "answer": "No"})[0] == 404
    status, body = call(block("staff_1", "staff"), "answer_regrade",
                        {"id": request.pk, "answer": "The induction step is missing."})
    assert status == 200 and body["state"] == "answered" and body["requests"] == []
    request.refresh_from_db()
    assert (request.state, request.open_question, request.answered_by) == ("answered", None, "staff_1")
    mine = results("learner_1")["regrade"]
    assert mine["requests"][0]["answer"] == "The induction step is missing."
    assert "answered_by" not in mine["requests"][0] and mine["open_questions"] == []
    event = AuditEvent.objects.get(action="regrade.answered")
    assert event.actor == "staff_1" and event.details["reopened"] is False
    # answered: the learner may ask about that question again
    assert ask("learner_1", message="Still unsure")[0] == 200
    status, body = call(block("staff_1", "staff"), "answer_regrade", {"id": request.pk, "answer": "Again"})
    assert status == 409 and body["error"] == "regrade_closed"


def gradebook_score(gradebook, exam, anonymous_id):
    """The StudentModule score the LMS-like gradebook holds, ``(grade, max_grade)``; None without a total."""
    row = gradebook.csm.get((gradebook.user_by_anonymous_id(anonymous_id).id, exam.usage_key))
    return None if row is None or row["max_grade"] is None else (row["grade"], row["max_grade"])


@pytest.fixture
def released_in_lms(lms_gradebook):
    """As ``released``, with learner_1 known to an LMS-like gradebook."""
    lms_gradebook.learner("anon-learner_1")
    instructor = block()
    copies = classroom(instructor.get_exam())
    release(instructor)
    return lms_gradebook, copies


def test_reopen_from_an_answer_withdraws_the_score_until_graded_again(released_in_lms):
    gradebook, released = released_in_lms
    exam = Exam.objects.get()
    assert gradebook_score(gradebook, exam, "anon-learner_1") == (7.25, 10.0)
    ask("learner_1")
    request = RegradeRequest.objects.get()
    status, body = call(block("staff_1", "staff"), "answer_regrade",
                        {"id": request.pk, "answer": "Reopening", "reopen": True})
    assert status == 403  # reopening is for instructors; nothing changed
    assert RegradeRequest.objects.get().state == "open"
    assert Copy.objects.get(pk=released["learner_1"].pk).grading_state == Grading.GRADED
    status, body = call(block(), "answer_regrade", {"id": request.pk, "answer": "Reopening", "reopen": True})
    assert status == 200 and body["reopened"] is True
    assert Copy.objects.get(pk=released["learner_1"].pk).grading_state == Grading.REOPENED
    assert gradebook_score(gradebook, exam, "anon-learner_1") is None
    assert results("learner_1")["status"] == "grading"


def test_after_a_reopened_regrade_the_learner_sees_the_answer_and_the_new_points(released_in_lms):
    gradebook, released = released_in_lms
    exam = Exam.objects.get()
    copy = released["learner_1"]
    ask("learner_1", "q3")
    call(block(), "answer_regrade", {"id": RegradeRequest.objects.get().pk, "answer": "Corrected", "reopen": True})
    # the grader changes the points and the copy is graded again (what finalize and the render task do)
    QuestionPoints.objects.filter(copy=copy, question_id="q3").update(points=Decimal("4.75"))
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.GRADED, total_points=Decimal("8.25"))
    signals.copy_graded.send(sender=Copy, copy=Copy.objects.get(pk=copy.pk), actor=None)
    body = results("learner_1")
    assert body["copy"]["total"] == "8.25"
    assert [q["points"] for q in body["questions"] if q["id"] == "q3"] == ["4.75"]
    request = body["regrade"]["requests"][0]
    assert (request["state"], request["answer"], request["points_before"]) == ("answered", "Corrected", "3.75")
    assert gradebook_score(gradebook, exam, "anon-learner_1") == (8.25, 10.0)
