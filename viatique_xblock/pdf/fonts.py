"""Unicode fonts for the PDFs Viatique writes, measured and wrapped, from the pymupdf-fonts package.

Public API:

- ``REGULAR``, ``BOLD``: the two styles (FiraGO Regular and Bold: Latin with every French
  letter, Greek, Cyrillic, arrows and the common mathematical signs such as ≤ ≥ √ π ∑ ∞ −).
  Characters FiraGO lacks (∈ ∀ ⇒ ℝ ...) are drawn with Noto Sans Math (``MATH``).
- ``font(style) -> pymupdf.Font`` (loaded once per process).
- ``runs(text, style) -> [(style, part), ...]``: ``text`` cut into parts each drawn by one font.
- ``measure(text, size, style) -> float``: width in points.
- ``wrap(text, width, size, style) -> [line, ...]``: the text in lines of at most ``width``
  points, cut at spaces, words longer than a line cut between characters; line breaks of the
  text kept; nothing dropped but the spaces where lines break.
- ``clean(text) -> str``: tabs made spaces, other control characters (and lone surrogates) removed.
- ``Embedded(doc)``: the fonts of a PDF, each embedded once when first used (Type0,
  Identity-H): ``.name(style)`` its resource name, ``.glyphs(text, style)`` the hex glyph
  string of a run for ``<...> Tj`` (whatever the text, nothing in it can be read as PDF
  syntax), ``.resources(styles)`` the /Font dictionary naming them, and ``.finish()`` once
  everything is drawn: fonts subset, widths and a ToUnicode map (text extraction gives the
  characters back) of the glyphs shown, font files deflated.

The fonts come with the ``pymupdf-fonts`` package (a dependency), so they are the same on
every machine, whatever fonts the system has. A document embeds them whole, then
``Embedded.finish`` subsets them to the glyphs shown.
"""
import functools
import re

import pymupdf
import pymupdf_fonts
from pymupdf import mupdf

from viatique_xblock.pdf.objects import store_deflated

REGULAR = "figo"
BOLD = "figbo"
MATH = "math"
NAMES = {REGULAR: "VqRegular", BOLD: "VqBold", MATH: "VqMath"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")


@functools.lru_cache(maxsize=None)
def font(style):
    return pymupdf.Font(fontbuffer=pymupdf_fonts.myfont(style))


_GLYPHS = {REGULAR: {}, BOLD: {}, MATH: {}}
_CACHED = 20_000


def _lookup(char, style):
    """``(style drawing it, glyph index, advance in ems)`` of ``char`` written in ``style``: the
    style itself, else the maths font when it has the glyph. Looked up once per process."""
    code = ord(char)
    drawn = style
    if char != " " and not font(style).has_glyph(code) and font(MATH).has_glyph(code):
        drawn = MATH
    known = (drawn, font(drawn).has_glyph(code), font(drawn).glyph_advance(code))
    if len(_GLYPHS[style]) < _CACHED:  # bounded, whatever characters the texts hold
        _GLYPHS[style][char] = known
    return known


def _glyph(char, style):
    return _GLYPHS[style].get(char) or _lookup(char, style)


def clean(text):
    """The text without control characters that a PDF string or a line break would misread."""
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub("", text)


def runs(text, style=REGULAR):
    parts = []
    for char in text:
        current = _glyph(char, style)[0]
        if parts and parts[-1][0] == current:
            parts[-1][1].append(char)
        else:
            parts.append((current, [char]))
    return [(current, "".join(chars)) for current, chars in parts]


def measure(text, size, style=REGULAR):
    known = _GLYPHS[style]
    return size * sum((known.get(char) or _lookup(char, style))[2] for char in text)


def _cut(word, width, size, style):
    """The longest prefix of ``word`` (one character at least) that fits in ``width``."""
    total = 0.0
    for index, char in enumerate(word):
        total += measure(char, size, style)
        if total > width:
            return max(index, 1)
    return len(word)


def wrap(text, width, size, style=REGULAR):
    lines = []
    space = measure(" ", size, style)
    for paragraph in clean(text).split("\n"):
        line, line_width = None, 0.0
        for word in paragraph.split(" "):
            word_width = measure(word, size, style)
            if line is not None and line_width + space + word_width <= width:
                line, line_width = f"{line} {word}", line_width + space + word_width
                continue
            if line is not None:
                lines.append(line)
            while word_width > width and len(word) > 1:
                cut = _cut(word, width, size, style)
                lines.append(word[:cut])
                word = word[cut:]
                word_width = measure(word, size, style)
            line, line_width = word, word_width
        lines.append(line)
    return lines


class Embedded:
    """The fonts of one PDF document, each embedded when first used, named ``NAMES[style]`` in
    the resources that use it; ``finish()`` trims them to the glyphs shown."""

    def __init__(self, doc):
        self.doc = doc
        self.xrefs = {}
        self.shown = {}

    def name(self, style):
        if style not in self.xrefs:
            added = mupdf.pdf_add_cid_font(pymupdf._as_pdf_document(self.doc), font(style).this)
            self.xrefs[style] = mupdf.pdf_to_num(added)
            self.shown[style] = {}
        return NAMES[style]

    def glyphs(self, text, style):
        """The hex string of ``text`` (one run of ``style``) for ``<...> Tj``: glyph indexes, so
        nothing in the text can be read as PDF syntax."""
        self.name(style)
        shown = self.shown[style]
        codes = []
        for char in text:
            glyph = _glyph(char, style)[1]
            if glyph:  # not .notdef, the glyph of every character no font has
                shown.setdefault(glyph, char)
            codes.append(f"{glyph:04x}")
        return "".join(codes)

    def resources(self, styles):
        """The /Font dictionary (PDF source) that names ``styles``."""
        return "<<" + "".join(f"/{self.name(style)} {self.xrefs[style]} 0 R" for style in sorted(styles)) + ">>"

    def finish(self):
        """Subset the fonts, give them widths and a ToUnicode map of the glyphs shown only (MuPDF
        writes them for the whole font), and deflate their files."""
        if not self.xrefs:
            return
        try:
            self.doc.subset_fonts()
        except Exception:  # noqa: BLE001 - a font of the scan MuPDF cannot subset: ours stay whole, still right
            pass
        doc = self.doc
        for style, xref in self.xrefs.items():
            shown = sorted(self.shown[style].items())
            descendant = _reference(doc, xref, "DescendantFonts")
            widths = " ".join(f"{glyph} [{round(_glyph(char, style)[2] * 1000)}]" for glyph, char in shown)
            doc.xref_set_key(descendant, "W", f"[{widths}]")
            store_deflated(doc, _reference(doc, xref, "ToUnicode"), _unicode_map(shown))
            descriptor = _reference(doc, descendant, "FontDescriptor")
            for key in ("FontFile2", "FontFile3", "FontFile"):
                stream = _reference(doc, descriptor, key)
                if stream and doc.xref_get_key(stream, "Filter")[0] == "null":
                    store_deflated(doc, stream, doc.xref_stream(stream))


def _reference(doc, xref, key):
    kind, value = doc.xref_get_key(xref, key)
    if kind == "xref":
        return int(value.split()[0])
    if kind == "array" and value.strip("[] "):
        return int(value.strip("[] ").split()[0])
    return None


def _unicode_map(shown):
    """A ToUnicode CMap of ``[(glyph index, character)]`` (UTF-16BE, surrogate pairs beyond the BMP)."""
    entries = [f"<{glyph:04x}> <{char.encode('utf-16-be').hex()}>" for glyph, char in shown]
    blocks = "".join(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar\n"
                     for chunk in (entries[start:start + 100] for start in range(0, len(entries), 100)))
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n"
            f"{blocks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode()
