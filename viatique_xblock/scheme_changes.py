"""What a change of the marking scheme does to an exam's copies, computed before it is saved (public API;
docs/grading.md, "Marking-scheme changes after grading started").

:func:`impact` is read by everything that changes a scheme: the Studio editor's save and its confirmation
(:mod:`viatique_xblock.results.scheme_changes`, which applies a confirmed change) and
:func:`viatique_xblock.exams.sync_exam`, which never lets a block's scheme change graded copies silently.
Plain reads of the models: no stage is imported.
"""
import hashlib
import json
from decimal import Decimal

from viatique_xblock import scheme as scheme_module
from viatique_xblock.models import Copy, QuestionPoints
from viatique_xblock.states import Grading

#: copies whose work is done: a new question makes them incomplete
FINISHED = (Grading.GRADED, Grading.RENDER_FAILED)
#: how many copies or points an impact lists by name (the counts are always whole)
LISTED = 200


def _text(number):
    return None if number is None else str(scheme_module.plain_number(number))


def _leaves(tree):
    return {leaf["id"]: leaf for leaf in scheme_module.leaves(tree) if leaf.get("id")}


def _fits(leaf, points):
    try:
        scheme_module.check_points(leaf, points)
    except scheme_module.InvalidPoints:
        return False
    return True


def _bounds(leaf):
    return Decimal(str(leaf["max"])), Decimal(str(leaf.get("step") or 1))


def _sum(given, leaves):
    """The total of the points ``given`` to the questions ``leaves`` (None when none has points)."""
    values = [given[question_id] for question_id in leaves if question_id in given]
    return sum(values, Decimal(0)) if values else None


def _shape(tree):
    """The groups and the order of the questions: what a regrouping changes."""
    def walk(nodes):
        return [[node.get("id"), walk(node["children"])] if "children" in node else node.get("id") for node in nodes]
    return walk((tree or {}).get("questions") or [])


def impact(exam, new_scheme, old_scheme=None):
    """What saving ``new_scheme`` (validated) over ``old_scheme`` (the exam's unless given) does to the copies.

    Returns JSON: ``added`` / ``removed`` / ``bounds_changed`` questions (``removed`` with the number of copies
    holding points for each), ``maximum`` ``[before, after]``, ``regrouped``, ``total_changes``
    ``{count, copies: [{code, before, after}]}``, ``incomplete`` ``{count, by_question: [{id, label, copies}]}``,
    ``released`` ``{count, codes}``, ``misfits`` ``{count, points: [{code, question, label, points, max,
    step}]}``, ``rerender`` (graded copies rendered again), ``rendering`` (copies being rendered now),
    ``needs_confirmation`` and ``token``. Two queries whatever the number of copies."""
    old_scheme = exam.scheme if old_scheme is None else old_scheme
    old, new = _leaves(old_scheme), _leaves(new_scheme)
    added = [question_id for question_id in new if question_id not in old]
    removed = [question_id for question_id in old if question_id not in new]
    bounds = [question_id for question_id in new if question_id in old and _bounds(new[question_id]) != _bounds(old[question_id])]
    max_changed = {question_id for question_id in bounds if _bounds(new[question_id])[0] != _bounds(old[question_id])[0]}
    maximum = [scheme_module.total(old_scheme), scheme_module.total(new_scheme)]
    points = {}
    for copy_pk, question_id, value in (QuestionPoints.objects.filter(copy__exam=exam)
                                        .values_list("copy_id", "question_id", "points")):
        points.setdefault(copy_pk, {})[question_id] = value
    copies = Copy.objects.filter(exam=exam).order_by("anonymous_code").values_list(
        "pk", "anonymous_code", "grading_state", "published_points")
    total_changes, released, misfit_rows, rerender = [], [], [], []
    incomplete = {question_id: 0 for question_id in added}
    incomplete_count = 0
    with_points = {question_id: 0 for question_id in removed}
    plan = {"reopen": [], "rerender": [], "totals": [], "misfits": {}}
    rendering = 0
    for copy_pk, code, state, published in copies:
        rendering += state == Grading.SUBMITTED
        given = points.get(copy_pk, {})
        for question_id in removed:
            with_points[question_id] += question_id in given
        old_total, new_total = _sum(given, old), _sum(given, new)
        changes_total = new_total != old_total
        if changes_total:
            total_changes.append({"code": code, "before": _text(old_total), "after": _text(new_total)})
            plan["totals"].append(copy_pk)
        wrong = [question_id for question_id in bounds if question_id in given and not _fits(new[question_id], given[question_id])]
        for question_id in wrong:
            misfit_rows.append({"code": code, "question": question_id, "label": new[question_id].get("label", ""),
                                "points": _text(given[question_id]), "max": _text(_bounds(new[question_id])[0]),
                                "step": _text(_bounds(new[question_id])[1])})
        if wrong:
            plan["misfits"][copy_pk] = wrong
        finished = state in FINISHED or state == Grading.SUBMITTED
        becomes_incomplete = bool(added) and finished
        if becomes_incomplete:
            incomplete_count += 1
            for question_id in added:
                incomplete[question_id] += 1
            plan["reopen"].append(copy_pk)
        # the graded PDF (and a released score) says the copy's total and each question's maximum
        shows_change = changes_total or maximum[0] != maximum[1] or any(q in given for q in max_changed)
        if state == Grading.GRADED and not becomes_incomplete and not wrong and shows_change:
            rerender.append(code)
            plan["rerender"].append(copy_pk)
        if published is not None and (becomes_incomplete or wrong or shows_change):
            released.append(code)
    removed_rows = [{"id": question_id, "label": old[question_id].get("label", ""), "copies": with_points[question_id]}
                    for question_id in removed]
    change = {
        "added": [{"id": question_id, "label": new[question_id].get("label", "")} for question_id in added],
        "removed": removed_rows,
        "bounds_changed": [{"id": question_id, "label": new[question_id].get("label", ""),
                            "max": [_text(_bounds(old[question_id])[0]), _text(_bounds(new[question_id])[0])],
                            "step": [_text(_bounds(old[question_id])[1]), _text(_bounds(new[question_id])[1])]}
                           for question_id in bounds],
        "maximum": [_text(maximum[0]), _text(maximum[1])],
        "regrouped": _shape(old_scheme) != _shape(new_scheme),
        "total_changes": {"count": len(total_changes), "copies": total_changes[:LISTED]},
        "incomplete": {"count": incomplete_count,
                       "by_question": [{"id": question_id, "label": new[question_id].get("label", ""),
                                        "copies": incomplete[question_id]} for question_id in added]},
        "released": {"count": len(released), "codes": released[:LISTED]},
        "misfits": {"count": len(misfit_rows), "points": misfit_rows[:LISTED]},
        "rerender": len(rerender),
        "rendering": rendering,
    }
    change["needs_confirmation"] = bool(total_changes or incomplete_count or released or misfit_rows or rerender
                                        or any(row["copies"] for row in removed_rows))
    change["token"] = _token(change, old, new)
    change["_plan"] = plan
    return change


def _token(change, old, new):
    """The fingerprint of an impact and of the questions' bounds before and after: a confirmation is for
    exactly what was shown (another copy graded since, or another scheme, gives another token)."""
    bounds = [[sorted((q, str(leaf["max"]), str(leaf.get("step"))) for q, leaf in tree.items())] for tree in (old, new)]
    text = json.dumps([change, bounds], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def public(change):
    """The impact as sent to the editor (without the plan of what follows)."""
    return {key: value for key, value in change.items() if not key.startswith("_")}


def summary(change):
    """The impact's counts, kept with the scheme's version and in the audit event."""
    return {"added": [row["id"] for row in change["added"]], "removed": change["removed"],
            "bounds_changed": [row["id"] for row in change["bounds_changed"]], "maximum": change["maximum"],
            "regrouped": change["regrouped"], "total_changes": change["total_changes"]["count"],
            "incomplete": change["incomplete"]["count"], "released": change["released"]["count"],
            "misfits": change["misfits"]["points"][:50], "misfit_count": change["misfits"]["count"],
            "rerender": change["rerender"]}


def empty(new_scheme, old_scheme):
    """The impact on an exam with no row yet: no copy."""
    return {"added": [], "removed": [], "bounds_changed": [], "maximum": [_text(scheme_module.total(old_scheme)),
                                                                           _text(scheme_module.total(new_scheme))],
            "regrouped": False, "total_changes": {"count": 0, "copies": []},
            "incomplete": {"count": 0, "by_question": []}, "released": {"count": 0, "codes": []},
            "misfits": {"count": 0, "points": []}, "rerender": 0, "rendering": 0, "needs_confirmation": False,
            "token": ""}
