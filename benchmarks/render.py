"""Benchmark of the graded PDF of one copy, against copying the same pages untouched.

Usage: ``python benchmarks/render.py [--pages 8] [--annotations 30] [--questions 6] [--repeat 20]
[--dpi 150]``

1. Makes a scanner-style copy: a QR booklet of ``--pages`` pages
   (:func:`~viatique_xblock.pdf.booklets.make_booklets`) filled in with synthetic handwriting
   (:func:`~viatique_xblock.pdf.synthetic.fill_in`) and scanned by
   :func:`~viatique_xblock.pdf.synthetic.scan` (one JPEG per page, one page upside down).
2. Renders its graded PDF (:func:`~viatique_xblock.pdf.graded.render_graded_pdf`) with
   ``--annotations`` annotations spread over the pages (comments with accents and
   mathematical signs, free text, ticks, crosses, highlights; one in three with points) and a
   summary of ``--questions`` questions, ``--repeat`` times; keeps the best time.
3. The baseline, ``--repeat`` times too: the same pages copied untouched into a new PDF
   (``insert_pdf`` then ``tobytes``), the least any graded PDF costs.

Prints both best times per copy in milliseconds (wall clock, and CPU time, which moves less on
a busy machine), their ratio (render / baseline), the sizes of
the scan and of the graded PDF, and the load average; goal: under 100 ms per copy (issue 5).
The last line is one JSON object. Single process, nothing written to disk.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pymupdf  # noqa: E402

from viatique_xblock.pdf import synthetic  # noqa: E402
from viatique_xblock.pdf.booklets import make_booklets  # noqa: E402
from viatique_xblock.pdf.graded import render_graded_pdf  # noqa: E402

GOAL_MS = 100
COMMENTS = (
    "Bien vu, mais la justification manque : pourquoi x ≤ √2 ?",
    "Attention au signe : −(a − b) = b − a, donc ∑ uₙ diverge vers +∞.",
    "Très bien rédigé. Pour tout ε > 0, il existe N ∈ ℕ tel que |uₙ − ℓ| < ε.",
    "Erreur de calcul : π/4 ≈ 0,785 et non 0,8. Relire l'énoncé de la question.",
)
KINDS = ("comment", "tick", "text", "cross", "highlight")


def copy_scan(pages, dpi):
    booklet = make_booklets(blank_pages=pages, copies=1, exam_ref="BENCH1")
    filled = synthetic.fill_in(booklet, pages_per_booklet=pages, seed=1)
    return synthetic.scan(filled, dpi=dpi, upside_down={min(2, pages - 1)}, seed=1)


def grading(pages, count, questions, seed=1):
    """``count`` annotations over ``pages`` pages, and a summary of ``questions`` questions."""
    rng = random.Random(seed)
    annotations = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        annotations.append({
            "page": number % pages, "kind": kind, "x": rng.uniform(0.05, 0.7), "y": rng.uniform(0.15, 0.85),
            "width": rng.uniform(0.05, 0.3), "height": rng.uniform(0.02, 0.06),
            "text": rng.choice(COMMENTS) if kind in ("comment", "text") else "",
            "question_label": f"Q{number % questions + 1}", "points": "1.5" if number % 3 == 0 else None,
        })
    summary = {
        "title": "Mathématiques — devoir surveillé n° 3", "code": "BENCH1 1-4F9A", "total": "14.5", "max": "20",
        "scale_total": "7.25", "scale": "10", "grader": None,
        "questions": [{"id": f"q{n}", "label": f"Question {n}", "points": "2.5", "max": "4",
                       "comment": COMMENTS[n % len(COMMENTS)]} for n in range(1, questions + 1)],
        "general_comment": " ".join(COMMENTS),
    }
    return annotations, summary


def baseline(scan, pages):
    """The same pages copied untouched into a new PDF."""
    with pymupdf.open(stream=scan, filetype="pdf") as source:
        out = pymupdf.open()
        for page in pages:
            out.insert_pdf(source, from_page=page["index"], to_page=page["index"])
        data = out.tobytes(garbage=1)
        out.close()
    return data


def best_of(repeat, function):
    """The best wall-clock and CPU seconds of ``repeat`` runs, and the last result."""
    best, best_cpu, result = None, None, None
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        best = seconds if best is None else min(best, seconds)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best, best_cpu, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--annotations", type=int, default=30)
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dpi", type=int, default=150)
    args = parser.parse_args()

    load_start = [round(value, 2) for value in os.getloadavg()]
    scan = copy_scan(args.pages, args.dpi)
    upside_down = min(2, args.pages - 1)
    pages = [{"source": "scan", "index": index, "rotation": 180 if index == upside_down else 0}
             for index in range(args.pages)]
    annotations, summary = grading(args.pages, args.annotations, args.questions)
    render_seconds, render_cpu, graded = best_of(
        args.repeat, lambda: render_graded_pdf({"scan": scan}, pages, annotations, summary, gettext=str))
    baseline_seconds, baseline_cpu, copied = best_of(args.repeat, lambda: baseline(scan, pages))
    with pymupdf.open(stream=graded, filetype="pdf") as doc:
        graded_pages = doc.page_count
    figures = {
        "pages": args.pages,
        "annotations": args.annotations,
        "questions": args.questions,
        "repeat": args.repeat,
        "render_ms": round(render_seconds * 1000, 1),
        "baseline_ms": round(baseline_seconds * 1000, 1),
        "ratio": round(render_seconds / baseline_seconds, 2),
        "render_cpu_ms": round(render_cpu * 1000, 1),
        "baseline_cpu_ms": round(baseline_cpu * 1000, 1),
        "goal_ms": GOAL_MS,
        "within_goal": render_seconds * 1000 < GOAL_MS,
        "graded_pages": graded_pages,
        "scan_kb": round(len(scan) / 1024),
        "baseline_kb": round(len(copied) / 1024),
        "graded_kb": round(len(graded) / 1024),
        "load_average": [load_start, [round(value, 2) for value in os.getloadavg()]],
    }
    print(f"copy of {args.pages} scanned pages ({figures['scan_kb']} KB), {args.annotations} annotations, "
          f"{args.questions} questions; best of {args.repeat}:")
    print(f"  graded PDF      {figures['render_ms']:>7} ms per copy  ({graded_pages} pages, "
          f"{figures['graded_kb']} KB; goal < {GOAL_MS} ms; CPU {figures['render_cpu_ms']} ms)")
    print(f"  pages copied    {figures['baseline_ms']:>7} ms per copy  ({figures['baseline_kb']} KB; "
          f"CPU {figures['baseline_cpu_ms']} ms)")
    print(f"  ratio render / copy: {figures['ratio']}  (load average {figures['load_average'][1]})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
