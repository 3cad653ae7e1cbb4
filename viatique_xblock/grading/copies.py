"""The staff copy list: one page of an exam's copies as the viewer may see them, with their leases."""
from django.db.models import Case, IntegerField, Value, When

from viatique_xblock import scheme as scheme_module
from viatique_xblock.grading import leases
from viatique_xblock.models import Copy
from viatique_xblock.platform import conf
from viatique_xblock.states import Identity


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


def list_copies(exam, viewer, offset=0, limit=50, identity=None):
    """One page of an exam's copies as the viewer may see them.

    Names appear only for instructors, or for graders when the exam is not
    graded anonymously. ``identity`` (``"unidentified"`` or ``"identified"``)
    keeps only those copies (the identification desk's queue). ``id`` is the copy's public id
    (:mod:`viatique_xblock.public_ids`); rows are ordered by anonymous code (random). Each row carries
    ``lease``: ``{"holder", "expires_at"}`` of its grading lease, or None. A fixed
    number of queries, and one cache round trip, whatever the number of copies.
    """
    show_names = viewer.is_instructor or not exam.anonymous_grading
    queryset = Copy.objects.filter(exam=exam).order_by("anonymous_code")
    if identity in (Identity.UNIDENTIFIED, Identity.IDENTIFIED):
        queryset = queryset.filter(identity_state=identity)
    if not viewer.is_instructor:
        # a grader's own copies come first
        mine_first = Case(When(grader=viewer.username, then=Value(0)), default=Value(1),
                          output_field=IntegerField())
        queryset = queryset.order_by(mine_first, "anonymous_code")
    total = queryset.count()
    rows = []
    fields = ["id", "public_id", "anonymous_code", "identity_state", "grading_state", "grader", "total_points",
              "learner_username", "learner_name"]
    keys = []  # the database keys of the rows, for their leases (never sent: ``id`` is the public id)
    for item in queryset.values(*fields)[offset:offset + limit]:
        keys.append(item["id"])
        row = {
            "id": item["public_id"],
            "code": item["anonymous_code"],
            "identity": item["identity_state"],
            "state": item["grading_state"],
            "grader": item["grader"],
            "total": scheme_module.plain_number(item["total_points"]) if item["total_points"] is not None else None,
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
    return {"count": total, "offset": offset, "limit": limit, "copies": rows}
