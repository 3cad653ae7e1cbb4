"""Dealing copies to graders (public API), balanced, never moving work already dealt.

:func:`deal` gives every unassigned copy that nobody started to the grader with
the fewest copies so far, so the graders' totals differ by at most one whenever
the copies already dealt allow it. :func:`assign` moves one copy; :func:`rebalance`
moves only copies nobody has started. Every run is audited.
"""
from django.db import transaction
from django.db.models import Count

from viatique_xblock import audit, public_ids
from viatique_xblock.errors import InvalidRequest, NotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy
from viatique_xblock.states import Grading

#: grading states in which a copy may still change hands
MOVABLE = (Grading.READY,)


class CopyStarted(ViatiqueError):
    code = "copy_started"
    status = 409


def _check_graders(graders, staff):
    if not isinstance(graders or [], list) or not all(isinstance(grader, str) for grader in graders or []):
        raise InvalidRequest(N_("Name the graders by their usernames."))
    graders = [grader for grader in dict.fromkeys(graders or []) if grader]
    if not graders:
        raise InvalidRequest(N_("Choose at least one grader."))
    unknown = sorted(set(graders) - set(staff))
    if unknown:
        raise InvalidRequest(N_("{names}: not on the course staff."), names=", ".join(unknown))
    return graders


#: the graders named in a request, checked against the course staff (also for dealing answers by question)
check_graders = _check_graders


def load(exam, graders):
    """grader -> number of copies assigned to them in this exam."""
    counts = dict(Copy.objects.filter(exam=exam, grader__in=graders).values_list("grader")
                  .annotate(n=Count("id")).values_list("grader", "n"))
    return {grader: counts.get(grader, 0) for grader in graders}


def deal(exam, graders, staff, actor=None, client_ip=None, publish=None):
    """Deal the unassigned copies nobody started among ``graders`` (usernames among ``staff``)."""
    graders = _check_graders(graders, staff)
    with transaction.atomic():
        copies = list(Copy.objects.select_for_update().filter(exam=exam, grader="", grading_state__in=MOVABLE)
                      .order_by("anonymous_code"))
        counts = load(exam, graders)
        dealt = {grader: [] for grader in graders}
        for copy in copies:
            grader = min(graders, key=lambda name: (counts[name], graders.index(name)))
            counts[grader] += 1
            dealt[grader].append(copy.pk)
        for grader, ids in dealt.items():
            if ids:
                Copy.objects.filter(pk__in=ids).update(grader=grader)
        audit.record(exam, "copies.dealt", actor=actor, client_ip=client_ip, publish=publish,
                     details={"dealt": {grader: len(ids) for grader, ids in dealt.items()}, "totals": counts})
    return {"dealt": {grader: len(ids) for grader, ids in dealt.items()}, "totals": counts}


def assign(exam, copy_id, grader, staff, actor=None, client_ip=None, publish=None):
    """Give one copy (by its public id) to a grader (or to nobody with ``grader=""``), unless someone started it."""
    if grader:
        _check_graders([grader], staff)
    with transaction.atomic():
        try:
            copy = Copy.objects.select_for_update().get(exam=exam, public_id=public_ids.parse(copy_id))
        except Copy.DoesNotExist as exc:
            raise NotFound(N_("This copy does not exist.")) from exc
        if copy.grading_state not in MOVABLE:
            raise CopyStarted(N_("Copy {code} is already being graded or graded: it stays with {grader}."),
                              code=copy.anonymous_code, grader=copy.grader or "—")
        previous = copy.grader
        copy.grader = grader
        copy.save(update_fields=["grader", "updated_at"])
        audit.record(exam, "copy.assigned", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                     details={"grader": grader, "previous": previous})
    return copy


def rebalance(exam, graders, staff, actor=None, client_ip=None, publish=None):
    """Move copies nobody started from the busiest graders to the least busy, until totals differ by one."""
    graders = _check_graders(graders, staff)
    moved = []
    with transaction.atomic():
        counts = load(exam, graders)
        while True:
            busiest = max(graders, key=lambda name: (counts[name], -graders.index(name)))
            idlest = min(graders, key=lambda name: (counts[name], graders.index(name)))
            if counts[busiest] - counts[idlest] <= 1:
                break
            copy = (Copy.objects.select_for_update().filter(exam=exam, grader=busiest, grading_state__in=MOVABLE)
                    .order_by("-anonymous_code").first())
            if copy is None:
                break  # the busiest grader started all their copies: nothing may move
            Copy.objects.filter(pk=copy.pk).update(grader=idlest)
            counts[busiest] -= 1
            counts[idlest] += 1
            moved.append({"copy": copy.pk, "from": busiest, "to": idlest})
        audit.record(exam, "copies.rebalanced", actor=actor, client_ip=client_ip, publish=publish,
                     details={"moved": moved, "totals": counts})
    return {"moved": len(moved), "totals": counts}
