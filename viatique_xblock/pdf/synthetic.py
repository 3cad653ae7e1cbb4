"""Synthetic scans of printed booklets, for demo data, tests and benchmarks (never used on real uploads).

Public API:

- ``scan(pdf_bytes, *, dpi=150, skew=1.5, upside_down=(), quarter_turned=(), color=False,
  quality=70, speckles=0.002, order=None, seed=0) -> bytes``: a scanner-style PDF (one JPEG
  image per page, exactly covering the page) of ``pdf_bytes``, each page turned by a random
  angle within +/- ``skew`` degrees, pages whose 0-based index is in ``upside_down`` turned
  by 180 degrees and those in ``quarter_turned`` by 90 degrees (fed sideways: the page is
  landscape), the paper slightly grey with dark specks, then JPEG-compressed (baseline JPEG
  like a scanner's when Pillow is installed, else the progressive JPEG PyMuPDF writes). ``order``
  lists the source page indexes to scan (repeats and omissions make duplicate and missing
  pages); all pages in order by default.
- ``scanned_page(page, dpi, angle, color, quality, speckles, rng) -> (jpeg, width_pt, height_pt)``.
"""
import io
import math
import random

import pymupdf

PAPER = 238  # grey level of the scanned paper
INK = 28  # grey level of black ink once scanned


def _tone_table():
    """Maps rendered grey levels to the narrower range of a scanner (ink to paper)."""
    return bytes(INK + (PAPER - INK) * value // 255 for value in range(256))


_TONE = _tone_table()


def _rotated_form_content(form_name, width, height, angle):
    """Operators drawing a form turned by ``angle`` degrees about the centre of the page."""
    radians = math.radians(angle)
    cos, sin = math.cos(radians), math.sin(radians)
    cx, cy = width / 2, height / 2
    return (
        f"q 1 0 0 1 {cx:.3f} {cy:.3f} cm {cos:.6f} {sin:.6f} {-sin:.6f} {cos:.6f} 0 0 cm "
        f"1 0 0 1 {-cx:.3f} {-cy:.3f} cm /{form_name} Do Q"
    ).encode()


def scanned_page(page, dpi, angle, color, quality, speckles, rng):
    """One page as a scanner sees it: JPEG bytes and the scanned page size in points."""
    width, height = page.rect.width, page.rect.height
    quarter = round(angle / 90) % 2 == 1
    sheet = pymupdf.open()
    target = sheet.new_page(width=height if quarter else width, height=width if quarter else height)
    target.show_pdf_page(pymupdf.Rect(0, 0, width, height) + _centre_shift(target.rect, width, height),
                         page.parent, page.number)
    form = next(name for _xref, name, invoker, _bbox in target.get_xobjects() if invoker == 0)
    sheet.update_stream(target.get_contents()[0],
                        _rotated_form_content(form, target.rect.width, target.rect.height, angle))
    pix = target.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB if color else pymupdf.csGRAY, alpha=False)
    samples = bytearray(pix.samples).translate(_TONE)
    count = int(len(samples) * speckles)
    for position in rng.sample(range(len(samples)), count) if count else ():
        samples[position] = rng.randrange(0, 120)
    return _jpeg(bytes(samples), pix, dpi, quality), target.rect.width, target.rect.height


def _jpeg(samples, pix, dpi, quality):
    """A baseline JPEG, as scanners write, when Pillow is there; else MuPDF's progressive one."""
    try:
        from PIL import Image  # noqa: PLC0415 - optional, for realistic synthetic scans only
    except ImportError:
        noisy = pymupdf.Pixmap(pix.colorspace, pix.width, pix.height, samples, False)
        noisy.set_dpi(dpi, dpi)
        return noisy.tobytes("jpg", jpg_quality=quality)
    image = Image.frombytes("L" if pix.n == 1 else "RGB", (pix.width, pix.height), samples)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()


def _centre_shift(rect, width, height):
    dx, dy = (rect.width - width) / 2, (rect.height - height) / 2
    return (dx, dy, dx, dy)


def scan(pdf_bytes, *, dpi=150, skew=1.5, upside_down=(), quarter_turned=(), color=False,
         quality=70, speckles=0.002, order=None, seed=0):
    """A scanner-style PDF of ``pdf_bytes``; see the module docstring."""
    rng = random.Random(seed)
    source = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    out = pymupdf.open()
    for index in order if order is not None else range(source.page_count):
        angle = rng.uniform(-skew, skew)
        angle += 180 if index in upside_down else 0
        angle += 90 if index in quarter_turned else 0
        jpeg, width, height = scanned_page(source[index], dpi, angle, color, quality, speckles, rng)
        page = out.new_page(width=width, height=height)
        page.insert_image(page.rect, stream=jpeg)
    return out.tobytes(garbage=1)
