"""PDF files the PDF tests build for themselves: subjects, scanner pages, broken and hostile files."""
import io
import zlib

import pymupdf

from viatique_xblock.pdf.validate import Limits

A4 = (595, 842)


def limits(**overrides):
    values = dict(max_bytes=1 << 30, max_pages=5000, max_page_side_points=3370,
                  max_page_pixels=60_000_000, dpi=150)
    values.update(overrides)
    return Limits(**values)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def subject(pages=2, size=A4, rotate=0, foreign_qr=False):
    """A blank exam: some text on each page, a frame to its very edges."""
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_text((60, 40), f"Subject page {number}: answer every question", fontsize=12)
        page.draw_rect(pymupdf.Rect(2, 2, size[0] - 2, size[1] - 2), color=(0, 0, 0), width=1)
        if foreign_qr:
            import segno  # noqa: PLC0415

            matrix = segno.make("https://example.org/exam", error="m").matrix
            shape = page.new_shape()
            for row, cells in enumerate(matrix):
                for col, dark in enumerate(cells):
                    if dark:
                        shape.draw_rect(pymupdf.Rect(60 + col * 3, 80 + row * 3, 63 + col * 3, 83 + row * 3))
            shape.finish(fill=(0, 0, 0), color=None)
            shape.commit()
        if rotate:
            page.set_rotation(rotate)
    return doc.tobytes()


def jpeg(width=400, height=566, colorspace=pymupdf.csGRAY, quality=70, text="scan"):
    """A JPEG of a page-like picture (PyMuPDF writes progressive JPEGs)."""
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.insert_text((20, 40), text, fontsize=20)
    pix = page.get_pixmap(colorspace=colorspace, alpha=False)
    return pix.tobytes("jpg", jpg_quality=quality)


def baseline_jpeg(pixmap, quality=75, **save):
    """A baseline JPEG (as scanners write) of a pixmap, with Pillow."""
    from PIL import Image  # noqa: PLC0415

    mode = {1: "L", 3: "RGB", 4: "CMYK"}[pixmap.n]
    out = io.BytesIO()
    Image.frombytes(mode, (pixmap.width, pixmap.height), pixmap.samples).save(out, "JPEG", quality=quality, **save)
    return out.getvalue()


def image_pdf(images, size=A4):
    """A scanner-style PDF: one image (bytes of any format PyMuPDF reads) per page, covering it."""
    doc = pymupdf.open()
    for data in images:
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_image(page.rect, stream=data, keep_proportion=False)
    return doc.tobytes()


def raw_pdf(page_objects, extra_objects=(), kids=None):
    """A hand-written PDF: ``page_objects`` are (dict source, content bytes) pairs.

    Objects are numbered: 1 catalog, 2 pages, then each page and its content, then
    ``extra_objects`` (dict source or (dict source, stream bytes)), from ``3 + 2 * pages``.
    """
    objects = ["<</Type/Catalog/Pages 2 0 R>>", None]
    page_refs = []
    for source, content in page_objects:
        page_number = len(objects) + 1
        page_refs.append(f"{page_number} 0 R")
        objects.append(source.replace("CONTENTS", f"{page_number + 1} 0 R"))
        objects.append(("<<>>", content))
    kid_refs = page_refs if kids is None else kids
    objects[1] = f"<</Type/Pages/Kids[{' '.join(kid_refs)}]/Count {len(kid_refs)}>>"
    objects.extend(extra_objects)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        if isinstance(obj, tuple):
            source, stream = obj
            source = source.encode() if isinstance(source, str) else source
            source = source[:-2] + b"/Length %d>>" % len(stream)
            out += b"%d 0 obj\n" % number + source + b"\nstream\n" + stream + b"\nendstream\nendobj\n"
        else:
            out += b"%d 0 obj\n" % number + obj.encode() + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def page_source(resources="<<>>", mediabox="[0 0 595 842]", extra=""):
    return f"<</Type/Page/Parent 2 0 R/MediaBox{mediabox}/Resources {resources}/Contents CONTENTS{extra}>>"


def flate_bomb(side=100_000):
    """A tiny Flate stream claiming to be a ``side`` x ``side`` grey image."""
    keys = f"/Width {side}/Height {side}/BitsPerComponent 8/ColorSpace/DeviceGray/Filter/FlateDecode"
    return zlib.compress(b"\0" * 2_000_000, 9), keys


def one_bit_page_pdf(pixmap, size=A4):
    """A scanner-style page whose image is 1 bit per pixel (Flate), thresholded from a grey pixmap."""
    width, height = pixmap.width, pixmap.height
    row_bytes = (width + 7) // 8
    digits = pixmap.samples.translate(bytes(b"0"[0] if value < 128 else b"1"[0] for value in range(256)))
    padding = b"1" * (row_bytes * 8 - width)
    packed = b"".join(
        int(digits[y * width:(y + 1) * width] + padding, 2).to_bytes(row_bytes, "big") for y in range(height)
    )
    image = (f"<</Type/XObject/Subtype/Image/Width {width}/Height {height}/BitsPerComponent 1"
             f"/ColorSpace/DeviceGray/Filter/FlateDecode>>", zlib.compress(packed))
    content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % size
    return raw_pdf([(page_source("<</XObject<</Im0 5 0 R>>>>", f"[0 0 {size[0]} {size[1]}]"), content)], [image])


def exif_orientation(jpeg_bytes, orientation):
    """The JPEG with an APP1 Exif segment carrying ``orientation``."""
    tiff = (b"MM\0*\0\0\0\x08" + b"\0\x01" + b"\x01\x12\0\x03\0\0\0\x01"
            + orientation.to_bytes(2, "big") + b"\0\0" + b"\0\0\0\0")
    payload = b"Exif\0\0" + tiff
    return jpeg_bytes[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg_bytes[2:]


def white_g4(width, height):
    """CCITT group 4 data of an all-white image: one V0 code per row, then the end of block."""
    bits = "1" * height + "000000000001" * 2
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def ccitt_pdf(width=800, height=1100, data=None, size=A4):
    """A scanner-style page whose image is CCITT group 4 (all white unless ``data`` is given)."""
    data = white_g4(width, height) if data is None else data
    image = (f"<</Type/XObject/Subtype/Image/Width {width}/Height {height}/BitsPerComponent 1"
             f"/ColorSpace/DeviceGray/Filter/CCITTFaxDecode"
             f"/DecodeParms<</K -1/Columns {width}/Rows {height}/BlackIs1 true>>>>", data)
    content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % size
    return raw_pdf([(page_source("<</XObject<</Im0 5 0 R>>>>", f"[0 0 {size[0]} {size[1]}]"), content)], [image])


def pillow_g4(pixmap):
    """CCITT group 4 data of a grey pixmap, encoded by Pillow's libtiff (one strip)."""
    from PIL import Image  # noqa: PLC0415

    image = Image.frombytes("L", (pixmap.width, pixmap.height), pixmap.samples).point(lambda v: 255 if v > 128 else 0)
    out = io.BytesIO()
    image.convert("1").save(out, "TIFF", compression="group4", tiffinfo={278: pixmap.height})
    tiff = Image.open(io.BytesIO(out.getvalue()))
    (offset,), (count,) = tiff.tag_v2[273], tiff.tag_v2[279]
    return out.getvalue()[offset:offset + count]
