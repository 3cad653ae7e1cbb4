"""The marking scheme: validation messages an author understands, and stable question ids."""
from decimal import Decimal

import pytest

from viatique_xblock import scheme


def problems(raw, previous=None):
    with pytest.raises(scheme.SchemeError) as caught:
        scheme.validate(raw, previous)
    return caught.value.problems


def test_valid_scheme_is_normalised_with_numbers_and_ids_kept():
    result = scheme.validate({"questions": [
        {"id": "q1", "label": " Exercise 1 ", "max": "2.50", "step": "0,25"},
        {"id": "part-b", "label": "Part B", "children": [{"id": "q7", "label": "B.1", "max": 3, "step": 1}]},
    ]})
    assert result["questions"][0] == {"id": "q1", "label": "Exercise 1", "max": 2.5, "step": 0.25}
    assert result["questions"][1]["children"][0]["id"] == "q7"
    assert scheme.total(result) == Decimal("5.5")
    assert [leaf["id"] for leaf in scheme.leaves(result)] == ["q1", "q7"]


def test_negative_maximum_is_refused_with_the_question_named():
    found = problems({"questions": [{"id": "q1", "label": "Exercice 1", "max": -2, "step": 1}]})
    assert found == [{"path": "1", "field": "max", "message": "Question “Exercice 1” has a maximum of -2: "
                                                           "a maximum must be greater than zero."}]


def test_duplicate_ids_are_refused():
    found = problems({"questions": [
        {"id": "q1", "label": "A", "max": 1, "step": 1},
        {"id": "q1", "label": "B", "max": 1, "step": 1},
    ]})
    assert len(found) == 1
    assert found[0]["path"] == "2"
    assert "Two questions have the id “q1”" in found[0]["message"]


def test_step_that_does_not_divide_the_maximum_is_refused_and_explained():
    found = problems({"questions": [{"id": "q1", "label": "Geometry", "max": 1, "step": 0.3}]})
    assert "the step 0.3 does not divide the maximum 1" in found[0]["message"]
    assert "Geometry" in found[0]["message"]


@pytest.mark.parametrize("question, fragment", [
    ({"label": "", "max": 1, "step": 1}, "has no label"),
    ({"label": "A", "step": 1}, "needs a maximum"),
    ({"label": "A", "max": 1, "step": 0}, "a step must be greater than zero"),
    ({"label": "A", "max": 1, "step": 2}, "is larger than the maximum"),
    ({"label": "A", "max": "1.0001", "step": "0.0001"}, "more than 3 decimals"),
    ({"label": "A", "max": "ten", "step": 1}, "needs a maximum"),
    ({"id": "1bad id", "label": "A", "max": 1, "step": 1}, "an id starts with a letter"),
    ({"label": "Group", "children": []}, "has no sub-question"),
])
def test_each_kind_of_mistake_has_its_message(question, fragment):
    found = problems({"questions": [question]})
    assert any(fragment in problem["message"] for problem in found), found


def test_all_problems_are_reported_at_once():
    found = problems({"questions": [
        {"label": "A", "max": -1, "step": 1},
        {"label": "B", "max": 1, "step": 0.3},
        {"label": "", "max": 1, "step": 1},
    ]})
    assert [problem["path"] for problem in found] == ["1", "2", "3"]


def test_empty_or_malformed_scheme_is_refused():
    assert problems({"questions": []})[0]["message"] == "The marking scheme needs at least one question."
    assert problems("not a scheme")[0]["message"] == "The marking scheme is not a list of questions."
    assert "is not a question" in problems({"questions": ["oops"]})[0]["message"]


def test_new_questions_get_fresh_ids_that_are_never_reused():
    first = scheme.validate({"questions": [{"label": "A", "max": 1, "step": 1}, {"label": "B", "max": 1, "step": 1}]})
    assert [q["id"] for q in first["questions"]] == ["q1", "q2"]
    # the author deletes B and adds C: C must not inherit B's id (points stored for q2 stay q2's)
    second = scheme.validate({"questions": [first["questions"][0], {"label": "C", "max": 1, "step": 1}]}, first)
    assert [q["id"] for q in second["questions"]] == ["q1", "q3"]


def test_relabelling_and_reordering_keeps_ids():
    first = scheme.validate({"questions": [
        {"label": "A", "max": 1, "step": 1}, {"label": "B", "max": 2, "step": 1}]})
    edited = [dict(first["questions"][1], label="B renamed"), dict(first["questions"][0], label="A renamed")]
    second = scheme.validate({"questions": edited, "next_id": first["next_id"]}, first)
    assert [(q["id"], q["label"]) for q in second["questions"]] == [("q2", "B renamed"), ("q1", "A renamed")]


def test_fresh_ids_skip_ids_the_author_typed():
    result = scheme.validate({"questions": [{"id": "q1", "label": "A", "max": 1, "step": 1},
                                            {"label": "B", "max": 1, "step": 1}], "next_id": 1})
    assert [q["id"] for q in result["questions"]] == ["q1", "q2"]


def test_depth_and_size_are_bounded():
    deep = {"label": "L5", "max": 1, "step": 1}
    for level in range(5):
        deep = {"label": f"L{level}", "children": [deep]}
    assert any("nested more than" in p["message"] for p in problems({"questions": [deep]}))
    many = [{"label": f"Q{i}", "max": 1, "step": 1} for i in range(scheme.MAX_QUESTIONS + 1)]
    assert any("largest allowed" in p["message"] for p in problems({"questions": many}))


def test_plain_number():
    assert scheme.plain_number(Decimal("16.000")) == 16
    assert scheme.plain_number(Decimal("6.750")) == 6.75


def test_next_id_passes_every_id_already_in_a_scheme_written_by_hand():
    """A scheme imported from OLX without next_id (seen in a Teak LMS import: stored with next_id 1) must
    never hand out an id a question already has, nor one it had once the question is deleted."""
    imported = scheme.validate({"questions": [{"id": "q1", "label": "A", "max": 10},
                                              {"id": "q7", "label": "B", "max": 10}]})
    assert imported["next_id"] == 8
    edited = scheme.validate({"questions": [imported["questions"][0], {"label": "C", "max": 5}]}, previous=imported)
    assert [node["id"] for node in edited["questions"]] == ["q1", "q8"]
