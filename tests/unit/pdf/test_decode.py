"""Reading the code of scanned booklet pages: payload and which way up, whatever the scanner did."""
import io
import math

import pymupdf
import pytest

from viatique_xblock.pdf import qr, synthetic
from viatique_xblock.pdf.booklets import make_booklets
from viatique_xblock.pdf import decode
from viatique_xblock.pdf.decode import PageCode, first_look, read_page_code

from . import builders

COPIES, PAGES = 3, 3
UPSIDE_DOWN = {1, 5}
QUARTER = {7}


@pytest.fixture(scope="module")
def booklet():
    return make_booklets(builders.subject(PAGES, foreign_qr=True), copies=COPIES, exam_ref="MATH1")


@pytest.fixture(scope="module", params=[(150, False), (200, True)], ids=["150dpi-grey", "200dpi-colour"])
def scanned(request, booklet):
    dpi, color = request.param
    data = synthetic.scan(booklet, dpi=dpi, color=color, skew=2.0, upside_down=UPSIDE_DOWN,
                          quarter_turned=QUARTER, seed=dpi)
    return pymupdf.open(stream=data, filetype="pdf")


def expected(index):
    return qr.QrPayload("MATH1", index // PAGES + 1, index % PAGES + 1)


def test_every_scanned_page_gives_its_code_and_its_rotation(scanned):
    assert scanned.page_count == COPIES * PAGES
    for index in range(scanned.page_count):
        code = read_page_code(scanned, index)
        assert isinstance(code, PageCode), index
        assert code.payload == expected(index)
        assert code.error is None
        assert code.rotation == (180 if index in UPSIDE_DOWN else 90 if index in QUARTER else 0)
        x, y = code.position
        assert x > 0.8 and y < 0.1, (index, code.position)  # top right once upright


def test_turning_the_page_by_the_rotation_makes_it_upright(scanned):
    for index in sorted(UPSIDE_DOWN | QUARTER):
        page = scanned[index]
        page.set_rotation((page.rotation + read_page_code(scanned, index).rotation) % 360)
        code = read_page_code(scanned, index)
        assert code.rotation == 0 and code.payload == expected(index)
        page.set_rotation(0)


@pytest.mark.parametrize("page_rotate", [90, 180, 270])
def test_pages_turned_by_their_rotate_key(scanned, page_rotate):
    page = scanned[0]  # scanned upright; the scanner then flags the page /Rotate
    page.set_rotation(page_rotate)
    try:
        code = read_page_code(scanned, 0)
        assert code.payload == expected(0)
        assert (page_rotate + code.rotation) % 360 == 0
    finally:
        page.set_rotation(0)


def test_progressive_jpeg_scans_are_read_whole(booklet):
    source = pymupdf.open(stream=booklet, filetype="pdf")
    pixmaps = [source[i].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY) for i in range(2)]
    pixmaps[1] = pymupdf.Pixmap(pixmaps[1], 0) if pixmaps[1].alpha else pixmaps[1]
    doc = pymupdf.open(stream=builders.image_pdf([p.tobytes("jpg", jpg_quality=70) for p in pixmaps]), filetype="pdf")
    assert [read_page_code(doc, i).payload for i in range(2)] == [expected(0), expected(1)]


def test_one_bit_scan(booklet):
    pix = pymupdf.open(stream=booklet, filetype="pdf")[4].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    doc = pymupdf.open(stream=builders.one_bit_page_pdf(pix), filetype="pdf")
    assert read_page_code(doc, 0).payload == expected(4)


def test_ccitt_group4_scan(booklet):
    pix = pymupdf.open(stream=booklet, filetype="pdf")[2].get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    data = builders.ccitt_pdf(pix.width, pix.height, builders.pillow_g4(pix))
    doc = pymupdf.open(stream=data, filetype="pdf")
    assert read_page_code(doc, 0).payload == expected(2)


def test_jpeg2000_scan(booklet):
    from PIL import Image as image_module  # Pillow is a dependency of the package
    pix = pymupdf.open(stream=booklet, filetype="pdf")[3].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    out = io.BytesIO()
    image_module.frombytes("L", (pix.width, pix.height), pix.samples).save(out, "JPEG2000", quality_layers=[20])
    doc = pymupdf.open(stream=builders.image_pdf([out.getvalue()]), filetype="pdf")
    assert read_page_code(doc, 0).payload == expected(3)


def test_cmyk_jpeg_scan(booklet):
    pix = pymupdf.open(stream=booklet, filetype="pdf")[6].get_pixmap(dpi=150, colorspace=pymupdf.csCMYK)
    doc = pymupdf.open(stream=builders.image_pdf([builders.baseline_jpeg(pix, quality=80)]), filetype="pdf")
    shown = doc[0].get_pixmap(dpi=20, colorspace=pymupdf.csGRAY).samples
    assert sum(shown) / len(shown) > 200  # the file shows a white page, as a CMYK scan would
    assert read_page_code(doc, 0).payload == expected(6)


def test_vector_booklet_page(booklet):
    doc = pymupdf.open(stream=booklet, filetype="pdf")
    assert read_page_code(doc, 8).payload == expected(8)


def test_page_without_code_or_with_another_systems_code():
    doc = pymupdf.open(stream=builders.subject(1, foreign_qr=True), filetype="pdf")
    assert read_page_code(doc, 0) is None
    blank = pymupdf.open(stream=builders.image_pdf([builders.jpeg()]), filetype="pdf")
    assert read_page_code(blank, 0) is None


def test_misprinted_check_is_reported_not_guessed(monkeypatch):
    from viatique_xblock.pdf import booklets

    good = qr.encode("MATH1", 2, 1)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    monkeypatch.setattr(booklets.qr, "encode", lambda *args: bad)
    doc = pymupdf.open(stream=make_booklets(blank_pages=1, copies=1, exam_ref="MATH1", first_copy=2),
                       filetype="pdf")
    code = read_page_code(doc, 0)
    assert code.payload is None and code.text == bad and code.error == "qr_checksum_mismatch"


def test_synthetic_scan_can_drop_and_repeat_pages(booklet):
    data = synthetic.scan(booklet, dpi=100, order=[0, 2, 2], seed=3)
    doc = pymupdf.open(stream=data, filetype="pdf")
    assert [read_page_code(doc, i).payload for i in range(3)] == [expected(0), expected(2), expected(2)]


def count_calls(monkeypatch, module, name):
    """Count the calls of ``module.name`` (still called through)."""
    calls = []
    function = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)
    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_first_look_finds_every_upright_page_and_the_rest_is_found_after_it(scanned):
    """No false negative: what the first look misses (pages fed upside down or sideways), the full
    search after it finds, with the same code and rotation as a search from scratch."""
    missed = set()
    for index in range(scanned.page_count):
        look = first_look(scanned, index)
        assert not look.complete, "a baseline scanner JPEG: only its top strip was searched"
        if look.code is None:
            missed.add(index)
            code = read_page_code(scanned, index, after_first_look=True)
        else:
            code = look.code
        alone = read_page_code(scanned, index)
        assert (code.payload, code.rotation, code.error) == (alone.payload, alone.rotation, None), index
        assert code.position == pytest.approx(alone.position, abs=0.002)
        assert code.payload == expected(index)
    # the page turned a quarter (landscape) shows its code lower, at the edge of the first look's rows
    assert UPSIDE_DOWN <= missed <= UPSIDE_DOWN | QUARTER


@pytest.mark.parametrize("skew", [0.0, 1.5, 3.0])
def test_skewed_booklet_pages_at_200_dpi_are_found_by_the_first_look_or_after_it(booklet, skew):
    doc = pymupdf.open(stream=synthetic.scan(booklet, dpi=200, skew=skew, seed=11), filetype="pdf")
    looks = [first_look(doc, index) for index in range(doc.page_count)]
    found = [look.code or read_page_code(doc, index, after_first_look=True) for index, look in enumerate(looks)]
    assert [code.payload for code in found] == [expected(index) for index in range(doc.page_count)]
    if skew <= 1.5:  # the scanner's usual skew: the first look alone is enough
        assert all(look.code for look in looks)


def test_a_page_without_code_costs_one_look_at_its_top_strip(monkeypatch):
    """A scanner page of the school's own paper at 200 dpi: one quick zxing pass over its top rows,
    decoded alone; the whole image is never decoded (the expensive passes all skipped)."""
    doc = pymupdf.open(stream=synthetic.scan(synthetic.own_paper(2), dpi=200, seed=5), filetype="pdf")
    passes = count_calls(monkeypatch, decode, "_barcodes")
    decoded = count_calls(monkeypatch, decode, "_pil_gray")
    for index in range(doc.page_count):
        look = first_look(doc, index)
        assert look.code is None and not look.complete
    assert len(passes) == 2 and all(quick for _pix, quick in passes)
    height = decode.scanner_image(doc, 0).height
    assert [jpeg_rows(data) for data, _halve in decoded] == [math.ceil(height * decode.FIRST_LOOK_STRIP)] * 2
    passes.clear()
    assert read_page_code(doc, 0, after_first_look=True) is None
    assert len(passes) == 3, "the whole image's quick and thorough passes, then the coarse one"


def jpeg_rows(data):
    from viatique_xblock.pdf import jpeg
    return jpeg.info(data).height


def test_pages_that_are_not_baseline_jpegs_are_searched_whole_at_the_first_look(booklet):
    doc = pymupdf.open(stream=builders.subject(1, foreign_qr=True), filetype="pdf")
    look = first_look(doc, 0)
    assert look == decode.Look(None, True)
    vector = pymupdf.open(stream=booklet, filetype="pdf")
    assert first_look(vector, 8) == decode.Look(read_page_code(vector, 8), True)
