"""Recognising scanner pages and reading JPEG headers without decoding them."""
import pymupdf
import pytest

from viatique_xblock.pdf import jpeg, pages
from viatique_xblock.pdf.pages import _placement, scanner_image

from . import builders
from .builders import page_source, raw_pdf


def grey_pixmap(width=300, height=420):
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.insert_text((20, 30), "top of the page", fontsize=14)
    page.draw_rect(pymupdf.Rect(10, 300, 290, 410), fill=(0, 0, 0))
    return page.get_pixmap(colorspace=pymupdf.csGRAY, alpha=False)


def test_info_of_progressive_and_baseline_jpegs():
    progressive = jpeg.info(builders.jpeg(width=300, height=420))
    assert (progressive.width, progressive.height, progressive.components) == (300, 420, 1)
    assert progressive.process == "progressive" and progressive.orientation == 1
    baseline = jpeg.info(builders.baseline_jpeg(grey_pixmap()))
    assert baseline.process == "baseline" and (baseline.width, baseline.height) == (300, 420)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8", b"GIF89a", b"\xff\xd8\xff\xe0\x00\x01", b"\xff\xd8" + b"\x00" * 50])
def test_info_of_non_jpegs(data):
    assert jpeg.info(data) is None
    assert jpeg.top_rows(data, 10) is None


def test_exif_orientation_is_read():
    data = builders.exif_orientation(builders.jpeg(width=300, height=420), 6)
    assert jpeg.info(data).orientation == 6
    assert jpeg.info(builders.exif_orientation(builders.jpeg(), 1)).orientation == 1


def test_top_rows_of_a_baseline_jpeg_decode_to_the_top_of_the_picture():
    full = builders.baseline_jpeg(grey_pixmap(), quality=95)
    top = jpeg.top_rows(full, 100)
    pix = pymupdf.Pixmap(top)
    assert (pix.width, pix.height) == (300, 100)
    whole = pymupdf.Pixmap(full)
    assert abs(sum(pix.samples) - sum(whole.samples[:300 * 100])) / (300 * 100) < 2  # same pixels
    assert jpeg.top_rows(full, 420) is None and jpeg.top_rows(full, 0) is None


def test_top_rows_refuses_progressive_jpegs():
    assert jpeg.top_rows(builders.jpeg(), 10) is None


def test_scanner_page_is_recognised():
    doc = pymupdf.open(stream=builders.image_pdf([builders.jpeg(width=400, height=566)]), filetype="pdf")
    image = scanner_image(doc, 0)
    assert image is not None
    assert (image.width, image.height, image.filters, image.bits) == (400, 566, ("DCTDecode",), 8)
    assert image.colorspace == "gray" and image.plain and image.page_rotation == 0
    assert image.dpi == pytest.approx(400 / (595 / 72))


def test_rotated_scanner_page_is_still_one_image():
    doc = pymupdf.open(stream=builders.image_pdf([builders.jpeg()]), filetype="pdf")
    doc[0].set_rotation(90)
    assert scanner_image(doc, 0).page_rotation == 90


def test_page_with_text_over_the_image_is_not_a_scanner_page():
    doc = pymupdf.open(stream=builders.image_pdf([builders.jpeg()]), filetype="pdf")
    doc[0].insert_text((50, 50), "OCR layer")
    assert scanner_image(doc, 0) is None


def test_image_not_covering_the_page_is_not_a_scanner_page():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(0, 0, 300, 400), stream=builders.jpeg())
    assert scanner_image(doc, 0) is None


def test_vector_page_is_not_a_scanner_page():
    doc = pymupdf.open(stream=builders.subject(1), filetype="pdf")
    assert scanner_image(doc, 0) is None


def test_hand_written_scanner_page_with_offset_mediabox():
    image = ("<</Type/XObject/Subtype/Image/Width 2/Height 2/BitsPerComponent 8/ColorSpace/DeviceRGB>>", b"\0" * 12)
    data = raw_pdf([(page_source("<</XObject<</Scan 5 0 R>>>>", "[10 20 605 862]"),
                     b"q\n1 0 0 1 10 20 cm\n595 0 0 842 0 0 cm\n/Scan Do\nQ\n")], [image])
    found = scanner_image(pymupdf.open(stream=data, filetype="pdf"), 0)
    assert found is not None and found.colorspace == "rgb" and found.filters == ()


def test_image_of_inherited_resources_or_with_a_soft_mask():
    doc = pymupdf.open(stream=builders.image_pdf([builders.jpeg(width=400, height=566)]), filetype="pdf")
    page = doc[0]
    own = scanner_image(doc, 0)
    # the resources moved up to the page tree: found the long way, the same image
    kind, resources = doc.xref_get_key(page.xref, "Resources")
    if kind == "xref":
        resources = doc.xref_object(int(resources.split()[0]), compressed=True)
    doc.xref_set_key(int(doc.xref_get_key(page.xref, "Parent")[1].split()[0]), "Resources", resources)
    doc.xref_set_key(page.xref, "Resources", "null")
    assert pages._own_image(doc, page, "fzImg0") is None and doc.get_page_images(0)
    assert scanner_image(doc, 0) == own
    # a soft mask: the page shows more than the image's own pixels
    doc = pymupdf.open(stream=builders.image_pdf([builders.jpeg(width=400, height=566)]), filetype="pdf")
    mask = doc.get_new_xref()
    doc.update_object(mask, "<</Type/XObject/Subtype/Image/Width 1/Height 1/BitsPerComponent 8"
                            "/ColorSpace/DeviceGray>>")
    doc.update_stream(mask, b"\x80")
    doc.xref_set_key(own.xref, "SMask", f"{mask} 0 R")
    masked = scanner_image(doc, 0)
    assert masked is not None and not masked.plain


def test_form_drawn_over_the_page_is_not_a_scanner_page():
    form = ("<</Type/XObject/Subtype/Form/BBox[0 0 1 1]>>", b"0 0 1 1 re f")
    data = raw_pdf([(page_source("<</XObject<</Im0 5 0 R>>>>"), b"q 595 0 0 842 0 0 cm /Im0 Do Q")], [form])
    assert scanner_image(pymupdf.open(stream=data, filetype="pdf"), 0) is None


@pytest.mark.parametrize("content, drawn", [
    (b"q 595 0 0 842 0 0 cm /Im0 Do Q", True),
    (b"/Im0 Do", True),
    (b"q 1 0 0 1 5 5 cm 100 0 0 100 0 0 cm /Im0 Do Q", True),
    (b"q /Im0 Do Q BT /F1 12 Tf (x) Tj ET", False),
    (b"q /Im0 Do /Im1 Do Q", False),
    (b"q 1 0 0 cm /Im0 Do Q", False),
    (b"0 0 10 10 re f", False),
    (b"", False),
])
def test_placement_parser(content, drawn):
    assert (_placement(content) is not None) is drawn
