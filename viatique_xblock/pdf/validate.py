"""Validation of an uploaded scan PDF, before anything is created from it.

Public API:

- ``Limits(max_bytes, max_pages, max_page_side_points, max_page_pixels, dpi=150)`` and
  ``Limits.from_settings(get)`` where ``get`` is ``viatique_xblock.platform.conf.get`` (this module
  never reads settings itself).
- ``validate_pdf(path, limits) -> PdfInfo`` raising a :class:`~.errors.PdfError` subclass.
- ``open_document(path_or_bytes) -> pymupdf.Document``, refusing unreadable and encrypted
  files with typed errors (used for any PDF this package opens).
- ``PdfInfo`` (pages, sha256, size_bytes, repaired, page_sizes, rotated_pages,
  largest_image_pixels) with ``as_dict()``.

Checks, in this order, each one cheap: size (``file_empty``, ``file_too_large``), PDF
signature in the first 1024 bytes (``not_a_pdf``), while the SHA-256 is computed in the
same single read; opening in PyMuPDF (``pdf_unreadable``; a broken file that MuPDF
repairs is accepted and flagged ``repaired``; any error MuPDF raises while opening the file or
counting its pages, as on a truncated file, is this refusal too); no encryption at all (``pdf_encrypted``,
even an owner password alone); 1 to ``max_pages`` pages (``pdf_empty``,
``too_many_pages``); for each page, a size between 1 inch and ``max_page_side_points``
(``page_size_invalid``), its rendering at ``dpi`` within ``max_page_pixels`` and every
image it uses (image XObjects, their soft masks, inline images of its content streams and
of its forms) declared at most ``max_page_pixels`` pixels (``page_too_large_pixels``), and
content streams small enough to be searched for inline images (``page_too_complex``, see
:mod:`.inline`). Image sizes come from the image dictionaries and inline image headers:
nothing is decoded or rendered, and memory stays flat whatever the file size.
"""
import hashlib
import os
from collections import Counter
from dataclasses import asdict, dataclass

import pymupdf

from viatique_xblock.i18n import N_
from viatique_xblock.pdf.errors import (FileEmpty, FileTooLarge, NotAPdf, PageSizeInvalid, PageTooComplex,
                                        PageTooLargePixels, PdfEmpty, PdfEncrypted, PdfError, PdfUnreadable,
                                        TooManyPages)
from viatique_xblock.pdf.inline import MAX_DECODED, TooComplex, inline_image_sizes

CHUNK = 1 << 20
SIGNATURE_WINDOW = 1024
MIN_PAGE_SIDE_POINTS = 72.0
MB = 1024 * 1024



@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int
    max_page_side_points: float
    max_page_pixels: int
    dpi: int = 150

    @classmethod
    def from_settings(cls, get):
        """Limits from the ``VIATIQUE`` settings, ``get`` being ``viatique_xblock.platform.conf.get``."""
        return cls(
            max_bytes=get("MAX_UPLOAD_BYTES"),
            max_pages=get("MAX_PAGES"),
            max_page_side_points=get("MAX_PAGE_SIDE_POINTS"),
            max_page_pixels=get("MAX_PAGE_PIXELS"),
            dpi=get("PAGE_IMAGE_DPI"),
        )


@dataclass(frozen=True)
class PdfInfo:
    pages: int
    sha256: str
    size_bytes: int
    repaired: bool  # MuPDF had to rebuild the file's structure (truncated or damaged file)
    page_sizes: tuple  # ((width_pt, height_pt, count), ...) as displayed: the ten most frequent sizes
    rotated_pages: int  # pages with a /Rotate of 90, 180 or 270
    largest_image_pixels: int

    def as_dict(self):
        info = asdict(self)
        info["page_sizes"] = [list(size) for size in self.page_sizes]
        return info


def _read(path, limits):
    """Size, signature and SHA-256 in one pass over the file."""
    size = os.stat(path).st_size
    if size == 0:
        raise FileEmpty()
    if size > limits.max_bytes:
        raise FileTooLarge(size_mb=_mb(size), limit_mb=_mb(limits.max_bytes))
    digest = hashlib.sha256()
    read = 0
    with open(path, "rb") as handle:
        first = handle.read(CHUNK)
        if b"%PDF-" not in first[:SIGNATURE_WINDOW]:
            raise NotAPdf()
        chunk = first
        while chunk:
            read += len(chunk)
            if read > limits.max_bytes:
                raise FileTooLarge(size_mb=_mb(read), limit_mb=_mb(limits.max_bytes))
            digest.update(chunk)
            chunk = handle.read(CHUNK)
    return read, digest.hexdigest()


def _mb(size):
    return f"{size / MB:.1f}" if size < 10 * MB else str(round(size / MB))


def open_document(source):
    """A PyMuPDF document of a PDF path or bytes; unreadable or encrypted files are refused."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            doc = pymupdf.open(stream=bytes(source), filetype="pdf")
        else:
            doc = pymupdf.open(os.fspath(source), filetype="pdf")
    except Exception as error:  # MuPDF raises FileDataError, RuntimeError, ValueError...
        raise PdfUnreadable() from error
    try:
        if not doc.is_pdf:
            raise NotAPdf()
        if doc.needs_pass or doc.is_encrypted or (doc.metadata or {}).get("encryption"):
            raise PdfEncrypted()
        # a damaged file may open and still have no page tree MuPDF can count: the first 2,000 bytes of
        # a scan raise RuntimeError("code=7: Invalid number of pages") here
        doc.page_count  # noqa: B018
    except PdfError:
        doc.close()
        raise
    except Exception as error:  # whatever MuPDF raises on a damaged file
        doc.close()
        raise PdfUnreadable() from error
    return doc


class _PageChecker:
    """Checks pages one by one, each image and content stream once however many pages share it."""

    def __init__(self, doc, limits):
        self.doc = doc
        self.limits = limits
        self.images = set()
        self.streams = set()
        self.largest = 0

    def _budget(self, number, width, height):
        pixels = width * height
        self.largest = max(self.largest, pixels)
        if pixels > self.limits.max_page_pixels:
            raise PageTooLargePixels(
                N_("Page {page} contains an image of {width} x {height} pixels, more than the "
                   "{limit} million pixels allowed. Scan the copies again at a lower resolution "
                   "(150 to 300 dpi) and upload the new file."),
                page=number, width=width, height=height, limit=_millions(self.limits.max_page_pixels),
            )

    def _image(self, number, xref, width, height):
        if xref not in self.images:
            self.images.add(xref)
            self._budget(number, width, height)

    def _stream(self, number, xref):
        if xref in self.streams:
            return
        self.streams.add(xref)
        try:
            for width, height in inline_image_sizes(self.doc, xref):
                self._budget(number, width, height)
        except TooComplex:
            raise PageTooComplex(page=number, limit_mb=MAX_DECODED >> 20) from None

    def _size(self, number, width, height):
        shown = {"page": number, "width": round(width), "height": round(height)}
        if max(width, height) > self.limits.max_page_side_points:
            raise PageSizeInvalid(
                N_("Page {page} measures {width} x {height} points, more than the largest page side "
                   "accepted ({limit} points). Scan the copies again on A4 or Letter paper and upload "
                   "the new file."),
                limit=round(self.limits.max_page_side_points), **shown,
            )
        if min(width, height) < MIN_PAGE_SIDE_POINTS:
            raise PageSizeInvalid(**shown)
        scale = self.limits.dpi / 72.0
        pixels = round(width * scale) * round(height * scale)
        if pixels > self.limits.max_page_pixels:
            raise PageTooLargePixels(
                page=number, megapixels=_millions(pixels), limit=_millions(self.limits.max_page_pixels)
            )

    def check(self, index):
        """((width, height) in points as displayed, rotated?) of page ``index``, or a refusal."""
        number = index + 1
        page = self.doc.load_page(index)
        self._size(number, page.rect.width, page.rect.height)
        for xref, smask, width, height, *_rest in self.doc.get_page_images(index, full=True):
            self._image(number, xref, width, height)
            if smask:
                self._image(number, smask, *_dimensions(self.doc, smask))
        for xref in page.get_contents():
            self._stream(number, xref)
        for xref, _name, _invoker, _bbox in self.doc.get_page_xobjects(index):
            self._stream(number, xref)
        return (round(page.rect.width), round(page.rect.height)), page.rotation % 360 != 0


def _dimensions(doc, xref):
    """(width, height) declared by an image dictionary; unreadable values count as 0."""
    values = []
    for key in ("Width", "Height"):
        kind, value = doc.xref_get_key(xref, key)
        values.append(int(float(value)) if kind in ("int", "real") else 0)
    return values


def _millions(pixels):
    return f"{pixels / 1e6:.0f}" if pixels >= 10e6 else f"{pixels / 1e6:.1f}"


def validate_pdf(path, limits):
    """Check an uploaded file against ``limits``; its :class:`PdfInfo`, or a typed refusal."""
    size, sha256 = _read(path, limits)
    doc = open_document(path)
    try:
        try:
            repaired = bool(doc.is_repaired)
            pages = doc.page_count
        except Exception as error:  # MuPDF cannot read the damaged file's structure
            raise PdfUnreadable() from error
        if pages == 0:
            raise PdfEmpty()
        if pages > limits.max_pages:
            raise TooManyPages(pages=pages, limit=limits.max_pages)
        checker = _PageChecker(doc, limits)
        sizes, rotated = Counter(), 0
        for index in range(pages):
            try:
                page_size, is_rotated = checker.check(index)
            except PdfError:
                raise
            except Exception as error:  # MuPDF cannot load the page
                raise PdfUnreadable() from error
            sizes[page_size] += 1
            rotated += is_rotated
        return PdfInfo(
            pages=pages,
            sha256=sha256,
            size_bytes=size,
            repaired=repaired,
            page_sizes=tuple((w, h, count) for (w, h), count in sizes.most_common(10)),
            rotated_pages=rotated,
            largest_image_pixels=checker.largest,
        )
    finally:
        doc.close()
