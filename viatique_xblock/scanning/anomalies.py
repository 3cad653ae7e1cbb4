"""The anomaly queue and the pages of copies (public API): pages the pipeline could not place, extra
sheets and second booklets, pages moved between copies, discarded (with an undo), and copies missing pages.

Every change is audited (``page.assigned``, ``page.moved``, ``page.discarded``, ``page.restored``,
``copy.merged``, ``copy.missing_accepted``). Lookups are filtered by exam, so an id from another block is
simply "not found". Pages and copies are named by their public ids (:mod:`viatique_xblock.public_ids`).

The rules that keep a copy's pages, renders and grades consistent:

- a copy's pages may change while it is ready, in progress or reopened (:data:`EDITABLE`); once submitted,
  graded or failed to render they may not (:class:`CopyLocked`, ``copy_locked``) until it is reopened:
  its graded PDF and its score stay those of the pages it was graded on;
- a page that carries annotations (saved, or in a grader's draft) never leaves its copy
  (:class:`PageAnnotated`, ``page_annotated``): annotations belong to the copy that was graded, so they
  neither follow the page into another copy nor vanish with it; the grader removes them first;
- a page placed without a page number goes after the copy's last page (an extra sheet); merging two copies
  whose page numbers overlap (a second booklet of the same learner) puts the merged copy's pages after the
  receiving copy's last page, in their order.
"""
from django.db import transaction
from django.db.models import BooleanField, Case, Count, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest

from viatique_xblock import audit, inputs, public_ids
from viatique_xblock.errors import NotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.models import Annotation, AuditEvent, Copy, Draft, Page
from viatique_xblock.scanning import splitting
from viatique_xblock.states import Grading


#: the largest page number in a copy (a page's position is a 32-bit column)
MAX_POSITION = 100000
#: grading states in which a copy's pages may change
EDITABLE = (Grading.READY, Grading.IN_PROGRESS, Grading.REOPENED)


class PositionTaken(ViatiqueError):
    code = "position_taken"
    status = 409


class CopyLocked(ViatiqueError):
    code = "copy_locked"
    status = 409


class PageAnnotated(ViatiqueError):
    code = "page_annotated"
    status = 409


class NothingToUndo(ViatiqueError):
    code = "nothing_to_undo"
    status = 409


def _page(exam, page_id, lock=False):
    queryset = Page.objects.select_for_update() if lock else Page.objects
    try:
        return queryset.get(exam=exam, public_id=public_ids.parse(page_id))
    except Page.DoesNotExist as exc:
        raise NotFound(N_("This page does not exist.")) from exc


def _copy(exam, copy_id, lock=False):
    queryset = Copy.objects.select_for_update() if lock else Copy.objects
    try:
        return queryset.get(exam=exam, public_id=public_ids.parse(copy_id))
    except Copy.DoesNotExist as exc:
        raise NotFound(N_("This copy does not exist.")) from exc


def with_missing_pages(queryset, pages_per_copy):
    """``queryset`` of copies annotated with ``pages_placed`` (its pages), ``last_position`` (its highest page
    number, 0 without pages) and ``has_missing_pages``: True when a page number from 1 to the larger of
    ``pages_per_copy`` and its last page holds no page, and the instructor did not accept the copy as it is
    (:func:`accept_missing`). Two correlated subqueries in the same query, whatever the number of copies (no
    join: safe to combine with other annotations); filter with
    ``.filter(has_missing_pages=True)`` (what the copy list's "missing pages" filter does)."""
    # subqueries, not joins: combined with other annotations of the copy list they multiply no row
    placed = Page.objects.filter(copy=OuterRef("pk"), position__isnull=False).order_by().values("copy")
    queryset = queryset.annotate(
        pages_placed=Coalesce(Subquery(placed.annotate(n=Count("position", distinct=True)).values("n")), Value(0)),
        last_position=Coalesce(Subquery(placed.annotate(last=Max("position")).values("last")), Value(0)))
    return queryset.annotate(has_missing_pages=Case(
        When(Q(missing_accepted=False) & Q(pages_placed__lt=Greatest(Value(pages_per_copy), "last_position")),
             then=Value(True)),
        default=Value(False), output_field=BooleanField()))


def copies_missing_pages(exam):
    """The copies of ``exam`` with missing pages that nobody accepted (a queryset, by code)."""
    return with_missing_pages(Copy.objects.filter(exam=exam), exam.pages_per_copy) \
        .filter(has_missing_pages=True).order_by("anonymous_code")


def missing_of(exam, copy):
    """The page numbers ``copy`` lacks (1-based), e.g. ``[3]`` for a 4-page copy whose page 3 was never
    scanned; ``[]`` when complete. Accepted copies still list what they lack."""
    positions = Page.objects.filter(copy=copy).exclude(position=None).values_list("position", flat=True)
    return splitting.missing_pages(list(positions), exam.pages_per_copy)


def queue(exam):
    """Unplaced pages (not discarded), copies with missing pages (not accepted), and every copy of the exam
    (``id``, ``code``, ``name``, ``username``, ``pages``: its page count): what the instructor picks a page's
    copy, or the copies to merge, from. Instructors only (it names learners); three queries whatever the
    number of copies."""
    pages = [
        {"id": page.public_id, "batch": page.batch_id, "source_index": page.source_index, "anomaly": page.anomaly,
         "code": page.qr_payload}
        for page in Page.objects.filter(exam=exam, copy__isnull=True, discarded=False).order_by("batch", "source_index")
    ]
    positions = {}
    for copy_id, position in Page.objects.filter(exam=exam, copy__isnull=False).values_list("copy_id", "position"):
        positions.setdefault(copy_id, []).append(position)
    incomplete, copies = [], []
    for pk, public_id, code, name, username, accepted in (
            Copy.objects.filter(exam=exam).order_by("anonymous_code")
            .values_list("id", "public_id", "anonymous_code", "learner_name", "learner_username",
                         "missing_accepted")):
        copies.append({"id": public_id, "code": code, "name": name, "username": username,
                       "pages": len(positions.get(pk, []))})
        missing = splitting.missing_pages(positions.get(pk, []), exam.pages_per_copy)
        if missing and not accepted:
            incomplete.append({"id": public_id, "code": code, "missing": missing})
    return {"pages": pages, "incomplete_copies": incomplete, "copies": copies}


def copy_pages(exam, copy_id):
    """The pages of one copy in order: ``id``, ``position``, ``annotated`` (it cannot leave the copy), and the
    copy's ``missing`` page numbers and whether its pages may change (``editable``)."""
    copy = _copy(exam, copy_id)
    pages = list(Page.objects.filter(copy=copy).order_by("position", "id"))
    annotated = _annotated(copy, pages)
    return {"copy": {"id": copy.public_id, "code": copy.anonymous_code, "state": copy.grading_state,
                     "editable": copy.grading_state in EDITABLE, "missing": missing_of(exam, copy),
                     "missing_accepted": copy.missing_accepted},
            "pages": [{"id": page.public_id, "position": page.position, "annotated": page.pk in annotated}
                      for page in pages]}


def _annotated(copy, pages):
    """The primary keys of those ``pages`` of ``copy`` that carry an annotation, saved or in a draft."""
    keys = {page.pk for page in pages}
    found = set(Annotation.objects.filter(copy=copy, page_id__in=keys).values_list("page_id", flat=True))
    by_public = {page.public_id: page.pk for page in pages}
    for payload in Draft.objects.filter(copy=copy).values_list("payload", flat=True):
        for item in (payload or {}).get("annotations") or []:
            if isinstance(item, dict) and str(item.get("page_id")) in by_public:
                found.add(by_public[str(item["page_id"])])
    return found


def _editable(copy):
    if copy.grading_state not in EDITABLE:
        raise CopyLocked(N_("Copy {code} is submitted or graded: reopen it before its pages change."),
                         code=copy.anonymous_code)


def _may_leave(page):
    """Refuse unless ``page`` may leave its copy (if it is in one)."""
    if page.copy_id is None:
        return
    copy = Copy.objects.select_for_update().get(pk=page.copy_id)
    _editable(copy)
    if _annotated(copy, [page]):
        raise PageAnnotated(N_("Page {position} of copy {code} carries annotations: remove them before the page "
                               "leaves the copy."), position=page.position, code=copy.anonymous_code)


def _last_position(copy):
    return Page.objects.filter(copy=copy).aggregate(last=Max("position"))["last"] or 0


def assign_page(exam, page_id, copy_id, position=None, actor=None, client_ip=None, publish=None):
    """Put a page into a copy, from the anomaly queue or from another copy (a move), at a page number (1-based)
    no other page holds, or after the copy's last page when ``position`` is empty (an extra sheet).

    Audited as ``page.assigned`` (from the queue) or ``page.moved`` (from another copy). Refused with
    ``copy_locked`` when either copy is submitted or graded, ``page_annotated`` when the page carries
    annotations and leaves a copy, ``position_taken`` when the number is taken."""
    with transaction.atomic():
        page = _page(exam, page_id, lock=True)
        copy = _copy(exam, copy_id, lock=True)
        _editable(copy)
        if page.copy_id != copy.pk:
            _may_leave(page)
        if position in (None, ""):
            position = _last_position(copy) + (0 if page.copy_id == copy.pk else 1)
            position = max(position, 1)
        else:
            position = inputs.whole_number(position, default=0)
        if not 1 <= position <= MAX_POSITION:
            raise PositionTaken(N_("Choose a page number of 1 or more."))
        if Page.objects.filter(copy=copy, position=position).exclude(pk=page.pk).exists():
            raise PositionTaken(N_("Page {position} of copy {code} is already there."),
                                position=position, code=copy.anonymous_code)
        previous = {"copy": page.copy_id, "position": page.position, "anomaly": page.anomaly}
        page.copy, page.position, page.anomaly, page.discarded = copy, position, "", False
        page.save(update_fields=["copy", "position", "anomaly", "discarded"])
        audit.record(exam, "page.moved" if previous["copy"] else "page.assigned", actor=actor, copy=copy,
                     client_ip=client_ip, publish=publish,
                     details={"page": page.pk, "position": position, "previous": previous})
    return page


def discard_page(exam, page_id, actor=None, client_ip=None, publish=None):
    """Set a page aside (a blank sheet, a page of another exam). It stays listed in the audit log, and
    :func:`restore_page` puts it back where it was."""
    with transaction.atomic():
        page = _page(exam, page_id, lock=True)
        _may_leave(page)
        previous = {"copy": page.copy_id, "position": page.position, "anomaly": page.anomaly}
        page.copy, page.position, page.discarded = None, None, True
        page.save(update_fields=["copy", "position", "discarded"])
        audit.record(exam, "page.discarded", actor=actor, copy=previous["copy"], client_ip=client_ip,
                     publish=publish, details={"page": page.pk, "previous": previous})
    return page


def restore_page(exam, page_id, actor=None, client_ip=None, publish=None):
    """Undo the discarding of a page: back at its place in its copy when the copy still exists, may change
    and nobody took that page number since; else back in the anomaly queue. Audited as ``page.restored``;
    ``nothing_to_undo`` when the page is not discarded."""
    with transaction.atomic():
        page = _page(exam, page_id, lock=True)
        if not page.discarded:
            raise NothingToUndo(N_("This page is not discarded: there is nothing to undo."))
        event = AuditEvent.objects.filter(exam=exam, action="page.discarded", details__page=page.pk).first()
        previous = (event.details.get("previous") if event else None) or {}
        copy = Copy.objects.select_for_update().filter(exam=exam, pk=previous.get("copy")).first() \
            if previous.get("copy") else None
        if copy is not None and (copy.grading_state not in EDITABLE or Page.objects.filter(
                copy=copy, position=previous.get("position")).exists()):
            copy = None
        page.copy, page.position = copy, previous.get("position") if copy else None
        page.anomaly = previous.get("anomaly") or ("" if copy else splitting.LOOSE)
        page.discarded = False
        page.save(update_fields=["copy", "position", "anomaly", "discarded"])
        audit.record(exam, "page.restored", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                     details={"page": page.pk, "position": page.position})
    return page


def merge_copies(exam, source_id, target_id, actor=None, client_ip=None, publish=None):
    """Move every page of ``source`` into ``target`` (two partial copies, or two booklets, of one learner) and
    drop ``source``. When no page number clashes (pages 1-2 and 3-4), every page keeps its number; when
    any does (a second booklet, an extra sheet numbered 1), all of ``source``'s pages go after ``target``'s
    last page, in their order. Audited as ``copy.merged`` with each page's new number."""
    if str(source_id).strip().lower() == str(target_id).strip().lower():
        raise PositionTaken(N_("A copy cannot be merged into itself."))
    with transaction.atomic():
        source = _copy(exam, source_id, lock=True)
        target = _copy(exam, target_id, lock=True)
        _editable(source)
        _editable(target)
        if source.learner_anonymous_id and target.learner_anonymous_id \
                and source.learner_anonymous_id != target.learner_anonymous_id:
            raise PositionTaken(N_("These copies belong to two different learners."))
        moving = list(Page.objects.filter(copy=source).order_by("position", "id"))
        if _annotated(source, moving) or source.points.exists():
            raise PageAnnotated(N_("Copy {code} carries grading work: remove it before the copy is merged."),
                                code=source.anonymous_code)
        taken = set(Page.objects.filter(copy=target).values_list("position", flat=True))
        renumbered = {}
        if any(page.position in taken or page.position is None for page in moving):
            last = max(taken | {0})
            renumbered = {page.pk: last + index for index, page in enumerate(moving, start=1)}
        for page in moving:
            page.copy = target
            page.position = renumbered.get(page.pk, page.position)
        Page.objects.bulk_update(moving, ["copy", "position"])
        if source.learner_anonymous_id and not target.learner_anonymous_id:
            for field in ("learner_anonymous_id", "learner_username", "learner_name", "identity_state"):
                setattr(target, field, getattr(source, field))
            source.learner_anonymous_id = None
            source.save(update_fields=["learner_anonymous_id"])
            target.save()
        audit.record(exam, "copy.merged", actor=actor, copy=target, client_ip=client_ip, publish=publish,
                     details={"source": source.pk, "source_code": source.anonymous_code,
                              "pages": [page.pk for page in moving],
                              "renumbered": {str(pk): position for pk, position in renumbered.items()}})
        source.delete()
    return target


def accept_missing(exam, copy_id, accepted=True, actor=None, client_ip=None, publish=None):
    """Accept a copy without the pages it lacks (a learner who left a sheet out), or take that back: an
    accepted copy leaves the copies with missing pages. Audited as ``copy.missing_accepted`` with the
    page numbers missing at the time."""
    with transaction.atomic():
        copy = _copy(exam, copy_id, lock=True)
        copy.missing_accepted = bool(accepted)
        copy.save(update_fields=["missing_accepted", "updated_at"])
        audit.record(exam, "copy.missing_accepted", actor=actor, copy=copy, client_ip=client_ip,
                     publish=publish, details={"accepted": copy.missing_accepted,
                                               "missing": missing_of(exam, copy)})
    return copy
