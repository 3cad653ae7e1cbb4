"""Statistics of an exam: progress, per-question figures with histograms, per-grader figures.

Only copies in the ``graded`` state count (finalized, PDF rendered): work in
progress would move the figures under the reader's eyes. Per question: count,
mean, median, standard deviation (of the population of graded copies: every
copy is there, not a sample), maximum possible, and a histogram of at most
:data:`MAX_BINS` equal bins over ``[0, max]`` (the last one closed), fewer when
the question has fewer possible values (a question out of 2 in steps of 1 has
three bins: 0, 1, 2).

Per grader: graded copies and mean total. Instructors see usernames; a grader
sees their own row with their username and the others as "Grader 1", "Grader 2"...
numbered by number of graded copies (then mean), so nobody learns a colleague's
figures by name.

Four queries whatever the number of copies (progress, totals, points, graders).
"""
import math
import statistics as stats
from decimal import Decimal

from django.db.models import Avg, Count

from viatique_xblock import exams, scheme as scheme_module
from viatique_xblock.i18n import gettext as _
from viatique_xblock.models import Copy, QuestionPoints
from viatique_xblock.states import Grading

MAX_BINS = 10


def _round(value):
    return None if value is None else round(float(value), 3)


def histogram(values, maximum, step):
    """Equal bins over ``[0, maximum]``: ``[{"low", "high", "count"}]``."""
    possible = int(Decimal(str(maximum)) / Decimal(str(step))) + 1 if step else MAX_BINS
    bins = max(1, min(MAX_BINS, possible))
    counts = [0] * bins
    scale = bins / float(maximum) if maximum else 0.0
    for value in values:
        # points have at most 3 decimals: rounding to 9 keeps a value on a bin's edge in that bin
        index = math.floor(round(value * scale, 9))
        counts[min(max(index, 0), bins - 1)] += 1
    width = float(maximum) / bins
    return [{"low": _round(width * index), "high": _round(width * (index + 1)), "count": count}
            for index, count in enumerate(counts)]


def describe(values):
    """Count, mean, median and population standard deviation of a list of floats."""
    if not values:
        return {"count": 0, "mean": None, "median": None, "stdev": None}
    numbers = [float(value) for value in values]
    mean = math.fsum(numbers) / len(numbers)
    variance = math.fsum((number - mean) ** 2 for number in numbers) / len(numbers)
    return {"count": len(numbers), "mean": _round(mean), "median": _round(stats.median(numbers)),
            "stdev": _round(math.sqrt(variance))}


def questions(exam):
    """Per-question figures over the graded copies, in scheme order."""
    by_question = {}
    rows = (QuestionPoints.objects.filter(copy__exam=exam, copy__grading_state=Grading.GRADED)
            .values_list("question_id", "points"))
    for question_id, points in rows:
        by_question.setdefault(question_id, []).append(float(points))
    result = []
    for leaf in scheme_module.leaves(exam.scheme):
        values = by_question.get(leaf["id"], [])
        result.append({"id": leaf["id"], "label": leaf["label"], "max": leaf["max"], **describe(values),
                       "histogram": histogram(values, leaf["max"], leaf.get("step"))})
    return result


def graders(exam, viewer):
    """Graded copies and mean total per grader; names only for instructors and the viewer's own row."""
    rows = list(Copy.objects.filter(exam=exam, grading_state=Grading.GRADED).exclude(grader="")
                .values("grader").annotate(count=Count("id"), mean=Avg("total_points")))
    rows.sort(key=lambda row: (-row["count"], -(row["mean"] or 0), row["grader"]))
    result = []
    for number, row in enumerate(rows, start=1):
        mine = row["grader"] == viewer.username
        label = row["grader"] if viewer.is_instructor or mine else _("Grader {number}").format(number=number)
        result.append({"label": label, "is_self": mine, "count": row["count"], "mean": _round(row["mean"])})
    return result


def exam_statistics(exam, viewer):
    """Everything the statistics panel shows."""
    total_max = scheme_module.total(exam.scheme)
    graded_totals = [float(total) for total in Copy.objects.filter(exam=exam, grading_state=Grading.GRADED)
                     .exclude(total_points=None).values_list("total_points", flat=True)]
    return {
        "progress": exams.progress(exam),
        "total": {"max": scheme_module.plain_number(total_max), **describe(graded_totals),
                  "histogram": histogram(graded_totals, total_max, None) if total_max else []},
        "questions": questions(exam),
        "graders": graders(exam, viewer),
    }
