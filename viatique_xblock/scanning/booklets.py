"""Printable booklets for an exam (public API): numbers reserved, prenamed identities kept.

The PDF itself is made by :mod:`viatique_xblock.pdf.booklets`; this module chooses
the booklet numbers (they only grow within an exam, so two print runs never
share a number), remembers which learner each prenamed booklet was printed for,
and audits the print run.
"""
from django.db import IntegrityError, transaction
from django.db.models import Max

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest
from viatique_xblock.i18n import N_
from viatique_xblock.models import Booklet, Copy
from viatique_xblock.pdf import booklets as pdf_booklets
from viatique_xblock.scanning import batches

MAX_COPIES = pdf_booklets.MAX_COPIES


def _reserve(exam, learners, copies, actor):
    """Reserve consecutive booklet numbers; return the first one."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                highest = max(
                    Booklet.objects.filter(exam=exam).aggregate(top=Max("number"))["top"] or 0,
                    Copy.objects.filter(exam=exam).aggregate(top=Max("booklet_number"))["top"] or 0,
                )
                first = highest + 1
                Booklet.objects.bulk_create([
                    Booklet(
                        exam=exam, number=first + index, created_by=getattr(actor, "username", ""),
                        learner_anonymous_id=learner.anonymous_id if learner else None,
                        learner_username=learner.username if learner else "",
                        learner_name=learner.name if learner else "",
                    )
                    for index, learner in enumerate(learners or [None] * copies)
                ])
                return first
        except IntegrityError:
            continue  # a concurrent print run took these numbers: take the next ones
    raise InvalidRequest(N_("Booklet numbers could not be reserved; try again."))


def _check_pages(pages, copies):
    """Refuse, before any booklet number is reserved, booklets the PDF maker would not make."""
    if not 1 <= pages <= pdf_booklets.MAX_BOOKLET_PAGES:
        raise InvalidRequest(N_("A booklet has from 1 to {max} pages."), max=pdf_booklets.MAX_BOOKLET_PAGES)
    if pages * copies > pdf_booklets.MAX_TOTAL_PAGES:
        raise InvalidRequest(N_("At most {max} pages can be printed at once: print fewer booklets."),
                             max=pdf_booklets.MAX_TOTAL_PAGES)


def print_booklets(exam, *, copies=None, subject=None, blank_pages=None, learners=None, actor=None,
                   client_ip=None, publish=None):
    """The PDF (bytes) of ``copies`` anonymous booklets, or one prenamed booklet per learner.

    ``subject`` is the blank exam (PDF bytes); without it, ``blank_pages`` empty
    pages (default: the exam's pages per copy). ``learners`` are
    :class:`~viatique_xblock.platform.compat.Learner` for prenamed booklets.
    """
    if learners is not None:
        copies = len(learners)
        if not copies:
            raise InvalidRequest(N_("Nobody is enrolled in this course yet: there is no booklet to prename."))
    try:
        copies = int(copies or 0)
    except (TypeError, ValueError):
        copies = 0
    if not 1 <= copies <= MAX_COPIES:
        raise InvalidRequest(N_("Choose from 1 to {max} booklets."), max=MAX_COPIES)
    if subject:
        pages = batches.validate_bytes(subject).pages
    else:
        try:
            blank_pages = pages = int(blank_pages or exam.pages_per_copy)
        except (TypeError, ValueError):
            pages = 0
    _check_pages(pages, copies)
    first = _reserve(exam, learners, copies, actor)
    pdf = pdf_booklets.make_booklets(
        subject or None, blank_pages=None if subject else blank_pages, copies=copies,
        exam_ref=batches.exam_ref(exam), names=[learner.name for learner in learners] if learners else None,
        first_copy=first,
    )
    audit.record(exam, "booklets.printed", actor=actor, client_ip=client_ip, publish=publish, details={
        "first": first, "last": first + copies - 1, "prenamed": learners is not None,
        "subject": bool(subject)})
    return pdf, first


def prenamed_identity(exam, number):
    """The learner a booklet was printed for (a :class:`Booklet` with a learner), or None."""
    return Booklet.objects.filter(exam=exam, number=number, learner_anonymous_id__isnull=False).first()
