"""Benchmark of the exam archive: the export and the import of a 2,500-page exam, against reading its files.

Usage: ``python benchmarks/archive.py [--pages 2500] [--pages-per-copy 4] [--scan SCAN.pdf] [--jobs 2]
[--no-graded-pdfs] [--database-url URL]``

1. Makes the exam, on a fresh database (SQLite in a temporary ``VIATIQUE_VAR_DIR``, or a throwaway
   database on the server of ``--database-url``, dropped at the end) with the demo host's settings: a
   scanner-style scan of ``--pages`` pages of QR booklets (as ``pipeline.py`` makes it, in ``--jobs``
   processes; ``--scan`` takes one made before by ``pipeline.py --generate``), ingested by the upload's
   own code (one copy per booklet, page images stored), then every copy identified, graded (points and a
   comment on each of 5 questions, 3 annotations) and, unless ``--no-graded-pdfs``, its graded PDF rendered
   by the render task's code; results released, a regrade request and a comment bank entry.
2. Times :func:`viatique_xblock.reports.archive.export_exam` (the rows and every stored file into the ZIP,
   with their checksums) and :func:`~viatique_xblock.reports.archive.import_exam` of that archive into the
   exam of another block (every file's checksum checked, rows written, files stored, scores sent again).
3. The baseline, measured in the same run: every stored file of the exam read once and written into one
   plain file, synced to disk (the copy any export of these bytes makes; the export's archive is synced
   too before its time is taken), once before the export and once after the import, the best kept (the
   first reads the files from the disk, as the export would have without it).

The host's course content is loaded before the timings (the workbench's scenarios: 3 s the first time),
as a running LMS has its modulestore.

Prints the seconds, the archive's size and the ratios export / baseline and import / baseline; the last line
is one JSON object. Temporary files are deleted at the end.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from decimal import Decimal

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

from pipeline import MB, generate, load, setup_django  # noqa: E402  (benchmarks/ is this script's folder)

SOURCE = "viatique-benchmark-archive"
TARGET = "viatique-benchmark-archive-imported"
SCHEME = {"questions": [{"id": f"q{n}", "label": f"Exercice {n}", "max": 4, "step": 0.5} for n in range(1, 6)],
          "next_id": 6}


def make_exam(scan_path, graded_pdfs):
    """The source exam: the scan ingested, every copy identified and graded (see the module docstring)."""
    from django.utils import timezone

    from viatique_xblock import audit, exams
    from viatique_xblock.grading import rendering
    from viatique_xblock.models import Annotation, Copy, QuestionPoints, RegradeRequest, RubricItem
    from viatique_xblock.scanning import batches
    from viatique_xblock.states import Grading, Identity

    exam = exams.sync_exam(SOURCE, "course-v1:Bench+Archive+2026", "Benchmark archive", SCHEME, 4, True)
    info = batches.validate_file(scan_path)
    with open(scan_path, "rb") as handle:
        batches.create_batch(exam, os.path.basename(scan_path), info.sha256, info, handle, uploaded_by="benchmark",
                             send=batches.run_locally)
    copies = list(Copy.objects.filter(exam=exam).order_by("pk"))
    points, annotations = [], []
    for number, copy in enumerate(copies, start=1):
        copy.identity_state, copy.learner_username = Identity.IDENTIFIED, f"bench_learner_{number}"
        copy.learner_name, copy.learner_anonymous_id = f"Élève {number}", f"anon-{number}"
        copy.grader, copy.general_comment = f"staff_{number % 5}", "Bon travail, rédaction à soigner."
        copy.grading_state = Grading.SUBMITTED if graded_pdfs else Grading.GRADED
        copy.finalized_at = timezone.now()
        given = [Decimal(number % 9) / 2, Decimal(4), Decimal(3), Decimal("2.5"), Decimal(1)]
        copy.total_points = sum(given)
        points += [QuestionPoints(copy=copy, question_id=f"q{n + 1}", points=value, comment="Juste.",
                                  grader=copy.grader) for n, value in enumerate(given)]
        pages = list(copy.pages.filter(discarded=False).order_by("position"))
        annotations += [Annotation(copy=copy, page=page, kind=kind, x=0.3, y=0.2 + 0.2 * index, width=0.3,
                                   height=0.05, text="Voir la méthode" if kind == "comment" else "",
                                   question_id="q2", author=copy.grader)
                        for index, (page, kind) in enumerate(zip(pages[:3], ("tick", "comment", "cross")))]
    Copy.objects.bulk_update(copies, ["identity_state", "learner_username", "learner_name", "learner_anonymous_id",
                                      "grader", "general_comment", "grading_state", "finalized_at", "total_points"],
                             batch_size=500)
    QuestionPoints.objects.bulk_create(points, batch_size=2000)
    Annotation.objects.bulk_create(annotations, batch_size=2000)
    for copy in copies:
        audit.record(exam, "copy.finalized", copy=copy, details={"total": str(copy.total_points), "scale": 20})
    started = time.perf_counter()
    if graded_pdfs:
        for copy in copies:
            rendering.render_copy(copy.pk, scale=20)
    render_seconds = time.perf_counter() - started
    exam.released_at = timezone.now()
    exam.save(update_fields=["released_at"])
    Copy.objects.filter(exam=exam, grading_state=Grading.GRADED).update(published_points=Decimal("14.5"))
    RegradeRequest.objects.create(copy=copies[0], question_id="q1", open_question="q1", message="Merci de revoir.")
    RubricItem.objects.create(exam=exam, text="Rédaction soignée", question_id="q2", points=Decimal("0.5"))
    return exam, render_seconds


def stored_files(exam):
    from viatique_xblock.models import Copy, Page, ScanBatch

    names = list(ScanBatch.objects.filter(exam=exam).values_list("file_name", flat=True))
    names += list(Page.objects.filter(exam=exam).exclude(image_name="").values_list("image_name", flat=True))
    names += list(Copy.objects.filter(exam=exam).exclude(graded_pdf_name="").values_list("graded_pdf_name", flat=True))
    return names


def copy_all(names, target):
    """The baseline: every stored file of the exam read once and written into one plain file (what any export
    of these bytes does, without checksums, ZIP entries or rows); returns the bytes copied."""
    from viatique_xblock.platform import storage

    store = storage.get_storage()
    with open(target, "wb") as out:
        for name in names:
            with store.open(name, "rb") as handle:
                shutil.copyfileobj(handle, out, MB)
        out.flush()
        os.fsync(out.fileno())
        size = out.tell()
    os.unlink(target)
    return size


def _synced(result, path):
    """``result``, once the file at ``path`` is on disk (as the baseline's)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return result


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def measure(args, scan_path, folder):
    connection = setup_django(args.database_url)
    try:
        from viatique_xblock import exams
        from viatique_xblock.models import Page
        from viatique_xblock.platform import compat
        from viatique_xblock.reports import archive

        started = time.perf_counter()
        exam, render_seconds = make_exam(scan_path, not args.no_graded_pdfs)
        setup_seconds = time.perf_counter() - started
        # the host's course content loaded once, as in a running LMS (the workbench loads its scenarios, 3 s)
        compat.block_settings(SOURCE, archive.BLOCK_SETTINGS)
        names = stored_files(exam)
        baseline_seconds, stored_bytes = timed(lambda: copy_all(names, os.path.join(folder, "baseline.bin")))
        out = os.path.join(folder, "exam.zip")
        export_seconds, manifest = timed(lambda: _synced(archive.export_exam(exam, out), out))
        size = os.path.getsize(out)
        target = exams.exam_for_usage(TARGET)
        import_seconds, report = timed(lambda: archive.import_exam(target, out))
        # the baseline again, now that the export has read the same files (the best of the two counts)
        baseline_seconds = min(baseline_seconds, timed(lambda: copy_all(names, os.path.join(folder, "b.bin")))[0])
        assert report["counts"] == manifest["counts"], (report["counts"], manifest["counts"])
        return {
            "pages": Page.objects.filter(exam=exam).count(), "copies": manifest["counts"]["copies"],
            "graded_pdfs": sum(name.startswith("graded/") for name in manifest["files"]),
            "files": len(manifest["files"]), "archive_mb": round(size / MB, 1),
            "stored_mb": round(stored_bytes / MB, 1), "export_seconds": round(export_seconds, 2),
            "import_seconds": round(import_seconds, 2), "baseline_copy_seconds": round(baseline_seconds, 2),
            "export_ratio_to_baseline": round(export_seconds / max(baseline_seconds, 1e-6), 1),
            "import_ratio_to_baseline": round(import_seconds / max(baseline_seconds, 1e-6), 1),
            "export_mb_per_second": round(size / MB / export_seconds, 1),
            "import_mb_per_second": round(size / MB / import_seconds, 1),
            "unknown_learners": len(report["unknown_learners"]), "scores_sent": report["published"]["sent"],
            "setup_seconds": round(setup_seconds, 1), "render_seconds": round(render_seconds, 1),
            "database": connection.vendor,
        }
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2500, help="pages of the scan (default 2500)")
    parser.add_argument("--pages-per-copy", type=int, default=4)
    parser.add_argument("--scan", help="a scan made before (pipeline.py --generate) instead of a new one")
    parser.add_argument("--jobs", type=int, default=2, help="processes making the scan (default 2)")
    parser.add_argument("--no-graded-pdfs", action="store_true", help="grade without rendering graded PDFs")
    parser.add_argument("--database-url", help="e.g. mysql://root@127.0.0.1:3306/x: a throwaway database "
                        "on that server instead of SQLite")
    args = parser.parse_args()
    load_start = load()
    folder = tempfile.mkdtemp(prefix="viatique-bench-archive-")
    os.environ["VIATIQUE_VAR_DIR"] = os.path.join(folder, "var")
    try:
        scan_path = args.scan
        if not scan_path:
            scan_path = os.path.join(folder, f"scan-{uuid.uuid4().hex[:6]}.pdf")
            generate(scan_path, args.pages, args.pages_per_copy, 150, 17, args.jobs)
        result = measure(args, scan_path, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["load_average"] = [load_start, load()]
    print(f"exam of {result['pages']} pages, {result['copies']} copies, {result['graded_pdfs']} graded PDFs "
          f"({result['database']}): archive of {result['files']} files, {result['archive_mb']} MB")
    print(f"export: {result['export_seconds']} s ({result['export_mb_per_second']} MB/s); "
          f"import: {result['import_seconds']} s ({result['import_mb_per_second']} MB/s)")
    print(f"baseline, copying the exam's {result['stored_mb']} MB of stored files into one file: "
          f"{result['baseline_copy_seconds']} s; ratios export {result['export_ratio_to_baseline']}, "
          f"import {result['import_ratio_to_baseline']}; load average {result['load_average']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
