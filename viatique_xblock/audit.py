"""The append-only audit log, mirrored to the platform's event tracking.

:func:`record` is the only way actions are logged: it writes an
:class:`~viatique_xblock.models.AuditEvent` row and, when given a publisher
(the block's runtime), emits the same action as an ``edx.viatique.<action>``
tracking event.

One write besides it, not reachable from a handler:

- :func:`erase_personal_data` rewrites the actor, details and address of events that name a retired
  user (:mod:`viatique_xblock.identity.retirement`): the one change an event may undergo, since
  the platform's retirement erases a person's data wherever it is.
"""
from django.db import models

from viatique_xblock.models import AuditEvent

EVENT_PREFIX = "edx.viatique."


def record(exam, action, actor=None, copy=None, client_ip=None, details=None, publish=None):
    """Append one audit event and emit it as a tracking event.

    ``actor`` is a :class:`~viatique_xblock.platform.compat.ViatiqueUser` (or None for the
    system, e.g. a Celery task); ``publish`` a callable ``(name, data)``.
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
    if publish is not None:
        data = {"exam_id": exam.pk, "copy_id": event.copy_id_ref, **details}
        publish(EVENT_PREFIX + action, data)
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
