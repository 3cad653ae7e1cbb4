"""What grading does after a confirmed change of the marking scheme (public API, called by
:func:`viatique_xblock.results.scheme_changes.save_settings` inside its transaction, the new scheme already
on the exam row).

- :func:`reopen_for_questions`: finished copies go back to grading for the new questions only. By copy: the
  copy becomes ``reopened`` with every point it had kept (its grader finalizes it again once the new questions
  have points). By question: the new questions' answers are ``open``; the copy's other answers stay graded.
  No ``copy_reopened`` is sent: a released score stays published (the gradebook keeps it, the learner sees
  it as it was published) until the copy is complete again, then ``copy_graded`` publishes the new one.
- :func:`render_again`: graded copies whose graded PDF no longer says what the scheme does (a question
  removed, a maximum changed) are rendered again (``graded -> submitted``, the render task queued after
  commit); the render's ``copy_graded`` publishes the new score of a released copy, with its PDF.
- :func:`recompute_totals`: the copies' totals over the new scheme's questions (points of removed
  questions are kept in their rows, out of the total).
"""
from django.db import transaction

from viatique_xblock import audit
from viatique_xblock.grading import rendering, workspace
from viatique_xblock.models import Answer, Copy
from viatique_xblock.scheme_changes import FINISHED
from viatique_xblock.states import Grading, GradingMode, check_grading_transition


def _given(copy):
    return dict(copy.points.values_list("question_id", "points"))


def recompute_totals(exam, copy_pks):
    """Set the total of the copies ``copy_pks`` over ``exam``'s (new) scheme; returns how many changed."""
    changed = 0
    for copy in Copy.objects.select_for_update().filter(exam=exam, pk__in=list(copy_pks)).order_by("pk"):
        total = workspace._total(exam, _given(copy))
        if total != copy.total_points:
            copy.total_points = total
            copy.save(update_fields=["total_points", "updated_at"])
            changed += 1
    return changed


def reopen_for_questions(exam, copy_pks, question_ids, reopen_answers=None, actor=None, publish=None):
    """Send the finished copies ``copy_pks`` back to grading for ``question_ids`` (new questions) only.

    ``reopen_answers``: ``{copy pk: [question id]}`` of answers whose points no longer fit the scheme, opened
    again as well when the exam is graded by question (their points are kept until a grader changes them).
    Returns the number of copies reopened; each is audited ``copy.reopened_for_scheme``."""
    reopen_answers = reopen_answers or {}
    by_question = exam.grading_mode == GradingMode.BY_QUESTION
    leaves = [row["id"] for row in workspace.questions(exam)]
    done = 0
    for copy in Copy.objects.select_for_update().filter(exam=exam, pk__in=list(copy_pks),
                                                        grading_state__in=FINISHED).order_by("pk"):
        before = copy.grading_state
        check_grading_transition(before, Grading.REOPENED)
        if by_question:
            opened = list(question_ids) + list(reopen_answers.get(copy.pk, []))
            for question_id in opened:
                Answer.objects.update_or_create(copy=copy, question_id=question_id,
                                                defaults={"state": Answer.OPEN})
            # the copy's other questions were graded (a copy finished whole has no answers yet)
            existing = set(Answer.objects.filter(copy=copy).values_list("question_id", flat=True))
            Answer.objects.bulk_create([Answer(copy=copy, question_id=leaf, state=Answer.GRADED,
                                               graded_by=copy.grader, graded_at=copy.finalized_at)
                                        for leaf in leaves if leaf not in existing], ignore_conflicts=True)
        copy.grading_state = Grading.REOPENED
        copy.save(update_fields=["grading_state", "updated_at"])
        audit.record(exam, "copy.reopened_for_scheme", actor=actor, copy=copy, publish=publish,
                     details={"from": before, "questions": list(question_ids),
                              "answers_reopened": list(reopen_answers.get(copy.pk, [])) if by_question else []})
        done += 1
    return done


def render_again(exam, copy_pks, actor=None, publish=None):
    """Render the graded copies ``copy_pks`` again for the new scheme: ``graded -> submitted`` (the one path
    that goes there from ``graded``: nothing of the copy's work changes), audited ``copy.rerender_for_scheme``,
    the render task queued after commit. Returns the number of copies sent."""
    pks = []
    for copy in Copy.objects.select_for_update().filter(exam=exam, pk__in=list(copy_pks),
                                                        grading_state=Grading.GRADED).order_by("pk"):
        copy.grading_state = Grading.SUBMITTED
        copy.total_points = workspace._total(exam, _given(copy))
        copy.save(update_fields=["grading_state", "total_points", "updated_at"])
        audit.record(exam, "copy.rerender_for_scheme", actor=actor, copy=copy, publish=publish,
                     details={"total": workspace._text(copy.total_points)})
        pks.append(copy.pk)
    if pks:
        transaction.on_commit(lambda: rendering.queue_renders(pks), robust=True)
    return len(pks)
