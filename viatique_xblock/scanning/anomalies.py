"""The anomaly queue: pages the pipeline could not place, and copies missing pages (public API).

Every fix is audited. Lookups are filtered by exam, so an id from another
block is simply "not found". Pages and copies are named by their public ids
(:mod:`viatique_xblock.public_ids`).
"""
from django.db import transaction

from viatique_xblock import audit, inputs, public_ids
from viatique_xblock.errors import NotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy, Page
from viatique_xblock.scanning import splitting
from viatique_xblock.states import Grading


#: the largest page number in a copy (a page's position is a 32-bit column)
MAX_POSITION = 100000


class PositionTaken(ViatiqueError):
    code = "position_taken"
    status = 409


class CopyLocked(ViatiqueError):
    code = "copy_locked"
    status = 409


def _page(exam, page_id):
    try:
        return Page.objects.select_related("copy").get(exam=exam, public_id=public_ids.parse(page_id))
    except Page.DoesNotExist as exc:
        raise NotFound(N_("This page does not exist.")) from exc


def _copy(exam, copy_id):
    try:
        return Copy.objects.get(exam=exam, public_id=public_ids.parse(copy_id))
    except Copy.DoesNotExist as exc:
        raise NotFound(N_("This copy does not exist.")) from exc


def queue(exam):
    """Unplaced pages (not discarded), copies with missing pages, and every copy of the exam (``id``,
    ``code``, ``name``, ``username``: what the instructor picks a page's copy, or the copies to merge,
    from). Instructors only (it names learners); three queries whatever the number of copies."""
    pages = [
        {"id": page.public_id, "batch": page.batch_id, "source_index": page.source_index, "anomaly": page.anomaly,
         "code": page.qr_payload}
        for page in Page.objects.filter(exam=exam, copy__isnull=True, discarded=False).order_by("batch", "source_index")
    ]
    positions = {}
    for copy_id, position in Page.objects.filter(exam=exam, copy__isnull=False).values_list("copy_id", "position"):
        positions.setdefault(copy_id, []).append(position)
    incomplete, copies = [], []
    for pk, public_id, code, name, username in (
            Copy.objects.filter(exam=exam).order_by("anonymous_code")
            .values_list("id", "public_id", "anonymous_code", "learner_name", "learner_username")):
        copies.append({"id": public_id, "code": code, "name": name, "username": username})
        missing = splitting.missing_pages(positions.get(pk, []), exam.pages_per_copy)
        if missing:
            incomplete.append({"id": public_id, "code": code, "missing": missing})
    return {"pages": pages, "incomplete_copies": incomplete, "copies": copies}


def _editable(copy):
    if copy.grading_state not in (Grading.READY,):
        raise CopyLocked(N_("Copy {code} is already being graded; its pages can no longer change."),
                         code=copy.anonymous_code)


def assign_page(exam, page_id, copy_id, position, actor=None, client_ip=None, publish=None):
    """Put a page into a copy at a position (1-based) that no other page holds."""
    with transaction.atomic():
        page = _page(exam, page_id)
        copy = Copy.objects.select_for_update().get(pk=_copy(exam, copy_id).pk)
        _editable(copy)
        position = inputs.whole_number(position, default=0)
        if not 1 <= position <= MAX_POSITION:
            raise PositionTaken(N_("Choose a page number of 1 or more."))
        if Page.objects.filter(copy=copy, position=position).exclude(pk=page.pk).exists():
            raise PositionTaken(N_("Page {position} of copy {code} is already there."),
                                position=position, code=copy.anonymous_code)
        previous = {"copy": page.copy_id, "position": page.position, "anomaly": page.anomaly}
        page.copy, page.position, page.anomaly, page.discarded = copy, position, "", False
        page.save(update_fields=["copy", "position", "anomaly", "discarded"])
        audit.record(exam, "page.assigned", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                     details={"page": page.pk, "position": position, "previous": previous})
    return page


def discard_page(exam, page_id, actor=None, client_ip=None, publish=None):
    """Set a page aside (a blank sheet, a page of another exam). It stays listed in the audit log."""
    with transaction.atomic():
        page = _page(exam, page_id)
        if page.copy_id:
            _editable(page.copy)
        previous = {"copy": page.copy_id, "position": page.position, "anomaly": page.anomaly}
        page.copy, page.position, page.discarded = None, None, True
        page.save(update_fields=["copy", "position", "discarded"])
        audit.record(exam, "page.discarded", actor=actor, client_ip=client_ip, publish=publish,
                     details={"page": page.pk, "previous": previous})
    return page


def merge_copies(exam, source_id, target_id, actor=None, client_ip=None, publish=None):
    """Move every page of ``source`` into ``target`` (two partial copies of one learner) and drop ``source``."""
    if str(source_id).strip().lower() == str(target_id).strip().lower():
        raise PositionTaken(N_("A copy cannot be merged into itself."))
    with transaction.atomic():
        source = Copy.objects.select_for_update().get(pk=_copy(exam, source_id).pk)
        target = Copy.objects.select_for_update().get(pk=_copy(exam, target_id).pk)
        _editable(source)
        _editable(target)
        if source.learner_anonymous_id and target.learner_anonymous_id \
                and source.learner_anonymous_id != target.learner_anonymous_id:
            raise PositionTaken(N_("These copies belong to two different learners."))
        taken = set(Page.objects.filter(copy=target).values_list("position", flat=True))
        moving = list(Page.objects.filter(copy=source))
        clash = sorted(page.position for page in moving if page.position in taken)
        if clash:
            raise PositionTaken(N_("Both copies have page(s) {pages}: assign those pages one by one."),
                                pages=", ".join(map(str, clash)))
        Page.objects.filter(copy=source).update(copy=target)
        if source.learner_anonymous_id and not target.learner_anonymous_id:
            for field in ("learner_anonymous_id", "learner_username", "learner_name", "identity_state"):
                setattr(target, field, getattr(source, field))
            source.learner_anonymous_id = None
            source.save(update_fields=["learner_anonymous_id"])
            target.save()
        audit.record(exam, "copy.merged", actor=actor, copy=target, client_ip=client_ip, publish=publish,
                     details={"source": source.pk, "source_code": source.anonymous_code,
                              "pages": [page.pk for page in moving]})
        source.delete()
    return target
