"""Benchmark of a living rubric edit (issue 15): an item applied to 2,000 copies, half of them released, has its
points changed; how long until the database is consistent (goal < 2 s), and until every released score is
published again.

Usage: ``python benchmarks/rubric_rescore.py [--copies 2000] [--questions 4] [--database-url URL | --sqlite]``

On a throwaway database (by default on the MariaDB server at ``mysql://root@127.0.0.1:3306``, dropped at the
end; ``--sqlite``: SQLite in a temporary ``VIATIQUE_VAR_DIR``) with the demo host's settings, creates one exam
with ``--questions`` questions and ``--copies`` identified copies, each with points on every question and one
rubric item (-1 point) applied to its first question; the first half are graded and released (their total
published, the exam released), the others still being graded. Then, as the ``edit_rubric_item`` handler does:

- ``rescore_seconds``: :func:`viatique_xblock.grading.rubrics.edit_item` (-1 becomes -0.5), its one
  transaction committed: every question and total re-scored, the audit event, the progress record; the
  Celery task it queues after commit is caught, not run;
- ``republish_seconds``: from the start of the edit until the task ``viatique.rubric_rescore``
  (:func:`~viatique_xblock.grading.rubrics.run_rescore`, run in this process) has published every released
  copy's new total (``copy_rescored``, received by the results stage: ``publish_copy`` and its audit event per
  copy). Outside the LMS the grade signal has no receiver, so this is Viatique's own work per score, not the
  LMS's. The PDFs' renders it queues (``viatique.rerender_graded_copy``, one per graded copy) are counted, not
  run: ``benchmarks/render.py`` measures a render.

Checks that the totals, the published points and the progress record are right. The machine may be shared: the
load average before and after is in the JSON. The last line is one JSON object.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

from pipeline import load, setup_django  # noqa: E402  (benchmarks/ is this script's folder)

USAGE_ID = "viatique-benchmark-rubric-rescore"
MARIADB = "mysql://root@127.0.0.1:3306/viatique_bench"


def seed(copies, questions):
    """The exam, its item applied to every copy, half the copies released; returns ``(exam, item)``."""
    from decimal import Decimal

    from django.utils import timezone

    from viatique_xblock import exams
    from viatique_xblock.models import AppliedItem, Copy, QuestionPoints, RubricItem
    from viatique_xblock.states import Grading, Identity

    scheme = {"questions": [{"id": f"q{n + 1}", "label": f"Exercice {n + 1}", "max": 4, "step": 0.5}
                            for n in range(questions)], "next_id": questions + 1}
    exam = exams.sync_exam(USAGE_ID, "course-v1:Bench+Rubric+2026", "Benchmark", scheme, 4, True)
    item = RubricItem.objects.create(exam=exam, question_id="q1", text="Pas de justification",
                                     points=Decimal(-1), created_by="instructor")
    released = copies // 2
    now = timezone.now()
    # q1: 2 typed (its adjustment 3, the item -1); the others 2.5 each
    total = Decimal(2) + Decimal("2.5") * (questions - 1)
    Copy.objects.bulk_create([
        Copy(exam=exam, anonymous_code=f"R{number:06d}", learner_username=f"learner_{number}",
             learner_name=f"Élève {number}", learner_anonymous_id=f"anon-{number}",
             identity_state=Identity.IDENTIFIED, total_points=total, grader="staff_1",
             grading_state=Grading.GRADED if number < released else Grading.IN_PROGRESS,
             published_points=total if number < released else None,
             finalized_at=now if number < released else None, graded_at=now if number < released else None)
        for number in range(copies)], batch_size=2000)
    ids = list(Copy.objects.filter(exam=exam).values_list("id", flat=True))
    QuestionPoints.objects.bulk_create(
        [QuestionPoints(copy_id=pk, question_id="q1", points=Decimal(2), adjustment=Decimal(3), grader="staff_1")
         for pk in ids]
        + [QuestionPoints(copy_id=pk, question_id=f"q{n + 1}", points=Decimal("2.5"), adjustment=Decimal("2.5"),
                          grader="staff_1") for pk in ids for n in range(1, questions)], batch_size=5000)
    AppliedItem.objects.bulk_create([AppliedItem(copy_id=pk, question_id="q1", item=item, applied_by="staff_1")
                                     for pk in ids], batch_size=5000)
    type(exam).objects.filter(pk=exam.pk).update(released_at=now)
    exam.refresh_from_db()
    return exam, item, total


def measure(args, database_url):
    connection = setup_django(database_url)
    try:
        from decimal import Decimal

        from viatique_xblock.grading import rubrics
        from viatique_xblock.models import Copy, RubricRescore
        from viatique_xblock.platform import queue
        from viatique_xblock.platform.compat import ViatiqueUser

        started = time.perf_counter()
        exam, item, total = seed(args.copies, args.questions)
        seeding = time.perf_counter() - started
        sent = []
        queue.send = lambda name, *task_args, **kwargs: sent.append((name, task_args))  # caught, not run
        instructor = ViatiqueUser(user_id=1, username="instructor", full_name="", anonymous_id="",
                                  role="instructor")

        started = time.perf_counter()
        result = rubrics.edit_item(exam, instructor, item.public_id, item.version, points="-0.5")
        rescore_seconds = time.perf_counter() - started
        rescores = [task_args[0] for name, task_args in sent if name == "viatique.rubric_rescore"]
        for rescore_pk in rescores:
            rubrics.run_rescore(rescore_pk)
        republish_seconds = time.perf_counter() - started

        released = args.copies // 2
        new_total = total + Decimal("0.5")
        copies = Copy.objects.filter(exam=exam)
        assert copies.exclude(total_points=new_total).count() == 0, "every total re-scored"
        assert copies.filter(published_points=new_total).count() == released, "every released score published"
        record = RubricRescore.objects.get(public_id=result["rescore"]["id"])
        assert (record.copies, record.released, record.republished) == (args.copies, released, released)
        renders = sum(1 for name, _args in sent if name == "viatique.rerender_graded_copy")
        assert renders == released, renders
        return {
            "copies": args.copies, "questions": args.questions, "released": released,
            "rescore_seconds": round(rescore_seconds, 3), "republish_seconds": round(republish_seconds, 3),
            "renders_queued": renders, "seed_seconds": round(seeding, 1), "database": connection.vendor,
        }
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2000, help="copies with the item applied (default 2000)")
    parser.add_argument("--questions", type=int, default=4, help="questions of the scheme (default 4)")
    parser.add_argument("--database-url", default=MARIADB, help=f"the server of the throwaway database "
                        f"(default {MARIADB})")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead (the benchmark's own test)")
    args = parser.parse_args()
    load_start = load()
    var_dir = os.environ["VIATIQUE_VAR_DIR"] = tempfile.mkdtemp(prefix="viatique-bench-rubric-")
    try:
        result = measure(args, None if args.sqlite else args.database_url)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    result["load_average"] = [load_start, load()]
    print(f"living edit of an item applied to {result['copies']} copies ({result['released']} released, "
          f"{result['database']}): database consistent in {result['rescore_seconds']} s (goal < 2 s), every "
          f"released score published again after {result['republish_seconds']} s; "
          f"{result['renders_queued']} renders queued")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
