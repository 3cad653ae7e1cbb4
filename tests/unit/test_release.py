"""Release to the gradebook through edx-submissions (the real app and its tables), unrelease, and the
grading domain's signals keeping published scores right."""
from decimal import Decimal

import pytest
from submissions import api as submissions_api
from submissions.models import Submission

from tests.harness import call, make_block
from tests.unit import grading_helpers as helpers
from tests.unit.results_helpers import FACTOR, FIELDS, block, classroom, graded_copy, learner_block, release
from viatique_xblock import grading, release as release_module, signals, storage
from viatique_xblock.compat import ViatiqueUser
from viatique_xblock.models import AuditEvent, Copy, Exam
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

INSTRUCTOR = ViatiqueUser(user_id=1, username="instructor_1", full_name="Marie Curie", anonymous_id="anon-i",
                          role="instructor")


def item(exam, username):
    return release_module.student_item(exam, f"anon-{username}")


def score(exam, username):
    found = submissions_api.get_score(item(exam, username))
    return None if found is None else (found["points_earned"], found["points_possible"])


def test_points_factor_makes_every_step_and_maximum_whole():
    assert release_module.points_factor({"questions": [{"id": "a", "max": 4, "step": 1}]}) == 1
    assert release_module.points_factor({"questions": [{"id": "a", "max": 4, "step": 0.5},
                                                       {"id": "b", "max": 6, "step": 0.25}]}) == 4
    assert release_module.points_factor({"questions": [{"id": "a", "max": 2.5, "step": 0.1}]}) == 10


def test_release_summary_counts_what_the_confirmation_states():
    instructor = block()
    classroom(instructor.get_exam())
    status, body = call(instructor, "release_summary", method="GET")
    assert status == 200
    assert (body["total"], body["graded"], body["graded_unidentified"], body["ungraded"], body["unidentified"]) == \
        (4, 2, 1, 1, 1)
    assert body["released"] is False


def test_release_sends_each_identified_graded_copy_and_nothing_else():
    instructor = block()
    exam = instructor.get_exam()
    copies = classroom(exam)
    status, body = release(instructor)
    assert status == 200 and body["released"] is True and body["published"] == 2
    # 7.25 / 10 and 3 / 10, in quarter points
    assert score(exam, "learner_1") == (29, 10 * FACTOR)
    assert score(exam, "learner_2") == (3 * FACTOR, 10 * FACTOR)
    assert score(exam, "learner_3") is None
    unidentified = copies["unidentified"]
    assert not Submission.objects.filter(student_item__item_id=exam.usage_key,
                                         answer={"viatique_copy": unidentified.pk}).exists()
    assert Submission.objects.filter(student_item__item_id=exam.usage_key).count() == 2
    first = Copy.objects.get(pk=copies["learner_1"].pk)
    assert first.published_points == Decimal("7.25") and first.submission_uuid
    assert Copy.objects.get(pk=copies["learner_3"].pk).published_points is None
    assert Exam.objects.get(pk=exam.pk).released_at is not None
    event = AuditEvent.objects.get(exam=exam, action="results.released")
    assert event.actor == "instructor_1" and event.details["published"] == 2
    assert ("edx.viatique.results.released", {"exam_id": exam.pk, "copy_id": None, **event.details}) in \
        instructor.runtime.events


def test_only_instructors_release():
    instructor = block()
    classroom(instructor.get_exam())
    assert call(block("staff_1", "staff"), "release_results", {})[0] == 403
    assert call(learner_block("learner_1"), "release_results", {})[0] == 403
    assert call(learner_block("learner_1"), "release_summary", method="GET")[0] == 403
    assert Exam.objects.get().released_at is None


def test_release_twice_is_refused_and_unrelease_resets_every_score():
    instructor = block()
    exam = instructor.get_exam()
    copies = classroom(exam)
    release(instructor)
    status, body = release(instructor)
    assert status == 409 and body["error"] == "already_released"
    status, body = call(instructor, "unrelease_results", {})
    assert status == 200 and body["released"] is False and body["published"] == 0
    assert score(exam, "learner_1") is None and score(exam, "learner_2") is None
    assert Copy.objects.get(pk=copies["learner_1"].pk).published_points is None
    assert Exam.objects.get(pk=exam.pk).released_at is None
    assert AuditEvent.objects.get(exam=exam, action="results.unreleased").details == {"withdrawn": 2}
    status, body = call(instructor, "unrelease_results", {})
    assert status == 409 and body["error"] == "not_released"


def test_re_release_reuses_the_learners_submission():
    instructor = block()
    exam = instructor.get_exam()
    copies = classroom(exam)
    release(instructor)
    uuid = Copy.objects.get(pk=copies["learner_1"].pk).submission_uuid
    call(instructor, "unrelease_results", {})
    release(instructor)
    assert Copy.objects.get(pk=copies["learner_1"].pk).submission_uuid == uuid
    assert len(submissions_api.get_submissions(item(exam, "learner_1"))) == 1
    assert Submission.objects.filter(student_item__item_id=exam.usage_key).count() == 2
    assert score(exam, "learner_1") == (29, 40)


def test_reopen_after_release_resets_and_the_new_grade_is_published():
    instructor = block()
    exam = instructor.get_exam()
    copy = classroom(exam)["learner_1"]
    release(instructor)
    grading.reopen(exam, INSTRUCTOR, copy.pk)
    assert score(exam, "learner_1") is None
    assert Copy.objects.get(pk=copy.pk).published_points is None
    assert AuditEvent.objects.filter(exam=exam, action="results.score_withdrawn", copy_id_ref=copy.pk).exists()
    assert score(exam, "learner_2") == (12, 40)  # the others keep theirs
    # graded again (what rendering does once the new PDF is stored): the new total reaches the gradebook
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.GRADED, total_points=Decimal("9.5"))
    signals.copy_graded.send(sender=Copy, copy=Copy.objects.get(pk=copy.pk), actor=None)
    assert score(exam, "learner_1") == (38, 40)
    assert Copy.objects.get(pk=copy.pk).published_points == Decimal("9.5")
    assert len(submissions_api.get_submissions(item(exam, "learner_1"))) == 1
    assert AuditEvent.objects.filter(exam=exam, action="results.score_published", copy_id_ref=copy.pk).exists()


def test_a_copy_graded_before_release_publishes_nothing():
    exam = block().get_exam()
    copy = classroom(exam)["learner_1"]
    signals.copy_graded.send(sender=Copy, copy=copy, actor=None)
    assert score(exam, "learner_1") is None
    assert Copy.objects.get(pk=copy.pk).published_points is None


def test_release_of_one_exam_never_touches_another():
    instructor = block()
    exam = instructor.get_exam()
    classroom(exam)
    other_block = make_block(fields=FIELDS, usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2")
    other_exam = other_block.get_exam()
    graded_copy(other_exam, "ZZZ9", "learner_1", {"q2": 1, "q3": 1})
    release(instructor)
    assert submissions_api.get_score(release_module.student_item(other_exam, "anon-learner_1")) is None
    assert Exam.objects.get(pk=other_exam.pk).released_at is None


def test_a_regrade_after_release_reaches_the_gradebook_through_the_real_grading_path(
        django_capture_on_commit_callbacks):
    """Grade and finalize through the workspace's handlers (lease, draft, render), release, a regrade
    request answered with a reopen, graded again: the gradebook follows each step."""
    exam = helpers.exam()
    copy = helpers.make_copy(exam, "A001", grader="staff_1")
    learner = make_block("learner_1", "learner", fields=helpers.FIELDS, anonymous_id=copy.learner_anonymous_id)
    grader = helpers.block("staff_1", "staff")
    first, second = copy.pages.order_by("position").values_list("pk", flat=True)

    def grade(q3, version):
        lease = call(grader, "acquire_lease", {"copy_id": copy.pk})[1]
        payload = {"annotations": [helpers.annotation(first, kind="tick", width=0, height=0, question_id="q2")],
                   "points": {"q2": {"points": "3.5", "comment": "Bien"}, "q3": {"points": q3, "comment": ""}},
                   "general_comment": "Travail sérieux"}
        assert call(grader, "save_draft", {"copy_id": copy.pk, "fencing": lease["fencing"], "version": version,
                                           "payload": payload})[0] == 200
        with django_capture_on_commit_callbacks(execute=True):
            assert call(grader, "finalize", {"copy_id": copy.pk, "fencing": lease["fencing"]})[0] == 200
        assert Copy.objects.get(pk=copy.pk).grading_state == Grading.GRADED

    try:
        grade("4.25", 0)
        student = release_module.student_item(exam, copy.learner_anonymous_id)
        assert submissions_api.get_score(student) is None  # graded, not released
        assert release(helpers.block())[0] == 200
        assert submissions_api.get_score(student)["points_earned"] == 31  # 7.75 / 10 in quarter points
        status, body = call(learner, "request_regrade", {"question_id": "q3", "message": "Question 2 again?"})
        assert status == 200, body
        request_id = body["regrade"]["requests"][0]["id"]
        status, body = call(helpers.block(), "answer_regrade", {"id": request_id, "answer": "Yes", "reopen": True})
        assert status == 200 and body["reopened"] is True
        assert submissions_api.get_score(student) is None
        grade("5.5", 1)
        assert submissions_api.get_score(student)["points_earned"] == 36  # 9 / 10
        assert call(learner, "my_results", method="GET")[1]["copy"]["total"] == "9"
        assert len(submissions_api.get_submissions(student)) == 1
    finally:
        store = storage.get_storage()
        for name in Copy.objects.filter(exam=exam).exclude(graded_pdf_name="").values_list("graded_pdf_name",
                                                                                            flat=True):
            store.delete(name)
        helpers.remove_files(exam)
