"""Painting over a page's name area in a PDF: what was under it is gone from the file, the rest stays."""
import pymupdf

from viatique_xblock.pdf.redact import redact_area

from . import builders

BAND = (0.0, 0.0, 1.0, 0.12)


def cover_pdf(rotate=0):
    """A scanner-style cover (a black image) with a name written as text in its top band and an
    answer lower down, shown upright after ``rotate``."""
    black = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 200, 283), False)
    black.clear_with(0)
    doc = pymupdf.open(stream=builders.image_pdf([black.tobytes("png")]), filetype="pdf")
    page = doc[0]
    page.set_rotation(rotate)
    shown = page.rect
    for text, y in (("Chloe Dubois", 0.05), ("Answer one", 0.6)):
        point = pymupdf.Point(shown.x0 + 0.1 * shown.width, shown.y0 + y * shown.height) * page.derotation_matrix
        page.insert_text(point, text, fontsize=14, color=(1, 1, 1), rotate=rotate)
    return doc.tobytes()


def shown_pixel(doc, x, y):
    pix = doc[0].get_pixmap(dpi=36, colorspace=pymupdf.csGRAY)
    return pix.pixel(int(x * pix.width), int(y * pix.height))[0]


def test_the_name_band_is_painted_over_and_removed_from_the_file():
    for rotate in (0, 90, 180):
        masked = redact_area(cover_pdf(rotate), 0, BAND)
        with pymupdf.open(stream=masked, filetype="pdf") as doc:
            text = doc[0].get_text()
            assert "Chloe" not in text and "Answer one" in text, rotate
            assert 110 <= shown_pixel(doc, 0.5, 0.06) <= 145, rotate  # grey where the name was
            assert shown_pixel(doc, 0.5, 0.5) < 20, rotate  # the scan below is untouched


def test_the_scan_pixels_under_the_band_are_blanked_not_only_covered():
    with pymupdf.open(stream=redact_area(cover_pdf(), 0, BAND), filetype="pdf") as doc:
        [image] = doc[0].get_images(full=True)
        scan = pymupdf.Pixmap(doc, image[0])
    assert scan.pixel(scan.width // 2, 2)[0] > 0  # was black
    assert scan.pixel(scan.width // 2, scan.height // 2)[0] == 0


def test_a_pdf_without_that_page_comes_back_unchanged():
    data = cover_pdf()
    assert redact_area(data, 3, BAND) == data
