"""Booklets "filled in" by synthetic pupils: ink below the band, the band untouched, codes still read."""
import pymupdf
import pytest

from viatique_xblock.pdf import booklets, synthetic
from viatique_xblock.pdf.decode import read_page_code

PAGES = 4
NAMES = ["Chloé Dubois", None, "Gabriel Bonnet"]  # the 2nd booklet's cover is left without a name


@pytest.fixture(scope="module")
def printed():
    return booklets.make_booklets(blank_pages=PAGES, copies=len(NAMES), exam_ref="V1")


@pytest.fixture(scope="module")
def filled(printed):
    names = {index * PAGES: name for index, name in enumerate(NAMES) if name}
    return synthetic.fill_in(printed, seed=7, names=names, pages_per_booklet=PAGES)


def grey(pdf, index, clip, dpi=72):
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return doc[index].get_pixmap(dpi=dpi, clip=clip, colorspace=pymupdf.csGRAY, alpha=False).samples


def test_same_seed_same_writing_other_seed_other_writing(printed, filled):
    names = {index * PAGES: name for index, name in enumerate(NAMES) if name}
    again = synthetic.fill_in(printed, seed=7, names=names, pages_per_booklet=PAGES)
    other = synthetic.fill_in(printed, seed=8, names=names, pages_per_booklet=PAGES)
    assert all(grey(again, index, None) == grey(filled, index, None) for index in range(len(NAMES) * PAGES))
    assert grey(other, 1, None) != grey(filled, 1, None)


def test_every_page_has_writing_below_the_band(printed, filled):
    with pymupdf.open(stream=filled, filetype="pdf") as doc:
        assert doc.page_count == len(NAMES) * PAGES
        size = (doc[0].rect.width, doc[0].rect.height)
        for page in doc:
            words = page.get_text()
            assert f"Exercice {page.number % PAGES + 1}" in words, words[:80]
    below = pymupdf.Rect(0, booklets.BAND, *size)
    for index in range(len(NAMES) * PAGES):
        ink = sum(value < 128 for value in grey(filled, index, below))
        assert ink > 500, (index, ink)  # a few lines at least, on a blank printed page
        assert sum(value < 128 for value in grey(printed, index, below)) == 0


def test_the_band_keeps_its_code_and_printed_text_and_only_the_cover_gets_a_name(printed, filled):
    width, height = booklets.A4
    box = booklets.layout(width, height)
    band = pymupdf.Rect(0, 0, width, booklets.BAND)
    stamp = pymupdf.Rect(box.name_right, 0, width, booklets.BAND)  # short code and QR code
    for index in range(len(NAMES) * PAGES):
        cover_name = NAMES[index // PAGES] if index % PAGES == 0 else None
        assert grey(filled, index, stamp, dpi=150) == grey(printed, index, stamp, dpi=150), index
        assert (grey(filled, index, band) == grey(printed, index, band)) is (cover_name is None), index
    with pymupdf.open(stream=filled, filetype="pdf") as doc:
        assert "Gabriel Bonnet" in doc[2 * PAGES].get_text(clip=pymupdf.Rect(box.name_left - 2, 0, box.name_right, booklets.BAND))


def test_scanned_filled_pages_still_give_their_codes(filled):
    scan = synthetic.scan(filled, skew=1.5, upside_down=(0,), seed=3)
    with pymupdf.open(stream=scan, filetype="pdf") as doc:
        codes = [read_page_code(doc, index) for index in range(doc.page_count)]
    assert all(code is not None for code in codes)
    assert [code.rotation for code in codes][:2] == [180, 0]
