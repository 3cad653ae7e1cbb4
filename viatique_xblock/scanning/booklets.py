"""Printable booklets for an exam (public API): numbers drawn at random, prenamed identities kept.

The PDF itself is made by :mod:`viatique_xblock.pdf.booklets`; this module chooses
the booklet numbers, remembers which learner each prenamed booklet was printed for,
and audits the print run.

Booklet numbers are printed on every page, which graders see: they must say nothing about the
learner. Each booklet, anonymous or prenamed, gets a number drawn at random (the system's
CSPRNG) among the five-digit numbers this exam has never used (:data:`LOWEST` to
:data:`HIGHEST`; a :class:`~viatique_xblock.models.Booklet` row keeps every number printed, so
two print runs never share one), in no order: not the roster's, not the print run's, not
consecutive. Only the instructor's side (the ``Booklet`` rows of prenamed booklets) links a
number to a learner. Booklets printed by earlier versions (numbered 1, 2, ...) still scan.
"""
import secrets

from django.db import IntegrityError, transaction

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import Booklet, Copy
from viatique_xblock.pdf import booklets as pdf_booklets, qr
from viatique_xblock.scanning import batches

MAX_COPIES = pdf_booklets.MAX_COPIES
#: booklet numbers are drawn from this range: always five digits, so not even a number's length
#: tells one print run (or one learner) from another
LOWEST = 10000
HIGHEST = qr.MAX_COPY

_random = secrets.SystemRandom()


def _taken(exam):
    """Every booklet number this exam ever printed or scanned."""
    return (set(Booklet.objects.filter(exam=exam).values_list("number", flat=True))
            | set(Copy.objects.filter(exam=exam, booklet_number__isnull=False)
                  .values_list("booklet_number", flat=True)))


def draw_numbers(exam, count):
    """``count`` distinct booklet numbers this exam never used, drawn at random, in random order."""
    taken = _taken(exam)
    free = HIGHEST - LOWEST + 1 - sum(1 for number in taken if LOWEST <= number <= HIGHEST)
    if count > free:
        raise InvalidRequest(N_("This exam has only {count} booklet numbers left: print fewer booklets."),
                             count=max(free, 0))
    if count * 4 > free:  # nearly full: draw from the list of free numbers
        return _random.sample([number for number in range(LOWEST, HIGHEST + 1) if number not in taken], count)
    numbers, chosen = [], set()
    while len(numbers) < count:
        number = _random.randint(LOWEST, HIGHEST)
        if number not in taken and number not in chosen:
            chosen.add(number)
            numbers.append(number)
    return numbers


def cover(exam):
    """What the covers of this exam's booklets say, in the current language, and the height of the band
    graders never see (the exam's name area): the name box and the instructions go inside it."""
    return pdf_booklets.Cover(
        name=_("Name"),
        anonymous=_("Write your name in the box above, and nowhere else: graders never see this band."),
        prenamed=_("This booklet is printed for you: check the name above and write no name anywhere else."),
        band=exam.name_area[3],
    )


def reserve(exam, learners, copies, actor):
    """Reserve ``copies`` random booklet numbers (see the module docstring); return them in print order."""
    for _attempt in range(5):
        numbers = draw_numbers(exam, copies)
        try:
            with transaction.atomic():
                Booklet.objects.bulk_create([
                    Booklet(
                        exam=exam, number=number, created_by=getattr(actor, "username", ""),
                        learner_anonymous_id=learner.anonymous_id if learner else None,
                        learner_username=learner.username if learner else "",
                        learner_name=learner.name if learner else "",
                    )
                    for number, learner in zip(numbers, learners or [None] * copies)
                ])
                return numbers
        except IntegrityError:
            continue  # a concurrent print run took one of these numbers: draw again
    raise InvalidRequest(N_("Booklet numbers could not be reserved; try again."))


def check_pages(pages, copies, extra_pages=0):
    """Refuse, before any booklet number is reserved, booklets the PDF maker would not make."""
    if not 0 <= extra_pages <= pdf_booklets.MAX_BOOKLET_PAGES:
        raise InvalidRequest(N_("A booklet has from 0 to {max} extra blank pages."), max=pdf_booklets.MAX_BOOKLET_PAGES)
    pages += extra_pages
    if not 1 <= pages <= pdf_booklets.MAX_BOOKLET_PAGES:
        raise InvalidRequest(N_("A booklet has from 1 to {max} pages."), max=pdf_booklets.MAX_BOOKLET_PAGES)
    if pages * copies > pdf_booklets.MAX_TOTAL_PAGES:
        raise InvalidRequest(N_("At most {max} pages can be printed at once: print fewer booklets."),
                             max=pdf_booklets.MAX_TOTAL_PAGES)


def print_booklets(exam, *, copies=None, subject=None, blank_pages=None, learners=None, actor=None,
                   client_ip=None, publish=None):
    """``(pdf, numbers)``: the PDF (bytes) of ``copies`` anonymous booklets, or one prenamed booklet
    per learner (in the learners' order), and the booklets' numbers in print order.

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
    check_pages(pages, copies)
    numbers = reserve(exam, learners, copies, actor)
    pdf = pdf_booklets.make_booklets(
        subject or None, blank_pages=None if subject else blank_pages, copies=copies,
        exam_ref=batches.exam_ref(exam), names=[learner.name for learner in learners] if learners else None,
        numbers=numbers, cover=cover(exam),
    )
    audit.record(exam, "booklets.printed", actor=actor, client_ip=client_ip, publish=publish, details={
        "copies": copies, "prenamed": learners is not None, "subject": bool(subject)})
    return pdf, numbers


def prenamed_identity(exam, number):
    """The learner a booklet was printed for (a :class:`Booklet` with a learner), or None."""
    return Booklet.objects.filter(exam=exam, number=number, learner_anonymous_id__isnull=False).first()
