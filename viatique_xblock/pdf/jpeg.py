"""Reading a JPEG's headers without decoding it, and cutting its first rows out for free.

Public API:

- ``info(data) -> JpegInfo | None``: width, height, components, precision, ``process``
  (``"baseline"``, ``"progressive"`` or ``"other"``), the EXIF orientation (1 when absent)
  and whether an Adobe marker is present; None when ``data`` is not a readable JPEG.
- ``top_rows(data, rows) -> bytes | None``: the same JPEG declaring only its first ``rows``
  rows. A sequential (baseline) JPEG is coded from the top down, so a decoder stops after
  those rows: reading the top of a page costs a fraction of decoding all of it. None for
  progressive and other JPEGs, which must be decoded whole.
- ``with_orientation(data, turn, header=None) -> bytes | None``: the same JPEG, its coded
  pixels untouched, with an Exif orientation saying to turn it clockwise by ``turn`` (0, 90,
  180 or 270) to show it: browsers (and :mod:`.images`) show it upright, nothing is
  re-encoded. None when the JPEG already carries Exif data (which would then say two things).
- ``ORIENTATIONS``: the Exif orientation of each clockwise turn.
"""
from dataclasses import dataclass

_SOF_SEQUENTIAL = (0xC0, 0xC1)
_SOF_PROGRESSIVE = (0xC2,)
_SOF_OTHER = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_STANDALONE = {0x01, 0xD8} | set(range(0xD0, 0xD8))
_MAX_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class JpegInfo:
    width: int
    height: int
    components: int
    precision: int
    process: str
    orientation: int
    adobe: bool
    sof_offset: int  # where the frame header's marker is
    exif: bool = False  # an APP1 Exif segment is present
    app0_end: int = 2  # where the JFIF (APP0) segment that opens the file ends, else just after SOI


def _segments(data):
    """(marker, offset, payload) of each header segment up to the frame header."""
    if data[:2] != b"\xff\xd8":
        return
    i, end = 2, min(len(data), _MAX_HEADER_BYTES)
    while i + 4 <= end:
        if data[i] != 0xFF:
            return
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2:
            return
        yield marker, i, data[i + 4:i + 2 + length]
        if marker in _SOF_SEQUENTIAL + _SOF_PROGRESSIVE + _SOF_OTHER or marker == 0xDA:
            return
        i += 2 + length


def _exif_orientation(payload):
    """The orientation tag of an APP1 Exif payload (1 when absent or unreadable)."""
    if not payload.startswith(b"Exif\0\0") or len(payload) < 14:
        return 1
    tiff = payload[6:]
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None:
        return 1
    offset = int.from_bytes(tiff[4:8], order)
    if offset + 2 > len(tiff):
        return 1
    count = int.from_bytes(tiff[offset:offset + 2], order)
    for entry in range(count):
        at = offset + 2 + 12 * entry
        if at + 12 > len(tiff):
            break
        if int.from_bytes(tiff[at:at + 2], order) == 0x0112:
            return int.from_bytes(tiff[at + 8:at + 10], order) or 1
    return 1


def info(data):
    """What the headers of a JPEG say, or None when they cannot be read."""
    orientation, adobe, exif, app0_end = 1, False, False, 2
    for marker, offset, payload in _segments(data):
        if marker == 0xE0 and offset == 2:
            app0_end = offset + 4 + len(payload)
        elif marker == 0xE1 and payload.startswith(b"Exif\0\0"):
            exif = True
            orientation = _exif_orientation(payload)
        elif marker == 0xEE and payload.startswith(b"Adobe"):
            adobe = True
        elif marker in _SOF_SEQUENTIAL + _SOF_PROGRESSIVE + _SOF_OTHER:
            if len(payload) < 6:
                return None
            height = int.from_bytes(payload[1:3], "big")
            width = int.from_bytes(payload[3:5], "big")
            process = (
                "baseline" if marker in _SOF_SEQUENTIAL
                else "progressive" if marker in _SOF_PROGRESSIVE else "other"
            )
            return JpegInfo(width, height, payload[5], payload[0], process, orientation, adobe, offset, exif,
                            app0_end)
    return None


def top_rows(data, rows, header=None):
    """The JPEG cut to its first ``rows`` rows (sequential JPEGs only), else None."""
    header = header or info(data)
    if header is None or header.process != "baseline" or not 0 < rows < header.height:
        return None
    at = header.sof_offset + 5  # marker (2), length (2), precision (1), then the height
    return data[:at] + rows.to_bytes(2, "big") + data[at + 2:]


#: Exif orientation of each clockwise turn that shows the image upright
ORIENTATIONS = {0: 1, 90: 6, 180: 3, 270: 8}


def with_orientation(data, turn, header=None):
    """The JPEG tagged to be shown turned clockwise by ``turn`` (see the module docstring)."""
    header = header or info(data)
    if header is None or header.exif:
        return None
    orientation = ORIENTATIONS[int(turn) % 360]
    # a big-endian TIFF header, one IFD of one entry: Orientation (0x0112), SHORT, 1 value
    tiff = (b"MM\0*" + (8).to_bytes(4, "big") + (1).to_bytes(2, "big")
            + b"\x01\x12" + (3).to_bytes(2, "big") + (1).to_bytes(4, "big") + orientation.to_bytes(2, "big")
            + b"\0\0" + (0).to_bytes(4, "big"))
    payload = b"Exif\0\0" + tiff
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:header.app0_end] + segment + data[header.app0_end:]
