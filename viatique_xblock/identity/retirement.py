"""Retiring a user: their name and username leave everything Viatique stored (public API).

Open edX erases a learner's personal data through its retirement pipeline, whose LMS steps send the
platform's retirement signals (``USER_RETIRE_LMS_MISC``, then ``USER_RETIRE_LMS_CRITICAL``, both
with the Django user, still under their original username). :func:`connect` hooks
:func:`on_user_retired` to them through :func:`viatique_xblock.platform.compat.connect_retirement`
(nothing happens where the platform has no such signals, as in the workbench); the command
``viatique_retire_user USERNAME RETIRED_USERNAME`` calls :func:`retire` by hand.

:func:`retire` replaces the user's username, and the names Viatique or the platform knew them by,
with the retired username wherever they are stored:

- as a learner: their copies (``learner_username``, ``learner_name``), the booklets printed for
  them, the roster CSV's names (``Exam.roster_details``: the entry keyed by their username or
  email), the texts of the regrade requests on their copies (there, each word of their names
  too: "Bonjour, c'est Chloé");
- as staff (a grader, an instructor): the copies dealt to them, their points, annotations,
  drafts, rubric items (the comment bank) and the items they applied, answers to regrade requests, uploads and scan batches, ZIP exports;
- everywhere: audit events (the actor, and every text of the details that holds the name or
  username; the client address of the events they made is dropped), lockout records, the file
  names of uploaded scans, the notes of copies held at the identification desk, and the grading leases they hold (``signals.user_retired``, which
  the grading stage receives).

The name the learner wrote by hand on their cover goes too: the cover's name area is painted
over in its stored page image (and the thumbnails and graders' masked images made from it are
deleted, to be made again from the blank one), in the scan file the copy was cut from (so a
graded PDF rendered again shows it blank) and in the copy's graded PDF (with the graders' masked
copies of it). The rest of the copy, its points, comments and annotations, and the score
published to the gradebook stay: they are the course's records of the work, now under the
retired username. ZIP exports built before keep existing until ``EXPORT_RETENTION_DAYS`` ends
(``viatique_purge_exports``). Each exam touched gets an audit event ``identity.user_retired``
that names the retired username only.

PDF and image work is imported when a retirement runs, not when :func:`connect` runs at start-up.

Files are changed first, then the rows in one transaction: a run that fails half-way is run again
(by the pipeline, which retries a failed step, or the command) and finds the same rows to change.
A second run finds nothing left and changes nothing.
"""
import json
import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field

from django.core.files import File
from django.db import transaction
from django.db.models import Q

from viatique_xblock import audit, signals
from viatique_xblock.errors import InvalidRequest
from viatique_xblock.i18n import N_
from viatique_xblock.models import (
    AppliedItem, Annotation, AuditEvent, Booklet, Copy, Draft, Exam, ExportJob, LockoutRecord, Page,
    QuestionPoints, RegradeRequest, RubricItem, RubricRescore, ScanBatch, UploadSession,
)
from viatique_xblock.platform import compat, storage

log = logging.getLogger(__name__)

#: terms shorter than this are never searched for in texts (they would match inside other words)
SHORTEST_TERM = 2
#: the words of a name shorter than this are not asked of the database on their own ("de", "Li": the
#: texts it returns are checked against whole names anyway)
SEARCHED_WORD = 3


class InvalidRetirement(InvalidRequest):
    code = "retirement_invalid"


# ------------------------------------------------------------------ finding a person in texts


def _folded(text):
    """``text`` without its accents (``Chloé`` -> ``Chloe``), as file names and slugs often write it."""
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))


class Eraser:
    """Replaces a person's username, names and email addresses in texts and JSON by the retired username.

    A username or address matches as a whole word (``learner_1`` is not found in ``learner_12``); a name
    matches as its words in order or reversed, with or without accents, separated by spaces, ``_``,
    ``-``, ``.`` or nothing (``Chloé Dubois``, ``DUBOIS_Chloe``, ``chloe-dubois``), case ignored."""

    def __init__(self, username, retired_username, names=(), emails=()):
        self.username = username
        self.retired = retired_username
        patterns = []
        for term in [username, *emails]:
            if term and len(term) >= SHORTEST_TERM:
                patterns.append(re.escape(term))
        for name in names:
            words = [word for word in re.split(r"[\s_.\-]+", name or "") if word]
            if not words or len("".join(words)) < SHORTEST_TERM:
                continue
            for order in {tuple(words), tuple(reversed(words))}:
                for form in {order, tuple(_folded(word) for word in order)}:
                    patterns.append(r"[\s_.\-]*".join(re.escape(word) for word in form))
        self.pattern = _alternatives(patterns)
        # the words of the names on their own, for the texts about the person's own copy (a regrade
        # request's "Bonjour, c'est Chloé"), where a first name alone is theirs
        self.loose_pattern = _alternatives(patterns + [
            re.escape(form) for name in names for word in re.split(r"[\s_.\-]+", name or "")
            for form in {word, _folded(word)} if len(form) >= SEARCHED_WORD])
        # what the database is asked for: the username, the addresses, and each word of a name (a name
        # may be written in another order or with other separators), with and without accents
        words = [word for name in names for word in re.split(r"[\s_.\-]+", name or "")]
        whole = [username, *emails, *names, *(_folded(name) for name in names)]
        parts = [*words, *(_folded(word) for word in words)]
        self.terms = tuple(dict.fromkeys([*(term for term in whole if term and len(term) >= SHORTEST_TERM),
                                          *(term for term in parts if len(term) >= SEARCHED_WORD)]))

    def text(self, value, loose=False):
        """``value`` with the person replaced; ``loose``: each word of their names too (texts about their
        own copy only: elsewhere a first name alone may be someone else's)."""
        pattern = self.loose_pattern if loose else self.pattern
        if not pattern or not isinstance(value, str) or not value:
            return value
        return pattern.sub(self.retired, value)

    def json(self, value):
        """A JSON value with every string (and key) that holds the person replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.json(item) for key, item in value.items()}
        return value

    def search(self, *fields):
        """A filter of the rows whose ``fields`` may hold the person (the texts are checked one by one after).

        JSON is searched in its stored text too, where MariaDB and SQLite keep accented letters escaped
        (``\\u00e9``)."""
        query = Q()
        for term in self.terms:
            forms = {term, _json_escaped(term)}
            for name in fields:
                for form in forms:
                    query |= Q(**{f"{name}__icontains": form})
        return query


def _alternatives(patterns):
    """One case-insensitive pattern of whole words matching any of ``patterns``, longest first (a name is
    replaced whole before a username inside it); None when there is none."""
    if not patterns:
        return None
    ordered = sorted(set(patterns), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(ordered) + r")(?!\w)", re.IGNORECASE)


def _json_escaped(text):
    return json.dumps(text)[1:-1]


# ------------------------------------------------------------------ the report


@dataclass
class Report:
    """What a retirement changed: counts only (never the names)."""

    retired_username: str
    rows: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    exams: set = field(default_factory=set)

    def count(self, kind, number, into="rows"):
        if number:
            bucket = getattr(self, into)
            bucket[kind] = bucket.get(kind, 0) + number

    def as_json(self):
        return {"retired_username": self.retired_username, "exams": len(self.exams),
                "rows": dict(sorted(self.rows.items())),
                "files": dict(sorted(self.files.items())), "changed": bool(self.rows or self.files)}


# ------------------------------------------------------------------ the cover's name area


def _replace_file(name, path):
    """Put the file at ``path`` in the storage under exactly ``name``, in place of what was there."""
    store = storage.get_storage()
    if store.exists(name):
        store.delete(name)
    with open(path, "rb") as handle:
        saved = store.save(name, File(handle, name=os.path.basename(name)))
    if saved != name:  # a concurrent writer took the name: keep ours under it
        store.delete(name)
        with open(path, "rb") as handle:
            store.save(name, File(handle, name=os.path.basename(name)))
        store.delete(saved)


def _delete_matching(folder, prefix, keep=()):
    """Delete the files of ``folder`` (a storage name) whose names start with ``prefix``; returns how many."""
    store = storage.get_storage()
    try:
        _dirs, files = store.listdir(folder)
    except (FileNotFoundError, NotImplementedError, OSError):
        return 0
    deleted = 0
    for file_name in files:
        name = f"{folder}/{file_name}"
        if file_name.startswith(prefix) and name not in keep:
            store.delete(name)
            deleted += 1
    return deleted


def _blank_page_image(exam, cover, report):
    """The cover's page image with its name area painted over, stored in place of the original; the
    images derived from it (thumbnails, graders' masked covers) deleted, to be made again."""
    from viatique_xblock.pdf import images as pdf_images
    from viatique_xblock.scanning import batches

    store = storage.get_storage()
    if not cover.image_name or not store.exists(cover.image_name):
        return
    with store.open(cover.image_name, "rb") as handle:
        blank = pdf_images.mask_area(handle.read(), exam.name_area)
    extension = {"image/jpeg": "jpg", "image/png": "png"}[blank.mime]
    batch = ScanBatch(pk=cover.batch_id, exam_id=cover.exam_id)
    name = batches.image_name(batch, cover.source_index, "page", extension)
    storage.overwrite(name, blank.data)
    report.count("page_images_blanked", 1, "files")
    folder = name.rsplit("/", 1)[0]
    report.count("derived_images_deleted", _delete_matching(folder, f"{cover.source_index:05d}-", keep={name}),
                 "files")
    Page.objects.filter(pk=cover.pk).update(image_name=name, thumbnail_name="", masked_image_name="")


def _blank_scan_page(exam, cover, report):
    """The cover's page in the scan file it was cut from, its name area removed from the file (a graded
    PDF rendered again from the scan then shows it blank)."""
    from viatique_xblock.pdf.redact import redact_file
    from viatique_xblock.scanning import batches

    scan = cover.batch
    if not scan.file_name or not storage.get_storage().exists(scan.file_name):
        return
    with tempfile.TemporaryDirectory(prefix="viatique-retire-") as folder:
        target = os.path.join(folder, "scan.pdf")
        with batches.local_copy(scan.file_name) as path:
            done = redact_file(path, target, cover.source_index, exam.name_area, turn=cover.rotation)
        if done:
            _replace_file(scan.file_name, target)
            report.count("scan_pages_blanked", 1, "files")


def _blank_graded_pdf(exam, copy, report):
    """The copy's graded PDF with its first page's name area removed (its scan pages come first, the cover
    at their head), and the graders' masked copies of it deleted (made again from this one)."""
    from viatique_xblock.pdf.redact import redact_area

    store = storage.get_storage()
    if not copy.graded_pdf_name or not store.exists(copy.graded_pdf_name):
        return
    with store.open(copy.graded_pdf_name, "rb") as handle:
        data = handle.read()
    storage.overwrite(copy.graded_pdf_name, redact_area(data, 0, exam.name_area))
    report.count("graded_pdfs_blanked", 1, "files")
    folder = copy.graded_pdf_name.rsplit("/", 1)[0]
    # the graders' copies, ``<copy id>-<render time>-masked<height>.pdf`` (results.downloads.masked_pdf_name)
    report.count("derived_pdfs_deleted", _delete_matching(folder, f"{copy.pk}-"), "files")


def blank_cover(copy, report):
    """Paint over the name area of ``copy``'s cover in every stored file that shows it (see the module
    docstring). Runs again without harm: an area painted over twice is the same grey."""
    exam = copy.exam
    cover = (Page.objects.filter(copy=copy, position=1).select_related("batch").order_by("discarded", "id").first())
    if cover is not None:
        _blank_page_image(exam, cover, report)
        _blank_scan_page(exam, cover, report)
        if not cover.discarded:
            _blank_graded_pdf(exam, copy, report)
    report.exams.add(exam.pk)


# ------------------------------------------------------------------ the rows


def _exam_ids(queryset, path="exam_id"):
    return set(queryset.values_list(path, flat=True).distinct())


def _rename(report, kind, queryset, path, **values):
    """``queryset.update(**values)``, counted, with the exams it touched noted (``path`` to the exam id)."""
    report.exams |= _exam_ids(queryset, path)
    report.count(kind, queryset.update(**values))


def _retire_rows(eraser, username, retired, emails, learner_copy_ids, report):
    # as a learner
    learner_copies = Copy.objects.filter(pk__in=learner_copy_ids)
    _rename(report, "copies_of_the_learner", learner_copies, "exam_id", learner_username=retired,
            learner_name=retired)
    _rename(report, "booklets", Booklet.objects.filter(learner_username=username), "exam_id",
            learner_username=retired, learner_name=retired)
    keys = [username, *(email.casefold() for email in emails)]
    for exam in Exam.objects.filter(Q(*[Q(roster_details__has_key=key) for key in keys], _connector=Q.OR)):
        details = dict(exam.roster_details)
        if any(details.pop(key, None) is not None for key in keys):
            details[retired] = retired
            Exam.objects.filter(pk=exam.pk).update(roster_details=details)
            report.count("roster_entries", 1)
            report.exams.add(exam.pk)
    for request in RegradeRequest.objects.filter(copy_id__in=learner_copy_ids).select_related("copy"):
        message, answer = eraser.text(request.message, loose=True), eraser.text(request.answer, loose=True)
        if (message, answer) != (request.message, request.answer):
            RegradeRequest.objects.filter(pk=request.pk).update(message=message, answer=answer)
            report.count("regrade_texts", 1)
            report.exams.add(request.copy.exam_id)
    # as staff
    _rename(report, "copies_dealt", Copy.objects.filter(grader=username), "exam_id", grader=retired)
    _rename(report, "points", QuestionPoints.objects.filter(grader=username), "copy__exam_id", grader=retired)
    _rename(report, "annotations", Annotation.objects.filter(author=username), "copy__exam_id", author=retired)
    _rename(report, "drafts", Draft.objects.filter(grader=username), "copy__exam_id", grader=retired)
    _rename(report, "rubric_items", RubricItem.objects.filter(created_by=username), "exam_id", created_by=retired)
    _rename(report, "rubric_applications", AppliedItem.objects.filter(applied_by=username), "copy__exam_id",
            applied_by=retired)
    _rename(report, "rubric_rescores", RubricRescore.objects.filter(created_by=username), "exam_id",
            created_by=retired)
    _rename(report, "regrade_answers", RegradeRequest.objects.filter(answered_by=username), "copy__exam_id",
            answered_by=retired)
    _rename(report, "booklets_printed", Booklet.objects.filter(created_by=username), "exam_id", created_by=retired)
    _rename(report, "exports", ExportJob.objects.filter(created_by=username), "exam_id", created_by=retired)
    _rename(report, "scan_batches", ScanBatch.objects.filter(uploaded_by=username), "exam_id", uploaded_by=retired)
    _rename(report, "uploads", UploadSession.objects.filter(created_by=username), "exam_id", created_by=retired)
    # file names of uploaded scans (one file per learner is often named after them)
    for model, column in ((ScanBatch, "original_name"), (UploadSession, "file_name")):
        for row in model.objects.filter(eraser.search(column)):
            renamed = eraser.text(getattr(row, column))
            if renamed != getattr(row, column):
                model.objects.filter(pk=row.pk).update(**{column: renamed[:255]})
                report.count("file_names", 1)
                report.exams.add(row.exam_id)
    # the notes of copies held at the identification desk (a name read on a cover: anybody's copy)
    for copy in Copy.objects.filter(eraser.search("hold_note")).only("pk", "exam_id", "hold_note"):
        note = eraser.text(copy.hold_note)
        if note != copy.hold_note:
            Copy.objects.filter(pk=copy.pk).update(hold_note=note[:255])
            report.count("hold_notes", 1)
            report.exams.add(copy.exam_id)
    # lockouts
    locked = LockoutRecord.objects.filter(kind="user", subject=username)
    report.count("lockouts", locked.update(subject=retired))
    report.count("lockouts_lifted_by", LockoutRecord.objects.filter(lifted_by=username).update(lifted_by=retired))
    # audit events: actors and every text of their details
    for event in AuditEvent.objects.filter(Q(actor=username) | eraser.search("details")).order_by("pk"):
        actor = retired if event.actor == username else event.actor
        details = eraser.json(event.details)
        client_ip = None if event.actor == username else event.client_ip
        if (actor, details, client_ip) != (event.actor, event.details, event.client_ip):
            audit.erase_personal_data(event, actor, details, client_ip)
            report.count("audit_events", 1)
            report.exams.add(event.exam_id)


# ------------------------------------------------------------------ retiring


def retire(username, retired_username, names=(), emails=(), source="command"):
    """Erase ``username`` (and ``names``, ``emails``) from everything Viatique stored, in favour of
    ``retired_username``; returns a :class:`Report` (counts of rows and files changed). See the module
    docstring for what changes and what stays."""
    username, retired_username = (username or "").strip(), (retired_username or "").strip()
    if not username or not retired_username or username == retired_username:
        raise InvalidRetirement(N_("Give the username to retire and the retired username, which must differ."))
    report = Report(retired_username)
    learner_copies = list(Copy.objects.filter(learner_username=username).select_related("exam").order_by("pk"))
    platform_names, platform_emails = compat.platform_user_details(username)
    known_names = [*names, *platform_names, *(copy.learner_name for copy in learner_copies),
                   *Booklet.objects.filter(learner_username=username).values_list("learner_name", flat=True)]
    emails = tuple(dict.fromkeys(email for email in [*emails, *platform_emails] if email))
    keys = [username, *(email.casefold() for email in emails)]  # how a roster CSV's names are keyed
    for exam in Exam.objects.filter(Q(*[Q(roster_details__has_key=key) for key in keys], _connector=Q.OR)):
        known_names += [exam.roster_details.get(key) for key in keys]
    known_names = tuple(dict.fromkeys(name for name in known_names if name and name != retired_username))
    eraser = Eraser(username, retired_username, known_names, emails)

    for copy in learner_copies:  # files first: a failure leaves the rows to be found again
        blank_cover(copy, report)
    lease_copies = list(AuditEvent.objects.filter(action="lease.acquired", actor=username)
                        .exclude(copy_id_ref=None).values_list("copy_id_ref", flat=True).distinct())
    with transaction.atomic():
        _retire_rows(eraser, username, retired_username, emails, [copy.pk for copy in learner_copies], report)
        for exam in Exam.objects.filter(pk__in=report.exams).order_by("pk"):
            audit.record(exam, "identity.user_retired", details={
                "retired_username": retired_username, "source": source,
                "copies": sum(1 for copy in learner_copies if copy.exam_id == exam.pk)})
    signals.user_retired.send_robust(sender=Copy, username=username, retired_username=retired_username,
                                     copy_ids=lease_copies)
    if report.rows or report.files:
        log.info("Viatique: a user was retired as %s (%s): %s", retired_username, source, report.as_json())
    return report


def on_user_retired(sender, user=None, **kwargs):
    """Receiver of the platform's retirement signals: :func:`retire` for the user they name. An error
    propagates, so the platform's retirement step fails and is retried."""
    if user is None:
        return None
    retiring = compat.retiring_user(user)
    return retire(retiring.username, retiring.retired_username, names=retiring.names, emails=retiring.emails,
                  source="platform")


def connect():
    """Connect :func:`on_user_retired` to the platform's retirement signals (the app's ``ready``); returns
    whether the platform has them."""
    return compat.connect_retirement(on_user_retired)
