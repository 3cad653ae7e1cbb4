"""Scan batches on the Django side: validation limits, storing, processing, assembly (public API).

The PDF work itself is in :mod:`viatique_xblock.pdf` (no Django); this module
feeds it the settings, stores what it produces through the storage API and
writes the rows. Every step is idempotent, so a redelivered Celery task
creates nothing twice:

- :func:`create_batch` stores a validated file and queues :func:`process_batch`.
- :func:`process_batch` cuts the scan into ranges of pages, one task each.
- :func:`process_range` reads the code and makes the images of each page of a
  range, upserting :class:`~.models.Page` rows (unique per batch and index).
- The range that completes the batch runs :func:`assemble_batch`, which places
  pages into copies (:mod:`viatique_xblock.scanning.splitting`) and files anomalies.

A batch's ``updated_at`` is the time of its last step (queued, each range done, assembly
claimed): :func:`stuck` lists batches whose steps stopped, and :func:`requeue` sends what is
missing again (``viatique_recover``, :mod:`viatique_xblock.workers.recovery`).
"""
import contextlib
import datetime
import logging
import os
import string
import tempfile
import threading

from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from viatique_xblock import audit, public_ids
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy, Page, ScanBatch
from viatique_xblock.pdf import errors as pdf_errors, qr, validate as pdf_validate
from viatique_xblock.platform import conf, monitoring, queue, storage
from viatique_xblock.scanning import codes, splitting
from viatique_xblock.states import BatchState, Identity

log = logging.getLogger(__name__)

ALPHABET = string.digits + string.ascii_uppercase


def limits():
    """The validation limits of the settings, for :mod:`viatique_xblock.pdf.validate`."""
    return pdf_validate.Limits.from_settings(conf.get)


def validate_file(path):
    """Validate a scan as an upload would; raises a :class:`~.pdf.errors.PdfError`."""
    return pdf_validate.validate_pdf(path, limits())


def validate_bytes(data):
    """Validate PDF bytes (a booklet subject) with the upload's limits."""
    with tempfile.NamedTemporaryFile(suffix=".pdf", prefix="viatique-subject-") as handle:
        handle.write(data)
        handle.flush()
        return validate_file(handle.name)


def exam_ref(exam):
    """The short exam reference printed in the booklets' codes (``V`` + the exam id in base 36)."""
    number, digits = exam.pk, ""
    while True:
        number, rest = divmod(number, 36)
        digits = ALPHABET[rest] + digits
        if not number:
            return "V" + digits


def scan_name(exam, sha256):
    return storage.file_name("scans", exam.pk, f"{sha256}.pdf")


def create_batch(exam, file_name, sha256, info, fileobj, uploaded_by="", split_mode="auto", send=None,
                 pages_per_copy=None):
    """Store a validated scan and create its batch; return the existing batch for a known file.

    ``send(task_name, *args)`` runs the next step (after the transaction commits):
    None queues it on the configured Celery queue, :func:`run_locally` runs it here.
    """
    existing = ScanBatch.objects.filter(exam=exam, sha256=sha256).first()
    if existing is not None:
        return existing
    store = storage.get_storage()
    name = scan_name(exam, sha256)
    if not store.exists(name):
        name = store.save(name, File(fileobj, name=os.path.basename(name)))
    try:
        with transaction.atomic():
            batch = ScanBatch.objects.create(
                exam=exam, original_name=file_name, sha256=sha256, size_bytes=info.size_bytes,
                page_count=info.pages, file_name=name, state=BatchState.QUEUED, uploaded_by=uploaded_by,
                split_mode=split_mode, pages_per_copy=pages_per_copy,
            )
            audit.record(exam, "scan.accepted", details={"batch": batch.pk, "file_name": file_name,
                                                        "pages": info.pages, "sha256": sha256})
            transaction.on_commit(lambda: _send(send, "process_batch", batch.pk))
    except IntegrityError:
        return ScanBatch.objects.get(exam=exam, sha256=sha256)
    return batch


def send_step(task_name, *args):
    """Send a pipeline step to Celery (the configured queue, time limits), by its task's name."""
    queue.send(f"viatique.{task_name}", *args)


def run_locally(task_name, *args):
    """Run a pipeline step and everything it triggers in this process (``viatique_import_scan --sync``)."""
    from viatique_xblock.scanning import uploads
    steps = {"assemble_upload": uploads.assemble, "process_batch": process_batch,
             "process_range": process_range, "assemble_batch": assemble_batch}
    step = steps[task_name]
    return step(*args) if task_name == "assemble_batch" else step(*args, send=run_locally)


def _send(send, task_name, *args):
    (send or send_step)(task_name, *args)


def process_batch(batch_pk, send=None):
    """Queue one task per range of pages. Safe to call again: ranges are idempotent."""
    batch = ScanBatch.objects.get(pk=batch_pk)
    if batch.state not in (BatchState.QUEUED, BatchState.PROCESSING):
        return []
    ScanBatch.objects.filter(pk=batch.pk, state=BatchState.QUEUED).update(state=BatchState.PROCESSING,
                                                                        updated_at=timezone.now())
    ranges = page_ranges(batch.page_count)
    for start, stop in ranges:
        _send(send, "process_range", batch.pk, start, stop)
    return ranges


#: the last ``PAGES_PER_TASK`` pages of a scan go in ranges of this share of it
TAIL_SHARE = 4


def page_ranges(page_count, size=None):
    """``[(start, stop), ...]``: the ranges of pages a scan is processed in, one task each, in order.

    ``PAGES_PER_TASK`` (``size``) pages each, but, in a scan of more than two ranges, the last ``size`` pages in
    ranges of a quarter of that: the worker processes sharing a scan take its ranges in turn, and when one
    takes the last long range the others are in the middle of theirs; shorter ranges at the end let them all
    finish within a short range of each other instead of leaving one to finish a long range alone while the
    others wait for the assembly.
    """
    size = size or conf.get("PAGES_PER_TASK")
    if page_count <= 2 * size:  # one or two ranges: nothing to even out, and each range costs its own rows
        return [(start, min(start + size, page_count)) for start in range(0, page_count, size)]
    tail = page_count - size
    step = max(1, size // TAIL_SHARE)
    return ([(start, min(start + size, tail)) for start in range(0, tail, size)]
            + [(start, min(start + step, page_count)) for start in range(tail, page_count, step)])


def local_copy(name):
    """A local path to a stored scan for the duration (a copy on this machine: :func:`storage.local_file`)."""
    return storage.local_file(name, ".pdf")


class _OpenScan(threading.local):
    """The scan this worker process (thread) read last, still open: its key and its document."""

    key = None
    doc = None


_open_scan = _OpenScan()


@contextlib.contextmanager
def scan_document(batch):
    """The batch's scan, open (a PyMuPDF document), for one range of its pages.

    The document stays open in this worker process (each thread of a thread pool has its own) for its next
    range of the same scan: opening a scan is cheap, but MuPDF reads its whole page tree at the first page
    a document loads (13 to 17 ms for 4,000 pages), which every range paid again. It is opened from the
    machine's copy of the scan (:func:`local_copy`), whose name is given back at once: the open file
    outlives its name, so nothing is left on disk by a process that ends without closing it, and the
    disk's space is freed when the document closes. Scans are stored under their SHA-256, never
    rewritten, so an open document is never stale. It is closed by :func:`close_scan_document`: when a range
    of another scan comes, when a range fails, and by the range that completes the batch.
    """
    key = (batch.file_name, batch.sha256)
    if _open_scan.key != key:
        close_scan_document()
        with local_copy(batch.file_name) as path:
            _open_scan.doc = pdf_validate.open_document(path)
        _open_scan.key = key
    try:
        yield _open_scan.doc
    except BaseException:
        close_scan_document()
        raise


def close_scan_document():
    """Close the scan this worker process kept open (:func:`scan_document`), if any."""
    doc, _open_scan.key, _open_scan.doc = _open_scan.doc, None, None
    if doc is not None:
        doc.close()


def image_name(batch, index, kind, extension):
    return storage.file_name("pages", batch.exam_id, batch.pk, f"{index:05d}-{kind}.{extension}")


#: seconds between two writes of a batch's progress (``pages_done``, ``updated_at``) by its ranges: the
#: batch row is not a counter every range updates (which would queue concurrent ranges on its lock);
#: the dashboard counts the pages itself (:func:`progress`), the recovery only needs a recent step
PROGRESS_EVERY_SECONDS = 30


def codes_expected(exam):
    """Whether pages of ``exam`` are expected to carry codes: it printed booklets, or a scan of it had codes.

    A range reads every page's code in full when they are, or when one of its own pages had one
    (:func:`process_range`); otherwise a page that shows no code at the first look is not searched further.
    """
    from viatique_xblock.models import Booklet

    return (Booklet.objects.filter(exam_id=exam.pk).exists()
            or Copy.objects.filter(exam_id=exam.pk, booklet_number__isnull=False).exists())


def _range_pages(doc, start, stop, batch):
    """``(index, scanner image, raw image stream or None, code or None)`` of each page ``start..stop-1``.

    Every page first gets the cheapest look (:func:`~viatique_xblock.pdf.decode.first_look`: the quick pass
    over the top rows of a scanner JPEG, which finds an upright booklet page's code) and goes on at once when
    that decided. The pages where it found nothing come last, searched in full only in a scan with codes
    (:func:`codes_expected`, or a page of this range or of a range of the scan done before had one): a page
    turned upside down, a smudged code. A scan of the school's own paper thus costs one look at the top of
    each page, not five passes over all of it.
    """
    from viatique_xblock.pdf import decode as pdf_decode, pages as pdf_pages

    unsure, found = [], False
    for index in range(start, stop):
        scanned = pdf_pages.scanner_image(doc, index)  # looked at once, for the code and the image
        data = doc.xref_stream_raw(scanned.xref) if scanned is not None and scanned.filters == ("DCTDecode",) \
            else None  # read once, for the first look and the page image
        look = pdf_decode.first_look(doc, index, image=scanned, data=data)
        if look.code is None and not look.complete:
            unsure.append((index, scanned))  # its raw stream is not kept: read again if searched
            continue
        found = found or look.code is not None
        yield index, scanned, data, look.code
    search = bool(unsure) and (found or codes_expected(batch.exam)
                               or Page.objects.filter(batch=batch).exclude(qr_payload="").exists())
    for index, scanned in unsure:
        yield index, scanned, None, pdf_decode.read_page_code(doc, index, image=scanned, after_first_look=True) \
            if search else None


def process_range(batch_pk, start, stop, send=None):
    """Read codes and make images for pages ``start..stop-1``; assemble when the batch is complete."""
    from viatique_xblock.pdf import images as pdf_images

    batch = ScanBatch.objects.select_related("exam").get(pk=batch_pk)
    if batch.state not in (BatchState.PROCESSING, BatchState.QUEUED):
        return 0
    dpi = conf.get("PAGE_IMAGE_DPI")
    max_pixels = conf.get("MAX_PAGE_PIXELS")
    rows = []
    with monitoring.span("process_range"), scan_document(batch) as doc:
        for index, scanned, data, code in _range_pages(doc, start, stop, batch):
            rotation = code.rotation if code else 0
            image = pdf_images.page_image(doc, index, dpi=dpi, max_pixels=max_pixels, rotate=rotation,
                                          image=scanned, data=data)
            image_path = storage.overwrite(image_name(batch, index, "page", _extension(image.mime)), image.data)
            rect = doc[index].rect
            rows.append(Page(
                exam_id=batch.exam_id, batch=batch, source_index=index, rotation=rotation,
                width_pt=rect.width, height_pt=rect.height,
                qr_payload=code.text if code else "", image_name=image_path, thumbnail_name="",
            ))
    # MuPDF keeps decoded images in a cache of its own (256 MB by default): empty it between
    # ranges so that a worker's memory stays flat over a 2,500-page scan
    pdf_images.release_caches()
    # an upsert: a redelivered range rewrites its rows (MySQL names no conflict target)
    target = {"unique_fields": ["batch", "source_index"]} \
        if connection.features.supports_update_conflicts_with_target else {}
    Page.objects.bulk_create(
        rows, update_conflicts=True, **target,
        update_fields=["rotation", "width_pt", "height_pt", "qr_payload", "image_name", "thumbnail_name"],
    )
    done = Page.objects.filter(batch=batch).count()  # a read: concurrent ranges never wait on each other
    if done >= batch.page_count:
        close_scan_document()
        _claim_assembly(batch, send)
    else:
        _note_progress(batch, done)
    return len(rows)


def _note_progress(batch, done):
    """Record the batch's progress, at most once per :data:`PROGRESS_EVERY_SECONDS` whatever the ranges
    running: the row is read (no lock) and written only when its last step is older than that."""
    now = timezone.now()
    due = now - datetime.timedelta(seconds=PROGRESS_EVERY_SECONDS)
    if batch.updated_at < due:
        ScanBatch.objects.filter(pk=batch.pk, state=BatchState.PROCESSING, updated_at__lt=due).update(
            pages_done=done, updated_at=now)


def _claim_assembly(batch, send=None):
    """Move a batch whose pages are all done from ``processing`` to ``assembling`` and send its
    assembly: once, whoever (the last two ranges, the recovery) gets there first."""
    claimed = ScanBatch.objects.filter(pk=batch.pk, state=BatchState.PROCESSING).update(
        state=BatchState.ASSEMBLING, pages_done=batch.page_count, updated_at=timezone.now())
    if claimed:
        _send(send, "assemble_batch", batch.pk)
    return bool(claimed)


#: batch states whose processing is under way (a Celery task is due to move it on)
BUSY = (BatchState.QUEUED, BatchState.PROCESSING, BatchState.ASSEMBLING)


def stuck(before):
    """Batches under way whose last step (see the module's docstring) was before ``before``."""
    return list(ScanBatch.objects.filter(state__in=BUSY, updated_at__lt=before).select_related("exam").order_by("pk"))


def missing_ranges(batch):
    """``[(start, stop), ...]``: the ranges of :func:`page_ranges` of which some page has no row yet."""
    done = set(Page.objects.filter(batch=batch).values_list("source_index", flat=True))
    return [(start, stop) for start, stop in page_ranges(batch.page_count)
            if not done.issuperset(range(start, stop))]


def requeue(batch, send=None, reason="stuck"):
    """Send again the step a stopped batch waits for: ``process_batch`` for a ``queued`` one, the ranges
    whose pages are missing for a ``processing`` one (or its assembly when none is), ``assemble_batch``
    for an ``assembling`` one. Every step is idempotent. Audited ``recovery.batch_requeued``; returns the
    steps sent (none when the batch moved on meanwhile); :class:`~viatique_xblock.platform.queue.QueueUnavailable`
    when the broker cannot be reached."""
    now = timezone.now()
    if not ScanBatch.objects.filter(pk=batch.pk, state=batch.state, updated_at=batch.updated_at).update(
            updated_at=now):
        return []  # it moved on, or was sent again, meanwhile
    steps = []
    if batch.state == BatchState.QUEUED:
        steps.append(("process_batch", batch.pk))
    elif batch.state == BatchState.ASSEMBLING:
        steps.append(("assemble_batch", batch.pk))
    else:
        ranges = missing_ranges(batch)
        steps.extend(("process_range", batch.pk, start, stop) for start, stop in ranges)
    try:
        for step in steps:
            _send(send, *step)
    except queue.QueueUnavailable:
        ScanBatch.objects.filter(pk=batch.pk, updated_at=now).update(updated_at=batch.updated_at)
        raise
    if batch.state == BatchState.PROCESSING and not steps and _claim_assembly(batch, send):
        steps.append(("assemble_batch", batch.pk))
    audit.record(batch.exam, "recovery.batch_requeued", details={
        "batch": batch.pk, "state": batch.state, "pages": batch.page_count, "pages_done": batch.pages_done,
        "steps": [list(step[:1]) + list(step[2:]) for step in steps], "reason": reason,
        "since": batch.updated_at.isoformat()})
    return steps


def put_page_file(page, kind, image):
    """Store a derived image of a page (thumbnail, masked cover) next to its page image, made on
    request: concurrent requests for the same one keep the first stored (never delete it)."""
    batch = ScanBatch(pk=page.batch_id, exam_id=page.exam_id)
    return storage.write_once(image_name(batch, page.source_index, kind, _extension(image.mime)), image.data)


def thumbnail_name(page, source=None, kind="thumb"):
    """The stored thumbnail of a page, made from its page image the first time it is asked for.

    Thumbnails are not made during ingestion: most are never looked at, and making
    one costs as much as the rest of a page's processing. ``source`` and ``kind``
    make the thumbnail of another image of the page (the masked cover), not recorded.
    """
    if source is None and page.thumbnail_name:
        return page.thumbnail_name
    from viatique_xblock.pdf import images as pdf_images

    store = storage.get_storage()
    name = image_name(ScanBatch(pk=page.batch_id, exam_id=page.exam_id), page.source_index, kind, "jpg")
    if source is not None and store.exists(name):
        return name
    with store.open(source or page.image_name, "rb") as handle:
        thumb = pdf_images.thumbnail_from_image(handle.read(), width=conf.get("THUMBNAIL_WIDTH"))
    name = put_page_file(page, kind, thumb)
    if source is None:
        Page.objects.filter(pk=page.pk).update(thumbnail_name=name)
        page.thumbnail_name = name
    return name


def _extension(mime):
    return {"image/jpeg": "jpg", "image/png": "png"}.get(mime, "bin")


def assemble_batch(batch_pk):
    """Place the batch's pages into copies and record anomalies. Idempotent."""
    batch = ScanBatch.objects.select_related("exam").get(pk=batch_pk)
    if batch.state == BatchState.DONE:
        return
    exam = batch.exam
    pages = list(Page.objects.filter(batch=batch).order_by("source_index").values_list("pk", "qr_payload"))
    scanned = [splitting.ScannedPage(pk, _code(payload)) for pk, payload in pages]
    mode = splitting.choose_mode(scanned, per_file=batch.split_mode == "per_file", loose=batch.split_mode == "loose")
    with transaction.atomic():
        # one assembly per exam at a time: two files of one class must not both take a place
        type(exam).objects.select_for_update().filter(pk=exam.pk).first()
        if ScanBatch.objects.filter(pk=batch.pk, state=BatchState.DONE).exists():
            return  # a redelivered assembly that waited for this lock behind the first one: done once
        if mode == "qr":
            ref = exam_ref(exam)
            split = splitting.split_qr(scanned, ref, _taken(exam, batch, {
                page.code[1] for page in scanned if page.code and page.code[0] == ref}))
            copies = _booklet_copies(exam, split.copies)
        else:
            if mode == "loose":
                split = splitting.split_loose(scanned)
            elif mode == "fixed":
                split = splitting.split_fixed(scanned, batch.pages_per_copy or exam.pages_per_copy)
            else:
                split = splitting.split_per_file(scanned, 1)
            copies = _group_copies(exam, batch, split.copies)
        _place(split.placements, copies)
        ScanBatch.objects.filter(pk=batch.pk).update(state=BatchState.DONE)
        audit.record(exam, "scan.processed", details={
            "batch": batch.pk, "mode": mode, "copies": len(copies), "pages": len(pages),
            "anomalies": len(split.anomalies)})


def _taken(exam, batch, numbers):
    """``{(booklet number, position)}`` already filled by other scans of the exam, among the booklets
    ``numbers`` of this one: read for those booklets only, not for the whole exam (whose pages grow with
    every class's scan, 800,000 for a regional exam)."""
    numbers = sorted(numbers)
    taken = set()
    for first in range(0, len(numbers), CHUNK):
        taken.update(Page.objects.filter(exam=exam, copy__booklet_number__in=numbers[first:first + CHUNK])
                     .exclude(batch=batch).values_list("copy__booklet_number", "position"))
    return taken


def _place(placements, copies, chunk=500):
    """Write every page's copy, position and anomaly: one UPDATE per ``chunk`` pages.

    (``bulk_update`` builds the same CASE expressions through the ORM, at several
    milliseconds per page; this is the hot end of every batch.)
    """
    table = connection.ops.quote_name(Page._meta.db_table)
    columns = {name: connection.ops.quote_name(Page._meta.get_field(name).column)
               for name in ("id", "copy", "position", "anomaly")}
    with connection.cursor() as cursor:
        for start in range(0, len(placements), chunk):
            part = placements[start:start + chunk]
            params, cases = [], {"copy": [], "position": [], "anomaly": []}
            values = {"copy": [], "position": [], "anomaly": []}
            for placement in part:
                copy = copies.get(placement.copy) if not placement.anomaly else None
                values["copy"].append(copy.pk if copy else None)
                values["position"].append(placement.position)
                values["anomaly"].append(placement.anomaly)
            for name in cases:
                cases[name] = " ".join(["WHEN %s THEN %s"] * len(part))
                for placement, value in zip(part, values[name]):
                    params.extend([placement.key, value])
            ids = [placement.key for placement in part]
            params.extend(ids)
            sets = ", ".join(f"{columns[name]} = CASE {columns['id']} {cases[name]} END" for name in cases)
            cursor.execute(f"UPDATE {table} SET {sets} WHERE {columns['id']} IN ({', '.join(['%s'] * len(ids))})",
                           params)


def _code(text):
    """``(exam_ref, copy, page)`` of a stored code text; None for a misread one (no usable code)."""
    if not text:
        return None
    try:
        payload = qr.decode(text)
    except pdf_errors.QrChecksumMismatch:
        return None
    except pdf_errors.PdfError:  # a QR code, but not a Viatique booklet's: never guessed into a copy
        return ("?", 0, 0)
    return (payload.exam_ref, payload.copy, payload.page)


#: rows looked up or written per query in the assembly (below every database's parameter limit)
CHUNK = 500


def _chunks(items, size=CHUNK):
    items = list(items)
    return [items[start:start + size] for start in range(0, len(items), size)]


def _existing(queryset, key, values):
    """``{value of key: row}`` of the rows of ``queryset`` whose ``key`` is in ``values``, one query per chunk."""
    return {getattr(row, key): row for part in _chunks(values)
            for row in queryset.filter(**{f"{key}__in": part})}


def _booklet_copies(exam, numbers):
    """The copy of each booklet number (a dict): those that exist read in one query, the others
    created in one; a prenamed booklet's copy is identified as it is created (audited), unless
    its learner already has a copy of this exam."""
    from viatique_xblock.models import Booklet

    copies = _existing(Copy.objects.filter(exam=exam), "booklet_number", numbers)
    missing = [number for number in numbers if number not in copies]
    if not missing:
        return copies
    prenamed = _existing(Booklet.objects.filter(exam=exam, learner_anonymous_id__isnull=False), "number", missing)
    has_copy = set(_existing(Copy.objects.filter(exam=exam), "learner_anonymous_id",
                             {booklet.learner_anonymous_id for booklet in prenamed.values()}))
    new = []
    for number in missing:
        booklet = prenamed.get(number)
        if booklet is None or booklet.learner_anonymous_id in has_copy:
            new.append({"booklet_number": number})
            continue
        has_copy.add(booklet.learner_anonymous_id)
        new.append({"booklet_number": number, "identity_state": Identity.IDENTIFIED,
                    "learner_anonymous_id": booklet.learner_anonymous_id,
                    "learner_username": booklet.learner_username, "learner_name": booklet.learner_name})
    created = _create_copies(exam, new, "booklet_number")
    for fields in new:
        if fields.get("identity_state") == Identity.IDENTIFIED:
            number = fields["booklet_number"]
            audit.record(exam, "copy.identified", copy=created[number],
                         details={"source": "prenamed_booklet", "booklet": number})
    copies.update(created)
    return copies


def _group_copies(exam, batch, groups):
    """The copy of each group of pages of a scan without codes (a dict), created in one query where missing."""
    copies = _existing(Copy.objects.filter(exam=exam, source_batch=batch), "source_group", groups)
    new = [{"source_batch": batch, "source_group": group} for group in groups if group not in copies]
    copies.update(_create_copies(exam, new, "source_group", source_batch=batch))
    return copies


def _create_copies(exam, new, key, **scope):
    """Create a copy of each dict of fields in ``new`` with random anonymous codes, in one insert
    per chunk; return them by their ``key`` field, read back by ``scope`` (the fields they share) and
    ``key``. When the insert is refused (a code already taken in this exam, a copy made meanwhile), one by
    one as :func:`_create_copy`.
    """
    if not new:
        return {}
    drawn = set()
    rows = []
    for fields in new:
        code = codes.new_code()
        while code in drawn:
            code = codes.new_code()
        drawn.add(code)
        rows.append({**fields, "anonymous_code": code})
    try:
        with transaction.atomic():
            _insert_copies(exam, rows)
    except IntegrityError:
        return {fields[key]: _create_copy(exam, **fields) for fields in new}
    return _existing(Copy.objects.filter(exam=exam, **scope), key, [fields[key] for fields in new])


def _insert_copies(exam, rows):
    """INSERT a copy of ``exam`` per dict of fields in ``rows``, a multi-row statement per chunk.

    What ``bulk_create`` does, without building a model and preparing its 25 columns for each of the
    thousand copies of a large scan, the costliest step of its assembly (which runs alone, after every
    range): the columns every new copy shares are prepared once, from one model, and each row only
    prepares the fields it was given and its public id. The caller reads the rows back (MySQL gives no ids).
    """
    fields = [field for field in Copy._meta.concrete_fields if not field.primary_key]
    template = Copy(exam=exam)
    shared = {field.attname: field.get_db_prep_save(field.pre_save(template, True), connection) for field in fields}
    by_name = {field.name: field for field in fields}
    values = []
    for row in rows:
        prepared = dict(shared, public_id=public_ids.new())
        for name, value in row.items():
            field = by_name[name]
            if field.is_relation and isinstance(value, Copy._meta.get_field(name).related_model):
                value = value.pk
            prepared[field.attname] = field.get_db_prep_save(value, connection)
        values.append([prepared[field.attname] for field in fields])
    table = connection.ops.quote_name(Copy._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(fields, values))
    with connection.cursor() as cursor:
        for start in range(0, len(values), size):
            part = values[start:start + size]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(part))}",
                           [value for row in part for value in row])


def _create_copy(exam, **fields):
    """A new copy with a random anonymous code (codes reveal neither order nor identity)."""
    for _attempt in range(20):
        try:
            with transaction.atomic():
                return Copy.objects.create(exam=exam, anonymous_code=codes.new_code(), **fields)
        except IntegrityError:
            existing = Copy.objects.filter(exam=exam, **fields).first()
            if existing is not None:
                return existing
    raise RuntimeError("Could not find a free anonymous code")


def fail_batch(batch_pk, code, message):
    """Mark a batch failed with a reason the dashboard shows (a task gave up on it)."""
    ScanBatch.objects.filter(pk=batch_pk).exclude(state=BatchState.DONE).update(
        state=BatchState.FAILED, error_code=code, error_message=message[:2000])


def progress(exam, show_file_names=True):
    """The batches of an exam with their progress, newest first (for the dashboard).

    File names are left out for graders: one file per learner is often named after them.
    """
    from viatique_xblock.i18n import gettext as _

    batches = []
    rows = list(ScanBatch.objects.filter(exam=exam).order_by("-created_at", "-id"))
    # the pages of the batches under way, counted here: their ranges keep no counter (PROGRESS_EVERY_SECONDS)
    processing = [batch.pk for batch in rows if batch.state == BatchState.PROCESSING]
    counted = dict(Page.objects.filter(batch__in=processing).values_list("batch").annotate(pages=Count("pk"))
                   .order_by()) if processing else {}
    for batch in rows:
        batches.append({
            "id": batch.pk, "state": batch.state, "pages": batch.page_count,
            "pages_done": counted.get(batch.pk, batch.pages_done),
            "file_name": batch.original_name if show_file_names else _("Scan {number}").format(number=batch.pk),
            "error": batch.error_code or None,
            "message": _(BATCH_ERRORS.get(batch.error_code, BATCH_ERRORS["processing_failed"]))
            if batch.error_code else None,
        })
    return batches


#: what the dashboard says of a failed batch (the technical reason stays in the batch row)
BATCH_ERRORS = {
    "processing_failed": N_("Processing this scan failed. Upload it again; if it fails again, "
                            "ask your platform's support team (the reason is in the server's logs)."),
    "processing_timeout": N_("Processing this scan took longer than allowed. Split it into smaller files "
                             "and upload them one after the other."),
}
