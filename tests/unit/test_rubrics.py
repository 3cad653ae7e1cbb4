"""Living rubrics (viatique_xblock/grading/rubrics.py) through their handlers and domain API: scoring by gains
and deductions (bounds, step, a half toward the base), "pick one" groups, applying items and adjustments under
the copy's lease (by copy) and the answer's lease (by question), stale fencing refused, typed points kept as the
adjustment, living edits re-scoring every copy and its total in one step (audited), released scores published
again and PDFs rendered again, delete confirmation, and the ``rubric_editors`` setting. Leases on the real Redis
of the test settings; Celery tasks run eagerly."""
from decimal import Decimal

import pytest

from tests.harness import call, make_block
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from tests.unit import grading_helpers as helpers
from viatique_xblock import scheme
from viatique_xblock.grading import rendering, rubrics
from viatique_xblock.models import AppliedItem, AuditEvent, Copy, Exam, QuestionPoints, RubricItem, RubricRescore
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

SCHEME = {"questions": [
    {"id": "q1", "label": "Exercice 1", "max": 4, "step": 0.5},
    {"id": "q2", "label": "Exercice 2", "max": 6, "step": 0.5, "scoring": "deductions"},
], "next_id": 3}
FIELDS = {"marking_scheme": SCHEME, "display_name": "Bac blanc", "grade_scale": 20}


def block(username="instructor_1", role="instructor", **fields):
    return make_block(username, role, fields={**FIELDS, **fields}, anonymous_id=f"anon-{username}")


def grader(username="staff_1", **fields):
    return block(username, "staff", **fields)


@pytest.fixture
def exam():
    made = block().get_exam()
    yield made
    helpers.remove_exam_files(made)


def ok(result):
    status, body = result
    assert status == 200, body
    return body


def new_item(question_id, text, points, user_block=None, **extra):
    return ok(call(user_block or grader(), "create_rubric_item",
                   {"question_id": question_id, "text": text, "points": points, **extra}))["item"]


def take(copy, user_block=None):
    return ok(call(user_block or grader(), "acquire_lease", {"copy_id": copy.public_id}))


def apply(copy, lease, question_id, item, applied=True, user_block=None):
    return call(user_block or grader(), "apply_rubric_item",
                {"copy_id": copy.public_id, "question_id": question_id, "item_id": item["id"], "applied": applied,
                 "fencing": lease["fencing"]})


# ------------------------------------------------------------------ scoring

LEAF = {"id": "q1", "max": 4, "step": 0.5}


@pytest.mark.parametrize("leaf, items, adjustment, expected", [
    (LEAF, 0, 0, "0"),                                   # gains start from 0
    (LEAF, Decimal("1.5"), Decimal("1"), "2.5"),         # base + items + adjustment
    (LEAF, Decimal("-1"), 0, "0"),                       # bounded below
    (LEAF, Decimal("9"), 0, "4"),                        # bounded above
    (LEAF, Decimal("1.25"), 0, "1"),                     # a half: toward the base (0)
    (LEAF, Decimal("1.3"), 0, "1.5"),                    # else the nearest multiple
    ({**LEAF, "scoring": "deductions"}, 0, 0, "4"),      # deductions start from the maximum
    ({**LEAF, "scoring": "deductions"}, Decimal("-1.25"), 0, "3"),  # a half: toward the base (the maximum)
    ({**LEAF, "scoring": "deductions"}, Decimal("-6"), 0, "0"),
])
def test_score_is_base_plus_items_plus_adjustment_bounded_and_on_the_step(leaf, items, adjustment, expected):
    assert scheme.score(leaf, items, adjustment) == Decimal(expected)


def test_the_scheme_validates_and_keeps_a_questions_scoring():
    valid = scheme.validate({"questions": [{"label": "A", "max": 4, "step": 1, "scoring": "deductions"}]})
    assert valid["questions"][0]["scoring"] == "deductions"
    with pytest.raises(scheme.SchemeError) as raised:
        scheme.validate({"questions": [{"label": "A", "max": 4, "step": 1, "scoring": "both"}]})
    assert raised.value.problems[0]["field"] == "scoring"


# ------------------------------------------------------------------ applying

def test_applying_items_by_copy_scores_the_question_and_the_total(exam):
    copy = helpers.make_copy(exam, "A001")
    plus = new_item("q1", "Bonne méthode", "1.5")
    minus = new_item("q2", "Pas de justification", "-1")
    lease = take(copy)
    body = ok(apply(copy, lease, "q1", plus))
    assert (body["question_id"], body["points"], body["adjustment"], body["items"]) == ("q1", "1.5", "0", [plus["id"]])
    body = ok(apply(copy, lease, "q2", minus))
    assert body["points"] == "5" and body["total"] == "6.5"  # deductions from 6
    copy.refresh_from_db()
    assert copy.grading_state == Grading.IN_PROGRESS and copy.total_points == Decimal("6.5")
    # the adjustment adds to the items; the comment is the question's
    body = ok(call(grader(), "save_adjustment", {"copy_id": copy.public_id, "question_id": "q1", "adjustment": "0.5",
                                                 "comment": "Soigné", "fencing": lease["fencing"]}))
    assert (body["points"], body["adjustment"], body["comment"], body["total"]) == ("2", "0.5", "Soigné", "7")
    # removing an item re-scores
    body = ok(apply(copy, lease, "q1", plus, applied=False))
    assert body["points"] == "0.5" and body["items"] == []
    # the workspace shows the applied items, the adjustment and the rubric
    opened = ok(call(grader(), "open_copy", method="GET", query=f"copy_id={copy.public_id}"))
    assert opened["points"]["q2"]["items"] == [minus["id"]] and opened["points"]["q1"]["adjustment"] == "0.5"
    assert [item["id"] for item in opened["rubric"]["questions"]["q1"]["items"]] == [plus["id"]]
    assert opened["rubric"]["questions"]["q2"]["scoring"] == "deductions"
    assert AuditEvent.objects.filter(action="rubric.item_applied").count() == 2


def test_a_stale_fencing_number_is_refused_and_nothing_changes(exam):
    copy = helpers.make_copy(exam, "A001")
    item = new_item("q1", "Juste", "2")
    lease = take(copy)
    status, body = call(grader(), "apply_rubric_item", {"copy_id": copy.public_id, "question_id": "q1",
                                                        "item_id": item["id"], "applied": True,
                                                        "fencing": lease["fencing"] - 1})
    assert status == 409 and body["error"] == "lease_lost"
    status, body = call(grader(), "save_adjustment", {"copy_id": copy.public_id, "question_id": "q1",
                                                      "adjustment": 1, "comment": "", "fencing": 0})
    assert status == 409 and body["error"] == "lease_lost"
    assert not AppliedItem.objects.exists() and not QuestionPoints.objects.exists()


def test_pick_one_group_keeps_one_applied_item(exam):
    copy = helpers.make_copy(exam, "A001")
    group = ok(call(block(), "save_rubric_group", {"question_id": "q1", "label": "Résultat", "pick_one": True}))["group"]
    right = new_item("q1", "Résultat juste", "3", group_id=group["id"])
    close = new_item("q1", "Résultat approché", "1.5", group_id=group["id"])
    extra = new_item("q1", "Unités", "0.5")
    lease = take(copy)
    ok(apply(copy, lease, "q1", right))
    ok(apply(copy, lease, "q1", extra))
    body = ok(apply(copy, lease, "q1", close))
    assert sorted(body["items"]) == sorted([close["id"], extra["id"]]) and body["points"] == "2"


def test_points_typed_are_kept_as_the_adjustment(exam):
    copy = helpers.make_copy(exam, "A001")
    item = new_item("q2", "Erreur de signe", "-2")
    lease = take(copy)
    ok(apply(copy, lease, "q2", item))
    body = ok(call(grader(), "save_points", {"copy_id": copy.public_id, "fencing": lease["fencing"],
                                             "question_id": "q2", "points": "3", "comment": ""}))
    assert body["points"] == "3"
    row = QuestionPoints.objects.get(copy=copy, question_id="q2")
    assert row.points == Decimal("3") and row.adjustment == Decimal("-1")  # 6 - 2 - 1
    # a copy graded without items keeps exactly the points typed
    other = helpers.make_copy(exam, "A002", username="learner_2")
    lease = take(other)
    ok(call(grader(), "save_points", {"copy_id": other.public_id, "fencing": lease["fencing"], "question_id": "q1",
                                      "points": "2.5", "comment": ""}))
    assert QuestionPoints.objects.get(copy=other, question_id="q1").adjustment == Decimal("2.5")
    assert rubrics.rescore_copies(exam, [other.pk]) == {}


def test_applying_by_question_takes_the_answers_lease(exam):
    Exam.objects.filter(pk=exam.pk).update(grading_mode="by_question")
    copy = helpers.make_copy(exam, "A001")
    item = new_item("q1", "Bonne méthode", "2", user_block=grader(grading_mode="by_question"))
    answer = ok(call(grader(grading_mode="by_question"), "next_answer", {"question_id": "q1"}))["answer"]
    assert answer["answer"]["items"] == [] and answer["rubric"]["items"][0]["id"] == item["id"]
    data = {"copy_id": copy.public_id, "question_id": "q1", "item_id": item["id"], "applied": True}
    status, body = call(grader(grading_mode="by_question"), "apply_rubric_item",
                        {**data, "fencing": answer["lease"]["fencing"] + 1})
    assert status == 409 and body["error"] == "lease_lost"
    # another grader, without the answer's lease, is refused too
    status, body = call(grader("staff_2", grading_mode="by_question"), "apply_rubric_item",
                        {**data, "fencing": answer["lease"]["fencing"]})
    assert status == 409 and body["error"] == "lease_lost"
    body = ok(call(grader(grading_mode="by_question"), "apply_rubric_item",
                   {**data, "fencing": answer["lease"]["fencing"]}))
    assert body["points"] == "2" and body["items"] == [item["id"]]


def test_no_answer_removes_the_questions_rubric_items_and_gives_zero(exam):
    """An answer marked "no answer" (by question) has 0 points and no rubric item left applied: the learner's
    view lists none, and a later living edit of the item does not touch it."""
    Exam.objects.filter(pk=exam.pk).update(grading_mode="by_question")
    copy = helpers.make_copy(exam, "A001")
    by_question = grader(grading_mode="by_question")
    item = new_item("q2", "Unité oubliée", "-1", user_block=by_question)  # q2 is scored by deductions (max 6)
    answer = ok(call(by_question, "next_answer", {"question_id": "q2"}))["answer"]
    ok(call(by_question, "apply_rubric_item", {"copy_id": copy.public_id, "question_id": "q2", "item_id": item["id"],
                                              "applied": True, "fencing": answer["lease"]["fencing"]}))
    assert QuestionPoints.objects.get(copy=copy, question_id="q2").points == 5
    opened = ok(call(by_question, "open_answer", {"copy_id": copy.public_id, "question_id": "q2"}))["answer"]
    ok(call(by_question, "mark_no_answer", {"copy_id": copy.public_id, "question_id": "q2",
                                           "fencing": opened["lease"]["fencing"],
                                           "version": opened["draft"]["version"]}))
    row = QuestionPoints.objects.get(copy=copy, question_id="q2")
    assert (row.points, row.no_answer) == (0, True)
    assert not AppliedItem.objects.filter(copy=copy).exists()
    assert rubrics.applied_details(copy=copy) == {}


# ------------------------------------------------------------------ living items

def graded_with(exam, item, count, state=Grading.GRADED):
    """``count`` copies whose q1 has ``item`` applied (and 1 point of adjustment), q2 typed 5."""
    copies = []
    for index in range(count):
        copy = helpers.make_copy(exam, f"B{index:03d}", username=f"learner_{index}", pages=0, state=state)
        rubric_item = RubricItem.objects.get(public_id=item["id"])
        AppliedItem.objects.create(copy=copy, question_id="q1", item=rubric_item)
        points = scheme.score(SCHEME["questions"][0], rubric_item.points, 1)
        QuestionPoints.objects.create(copy=copy, question_id="q1", points=points, adjustment=1)
        QuestionPoints.objects.create(copy=copy, question_id="q2", points=5, adjustment=-1)
        Copy.objects.filter(pk=copy.pk).update(total_points=points + 5)
        copies.append(copy)
    return copies


def test_a_living_edit_rescores_every_copy_and_total_in_one_step(exam):
    item = new_item("q1", "Méthode", "2")
    copies = graded_with(exam, item, 3, state=Grading.IN_PROGRESS)
    assert {copy.total_points for copy in Copy.objects.filter(exam=exam)} == {Decimal(8)}
    status, body = call(block(), "edit_rubric_item", {"item_id": item["id"], "points": "1.5", "text": "Méthode juste",
                                                      "version": item["version"]})
    assert status == 200, body
    assert body["item"]["points"] == "1.5" and body["item"]["version"] == item["version"] + 1
    assert body["rescore"]["copies"] == 3 and body["rescore"]["released"] == 0
    assert set(QuestionPoints.objects.filter(question_id="q1").values_list("points", flat=True)) == {Decimal("2.5")}
    assert {copy.total_points for copy in Copy.objects.filter(exam=exam)} == {Decimal("7.5")}
    event = AuditEvent.objects.get(action="rubric.item_edited")
    assert event.actor == "instructor_1" and event.details["copies"] == 3
    assert event.details["before"]["points"] == "2" and event.details["after"]["points"] == "1.5"
    assert (event.details["totals_before"], event.details["totals_after"]) == ("24", "22.5")
    assert sorted(row[0] for row in event.details["per_copy"]) == sorted(copy.pk for copy in copies)
    # an edit from the old version is refused, nothing changes
    status, body = call(block(), "edit_rubric_item", {"item_id": item["id"], "points": "1", "version": item["version"]})
    assert status == 409 and body["error"] == "stale_item" and body["item"]["points"] == "1.5"
    assert set(QuestionPoints.objects.filter(question_id="q1").values_list("points", flat=True)) == {Decimal("2.5")}


def test_a_living_edit_republishes_released_scores_and_renders_the_pdfs_again(exam, lms_gradebook, monkeypatch,
                                                                             django_capture_on_commit_callbacks):
    lms_gradebook.users = {f"learner_{index}": lms_gradebook.learner(f"anon-learner_{index}-B{index:03d}")
                           for index in range(3)}
    item = new_item("q1", "Méthode", "2")
    copies = graded_with(exam, item, 3)
    ok(call(block(), "release_results", {}))
    assert {copy.published_points for copy in Copy.objects.filter(exam=exam)} == {Decimal(8)}
    rendered = []
    monkeypatch.setattr(rendering, "rerender_copy", lambda pk: rendered.append(pk) or Grading.GRADED)
    with django_capture_on_commit_callbacks(execute=True):
        body = ok(call(block(), "edit_rubric_item", {"item_id": item["id"], "points": "1",
                                                     "version": item["version"]}))
    assert body["rescore"] == {"id": body["rescore"]["id"], "copies": 3, "released": 3}
    assert {copy.published_points for copy in Copy.objects.filter(exam=exam)} == {Decimal(7)}
    for copy in copies:
        row = lms_gradebook.csm[(lms_gradebook.users[copy.learner_username].id, exam.usage_key)]
        assert (row["grade"], row["max_grade"]) == (7.0, 10.0)
    assert sorted(rendered) == sorted(copy.pk for copy in copies)  # once each
    progress = ok(call(block(), "rescore_progress", method="GET", query=f"id={body['rescore']['id']}"))
    assert progress == {"id": body["rescore"]["id"], "total": 3, "released": 3, "republished": 3, "to_render": 3,
                        "rendered": 3, "done": True}


def test_deleting_an_applied_item_needs_the_number_of_copies(exam):
    item = new_item("q1", "Méthode", "2")
    graded_with(exam, item, 2, state=Grading.IN_PROGRESS)
    assert ok(call(block(), "rubric_item_usage", method="GET", query=f"item_id={item['id']}")) == \
        {"copies": 2, "released": 0}
    for copies in (None, 1):
        status, body = call(block(), "delete_rubric_item", {"item_id": item["id"], "copies": copies})
        assert status == 409 and body["error"] == "confirmation_needed" and body["copies"] == 2
    assert RubricItem.objects.filter(public_id=item["id"]).exists()
    body = ok(call(block(), "delete_rubric_item", {"item_id": item["id"], "copies": 2}))
    assert body["deleted"] and body["rescore"]["copies"] == 2
    assert not AppliedItem.objects.exists()
    assert set(QuestionPoints.objects.filter(question_id="q1").values_list("points", flat=True)) == {Decimal(1)}
    assert {copy.total_points for copy in Copy.objects.filter(exam=exam)} == {Decimal(6)}
    # an item applied nowhere goes at once
    other = new_item("q1", "Unités", "0.5")
    assert ok(call(block(), "delete_rubric_item", {"item_id": other["id"]}))["rescore"] is None


def test_who_may_change_the_rubric_follows_the_setting(exam):
    item = new_item("q1", "Méthode", "2")
    edit = {"item_id": item["id"], "text": "Méthode claire", "version": item["version"]}
    # instructors (the default): a grader may create items and apply them, not edit them
    assert ok(call(grader(), "rubric", method="GET"))["can_edit"] is False
    status, body = call(grader(), "edit_rubric_item", edit)
    assert status == 403 and body["error"] == "rubric_locked"
    # all staff
    assert ok(call(grader(rubric_editors="staff"), "rubric", method="GET"))["can_edit"] is True
    ok(call(grader(rubric_editors="staff"), "edit_rubric_item", edit))
    # nobody once grading started: instructors until then
    locked = block(rubric_editors="nobody_after_grading")
    assert ok(call(locked, "rubric", method="GET"))["can_edit"] is True
    helpers.make_copy(exam, "A001", state=Grading.IN_PROGRESS, pages=0)
    assert ok(call(locked, "rubric", method="GET"))["can_edit"] is False
    status, body = call(locked, "edit_rubric_item", {**edit, "version": item["version"] + 1})
    assert status == 403 and body["error"] == "rubric_locked"
    # creating stays open to graders (it changes no grade)
    assert new_item("q1", "Unités", "0.5", user_block=grader(rubric_editors="nobody_after_grading"))["points"] == "0.5"
    assert RubricRescore.objects.count() == 0


def test_the_comment_bank_is_the_rubric(exam):
    ok(call(grader(), "add_bank_comment", {"text": "Justifiez", "question_id": "q1", "points": "-0.5"}))
    item = RubricItem.objects.get()
    assert (item.text, item.question_id, item.points, item.created_by) == ("Justifiez", "q1", Decimal("-0.5"),
                                                                             "staff_1")
    rubric = ok(call(grader(), "rubric", method="GET", query="question_id=q1"))
    assert list(rubric["questions"]) == ["q1"] and rubric["questions"]["q1"]["items"][0]["text"] == "Justifiez"
    bank = ok(call(grader(), "comment_bank", method="GET"))["comments"]
    assert bank == [{"id": item.public_id, "text": "Justifiez", "question_id": "q1", "points": "-0.5"}]


def test_keep_points_rebases_adjustments_when_a_questions_scoring_changes(exam):
    item = new_item("q1", "Méthode", "2")
    graded_with(exam, item, 2, state=Grading.IN_PROGRESS)  # q1: 0 + 2 + 1 = 3
    scheme_now = {**SCHEME, "questions": [{**SCHEME["questions"][0], "scoring": "deductions"},
                                          SCHEME["questions"][1]]}
    Exam.objects.filter(pk=exam.pk).update(scheme=scheme_now)
    exam.refresh_from_db()
    assert rubrics.keep_points(exam, ["q1"]) == 2
    assert set(QuestionPoints.objects.filter(question_id="q1").values_list("adjustment", flat=True)) == {Decimal(-3)}
    # the points are as they were, and a re-scoring finds nothing to change
    assert rubrics.rescore_copies(exam, list(Copy.objects.filter(exam=exam).values_list("pk", flat=True))) == {}
    assert set(QuestionPoints.objects.filter(question_id="q1").values_list("points", flat=True)) == {Decimal(3)}


def test_a_graders_panel_reads_the_questions_rubric_in_one_query_with_its_groups_that_hold_items(
        exam, django_assert_num_queries):
    """What an answer carries of its question's rubric (rubrics.question_rubric): the question's items in order,
    the groups they are in (an empty group has nothing to apply: only the editor lists it), the exam-wide items,
    and the question's scoring, read in one query."""
    used = ok(call(block(), "save_rubric_group", {"question_id": "q2", "label": "Rédaction", "pick_one": True}))["group"]
    ok(call(block(), "save_rubric_group", {"question_id": "q2", "label": "Vide", "pick_one": False}))
    first = new_item("q2", "Pas de justification", "-1")
    second = new_item("q2", "Unité oubliée", "-0.5", group_id=used["id"])
    anywhere = new_item("", "Soin", None)
    new_item("q1", "Autre question", "1")
    exam.refresh_from_db()
    with django_assert_num_queries(1):
        shown = rubrics.question_rubric(exam, "q2")
    assert shown["scoring"] == "deductions"
    assert [item["id"] for item in shown["items"]] == [first["id"], second["id"]]
    assert [group["label"] for group in shown["groups"]] == ["Rédaction"]
    assert [item["id"] for item in shown["exam_wide"]] == [anywhere["id"]]
    full = rubrics.rubric(exam, "q2")["questions"]["q2"]
    assert shown["items"] == full["items"] and len(full["groups"]) == 2
