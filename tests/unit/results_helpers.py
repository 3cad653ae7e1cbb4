"""Shared set-up of the release and regrade tests: an exam whose scheme has half and quarter points,
copies in every state that matters, with points, comments, pages and annotations (rows only: no file)."""
from decimal import Decimal

from tests.harness import call, make_block
from viatique_xblock.models import Annotation, Copy, Page, QuestionPoints, ScanBatch
from viatique_xblock.states import Grading, Identity

SCHEME = {"questions": [
    {"id": "q1", "label": "Exercice 1", "children": [{"id": "q2", "label": "1. a) Suites", "max": 4, "step": 0.5}]},
    {"id": "q3", "label": "Exercice 2", "max": 6, "step": 0.25},
], "next_id": 4}
FIELDS = {"marking_scheme": SCHEME, "display_name": "Bac blanc", "grade_scale": 20, "regrade_window_days": 7}
#: points are sent to edx-submissions as whole numbers: quarter points, times 4
FACTOR = 4


def block(username="instructor_1", role="instructor", **fields):
    return make_block(username, role, fields={**FIELDS, **fields}, anonymous_id=f"anon-{username}")


def learner_block(username, **fields):
    return block(username, "learner", **fields)


def graded_copy(exam, code, username, points, grader="staff_1", comments=None, state=Grading.GRADED, pages=2):
    """A copy of ``username`` (identified unless ``username`` is empty) with ``points`` {question: value}."""
    copy = Copy.objects.create(
        exam=exam, anonymous_code=code, grader=grader, grading_state=state,
        identity_state=Identity.IDENTIFIED if username else Identity.UNIDENTIFIED,
        learner_username=username, learner_name=username.replace("_", " ").title() if username else "",
        learner_anonymous_id=f"anon-{username}" if username else None,
        general_comment=f"General comment for {code}",
        total_points=sum((Decimal(str(value)) for value in points.values()), Decimal(0)) if points else None,
        graded_pdf_name=f"viatique/graded/{code}.pdf" if state == Grading.GRADED else "",
    )
    for question_id, value in points.items():
        QuestionPoints.objects.create(copy=copy, question_id=question_id, points=Decimal(str(value)),
                                      adjustment=Decimal(str(value)),
                                      comment=(comments or {}).get(question_id, f"{code} {question_id} comment"),
                                      grader=grader)
    if pages:
        batch = ScanBatch.objects.create(exam=exam, original_name=f"{code}.pdf", sha256=f"sha-{code}",
                                         page_count=pages, state="done")
        for index in range(pages):
            page = Page.objects.create(exam=exam, batch=batch, copy=copy, source_index=index, position=index + 1,
                                       width_pt=595, height_pt=842)
            Annotation.objects.create(copy=copy, page=page, kind="comment", x=0.1, y=0.2 + index / 10, width=0.3,
                                      height=0.05, text=f"{code} note on page {index + 1}", question_id="q2",
                                      points=Decimal("0.5"), author=grader)
    return copy


def classroom(exam):
    """learner_1 (graded, 7.25), learner_2 (graded, 3), learner_3 (being graded), an unidentified graded copy."""
    return {
        "learner_1": graded_copy(exam, "AAA1", "learner_1", {"q2": 3.5, "q3": 3.75}),
        "learner_2": graded_copy(exam, "BBB2", "learner_2", {"q2": 1, "q3": 2}, grader="staff_2"),
        "learner_3": graded_copy(exam, "CCC3", "learner_3", {"q2": 2}, state=Grading.IN_PROGRESS),
        "unidentified": graded_copy(exam, "DDD4", "", {"q2": 4, "q3": 6}),
    }


def release(instructor=None):
    instructor = instructor or block()
    return call(instructor, "release_results", {})
