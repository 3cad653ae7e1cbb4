"""Release to an LMS-like gradebook (tests/lms_grades.py: the platform's grade signal and the StudentModule
scores it writes), unrelease, and the grading domain's signals keeping published scores right. The
subsection arithmetic with the block's weight is in test_gradebook.py."""
from decimal import Decimal

import pytest
from submissions.models import Submission

from tests.harness import call, make_block
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from tests.unit import grading_helpers as helpers
from tests.unit.results_helpers import FIELDS, block, classroom, graded_copy, learner_block, release
from viatique_xblock import signals
from viatique_xblock.grading import workspace
from viatique_xblock.models import AuditEvent, Copy, Exam
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import ViatiqueUser
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

INSTRUCTOR = ViatiqueUser(user_id=1, username="instructor_1", full_name="Marie Curie", anonymous_id="anon-i",
                          role="instructor")


@pytest.fixture(autouse=True)
def gradebook(lms_gradebook):
    """The LMS-like gradebook, with a platform user for each learner of the classroom."""
    lms_gradebook.users = {name: lms_gradebook.learner(f"anon-{name}")
                           for name in ("learner_1", "learner_2", "learner_3")}
    return lms_gradebook


def score(gradebook, exam, username):
    """The learner's StudentModule score for the exam, ``(grade, max_grade)``; None when it has no total
    (never sent, or withdrawn: the LMS then counts 0 of the block's maximum)."""
    row = gradebook.csm.get((gradebook.users[username].id, exam.usage_key))
    return None if row is None or row["max_grade"] is None else (row["grade"], row["max_grade"])


def test_scores_are_sent_as_raw_points_with_no_scaling(gradebook):
    """Quarter points go as they are (floats): the LMS stores floats and weights them itself."""
    instructor = block(weight=2.5)
    exam = instructor.get_exam()
    classroom(exam)
    release(instructor)
    sent = {change["user_id"]: change for change in gradebook.raw_score_changes}
    first = sent[gradebook.users["learner_1"].id]
    assert (first["raw_earned"], first["raw_possible"], first["weight"]) == (7.25, 10.0, 2.5)
    assert type(first["raw_earned"]) is float and type(first["raw_possible"]) is float
    assert (first["usage_id"], first["course_id"]) == (exam.usage_key, exam.course_key)


def test_release_summary_counts_what_the_confirmation_states():
    instructor = block()
    classroom(instructor.get_exam())
    status, body = call(instructor, "release_summary", method="GET")
    assert status == 200
    assert (body["total"], body["graded"], body["graded_unidentified"], body["ungraded"], body["unidentified"]) == \
        (4, 2, 1, 1, 1)
    assert body["released"] is False


def test_release_sends_each_identified_graded_copy_and_nothing_else(gradebook):
    instructor = block()
    exam = instructor.get_exam()
    copies = classroom(exam)
    status, body = release(instructor)
    assert status == 200 and body["released"] is True and body["published"] == 2
    assert score(gradebook, exam, "learner_1") == (7.25, 10.0)
    assert score(gradebook, exam, "learner_2") == (3.0, 10.0)
    assert score(gradebook, exam, "learner_3") is None
    # the unidentified copy sends nothing: two scores for two learners, and edx-submissions is left alone
    assert len(gradebook.raw_score_changes) == 2 and len(gradebook.csm) == 2
    assert not Submission.objects.exists()
    first = Copy.objects.get(pk=copies["learner_1"].pk)
    assert first.published_points == Decimal("7.25") and first.submission_uuid == ""
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


def test_release_twice_is_refused_and_unrelease_withdraws_every_score(gradebook):
    instructor = block()
    exam = instructor.get_exam()
    copies = classroom(exam)
    release(instructor)
    status, body = release(instructor)
    assert status == 409 and body["error"] == "already_released"
    assert len(gradebook.raw_score_changes) == 2  # the refused release sent nothing
    status, body = call(instructor, "unrelease_results", {})
    assert status == 200 and body["released"] is False and body["published"] == 0
    assert score(gradebook, exam, "learner_1") is None and score(gradebook, exam, "learner_2") is None
    assert [change["score_deleted"] for change in gradebook.raw_score_changes[2:]] == [True, True]
    assert Copy.objects.get(pk=copies["learner_1"].pk).published_points is None
    assert Exam.objects.get(pk=exam.pk).released_at is None
    assert AuditEvent.objects.get(exam=exam, action="results.unreleased").details == {"withdrawn": 2,
                                                                                       "delivered": 2}
    status, body = call(instructor, "unrelease_results", {})
    assert status == 409 and body["error"] == "not_released"


def test_re_release_sends_the_same_scores_again(gradebook):
    instructor = block()
    exam = instructor.get_exam()
    copies = classroom(exam)
    release(instructor)
    call(instructor, "unrelease_results", {})
    release(instructor)
    assert score(gradebook, exam, "learner_1") == (7.25, 10.0)
    assert Copy.objects.get(pk=copies["learner_1"].pk).published_points == Decimal("7.25")
    assert not Submission.objects.exists()


def test_reopen_after_release_withdraws_and_the_new_grade_is_published(gradebook):
    instructor = block()
    exam = instructor.get_exam()
    copy = classroom(exam)["learner_1"]
    release(instructor)
    workspace.reopen(exam, INSTRUCTOR, copy.public_id)
    assert score(gradebook, exam, "learner_1") is None
    assert Copy.objects.get(pk=copy.pk).published_points is None
    assert AuditEvent.objects.filter(exam=exam, action="results.score_withdrawn", copy_id_ref=copy.pk).exists()
    assert score(gradebook, exam, "learner_2") == (3.0, 10.0)  # the others keep theirs
    # graded again (what rendering does once the new PDF is stored): the new total reaches the gradebook
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.GRADED, total_points=Decimal("9.5"))
    signals.copy_graded.send(sender=Copy, copy=Copy.objects.get(pk=copy.pk), actor=None)
    assert score(gradebook, exam, "learner_1") == (9.5, 10.0)
    assert Copy.objects.get(pk=copy.pk).published_points == Decimal("9.5")
    assert AuditEvent.objects.filter(exam=exam, action="results.score_published", copy_id_ref=copy.pk).exists()


def test_a_copy_graded_before_release_publishes_nothing(gradebook):
    exam = block().get_exam()
    copy = classroom(exam)["learner_1"]
    signals.copy_graded.send(sender=Copy, copy=copy, actor=None)
    assert score(gradebook, exam, "learner_1") is None and gradebook.raw_score_changes == []
    assert Copy.objects.get(pk=copy.pk).published_points is None


def test_release_of_one_exam_never_touches_another(gradebook):
    instructor = block()
    exam = instructor.get_exam()
    classroom(exam)
    other_block = make_block(fields=FIELDS, usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2")
    other_exam = other_block.get_exam()
    graded_copy(other_exam, "ZZZ9", "learner_1", {"q2": 1, "q3": 1})
    release(instructor)
    assert score(gradebook, other_exam, "learner_1") is None
    assert {change["usage_id"] for change in gradebook.raw_score_changes} == {exam.usage_key}
    assert Exam.objects.get(pk=other_exam.pk).released_at is None


def test_a_regrade_after_release_reaches_the_gradebook_through_the_real_grading_path(
        gradebook, django_capture_on_commit_callbacks):
    """Grade and finalize through the workspace's handlers (lease, draft, render), release, a regrade
    request answered with a reopen, graded again: the gradebook follows each step."""
    exam = helpers.exam()
    copy = helpers.make_copy(exam, "A001", grader="staff_1")
    learner = make_block("learner_1", "learner", fields=helpers.FIELDS, anonymous_id=copy.learner_anonymous_id)
    grader = helpers.block("staff_1", "staff")
    user = gradebook.learner(copy.learner_anonymous_id, "helpers_learner")

    def sent():
        row = gradebook.csm.get((user.id, exam.usage_key))
        return None if row is None or row["max_grade"] is None else (row["grade"], row["max_grade"])
    first, second = copy.pages.order_by("position").values_list("public_id", flat=True)

    def grade(q3, version):
        lease = call(grader, "acquire_lease", {"copy_id": copy.public_id})[1]
        payload = {"annotations": [helpers.annotation(first, kind="tick", width=0, height=0, question_id="q2")],
                   "points": {"q2": {"points": "3.5", "comment": "Bien"}, "q3": {"points": q3, "comment": ""}},
                   "general_comment": "Travail sérieux"}
        assert call(grader, "save_draft", {"copy_id": copy.public_id, "fencing": lease["fencing"], "version": version,
                                           "payload": payload})[0] == 200
        with django_capture_on_commit_callbacks(execute=True):
            assert call(grader, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})[0] == 200
        assert Copy.objects.get(pk=copy.pk).grading_state == Grading.GRADED

    try:
        grade("4.25", 0)
        assert sent() is None  # graded, not released
        assert release(helpers.block())[0] == 200
        assert sent() == (7.75, 10.0)
        status, body = call(learner, "request_regrade", {"question_id": "q3", "message": "Question 2 again?"})
        assert status == 200, body
        request_id = body["regrade"]["requests"][0]["id"]
        status, body = call(helpers.block(), "answer_regrade", {"id": request_id, "answer": "Yes", "reopen": True})
        assert status == 200 and body["reopened"] is True
        assert sent() is None
        grade("5.5", 1)
        assert sent() == (9.0, 10.0)
        assert call(learner, "my_results", method="GET")[1]["copy"]["total"] == "9"
        assert not Submission.objects.exists()
    finally:
        store = storage.get_storage()
        for name in Copy.objects.filter(exam=exam).exclude(graded_pdf_name="").values_list("graded_pdf_name",
                                                                                            flat=True):
            store.delete(name)
        helpers.remove_files(exam)
