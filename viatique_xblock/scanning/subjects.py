"""The blank exam: the PDF the instructor uploads to print the booklets on (public API).

The print screen prints booklets either on blank pages or on the exam's own subject (SPEC section 2,
"From the blank exam (a PDF the author uploads, or N blank pages)"). The subject is uploaded once per
exam and kept in the storage; a print run then stamps each of its pages (:mod:`.booklet_jobs`).

- :func:`store` checks an uploaded PDF (the scans' validation, at most ``MAX_SUBJECT_BYTES`` and
  :data:`~viatique_xblock.pdf.booklets.MAX_BOOKLET_PAGES` pages), stores it under its SHA-256
  (``subjects/<exam>/<sha256>.pdf``) and records it on the exam (``Exam.subject``), audited
  ``booklets.subject_uploaded``. A new upload replaces the exam's subject; the files of print runs
  made before keep what they printed.
- :func:`info`: what the print screen shows of the exam's subject (name, pages, size, who, when), or None.
- :func:`read`: the bytes of a subject record (as a print run's details keep it).

Refusals: ``request_too_large`` (413) over the size limit, the scans' PDF refusals
(``pdf_unreadable``, ``pdf_encrypted``...) for a file that is not a usable PDF, ``invalid_request``
(400) for a subject of more pages than a booklet can have.
"""
import hashlib
import os

from django.utils import timezone

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest, RequestTooLarge
from viatique_xblock.i18n import N_
from viatique_xblock.pdf import booklets as pdf_booklets
from viatique_xblock.platform import conf, storage
from viatique_xblock.scanning import batches

MAX_NAME = 255


def limit():
    """The largest blank exam accepted, in bytes (``MAX_SUBJECT_BYTES``)."""
    return conf.get("MAX_SUBJECT_BYTES")


def store(exam, data, file_name="", actor=None, client_ip=None, publish=None):
    """Check and keep ``data`` (PDF bytes) as the exam's blank exam; returns :func:`info`."""
    data = bytes(data or b"")
    if len(data) > limit():
        raise RequestTooLarge(limit())
    checked = batches.validate_bytes(data)  # empty, damaged, encrypted, too many pixels...: typed refusals
    if checked.pages > pdf_booklets.MAX_BOOKLET_PAGES:
        raise InvalidRequest(N_("The blank exam has {pages} pages; a booklet has {max} pages at most."),
                             pages=checked.pages, max=pdf_booklets.MAX_BOOKLET_PAGES)
    sha256 = hashlib.sha256(data).hexdigest()
    name = storage.write_once(storage.file_name("subjects", exam.pk, f"{sha256}.pdf"), data)
    record = {
        "file": name, "sha256": sha256, "pages": checked.pages, "size": len(data),
        "name": os.path.basename(str(file_name or "").replace("\\", "/"))[:MAX_NAME] or "exam.pdf",
        "uploaded_by": getattr(actor, "username", "") or "", "uploaded_at": timezone.now().isoformat(),
    }
    type(exam).objects.filter(pk=exam.pk).update(subject=record)
    exam.subject = record
    audit.record(exam, "booklets.subject_uploaded", actor=actor, client_ip=client_ip, publish=publish,
                 details={key: record[key] for key in ("name", "pages", "size", "sha256")})
    return info(exam)


def info(exam):
    """``{name, pages, size, uploaded_by, uploaded_at}`` of the exam's blank exam, or None."""
    record = exam.subject or {}
    if not record.get("file"):
        return None
    return {key: record.get(key) for key in ("name", "pages", "size", "uploaded_by", "uploaded_at")}


def read(record):
    """The PDF bytes of a subject record (``Exam.subject``, or the copy a print run keeps)."""
    with storage.get_storage().open(record["file"], "rb") as handle:
        return handle.read()
