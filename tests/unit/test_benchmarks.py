"""The benchmark scripts run, on tiny sizes, and end with the JSON line they promise.

Shape only: the figures are measured by running the benchmarks, never asserted here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run(script, *options, tmp_path):
    """Run a benchmark with its temporary files in ``tmp_path``; its last line, parsed."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *options], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "a figure printed for people before the JSON line"
    return json.loads(lines[-1])


def positive(value):
    return isinstance(value, (int, float)) and value > 0


def test_pipeline_ingests_a_tiny_scan_and_reports_its_figures(tmp_path):
    result = run("pipeline.py", "--copies", "3", "--pages-per-copy", "2", "--upside-down-every", "4",
                 "--repeat", "1", tmp_path=tmp_path)

    for key in ("seconds", "pages_per_second", "baseline_pages_per_second", "ratio", "peak_rss_mb"):
        assert positive(result[key]), key
    assert result["pages"] == 6
    assert result["copies_found"] == 3
    assert result["anomalies"] == 0 and result["anomaly_kinds"] == {}
    assert result["state"] == "done"
    assert result["database"] == "sqlite"
    assert {"read_codes", "page_images", "assemble"} <= set(result["steps_seconds"])
    assert len(result["rss_timeline_mb"]) == 5
    assert list(tmp_path.iterdir()) == [], "the scan, the database and the page images are deleted"


def test_pipeline_makes_a_scan_of_a_given_page_count(tmp_path):
    """``--pages`` (the 2,500-page mode) on a count that is not a whole number of booklets."""
    result = run("pipeline.py", "--pages", "5", "--pages-per-copy", "2", "--repeat", "1", tmp_path=tmp_path)

    assert result["pages"] == 5
    assert result["copies_found"] == 3  # the last one short of a page
    assert list(tmp_path.iterdir()) == []


def test_pipeline_ingests_a_tiny_scan_without_codes_cut_every_pages_per_copy(tmp_path):
    result = run("pipeline.py", "--no-codes", "--pages", "6", "--pages-per-copy", "3", "--dpi", "100",
                 "--repeat", "1", tmp_path=tmp_path)

    assert result["codes"] is False and result["dpi"] == 100
    assert (result["pages"], result["copies_found"], result["anomalies"], result["state"]) == (6, 2, 0, "done")
    assert "first_look" in result["steps_seconds"] and "read_codes" not in result["steps_seconds"]
    assert list(tmp_path.iterdir()) == []


def test_parallel_ingest_runs_real_workers_and_compares_their_results(tmp_path):
    # throwaway MariaDB databases and a reserved Redis database, removed by the benchmark
    result = run("parallel_ingest.py", "--pages", "8", "--pages-per-copy", "2", "--pages-per-task", "2",
                 "--dpi", "72", "--jobs", "1", "--concurrency", "1,2", tmp_path=tmp_path)

    assert [run["concurrency"] for run in result["runs"]] == [1, 2]
    for each in result["runs"]:
        # 8 pages in ranges of 2, the last 2 in ranges of 1 (batches.page_ranges): 5 tasks
        assert (each["state"], each["pages"], each["copies"], each["ranges"], each["assemblies"]) == (
            "done", 8, 4, 5, 1)
        assert positive(each["seconds"]) and each["peak_rss_mb_per_process"]
    assert len(result["runs"][0]["peak_rss_mb_per_process"]) == 1
    assert len(result["runs"][1]["peak_rss_mb_per_process"]) == 2
    assert result["same_result"] is True and set(result["speedup"]) == {"1", "2"}
    assert list(tmp_path.iterdir()) == []


def test_pdf_ops_reports_its_figures(tmp_path):
    result = run("pdf_ops.py", "--copies", "2", "--pages", "2", "--scan-copies", "2", tmp_path=tmp_path)

    assert result["scan_pages"] == 4
    for key in ("booklets_per_second", "read_code_pages_per_second", "page_image_pages_per_second",
                "bare_render_150dpi_pages_per_second", "validate_code_and_image_ratio_to_bare_render", "max_rss_mb"):
        assert positive(result[key]), key
    assert result["unread_codes"] == 0


def test_exports_times_a_small_grades_csv_against_its_baseline(tmp_path):
    result = run("exports.py", "--copies", "30", "--questions", "3", "--repeat", "1", tmp_path=tmp_path)

    for key in ("csv_seconds", "csv_semicolon_seconds", "baseline_seconds", "ratio", "statistics_seconds"):
        assert positive(result[key]), key
    assert (result["copies"], result["rows"], result["database"]) == (30, 30, "sqlite")
    assert list(tmp_path.iterdir()) == [], "the database is deleted"


def test_render_reports_its_figures(tmp_path):
    result = run("render.py", "--pages", "2", "--annotations", "5", "--questions", "2", "--repeat", "2",
                 tmp_path=tmp_path)

    assert (result["pages"], result["annotations"], result["graded_pages"]) == (2, 5, 3)
    for key in ("render_ms", "baseline_ms", "ratio", "render_cpu_ms", "baseline_cpu_ms", "scan_kb", "graded_kb"):
        assert positive(result[key]), key
    assert result["goal_ms"] == 100 and isinstance(result["within_goal"], bool)
    assert list(tmp_path.iterdir()) == []


def test_copy_list_compares_two_exam_sizes_with_the_same_queries(tmp_path):
    # a throwaway MariaDB database and a reserved Redis database, both removed by the benchmark
    result = run("copy_list.py", "--copies", "120", "--baseline-copies", "20", "--repeat", "2", tmp_path=tmp_path)

    assert (result["copies"], result["baseline_copies"]) == (120, 20)
    requests = result["requests"]
    assert set(requests) == {"dashboard_page", "grader_page", "list_first_page", "list_last_page", "grader_list",
                             "identification_queue", "search_code", "search_name", "filter_sort", "missing_pages",
                             "anomaly_queue"}
    for name, figures in requests.items():
        assert positive(figures["median_ms"]) and positive(figures["baseline"]["median_ms"]), name
        assert positive(figures["ratio"]), name
        # the SPEC's rule: queries independent of the number of copies
        assert figures["queries"] == figures["baseline"]["queries"], name
    assert list(tmp_path.iterdir()) == []


def test_archive_exports_and_imports_a_tiny_exam_and_reports_its_figures(tmp_path):
    result = run("archive.py", "--pages", "8", "--pages-per-copy", "4", "--jobs", "1", tmp_path=tmp_path)

    assert (result["pages"], result["copies"], result["graded_pdfs"], result["database"]) == (8, 2, 2, "sqlite")
    for key in ("archive_mb", "stored_mb", "export_seconds", "import_seconds", "export_mb_per_second",
                "import_mb_per_second", "export_ratio_to_baseline", "import_ratio_to_baseline"):
        assert positive(result[key]), key
    assert result["files"] == 1 + 8 + 2 + 10  # the scan, the page images, the graded PDFs, the rows
    assert list(tmp_path.iterdir()) == [], "the scan, the database and the archive are deleted"


def test_rubric_rescore_reports_its_figures(tmp_path):
    result = run("rubric_rescore.py", "--copies", "20", "--questions", "2", "--sqlite", tmp_path=tmp_path)

    assert positive(result["rescore_seconds"]) and positive(result["republish_seconds"])
    assert result["republish_seconds"] >= result["rescore_seconds"]
    assert (result["copies"], result["released"], result["renders_queued"], result["database"]) == \
        (20, 10, 10, "sqlite")
    assert list(tmp_path.iterdir()) == [], "the database is deleted"
