"""Changes of the marking scheme after grading started (viatique_xblock/results/scheme_changes.py): the impact
computed before a save, the confirmation the save needs (409 without it), versions and audit, and for every
way the scheme can change (a question added, removed, a maximum, a step, a regrouping) the four views of a
released grade agreeing afterwards: the learner's view, the gradebook (the LMS-like gradebook of
tests/lms_grades.py), the grades CSV's published total and the text of the graded PDF the learner downloads.

Copies are graded through the real path (lease, draft, finalize, the render run as the queue runs it)."""
import copy as copying
import csv
import io
import re

import pymupdf
import pytest

from tests.harness import call, make_block
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from tests.unit import grading_helpers as helpers
from viatique_xblock import scheme as scheme_module
from viatique_xblock.grading import rendering
from viatique_xblock.models import Answer, AuditEvent, Copy, Exam, SchemeVersion
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import ViatiqueUser
from viatique_xblock.reports import exports
from viatique_xblock.results import downloads, learner as learner_results, scheme_changes
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

SCHEME = helpers.SCHEME  # q2 (in group q1): max 4, step 0.5; q3: max 6, step 0.25; total 10
SETTINGS = {"display_name": "Bac blanc", "pages_per_copy": "2", "grade_scale": "20", "weight": "",
            "regrade_window_days": "7", "anonymous_grading": True, "grading_mode": "by_copy"}


def settings(scheme, **extra):
    return {**SETTINGS, "marking_scheme": scheme, **extra}


def leaf(scheme, question_id):
    stack = list(scheme["questions"])
    while stack:
        node = stack.pop()
        if node.get("id") == question_id:
            return node
        stack.extend(node.get("children") or [])
    raise KeyError(question_id)


def changed(update):
    scheme = copying.deepcopy(SCHEME)
    update(scheme)
    return scheme


def learner_of(copy):
    return ViatiqueUser(user_id=copy.learner_username, username=copy.learner_username, full_name="",
                        anonymous_id=copy.learner_anonymous_id, role="learner")


class Course:
    """An exam graded by copy (or by question) with two copies graded through the real path and released."""

    def __init__(self, gradebook, capture, mode="by_copy"):
        self.gradebook, self.capture, self.mode = gradebook, capture, mode
        self.fields = {**helpers.FIELDS, "grading_mode": mode, "pages_per_copy": 2}
        self.instructor = self.block()
        self.exam = self.instructor.get_exam()
        self.copies = [helpers.make_copy(self.exam, "A001", username="learner_1"),
                       helpers.make_copy(self.exam, "B002", username="learner_2")]
        self.learners = [gradebook.learner(copy.learner_anonymous_id) for copy in self.copies]
        self.grade(self.copies[0], {"q2": "3.5", "q3": "4.25"})  # 7.75 / 10
        self.grade(self.copies[1], {"q2": "2", "q3": "2"})  # 4 / 10
        assert call(self.instructor, "release_results", {})[0] == 200

    def block(self, username="instructor_1", role="instructor"):
        return make_block(username, role, fields=self.fields)

    def grade(self, copy, points):
        """Grade ``copy`` (whole, by copy; or each answer, by question) and let its render run."""
        grader = self.block("staff_1", "staff")
        with self.capture(execute=True):
            if self.exam.grading_mode == "by_question":
                for question_id, value in points.items():
                    status, body = call(grader, "open_answer", {"copy_id": copy.public_id, "question_id": question_id})
                    assert status == 200, body
                    answer = body["answer"]
                    status, body = call(grader, "save_answer", {
                        "copy_id": copy.public_id, "question_id": question_id,
                        "fencing": answer["lease"]["fencing"], "version": answer["draft"]["version"],
                        "points": value, "comment": "", "done": True})
                    assert status == 200, body
            else:
                status, lease = call(grader, "acquire_lease", {"copy_id": copy.public_id})
                assert status == 200, lease
                status, opened = call(grader, "open_copy", method="GET", query="copy_id=" + copy.public_id)
                assert status == 200, opened
                payload = {"annotations": [], "general_comment": "",
                           "points": {question_id: {"points": value, "comment": ""}
                                      for question_id, value in points.items()}}
                status, body = call(grader, "save_draft", {"copy_id": copy.public_id, "fencing": lease["fencing"],
                                                           "version": opened["draft"]["version"], "payload": payload})
                assert status == 200, body
                status, body = call(grader, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
                assert status == 200, body
        copy.refresh_from_db()

    def save(self, scheme, token=None):
        data = settings(scheme, grading_mode=self.mode)
        if token is not None:
            data["scheme_change_token"] = token
        with self.capture(execute=True):
            return call(self.instructor, "studio_submit", data)

    def impact(self, scheme):
        status, body = call(self.instructor, "scheme_change_impact", settings(scheme, grading_mode=self.mode))
        assert status == 200, body
        return body

    def confirmed(self, scheme):
        """Save ``scheme`` as the editor does: the impact first, then the save with its token."""
        impact = self.impact(scheme)
        status, body = self.save(scheme, impact["token"])
        assert status == 200, body
        self.exam.refresh_from_db()
        return impact

    def views(self, index):
        """The four views of one learner's grade, each as ``(points, maximum)`` strings."""
        copy = Copy.objects.get(pk=self.copies[index].pk)
        user = learner_of(copy)
        exam = Exam.objects.get(pk=self.exam.pk)
        shown = learner_results.results(exam, user, scale=20)["copy"]
        stored = self.gradebook.csm[(self.learners[index].id, exam.usage_key)]
        rows = list(exports.grade_rows(exam, grade_scale=20))
        column = rows[0].index("Published total")
        published = next(row[column] for row in rows[1:] if row[0] == copy.anonymous_code)
        name, _download = downloads.graded_pdf(exam, user, copy.public_id)
        with storage.get_storage().open(name, "rb") as handle:
            text = "".join(page.get_text() for page in pymupdf.open(stream=handle.read(), filetype="pdf"))
        pdf = re.search(r"Total: ([\d.]+) / ([\d.]+)", text).groups()
        return {"learner": (shown["total"], shown["max"]), "gradebook": (_plain(stored["grade"]),
                                                                          _plain(stored["max_grade"])),
                "csv": published, "pdf": pdf}

    def assert_agree(self, index, points, maximum):
        views = self.views(index)
        assert views == {"learner": (points, maximum), "gradebook": (points, maximum), "csv": points,
                         "pdf": (points, maximum)}

    def cleanup(self):
        store = storage.get_storage()
        for row in Copy.objects.filter(exam=self.exam):
            for name in (rendering.published_pdf_name(row), (row.published_result or {}).get("pdf")):
                if name and store.exists(name):
                    store.delete(name)
        helpers.remove_exam_files(self.exam)


def _plain(number):
    return None if number is None else str(int(number)) if number == int(number) else str(number)


@pytest.fixture
def course(lms_gradebook, django_capture_on_commit_callbacks):  # noqa: F811
    made = Course(lms_gradebook, django_capture_on_commit_callbacks)
    yield made
    made.cleanup()


@pytest.fixture
def by_question(lms_gradebook, django_capture_on_commit_callbacks):  # noqa: F811
    made = Course(lms_gradebook, django_capture_on_commit_callbacks, mode="by_question")
    yield made
    made.cleanup()


# ------------------------------------------------------------------ the four views after each kind of change

def test_released_grades_agree_everywhere_before_any_change(course):
    course.assert_agree(0, "7.75", "10")
    course.assert_agree(1, "4", "10")


def with_q4(scheme):
    scheme["questions"].append({"label": "Exercice 3", "max": 5, "step": 0.5})


def test_a_question_added_reopens_the_graded_copies_for_it_and_nothing_changes_until_they_are_graded(course):
    scheme = changed(with_q4)
    impact = course.impact(scheme)
    assert impact["needs_confirmation"] is True
    assert impact["added"] == [{"id": "q4", "label": "Exercice 3"}]
    assert impact["incomplete"] == {"count": 2, "by_question": [{"id": "q4", "label": "Exercice 3", "copies": 2}]}
    assert impact["released"] == {"count": 2, "codes": ["A001", "B002"]}
    assert impact["maximum"] == ["10", "15"] and impact["rerender"] == 0
    # without the confirmation: refused, nothing saved
    status, body = course.save(scheme)
    assert status == 409 and body["error"] == "scheme_change_unconfirmed"
    assert body["impact"]["incomplete"]["count"] == 2 and "confirm" in body["message"]
    assert len(course.instructor.marking_scheme["questions"]) == 2
    course.confirmed(scheme)
    states = dict(Copy.objects.filter(exam=course.exam).values_list("anonymous_code", "grading_state"))
    assert states == {"A001": Grading.REOPENED, "B002": Grading.REOPENED}
    # the learners see what the gradebook holds, as it was published
    course.assert_agree(0, "7.75", "10")
    course.assert_agree(1, "4", "10")
    learner = learner_results.results(Exam.objects.get(pk=course.exam.pk), learner_of(course.copies[0]), scale=20)
    assert learner["status"] == "released" and [q["id"] for q in learner["questions"]] == ["q2", "q3"]
    # the first copy graded for the new question: its new score is published, the other one's is kept
    course.grade(course.copies[0], {"q2": "3.5", "q3": "4.25", "q4": "3"})
    assert course.copies[0].grading_state == Grading.GRADED
    course.assert_agree(0, "10.75", "15")
    course.assert_agree(1, "4", "10")
    assert AuditEvent.objects.filter(action="copy.reopened_for_scheme").count() == 2
    assert not AuditEvent.objects.filter(action="results.score_withdrawn").exists()


def test_a_copy_being_graded_again_takes_regrade_requests_once_its_new_grade_is_published(course):
    def ask(index):
        copy = course.copies[index]
        learner = make_block(copy.learner_username, "learner", fields={**course.fields, "regrade_window_days": 14},
                             anonymous_id=copy.learner_anonymous_id)
        return call(learner, "request_regrade", {"question_id": "q2", "message": "Please look again."})

    def regrade(index):
        return learner_results.results(Exam.objects.get(pk=course.exam.pk), learner_of(course.copies[index]),
                                       window_days=14)["regrade"]

    course.confirmed(changed(with_q4))  # both released copies reopened for q4, their scores kept published
    assert regrade(0)["open"] is False and regrade(0)["waits_for_new_grade"] is True
    status, body = ask(0)
    assert status == 409 and body["error"] == "regrade_closed"
    assert "change of the marking scheme" in body["message"]
    assert not course.copies[0].regrade_requests.exists()
    # graded for the new question, its new score published: requests open again (the other copy still waits)
    course.grade(course.copies[0], {"q2": "3.5", "q3": "4.25", "q4": "3"})
    assert regrade(0)["open"] is True and regrade(0)["waits_for_new_grade"] is False
    assert ask(0)[0] == 200
    assert regrade(1)["waits_for_new_grade"] is True and ask(1)[0] == 409


def test_a_question_removed_changes_the_totals_and_publishes_them_after_the_confirmation(course):
    scheme = changed(lambda scheme: scheme["questions"].pop())  # q3
    impact = course.impact(scheme)
    assert impact["removed"] == [{"id": "q3", "label": "Exercice 2", "copies": 2}]
    assert impact["total_changes"] == {"count": 2, "copies": [{"code": "A001", "before": "7.75", "after": "3.5"},
                                                              {"code": "B002", "before": "4", "after": "2"}]}
    assert impact["released"]["count"] == 2 and impact["rerender"] == 2
    assert course.save(scheme)[1]["error"] == "scheme_change_unconfirmed"
    course.assert_agree(0, "7.75", "10")
    course.confirmed(scheme)
    course.assert_agree(0, "3.5", "4")
    course.assert_agree(1, "2", "4")
    assert AuditEvent.objects.filter(action="results.score_published").count() == 2


def test_a_new_maximum_that_all_points_fit_is_published_after_the_confirmation(course):
    scheme = changed(lambda scheme: leaf(scheme, "q3").update(max=8))
    impact = course.impact(scheme)
    assert impact["bounds_changed"] == [{"id": "q3", "label": "Exercice 2", "max": ["6", "8"],
                                         "step": ["0.25", "0.25"]}]
    assert impact["misfits"] == {"count": 0, "points": []} and impact["rerender"] == 2
    course.confirmed(scheme)
    course.assert_agree(0, "7.75", "12")
    course.assert_agree(1, "4", "12")


def test_points_over_a_new_maximum_are_listed_and_never_changed(course):
    scheme = changed(lambda scheme: leaf(scheme, "q3").update(max=4))
    impact = course.impact(scheme)
    assert impact["misfits"] == {"count": 1, "points": [{"code": "A001", "question": "q3", "label": "Exercice 2",
                                                         "points": "4.25", "max": "4", "step": "0.25"}]}
    assert impact["released"]["count"] == 2 and impact["rerender"] == 1  # B002 fits: rendered and published again
    course.confirmed(scheme)
    # A001's points stay as they were, and so does all it shows: listed for the instructor
    assert Copy.objects.get(pk=course.copies[0].pk).points.get(question_id="q3").points == 4.25
    course.assert_agree(0, "7.75", "10")
    course.assert_agree(1, "4", "8")
    status, body = call(course.instructor, "list_copies", method="GET")
    assert status == 200, body
    flagged = {row["code"]: row["points_off_scheme"] for row in body["copies"]}
    assert flagged == {"A001": True, "B002": False}


def test_a_new_step_lists_points_off_it_and_changes_no_view(course):
    scheme = changed(lambda scheme: leaf(scheme, "q2").update(step=1))
    impact = course.impact(scheme)
    assert impact["misfits"]["points"] == [{"code": "A001", "question": "q2", "label": "1. a)", "points": "3.5",
                                            "max": "4", "step": "1"}]
    assert impact["released"] == {"count": 1, "codes": ["A001"]} and impact["rerender"] == 0
    course.confirmed(scheme)
    course.assert_agree(0, "7.75", "10")
    course.assert_agree(1, "4", "10")
    assert Copy.objects.get(pk=course.copies[0].pk).grading_state == Grading.GRADED


def test_regrouping_changes_no_points_and_saves_without_a_question(course):
    def regroup(scheme):
        q3 = scheme["questions"].pop()
        scheme["questions"][0]["children"].append(q3)

    scheme = changed(regroup)
    impact = course.impact(scheme)
    assert impact["regrouped"] is True and impact["needs_confirmation"] is False
    status, body = course.save(scheme)  # no token needed
    assert status == 200, body
    course.assert_agree(0, "7.75", "10")
    course.assert_agree(1, "4", "10")
    assert SchemeVersion.objects.filter(exam=course.exam).count() == 2


# ------------------------------------------------------------------ by question

def test_by_question_a_new_question_opens_its_answers_only_and_the_score_waits(by_question):
    course = by_question
    scheme = changed(with_q4)
    course.confirmed(scheme)
    copy = course.copies[1]
    answers = dict(Answer.objects.filter(copy=copy).values_list("question_id", "state"))
    assert answers == {"q2": Answer.GRADED, "q3": Answer.GRADED, "q4": Answer.OPEN}
    course.assert_agree(1, "4", "10")
    course.grade(copy, {"q4": "5"})
    assert copy.grading_state == Grading.GRADED
    course.assert_agree(1, "9", "15")
    course.assert_agree(0, "7.75", "10")


# ------------------------------------------------------------------ the rules of the save

def test_a_change_before_any_grading_needs_no_confirmation():
    block = make_block(fields={**helpers.FIELDS, "grading_mode": "by_copy"})
    exam = block.get_exam()
    helpers.make_copy(exam, "R001", pages=0)  # scanned, not graded
    status, body = call(block, "studio_submit", settings(changed(with_q4)))
    assert status == 200, body
    assert block.marking_scheme["questions"][-1]["id"] == "q4"


def test_a_token_of_another_impact_is_refused(course):
    first = course.impact(changed(with_q4))
    other = changed(lambda scheme: scheme["questions"].pop())
    status, body = course.save(other, first["token"])
    assert status == 409 and body["error"] == "scheme_change_unconfirmed"
    assert body["impact"]["removed"][0]["id"] == "q3"


def test_no_change_while_copies_are_being_rendered(course):
    Copy.objects.filter(pk=course.copies[0].pk).update(grading_state=Grading.SUBMITTED)
    scheme = changed(with_q4)
    impact = course.impact(scheme)
    assert impact["rendering"] == 1
    status, body = course.save(scheme, impact["token"])
    assert status == 409 and body["error"] == "scheme_change_rendering"


def test_only_authors_see_the_impact(course):
    status, body = call(course.block("staff_1", "staff"), "scheme_change_impact", settings(changed(with_q4)))
    assert status == 403


def test_every_change_is_versioned_and_audited_with_its_impact(course):
    course.confirmed(changed(with_q4))
    versions = list(SchemeVersion.objects.filter(exam=course.exam).order_by("number"))
    assert [version.number for version in versions] == [1, 2]
    assert versions[0].scheme == SCHEME and versions[1].changed_by == "instructor_1"
    assert [leaf_id["id"] for leaf_id in versions[1].scheme["questions"]][-1] == "q4"
    assert versions[1].impact["incomplete"] == 2 and versions[1].impact["released"] == 2
    event = AuditEvent.objects.get(action="scheme.changed")
    assert event.actor == "instructor_1" and event.details["version"] == 2
    assert event.details["impact"]["added"] == ["q4"]
    status, body = call(course.instructor, "scheme_versions", {}, method="GET")
    assert status == 200 and [row["number"] for row in body["versions"]] == [2, 1]


def test_the_impact_function_counts_without_saving(course):
    scheme = changed(with_q4)
    new = scheme_changes.impact(course.exam, scheme_module.validate(scheme, SCHEME))
    assert new["incomplete"]["count"] == 2
    assert Exam.objects.get(pk=course.exam.pk).scheme == SCHEME


def test_settings_the_save_refuses_have_no_impact_and_the_save_says_why(course):
    bad = changed(lambda scheme: leaf(scheme, "q3").update(max=-1))
    assert course.impact(bad) == {"invalid": True, "needs_confirmation": False}
    status, body = course.save(bad)
    assert status == 400 and body["error"] == "invalid_settings"


def test_a_new_render_keeps_the_published_pdf_for_the_learner_until_the_new_score_is_published(course):
    """Between a copy's new render and the publication of its score, the learner downloads the PDF of the
    score the gradebook holds (kept aside by the render), staff the new one."""
    from viatique_xblock import signals
    from viatique_xblock.results import release

    course.confirmed(changed(with_q4))
    copy = Copy.objects.get(pk=course.copies[0].pk)
    copy.points.create(question_id="q4", points=3)
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.SUBMITTED, total_points=10.75)
    signals.copy_graded.disconnect(dispatch_uid="viatique.release.copy_graded")
    try:
        assert rendering.render_copy(copy.pk) == Grading.GRADED
    finally:
        signals.copy_graded.connect(release.publish_regraded, dispatch_uid="viatique.release.copy_graded")
    copy.refresh_from_db()
    assert copy.published_result["pdf"] == rendering.published_pdf_name(copy)
    course.assert_agree(0, "7.75", "10")  # the learner's PDF among them
    staff = helpers.user("instructor_1", "instructor")
    name, _download = downloads.graded_pdf(Exam.objects.get(pk=course.exam.pk), staff, copy.public_id)
    with storage.get_storage().open(name, "rb") as handle:
        text = "".join(page.get_text() for page in pymupdf.open(stream=handle.read(), filetype="pdf"))
    assert "Total: 10.75 / 15" in text
    # published: the learner gets the new PDF with the new score
    release.publish_regraded(sender=Copy, copy=copy)
    course.assert_agree(0, "10.75", "15")


def test_a_block_shown_with_another_scheme_never_changes_graded_copies_silently(course, caplog):
    """A block rendered with settings the author did not save through the editor (another version of the
    block, a course imported again): the exam keeps its scheme when the other one would change graded copies."""
    other = make_block(fields={**course.fields, "marking_scheme": scheme_module.validate(changed(with_q4), SCHEME)})
    with caplog.at_level("WARNING", logger="viatique_xblock.exams"):
        other.sync_exam()
    assert Exam.objects.get(pk=course.exam.pk).scheme == SCHEME
    assert "would change graded copies" in caplog.text
    course.assert_agree(0, "7.75", "10")
    # a change that touches no graded copy follows as before
    relabelled = changed(lambda scheme: leaf(scheme, "q3").update(label="Exercice deux"))
    make_block(fields={**course.fields, "marking_scheme": relabelled}).sync_exam()
    assert leaf(Exam.objects.get(pk=course.exam.pk).scheme, "q3")["label"] == "Exercice deux"


def test_the_impact_takes_two_queries_whatever_the_number_of_copies(course, django_assert_num_queries):
    scheme = scheme_module.validate(changed(with_q4), SCHEME)
    for number in range(20):
        helpers.make_copy(course.exam, f"Z{number:03d}", username=f"learner_z{number}", pages=0)
    with django_assert_num_queries(2):
        scheme_changes.impact(course.exam, scheme)


def test_a_new_scoring_or_a_deductions_maximum_keeps_the_points_and_rebases_what_rubric_edits_start_from(course):
    """Points are stored as base + rubric items + adjustment (grading/rubrics.py). A question turned to scoring by
    deductions (its base: its maximum), then given a larger maximum, keeps every point it had: the adjustments
    follow the base, so a later living edit of a rubric item re-scores from the points the learner has."""
    from decimal import Decimal

    from viatique_xblock.grading import rubrics
    from viatique_xblock.models import QuestionPoints

    def q3_rows():
        return sorted(QuestionPoints.objects.filter(copy__exam=course.exam, question_id="q3")
                      .values_list("points", "adjustment"))

    assert q3_rows() == [(Decimal("2"), Decimal("2")), (Decimal("4.25"), Decimal("4.25"))]
    deductions = changed(lambda scheme: leaf(scheme, "q3").update(scoring="deductions"))
    course.confirmed(deductions)
    assert q3_rows() == [(Decimal("2"), Decimal("-4")), (Decimal("4.25"), Decimal("-1.75"))]
    larger = copying.deepcopy(deductions)
    leaf(larger, "q3").update(max=8)
    course.confirmed(larger)
    assert q3_rows() == [(Decimal("2"), Decimal("-6")), (Decimal("4.25"), Decimal("-3.75"))]
    copies = [row.pk for row in course.copies]
    assert rubrics.rescore_copies(Exam.objects.get(pk=course.exam.pk), copies) == {}  # nothing to re-score
    course.assert_agree(0, "7.75", "12")
    assert scheme_changes.rebased_questions(SCHEME, deductions) == ["q3"]
    assert scheme_changes.rebased_questions(SCHEME, changed(lambda scheme: leaf(scheme, "q3").update(max=8))) == []
