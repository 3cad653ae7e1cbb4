"""Page images for the browser: the scanner's JPEG passed through untouched, or a bounded rendering."""
import io

import pymupdf
import pytest
from PIL import Image, ImageOps

from viatique_xblock.pdf import jpeg
from viatique_xblock.pdf.images import (PageImage, crop_area, mask_area, page_image, passthrough_jpeg, thumbnail,
                                        thumbnail_from_image)

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


def shown(data):
    """The image as a browser shows it: turned upright by its Exif orientation."""
    with Image.open(io.BytesIO(data)) as image:
        return ImageOps.exif_transpose(image).convert("L")


def marked_jpeg(width=400, height=566):
    """A baseline grey JPEG, white with a black square in its top-left corner."""
    image = Image.new("L", (width, height), 255)
    image.paste(0, (0, 0, width // 5, height // 5))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def dark_corner(image):
    """Which corner of a grey Pillow image is dark: (0 or 1 horizontally, 0 or 1 vertically)."""
    corners = {(x, y): image.getpixel((x * (image.width - 1 - 20) + 10, y * (image.height - 1 - 20) + 10))
               for x in (0, 1) for y in (0, 1)}
    return min(corners, key=corners.get)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_turning_a_scan_tags_it_without_re_encoding(rotate):
    original = marked_jpeg()
    doc = scan_doc(original)
    image = page_image(doc, 0, dpi=72, max_pixels=MAX, rotate=rotate)
    header = jpeg.info(image.data)
    assert header.orientation == jpeg.ORIENTATIONS[rotate]
    # the scanner's coded pixels are all there, byte for byte, after the added Exif segment
    assert image.data.endswith(original[header.app0_end:]) and image.data.startswith(original[:header.app0_end])
    assert len(image.data) - len(original) < 64
    expected = (566, 400) if rotate in (90, 270) else (400, 566)
    assert (image.width, image.height) == expected
    upright = shown(image.data)
    assert upright.size == expected
    # the top-left corner of the scan, turned clockwise by ``rotate``
    assert dark_corner(upright) == {90: (1, 0), 180: (1, 1), 270: (0, 1)}[rotate]


def test_upright_scan_is_not_tagged():
    original = marked_jpeg()
    assert page_image(scan_doc(original), 0, rotate=0).data == original


def test_scan_with_exif_data_of_its_own_is_rendered_when_turned():
    original = builders.exif_orientation(marked_jpeg(), 1)
    doc = scan_doc(original)
    assert page_image(doc, 0, dpi=72).data == original
    turned = page_image(doc, 0, dpi=72, rotate=180)
    assert jpeg.info(turned.data).orientation == 1 and (turned.width, turned.height) == (595, 842)
    assert dark_corner(shown(turned.data)) == (1, 1)


@pytest.mark.parametrize("rotate", [90, 180])
def test_derived_images_of_a_tagged_page_are_upright(rotate):
    page = page_image(scan_doc(marked_jpeg()), 0, rotate=rotate).data
    corner = dark_corner(shown(page))
    # the thumbnail, the masked cover and the name crop are all of the upright page, untagged
    thumb = thumbnail_from_image(page, width=100)
    assert jpeg.info(thumb.data).orientation == 1 and thumb.width == 100
    assert thumb.height == round(100 * shown(page).height / shown(page).width)
    assert dark_corner(shown(thumb.data)) == corner
    area = (corner[0] * 0.7, corner[1] * 0.7, corner[0] * 0.7 + 0.3, corner[1] * 0.7 + 0.3)
    masked = shown(mask_area(page, area).data)
    assert masked.size == shown(page).size
    x, y = (int(corner[0] * (masked.width - 21) + 10), int(corner[1] * (masked.height - 21) + 10))
    assert 100 < masked.getpixel((x, y)) < 160  # the square painted over in grey, not black any more
    crop = crop_area(page, area, width=600)
    assert jpeg.info(crop.data).orientation == 1
    assert sum(shown(crop.data).tobytes()) / (crop.width * crop.height) < 200  # the dark square is in it


def test_upside_down_rendering_really_turns_the_page():
    doc = pymupdf.open(stream=builders.subject(1), filetype="pdf")
    upright = decoded(page_image(doc, 0, dpi=50))
    turned = decoded(page_image(doc, 0, dpi=50, rotate=180))
    top_ink = lambda pix: sum(255 - v for v in pix.samples[: pix.stride * pix.height // 10])  # noqa: E731
    assert top_ink(upright) > top_ink(turned) * 1.5


def test_page_with_rotate_key_is_shown_upright_as_displayed():
    doc = scan_doc(marked_jpeg())
    doc[0].set_rotation(90)
    image = page_image(doc, 0, dpi=72)
    assert jpeg.info(image.data).orientation == jpeg.ORIENTATIONS[90]
    assert (image.width, image.height) == (566, 400) == shown(image.data).size
    assert dark_corner(shown(image.data)) == (1, 0)
    # and the code's rotation comes on top of the page's own
    assert dark_corner(shown(page_image(doc, 0, dpi=72, rotate=90).data)) == (1, 1)


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
