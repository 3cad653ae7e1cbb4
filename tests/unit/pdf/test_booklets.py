"""Printable booklets: the subject once per copy, every page with its vector QR code and short code."""
import pymupdf
import pytest

from viatique_xblock.pdf import booklets, qr
from viatique_xblock.pdf.booklets import layout, make_booklets
from viatique_xblock.pdf.decode import read_page_code
from viatique_xblock.pdf.errors import PdfEncrypted

from . import builders


def open_pdf(data):
    return pymupdf.open(stream=data, filetype="pdf")


def test_anonymous_booklets_repeat_the_subject_with_one_code_per_page():
    doc = open_pdf(make_booklets(builders.subject(3), copies=4, exam_ref="MATH1"))
    assert doc.page_count == 12
    for index, page in enumerate(doc):
        copy, number = index // 3 + 1, index % 3 + 1
        code = read_page_code(doc, index)
        assert code.payload == qr.QrPayload("MATH1", copy, number)
        assert code.rotation == 0
        text = page.get_text()
        assert f"Subject page {number}: answer every question" in text
        assert qr.short("MATH1", copy, number) in text
        assert doc.get_page_images(index) == []  # the code is vector, not a picture


def test_the_stamp_never_covers_the_subject():
    doc = open_pdf(make_booklets(builders.subject(1), copies=1, exam_ref="MATH1"))
    page = doc[0]
    box = layout(page.rect.width, page.rect.height)
    frame = [d["rect"] for d in page.get_drawings() if d["rect"].width > 500]
    assert frame and all(rect.y0 >= booklets.BAND - 1 for rect in frame)  # the subject's frame moved down
    assert box.content.y0 == booklets.BAND
    assert box.qr.y1 < box.content.y0
    assert box.content.width / page.rect.width == pytest.approx(box.content.height / page.rect.height)
    words = [w for w in page.get_text("words") if w[4] == "Subject"]
    assert words and all(w[1] >= booklets.BAND for w in words)


def test_subject_pages_are_embedded_once_whatever_the_number_of_copies():
    few = make_booklets(builders.subject(2), copies=2, exam_ref="MATH1")
    many = make_booklets(builders.subject(2), copies=40, exam_ref="MATH1")
    doc = open_pdf(many)
    forms = [x for x in range(1, doc.xref_length()) if doc.xref_get_key(x, "Subtype")[1] == "/Form"]
    assert len(forms) <= 4
    per_extra_page = (len(many) - len(few)) / (2 * 40 - 2 * 2)
    assert per_extra_page < 1500  # a page costs its stamp, not a copy of the subject


def test_blank_pages_mode():
    doc = open_pdf(make_booklets(blank_pages=4, copies=2, exam_ref="HIST", page_size=(612, 792)))
    assert doc.page_count == 8
    assert {(p.rect.width, p.rect.height) for p in doc} == {(612, 792)}
    assert read_page_code(doc, 7).payload == qr.QrPayload("HIST", 2, 4)


def test_first_copy_number():
    doc = open_pdf(make_booklets(blank_pages=1, copies=2, exam_ref="MATH1", first_copy=41))
    assert [read_page_code(doc, i).payload.copy for i in range(2)] == [41, 42]


def test_numbers_given_in_any_order_are_printed_in_that_order_and_read_back():
    numbers = [73519, 10000, 99999, 4]  # random five-digit numbers, and one of an earlier, numbered, print run
    doc = open_pdf(make_booklets(blank_pages=2, exam_ref="V1Z", numbers=numbers))
    assert doc.page_count == 8
    for index in range(8):
        number, page = numbers[index // 2], index % 2 + 1
        assert read_page_code(doc, index).payload == qr.QrPayload("V1Z", number, page)
        assert qr.short("V1Z", number, page) in doc[index].get_text()


def test_prenamed_booklets_print_each_name_on_its_cover_only():
    names = ["Zoë Lefèvre", "Jean (dit \"Jo\") O'Brien \\ 2", "李小龙", "Nguyễn Văn An", "W" * 120]
    doc = open_pdf(make_booklets(builders.subject(2), exam_ref="MATH1", names=names))
    assert doc.page_count == 10
    for number, name in enumerate(names):
        cover, inner = doc[2 * number].get_text(), doc[2 * number + 1].get_text()
        shown = name if len(name) < 100 else "W" * 20
        assert shown in cover
        assert name[:3] not in inner
        assert read_page_code(doc, 2 * number).payload.copy == number + 1


def test_rotated_and_landscape_subject_pages_keep_their_shape():
    subject = builders.subject(2, size=(842, 595))
    source = open_pdf(subject)
    source[1].set_rotation(90)
    doc = open_pdf(make_booklets(source.tobytes(), copies=1, exam_ref="MATH1"))
    assert (doc[0].rect.width, doc[0].rect.height) == (842, 595)
    assert (doc[1].rect.width, doc[1].rect.height) == (595, 842)
    assert [read_page_code(doc, i).payload.page for i in range(2)] == [1, 2]


def test_name_area_is_normalised():
    area = layout(595, 842).name_area
    assert 0 <= area[0] < area[2] <= 1 and area[1] == 0 and 0 < area[3] < 0.1


@pytest.mark.parametrize("kwargs", [
    dict(copies=0, blank_pages=1),
    dict(copies=1),
    dict(copies=2, blank_pages=1, names=["A"]),
    dict(copies=1, blank_pages=1, exam_ref="bad ref"),
    dict(copies=2, blank_pages=1, first_copy=99999),
    dict(blank_pages=1, numbers=[12345, 12345]),
    dict(blank_pages=1, numbers=[0]),
    dict(blank_pages=1, numbers=[100000]),
    dict(blank_pages=1, numbers=[True]),
    dict(copies=3, blank_pages=1, numbers=[12345, 23456]),
    dict(blank_pages=1, names=["A"], numbers=[12345, 23456]),
])
def test_bad_arguments(kwargs):
    kwargs.setdefault("exam_ref", "MATH1")
    with pytest.raises(ValueError):
        make_booklets(**kwargs)


def test_encrypted_subject_is_refused():
    doc = open_pdf(builders.subject(1))
    locked = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")
    with pytest.raises(PdfEncrypted):
        make_booklets(locked, copies=1, exam_ref="MATH1")


def test_pdf_package_needs_no_django_models_or_settings():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from viatique_xblock.pdf import booklets, decode, images, synthetic, validate\n"
        "loaded = [m for m in sys.modules if m.startswith(('django.db', 'django.conf', 'viatique_xblock.platform.conf',"
        " 'viatique_xblock.models', 'viatique_xblock.platform.storage'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": "."}, cwd=_repo())


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[3]
