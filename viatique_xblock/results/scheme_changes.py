"""Changes of the marking scheme after grading started: never silent (public API; docs/grading.md,
"Marking-scheme changes after grading started").

Every path that changes an exam's scheme goes through here (the Studio editor's save:
:func:`save_settings`; the dashboard's layout save changes only layouts, which change no point: it
records a version, :func:`viatique_xblock.exams.record_scheme_version`). An archive imported into an
empty block has no copies to protect.

- :func:`impact` computes what a change does before it is saved: the copies whose total changes, the
  finished copies that become incomplete (a new question), the released copies affected, the points that
  no longer fit a new maximum or step (copy code, question, points), the questions removed that have
  points, the graded copies whose PDF is rendered again. ``needs_confirmation`` is false when no copy is
  touched: such a change saves as before, without a question. ``token`` is the impact's fingerprint.
- :func:`save_settings` saves the Studio editor's settings; a change that needs confirmation must carry
  the ``token`` of the impact the author was shown (else 409 ``scheme_change_unconfirmed``, with the impact),
  and is refused while copies' PDFs are being rendered (409 ``scheme_change_rendering``). Then, in one
  transaction: the published state of released copies is kept as it is
  (:attr:`~viatique_xblock.models.Copy.published_result`), the scheme is stored, versioned
  (:class:`~viatique_xblock.models.SchemeVersion`) and audited (``scheme.changed`` with the impact), and
  the copies follow (:mod:`viatique_xblock.grading.scheme_followup`): new questions reopen the finished
  copies for them only (released scores stay published until those copies are complete again, then the new
  score is published by the usual render -> ``copy_graded`` -> release path); removed questions and
  changed maximums change totals and the graded copies are rendered again, their new score published after
  the render; points that no longer fit are listed (here, and in the dashboard's copy list:
  :func:`viatique_xblock.grading.copies.off_scheme`) and never changed. Regrouping changes no points.
"""
import hashlib
import json
from decimal import Decimal

from django.db import transaction

from viatique_xblock import exams, scheme as scheme_module
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.grading import scheme_followup
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy, Exam, QuestionPoints
from viatique_xblock.results import learner
from viatique_xblock.states import Grading

#: finished copies: a new question makes them incomplete
FINISHED = scheme_followup.FINISHED
#: how many copies or points an impact lists by name (the counts are always whole)
LISTED = 200


class UnconfirmedChange(ViatiqueError):
    """A change of the scheme that touches graded copies was sent without the confirmation of its impact."""

    code = "scheme_change_unconfirmed"
    status = 409

    def __init__(self, change):
        self.change = change
        super().__init__(N_("This change of the marking scheme changes graded copies: confirm it first."))

    def extra(self):
        return {"impact": self.change}


class ChangeWhileRendering(ViatiqueError):
    """Copies' graded PDFs are being made: a change that touches copies waits until they are done."""

    code = "scheme_change_rendering"
    status = 409

    def __init__(self, count):
        super().__init__(N_("The graded PDFs of {count} copies are being made: save the marking scheme again "
                            "in a moment."), count=count)


def _text(number):
    return None if number is None else str(scheme_module.plain_number(number))


def _leaves(tree):
    return {leaf["id"]: leaf for leaf in scheme_module.leaves(tree)}


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
    ``needs_confirmation`` and ``token``. Three queries whatever the number of copies."""
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


def keep_published_state(exam):
    """Freeze what learners see of every published score that has no frozen state yet (a score published
    before such states were kept), under the scheme as it is now, before the scheme changes."""
    for copy in Copy.objects.filter(exam=exam, published_points__isnull=False, published_result__isnull=True):
        copy.published_result = learner.snapshot(exam, copy)
        copy.save(update_fields=["published_result", "updated_at"])


def preview(usage_key, values, previous_scheme):
    """The impact of the settings ``values`` (already validated) for the editor's confirmation."""
    exam = Exam.objects.filter(usage_key=usage_key).first()
    if exam is None:
        return public(_empty(values["marking_scheme"], previous_scheme))
    return public(impact(exam, values["marking_scheme"], previous_scheme))


def _empty(new_scheme, old_scheme):
    """The impact on an exam with no row yet: no copy."""
    return {"added": [], "removed": [], "bounds_changed": [], "maximum": [_text(scheme_module.total(old_scheme)),
                                                                           _text(scheme_module.total(new_scheme))],
            "regrouped": False, "total_changes": {"count": 0, "copies": []},
            "incomplete": {"count": 0, "by_question": []}, "released": {"count": 0, "codes": []},
            "misfits": {"count": 0, "points": []}, "rerender": 0, "rendering": 0, "needs_confirmation": False,
            "token": ""}


def impact_of_settings(usage_key, data, previous_scheme):
    """The impact of the Studio editor's settings ``data``. Settings the save would refuse have none:
    ``{"invalid": true, "needs_confirmation": false}`` (the save then answers with every problem)."""
    try:
        values = exams.validate_settings(data, previous_scheme)
    except exams.InvalidSettings:
        return {"invalid": True, "needs_confirmation": False}
    return preview(usage_key, values, previous_scheme)


def save_settings(data, usage_key, course_key, actor=None, publish=None, previous_scheme=None, token=None):
    """Save the Studio editor's settings (:func:`viatique_xblock.exams.save_settings`) with the scheme change
    made safe (see the module docstring). ``token``: the impact's, as confirmed by the author. Returns the
    stored values."""
    values = exams.validate_settings(data, previous_scheme)
    new_scheme = values["marking_scheme"]
    with transaction.atomic():
        exam = Exam.objects.select_for_update().filter(usage_key=usage_key).first()
        change = None
        old_scheme = previous_scheme if previous_scheme is not None else (exam.scheme if exam else {})
        if exam is not None:
            change = impact(exam, new_scheme, old_scheme)
            if change["needs_confirmation"]:
                if change["rendering"]:
                    raise ChangeWhileRendering(change["rendering"])
                if token != change["token"]:
                    raise UnconfirmedChange(public(change))
                keep_published_state(exam)
        values = exams.save_settings(data, usage_key, course_key, actor=actor, publish=publish,
                                     previous_scheme=previous_scheme)
        exam = Exam.objects.get(usage_key=usage_key)
        if old_scheme != values["marking_scheme"]:
            details = summary(change) if change else {}
            exams.record_scheme_version(exam, old_scheme, values["marking_scheme"], actor=actor, impact=details,
                                        publish=publish)
        if change and change["needs_confirmation"]:
            _follow(exam, change, actor, publish)
    return values


def _follow(exam, change, actor, publish):
    """The copies follow the confirmed change (the new scheme is on ``exam``)."""
    plan = change["_plan"]
    scheme_followup.recompute_totals(exam, plan["totals"])
    added = [row["id"] for row in change["added"]]
    if plan["reopen"]:
        scheme_followup.reopen_for_questions(exam, plan["reopen"], added, reopen_answers=plan["misfits"],
                                             actor=actor, publish=publish)
    if plan["rerender"]:
        scheme_followup.render_again(exam, plan["rerender"], actor=actor, publish=publish)
