"""Printing booklets: random numbers that never repeat, prenamed identities remembered, bad subjects refused."""
import pymupdf
import pytest

from tests.harness import call, make_block
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.models import AuditEvent, Booklet, Copy
from viatique_xblock.pdf import qr
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import batches, booklets

pytestmark = pytest.mark.django_db


def codes_of(pdf):
    """The page codes printed on the booklets (their human-readable text), page by page."""
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    return [page.get_text() for page in doc]


def test_anonymous_print_runs_take_random_numbers_that_never_repeat():
    exam = make_block().get_exam()
    pdf, first = booklets.print_booklets(exam, copies=3, blank_pages=2)
    assert len(first) == 3 and pymupdf.open(stream=pdf, filetype="pdf").page_count == 6
    assert all(booklets.LOWEST <= number <= booklets.HIGHEST for number in first)
    text = codes_of(pdf)
    assert qr.short(batches.exam_ref(exam), first[2], 2) in text[5]
    _pdf, second = booklets.print_booklets(exam, copies=2, blank_pages=2)
    assert not set(first) & set(second)
    assert sorted(Booklet.objects.filter(exam=exam).values_list("number", flat=True)) == sorted(first + second)
    assert AuditEvent.objects.filter(exam=exam, action="booklets.printed").count() == 2


def test_numbers_are_random_not_consecutive_nor_in_print_order():
    exam = make_block().get_exam()
    _pdf, numbers = booklets.print_booklets(exam, copies=60, blank_pages=1)
    assert len(set(numbers)) == 60
    assert numbers != sorted(numbers) and numbers != sorted(numbers, reverse=True)
    steps = {later - earlier for earlier, later in zip(numbers, numbers[1:])}
    assert len(steps) > 30, "not a sequence with a fixed step"
    # another exam draws its own numbers: they do not follow this one's either
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@other").get_exam()
    assert booklets.print_booklets(other, copies=60, blank_pages=1)[1] != numbers


def test_numbers_avoid_those_of_copies_that_already_exist(monkeypatch):
    exam = make_block().get_exam()
    Copy.objects.create(exam=exam, anonymous_code="AAAAA", booklet_number=40000)
    drawn = iter([40000, 40000, 51234])
    monkeypatch.setattr(booklets._random, "randint", lambda low, high: next(drawn))
    _pdf, numbers = booklets.print_booklets(exam, copies=1, blank_pages=1)
    assert numbers == [51234]


def test_when_few_numbers_are_left_they_are_drawn_from_the_free_ones_and_then_refused(monkeypatch):
    exam = make_block().get_exam()
    monkeypatch.setattr(booklets, "HIGHEST", booklets.LOWEST + 5)
    _pdf, numbers = booklets.print_booklets(exam, copies=4, blank_pages=1)
    assert len(set(numbers)) == 4 and set(numbers) <= set(range(booklets.LOWEST, booklets.LOWEST + 6))
    with pytest.raises(ViatiqueError) as caught:
        booklets.print_booklets(exam, copies=3, blank_pages=1)
    assert caught.value.code == "invalid_request"
    assert Booklet.objects.filter(exam=exam).count() == 4


def test_prenamed_booklets_remember_their_learner_and_print_the_name():
    exam = make_block().get_exam()
    learners = [Learner("learner_1", "Chloé Dubois", "anon-1"), Learner("learner_2", "Léo Martin", "anon-2")]
    pdf, numbers = booklets.print_booklets(exam, blank_pages=2, learners=learners)
    assert "Chloé Dubois" in codes_of(pdf)[0] and "Léo Martin" in codes_of(pdf)[2]
    assert str(numbers[1]) in codes_of(pdf)[2]
    assert booklets.prenamed_identity(exam, numbers[1]).learner_username == "learner_2"
    assert booklets.prenamed_identity(exam, 99) is None


def test_an_encrypted_subject_and_bad_counts_are_refused():
    exam = make_block().get_exam()
    doc = pymupdf.open()
    doc.new_page()
    locked = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")
    with pytest.raises(ViatiqueError) as caught:
        booklets.print_booklets(exam, copies=2, subject=locked)
    assert caught.value.code == "pdf_encrypted"
    with pytest.raises(ViatiqueError) as caught:
        booklets.print_booklets(exam, copies=0)
    assert caught.value.code == "invalid_request"
    with pytest.raises(ViatiqueError):
        booklets.print_booklets(exam, learners=[])
    assert not Booklet.objects.exists()


def test_print_handler_is_for_instructors_and_returns_a_pdf_download():
    from webob import Request
    block = make_block()
    request = Request.blank("/?copies=2&blank_pages=1", method="POST", body=b"")
    response = block.handle("print_booklets", request)
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="booklets-2.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"
    assert pymupdf.open(stream=response.body, filetype="pdf").page_count == 2
    status, body = call(make_block("staff_1", "staff"), "print_booklets")
    assert status == 403 and body["error"] == "forbidden"
