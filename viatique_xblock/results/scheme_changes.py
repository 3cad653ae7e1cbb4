"""Changes of the marking scheme after grading started: never silent (public API; docs/grading.md,
"Marking-scheme changes after grading started").

Every path that changes an exam's scheme goes through here (the Studio editor's save:
:func:`save_settings`; the dashboard's layout save changes only layouts, which change no point: it
records a version, :func:`viatique_xblock.exams.record_scheme_version`). An archive imported into an
empty block has no copies to protect.

- :func:`impact` (:mod:`viatique_xblock.scheme_changes`) computes what a change does before it is saved,
  against the scheme the exam's copies were graded with (the exam row's): the copies whose total changes, the
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
from django.db import transaction

from viatique_xblock import exams, scheme as scheme_module
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.grading import rubrics, scheme_followup
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy, Exam
from viatique_xblock.results import learner
from viatique_xblock.scheme_changes import empty, impact, public, summary  # noqa: F401  (the public API)


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
        return public(empty(values["marking_scheme"], previous_scheme))
    return public(impact(exam, values["marking_scheme"]))


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
        # what the copies were graded with: the exam row's scheme (the block's may be another version of it)
        old_scheme = exam.scheme if exam is not None else (previous_scheme or {})
        if exam is not None:
            change = impact(exam, new_scheme)
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
        rebased = rebased_questions(old_scheme, values["marking_scheme"])
        if rebased:
            # a question scored from another base (its scoring, or the maximum deductions start from): its
            # stored adjustments follow, so that its points stay as they are and a later living edit of a
            # rubric item re-scores from them
            rubrics.keep_points(exam, rebased)
        if change and change["needs_confirmation"]:
            _follow(exam, change, actor, publish)
    return values


def rebased_questions(old_scheme, new_scheme):
    """The ids of the questions of both schemes whose base differs (their scoring, or a maximum scored by
    deductions, changed)."""
    before = {leaf["id"]: leaf for leaf in scheme_module.leaves(old_scheme or {})}
    return sorted(leaf["id"] for leaf in scheme_module.leaves(new_scheme) if leaf["id"] in before and (
        scheme_module.scoring(leaf) != scheme_module.scoring(before[leaf["id"]])
        or scheme_module.base_points(leaf) != scheme_module.base_points(before[leaf["id"]])))


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
