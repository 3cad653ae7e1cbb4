"""Upload validation: each class of real-world and hostile file is accepted or refused with its code."""
import hashlib
import os
import time

import pymupdf
import pytest

from viatique_xblock.errors import ViatiqueError
from viatique_xblock.pdf.errors import PdfError
from viatique_xblock.pdf import booklets, synthetic
from viatique_xblock.pdf.validate import Limits, PdfInfo, open_document, validate_pdf

from . import builders
from .builders import flate_bomb, limits, page_source, raw_pdf, write


def refused(path, code, **limit_overrides):
    with pytest.raises(PdfError) as caught:
        validate_pdf(path, limits(**limit_overrides))
    assert caught.value.code == code, caught.value.message
    assert isinstance(caught.value, ViatiqueError)
    assert caught.value.message and "{" not in caught.value.message
    return caught.value


def scanner_pdf(pages=3, **jpeg):
    return builders.image_pdf([builders.jpeg(text=f"page {n}", **jpeg) for n in range(pages)])


def test_scanner_style_pdf_is_accepted_with_its_hash_and_sizes(tmp_path):
    data = scanner_pdf(3)
    info = validate_pdf(write(tmp_path, "scan.pdf", data), limits())
    assert isinstance(info, PdfInfo)
    assert info.pages == 3
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size_bytes == len(data)
    assert info.repaired is False
    assert info.page_sizes == ((595, 842, 3),)
    assert info.largest_image_pixels == 400 * 566
    assert info.as_dict()["page_sizes"] == [[595, 842, 3]]


def test_limits_from_settings_maps_the_viatique_settings():
    values = {"MAX_UPLOAD_BYTES": 10, "MAX_PAGES": 2, "MAX_PAGE_SIDE_POINTS": 100,
              "MAX_PAGE_PIXELS": 1000, "PAGE_IMAGE_DPI": 96}
    assert Limits.from_settings(values.__getitem__) == Limits(10, 2, 100, 1000, 96)


def test_empty_file(tmp_path):
    refused(write(tmp_path, "empty.pdf", b""), "file_empty")


def test_file_too_large_is_refused_before_reading(tmp_path):
    error = refused(write(tmp_path, "big.pdf", scanner_pdf(1)), "file_too_large", max_bytes=1000)
    assert error.status == 413
    assert error.as_json()["error"] == "file_too_large"


def test_random_bytes(tmp_path):
    refused(write(tmp_path, "noise.pdf", os.urandom(50_000)), "not_a_pdf")


def test_html_renamed_pdf(tmp_path):
    html = b"<!DOCTYPE html><html><body><h1>Not found</h1>" + b"<p>x</p>" * 500 + b"</body></html>"
    refused(write(tmp_path, "page.pdf", html), "not_a_pdf")


def test_signature_after_1024_bytes_is_not_a_pdf(tmp_path):
    refused(write(tmp_path, "late.pdf", b" " * 2000 + scanner_pdf(1)), "not_a_pdf")


def test_signature_after_some_junk_is_accepted(tmp_path):
    info = validate_pdf(write(tmp_path, "junk.pdf", b"\r\n" * 100 + scanner_pdf(1)), limits())
    assert info.pages == 1


def test_pdf_signature_but_garbage_is_unreadable(tmp_path):
    refused(write(tmp_path, "garbage.pdf", b"%PDF-1.7\n" + os.urandom(20_000)), "pdf_unreadable")


def test_truncated_pdf_is_refused_or_repaired_in_bounded_time(tmp_path):
    data = scanner_pdf(6)
    path = write(tmp_path, "cut.pdf", data[: len(data) // 2])
    started = time.monotonic()
    try:
        info = validate_pdf(path, limits())
    except PdfError as error:
        assert error.code in ("pdf_unreadable", "pdf_empty")
    else:
        assert info.repaired and 1 <= info.pages <= 6
    assert time.monotonic() - started < 10  # a guard against a hang, not a performance figure


def synthetic_scan(copies=2):
    return synthetic.scan(booklets.make_booklets(blank_pages=4, copies=copies, exam_ref="V1", first_copy=1))


def test_the_first_2000_bytes_of_a_scan_are_refused_as_unreadable(tmp_path):
    # MuPDF opens them, then raises RuntimeError("code=7: Invalid number of pages") when counting pages
    path = write(tmp_path, "cut.pdf", synthetic_scan()[:2000])
    with pymupdf.open(path) as doc, pytest.raises(RuntimeError):
        doc.page_count  # noqa: B018  (what the validation met unguarded)
    refused(path, "pdf_unreadable")
    with pytest.raises(PdfError) as caught:
        open_document(path)  # every other opener of scans meets the same refusal
    assert caught.value.code == "pdf_unreadable"


@pytest.mark.parametrize("size", [600, 1200, 2000, 3000, 8000, 40_000])
def test_any_prefix_of_a_scan_is_refused_with_a_code_or_accepted_repaired(tmp_path, size):
    path = write(tmp_path, "cut.pdf", synthetic_scan()[:size])
    try:
        info = validate_pdf(path, limits())
    except PdfError as error:
        assert error.code in ("pdf_unreadable", "pdf_empty", "not_a_pdf"), error.code
    else:
        assert info.repaired and info.pages >= 1


def test_broken_but_repairable_file_is_accepted_and_flagged(tmp_path):
    data = scanner_pdf(2)
    at = data.rindex(b"startxref")
    broken = data[:at] + b"startxref\n999999\n%%EOF\n"  # the cross-reference table is lost
    info = validate_pdf(write(tmp_path, "broken.pdf", broken), limits())
    assert info.repaired is True
    assert info.pages == 2


def test_password_protected_pdf(tmp_path):
    doc = pymupdf.open(stream=scanner_pdf(1), filetype="pdf")
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="secret")
    refused(write(tmp_path, "locked.pdf", data), "pdf_encrypted")


def test_encrypted_pdf_without_user_password_is_refused_too(tmp_path):
    doc = pymupdf.open(stream=scanner_pdf(1), filetype="pdf")
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_RC4_128, owner_pw="owner", permissions=0)
    refused(write(tmp_path, "restricted.pdf", data), "pdf_encrypted")


def test_zero_page_pdf(tmp_path):
    refused(write(tmp_path, "zero.pdf", raw_pdf([], kids=[])), "pdf_empty")


def test_too_many_pages(tmp_path):
    error = refused(write(tmp_path, "many.pdf", scanner_pdf(4)), "too_many_pages", max_pages=3)
    assert error.params == {"pages": 4, "limit": 3}
    assert "4" in error.message and "3" in error.message


def test_giant_page_size(tmp_path):
    data = raw_pdf([(page_source(mediabox="[0 0 20000 20000]"), b"")])
    error = refused(write(tmp_path, "giant.pdf", data), "page_size_invalid")
    assert error.params["page"] == 1


def test_tiny_page_size(tmp_path):
    refused(write(tmp_path, "tiny.pdf", raw_pdf([(page_source(mediabox="[0 0 10 10]"), b"")])), "page_size_invalid")


def test_page_whose_rendering_exceeds_the_pixel_budget(tmp_path):
    data = raw_pdf([(page_source(mediabox="[0 0 3000 3000]"), b"")])
    error = refused(write(tmp_path, "poster.pdf", data), "page_too_large_pixels", max_page_pixels=30_000_000)
    assert error.params["page"] == 1


DRAW_IM0 = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
BOMB_CARRIERS = {  # page resources, page content, objects before the bomb (which comes last)
    "image-xobject": ("<</XObject<</Im0 5 0 R>>>>", DRAW_IM0, []),
    "soft-mask": ("<</XObject<</Im0 5 0 R>>>>", DRAW_IM0, [
        ("<</Type/XObject/Subtype/Image/Width 2/Height 2/BitsPerComponent 8/ColorSpace/DeviceGray"
         "/SMask 6 0 R>>", b"\0\0\0\0"),
    ]),
    "inside-a-form": ("<</XObject<</Fm0 5 0 R>>>>", b"q /Fm0 Do Q", [
        ("<</Type/XObject/Subtype/Form/BBox[0 0 595 842]/Resources<</XObject<</Im0 6 0 R>>>>>>", DRAW_IM0),
    ]),
}


@pytest.mark.parametrize("carrier", sorted(BOMB_CARRIERS))
def test_decompression_bomb(tmp_path, carrier):
    resources, content, carriers = BOMB_CARRIERS[carrier]
    stream, keys = flate_bomb()
    data = raw_pdf([(page_source(resources), content)],
                   carriers + [(f"<</Type/XObject/Subtype/Image{keys}>>", stream)])
    assert len(data) < 10_000
    error = refused(write(tmp_path, "bomb.pdf", data), "page_too_large_pixels")
    assert error.params["width"] == 100_000


@pytest.mark.parametrize("compress", [False, True])
def test_inline_image_bomb(tmp_path, compress):
    stream, _keys = flate_bomb(20_000)
    content = b"q 595 0 0 842 0 0 cm BI /W 20000 /H 20000 /BPC 8 /CS /G /F /Fl ID " + stream + b" EI Q"
    data = raw_pdf([(page_source(), content)])
    if compress:
        doc = pymupdf.open(stream=data, filetype="pdf")
        data = doc.tobytes(deflate=True)
        assert b"BI /W" not in data
    refused(write(tmp_path, "inline.pdf", data), "page_too_large_pixels")


def test_inline_image_bomb_behind_ascii85_and_flate(tmp_path):
    import base64
    import zlib

    stream, _keys = flate_bomb(20_000)
    content = b"q 595 0 0 842 0 0 cm BI /W 20000 /H 20000 /BPC 8 /CS /G /F /Fl ID " + stream + b" EI Q"
    encoded = base64.a85encode(zlib.compress(content)) + b"~>"
    data = raw_pdf([(page_source(), encoded)])
    data = data.replace(b"<</Length", b"<</Filter[/ASCII85Decode/FlateDecode]/Length", 1)
    refused(write(tmp_path, "a85.pdf", data), "page_too_large_pixels")


def test_content_stream_too_large_to_search(tmp_path, monkeypatch):
    import zlib

    from viatique_xblock.pdf import inline

    monkeypatch.setattr(inline, "MAX_DECODED", 1 << 20)
    content = zlib.compress(b"0 0 m 1 1 l S\n" * 200_000)
    data = raw_pdf([(page_source(), content)]).replace(b"<</Length", b"<</Filter/FlateDecode/Length", 1)
    assert pymupdf.open(stream=data, filetype="pdf")[0].get_contents()
    refused(write(tmp_path, "huge.pdf", data), "page_too_complex")


def test_small_inline_image_is_fine(tmp_path):
    content = b"q 100 0 0 100 0 0 cm BI /W 2 /H 2 /BPC 8 /CS /G ID \x00\xff\xff\x00 EI Q"
    info = validate_pdf(write(tmp_path, "inline.pdf", raw_pdf([(page_source(), content)])), limits())
    assert info.largest_image_pixels == 4


def test_large_but_legitimate_scan_image_within_budget(tmp_path):
    data = builders.image_pdf([builders.jpeg(width=2480, height=3508)])  # A4 at 300 dpi
    assert validate_pdf(write(tmp_path, "a4-300.pdf", data), limits()).largest_image_pixels == 2480 * 3508


def test_cmyk_jpeg_scan(tmp_path):
    data = builders.image_pdf([builders.jpeg(colorspace=pymupdf.csCMYK)])
    assert validate_pdf(write(tmp_path, "cmyk.pdf", data), limits()).pages == 1


def test_jpeg2000_scan(tmp_path):
    from io import BytesIO

    from PIL import Image as pil  # Pillow is a dependency of the package

    out = BytesIO()
    pil.new("L", (400, 566), 230).save(out, "JPEG2000")
    data = builders.image_pdf([out.getvalue()])
    doc = pymupdf.open(stream=data, filetype="pdf")
    assert doc.get_page_images(0, full=True)[0][8] == "JPXDecode"
    assert validate_pdf(write(tmp_path, "jpx.pdf", data), limits()).pages == 1


def test_ccitt_g4_scan(tmp_path):
    data = builders.ccitt_pdf()
    doc = pymupdf.open(stream=data, filetype="pdf")
    assert doc.get_page_images(0, full=True)[0][8] == "CCITTFaxDecode"
    assert validate_pdf(write(tmp_path, "fax.pdf", data), limits()).pages == 1


def test_one_bit_scan(tmp_path):
    pix = pymupdf.open(stream=builders.subject(1), filetype="pdf")[0].get_pixmap(dpi=100, colorspace=pymupdf.csGRAY)
    data = builders.one_bit_page_pdf(pix)
    assert validate_pdf(write(tmp_path, "bw.pdf", data), limits()).pages == 1


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_pages(tmp_path, rotation):
    doc = pymupdf.open(stream=scanner_pdf(2), filetype="pdf")
    doc[1].set_rotation(rotation)
    info = validate_pdf(write(tmp_path, "rotated.pdf", doc.tobytes()), limits())
    assert info.rotated_pages == 1
    expected = ((595, 842, 2),) if rotation == 180 else ((595, 842, 1), (842, 595, 1))
    assert sorted(info.page_sizes) == sorted(expected)


def test_odd_page_sizes(tmp_path):
    doc = pymupdf.open()
    for size in ((612, 792), (595, 842), (842, 1191), (420, 595), (600, 1700)):  # Letter, A4, A3, A5, long
        doc.new_page(width=size[0], height=size[1])
    info = validate_pdf(write(tmp_path, "sizes.pdf", doc.tobytes()), limits())
    assert info.pages == 5 and len(info.page_sizes) == 5


def test_page_with_a_mediabox_offset_and_cropbox(tmp_path):
    data = raw_pdf([(page_source(mediabox="[-100 -100 495 742]", extra="/CropBox[0 0 400 600]"), b"")])
    assert validate_pdf(write(tmp_path, "offset.pdf", data), limits()).page_sizes == ((400, 600, 1),)


def test_every_refusal_has_its_own_stable_code():
    from viatique_xblock.pdf import errors

    classes = [value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, PdfError) and value is not PdfError]
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert {"file_too_large", "not_a_pdf", "pdf_unreadable", "pdf_encrypted", "pdf_empty", "too_many_pages",
            "page_size_invalid", "page_too_large_pixels"} <= set(codes)
