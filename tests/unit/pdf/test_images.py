"""Page images for the browser: the scanner's JPEG passed through untouched, or a bounded rendering."""
import pymupdf
import pytest

from viatique_xblock.pdf.images import PageImage, page_image, passthrough_jpeg, thumbnail

from . import builders

MAX = 60_000_000


def scan_doc(*images):
    return pymupdf.open(stream=builders.image_pdf(list(images)), filetype="pdf")


def about(size, expected):
    """Sizes equal but for MuPDF's rounding of the pixel box outwards."""
    return all(abs(got - want) <= 1 for got, want in zip(size, expected))


def decoded(image):
    pix = pymupdf.Pixmap(image.data)
    assert (pix.width, pix.height) == (image.width, image.height)
    return pix


def test_scanner_jpeg_goes_through_byte_for_byte():
    original = builders.jpeg(width=620, height=877)
    doc = scan_doc(original)
    image = page_image(doc, 0, dpi=150, max_pixels=MAX)
    assert isinstance(image, PageImage)
    assert image.data == original
    assert image == passthrough_jpeg(doc, 0, MAX)
    assert (image.mime, image.width, image.height) == ("image/jpeg", 620, 877)


def test_baseline_colour_scan_goes_through():
    pix = pymupdf.open(stream=builders.subject(1), filetype="pdf")[0].get_pixmap(dpi=100)
    original = builders.baseline_jpeg(pix)
    assert page_image(scan_doc(original), 0).data == original


def test_vector_page_is_rendered_at_the_dpi():
    doc = pymupdf.open(stream=builders.subject(1), filetype="pdf")
    image = page_image(doc, 0, dpi=100, max_pixels=MAX)
    assert image.mime == "image/jpeg"
    assert about((image.width, image.height), (595 * 100 / 72, 842 * 100 / 72))
    assert decoded(image).n == 3


def test_rendering_is_kept_within_the_pixel_budget():
    doc = pymupdf.open(stream=builders.subject(1), filetype="pdf")
    image = page_image(doc, 0, dpi=300, max_pixels=1_000_000)
    assert image.width * image.height <= 1_000_000
    assert image.width > 700


def test_scan_larger_than_the_budget_is_rendered_smaller():
    doc = scan_doc(builders.jpeg(width=1240, height=1754))
    image = page_image(doc, 0, dpi=150, max_pixels=500_000)
    assert image.width * image.height <= 500_000
    assert passthrough_jpeg(doc, 0, 500_000) is None


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_turning_a_scan_renders_it(rotate):
    original = builders.jpeg(width=400, height=566)
    doc = scan_doc(original)
    image = page_image(doc, 0, dpi=72, max_pixels=MAX, rotate=rotate)
    assert image.data != original
    expected = (842, 595) if rotate in (90, 270) else (595, 842)
    assert (image.width, image.height) == expected
    assert decoded(image).n == 1  # a grey scan stays grey


def test_upside_down_rendering_really_turns_the_page():
    doc = pymupdf.open(stream=builders.subject(1), filetype="pdf")
    upright = decoded(page_image(doc, 0, dpi=50))
    turned = decoded(page_image(doc, 0, dpi=50, rotate=180))
    top_ink = lambda pix: sum(255 - v for v in pix.samples[: pix.stride * pix.height // 10])  # noqa: E731
    assert top_ink(upright) > top_ink(turned) * 1.5


def test_page_with_rotate_key_is_rendered_upright_as_displayed():
    doc = scan_doc(builders.jpeg(width=400, height=566))
    doc[0].set_rotation(90)
    image = page_image(doc, 0, dpi=72)
    assert (image.width, image.height) == (842, 595)


def test_exif_orientation_prevents_pass_through():
    original = builders.exif_orientation(builders.jpeg(width=400, height=566), 6)
    doc = scan_doc(original)
    assert passthrough_jpeg(doc, 0, MAX) is None
    assert page_image(doc, 0, dpi=72).data != original


def test_cmyk_scan_is_rendered():
    doc = scan_doc(builders.jpeg(colorspace=pymupdf.csCMYK))
    assert passthrough_jpeg(doc, 0, MAX) is None
    assert decoded(page_image(doc, 0, dpi=72)).n == 3


def test_thumbnail_has_the_width_asked():
    doc = scan_doc(builders.jpeg(width=1240, height=1754))
    small = thumbnail(doc, 0, width=180)
    assert about((small.width, small.height), (180, 180 * 842 / 595))
    turned = thumbnail(doc, 0, width=180, rotate=90)
    assert about((turned.width, turned.height), (180, 180 * 595 / 842))
    assert len(small.data) < 20_000
