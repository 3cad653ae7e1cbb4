"""Fonts of the PDFs we write: which font draws a character, widths, wrapping that drops nothing."""
import pymupdf
import pytest

from viatique_xblock.pdf import fonts


def test_maths_signs_firago_lacks_are_drawn_with_the_maths_font():
    assert fonts.runs("x ∈ ℝ ⇒ é ≤ √π") == [(fonts.REGULAR, "x "), (fonts.MATH, "∈"), (fonts.REGULAR, " "),
                                          (fonts.MATH, "ℝ"), (fonts.REGULAR, " "), (fonts.MATH, "⇒"),
                                          (fonts.REGULAR, " é ≤ √π")]
    assert fonts.runs("Total ∀", fonts.BOLD) == [(fonts.BOLD, "Total "), (fonts.MATH, "∀")]


def test_measure_adds_the_advances_of_the_characters():
    regular = fonts.font(fonts.REGULAR)
    assert fonts.measure("Bonjour", 10) == pytest.approx(regular.text_length("Bonjour", fontsize=10), rel=1e-3)
    assert fonts.measure("ab", 12) == pytest.approx(fonts.measure("a", 12) + fonts.measure("b", 12))
    assert fonts.measure("Bonjour", 10, fonts.BOLD) > fonts.measure("Bonjour", 10)


@pytest.mark.parametrize("text", [
    "Un texte assez long pour tenir sur plusieurs lignes, avec des accents : é è à ç ≤ ∈ ℝ.",
    "Deux paragraphes.\nLe second  garde  ses espaces doubles.\n\nEt une ligne vide avant.",
    "anticonstitutionnellementanticonstitutionnellementanticonstitutionnellement fin",
])
def test_wrap_keeps_every_character_and_every_line_fits(text):
    lines = fonts.wrap(text, 80, 9)

    assert all(fonts.measure(line, 9) <= 80 for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())
    assert len(lines) >= text.count("\n") + 1


def test_wrap_cuts_at_spaces_and_keeps_line_breaks():
    assert fonts.wrap("a b", 1000, 9) == ["a b"]
    assert fonts.wrap("premier\nsecond", 1000, 9) == ["premier", "second"]
    assert fonts.wrap("", 100, 9) == [""]
    narrow = fonts.wrap("mot mot mot", fonts.measure("mot mot", 9) + 0.1, 9)
    assert narrow == ["mot mot", "mot"]


def test_clean_removes_control_characters():
    assert fonts.clean("a\x00b\tc\r\nd\x1b\ud800e") == "ab    c\nde"
    assert fonts.clean(None) == ""


def test_embedded_fonts_show_glyph_indexes_and_name_their_resources():
    doc = pymupdf.open()
    doc.new_page()
    embedded = fonts.Embedded(doc)
    hexes = embedded.glyphs("é≤", fonts.REGULAR)
    assert len(hexes) == 8 and all(char in "0123456789abcdef" for char in hexes)
    assert embedded.resources({fonts.REGULAR}) == f"<</VqRegular {embedded.xrefs[fonts.REGULAR]} 0 R>>"
