"""The graded PDF of a finalized copy: its inputs gathered, the renderer called, the result stored.

Called by the Celery task :func:`viatique_xblock.workers.grading.render_graded_copy`.
:func:`render_copy` is idempotent: it renders only a copy that is ``submitted``
(a redelivered task, or a second one, finds it ``graded`` and does nothing), stores
the PDF under one name per copy (private, streamed by the download handler after a
permission check), and moves the copy ``submitted -> graded`` (``copy_graded`` sent)
or ``submitted -> render_failed`` with the reason kept in ``render_error``.
"""
import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from viatique_xblock import audit, i18n, scheme as scheme_module, signals
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import gettext as _
from viatique_xblock.models import AuditEvent, Copy
from viatique_xblock.platform import conf, monitoring, queue, storage
from viatique_xblock.states import Grading, check_grading_transition

log = logging.getLogger(__name__)


def graded_pdf_name(copy):
    return storage.file_name("graded", copy.exam_id, f"{copy.pk}.pdf")


def _text(number):
    return None if number is None else str(scheme_module.plain_number(number))


def _finalized(copy):
    """The details of the copy's last ``copy.finalized`` audit event (grader's name, grade scale)."""
    event = AuditEvent.objects.filter(exam_id=copy.exam_id, copy_id_ref=copy.pk, action="copy.finalized").first()
    return dict(event.details, actor=event.actor) if event else {}


def _grader_name(finalized, copy):
    """The name shown on the PDF: only when the course lets learners see who graded (``SHOW_GRADER_IDENTITY``)."""
    if not conf.get("SHOW_GRADER_IDENTITY"):
        return None
    return finalized.get("grader_name") or finalized.get("actor") or copy.grader or None


def _comment(row):
    """A question's comment on the PDF; an answer marked "no answer" says so first."""
    if row is None:
        return ""
    if row.no_answer:
        return " ".join(part for part in (_("No answer."), row.comment) if part)
    return row.comment


def render_inputs(copy, scale=None):
    """``(pages, annotations, summary)`` for :func:`viatique_xblock.pdf.graded.render_graded_pdf`;
    a page's ``source`` is the storage name of its scan (the key of the renderer's ``sources``).
    ``scale``: the grade scale to report the total on; None takes the one the copy was finalized with."""
    exam = copy.exam
    rows = list(copy.pages.filter(discarded=False).select_related("batch").order_by("position", "id"))
    index = {page.pk: position for position, page in enumerate(rows)}
    pages = [{"source": page.batch.file_name, "index": page.source_index, "rotation": page.rotation}
             for page in rows]
    leaves = scheme_module.leaves(exam.scheme)
    labels = {leaf["id"]: leaf.get("label", "") for leaf in leaves}
    annotations = [
        {"page": index[item.page_id], "kind": item.kind, "x": item.x, "y": item.y, "width": item.width,
         "height": item.height, "text": item.text, "question_label": labels.get(item.question_id, ""),
         "points": _text(item.points)}
        for item in copy.annotations.order_by("created_at", "id") if item.page_id in index
    ]
    finalized = _finalized(copy)
    if scale is None:
        scale = finalized.get("scale")  # the block's grade scale when the copy was finalized
    given = {row.question_id: row for row in copy.points.all()}
    from viatique_xblock.grading import rubrics  # rubrics builds on the workspace, which imports this module
    applied = rubrics.applied_details(copy=copy)
    total = sum((given[leaf["id"]].points for leaf in leaves if leaf["id"] in given), start=0)
    maximum = scheme_module.total(exam.scheme)
    scale_total = None
    if scale and maximum:
        scale_total = _text(round(total * Decimal(str(scale)) / maximum, 2))
    summary = {
        "title": exam.title, "code": copy.anonymous_code, "total": _text(total), "max": _text(maximum),
        "scale_total": scale_total, "scale": _text(Decimal(str(scale))) if scale else None,
        "questions": [{"id": leaf["id"], "label": leaf.get("label", ""),
                       "points": _text(given[leaf["id"]].points) if leaf["id"] in given else None,
                       "max": _text(Decimal(str(leaf["max"]))),
                       "comment": _comment(given.get(leaf["id"])),
                       "items": applied.get((copy.pk, leaf["id"]), []),
                       "adjustment": rubrics.shown_adjustment(given.get(leaf["id"]),
                                                              applied.get((copy.pk, leaf["id"])))}
                      for leaf in leaves],
        "general_comment": copy.general_comment,
        "grader": _grader_name(finalized, copy),
    }
    return pages, annotations, summary


def render_copy(copy_pk, scale=None):
    """Render and store the graded PDF of a submitted copy; returns the copy's state afterwards.

    Transient errors (database, storage I/O) propagate, so the task retries them;
    anything else the renderer raises is a render failure, kept on the copy.
    """
    copy = Copy.objects.select_related("exam").filter(pk=copy_pk).first()
    if copy is None or copy.grading_state != Grading.SUBMITTED:
        return copy.grading_state if copy else None
    try:
        data = _render_pdf(copy, scale)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # the renderer's own failure: shown to staff, retryable
        log.exception("Viatique: the graded PDF of copy %s could not be rendered", copy_pk)
        return mark_failed(copy_pk, failure_reason(exc))
    name = storage.overwrite(graded_pdf_name(copy), data)
    return _mark_graded(copy_pk, name)


def _render_pdf(copy, scale=None):
    """The graded PDF's bytes. The scans are files on this machine (the storage may be remote: S3), copied once
    per machine; the storage's errors (OSError) propagate (retried), only the renderer's own are a render
    failure."""
    from viatique_xblock.pdf.graded import render_graded_pdf

    names = set(copy.pages.filter(discarded=False).values_list("batch__file_name", flat=True))
    pages, annotations, summary = render_inputs(copy, scale)
    with storage.local_files(names) as sources:
        with monitoring.span("render_graded_pdf"):
            return render_graded_pdf(sources, pages, annotations, summary, number=i18n.number)


def rerender_copy(copy_pk):
    """Render the graded PDF of a ``graded`` copy again in place (its points changed: a living rubric item,
    :mod:`viatique_xblock.grading.rubrics`); the state does not change and nothing is published. A failure is
    logged and leaves the previous PDF (returned state unchanged); a copy in another state is left alone."""
    copy = Copy.objects.select_related("exam").filter(pk=copy_pk).first()
    if copy is None or copy.grading_state != Grading.GRADED:
        return copy.grading_state if copy else None
    try:
        data = _render_pdf(copy)
    except (OSError, MemoryError):
        raise
    except Exception:  # the renderer's own failure: the previous PDF stays
        log.exception("Viatique: the graded PDF of copy %s could not be rendered again", copy_pk)
        return copy.grading_state
    name = storage.overwrite(graded_pdf_name(copy), data)
    Copy.objects.filter(pk=copy_pk).update(graded_pdf_name=name)
    audit.record(copy.exam, "copy.rerendered", copy=copy, details={"total": _text(copy.total_points)})
    return copy.grading_state


def _mark_graded(copy_pk, name):
    with transaction.atomic():
        copy = Copy.objects.select_for_update().select_related("exam").get(pk=copy_pk)
        if copy.grading_state != Grading.SUBMITTED:
            return copy.grading_state
        check_grading_transition(copy.grading_state, Grading.GRADED)
        copy.grading_state, copy.graded_pdf_name, copy.graded_at = Grading.GRADED, name, timezone.now()
        copy.render_error = ""
        copy.save(update_fields=["grading_state", "graded_pdf_name", "graded_at", "render_error", "updated_at"])
        audit.record(copy.exam, "copy.graded", copy=copy, details={"total": _text(copy.total_points)})
    for receiver, result in signals.copy_graded.send_robust(sender=Copy, copy=copy, actor=None):
        if isinstance(result, Exception):
            log.error("Viatique: %s failed on copy_graded for copy %s: %r", receiver, copy_pk, result)
    return copy.grading_state


def failure_reason(exc):
    """Words for staff: the message of one of our typed errors (e.g. a scan page missing), else the kind
    of failure only: an exception's own text may name server paths or internals (it is in the logs)."""
    if isinstance(exc, ViatiqueError):
        return exc.message
    return _("The PDF renderer failed ({kind}); the details are in the server's logs.").format(
        kind=type(exc).__name__)


def mark_failed(copy_pk, reason):
    """``submitted -> render_failed`` with ``reason`` kept on the copy (staff see it and may retry)."""
    with transaction.atomic():
        copy = Copy.objects.select_for_update().select_related("exam").filter(pk=copy_pk).first()
        if copy is None or copy.grading_state != Grading.SUBMITTED:
            return copy.grading_state if copy else None
        check_grading_transition(copy.grading_state, Grading.RENDER_FAILED)
        copy.grading_state, copy.render_error = Grading.RENDER_FAILED, reason[:2000]
        copy.save(update_fields=["grading_state", "render_error", "updated_at"])
        monitoring.increment("render_failures")
        audit.record(copy.exam, "copy.render_failed", copy=copy, details={"error": reason[:500]})
    return copy.grading_state


def stuck_copies(finalized_before, usage_key=None):
    """Ids of the copies still ``submitted`` that were finalized before ``finalized_before``."""
    queryset = Copy.objects.filter(grading_state=Grading.SUBMITTED, finalized_at__lt=finalized_before)
    if usage_key:
        queryset = queryset.filter(exam__usage_key=usage_key)
    return list(queryset.order_by("pk").values_list("pk", flat=True))


def queue_renders(copy_ids):
    """Send the render task for each copy (the task reads the grade scale the copy was finalized with)."""
    for copy_id in copy_ids:
        queue.send("viatique.render_graded_copy", copy_id)


def stuck_renders(before):
    """Copies still ``submitted``, finalized before ``before`` and not sent again since (see
    :func:`requeue_render`): their render task never ran, or its worker died for good."""
    return list(Copy.objects.filter(grading_state=Grading.SUBMITTED, finalized_at__lt=before, updated_at__lt=before)
                .select_related("exam").order_by("pk"))


def requeue_render(copy, reason="stuck"):
    """Send the render task of a copy still ``submitted`` again (the task renders a copy once), marking
    the copy as sent now so that the next recovery waits again; audited ``recovery.render_requeued``.
    :class:`~viatique_xblock.platform.queue.QueueUnavailable` when the broker cannot be reached."""
    now = timezone.now()
    if not Copy.objects.filter(pk=copy.pk, grading_state=Grading.SUBMITTED, updated_at=copy.updated_at).update(
            updated_at=now):
        return False  # rendered, or sent again, meanwhile
    try:
        queue.send("viatique.render_graded_copy", copy.pk)
    except queue.QueueUnavailable:
        Copy.objects.filter(pk=copy.pk, updated_at=now).update(updated_at=copy.updated_at)
        raise
    audit.record(copy.exam, "recovery.render_requeued", copy=copy, details={
        "reason": reason, "finalized_at": copy.finalized_at.isoformat() if copy.finalized_at else None})
    return True
