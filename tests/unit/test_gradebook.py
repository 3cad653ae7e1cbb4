"""Grades in an LMS-like gradebook (tests/lms_grades.py): the block's scores are raw points sent through
the platform's grade signal, and a subsection adds them up with the LMS's weight semantics.

The subsection of every test holds a 1-point problem the learner got right (weight None, raw 1/1) and
the exam, whose copy is graded 16 of 20 unless said otherwise."""
import json
import logging
from decimal import Decimal

import pytest
from django.core.management import call_command
from submissions import api as submissions_api

from tests.harness import call, make_block
from tests.lms_grades import exam_in_course, lms_gradebook, problem  # noqa: F401  (lms_gradebook: fixture)
from tests.unit.results_helpers import FIELDS, block, graded_copy, release
from viatique_xblock import signals
from viatique_xblock.grading import workspace
from viatique_xblock.models import AuditEvent, Copy, Exam
from viatique_xblock.platform import compat
from viatique_xblock.platform.compat import ViatiqueUser
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

PROBLEM = "block-v1:Viatique+T101+2026+type@problem+block@warmup"
INSTRUCTOR = ViatiqueUser(user_id=1, username="instructor_1", full_name="Marie Curie", anonymous_id="anon-i",
                          role="instructor")


def scheme(step):
    return {"questions": [{"id": "q1", "label": "Exercice 1", "max": 10, "step": step},
                          {"id": "q2", "label": "Exercice 2", "max": 10, "step": step}], "next_id": 3}


#: 16 of 20 on schemes whose steps are whole, half and quarter points
SIXTEENS = [(1, {"q1": 8, "q2": 8}), (0.5, {"q1": 7.5, "q2": 8.5}), (0.25, {"q1": 7.75, "q2": 8.25})]


class Course:
    """The instructor's block of an exam weighted ``weight``, learner_1's copy graded ``points``, and a
    subsection of the learner's gradebook holding a problem they got right and the exam."""

    def __init__(self, gradebook, weight=1.0, step=1, points=None):
        self.gradebook = gradebook
        self.instructor = block(marking_scheme=scheme(step), weight=weight)
        self.exam = self.instructor.get_exam()
        self.copy = graded_copy(self.exam, "AAA1", "learner_1", points or {"q1": 8, "q2": 8}, pages=0)
        self.learner = gradebook.learner("anon-learner_1")
        warmup = problem(PROBLEM)
        gradebook.answer(self.learner, warmup, 1, 1)
        self.blocks = [warmup, exam_in_course(self.instructor)]

    def subsection(self):
        return self.gradebook.subsection(self.learner, self.blocks)

    def graded_again(self, points):
        """The copy graded again with a new total (what the render task does once the new PDF is stored)."""
        Copy.objects.filter(pk=self.copy.pk).update(grading_state=Grading.GRADED, total_points=Decimal(points))
        signals.copy_graded.send(sender=Copy, copy=Copy.objects.get(pk=self.copy.pk), actor=None)


def assert_subsection(course, earned, possible):
    assert course.subsection() == (pytest.approx(earned), pytest.approx(possible))


@pytest.mark.parametrize("step, points", SIXTEENS)
def test_a_copy_of_16_on_20_weighted_1_counts_0_8_of_1_point(lms_gradebook, step, points):
    course = Course(lms_gradebook, weight=1.0, step=step, points=points)
    assert_subsection(course, 1, 2)  # before release: the exam is an unattempted problem, 0 of 1
    assert release(course.instructor)[0] == 200
    assert_subsection(course, 1.8, 2)
    sent = lms_gradebook.raw_score_changes[-1]
    assert sent == {"raw_earned": 16.0, "raw_possible": 20.0, "weight": 1.0, "user_id": course.learner.id,
                    "course_id": "course-v1:Viatique+T101+2026", "usage_id": course.exam.usage_key,
                    "score_deleted": False}
    assert type(sent["raw_earned"]) is float and type(sent["raw_possible"]) is float
    assert lms_gradebook.csm[(course.learner.id, course.exam.usage_key)] == {"grade": 16.0, "max_grade": 20.0}
    assert Copy.objects.get(pk=course.copy.pk).published_points == Decimal(16)


@pytest.mark.parametrize("step, points", SIXTEENS)
def test_without_a_weight_the_raw_points_count(lms_gradebook, step, points):
    course = Course(lms_gradebook, weight=None, step=step, points=points)
    assert course.instructor.weight is None and Exam.objects.get().weight is None
    assert_subsection(course, 1, 21)
    release(course.instructor)
    assert_subsection(course, 17, 21)
    assert lms_gradebook.raw_score_changes[-1]["weight"] is None


def test_a_new_block_has_no_weight_and_its_maximum_is_the_schemes_total(lms_gradebook):
    instructor = block(marking_scheme=scheme(0.5))
    assert instructor.weight is None and instructor.max_score() == 20.0 and instructor.has_score is True


def test_unrelease_takes_the_score_back(lms_gradebook):
    course = Course(lms_gradebook)
    release(course.instructor)
    assert call(course.instructor, "unrelease_results", {})[0] == 200
    assert_subsection(course, 1, 2)
    assert lms_gradebook.csm[(course.learner.id, course.exam.usage_key)] == {"grade": None, "max_grade": None}
    assert lms_gradebook.raw_score_changes[-1]["score_deleted"] is True
    assert Copy.objects.get(pk=course.copy.pk).published_points is None
    assert AuditEvent.objects.get(action="results.unreleased").details == {"withdrawn": 1, "delivered": 1}
    release(course.instructor)
    assert_subsection(course, 1.8, 2)


def test_a_reopened_copy_counts_nothing_until_graded_again_and_its_regrade_reaches_the_gradebook(lms_gradebook):
    course = Course(lms_gradebook)
    release(course.instructor)
    workspace.reopen(course.exam, INSTRUCTOR, course.copy.public_id)
    assert_subsection(course, 1, 2)
    withdrawn = AuditEvent.objects.get(action="results.score_withdrawn")
    assert withdrawn.details == {"points": "16", "delivered": True, "possible": "20", "weight": 1.0}
    course.graded_again("18")
    assert_subsection(course, 1.9, 2)
    published = AuditEvent.objects.get(action="results.score_published")
    assert published.details == {"points": "18", "delivered": True, "possible": "20", "weight": 1.0}


def test_a_regrade_while_released_publishes_the_new_total(lms_gradebook):
    course = Course(lms_gradebook)
    release(course.instructor)
    course.graded_again("18")
    assert_subsection(course, 1.9, 2)


def test_a_weight_changed_in_studio_goes_with_the_next_score(lms_gradebook):
    course = Course(lms_gradebook)
    weighted = block(marking_scheme=scheme(1), weight=5.0)
    weighted.sync_exam()
    assert Exam.objects.get().weight == 5.0
    release(weighted)
    assert lms_gradebook.raw_score_changes[-1]["weight"] == 5.0
    # the LMS weights with the block's weight, whatever was sent: 16/20 of 5 points
    assert lms_gradebook.subsection(course.learner, [course.blocks[0], exam_in_course(weighted)]) == \
        (pytest.approx(5), pytest.approx(6))


def test_the_release_audit_records_what_was_sent(lms_gradebook):
    course = Course(lms_gradebook, step=0.25, points={"q1": 7.75, "q2": 8.25})
    release(course.instructor)
    details = AuditEvent.objects.get(action="results.released").details
    assert details == {"published": 1, "delivered": 1, "graded": 1, "ungraded": 0, "unidentified": 0,
                       "possible": "20", "weight": 1.0}


def test_an_unknown_learner_is_skipped_with_a_warning_and_the_release_goes_on(lms_gradebook, caplog):
    course = Course(lms_gradebook)
    graded_copy(course.exam, "BBB2", "learner_2", {"q1": 5, "q2": 5}, pages=0)  # nobody has that id
    with caplog.at_level(logging.WARNING, logger="viatique_xblock.platform.compat"):
        status, body = release(course.instructor)
    assert status == 200 and body["published"] == 2
    assert "anon-learner_2" in caplog.text
    assert_subsection(course, 1.8, 2)
    assert AuditEvent.objects.get(action="results.released").details["delivered"] == 1
    assert Copy.objects.get(anonymous_code="BBB2").published_points == Decimal(10)


# ------------------------------------------------------------------ scores an earlier version left in edx-submissions

def legacy_score(course, earned=32, possible=40):
    """What versions before the grade signal did at release: a submission and a whole-number score (16/20 in
    half points), the uuid kept on the copy."""
    item = {"student_id": "anon-learner_1", "course_id": course.exam.course_key,
            "item_id": course.exam.usage_key, "item_type": "viatique"}
    uuid = submissions_api.create_submission(item, {"viatique_copy": course.copy.pk})["uuid"]
    submissions_api.set_score(uuid, earned, possible)
    Copy.objects.filter(pk=course.copy.pk).update(submission_uuid=str(uuid), published_points=Decimal(16))
    Exam.objects.filter(pk=course.exam.pk).update(released_at="2026-01-05T10:00:00Z")


def legacy_scores(course):
    return submissions_api.get_scores(course.exam.course_key, "anon-learner_1")


def test_a_legacy_submissions_score_wins_until_republished(lms_gradebook, capsys):
    course = Course(lms_gradebook)
    legacy_score(course)
    # what a real LMS showed: the submissions score taken as weighted, the block's weight ignored
    assert_subsection(course, 33, 41)
    call_command("viatique_republish_grades")
    assert legacy_scores(course) == {}
    assert Copy.objects.get(pk=course.copy.pk).submission_uuid == ""
    assert_subsection(course, 1.8, 2)
    event = AuditEvent.objects.get(action="results.republished")
    assert event.details == {"republished": 1, "delivered": 1, "legacy_reset": 1, "possible": "20",
                             "weight": 1.0, "by": "operator"}
    assert "1 scores sent again (1 received by a gradebook), 1 edx-submissions scores reset" in capsys.readouterr().out


def test_republish_of_one_block_only_and_as_json(lms_gradebook, capsys):
    course = Course(lms_gradebook)
    legacy_score(course)
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2",
                       fields={**FIELDS, "marking_scheme": scheme(1)})
    Exam.objects.filter(pk=other.get_exam().pk).update(released_at="2026-01-05T10:00:00Z")
    call_command("viatique_republish_grades", "--block", course.exam.usage_key, "--json")
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last == {"exams": {course.exam.usage_key: {"republished": 1, "delivered": 1, "legacy_reset": 1}}}
    # run again on every exam: the same score sent again, nothing left to reset
    call_command("viatique_republish_grades", "--json")
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last == {"exams": {course.exam.usage_key: {"republished": 1, "delivered": 1, "legacy_reset": 0},
                              other.get_exam().usage_key: {"republished": 0, "delivered": 0, "legacy_reset": 0}}}
    assert_subsection(course, 1.8, 2)


def test_a_legacy_score_is_reset_when_the_copy_is_withdrawn_or_published_again(lms_gradebook):
    course = Course(lms_gradebook)
    legacy_score(course)
    workspace.reopen(course.exam, INSTRUCTOR, course.copy.public_id)
    assert legacy_scores(course) == {}
    assert Copy.objects.get(pk=course.copy.pk).submission_uuid == ""
    assert_subsection(course, 1, 2)
    # a second legacy copy, published again by a regrade: its old score goes first
    legacy_score(course)
    course.graded_again("18")
    assert legacy_scores(course) == {}
    assert_subsection(course, 1.9, 2)


def test_a_legacy_score_of_an_exam_not_released_is_only_reset(lms_gradebook):
    course = Course(lms_gradebook)
    legacy_score(course)
    Exam.objects.filter(pk=course.exam.pk).update(released_at=None)
    Copy.objects.filter(pk=course.copy.pk).update(published_points=None)
    changes = len(lms_gradebook.raw_score_changes)
    call_command("viatique_republish_grades")
    assert legacy_scores(course) == {} and Copy.objects.get(pk=course.copy.pk).submission_uuid == ""
    assert len(lms_gradebook.raw_score_changes) == changes  # nothing sent
    assert_subsection(course, 1, 2)


# ------------------------------------------------------------------ outside the LMS

def test_outside_the_lms_there_is_no_gradebook_and_nothing_breaks(caplog):
    compat._platform_gradebook.cache_clear()
    with caplog.at_level(logging.DEBUG, logger="viatique_xblock.platform.compat"):
        assert compat.publish_grade("block-v1:Viatique+T101+2026+type@viatique+block@exam1", 1.0, "anon-x",
                                    Decimal(16), Decimal(20)) is False
        assert compat.withdraw_grade("block-v1:Viatique+T101+2026+type@viatique+block@exam1", None,
                                     "anon-x") is False
    assert "No gradebook" in caplog.text


def test_outside_the_lms_release_still_releases(caplog):
    compat._platform_gradebook.cache_clear()
    instructor = block(marking_scheme=scheme(1), weight=1.0)
    copy = graded_copy(instructor.get_exam(), "AAA1", "learner_1", {"q1": 8, "q2": 8}, pages=0)
    status, body = release(instructor)
    assert status == 200 and body["published"] == 1
    assert Copy.objects.get(pk=copy.pk).published_points == Decimal(16)
    assert AuditEvent.objects.get(action="results.released").details["delivered"] == 0
    assert call(instructor, "unrelease_results", {})[0] == 200
