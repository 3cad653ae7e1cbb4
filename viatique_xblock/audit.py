"""The append-only audit log, mirrored to the platform's event tracking.

:func:`record` is the only way actions are logged: it writes an
:class:`~viatique_xblock.models.AuditEvent` row and, when given a publisher
(the block's runtime), emits the same action as an ``edx.viatique.<action>``
tracking event.

Two writes besides it, neither reachable from a handler:

- :func:`erase_personal_data` rewrites the actor, details and address of events that name a retired
  user (:mod:`viatique_xblock.identity.retirement`): the one change an event may undergo, since
  the platform's retirement erases a person's data wherever it is;
- :func:`restore` appends events carried over from another instance by an exam archive
  (:mod:`viatique_xblock.reports.archive`), with the time each one happened there.
"""
import contextlib

from django.db import models

from viatique_xblock.models import AuditEvent
from viatique_xblock.platform import compat

EVENT_PREFIX = "edx.viatique."


def record(exam, action, actor=None, copy=None, client_ip=None, details=None, publish=None):
    """Append one audit event and emit it as a tracking event.

    ``actor`` is a :class:`~viatique_xblock.platform.compat.ViatiqueUser` (or None for the
    system, e.g. a Celery task); ``publish`` a callable ``(name, data)`` (the block runtime's
    publish); without one (a Celery task, a command) the event goes to the platform's tracker
    (:func:`~viatique_xblock.platform.compat.emit_server_event`).
    """
    details = dict(details or {})
    event = AuditEvent.objects.create(
        exam=exam,
        copy_id_ref=getattr(copy, "pk", copy),
        action=action,
        actor=getattr(actor, "username", "") or "",
        actor_role=getattr(actor, "role", "") or "",
        client_ip=client_ip or None,
        details=details,
    )
    data = {"exam_id": exam.pk, "copy_id": event.copy_id_ref, **details}
    if publish is not None:
        publish(EVENT_PREFIX + action, data)
    else:  # a Celery task or a command (a scan processed, a render): the platform's tracker, where there is one
        compat.emit_server_event(EVENT_PREFIX + action, data)
    return event


def events(exam, action=None, copy_id=None, actor=None):
    """The audit events of one exam, newest first, optionally filtered."""
    queryset = AuditEvent.objects.filter(exam=exam)
    if action:
        queryset = queryset.filter(action=action)
    if copy_id is not None:
        queryset = queryset.filter(copy_id_ref=copy_id)
    if actor:
        queryset = queryset.filter(actor=actor)
    return queryset


def erase_personal_data(event, actor, details, client_ip):
    """Rewrite one event's ``actor``, ``details`` and ``client_ip`` (a retired user's data replaced; see the
    module docstring): the append-only guard of :class:`~viatique_xblock.models.AuditEvent` is bypassed for
    this row and these three columns only."""
    models.QuerySet.update(AuditEvent.objects.filter(pk=event.pk), actor=actor, details=details,
                           client_ip=client_ip)


@contextlib.contextmanager
def timestamps_kept(*model_classes):
    """Within the block, the ``auto_now`` / ``auto_now_add`` date fields of ``model_classes`` keep the values
    given to them instead of the current time (rows carried over from an archive keep their times).

    It changes the fields' definitions for the whole process while it lasts: only for a command or a
    worker process that does nothing else meanwhile, never in a web process."""
    changed = []
    for model in model_classes:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                changed.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in changed:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def restore(exam, rows, batch_size=1000):
    """Append events carried over from another instance: ``rows`` are unsaved
    :class:`~viatique_xblock.models.AuditEvent` objects of ``exam`` with their ``created_at``, kept as given
    (call it inside :func:`timestamps_kept`). Nothing is sent to event tracking: it happened elsewhere."""
    for row in rows:
        if row.exam_id != exam.pk or row.pk is not None:
            raise ValueError("restore() appends new events of this exam only")
    AuditEvent.objects.bulk_create(rows, batch_size=batch_size)
