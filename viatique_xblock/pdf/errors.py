"""Typed refusals of the PDF layer: one class per stable code, each with a translatable message.

Public API: :class:`PdfError` (base, a :class:`~viatique_xblock.errors.ViatiqueError`) and
its subclasses below. Every class carries ``code`` (never changes), ``status`` and a
default message template marked with ``N_``; a raise site may pass a more precise
template. Parameters are formatted into the translated template.
"""
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_


class PdfError(ViatiqueError):
    """A file or a code that the PDF layer refuses."""

    code = "pdf_error"
    status = 400
    default_message = N_("This PDF cannot be used.")

    def __init__(self, message=None, **params):
        super().__init__(message or self.default_message, **params)

    def extra(self):
        return {key: value for key, value in self.params.items() if isinstance(value, (int, str))}


class FileEmpty(PdfError):
    code = "file_empty"
    default_message = N_("The file is empty. Check that the scan finished, then upload the file again.")


class FileTooLarge(PdfError):
    code = "file_too_large"
    status = 413
    default_message = N_(
        "The file is {size_mb} MB; the largest file accepted is {limit_mb} MB. "
        "Split the scan into several files and upload them one after the other."
    )


class NotAPdf(PdfError):
    code = "not_a_pdf"
    default_message = N_(
        "This file is not a PDF. Scan or export the copies as a PDF file and upload that file."
    )


class PdfUnreadable(PdfError):
    code = "pdf_unreadable"
    default_message = N_(
        "This PDF is damaged and cannot be read. Open it in a PDF reader and save a new copy, "
        "or scan the copies again, then upload the new file."
    )


class PdfEncrypted(PdfError):
    code = "pdf_encrypted"
    default_message = N_(
        "This PDF is protected by a password or encryption. Save an unprotected copy "
        "(in the scanner's settings, or with \"Print to PDF\") and upload that copy."
    )


class PdfEmpty(PdfError):
    code = "pdf_empty"
    default_message = N_("This PDF has no pages. Check that the scan finished, then upload the complete file.")


class TooManyPages(PdfError):
    code = "too_many_pages"
    default_message = N_(
        "This PDF has {pages} pages; at most {limit} pages are accepted in one file. "
        "Split the scan into smaller files and upload them one after the other."
    )


class PageSizeInvalid(PdfError):
    code = "page_size_invalid"
    default_message = N_(
        "Page {page} has an invalid size ({width} x {height} points). "
        "Scan the copies again on A4 or Letter paper and upload the new file."
    )


class PageTooLargePixels(PdfError):
    code = "page_too_large_pixels"
    default_message = N_(
        "Page {page} would need {megapixels} million pixels, more than the {limit} million allowed. "
        "Scan the copies again at a lower resolution (150 to 300 dpi) and upload the new file."
    )


class PageTooComplex(PdfError):
    code = "page_too_complex"
    default_message = N_(
        "Page {page} is too complex to be processed: its drawing instructions exceed {limit_mb} MB. "
        "Scan the copies again, or print the file to a new PDF, and upload the new file."
    )


class QrInvalid(PdfError):
    code = "qr_invalid"
    default_message = N_(
        "\"{text}\" is not a page code of this exam. A code looks like \"MATH1 12-3 4F9A0C\"."
    )


class QrChecksumMismatch(PdfError):
    code = "qr_checksum_mismatch"
    default_message = N_(
        "The page code \"{text}\" was misread or mistyped: its check characters do not match. "
        "Read the code printed next to the QR code again."
    )


class SourcePageMissing(PdfError):
    code = "source_page_missing"
    status = 500
    default_message = N_(
        "Page {page} of this copy is no longer in its scan file. Import the scan again, then retry."
    )
