"""The print screen's booklets: a print run made by a task, its progress, its PDF; the anonymous cover's
"Name" box inside the band graders never see, and every cover's instruction."""
import pymupdf
import pytest
from django.test import override_settings

from tests.harness import call, make_block
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.models import AuditEvent, Booklet, ExportJob
from viatique_xblock.pdf import booklets as pdf_booklets, qr
from viatique_xblock.platform import queue, storage
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import batches, booklet_jobs, booklets

from .pdf import builders

pytestmark = pytest.mark.django_db

COVER = pdf_booklets.Cover(name="Name", anonymous="Write your name in the box above.",
                           prenamed="Check the name above.", band=0.12)


def boxes(page):
    """The stroked rectangles drawn on a page (the name box)."""
    return [item["rect"] for item in page.get_drawings() if item.get("type") == "s"]


@pytest.mark.parametrize("band", [0.12, 0.07, 0.05, 0.3])
def test_the_anonymous_cover_has_a_labelled_name_box_inside_the_hidden_band(band):
    cover = pdf_booklets.Cover(name="Nom", anonymous="Écrivez votre nom dans le cadre.", prenamed="-", band=band)
    pdf = pdf_booklets.make_booklets(blank_pages=2, exam_ref="MATH1", numbers=[12345, 23456], cover=cover)
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    height = doc[0].rect.height
    hidden = band * height  # the top of the cover that graders never see (the exam's name area)
    stamp = pdf_booklets.layout(doc[0].rect.width, height)
    for number in (0, 2):  # the cover of each booklet
        page = doc[number]
        (box,) = boxes(page)
        assert box.y0 >= 0 and box.y1 <= hidden and box.y1 <= stamp.content.y0
        assert box.x1 <= stamp.qr.x0 and box.width > 200 and box.height >= 15
        label = page.search_for("Nom")
        assert label and box.contains(label[0])
        instruction = page.search_for("Écrivez votre nom dans le cadre.")
        assert instruction and instruction[0].y1 <= hidden + 1 and instruction[0].y0 >= box.y1 - 1
    # the other pages have neither box nor words
    assert not boxes(doc[1]) and "Nom" not in doc[1].get_text()


def test_a_prenamed_cover_prints_the_name_and_says_what_to_write_where():
    pdf = pdf_booklets.make_booklets(blank_pages=1, exam_ref="MATH1", numbers=[12345], names=["Ada Lovelace"],
                                     cover=COVER)
    page = pymupdf.open(stream=pdf, filetype="pdf")[0]
    assert not boxes(page)
    text = page.get_text()
    assert "Ada Lovelace" in text and "Check the name above." in text
    assert page.search_for("Check the name above.")[0].y1 <= 0.12 * page.rect.height


def test_extra_blank_pages_end_every_booklet_and_carry_their_page_numbers():
    numbers = []
    pdf = pdf_booklets.make_booklets(blank_pages=2, extra_pages=2, exam_ref="MATH1", numbers=[11111, 22222],
                                     cover=COVER, progress=numbers.append)
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    assert doc.page_count == 8
    assert qr.short("MATH1", 11111, 4) in doc[3].get_text() and qr.short("MATH1", 22222, 1) in doc[4].get_text()
    assert numbers[-1] == 2


def test_the_exam_cover_follows_its_name_area_and_the_language():
    block = make_block(fields={"name_area_height": 9})
    cover = booklets.cover(block.get_exam())
    assert cover.band == 0.09 and cover.name == "Name" and "box" in cover.anonymous


def test_a_print_run_is_queued_made_by_its_task_and_downloaded(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(queue, "send", lambda name, *args, **kwargs: sent.append((name, args)))
    block = make_block()
    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(block, "booklet_print", {"prenamed": False, "copies": 30, "pages": 2, "extra_pages": 1})
    assert status == 200 and body["state"] == "queued" and body["total"] == 30
    job = ExportJob.objects.get(kind="booklets")
    assert sent == [("viatique.print_booklets", (job.pk,))]
    numbers = job.details["numbers"]
    assert len(set(numbers)) == 30 and Booklet.objects.filter(exam=job.exam).count() == 30
    assert AuditEvent.objects.filter(action="booklets.printed").count() == 1
    # not ready yet: refused with its own code
    status, refused = call(block, "booklet_download", method="GET", suffix=body["id"])
    assert status == 409 and refused["error"] == "booklets_not_ready"
    # the task (run here as the worker would)
    saved = queue.task("viatique.print_booklets").apply(args=(job.pk,)).get()
    assert saved
    status, done = call(block, "booklet_status", method="GET", query=f"id={body['id']}")
    assert done["ready"] and done["done"] == 30 and (done["pages"], done["extra_pages"]) == (2, 1)
    doc = pymupdf.open(stream=storage.get_storage().open(saved).read(), filetype="pdf")
    assert doc.page_count == 90
    exam_ref = batches.exam_ref(job.exam)
    assert qr.short(exam_ref, numbers[29], 3) in doc[89].get_text()
    assert "Name" in doc[0].get_text() and "Write your name" in doc[0].get_text()
    _status, listing = call(block, "booklet_status", method="GET")
    assert listing["jobs"][0]["id"] == body["id"] and listing["pages_per_copy"] == job.exam.pages_per_copy
    storage.get_storage().delete(saved)


def test_prenamed_print_runs_follow_the_roster_and_refusals_reserve_nothing():
    exam = make_block().get_exam()
    learners = [Learner(username=f"learner_{index}", name=f"Élève {index}", anonymous_id=f"anon-{index}")
                for index in range(3)]
    job = booklet_jobs.start(exam, prenamed=True, learners=learners, pages=1, send_task=lambda pk: None)
    assert job.total == 3
    name = booklet_jobs.build(job.pk)
    doc = pymupdf.open(stream=storage.get_storage().open(name).read(), filetype="pdf")
    assert [doc[index].get_text().count("Élève") for index in range(3)] == [1, 1, 1]
    assert booklet_jobs.build(job.pk) == ""  # done: a second task makes nothing
    storage.get_storage().delete(name)
    for kwargs in ({"copies": 0}, {"copies": 5001}, {"copies": 2, "pages": 0}, {"copies": 2, "extra_pages": -1},
                   {"copies": 500, "pages": 150, "extra_pages": 50}, {"prenamed": True, "learners": []}):
        with pytest.raises(ViatiqueError):
            booklet_jobs.start(exam, send_task=lambda pk: None, **kwargs)
    assert Booklet.objects.filter(exam=exam).count() == 3


def test_graders_cannot_print():
    status, body = call(make_block("staff_1", "staff"), "booklet_print", {"copies": 2})
    assert status == 403 and body["error"] == "forbidden"


def send_subject(block, data, name="Bac blanc.pdf"):
    """POST the blank exam's bytes to ``booklet_subject`` as the print screen does."""
    import json
    from urllib.parse import quote

    from webob import Request

    request = Request.blank(f"/handler/booklet_subject/?name={quote(name)}")
    request.method = "POST"
    request.body = data
    request.content_type = "application/pdf"
    response = block.handle("booklet_subject", request, "")
    return response.status_code, json.loads(response.body or b"null")


def test_booklets_printed_on_the_uploaded_blank_exam(monkeypatch, django_capture_on_commit_callbacks):
    """The blank exam uploaded once, then a print run on it: every booklet holds its pages (their text), each
    page stamped with its own code, then the extra pages; a later upload does not change that run."""
    monkeypatch.setattr(queue, "send", lambda name, *args, **kwargs: None)
    block = make_block()
    _status, before = call(block, "booklet_status", method="GET")
    assert before["subject"] is None
    status, refused = call(block, "booklet_print", {"copies": 2, "subject": True})
    assert status == 400 and refused["error"] == "invalid_request" and "blank exam" in refused["message"]
    assert not Booklet.objects.exists()  # refused before any number is reserved

    subject = builders.subject(3)
    status, shown = send_subject(block, subject, "Bac blanc.pdf")
    assert status == 200, shown
    assert (shown["name"], shown["pages"], shown["size"], shown["uploaded_by"]) == \
        ("Bac blanc.pdf", 3, len(subject), "instructor_1")
    event = AuditEvent.objects.get(action="booklets.subject_uploaded")
    assert event.details["pages"] == 3 and event.details["name"] == "Bac blanc.pdf"
    _status, listing = call(block, "booklet_status", method="GET")
    assert listing["subject"]["name"] == "Bac blanc.pdf" and listing["subject"]["pages"] == 3

    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(block, "booklet_print", {"copies": 2, "subject": True, "pages": 9, "extra_pages": 1})
    assert status == 200 and (body["pages"], body["extra_pages"], body["subject"]) == (3, 1, "Bac blanc.pdf")
    job = ExportJob.objects.get(kind="booklets")
    assert AuditEvent.objects.get(action="booklets.printed").details["subject"] is True
    # another blank exam uploaded before the task runs: the run prints the one it was asked for
    assert send_subject(block, builders.subject(1), "other.pdf")[0] == 200
    name = booklet_jobs.build(job.pk)
    doc = pymupdf.open(stream=storage.get_storage().open(name).read(), filetype="pdf")
    assert doc.page_count == 2 * (3 + 1)
    exam_ref = batches.exam_ref(job.exam)
    for booklet, number in enumerate(job.details["numbers"]):
        for position in range(1, 5):
            text = doc[booklet * 4 + position - 1].get_text()
            assert qr.short(exam_ref, number, position) in text
            assert (f"Subject page {position}:" in text) == (position <= 3), (booklet, position)
    storage.get_storage().delete(name)


def test_a_blank_exam_that_is_not_a_usable_pdf_is_refused_and_changes_nothing():
    block = make_block()
    status, body = send_subject(block, b"%PDF-1.4 this is not a PDF")
    assert status in (400, 422) and body["error"] == "pdf_unreadable" and body["message"]
    status, body = send_subject(block, b"")
    assert status == 400 and body["error"] == "file_empty"
    status, body = send_subject(block, builders.subject(201))
    assert status == 400 and body["error"] == "invalid_request" and "200" in body["message"]
    with override_settings(VIATIQUE={"MAX_SUBJECT_BYTES": 100}):
        status, body = send_subject(block, builders.subject(1))
    assert status == 413 and body["error"] == "request_too_large" and body["limit"] == 100
    assert block.get_exam().subject == {} and not AuditEvent.objects.filter(action="booklets.subject_uploaded")
    status, body = send_subject(make_block("staff_1", "staff"), builders.subject(1))
    assert status == 403 and body["error"] == "forbidden"
