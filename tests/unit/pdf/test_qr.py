"""The booklet page code: compact, checked, and every misread or mistyped character caught."""
import pytest
import segno

from viatique_xblock.pdf import qr
from viatique_xblock.pdf.errors import QrChecksumMismatch, QrInvalid

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ :-"


def test_crc24_is_the_openpgp_crc():
    assert qr.crc24(b"123456789") == 0x21CF02


def test_encode_and_decode_round_trip():
    text = qr.encode("MATH1", 12, 3)
    assert text.startswith("VQ1:MATH1:12:3:")
    assert len(text.rsplit(":", 1)[1]) == 6
    payload = qr.decode(text)
    assert payload == qr.QrPayload("MATH1", 12, 3)
    assert payload.text == text
    assert payload.short == qr.short("MATH1", 12, 3) == f"MATH1 12-3 {qr.check('MATH1', 12, 3)}"


@pytest.mark.parametrize("typed", [
    lambda s: s.lower(),
    lambda s: f"  {s}  ",
    lambda s: s.replace(" ", "   ").replace("-", " - "),
])
def test_short_form_can_be_typed_back(typed):
    assert qr.decode(typed(qr.short("BAC2026", 7, 11))) == qr.QrPayload("BAC2026", 7, 11)


def test_every_single_wrong_character_is_caught():
    text = qr.encode("MATH1", 12, 3)
    for position, original in enumerate(text):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            typo = text[:position] + replacement + text[position + 1:]
            with pytest.raises((QrInvalid, QrChecksumMismatch)):
                qr.decode(typo)


def test_every_swap_of_neighbouring_characters_is_caught():
    for text in (qr.encode("MATH1", 12, 3), qr.short("PHYS22", 314, 15)):
        for position in range(len(text) - 1):
            a, b = text[position], text[position + 1]
            if a == b:
                continue
            swapped = text[:position] + b + a + text[position + 2:]
            with pytest.raises((QrInvalid, QrChecksumMismatch)):
                qr.decode(swapped)


def test_misread_check_gives_its_own_code():
    text = qr.encode("MATH1", 12, 3)
    wrong = text[:-1] + ("0" if text[-1] != "0" else "1")
    with pytest.raises(QrChecksumMismatch) as caught:
        qr.decode(wrong)
    assert caught.value.code == "qr_checksum_mismatch"
    assert wrong in caught.value.message


@pytest.mark.parametrize("text", ["", None, "hello", "https://example.org", "VQ2:MATH1:1:1:000000",
                                  "VQ1:MATH1:0:1:" + "0" * 6, "VQ1:MATH1:1:1:XYZXYZ", "VQ1:MATH_1:1:1:000000",
                                  "VQ1:" + "A" * 13 + ":1:1:000000"])
def test_not_a_page_code(text):
    with pytest.raises(QrInvalid) as caught:
        qr.decode(text)
    assert caught.value.code == "qr_invalid"


@pytest.mark.parametrize("args", [("math1", 1, 1), ("", 1, 1), ("A" * 13, 1, 1), ("A-B", 1, 1),
                                  ("A", 0, 1), ("A", 1, 0), ("A", 100000, 1), ("A", 1, 10000), ("A", True, 1)])
def test_programming_errors_are_value_errors(args):
    with pytest.raises(ValueError):
        qr.encode(*args)


def test_longest_code_still_fits_a_version_2_symbol():
    text = qr.encode("A" * qr.MAX_EXAM_REF, qr.MAX_COPY, qr.MAX_PAGE)
    symbol = segno.make(text, error="m", version=2, mode="alphanumeric", boost_error=False)
    assert symbol.version == 2
