"""A living rubric edit on MariaDB (the test database), through the real grading path: copies graded with a
rubric item through the handlers (lease, item applied, points typed, finalize, the graded PDF rendered by the
Celery task run eagerly), some released to the LMS-like gradebook (tests/lms_grades.py); the item's points
edited from -1 to -0.5 re-score every copy in one step, and for every released learner the gradebook, the
learner's view, the grades CSV and the text of the re-rendered PDF (rendered once per copy) agree."""
import csv
import io

import pymupdf
import pytest
from webob import Request

from tests.harness import call, make_block
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from tests.unit import grading_helpers as helpers
from viatique_xblock.models import AuditEvent, Copy
from viatique_xblock.platform import storage
from viatique_xblock.states import Grading

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SCHEME = {"questions": [
    {"id": "q1", "label": "Exercice 1", "max": 4, "step": 0.5, "scoring": "deductions"},
    {"id": "q2", "label": "Exercice 2", "max": 6, "step": 0.5},
], "next_id": 3}
FIELDS = {"marking_scheme": SCHEME, "display_name": "Bac blanc", "grade_scale": 20}
COPIES = 6
RELEASED = 4


def block(username="instructor_1", role="instructor", **extra):
    return make_block(username, role, fields=FIELDS, **extra)


def ok(result):
    status, body = result
    assert status == 200, body
    return body


def pdf_text(copy):
    with storage.get_storage().open(Copy.objects.get(pk=copy.pk).graded_pdf_name, "rb") as handle:
        document = pymupdf.open(stream=handle.read(), filetype="pdf")
    return " ".join(page.get_text() for page in document)


def test_a_living_edit_republishes_released_scores_and_rerenders_each_pdf_once(lms_gradebook):
    instructor = block()
    exam = instructor.get_exam()
    grader = block("staff_1", "staff")
    copies = [helpers.make_copy(exam, f"R{index:03d}", username=f"learner_{index}") for index in range(COPIES)]
    users = {copy.pk: lms_gradebook.learner(copy.learner_anonymous_id, f"platform_{index}")
             for index, copy in enumerate(copies)}
    try:
        item = ok(call(grader, "create_rubric_item", {"question_id": "q1", "text": "Pas de justification",
                                                      "points": "-1"}))["item"]
        for index, copy in enumerate(copies):
            lease = ok(call(grader, "acquire_lease", {"copy_id": copy.public_id}))
            write = {"copy_id": copy.public_id, "fencing": lease["fencing"]}
            ok(call(grader, "apply_rubric_item", {**write, "question_id": "q1", "item_id": item["id"],
                                                  "applied": True}))
            ok(call(grader, "save_points", {**write, "question_id": "q2", "points": str(2 + index % 3),
                                            "comment": "Bien"}))
            ok(call(grader, "finalize", write))  # rendered by the task, eagerly, once committed
        assert set(Copy.objects.filter(exam=exam).values_list("grading_state", flat=True)) == {Grading.GRADED}
        # release: then two copies are reopened (theirs withdrawn), so only four stay released
        ok(call(instructor, "release_results", {}))
        for copy in copies[RELEASED:]:
            ok(call(instructor, "reopen_copy", {"copy_id": copy.public_id}))
        before = {copy.pk: Copy.objects.get(pk=copy.pk).total_points for copy in copies}
        assert {copy.pk: lms_gradebook.csm[(users[copy.pk].id, exam.usage_key)]["grade"]
                for copy in copies[:RELEASED]} == {pk: float(total) for pk, total in before.items()
                                                   if pk in {copy.pk for copy in copies[:RELEASED]}}

        body = ok(call(instructor, "edit_rubric_item", {"item_id": item["id"], "points": "-0.5",
                                                        "version": item["version"]}))
        assert body["rescore"]["copies"] == COPIES and body["rescore"]["released"] == RELEASED
        # every copy in one step: 3.5 instead of 3 on q1 (deductions from 4, snapped on 0.5)
        after = {copy.pk: Copy.objects.get(pk=copy.pk).total_points for copy in copies}
        assert all(after[pk] - before[pk] == 0.5 for pk in after)
        progress = ok(call(instructor, "rescore_progress", method="GET", query=f"id={body['rescore']['id']}"))
        assert progress["done"] and progress["republished"] == RELEASED and progress["rendered"] == RELEASED

        csv_rows = grades_csv(instructor)
        header, rows = csv_rows[0], {row[0]: row for row in csv_rows[1:]}
        rubric_column = header.index("Exercice 1 (q1): rubric")
        for copy in copies[:RELEASED]:
            total = after[copy.pk]
            text = f"{float(total):g}"
            # the gradebook
            row = lms_gradebook.csm[(users[copy.pk].id, exam.usage_key)]
            assert (row["grade"], row["max_grade"]) == (float(total), 10.0)
            assert Copy.objects.get(pk=copy.pk).published_points == total
            # the learner's view
            learner = block(copy.learner_username, "learner", anonymous_id=copy.learner_anonymous_id)
            mine = ok(call(learner, "my_results", method="GET"))
            assert mine["copy"]["total"] == text
            assert mine["questions"][0]["items"] == [{"text": "Pas de justification", "points": "-0.5"}]
            assert mine["questions"][0]["points"] == "3.5"
            # the grades CSV
            assert rows[copy.anonymous_code][6] == text
            assert rows[copy.anonymous_code][rubric_column] == "Pas de justification (-0.5)"
            # the re-rendered PDF, once
            assert AuditEvent.objects.filter(action="copy.rerendered", copy_id_ref=copy.pk).count() == 1
            rendered = pdf_text(copy)
            assert "Pas de justification" in rendered and "-0.5" in rendered and f"{text} / 10" in rendered
        # reopened copies: nothing published, nothing rendered again (their render comes when graded again)
        for copy in copies[RELEASED:]:
            assert Copy.objects.get(pk=copy.pk).published_points is None
            assert not AuditEvent.objects.filter(action="copy.rerendered", copy_id_ref=copy.pk).exists()
    finally:
        helpers.remove_exam_files(exam)
        store = storage.get_storage()
        for name in Copy.objects.filter(exam=exam).exclude(graded_pdf_name="").values_list("graded_pdf_name",
                                                                                            flat=True):
            if store.exists(name):
                store.delete(name)



def grades_csv(instructor):
    """The grades CSV's rows, as the handler sends it."""
    request = Request.blank("/handler/grades_csv")
    response = instructor.handle("grades_csv", request, "")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"), newline="")))
