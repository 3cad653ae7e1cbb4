"""The audit log viewer: filters, pages and a CSV of an exam's audit events (instructors).

Filters (all optional, combined): ``copy`` (an anonymous code, or a copy id: the log
keeps ids of copies merged away since), ``actor`` (a username, exact), ``action``
(exact, or a family: ``export`` matches ``export.grades_csv``), ``date_from`` and
``date_to`` (``YYYY-MM-DD``, inclusive, in UTC; or full ISO 8601 times). A page is
at most :data:`MAX_LIMIT` events, newest first, in a fixed number of queries
whatever the size of the log: resolving a copy code, the count, the page, and
the codes of the copies on the page.
"""
import datetime
import json

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from viatique_xblock import audit, inputs
from viatique_xblock.errors import InvalidRequest
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import AuditEvent, Copy
from viatique_xblock.reports import exports

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
FILTERS = ("copy", "actor", "action", "date_from", "date_to")


def _bound(raw, end):
    """A datetime from a date (start of that day, or start of the next one for an end) or an ISO time:
    events are kept from the start bound (inclusive) to before the end bound."""
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        day = parse_date(text)  # before parse_datetime, which takes a bare date for its midnight
        moment = None if day else parse_datetime(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise InvalidRequest(N_("“{value}” is not a date (use YYYY-MM-DD)."), value=text[:40])
    if moment is None:
        moment = datetime.datetime.combine(day + datetime.timedelta(days=1 if end else 0), datetime.time.min)
    elif end:
        moment += datetime.timedelta(microseconds=1)  # an end time is inclusive too
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.timezone.utc)
    return moment


def filtered(exam, filters):
    """The audit events of an exam matching ``filters`` (a dict of :data:`FILTERS`), newest first."""
    filters = {name: str(filters.get(name) or "").strip() for name in FILTERS}
    queryset = audit.events(exam, actor=filters["actor"] or None)
    if filters["action"]:
        action = filters["action"]
        queryset = queryset.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
    if filters["copy"]:
        value = filters["copy"]
        ids = set(Copy.objects.filter(exam=exam, anonymous_code__iexact=value).values_list("id", flat=True))
        if inputs.parse_id(value) is not None:
            ids.add(inputs.parse_id(value))
        queryset = queryset.filter(copy_id_ref__in=ids)
    start, end = _bound(filters["date_from"], end=False), _bound(filters["date_to"], end=True)
    if start:
        queryset = queryset.filter(created_at__gte=start)
    if end:
        queryset = queryset.filter(created_at__lt=end)
    return queryset


FIELDS = ("id", "created_at", "actor", "actor_role", "action", "copy_id_ref", "client_ip", "details")


def _codes(exam, copy_ids):
    ids = {copy_id for copy_id in copy_ids if copy_id is not None}
    if not ids:
        return {}
    return dict(Copy.objects.filter(exam=exam, pk__in=ids).values_list("id", "anonymous_code"))


def _row(item, codes):
    return {"id": item["id"], "time": item["created_at"].isoformat(), "actor": item["actor"],
            "role": item["actor_role"], "action": item["action"], "copy_id": item["copy_id_ref"],
            "copy_code": codes.get(item["copy_id_ref"], ""), "client_ip": item["client_ip"] or "",
            "details": item["details"] or {}}


def page(exam, filters, offset=0, limit=DEFAULT_LIMIT):
    """One page of matching events, their count, and the actions this exam's log holds (for a filter list)."""
    offset = max(0, offset)
    limit = min(max(1, limit), MAX_LIMIT)
    queryset = filtered(exam, filters)
    total = queryset.count()
    items = list(queryset.values(*FIELDS)[offset:offset + limit])
    codes = _codes(exam, [item["copy_id_ref"] for item in items])
    actions = sorted(set(AuditEvent.objects.filter(exam=exam).values_list("action", flat=True).distinct()))
    return {"count": total, "offset": offset, "limit": limit, "events": [_row(item, codes) for item in items],
            "actions": actions}


def csv_rows(exam, filters):
    """Header and one row per matching event (every text cell neutralised against formulas)."""
    yield [_("Time (UTC)"), _("Actor"), _("Role"), _("Action"), _("Copy code"), _("Copy id"), _("Client IP"),
           _("Details")]
    queryset = filtered(exam, filters)
    codes = dict(Copy.objects.filter(exam=exam).values_list("id", "anonymous_code"))
    for item in queryset.values(*FIELDS).iterator(chunk_size=2000):
        row = _row(item, codes)
        yield [row["time"], exports.neutralise(row["actor"]), row["role"], exports.neutralise(row["action"]),
               exports.neutralise(row["copy_code"]), "" if row["copy_id"] is None else str(row["copy_id"]),
               row["client_ip"], exports.neutralise(json.dumps(row["details"], ensure_ascii=False, default=str))]


def log_csv(exam, filters, separator_name=None, actor=None, client_ip=None, publish=None):
    """The filtered audit log as CSV bytes (UTF-8 with BOM); the download itself is audited."""
    delimiter = exports.separator(separator_name)
    data = exports.csv_text(csv_rows(exam, filters), delimiter)
    used = {name: str(filters.get(name)) for name in FILTERS if filters.get(name)}
    audit.record(exam, "export.audit_log_csv", actor=actor, client_ip=client_ip, publish=publish,
                 details={"filters": used, "bytes": len(data)})
    return data
