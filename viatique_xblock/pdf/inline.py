"""Finding the inline images (``BI ... ID ... EI``) of a content stream, in bounded memory.

Public API:

- ``inline_image_sizes(doc, xref) -> iterator of (width, height)``: the declared size of
  every inline image of content stream ``xref``, read from the decoded stream in chunks
  (never more than ``CHUNK`` bytes at a time) without decoding any image.
- ``TooComplex``: raised when the stream cannot be searched within the bounds: more than
  ``MAX_RAW`` bytes stored, more than ``MAX_DECODED`` bytes once decoded, or a filter
  other than Flate/ASCII85/ASCIIHex on more than ``MAX_OTHER_RAW`` bytes (LZW can expand
  thousands of times and is only decoded, by MuPDF, when small).

An inline image is drawn from its own header, so a few kilobytes of a content stream can
declare a 20,000 x 20,000 image that MuPDF would then decode into 400 MB: the image
XObjects listed by PyMuPDF do not include them.
"""
import base64
import re
import zlib

CHUNK = 1 << 20
MAX_RAW = 64 << 20
MAX_DECODED = 64 << 20
MAX_OTHER_RAW = 16 << 10
_OVERLAP = 4096

_INLINE = re.compile(rb"(?<![A-Za-z0-9_#])BI\s((?:(?!\bID\b)[\s\S]){0,2048})\bID\b")
_WIDTH = re.compile(rb"/(?:W|Width)\s+(\d+)")
_HEIGHT = re.compile(rb"/(?:H|Height)\s+(\d+)")
_ASCII = {"ASCII85Decode", "A85", "ASCIIHexDecode", "AHx"}
_FLATE = {"FlateDecode", "Fl"}


class TooComplex(Exception):
    """The content stream is beyond the bounds within which it is searched."""


def _filters(doc, xref):
    kind, value = doc.xref_get_key(xref, "Filter")
    return [] if kind == "null" else [name.lstrip("/") for name in value.strip("[] ").split()]


def _raw_length(doc, xref):
    kind, value = doc.xref_get_key(xref, "Length")
    if kind == "xref":
        value = doc.xref_object(int(value.split()[0]), compressed=True)
    try:
        return int(float(value))
    except ValueError:
        return MAX_RAW + 1


def _ascii(name, data):
    if name in ("ASCII85Decode", "A85"):
        body = data.strip()
        body = body[2:] if body.startswith(b"<~") else body
        return base64.a85decode(body.split(b"~>")[0], ignorechars=b" \t\n\r\x0b\x0c\x00")
    digits = re.sub(rb"\s", b"", data.split(b">")[0])
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))


def _inflate(data):
    inflate = zlib.decompressobj()
    produced = 0
    while data:
        chunk = inflate.decompress(data, CHUNK)
        produced += len(chunk)
        if produced > MAX_DECODED:
            raise TooComplex()
        data = inflate.unconsumed_tail
        yield chunk
    yield inflate.flush()


def _decoded_chunks(doc, xref):
    """The decoded content stream in chunks; TooComplex beyond the bounds."""
    if _raw_length(doc, xref) > MAX_RAW:
        raise TooComplex()
    filters = _filters(doc, xref)
    predictor = doc.xref_get_key(xref, "DecodeParms")[0] != "null"
    try:
        if not predictor and all(name in _ASCII for name in filters[:-1]) and (
                not filters or filters[-1] in _ASCII | _FLATE):
            data = doc.xref_stream_raw(xref) or b""
            for name in filters:
                if name in _ASCII:
                    data = _ascii(name, data)
            if filters and filters[-1] in _FLATE:
                yield from _inflate(data)
            elif len(data) > MAX_DECODED:
                raise TooComplex()
            else:
                yield data
            return
    except (ValueError, zlib.error):
        return  # undecodable: MuPDF draws nothing from it either
    if _raw_length(doc, xref) > MAX_OTHER_RAW:
        raise TooComplex()
    try:
        data = doc.xref_stream(xref) or b""
    except Exception:  # noqa: BLE001 - MuPDF's errors are plain RuntimeErrors
        return
    if len(data) > MAX_DECODED:
        raise TooComplex()
    yield data


def inline_image_sizes(doc, xref):
    """(width, height) of every inline image of content stream ``xref``."""
    tail = b""
    for chunk in _decoded_chunks(doc, xref):
        text = tail + chunk
        if b"BI" in text:
            for match in _INLINE.finditer(text):
                header = match.group(1)
                width, height = _WIDTH.search(header), _HEIGHT.search(header)
                if width and height:
                    yield int(width.group(1)), int(height.group(1))
        tail = text[-_OVERLAP:]
