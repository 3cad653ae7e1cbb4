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
- ``own_paper(count, *, seed=0, pages_per_copy=4) -> bytes``: ``count`` pages of a school's own
  exam paper filled in, without any code: A4, a printed header (name, class, subject) and a
  pupil's handwriting below it (:func:`fill_in`). Scanned by :func:`scan`, the batch of a school
  that did not print Viatique's booklets.
- ``fill_in(pdf_bytes, *, seed=0, top=booklets.BAND, names=None, fullness=(0.35, 0.95),
  pages_per_booklet=4) -> bytes``: the printed booklets "filled in" by pupils: vector ink
  strokes below the top band of every page (the band keeps its QR code, short code and
  printed name untouched): wavy lines of cursive-like pseudo-words, an "Exercice N" heading
  per page (N its page number in its booklet), question numbers, a few formulas and boxed
  answers, now and then a crossed-out line; each page filled to a random part of its
  height within ``fullness``. ``names`` maps 0-based page indexes to a name written by
  hand in the name area of that page's band (the cover of an anonymous booklet).
  Deterministic for a ``seed``; about 15 ms a page. The ink is drawn as PDF operators
  appended to each page (PyMuPDF's drawing calls cost a hundred times more).
"""
import io
import math
import random

import pymupdf

from viatique_xblock.pdf import booklets

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


# ---------------------------------------------------------------------------- fill in

INK = "0.08 0.12 0.42"  # blue-black ballpoint (RGB)
LINE_GAP = 25.0  # ruled-paper spacing, in points
MARGIN = 48.0  # left and right margins of the writing
WRITING_SIZE = 13.0
FONT = "VQh"  # the page resource name of the handwriting font (Times-Italic)
FORMULAS = (
    "u(n+1) = 0,5 u(n) + 3", "lim u(n) = 6", "u(0) = 2 ; u(1) = 4", "P(A) = 0,35",
    "P(B | A) = 0,6", "E(X) = 1,4", "f '(x) = (x + 1) e^x", "f(0) = 1", "x = ln(2)",
    "AB (2 ; -1 ; 3)", "V = 1/3 \u00d7 4 \u00d7 3 = 4", "2x - y + z - 3 = 0", "delta = 9 > 0",
)
PHRASES = (
    "Donc la suite est croissante.", "On conclut par r\u00e9currence.", "D'apr\u00e8s le cours,",
    "La fonction est strictement croissante.", "Les vecteurs sont colin\u00e9aires.",
)


#: one letter of cursive: (advance fraction, sine, rise fraction) at 7 steps of a prolate cycloid
_LOOP = tuple((step / 7, math.sin(2 * math.pi * step / 7), (1 - math.cos(2 * math.pi * step / 7)) / 2)
              for step in range(7))


class _Ink:
    """The PDF operators of a pupil's writing on one page (y measured from the top, like PyMuPDF)."""

    def __init__(self, height, rng):
        self.height = height
        self.rng = rng
        self.ops = [f"q {INK} RG {INK} rg 1 J 1 j".encode()]

    def stroke(self, points, width=0.85):
        h = self.height
        first, *rest = points
        path = [b"%.2f w %.1f %.1f m" % (width, first[0], h - first[1])]
        path.extend(b"%.1f %.1f l" % (x, h - y) for x, y in rest)
        path.append(b"S")
        self.ops.append(b" ".join(path))

    def line(self, start, end, wobble=1.2, width=1.0):
        """A hand-drawn straight stroke (slightly wavy)."""
        (xa, ya), (xb, yb) = start, end
        self.stroke([(xa + (xb - xa) * i / 8, ya + (yb - ya) * i / 8 + self.rng.uniform(-wobble, wobble) * (0 < i < 8))
                     for i in range(9)], width)

    def text(self, x, baseline, text, size=WRITING_SIZE):
        """Text in an italic font, slightly turned: a formula or a name written by hand; returns its end."""
        try:
            string = booklets._pdf_string(text)
        except UnicodeEncodeError:
            string = booklets._pdf_string(text.encode("cp1252", "replace").decode("cp1252"))
        angle = math.radians(self.rng.uniform(-1.5, 1.5))
        cos, sin = math.cos(angle), math.sin(angle)
        self.ops.append(b"BT /%s %.1f Tf %.4f %.4f %.4f %.4f %.2f %.2f Tm %s Tj ET" % (
            FONT.encode(), size, cos, sin, -sin, cos, x, self.height - baseline, string))
        return x + pymupdf.get_text_length(text, fontname="tiit", fontsize=size)

    def pseudo_line(self, x0, x1, baseline, size=WRITING_SIZE):
        """A line of pseudo-words from ``x0`` up to about ``x1``; returns (where it ended, its slope)."""
        x = x0
        slope = self.rng.uniform(-0.012, 0.012)
        while x < x1 - size * 2:
            points, end = self.word(x, baseline + (x - x0) * slope, size)
            if end > x1 and x > x0:
                break
            self.stroke(points)
            x = end + size * self.rng.uniform(0.45, 0.8)
            if self.rng.random() < 0.08:
                break  # a short line: the end of a sentence
        return x, slope

    def word(self, x, baseline, size):
        """Points of one cursive-like word (loops of varying height, slanted) and where it ends."""
        rng = self.rng
        points = []
        x_height = size * rng.uniform(0.32, 0.42)
        for _letter in range(rng.randint(2, 8)):
            advance = size * rng.uniform(0.38, 0.55)
            kind = rng.random()
            height = x_height * (2.3 if kind < 0.18 else 1.0) * rng.uniform(0.85, 1.15)
            if kind > 0.92:
                height = -0.9 * height  # a descender: the loop goes under the line
            shaky = rng.uniform(-0.3, 0.3)
            points.extend((x + advance * (fraction - 0.3 * sin) + 0.25 * height * rise, baseline - height * rise + shaky)
                          for fraction, sin, rise in _LOOP)
            x += advance
        points.append((x + size * 0.15, baseline - x_height * 0.2))
        return points, x

    def bytes(self):
        return b"\n".join(self.ops + [b"Q"])


def _write_page(ink, width, height, top, fullness, exercise):
    """A pupil's answers from ``top`` down: heading, lines, formulas, a box, a crossed-out line."""
    rng = ink.rng
    x0, x1 = MARGIN + rng.uniform(0, 8), width - MARGIN
    baseline = top + LINE_GAP * rng.uniform(0.9, 1.3)
    bottom = baseline + (height - 40 - baseline) * rng.uniform(*fullness)
    question = 0
    while baseline < bottom:
        roll = rng.random()
        if not question or (roll < 0.07 and baseline + 2 * LINE_GAP < bottom):  # the exercise, then its questions
            title = f"{question}." if question else f"Exercice {exercise}"
            end = ink.text(x0, baseline, title, size=WRITING_SIZE + 1)
            ink.line((x0, baseline + 3), (end, baseline + 3), wobble=0.6)
            question += 1
        elif roll < 0.25:
            left = x0 + rng.uniform(10, 60)
            end = ink.text(left, baseline, rng.choice(FORMULAS))
            if rng.random() < 0.3:  # the answer, boxed
                box = [(left - 5, baseline - 15), (end + 6, baseline - 16), (end + 7, baseline + 6),
                       (left - 6, baseline + 5), (left - 5, baseline - 15)]
                ink.stroke([(px + rng.uniform(-0.6, 0.6), py + rng.uniform(-0.6, 0.6)) for px, py in box], 0.9)
        elif roll < 0.3:
            ink.text(x0, baseline, rng.choice(PHRASES))
        elif roll < 0.36:  # a crossed-out line
            end, slope = ink.pseudo_line(x0, x0 + (x1 - x0) * rng.uniform(0.4, 0.9), baseline)
            for lift in (3.5, 6.0):
                ink.line((x0 - 3, baseline - lift), (end, baseline - lift + (end - x0) * slope))
        else:
            ink.pseudo_line(x0 + (rng.uniform(12, 30) if rng.random() < 0.15 else 0), x1, baseline)
        baseline += LINE_GAP * (2 if rng.random() < 0.1 else 1)


def fill_in(pdf_bytes, *, seed=0, top=booklets.BAND, names=None, fullness=(0.35, 0.95), pages_per_booklet=4):
    """The booklets with pupils' writing on every page; see the module docstring."""
    doc = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    names = names or {}
    font = doc.get_new_xref()
    doc.update_object(font, "<</Type/Font/Subtype/Type1/BaseFont/Times-Italic/Encoding/WinAnsiEncoding>>")
    opening = _stream(doc, b"q")
    for page in doc:
        width, height = page.rect.width, page.rect.height
        ink = _Ink(height, random.Random(seed * 100_003 + page.number))
        if page.number in names:
            box = booklets.layout(width, height)
            ink.text(box.name_left + 4, box.baseline + 2, names[page.number], size=15)
        _write_page(ink, width, height, top + 12, fullness, page.number % pages_per_booklet + 1)
        _add_font(doc, page, font)
        _append_contents(doc, page, ink.bytes(), opening)
    return doc.tobytes(garbage=1)  # not deflated: it is only ever scanned


def own_paper(count, *, seed=0, pages_per_copy=4):
    """Pages of a school's own paper, filled in, without codes; see the module docstring."""
    doc = pymupdf.open()
    for _ in range(count):
        page = doc.new_page(width=595.28, height=841.89)
        page.insert_text((48, 42), "Nom : ______________________   Classe : ________   Devoir surveill\u00e9 de "
                                   "math\u00e9matiques", fontsize=10.5, fontname="helv")
        page.draw_line((48, 52), (547, 52), width=0.6)
    return fill_in(doc.tobytes(), seed=seed, top=44, pages_per_booklet=pages_per_copy)


def _stream(doc, data):
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, data, compress=False)  # deflating would cost more than the drawing
    return xref


def _append_contents(doc, page, data, opening):
    """Draw ``data`` over the page's own content, which is put between ``q`` (the shared
    stream ``opening``) and ``Q``, so that whatever state it leaves never reaches ours."""
    kind, value = doc.xref_get_key(page.xref, "Contents")
    existing = value.strip("[]") if kind == "array" else (value if kind == "xref" else "")
    doc.xref_set_key(page.xref, "Contents", f"[{opening} 0 R {existing} {_stream(doc, b'Q ' + data)} 0 R]")


def _add_font(doc, page, font):
    """Make the handwriting font known to the page as ``FONT`` (in its own or its shared resources)."""
    kind, value = doc.xref_get_key(page.xref, "Resources")
    target, path = (int(value.split()[0]), "Font") if kind == "xref" else (page.xref, "Resources/Font")
    kind, value = doc.xref_get_key(target, path)
    if kind == "xref":
        target, path = int(value.split()[0]), ""
    path = f"{path}/{FONT}".lstrip("/")
    if doc.xref_get_key(target, path)[0] == "null":
        doc.xref_set_key(target, path, f"{font} 0 R")
