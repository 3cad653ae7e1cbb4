"""Benchmark of the grades CSV (SPEC: 10,000 copies in under 2 s) against a bare CSV of the same rows.

Usage: ``python benchmarks/exports.py [--copies 10000] [--questions 8] [--repeat 3] [--database-url URL]``

On a fresh database (SQLite in a temporary ``VIATIQUE_VAR_DIR``, or a throwaway database on the
server of ``--database-url``, dropped at the end) with the demo host's settings, creates one exam
with ``--questions`` questions and ``--copies`` graded, identified copies with points on every
question (bulk inserts). Then, ``--repeat`` times each, best kept:

- the product: :func:`viatique_xblock.reports.exports.grades_csv`, as the ``grades_csv`` handler calls it
  (both queries, formula neutralisation, the scale column, the audit row), with commas and with
  semicolons (decimal commas);
- the baseline: the same two ``values_list`` queries written straight to ``csv.writer`` with no
  domain logic (no neutralisation, no number formatting, no scale).

Also times the statistics of the same exam (:func:`viatique_xblock.reports.statistics.exam_statistics`).
Prints the figures and the ratio product / baseline; the last line is one JSON object.
"""
import argparse
import csv
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

from pipeline import load, setup_django  # noqa: E402  (benchmarks/ is this script's folder)

USAGE_ID = "viatique-benchmark-exports"


def seed(copies, questions):
    """One exam with ``copies`` graded copies, each with points on every question; returns the exam."""
    from decimal import Decimal

    from viatique_xblock import exams
    from viatique_xblock.models import Copy, QuestionPoints
    from viatique_xblock.states import Grading, Identity

    scheme = {"questions": [{"id": f"q{n + 1}", "label": f"Exercice {n + 1} — é", "max": 5, "step": 0.25}
                            for n in range(questions)], "next_id": questions + 1}
    exam = exams.sync_exam(USAGE_ID, "course-v1:Bench+Exports+2026", "Benchmark", scheme, 4, True)
    rng = random.Random(7)
    rows = [Copy(exam=exam, anonymous_code=f"B{number:06d}", learner_username=f"learner_{number}",
                 learner_name=f"Élève {number}", learner_anonymous_id=f"anon-{number}",
                 identity_state=Identity.IDENTIFIED, grading_state=Grading.GRADED,
                 grader=f"staff_{number % 7}") for number in range(copies)]
    Copy.objects.bulk_create(rows, batch_size=2000)
    points, totals = [], {}
    for copy_id in Copy.objects.filter(exam=exam).values_list("id", flat=True):
        for question in range(questions):
            value = Decimal(rng.randrange(0, 21)) / 4
            points.append(QuestionPoints(copy_id=copy_id, question_id=f"q{question + 1}", points=value))
            totals[copy_id] = totals.get(copy_id, 0) + value
    QuestionPoints.objects.bulk_create(points, batch_size=5000)
    Copy.objects.bulk_update([Copy(pk=copy_id, total_points=total) for copy_id, total in totals.items()],
                             ["total_points"], batch_size=2000)
    return exam


def bare_csv(exam):
    """The baseline: the same rows, straight from two values_list queries into csv.writer."""
    from viatique_xblock.models import Copy, QuestionPoints

    points = {}
    for copy_id, question_id, value in (QuestionPoints.objects.filter(copy__exam=exam)
                                        .values_list("copy_id", "question_id", "points")):
        points.setdefault(copy_id, {})[question_id] = value
    ids = sorted({question_id for mine in points.values() for question_id in mine})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in (Copy.objects.filter(exam=exam).order_by("anonymous_code")
                .values_list("id", "anonymous_code", "learner_username", "learner_name", "identity_state",
                             "grading_state", "grader", "total_points").iterator(chunk_size=2000)):
        mine = points.get(row[0], {})
        writer.writerow(list(row[1:]) + [mine.get(question_id) for question_id in ids])
    return buffer.getvalue().encode("utf-8")


def best(function, repeat):
    """Best wall-clock seconds of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(args):
    connection = setup_django(args.database_url)
    try:
        from viatique_xblock.platform.compat import ViatiqueUser
        from viatique_xblock.reports import exports, statistics

        started = time.perf_counter()
        exam = seed(args.copies, args.questions)
        seeding = time.perf_counter() - started
        comma, data = best(lambda: exports.grades_csv(exam, "comma", grade_scale=20), args.repeat)
        semicolon, _ = best(lambda: exports.grades_csv(exam, "semicolon", grade_scale=20), args.repeat)
        baseline, bare = best(lambda: bare_csv(exam), args.repeat)
        viewer = ViatiqueUser(user_id=1, username="instructor", full_name="", anonymous_id="", role="instructor")
        stats_seconds, _ = best(lambda: statistics.exam_statistics(exam, viewer), args.repeat)
        return {
            "copies": args.copies, "questions": args.questions, "rows": data.count(b"\r\n") - 1,
            "csv_seconds": round(comma, 3), "csv_semicolon_seconds": round(semicolon, 3),
            "baseline_seconds": round(baseline, 3), "ratio": round(comma / baseline, 2),
            "csv_mb": round(len(data) / 1e6, 2), "baseline_mb": round(len(bare) / 1e6, 2),
            "statistics_seconds": round(stats_seconds, 3), "seed_seconds": round(seeding, 1),
            "database": connection.vendor, "repeat": args.repeat,
        }
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10000, help="graded copies (default 10000)")
    parser.add_argument("--questions", type=int, default=8, help="questions of the scheme (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="timings of each; the best counts (default 3)")
    parser.add_argument("--database-url", help="e.g. mysql://root@127.0.0.1:3306/x: a throwaway database "
                        "on that server instead of SQLite")
    args = parser.parse_args()
    load_start = load()
    var_dir = os.environ["VIATIQUE_VAR_DIR"] = tempfile.mkdtemp(prefix="viatique-bench-exports-")
    try:
        result = measure(args)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    result["load_average"] = [load_start, load()]
    print(f"grades CSV of {result['copies']} copies x {result['questions']} questions ({result['database']}, "
          f"{result['csv_mb']} MB): {result['csv_seconds']} s with commas, {result['csv_semicolon_seconds']} s "
          f"with semicolons (goal < 2 s)")
    print(f"bare csv.writer of the same two queries: {result['baseline_seconds']} s; ratio {result['ratio']}")
    print(f"statistics of the same exam: {result['statistics_seconds']} s; load average {result['load_average']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
