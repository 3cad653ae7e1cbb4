"""The lockout benchmark runs on tiny sizes and ends with the JSON line it promises (shape only)."""
from tests.unit.test_benchmarks import positive, run


def test_lockout_benchmark_reports_its_figures_and_ratios(tmp_path):
    result = run("lockout.py", "--calls", "20", "--pages", "2", tmp_path=tmp_path)

    for key in ("ping_ms", "check_ms", "check_locked_ms", "failure_ms", "redact_ms", "open_save_baseline_ms",
                "check_ratio_to_ping", "failure_ratio_to_ping", "redact_ratio_to_open_save"):
        assert positive(result[key]), key
    assert (result["calls"], result["pdf_pages"]) == (20, 2)
    assert list(tmp_path.iterdir()) == [], "nothing left behind"
