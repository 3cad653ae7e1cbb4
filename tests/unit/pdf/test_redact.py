"""Painting over a page's name area in a PDF: what was under it is gone from the file, the rest stays."""
import pymupdf

from viatique_xblock.pdf.redact import redact_area, redact_file

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


def test_a_turn_takes_the_area_on_the_upright_page():
    """A scan page fed upside down (stored as scanned, recorded as needing a 180 turn): its name is at the
    bottom of the stored page, and that is where the area goes."""
    for stored_rotation, turn in ((0, 180), (90, 270), (0, 90)):
        # the cover as shown after stored_rotation + turn is upright with the name on top
        data = cover_pdf((stored_rotation + turn) % 360)
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            doc[0].set_rotation(stored_rotation)
            data = doc.tobytes()
        masked = redact_area(data, 0, BAND, turn=turn)
        with pymupdf.open(stream=masked, filetype="pdf") as doc:
            assert doc[0].rotation == stored_rotation  # the page keeps its own rotation
            assert "Chloe" not in doc[0].get_text() and "Answer one" in doc[0].get_text()
            doc[0].set_rotation((stored_rotation + turn) % 360)
            assert 110 <= shown_pixel(doc, 0.5, 0.06) <= 145, (stored_rotation, turn)
            assert shown_pixel(doc, 0.5, 0.5) < 20


def test_redact_file_writes_a_new_file_without_the_old_pixels(tmp_path):
    source = tmp_path / "scan.pdf"
    source.write_bytes(cover_pdf())
    with pymupdf.open(source) as doc:
        [image] = doc[0].get_images(full=True)
        before = doc.xref_stream_raw(image[0])
    target = tmp_path / "redacted.pdf"
    assert redact_file(str(source), str(target), 0, BAND)
    written = target.read_bytes()
    assert before not in written  # the image as it was is not left in the file
    with pymupdf.open(target) as doc:
        assert "Chloe" not in doc[0].get_text()
        assert 110 <= shown_pixel(doc, 0.5, 0.06) <= 145
    assert not redact_file(str(source), str(tmp_path / "none.pdf"), 5, BAND)
    assert not (tmp_path / "none.pdf").exists()
