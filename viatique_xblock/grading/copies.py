"""The staff copy list: one page of an exam's copies as the viewer may see them, with their leases.

Searched, filtered and sorted by the database (:func:`list_copies`): a fixed number of queries
whatever the exam's size (the count, the page, and for instructors the graders to filter by).
"""
from decimal import Decimal

from django.db.models import Case, Count, Exists, F, IntegerField, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest, Mod
from django.db.models.lookups import GreaterThan, LessThan

from viatique_xblock import public_ids, scheme as scheme_module
from viatique_xblock.grading import leases
from viatique_xblock.models import Copy, Page, QuestionPoints
from viatique_xblock.platform import conf
from viatique_xblock.states import Grading, Identity

#: ``sort`` values: the columns rows are ordered by (then by code); ``-name`` for descending.
#: ``name`` only for instructors (a grader's order must say nothing about who wrote a copy).
SORTS = {
    "code": ("anonymous_code",),
    "state": ("grading_state", "anonymous_code"),
    "grader": ("grader", "anonymous_code"),
    "total": ("total_points", "anonymous_code"),
    "name": ("learner_name", "learner_username", "anonymous_code"),
}
GRADING_STATES = tuple(state for state, _label in Grading.CHOICES)
#: the ``grader`` filter's value for copies dealt to nobody
NOBODY = "none"
MAX_SEARCH = 100


def _hide_other_graders(exam, viewer, rows):
    """Under ``HIDE_GRADER_IDENTITIES`` a grader sees the copies dealt to other graders as dealt to
    "Grader N", the label their leases carry (one query, only then); their own and instructors' views
    keep usernames."""
    if viewer.is_instructor or not conf.get("HIDE_GRADER_IDENTITIES"):
        return
    others = [row for row in rows if row["grader"] not in ("", viewer.username)]
    numbers = leases.grader_numbers(exam) if others else {}
    for row in others:
        row["grader"] = leases.holder_label(exam, viewer, {"user": row["grader"]}, numbers)


def _with_missing_pages(queryset, exam):
    """Each copy's number of missing pages: the page numbers from 1 to the larger of the exam's pages
    per copy and its highest page that no page of it fills (as :func:`.scanning.splitting.missing_pages`).

    Two correlated subqueries on the pages' ``(copy, position)`` index rather than a join grouped by copy:
    the database works them out for the rows of the page only (unless the list is filtered on them),
    not for every copy of the exam before the ``LIMIT``."""
    pages = Page.objects.filter(copy=OuterRef("pk")).order_by().values("copy")
    have = Subquery(pages.annotate(filled=Count("position", distinct=True)).values("filled"))
    top = Subquery(pages.annotate(top=Max("position")).values("top"))
    expected = Greatest(Coalesce(top, Value(0)), Value(exam.pages_per_copy))
    return queryset.annotate(missing_pages=expected - Coalesce(have, Value(0)))


def _only_missing_pages(queryset, exam):
    """The copies with missing pages (as :func:`_with_missing_pages` counts them) that no instructor accepted
    as they are (:func:`.scanning.anomalies.accept_missing`), annotated the same way: one join grouped by copy, cheaper than the subqueries when every copy of the exam is looked at."""
    expected = Greatest(Coalesce(Max("pages__position"), Value(0)), Value(exam.pages_per_copy))
    return queryset.annotate(missing_pages=expected - Count("pages__position", distinct=True)).filter(
        missing_pages__gt=0, missing_accepted=False)


def _search(queryset, text, names):
    """Copies whose code (or public id, or booklet number) holds ``text``; and, with ``names``, whose
    learner's name or username holds it."""
    text = " ".join(str(text or "").split())[:MAX_SEARCH]
    if not text:
        return queryset
    match = Q(anonymous_code__icontains=text)
    public_id = public_ids.parse(text)
    if public_id:
        match |= Q(public_id=public_id)
    if text.isascii() and text.isdigit() and len(text) <= 9:
        match |= Q(booklet_number=int(text))
    if names:
        match |= Q(learner_name__icontains=text) | Q(learner_username__icontains=text)
    return queryset.filter(match)


def _filter(queryset, exam, viewer, filters):
    """The copies that pass ``filters`` (see :func:`list_copies`); unknown values are ignored."""
    identity = filters.get("identity")
    if identity in (Identity.UNIDENTIFIED, Identity.IDENTIFIED):
        queryset = queryset.filter(identity_state=identity)
    state = filters.get("state")
    if state == "in_progress":  # "being graded", as the counter counts: a reopened copy too
        queryset = queryset.filter(grading_state__in=(Grading.IN_PROGRESS, Grading.REOPENED))
    elif state in GRADING_STATES:
        queryset = queryset.filter(grading_state=state)
    grader = str(filters.get("grader") or "")
    if grader == NOBODY:
        queryset = queryset.filter(grader="")
    elif grader == "assigned":
        queryset = queryset.exclude(grader="")
    elif grader and (viewer.is_instructor or grader == viewer.username):
        queryset = queryset.filter(grader=grader)
    elif grader:  # a grader names another grader: not theirs to filter by
        queryset = queryset.none()
    if str(filters.get("missing") or "") in ("1", "true"):
        queryset = _only_missing_pages(queryset, exam)
    return queryset


def _order(queryset, viewer, sort):
    """Rows in the order ``sort`` asks (default: by code; a grader's own copies first)."""
    sort = str(sort or "")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "name" and not viewer.is_instructor:
        key = ""
    if key not in SORTS:
        if viewer.is_instructor:
            return queryset.order_by("anonymous_code")
        # a grader's own copies come first
        mine_first = Case(When(grader=viewer.username, then=Value(0)), default=Value(1),
                          output_field=IntegerField())
        return queryset.order_by(mine_first, "anonymous_code")
    columns = SORTS[key]
    return queryset.order_by(*(f"-{column}" if descending else column for column in columns[:1]), *columns[1:])


def grader_choices(exam):
    """The usernames copies of this exam are dealt to (the list's grader filter), sorted."""
    return sorted(set(Copy.objects.filter(exam=exam).exclude(grader="").values_list("grader", flat=True)
                      .distinct()))


#: points are stored with 3 decimals at most: a remainder smaller than this is none (databases compute MOD on
#: decimals exactly, SQLite on floats)
_TOLERANCE = Decimal("0.0005")


def off_scheme(exam):
    """A condition on :class:`~viatique_xblock.models.QuestionPoints` rows: points that do not fit their
    question as the scheme is now (over a maximum lowered, or off a step changed since they were given:
    :mod:`viatique_xblock.results.scheme_changes` never changes them)."""
    condition = Q(pk__in=[])
    for leaf in scheme_module.leaves(exam.scheme):
        maximum, step = Decimal(str(leaf["max"])), Decimal(str(leaf.get("step") or 1))
        remainder = Mod(F("points"), Value(step))
        condition |= Q(question_id=leaf["id"]) & (
            Q(points__gt=maximum) | Q(points__lt=0)
            | (Q(GreaterThan(remainder, Value(_TOLERANCE))) & Q(LessThan(remainder, Value(step - _TOLERANCE)))))
    return condition


def list_copies(exam, viewer, offset=0, limit=50, identity=None, filters=None):
    """One page of an exam's copies as the viewer may see them.

    Names appear only for instructors, or for graders when the exam is not
    graded anonymously. ``filters`` (a mapping, e.g. the request's query; ``identity`` may also be
    given alone, as the identification desk does):

    - ``q``: a search in the copy's code, public id and booklet number, and, for instructors only,
      the learner's name and username (never for graders, even when they see names);
    - ``identity``: ``"unidentified"`` or ``"identified"``;
    - ``state``: a grading state (``in_progress`` also counts reopened copies, as the progress counter);
    - ``grader``: a grader's username (graders: only their own), ``"none"`` (dealt to nobody) or
      ``"assigned"``;
    - ``missing``: ``"1"`` keeps the copies with missing pages that no instructor accepted as they are;
    - ``sort``: ``code``, ``state``, ``grader``, ``total`` or (instructors) ``name``, ``-`` first for
      descending; by default by code, a grader's own copies first.

    ``id`` is the copy's public id (:mod:`viatique_xblock.public_ids`); rows are ordered by anonymous
    code (random) unless sorted. Each row carries ``missing_pages`` (how many page numbers no page
    fills), ``points_off_scheme`` (points that no longer fit a maximum or step changed since: :func:`off_scheme`)
    and ``lease``: ``{"holder", "expires_at"}`` of its grading lease, or None. Instructors also
    get ``graders`` (the usernames to filter by). A fixed number of queries (the count, the page, and
    the graders for instructors), and one cache round trip, whatever the number of copies.
    """
    filters = dict(filters or {})
    if identity is not None:
        filters["identity"] = identity
    show_names = viewer.is_instructor or not exam.anonymous_grading
    queryset = _filter(Copy.objects.filter(exam=exam), exam, viewer, filters)
    queryset = _search(queryset, filters.get("q"), names=viewer.is_instructor)
    total = queryset.count()
    rows = []
    fields = ["id", "public_id", "anonymous_code", "identity_state", "grading_state", "grader", "total_points",
              "learner_username", "learner_name", "missing_pages", "points_off_scheme"]
    keys = []  # the database keys of the rows, for their leases (never sent: ``id`` is the public id)
    if "missing_pages" not in queryset.query.annotations:
        queryset = _with_missing_pages(queryset, exam)
    queryset = queryset.annotate(points_off_scheme=Exists(
        QuestionPoints.objects.filter(off_scheme(exam), copy=OuterRef("pk"))))
    page = _order(queryset, viewer, filters.get("sort"))
    for item in page.values(*fields)[offset:offset + limit]:
        keys.append(item["id"])
        row = {
            "id": item["public_id"],
            "code": item["anonymous_code"],
            "identity": item["identity_state"],
            "state": item["grading_state"],
            "grader": item["grader"],
            "total": scheme_module.plain_number(item["total_points"]) if item["total_points"] is not None else None,
            "missing_pages": max(0, item["missing_pages"] or 0),
            "points_off_scheme": bool(item["points_off_scheme"]),
        }
        if show_names:
            row["username"] = item["learner_username"]
            row["name"] = item["learner_name"]
        rows.append(row)
    _hide_other_graders(exam, viewer, rows)
    # who holds each copy's grading lease: one cache round trip (MGET) for the whole page
    holders = leases.holders(exam, viewer, keys)
    for key, row in zip(keys, rows):
        row["lease"] = holders.get(key)
    result = {"count": total, "offset": offset, "limit": limit, "copies": rows}
    if viewer.is_instructor:
        result["graders"] = grader_choices(exam)
    return result
