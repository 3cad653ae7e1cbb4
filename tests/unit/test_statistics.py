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
    # 17 possible values: round bins of 1 point over [0, 8] (never 0.8 or 0.429), the last closed
    assert [(item["low"], item["high"]) for item in q1["histogram"]] == [(index, index + 1) for index in range(8)]
    assert [item["count"] for item in q1["histogram"]] == [0, 0, 1, 0, 1, 0, 1, 1]
    # 7 possible values (0..6): one bin each, named by its value
    assert [(item["low"], item["high"]) for item in q2["histogram"]] == [(index, index) for index in range(7)]
    assert [item["count"] for item in q2["histogram"]] == [1, 0, 0, 1, 0, 0, 2]
    # the total out of 14 (no step): round bins of 2 points
    assert [item["low"] for item in body["total"]["histogram"]] == [0, 2, 4, 6, 8, 10, 12]
    assert (q2["mean"], q2["median"], q2["stdev"]) == (3.75, 4.5, 2.487)
    assert body["total"] | {"histogram": None} == {"max": 14, "count": 4, "mean": 8.75, "median": 9.5,
                                                   "stdev": 4.657, "histogram": None}
    assert sum(item["count"] for item in body["total"]["histogram"]) == 4


@pytest.mark.parametrize("maximum, step, edges", [
    (3, 0.5, [0, 0.5, 1, 1.5, 2, 2.5, 3]),  # 7 possible values: the values themselves, not 0.429
    (20, 0.25, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]),
    (7, None, [0, 1, 2, 3, 4, 5, 6]),
    (100, 1, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]),
    (1.5, 0.1, [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4]),
    (45, 0.5, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
])
def test_histogram_bins_have_round_edges(maximum, step, edges):
    bins = statistics.histogram([0, maximum, maximum / 2], maximum, step)
    assert [item["low"] for item in bins] == edges
    assert bins[-1]["high"] == maximum and sum(item["count"] for item in bins) == 3
    assert all(len(str(item["low"]).rstrip("0")) <= 4 for item in bins)


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
    # one bin per possible value, named by it (not 0-0.667, 0.667-1.333, ...)
    assert [(item["low"], item["high"], item["count"]) for item in bins] == [
        (0.0, 0.0, 1), (1.0, 1.0, 1), (2.0, 2.0, 2)]


def _viewer(username, role):
    from viatique_xblock.platform.compat import ViatiqueUser
    return ViatiqueUser(user_id=1, username=username, full_name=username, anonymous_id="", role=role)
