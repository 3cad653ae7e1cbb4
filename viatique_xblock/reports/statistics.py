"""Statistics of an exam: progress, per-question figures with histograms, per-grader figures.

Only copies in the ``graded`` state count (finalized, PDF rendered): work in
progress would move the figures under the reader's eyes. Per question: count,
mean, median, standard deviation (of the population of graded copies: every
copy is there, not a sample), maximum possible, and a histogram of at most
:data:`MAX_BINS` bins over ``[0, max]`` whose edges are round numbers (0-5, 5-10, ...; the last
one closed), or one bin per possible value when the question has no more than that (a question
out of 2 in steps of 1 has three bins: 0, 1, 2).

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


#: bin widths are one of these times a power of ten, so a bin's edges read well (0-5, 5-10; never 0.429)
NICE_WIDTHS = (1, 2, 2.5, 5)


def _nice_width(maximum, step):
    """The smallest round width (:data:`NICE_WIDTHS` times a power of ten, and a multiple of ``step``)
    that covers ``[0, maximum]`` in at most :data:`MAX_BINS` bins."""
    target = Decimal(str(maximum)) / MAX_BINS
    exponent = math.floor(math.log10(float(target))) if target > 0 else 0
    step = Decimal(str(step)) if step else None
    for power in range(exponent - 1, exponent + 3):
        for nice in NICE_WIDTHS:
            width = Decimal(str(nice)).scaleb(power)
            if step and width % step:
                continue
            if width >= target:
                return width
    return Decimal(str(maximum))


def histogram(values, maximum, step):
    """Bins over ``[0, maximum]``: ``[{"low", "high", "count"}]``. One bin per possible value
    (``low == high``) when the question has at most :data:`MAX_BINS` of them (out of 3 in steps of 0.5:
    0, 0.5, ... 3); otherwise bins of a round width (:func:`_nice_width`: 0-1, 1-2, ... or 0-5, 5-10, ...),
    each holding its lower edge, the last one closed and ending at ``maximum``."""
    maximum = Decimal(str(maximum))
    if step and int(maximum / Decimal(str(step))) + 1 <= MAX_BINS:
        step = Decimal(str(step))
        values_count = int(maximum / step) + 1
        counts = [0] * values_count
        for value in values:
            index = int((Decimal(str(value)) / step).to_integral_value())
            counts[min(max(index, 0), values_count - 1)] += 1
        return [{"low": _round(step * index), "high": _round(step * index), "count": count}
                for index, count in enumerate(counts)]
    width = _nice_width(maximum, step) if maximum > 0 else Decimal(1)
    bins = max(1, math.ceil(maximum / width))
    counts = [0] * bins
    for value in values:
        # points have at most 3 decimals: rounding to 9 keeps a value on a bin's edge in that bin
        index = math.floor(round(float(value) / float(width), 9))
        counts[min(max(index, 0), bins - 1)] += 1
    return [{"low": _round(width * index), "high": _round(min(width * (index + 1), maximum)), "count": count}
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
