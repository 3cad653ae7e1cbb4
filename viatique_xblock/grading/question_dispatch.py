"""Grading by question: dealing the answers of questions to graders, and the progress per question and grader
(public API).

:func:`deal` gives each question's answers that nobody took or was dealt yet to the graders named for it,
balanced as :func:`viatique_xblock.identity.dispatch.deal` deals copies (each to the grader with the fewest
answers of the question so far, so their totals differ by one at most whenever the answers already dealt
allow it); an answer started (its lease taken once) or graded never moves. :func:`progress` counts graded
answers per question, the viewer's own, and for instructors each grader's.
"""
from django.db import transaction
from django.db.models import Count

from viatique_xblock import audit
from viatique_xblock.errors import InvalidRequest
from viatique_xblock.grading import answers, workspace
from viatique_xblock.i18n import N_
from viatique_xblock.identity import dispatch
from viatique_xblock.models import Answer, Copy


def _check_assignments(exam, assignments, staff):
    if not isinstance(assignments, dict) or not assignments:
        raise InvalidRequest(N_("Give each question the usernames of its graders."))
    checked = {}
    for question_id, graders in assignments.items():
        answers.question(exam, question_id)
        checked[question_id] = dispatch.check_graders(graders, staff)
    return checked


def deal(exam, assignments, staff, actor=None, client_ip=None, publish=None):
    """``assignments``: ``{question id: [usernames among staff]}``. Deals each question's answers nobody took,
    on the copies that can still change, balanced among its graders; returns ``{"dealt", "totals"}``
    (``{question id: {username: count}}``: dealt now, and dealt in all)."""
    answers.require_mode(exam, answers.BY_QUESTION)
    assignments = _check_assignments(exam, assignments, staff)
    dealt_all, totals_all = {}, {}
    with transaction.atomic():
        copies = list(Copy.objects.select_for_update().filter(exam=exam, grading_state__in=workspace.EDITABLE)
                      .order_by("anonymous_code").values_list("pk", flat=True))
        for question_id, graders in assignments.items():
            rows = {row["copy_id"]: row for row in Answer.objects.select_for_update().filter(
                copy__exam=exam, question_id=question_id).values("pk", "copy_id", "grader", "state", "lease_fencing")}
            counts = {grader: 0 for grader in graders}
            for row in rows.values():
                if row["grader"] in counts:
                    counts[row["grader"]] += 1
            dealt = {grader: [] for grader in graders}
            for copy_pk in copies:
                row = rows.get(copy_pk)
                if row and (row["grader"] or row["state"] == Answer.GRADED or row["lease_fencing"]):
                    continue  # dealt, graded or started: it stays where it is
                grader = min(graders, key=lambda name: (counts[name], graders.index(name)))
                counts[grader] += 1
                dealt[grader].append(copy_pk)
            for grader, copy_pks in dealt.items():
                if not copy_pks:
                    continue
                Answer.objects.bulk_create([Answer(copy_id=pk, question_id=question_id) for pk in copy_pks
                                            if pk not in rows], ignore_conflicts=True)
                Answer.objects.filter(copy_id__in=copy_pks, question_id=question_id, grader="", lease_fencing=0,
                                      state=Answer.OPEN).update(grader=grader)
            dealt_all[question_id] = {grader: len(pks) for grader, pks in dealt.items()}
            totals_all[question_id] = counts
        audit.record(exam, "answers.dealt", actor=actor, client_ip=client_ip, publish=publish,
                     details={"dealt": dealt_all, "totals": totals_all})
    return {"dealt": dealt_all, "totals": totals_all}


def progress(exam, viewer):
    """Per leaf question: ``graded`` answers out of ``total`` (the exam's copies), ``mine`` (graded by the
    viewer), ``assigned`` (answers to it are dealt to the viewer); instructors also get ``graders``:
    ``{username: {"dealt", "graded"}}``. A finished copy (submitted, graded, render failed) counts as graded
    for every question: so are copies graded whole, before or in ``by_copy`` mode. A fixed number of queries."""
    total = Copy.objects.filter(exam=exam).count()
    finished = Copy.objects.filter(exam=exam, grading_state__in=answers.FINISHED).count()
    open_copies = Answer.objects.filter(copy__exam=exam).exclude(copy__grading_state__in=answers.FINISHED)
    graded = dict(open_copies.filter(state=Answer.GRADED).values_list("question_id").annotate(n=Count("id")))
    mine = dict(Answer.objects.filter(copy__exam=exam, state=Answer.GRADED, graded_by=viewer.username)
                .values_list("question_id").annotate(n=Count("id")))
    assigned = set(Answer.objects.filter(copy__exam=exam, grader=viewer.username)
                   .values_list("question_id", flat=True).distinct())
    per_grader = {}
    if viewer.is_instructor:
        dealt_rows = (Answer.objects.filter(copy__exam=exam).exclude(grader="").values_list("question_id", "grader")
                      .annotate(n=Count("id")))
        graded_rows = (Answer.objects.filter(copy__exam=exam, state=Answer.GRADED).exclude(graded_by="")
                       .values_list("question_id", "graded_by").annotate(n=Count("id")))
        for question_id, grader, count in dealt_rows:
            per_grader.setdefault(question_id, {}).setdefault(grader, {"dealt": 0, "graded": 0})["dealt"] = count
        for question_id, grader, count in graded_rows:
            per_grader.setdefault(question_id, {}).setdefault(grader, {"dealt": 0, "graded": 0})["graded"] = count
    rows = []
    for row in workspace.questions(exam):
        item = {"id": row["id"], "label": row["label"], "path": row["path"], "max": row["max"],
                "graded": finished + graded.get(row["id"], 0), "total": total, "mine": mine.get(row["id"], 0),
                "assigned": row["id"] in assigned}
        if viewer.is_instructor:
            item["graders"] = per_grader.get(row["id"], {})
        rows.append(item)
    return {"mode": exam.grading_mode, "questions": rows, "total_copies": total}

