"""Shared set-up of the grading tests: an exam with a two-question scheme, copies with pages
(a real two-page scan PDF in the storage), users as the LMS would describe them."""
import uuid

import pymupdf

from tests.harness import make_block
from viatique_xblock.models import Copy, Page, ScanBatch
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import ViatiqueUser
from viatique_xblock.states import Grading, Identity

SCHEME = {"questions": [
    {"id": "q1", "label": "Exercice 1", "children": [{"id": "q2", "label": "1. a)", "max": 4, "step": 0.5}]},
    {"id": "q3", "label": "Exercice 2", "max": 6, "step": 0.25},
], "next_id": 4}
FIELDS = {"marking_scheme": SCHEME, "display_name": "Bac blanc", "grade_scale": 20}


def user(username, role="grader", full_name=None):
    return ViatiqueUser(user_id=username, username=username, full_name=full_name or username.title(),
                        anonymous_id=f"anon-{username}", role=role)


INSTRUCTOR = user("instructor_1", "instructor", "Marie Curie")
GRADER = user("staff_1", "grader", "Paul Langevin")
OTHER = user("staff_2", "grader", "Irène Joliot")


def block(username="instructor_1", role="instructor"):
    return make_block(username, role, fields=FIELDS)


def exam():
    return block().get_exam()


def scan_pdf(pages=2):
    doc = pymupdf.open()
    for index in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 100), f"Page {index + 1}: answer of the learner")
    return doc.tobytes()


def make_batch(exam, pages=2):
    sha = uuid.uuid4().hex
    name = storage.overwrite(storage.file_name("scans", exam.pk, f"{sha}.pdf"), scan_pdf(pages))
    return ScanBatch.objects.create(exam=exam, original_name="scan.pdf", sha256=sha, page_count=pages,
                                    file_name=name, state="done")


def make_copy(exam, code, grader="", state=Grading.READY, pages=2, batch=None, username="learner_1"):
    copy = Copy.objects.create(exam=exam, anonymous_code=code, grader=grader, grading_state=state,
                               identity_state=Identity.IDENTIFIED, learner_username=username,
                               learner_name=username.replace("_", " ").title(),
                               learner_anonymous_id=f"anon-{username}-{code}")
    if pages:
        batch = batch or make_batch(exam, pages)
        for index in range(pages):
            Page.objects.create(exam=exam, batch=batch, copy=copy, source_index=index, position=index + 1,
                                width_pt=595, height_pt=842)
    return copy


def remove_files(exam):
    store = storage.get_storage()
    for batch in ScanBatch.objects.filter(exam=exam):
        if store.exists(batch.file_name):
            store.delete(batch.file_name)


def annotation(page_id, **values):
    base = {"uid": str(uuid.uuid4()), "page_id": page_id, "kind": "comment", "x": 0.1, "y": 0.2,
            "width": 0.3, "height": 0.1, "text": "Bien", "question_id": "", "points": None}
    base.update(values)
    return base




def remove_exam_files(exam):
    """The exam's scans and graded PDFs, out of the storage (a test leaves nothing behind)."""
    store = storage.get_storage()
    for copy in Copy.objects.filter(exam=exam).exclude(graded_pdf_name=""):
        store.delete(copy.graded_pdf_name)
    remove_files(exam)
