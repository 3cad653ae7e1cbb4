"""The code printed on every booklet page: exam, copy, page and a check.

Public API:

- ``encode(exam_ref, copy, page) -> str``: the QR text, ``VQ1:<EXAM>:<copy>:<page>:<CHECK>``,
  e.g. ``VQ1:MATH1:12:3:4F9A0C``.
- ``short(exam_ref, copy, page) -> str``: the human-readable form printed next to the code,
  ``MATH1 12-3 4F9A0C``.
- ``decode(text) -> QrPayload``: parses either form (case and surrounding blanks ignored),
  raising :class:`~.errors.QrInvalid` (not one of our codes) or
  :class:`~.errors.QrChecksumMismatch` (ours, but misread or mistyped).
- ``check(exam_ref, copy, page) -> str``: the 6 check characters.
- ``QrPayload(exam_ref, copy, page)`` with ``.text`` and ``.short``.

Only QR alphanumeric characters are used (digits, A-Z, ``:``, space, ``-``), so the
code stays a version-2 QR symbol. ``exam_ref`` is 1 to 12 characters A-Z/0-9, the
copy 1 to 99999, the page 1 to 9999; other values are programming errors (ValueError).

The check is a CRC-24 (the OpenPGP polynomial 0x864CFB, RFC 4880) of
``<EXAM>:<copy>:<page>``, written as 6 hexadecimal digits. A CRC of degree 24 detects
every error burst of up to 24 bits, so every single wrong character and every swap
of two neighbouring characters is caught, and any other corruption passes with a
probability of 2^-24. It guards against misreading and mistyping, not against forgery:
whoever holds a booklet can already print its codes.
"""
import re
from dataclasses import dataclass

from viatique_xblock.pdf.errors import QrChecksumMismatch, QrInvalid

PREFIX = "VQ1"
MAX_EXAM_REF = 12
MAX_COPY = 99999
MAX_PAGE = 9999

_EXAM_RE = re.compile(r"[A-Z0-9]{1,%d}" % MAX_EXAM_REF)
_QR_RE = re.compile(r"VQ1:([A-Z0-9]{1,%d}):(\d{1,5}):(\d{1,4}):([0-9A-F]{6})" % MAX_EXAM_REF)
_SHORT_RE = re.compile(r"([A-Z0-9]{1,%d})\s+(\d{1,5})\s*-\s*(\d{1,4})\s+([0-9A-F]{6})" % MAX_EXAM_REF)


def _crc24_table():
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return table


_CRC24 = _crc24_table()


def crc24(data):
    """CRC-24/OpenPGP of ``data`` (bytes)."""
    crc = 0xB704CE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC24[((crc >> 16) ^ byte) & 0xFF]
    return crc


def _checked(exam_ref, copy, page):
    if not isinstance(exam_ref, str) or not _EXAM_RE.fullmatch(exam_ref):
        raise ValueError(f"exam_ref must be 1 to {MAX_EXAM_REF} characters A-Z or 0-9, not {exam_ref!r}")
    for name, value, top in (("copy", copy, MAX_COPY), ("page", page, MAX_PAGE)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise ValueError(f"{name} must be an integer from 1 to {top}, not {value!r}")
    return exam_ref, copy, page


def check(exam_ref, copy, page):
    """The 6 hexadecimal check characters of a page code."""
    exam_ref, copy, page = _checked(exam_ref, copy, page)
    return "%06X" % crc24(f"{exam_ref}:{copy}:{page}".encode("ascii"))


def encode(exam_ref, copy, page):
    """The QR text of one booklet page."""
    return f"{PREFIX}:{exam_ref}:{copy}:{page}:{check(exam_ref, copy, page)}"


def short(exam_ref, copy, page):
    """The human-readable form printed next to the QR code."""
    return f"{exam_ref} {copy}-{page} {check(exam_ref, copy, page)}"


@dataclass(frozen=True)
class QrPayload:
    exam_ref: str
    copy: int
    page: int

    @property
    def text(self):
        return encode(self.exam_ref, self.copy, self.page)

    @property
    def short(self):
        return short(self.exam_ref, self.copy, self.page)


def decode(text):
    """The payload of a QR text or of a typed short form; raises a typed error otherwise."""
    shown = str(text or "")[:80]
    normal = shown.strip().upper()
    match = _QR_RE.fullmatch(normal) or _SHORT_RE.fullmatch(normal)
    if not match:
        raise QrInvalid(text=shown)
    exam_ref, copy, page, given = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
    if not (1 <= copy and 1 <= page):
        raise QrInvalid(text=shown)
    if check(exam_ref, copy, page) != given:
        raise QrChecksumMismatch(text=shown)
    return QrPayload(exam_ref, copy, page)
