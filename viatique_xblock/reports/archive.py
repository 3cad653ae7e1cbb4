"""An exam's archive: everything of one exam in one ZIP, to move it to another course or instance (public API).

- :func:`export_exam` writes the archive of an exam (``viatique_export_exam``);
- :func:`import_exam` reads one into the exam of an empty block (``viatique_import_exam``).

The format is documented in ``docs/archive.md``: a ZIP holding ``manifest.json`` (format name, schema
version, the archive's id, counts, and the SHA-256 and size of every other file), the rows as JSON
under ``data/``, and the files as they are stored: the scans (``scans/``), the page images
(``pages/``), the graded PDFs (``graded/``) and the graded PDFs of published states kept aside while a
copy is graded again (``published/``). Rows name each other by the ids they had where they were
exported; the import gives them new ones. Learners are mapped by username to the users of the
target platform (their anonymous ids are per course); a username the target does not know keeps its
copy, listed in the import's report. Grades published where the exam came from are published again
for the learners found, each with what its learner was shown (the copy's published state, with its PDF;
from an archive made before these were kept: the copy as it is).

The import refuses, with a stable code and nothing written: an archive that is not one
(``archive_invalid``), of an unknown schema version (``archive_unsupported_version``), whose files do
not match their checksums or whose rows do not hold together (``archive_corrupt``), already imported
into this block (``archive_already_imported``), or a block that already has data (``exam_not_empty``).
The export refuses an exam whose scans are still being processed (``archive_exam_busy``).
"""
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import uuid
import zipfile
from decimal import Decimal, InvalidOperation

from django.core.files import File
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import viatique_xblock
from viatique_xblock import audit, scheme as scheme_module
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.grading import rendering
from viatique_xblock.i18n import N_
from viatique_xblock.models import (
    AppliedItem, Annotation, AuditEvent, Booklet, Copy, Exam, ExportJob, Page, QuestionPoints, RegradeRequest,
    RubricGroup, RubricItem, ScanBatch, UploadSession,
)
from viatique_xblock.platform import compat, storage
from viatique_xblock.results import release
from viatique_xblock.scanning import batches as scan_batches
from viatique_xblock.states import BatchState, GradingMode

log = logging.getLogger(__name__)

FORMAT = "viatique-exam-archive"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
#: the rows' files, in the order they are written and read
TABLES = ("exam", "batches", "booklets", "copies", "pages", "points", "annotations", "bank_comments",
          "regrade_requests", "audit_events")
#: the block's settings carried with the exam (what the Studio editor sets)
BLOCK_SETTINGS = ("display_name", "marking_scheme", "pages_per_copy", "grade_scale", "weight", "anonymous_grading",
                  "regrade_window_days", "name_area_height", "grading_mode", "rubric_editors")
CHUNK = 1024 * 1024
#: files larger than this are spooled to disk while their checksum is checked on import
SPOOL_BYTES = 8 * 1024 * 1024
BULK = 1000
BUSY_STATES = (BatchState.UPLOADING, BatchState.QUEUED, BatchState.PROCESSING, BatchState.ASSEMBLING)


class ArchiveError(ViatiqueError):
    """Not an exam archive (not a ZIP, no manifest, another format)."""

    code = "archive_invalid"
    status = 400


class UnsupportedVersion(ArchiveError):
    code = "archive_unsupported_version"


class CorruptArchive(ArchiveError):
    code = "archive_corrupt"


class AlreadyImported(ViatiqueError):
    code = "archive_already_imported"
    status = 409


class ExamNotEmpty(ViatiqueError):
    code = "exam_not_empty"
    status = 409


class ExamBusy(ViatiqueError):
    code = "archive_exam_busy"
    status = 409


# ------------------------------------------------------------------ values


def _time(value):
    return value.isoformat() if value else None


def _parse_time(value):
    if value in (None, ""):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CorruptArchive(N_("The archive holds a date that cannot be read: {value}."), value=str(value)[:40])
    return parsed


def _number(value):
    return None if value is None else str(value)


def _parse_number(value):
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise CorruptArchive(N_("The archive holds a number that cannot be read: {value}."),
                             value=str(value)[:40]) from exc


def _extension(name, default="bin"):
    extension = os.path.splitext(name or "")[1].lstrip(".").lower()
    return extension if extension.isalnum() and len(extension) <= 5 else default


# ------------------------------------------------------------------ export


class _Writer:
    """The ZIP being written, with the checksum and size of every file put in it."""

    def __init__(self, handle, progress=None):
        self.zip = zipfile.ZipFile(handle, "w", allowZip64=True)
        self.files = {}
        self.progress = progress

    def json(self, name, value):
        data = json.dumps(value, ensure_ascii=False, indent=None, separators=(",", ":")).encode("utf-8")
        self.zip.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                          compress_type=zipfile.ZIP_DEFLATED)
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    def stored(self, name, storage_name):
        """Copy a stored file into the archive as it is (not compressed again: scans, images and PDFs
        already are); False when the storage does not have it."""
        store = storage.get_storage()
        if not storage_name or not store.exists(storage_name):
            return False
        digest, size = hashlib.sha256(), 0
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        with store.open(storage_name, "rb") as source, self.zip.open(info, "w", force_zip64=True) as target:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        self.files[name] = {"sha256": digest.hexdigest(), "bytes": size}
        if self.progress:
            self.progress()
        return True

    def close(self):
        self.zip.close()


def _exam_settings(exam):
    try:
        block = compat.block_settings(exam.usage_key, BLOCK_SETTINGS)
    except Exception:  # noqa: BLE001 - a block gone from the course content: its exam is exported all the same
        log.warning("Viatique: the block settings of %s could not be read for its archive", exam.usage_key,
                    exc_info=True)
        block = None
    return {
        "title": exam.title, "scheme": exam.scheme, "pages_per_copy": exam.pages_per_copy,
        "anonymous_grading": exam.anonymous_grading, "name_area_height": exam.name_area_height,
        "weight": exam.weight, "released_at": _time(exam.released_at), "roster_details": exam.roster_details,
        "grading_mode": exam.grading_mode, "block": block,
    }


@contextlib.contextmanager
def _snapshot():
    """The reads inside see the database as it was at their first one: a transaction in repeatable read on
    PostgreSQL and MySQL/MariaDB (whose default, read committed, would show work saved meanwhile in one table
    and not in the one read before it; SQLite's transactions are serializable). Inside a transaction begun
    by the caller, its isolation is kept."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor in ("postgresql", "mysql"):
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def stored_file_count(exam):
    """How many stored files (scans, page images, graded PDFs, published PDFs kept aside) the archive of ``exam``
    would copy, at most."""
    kept = sum(1 for graded, published in Copy.objects.filter(exam=exam, published_result__isnull=False)
               .values_list("graded_pdf_name", "published_result").iterator()
               if isinstance(published, dict) and published.get("pdf") and published["pdf"] != graded)
    return (ScanBatch.objects.filter(exam=exam).exclude(file_name="").count()
            + Page.objects.filter(exam=exam).exclude(image_name="").count()
            + Copy.objects.filter(exam=exam).exclude(graded_pdf_name="").count() + kept)


def export_exam(exam, out_path, progress=None):
    """Write the archive of ``exam`` to the file ``out_path`` (replaced only once the archive is complete);
    returns the manifest (see ``docs/archive.md``). :class:`ExamBusy` while a scan is being processed.
    ``progress``: called with no argument after each stored file copied into the archive."""
    if ScanBatch.objects.filter(exam=exam, state__in=BUSY_STATES).exists():
        raise ExamBusy(N_("A scan of this exam is still being processed: export it once processing is over."))
    missing = []
    folder = os.path.dirname(os.path.abspath(out_path))
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".viatique-archive-", suffix=".part", delete=False)
    try:
        with handle:
            writer = _Writer(handle, progress)
            with _snapshot():
                counts = _write_rows_and_files(exam, writer, missing)
            manifest = {
                "format": FORMAT, "schema_version": SCHEMA_VERSION, "archive_id": str(uuid.uuid4()),
                "created_at": _time(timezone.now()), "generator": f"viatique-xblock {viatique_xblock.__version__}",
                "source": {"usage_key": exam.usage_key, "course_key": exam.course_key, "title": exam.title},
                "counts": counts, "missing_files": missing, "files": dict(sorted(writer.files.items())),
            }
            writer.json(MANIFEST, manifest)
            writer.close()
        os.replace(handle.name, out_path)
    except BaseException:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
        raise
    return manifest


def _archived_result(copy, graded_pdf, page_ids, stored):
    """The copy's published state (:attr:`Copy.published_result`) as the archive holds it, or None: the copy and
    its pages named by their rows' ``id`` (not by their public ids, which the import gives again), and ``pdf``
    the archive's name of the PDF the learner downloads: the copy's ``graded/<id>.pdf`` when that is the one,
    else the PDF kept aside for it (``published/<id>.pdf``, copied into the archive); null when there is none,
    or when the storage does not have it (then listed in ``missing_files``). A page gone since is null."""
    published = copy.published_result
    if not isinstance(published, dict):
        return None

    def page(public_id):
        return page_ids.get(public_id)

    name = published.get("pdf") or ""
    if not name:
        pdf = None
    elif name == copy.graded_pdf_name:
        pdf = graded_pdf
    else:
        pdf = stored(f"published/{copy.pk}.pdf", name)
    return {
        **published,
        "copy": {**(published.get("copy") or {}), "id": copy.pk},
        "pages": [{**row, "id": page(row.get("id"))} for row in published.get("pages") or []],
        "annotations": [{**row, "page_id": page(row.get("page_id"))} for row in published.get("annotations") or []],
        "pdf": pdf,
    }


def _write_rows_and_files(exam, writer, missing):
    counts = {}

    def table(name, rows):
        writer.json(f"data/{name}.json", rows)
        counts[name] = len(rows) if isinstance(rows, list) else 1

    def stored(name, storage_name):
        if storage_name and writer.stored(name, storage_name):
            return name
        if storage_name:
            missing.append(name)
        return None

    table("exam", _exam_settings(exam))
    rows = []
    for batch in ScanBatch.objects.filter(exam=exam).order_by("pk"):
        rows.append({
            "id": batch.pk, "original_name": batch.original_name, "sha256": batch.sha256,
            "size_bytes": batch.size_bytes, "page_count": batch.page_count, "pages_done": batch.pages_done,
            "state": batch.state, "split_mode": batch.split_mode, "pages_per_copy": batch.pages_per_copy,
            "error_code": batch.error_code, "error_message": batch.error_message, "uploaded_by": batch.uploaded_by,
            "created_at": _time(batch.created_at), "updated_at": _time(batch.updated_at),
            "file": stored(f"scans/{batch.pk}.pdf", batch.file_name),
        })
    table("batches", rows)
    table("booklets", [{
        "number": booklet.number, "learner": ({"username": booklet.learner_username, "name": booklet.learner_name}
                                              if booklet.learner_username else None),
        "created_by": booklet.created_by, "created_at": _time(booklet.created_at),
    } for booklet in Booklet.objects.filter(exam=exam).order_by("pk")])
    rows = []
    page_ids = dict(Page.objects.filter(exam=exam).values_list("public_id", "pk"))
    for copy in Copy.objects.filter(exam=exam).order_by("pk"):
        graded_pdf = stored(f"graded/{copy.pk}.pdf", copy.graded_pdf_name)
        rows.append({
            "id": copy.pk, "anonymous_code": copy.anonymous_code, "booklet_number": copy.booklet_number,
            "source_batch": copy.source_batch_id, "source_group": copy.source_group,
            "identity_state": copy.identity_state,
            "learner": ({"username": copy.learner_username, "name": copy.learner_name}
                        if copy.learner_username else None),
            "grading_state": copy.grading_state, "grader": copy.grader, "total_points": _number(copy.total_points),
            "general_comment": copy.general_comment, "render_error": copy.render_error,
            "published_points": _number(copy.published_points), "finalized_at": _time(copy.finalized_at),
            "graded_at": _time(copy.graded_at), "created_at": _time(copy.created_at),
            "updated_at": _time(copy.updated_at),
            "missing_accepted": copy.missing_accepted, "on_hold": copy.on_hold, "hold_note": copy.hold_note,
            "graded_pdf": graded_pdf,
            "published_result": _archived_result(copy, graded_pdf, page_ids, stored),
        })
    table("copies", rows)
    rows = []
    for page in Page.objects.filter(exam=exam).order_by("batch_id", "source_index"):
        rows.append({
            "id": page.pk, "batch": page.batch_id, "copy": page.copy_id, "source_index": page.source_index,
            "position": page.position, "rotation": page.rotation, "width_pt": page.width_pt,
            "height_pt": page.height_pt, "qr_payload": page.qr_payload, "anomaly": page.anomaly,
            "discarded": page.discarded,
            "image": stored(f"pages/{page.pk}.{_extension(page.image_name)}", page.image_name),
        })
    table("pages", rows)
    table("points", [{
        "copy": row.copy_id, "question_id": row.question_id, "points": _number(row.points), "comment": row.comment,
        "adjustment": _number(row.adjustment), "grader": row.grader, "updated_at": _time(row.updated_at),
    } for row in QuestionPoints.objects.filter(copy__exam=exam).order_by("copy_id", "question_id")])
    table("annotations", [{
        "copy": row.copy_id, "page": row.page_id, "uid": str(row.uid), "kind": row.kind, "x": row.x, "y": row.y,
        "width": row.width, "height": row.height, "text": row.text, "question_id": row.question_id,
        "points": _number(row.points), "author": row.author, "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    } for row in Annotation.objects.filter(copy__exam=exam).order_by("pk")])
    # the rubric items (the comment bank of earlier versions, whose name the file keeps), each with its group
    # and the copies' questions it is applied to
    applied = {}
    for item_pk, copy_pk, question_id, applied_by in AppliedItem.objects.filter(copy__exam=exam).order_by(
            "pk").values_list("item_id", "copy_id", "question_id", "applied_by"):
        applied.setdefault(item_pk, []).append({"copy": copy_pk, "question_id": question_id,
                                                "applied_by": applied_by})
    table("bank_comments", [{
        "text": row.text, "question_id": row.question_id, "points": _number(row.points),
        "created_by": row.created_by, "created_at": _time(row.created_at), "position": row.position,
        "version": row.version,
        "group": ({"id": row.group_id, "label": row.group.label, "pick_one": row.group.pick_one,
                   "position": row.group.position, "question_id": row.group.question_id} if row.group_id else None),
        "applied": applied.get(row.pk, []),
    } for row in RubricItem.objects.filter(exam=exam).select_related("group").order_by("pk")])
    table("regrade_requests", [{
        "copy": row.copy_id, "question_id": row.question_id, "message": row.message, "state": row.state,
        "answer": row.answer, "answered_by": row.answered_by, "points_before": _number(row.points_before),
        "created_at": _time(row.created_at), "answered_at": _time(row.answered_at),
    } for row in RegradeRequest.objects.filter(copy__exam=exam).order_by("pk")])
    table("audit_events", [{
        "copy": row.copy_id_ref, "action": row.action, "actor": row.actor, "actor_role": row.actor_role,
        "client_ip": row.client_ip, "created_at": _time(row.created_at), "details": row.details,
    } for row in AuditEvent.objects.filter(exam=exam).order_by("created_at", "id")])
    return counts


# ------------------------------------------------------------------ reading an archive


class _Reader:
    """An archive opened for import: its manifest checked, its files read against their checksums."""

    def __init__(self, path):
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(N_("This file is not an exam archive (not a ZIP file).")) from exc
        try:
            manifest = json.loads(self.zip.read(MANIFEST))
        except (KeyError, ValueError, zipfile.BadZipFile) as exc:
            self.zip.close()
            raise ArchiveError(N_("This file is not an exam archive (it has no readable manifest).")) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            self.zip.close()
            raise ArchiveError(N_("This file is not an exam archive (its manifest names another format)."))
        if manifest.get("schema_version") != SCHEMA_VERSION:
            self.zip.close()
            raise UnsupportedVersion(
                N_("This archive has schema version {version}; this version of Viatique reads version {supported}."),
                version=str(manifest.get("schema_version"))[:20], supported=SCHEMA_VERSION)
        files = manifest.get("files")
        if not isinstance(files, dict) or not isinstance(manifest.get("archive_id"), str):
            self.zip.close()
            raise CorruptArchive(N_("The archive's manifest is incomplete."))
        self.manifest = manifest
        self.files = files

    def close(self):
        self.zip.close()

    def _entry(self, name):
        expected = self.files.get(name)
        if not isinstance(expected, dict):
            raise CorruptArchive(N_("The archive's manifest does not list the file {name}."), name=name[:200])
        try:
            info = self.zip.getinfo(name)
        except KeyError as exc:
            raise CorruptArchive(N_("The file {name} is missing from the archive."), name=name[:200]) from exc
        if info.file_size != expected.get("bytes"):
            # not read at all: a file larger than the manifest says is never written out
            raise self._mismatch(name)
        return info, expected

    def check(self, name):
        """Refuse (``archive_corrupt``) a file the manifest does not list or the ZIP does not hold, or whose
        size is not the manifest's, without reading it."""
        self._entry(name)

    def _mismatch(self, name):
        return CorruptArchive(N_("The file {name} does not match its checksum: the archive is damaged."),
                              name=name[:200])

    def read(self, name):
        """A (small) file's bytes, checked."""
        _info, expected = self._entry(name)
        data = self.zip.read(name)
        if len(data) != expected.get("bytes") or hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            raise self._mismatch(name)
        return data

    def table(self, name):
        try:
            return json.loads(self.read(f"data/{name}.json"))
        except ValueError as exc:
            raise CorruptArchive(N_("The archive's data/{name}.json cannot be read."), name=name) from exc

    def spooled(self, name):
        """A file copied to a temporary file while its checksum is checked (the caller closes it)."""
        _info, expected = self._entry(name)
        digest, size = hashlib.sha256(), 0
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="viatique-import-")
        with self.zip.open(name) as source:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
        if size != expected.get("bytes") or digest.hexdigest() != expected.get("sha256"):
            spool.close()
            raise self._mismatch(name)
        spool.seek(0)
        return spool


# ------------------------------------------------------------------ import


#: the kinds of :class:`ExportJob` that are not the exam's data: an archive exported or being imported
ARCHIVE_JOB_KINDS = ("archive", "archive_import")


def is_empty(exam):
    """Whether ``exam`` has no data an import would clash with (no scan, upload, booklet, copy, page, comment
    bank entry or ZIP export of graded PDFs; archive jobs are not data)."""
    return not (any(model.objects.filter(exam=exam).exists()
                    for model in (ScanBatch, UploadSession, Booklet, Copy, Page, RubricItem))
                or ExportJob.objects.filter(exam=exam).exclude(kind__in=ARCHIVE_JOB_KINDS).exists())


class _Files:
    """The files an import stored, deleted again when the import fails."""

    def __init__(self, reader, progress=None):
        self.reader = reader
        self.written = []
        self.progress = progress

    def put(self, archive_name, storage_name):
        spool = self.reader.spooled(archive_name)
        try:
            store = storage.get_storage()
            if store.exists(storage_name):
                store.delete(storage_name)
            saved = store.save(storage_name, File(spool, name=os.path.basename(storage_name)))
        finally:
            spool.close()
        self.written.append(saved)
        if self.progress:
            self.progress()
        return saved

    def skip(self):
        """A file of the archive that is not stored (the published PDF of a learner not found here)."""
        if self.progress:
            self.progress()

    def remove(self):
        store = storage.get_storage()
        for name in self.written:
            try:
                store.delete(name)
            except OSError:
                log.warning("Viatique: a file of a failed archive import could not be deleted: %s", name)


def _usernames(tables):
    learners = {row["learner"]["username"] for name in ("copies", "booklets") for row in tables[name]
                if row.get("learner")}
    staff = {row.get("grader") for row in tables["copies"]}
    staff |= {row.get("grader") for row in tables["points"]} | {row.get("author") for row in tables["annotations"]}
    staff |= {row.get("answered_by") for row in tables["regrade_requests"]}
    staff |= {row.get("created_by") for row in tables["bank_comments"]}
    staff |= {entry.get("applied_by") for row in tables["bank_comments"] for entry in row.get("applied") or []
              if isinstance(entry, dict)}
    staff |= {row.get("actor") for row in tables["audit_events"] if row.get("actor_role") in ("instructor", "grader")}
    return learners, {name for name in staff if name} - learners


def import_exam(exam, in_path, progress=None):
    """Import the archive ``in_path`` into ``exam`` (the exam of the target block, which must have no data);
    returns the report (see ``docs/archive.md``). Refusals are typed errors with stable codes; a refused or
    failed import leaves no row and no file behind. ``progress``: called with ``(done, total)`` as the
    archive's files are checked and stored (``total``: the files its manifest lists)."""
    reader = _Reader(in_path)
    try:
        return _import(exam, reader, progress)
    finally:
        reader.close()


def _import(exam, reader, progress=None):
    archive_id = reader.manifest["archive_id"]
    if AuditEvent.objects.filter(exam=exam, action="archive.imported", details__archive_id=archive_id).exists():
        raise AlreadyImported(N_("This archive was already imported into this exam."))
    if not is_empty(exam):
        raise ExamNotEmpty(N_("This exam already has scans, copies or booklets: an archive is imported only into "
                              "an exam that has none (a new block)."))
    tables = {name: reader.table(name) for name in TABLES}
    learner_names, staff_names = _usernames(tables)
    learners = compat.learners_by_username(exam.course_key, learner_names)
    known_staff = compat.known_usernames(exam.course_key, staff_names)
    counter = {"done": 0}
    total = sum(1 for name in reader.files if not name.startswith("data/"))  # the stored files

    def step():
        counter["done"] += 1
        progress(counter["done"], total)

    if progress:
        progress(0, total)
    files = _Files(reader, step if progress else None)
    try:
        with transaction.atomic():
            locked = Exam.objects.select_for_update().get(pk=exam.pk)
            if AuditEvent.objects.filter(exam=locked, action="archive.imported",
                                         details__archive_id=archive_id).exists():
                raise AlreadyImported(N_("This archive was already imported into this exam."))
            if not is_empty(locked):
                raise ExamNotEmpty(N_("This exam already has scans, copies or booklets: an archive is imported "
                                      "only into an exam that has none (a new block)."))
            with audit.timestamps_kept(ScanBatch, Booklet, Copy, Page, QuestionPoints, Annotation, RubricItem,
                                       RegradeRequest, AuditEvent):
                try:
                    counts, published = _write(locked, tables, learners, files)
                except (KeyError, TypeError, ValueError, AttributeError, IntegrityError, DataError) as exc:
                    # a value of the wrong type or out of range, two rows where one may be (the database
                    # refused): the rows do not hold together as the format says
                    log.warning("Viatique: archive %s does not hold together", archive_id, exc_info=True)
                    raise CorruptArchive(N_("The archive's rows do not hold together ({kind})."),
                                         kind=type(exc).__name__) from exc
            report = {
                "archive_id": archive_id, "exam": locked.usage_key, "source": reader.manifest.get("source"),
                "counts": counts, "published": published,
                "unknown_learners": sorted(learner_names - set(learners)),
                "unknown_staff": sorted(staff_names - known_staff) if known_staff is not None else None,
                "missing_files": reader.manifest.get("missing_files") or [],
            }
            audit.record(locked, "archive.imported", details={
                "archive_id": archive_id, "source": reader.manifest.get("source"), "counts": counts,
                "published": published, "unknown_learners": len(report["unknown_learners"])})
    except BaseException:
        files.remove()
        raise
    report["block_settings"] = _write_block_settings(locked, tables["exam"])
    return report


def _write_block_settings(exam, settings):
    """The block's own settings set to the archive's (so that the block, when shown, keeps the exam row as
    imported); returns whether the host could write them."""
    values = dict(settings.get("block") or {})
    values.update({"display_name": settings.get("title") or values.get("display_name") or "",
                   "marking_scheme": settings.get("scheme") or {}, "pages_per_copy": settings.get("pages_per_copy"),
                   "anonymous_grading": settings.get("anonymous_grading"),
                   "name_area_height": settings.get("name_area_height"), "weight": settings.get("weight"),
                   "grading_mode": settings.get("grading_mode")})
    # every known setting that has a value; the weight also when it has none (None: not weighted)
    values = {name: value for name, value in values.items()
              if name in BLOCK_SETTINGS and (value is not None or name == "weight")}
    try:
        return compat.write_block_settings(exam.usage_key, values)
    except Exception:  # noqa: BLE001 - the data is imported; the settings can be set in Studio
        log.warning("Viatique: the block settings of %s could not be written after an archive import",
                    exam.usage_key, exc_info=True)
        return False


def _rows(tables, name, keys):
    rows = tables[name]
    if not isinstance(rows, list) or not all(isinstance(row, dict) and keys <= row.keys() for row in rows):
        raise CorruptArchive(N_("The archive's data/{name}.json is not as the format says."), name=name)
    return rows


def _write_rubric(exam, rows, copies):
    """The rubric items of ``data/bank_comments.json`` (an archive from before rubrics: its comment bank), their
    groups and the copies' questions they are applied to."""
    groups, applied = {}, []
    for index, row in enumerate(rows):
        group = row.get("group")
        if isinstance(group, dict) and group.get("id") not in groups:
            groups[group.get("id")] = RubricGroup.objects.create(
                exam=exam, question_id=str(group.get("question_id") or row.get("question_id") or ""),
                label=str(group.get("label") or "")[:255], pick_one=group.get("pick_one") is True,
                position=int(group.get("position") or 0))
        item = RubricItem.objects.create(
            exam=exam, text=row["text"], question_id=row.get("question_id") or "",
            points=_parse_number(row.get("points")), created_by=row.get("created_by") or "",
            position=int(row.get("position", index) or 0), version=int(row.get("version") or 1),
            group=groups.get(group.get("id")) if isinstance(group, dict) else None,
            created_at=_parse_time(row.get("created_at")) or timezone.now(), updated_at=timezone.now())
        applied += [AppliedItem(copy=_ref(copies, entry["copy"], "bank_comments"), question_id=entry["question_id"],
                                item=item, applied_by=entry.get("applied_by") or "")
                    for entry in row.get("applied") or []]
    AppliedItem.objects.bulk_create(applied, batch_size=BULK)


def _ref(mapping, key, table):
    if key is None:
        return None
    try:
        return mapping[key]
    except (KeyError, TypeError) as exc:
        raise CorruptArchive(N_("The archive's data/{name}.json names a row that does not exist."),
                             name=table) from exc


def _write(exam, tables, learners, files):
    settings = tables["exam"]
    if not isinstance(settings, dict) or not isinstance(settings.get("scheme"), dict):
        raise CorruptArchive(N_("The archive's data/{name}.json is not as the format says."), name="exam")
    scheme_module.validate(settings["scheme"])
    exam.title = str(settings.get("title") or "")[:255]
    exam.scheme = settings["scheme"]
    exam.pages_per_copy = int(settings.get("pages_per_copy") or exam.pages_per_copy)
    exam.anonymous_grading = bool(settings.get("anonymous_grading", True))
    exam.name_area_height = int(settings.get("name_area_height") or exam.name_area_height)
    exam.weight = None if settings.get("weight") is None else float(settings["weight"])
    # an archive of a version before grading by question: its exam was graded by copy
    exam.grading_mode = settings.get("grading_mode") if settings.get("grading_mode") in (
        GradingMode.BY_COPY, GradingMode.BY_QUESTION) else GradingMode.BY_COPY
    exam.roster_details = settings.get("roster_details") or {}
    exam.released_at = _parse_time(settings.get("released_at"))
    exam.save()
    counts = {"exam": 1}

    batches = {}
    for row in _rows(tables, "batches", {"id", "sha256", "file"}):
        batch = ScanBatch(
            exam=exam, original_name=row.get("original_name") or "", sha256=row["sha256"],
            size_bytes=row.get("size_bytes") or 0, page_count=row.get("page_count") or 0,
            pages_done=row.get("pages_done") or 0, state=row.get("state") or BatchState.DONE,
            split_mode=row.get("split_mode") or "auto", pages_per_copy=row.get("pages_per_copy"),
            error_code=row.get("error_code") or "", error_message=row.get("error_message") or "",
            uploaded_by=row.get("uploaded_by") or "", created_at=_parse_time(row.get("created_at")) or timezone.now(),
            updated_at=_parse_time(row.get("updated_at")) or timezone.now(),
        )
        if row["file"]:
            batch.file_name = files.put(row["file"], scan_batches.scan_name(exam, row["sha256"]))
        batch.save()
        batches[row["id"]] = batch
    counts["batches"] = len(batches)

    Booklet.objects.bulk_create([Booklet(
        exam=exam, number=row["number"],
        learner_anonymous_id=(learners[row["learner"]["username"]].anonymous_id
                              if row.get("learner") and row["learner"]["username"] in learners else None),
        learner_username=(row.get("learner") or {}).get("username", ""),
        learner_name=(row.get("learner") or {}).get("name", ""),
        created_by=row.get("created_by") or "", created_at=_parse_time(row.get("created_at")) or timezone.now(),
    ) for row in _rows(tables, "booklets", {"number"})], batch_size=BULK)
    counts["booklets"] = len(tables["booklets"])

    copy_rows = _rows(tables, "copies", {"id", "anonymous_code", "identity_state", "grading_state"})
    new_copies = []
    for row in copy_rows:
        learner = row.get("learner") or {}
        found = learners.get(learner.get("username"))
        new_copies.append(Copy(
            exam=exam, anonymous_code=row["anonymous_code"], booklet_number=row.get("booklet_number"),
            source_batch=_ref(batches, row.get("source_batch"), "copies"), source_group=row.get("source_group"),
            identity_state=row["identity_state"], learner_anonymous_id=found.anonymous_id if found else None,
            learner_username=learner.get("username", ""), learner_name=learner.get("name", ""),
            grading_state=row["grading_state"], grader=row.get("grader") or "",
            total_points=_parse_number(row.get("total_points")), general_comment=row.get("general_comment") or "",
            render_error=row.get("render_error") or "",
            # absent from archives made before these fields existed
            missing_accepted=row.get("missing_accepted") is True, on_hold=row.get("on_hold") is True,
            hold_note=str(row.get("hold_note") or "")[:255],
            # sent again below, for the learners found here
            published_points=None,
            finalized_at=_parse_time(row.get("finalized_at")), graded_at=_parse_time(row.get("graded_at")),
            created_at=_parse_time(row.get("created_at")) or timezone.now(),
            updated_at=_parse_time(row.get("updated_at")) or timezone.now(),
        ))
    Copy.objects.bulk_create(new_copies, batch_size=BULK)
    by_code = {copy.anonymous_code: copy for copy in Copy.objects.filter(exam=exam)}
    copies = {row["id"]: by_code[row["anonymous_code"]] for row in copy_rows}
    for row in copy_rows:
        if row.get("graded_pdf"):
            copy = copies[row["id"]]
            copy.graded_pdf_name = files.put(row["graded_pdf"], storage.file_name("graded", exam.pk, f"{copy.pk}.pdf"))
            Copy.objects.filter(pk=copy.pk).update(graded_pdf_name=copy.graded_pdf_name)
    counts["copies"] = len(copies)

    page_rows = _rows(tables, "pages", {"id", "batch", "source_index"})
    new_pages = []
    for row in page_rows:
        batch = _ref(batches, row["batch"], "pages")
        image_name = ""
        if row.get("image"):
            image_name = files.put(row["image"], scan_batches.image_name(
                batch, row["source_index"], "page", _extension(row["image"], "jpg")))
        new_pages.append(Page(
            exam=exam, batch=batch, copy=_ref(copies, row.get("copy"), "pages"), source_index=row["source_index"],
            position=row.get("position"), rotation=row.get("rotation") or 0, width_pt=row.get("width_pt") or 0,
            height_pt=row.get("height_pt") or 0, qr_payload=row.get("qr_payload") or "",
            anomaly=row.get("anomaly") or "", discarded=bool(row.get("discarded")), image_name=image_name,
        ))
    Page.objects.bulk_create(new_pages, batch_size=BULK)
    by_source = {(page.batch_id, page.source_index): page for page in Page.objects.filter(exam=exam)}
    pages = {row["id"]: by_source[(batches[row["batch"]].pk, row["source_index"])] for row in page_rows}
    counts["pages"] = len(pages)

    QuestionPoints.objects.bulk_create([QuestionPoints(
        copy=_ref(copies, row["copy"], "points"), question_id=row["question_id"], points=_parse_number(row["points"]),
        comment=row.get("comment") or "", grader=row.get("grader") or "",
        # archives made before rubrics: the points were typed, so they are the adjustment (scored from 0)
        adjustment=_parse_number(row["adjustment"] if "adjustment" in row else row["points"]),
        updated_at=_parse_time(row.get("updated_at")) or timezone.now(),
    ) for row in _rows(tables, "points", {"copy", "question_id", "points"})], batch_size=BULK)
    counts["points"] = len(tables["points"])

    Annotation.objects.bulk_create([Annotation(
        copy=_ref(copies, row["copy"], "annotations"), page=_ref(pages, row["page"], "annotations"),
        uid=uuid.UUID(str(row["uid"])), kind=row["kind"], x=row["x"], y=row["y"], width=row.get("width") or 0,
        height=row.get("height") or 0, text=row.get("text") or "", question_id=row.get("question_id") or "",
        points=_parse_number(row.get("points")), author=row.get("author") or "",
        created_at=_parse_time(row.get("created_at")) or timezone.now(),
        updated_at=_parse_time(row.get("updated_at")) or timezone.now(),
    ) for row in _rows(tables, "annotations", {"copy", "page", "uid", "kind", "x", "y"})], batch_size=BULK)
    counts["annotations"] = len(tables["annotations"])

    _write_rubric(exam, _rows(tables, "bank_comments", {"text"}), copies)
    counts["bank_comments"] = len(tables["bank_comments"])

    RegradeRequest.objects.bulk_create([RegradeRequest(
        copy=_ref(copies, row["copy"], "regrade_requests"), question_id=row["question_id"],
        open_question=row["question_id"] if row.get("state") == RegradeRequest.OPEN else None,
        message=row.get("message") or "", state=row.get("state") or RegradeRequest.OPEN,
        answer=row.get("answer") or "", answered_by=row.get("answered_by") or "",
        points_before=_parse_number(row.get("points_before")),
        created_at=_parse_time(row.get("created_at")) or timezone.now(),
        answered_at=_parse_time(row.get("answered_at")),
    ) for row in _rows(tables, "regrade_requests", {"copy", "question_id"})], batch_size=BULK)
    counts["regrade_requests"] = len(tables["regrade_requests"])

    audit.restore(exam, [AuditEvent(
        exam=exam, copy_id_ref=copies[row["copy"]].pk if row.get("copy") in copies else None,
        action=str(row["action"])[:64], actor=row.get("actor") or "", actor_role=row.get("actor_role") or "",
        client_ip=row.get("client_ip") or None, details=row.get("details") or {},
        created_at=_parse_time(row.get("created_at")) or timezone.now(),
    ) for row in _rows(tables, "audit_events", {"action"})])
    counts["audit_events"] = len(tables["audit_events"])

    results = {row["id"]: _imported_result(row, copies, pages, files.reader) for row in copy_rows
               if row.get("published_result") is not None}
    published = _publish(exam, copy_rows, copies, results, files)
    return counts, published


def _imported_result(row, copies, pages, reader):
    """The published state of the copy ``row`` (``published_result``, see :func:`_archived_result`) with the
    target's public ids of the copy and its pages, and ``pdf`` still the archive's name; refused
    (:class:`CorruptArchive`, nothing stored yet) when it is not as the format says: a copy or page the archive
    does not have, a PDF that is neither the copy's ``graded_pdf`` nor its ``published/<id>.pdf``, or a file
    the archive does not hold."""
    result = row["published_result"]
    if not isinstance(result, dict) or not isinstance(result.get("copy"), dict) or not all(
            isinstance(result.get(key), list) and all(isinstance(item, dict) for item in result[key])
            for key in ("questions", "pages", "annotations")):
        raise CorruptArchive(N_("The archive's data/{name}.json is not as the format says."), name="copies")
    if not {"total", "max"} <= result["copy"].keys():
        raise CorruptArchive(N_("The archive's data/{name}.json is not as the format says."), name="copies")
    for key in ("total", "max"):
        _parse_number(result["copy"][key])  # the learner's view writes them on the grade scale
    if result["copy"].get("id") != row["id"]:
        raise CorruptArchive(N_("The archive's data/{name}.json names a row that does not exist."), name="copies")

    def page(key):
        found = _ref(pages, key, "copies")
        return found.public_id if found else None

    pdf = result.get("pdf")
    if pdf is not None and pdf != row.get("graded_pdf"):
        if pdf != f"published/{row['id']}.pdf":
            raise CorruptArchive(N_("The archive's data/{name}.json names a file that is not its own."),
                                 name="copies")
        reader.check(pdf)
    # the keys a snapshot has (learner.snapshot), no other: the learner's view is made of them (and no grader's
    # name: a snapshot keeps none)
    shown = {key: value for key, value in result["copy"].items() if key != "grader"}
    return {
        "copy": {**shown, "id": copies[row["id"]].public_id}, "questions": result["questions"],
        "pages": [{**item, "id": page(item.get("id"))} for item in result["pages"]],
        "annotations": [{**item, "page_id": page(item.get("page_id"))} for item in result["annotations"]],
        "pdf": pdf,
    }


def _publish(exam, copy_rows, copies, results, files):
    """Send again the scores that were published where the exam came from, for the learners found here, each
    with the state its learner was shown (``results``: :func:`_imported_result` by row id; an archive made
    before these were kept: the copy as it is); returns ``{"sent", "delivered", "not_sent"}`` (not sent: the
    learner is not known here)."""
    counts = {"sent": 0, "delivered": 0, "not_sent": 0}
    if not exam.released_at:
        return counts
    possible = release.possible_points(exam)
    for row in copy_rows:
        points = _parse_number(row.get("published_points"))
        if points is None:
            continue
        copy = copies[row["id"]]
        result = results.get(row["id"])
        kept = result["pdf"] if result and result["pdf"] and result["pdf"] != row.get("graded_pdf") else None
        if not copy.learner_anonymous_id:
            if kept:
                files.skip()
            counts["not_sent"] += 1
            continue
        if result is not None:
            pdf = ""
            if kept:
                pdf = files.put(kept, rendering.published_pdf_name(copy))
            elif result["pdf"]:
                pdf = copy.graded_pdf_name
            copy.published_result = {**result, "pdf": pdf}
        # out of the maximum it was published with (the scheme's may have changed since)
        published_max = _parse_number(result["copy"]["max"]) if result is not None else None
        counts["delivered"] += release.publish_copy(exam, copy, published_max or possible, points=points)
        counts["sent"] += 1
    return counts

