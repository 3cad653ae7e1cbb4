"""Statistics on a known data set: per question, totals, per grader (names by role), progress, queries."""
from decimal import Decimal

import pytest

from tests.harness import call, make_block
from tests.unit.test_exports import add_copy
from viatique_xblock.reports import statistics
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

SCHEME = {"questions": [
    {"id": "q1", "label": "<b>Dérivées</b>", "max": 8, "step": 0.5},
    {"id": "q2", "label": "Suites", "max": 6, "step": 1},
], "next_id": 3}
FIELDS = {"marking_scheme": SCHEME}


@pytest.fixture
def exam():
    exam = make_block(fields=FIELDS).get_exam()
    data = [("A", "staff_1", 2, 0), ("B", "staff_1", 4, 3), ("C", "staff_2", 6, 6), ("D", "staff_3", 8, 6)]
    for code, grader, q1, q2 in data:
        add_copy(exam, f"{code}AAAA", f"learner_{code}", code, Grading.GRADED, grader, {"q1": q1, "q2": q2})
    # work in progress never counts
    add_copy(exam, "EAAAA", "learner_E", "E", Grading.IN_PROGRESS, "staff_2", {"q1": 0, "q2": 0})
    add_copy(exam, "FAAAA")
    return exam


def test_per_question_figures_and_histograms(exam):
    body = statistics.exam_statistics(exam, _viewer("instructor_1", "instructor"))
    q1, q2 = body["questions"]
    assert q1 | {"histogram": None} == {"id": "q1", "label": "<b>Dérivées</b>", "max": 8, "count": 4, "mean": 5.0,
                                        "median": 5.0, "stdev": 2.236, "histogram": None}
    # 17 possible values: ten bins of 0.8 over [0, 8], the last closed
    assert len(q1["histogram"]) == 10
    assert q1["histogram"][0] == {"low": 0.0, "high": 0.8, "count": 0}
    assert [item["count"] for item in q1["histogram"]] == [0, 0, 1, 0, 0, 1, 0, 1, 0, 1]
    assert q1["histogram"][-1]["high"] == 8.0
    # 7 possible values (0..6): 7 bins
    assert [item["count"] for item in q2["histogram"]] == [1, 0, 0, 1, 0, 0, 2]
    assert (q2["mean"], q2["median"], q2["stdev"]) == (3.75, 4.5, 2.487)
    assert body["total"] | {"histogram": None} == {"max": 14, "count": 4, "mean": 8.75, "median": 9.5,
                                                   "stdev": 4.657, "histogram": None}
    assert sum(item["count"] for item in body["total"]["histogram"]) == 4


def test_progress_counts(exam):
    progress = statistics.exam_statistics(exam, _viewer("instructor_1", "instructor"))["progress"]
    assert (progress["total"], progress["graded"], progress["in_progress"], progress["identified"]) == (6, 4, 1, 5)
    assert progress["released"] is False


def test_instructors_see_grader_names_and_graders_only_their_own(exam):
    status, body = call(make_block(fields=FIELDS), "statistics", method="GET")
    assert status == 200
    assert body["graders"] == [
        {"label": "staff_1", "is_self": False, "count": 2, "mean": 4.5},
        {"label": "staff_3", "is_self": False, "count": 1, "mean": 14.0},
        {"label": "staff_2", "is_self": False, "count": 1, "mean": 12.0},
    ]
    status, body = call(make_block("staff_2", "staff", fields=FIELDS), "statistics", method="GET")
    assert status == 200
    assert body["graders"] == [
        {"label": "Grader 1", "is_self": False, "count": 2, "mean": 4.5},
        {"label": "Grader 2", "is_self": False, "count": 1, "mean": 14.0},
        {"label": "staff_2", "is_self": True, "count": 1, "mean": 12.0},
    ]
    text = str(body)
    assert "staff_1" not in text and "staff_3" not in text and "learner_" not in text


def test_learners_are_refused_statistics():
    status, body = call(make_block("learner_1", "learner"), "statistics", method="GET")
    assert status == 403


def test_empty_exam_has_empty_figures():
    status, body = call(make_block(fields=FIELDS), "statistics", method="GET")
    assert status == 200
    assert body["questions"][0]["count"] == 0 and body["questions"][0]["mean"] is None
    assert all(item["count"] == 0 for item in body["questions"][0]["histogram"])
    assert body["graders"] == [] and body["total"]["count"] == 0


def test_statistics_query_count_does_not_grow_with_copies(exam, django_assert_max_num_queries):
    for number in range(80):
        add_copy(exam, f"K{number:04d}", f"learner_{number}", "N", Grading.GRADED, f"staff_{number % 4}",
                 {"q1": Decimal("1.5"), "q2": 1})
    block = make_block(fields=FIELDS)
    with django_assert_max_num_queries(5):  # exam sync, progress, totals, points, graders
        status, body = call(block, "statistics", method="GET")
    assert body["questions"][0]["count"] == 84


def test_histogram_of_a_question_with_few_values():
    bins = statistics.histogram([0.0, 1.0, 2.0, 2.0], 2, 1)
    assert [(item["low"], item["high"], item["count"]) for item in bins] == [
        (0.0, 0.667, 1), (0.667, 1.333, 1), (1.333, 2.0, 2)]


def _viewer(username, role):
    from viatique_xblock.platform.compat import ViatiqueUser
    return ViatiqueUser(user_id=1, username=username, full_name=username, anonymous_id="", role=role)
