"""The staff copy list and dashboard at 2,000 copies (SPEC section 6: < 200 ms, a query count
independent of the number of copies).

Usage: ``python benchmarks/copy_list.py [--copies 2000] [--baseline-copies 20] [--repeat 15]``

On a throwaway MariaDB database and a reserved Redis database (as ``grading_profile.py``: the demo
host's settings with ``DEBUG=0``, Django's test client in this process), the demo's exam (seeded
with its sample class, 12 copies) is brought to ``--baseline-copies`` copies first, then to
``--copies`` (the added ones identified or not, dealt to four graders, in every grading state, with
a grading lease held on one in ten). At each size it
times, ``--repeat`` times each, what the dashboard asks for:

- ``dashboard_page``: the instructor's page (the workbench page with the block's staff view and
  its counters); ``grader_page``: a grader's;
- ``list_first_page`` / ``list_last_page``: ``list_copies`` as the copy list pages it (50 rows),
  the first and the last page; ``grader_list``: a grader's first page (their copies first, the
  other graders' under "Grader N" when the course hides grader identities);
- ``identification_queue``: the unidentified copies (the identification desk's list);
- ``search_code`` / ``search_name``: the copy list searched for one copy by its code, and by a
  learner's name (instructors); ``filter_sort``: the list filtered (a grader's copies being graded)
  and sorted by total, descending; ``missing_pages``: the copies with missing pages (a count of
  pages per copy in the database);
- ``anomaly_queue``: the instructor's anomaly queue, which also lists every copy of the exam for
  its selects (the one answer whose size grows with the copies).

It prints per request the median and the 95th percentile in ms and the SQL queries of one call, at
both sizes, and their ratio (the baseline is the same request on the small exam, in the same run).
The last line is one JSON object.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path[:0] = [os.path.join(REPO_DIR, "demo"), REPO_DIR, BENCH_DIR]

SCENARIO = "/scenario/viatique.0/"
PAGE_SIZE = 50  # the copy list's page (viatique_staff.js)
GRADERS = ("staff_1", "staff_2", "staff_3", "staff_4")


def add_copies(exam, upto):
    """Bring the exam to ``upto`` copies with their pages (bulk inserts), and leases on one copy in ten."""
    from viatique_xblock.grading import leases
    from viatique_xblock.models import Copy, Page, ScanBatch
    from viatique_xblock.platform.compat import GRADER, ViatiqueUser
    from viatique_xblock.states import Grading, Identity

    states = [Grading.READY, Grading.IN_PROGRESS, Grading.SUBMITTED, Grading.GRADED, Grading.REOPENED]
    have = Copy.objects.filter(exam=exam).count()
    rows = []
    for number in range(have, upto):
        identified = number % 5 != 0
        rows.append(Copy(exam=exam, anonymous_code=f"L{number:05d}", grader=GRADERS[number % 4],
                         grading_state=states[number % len(states)],
                         identity_state=Identity.IDENTIFIED if identified else Identity.UNIDENTIFIED,
                         learner_username=f"learner_{number}" if identified else "",
                         learner_name=f"Élève {number}" if identified else "",
                         learner_anonymous_id=f"anon-bench-{number}" if identified else None))
    Copy.objects.bulk_create(rows, batch_size=500)
    # their pages: the exam's pages per copy, one in nine missing its last one (the list counts them)
    batch = ScanBatch.objects.create(exam=exam, original_name=f"bench-{upto}.pdf",
                                     sha256=uuid.uuid4().hex * 2, state="done")
    pages = []
    for copy in Copy.objects.filter(exam=exam, anonymous_code__in=[row.anonymous_code for row in rows]):
        kept = exam.pages_per_copy - (1 if copy.pk % 9 == 0 else 0)
        pages.extend(Page(exam=exam, batch=batch, copy=copy, source_index=len(pages), position=index + 1,
                          width_pt=595, height_pt=842) for index in range(kept))
    Page.objects.bulk_create(pages, batch_size=1000)
    for copy in Copy.objects.filter(exam=exam, anonymous_code__in=[row.anonymous_code for row in rows[::10]]):
        grader = ViatiqueUser(user_id=copy.grader, username=copy.grader, anonymous_id=f"anon-{copy.grader}",
                              full_name=copy.grader.replace("_", " ").title(), role=GRADER)
        leases.acquire_lease(copy, grader)


def measure(usage_id, repeat):
    """{request: {"median_ms", "p95_ms", "queries"}} on the exam as it is now."""
    from django.db import connection
    from grading_profile import Counter, Grader

    instructor, grader = Grader(usage_id, "instructor_1"), Grader(usage_id, "staff_1")
    count = instructor.call("list_copies", {"offset": 0, "limit": 1}, "GET")[1]["count"]
    last = max(0, (count - 1) // PAGE_SIZE * PAGE_SIZE)

    def page(client):
        response = client.client.get(f"{SCENARIO}?student={client.student}")
        assert response.status_code == 200
        return response.status_code, None

    requests = {
        "dashboard_page": lambda: page(instructor),
        "grader_page": lambda: page(grader),
        "list_first_page": lambda: instructor.call("list_copies", {"offset": 0, "limit": PAGE_SIZE}, "GET"),
        "list_last_page": lambda: instructor.call("list_copies", {"offset": last, "limit": PAGE_SIZE}, "GET"),
        "grader_list": lambda: grader.call("list_copies", {"offset": 0, "limit": PAGE_SIZE}, "GET"),
        "identification_queue": lambda: instructor.call(
            "list_copies", {"offset": 0, "limit": PAGE_SIZE, "identity": "unidentified"}, "GET"),
        "search_code": lambda: instructor.call(
            "list_copies", {"offset": 0, "limit": PAGE_SIZE, "q": f"L{count - 7:05d}"}, "GET"),
        "search_name": lambda: instructor.call(
            "list_copies", {"offset": 0, "limit": PAGE_SIZE, "q": f"Élève {count - 3}"}, "GET"),
        "filter_sort": lambda: instructor.call(
            "list_copies", {"offset": 0, "limit": PAGE_SIZE, "grader": "staff_2", "state": "in_progress",
                            "sort": "-total"}, "GET"),
        "missing_pages": lambda: instructor.call(
            "list_copies", {"offset": 0, "limit": PAGE_SIZE, "missing": "1"}, "GET"),
        "anomaly_queue": lambda: instructor.call("anomaly_queue", None, "GET"),
    }
    figures = {}
    for name, request in requests.items():
        request()  # once untimed: the first call of a kind loads templates and caches
        captured = Counter()
        with connection.execute_wrapper(captured):
            status, _body = request()
        assert status == 200, (name, _body)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            request()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        figures[name] = {"median_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
                         "queries": captured.queries}
    return count, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2000)
    parser.add_argument("--baseline-copies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    from grading_profile import setup
    from stack import mariadb_database, reserved_redis_db

    with mariadb_database("copylist") as database_url, reserved_redis_db() as redis_url, \
            tempfile.TemporaryDirectory(prefix="viatique-copylist-") as var_dir:
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "VIATIQUE_VAR_DIR": var_dir,
               "CACHE_KEY_PREFIX": f"viatique-copylist-{uuid.uuid4().hex[:8]}"}
        usage_id = setup(env, copies=0)
        from django.db import connections
        from grading_profile import Grader

        from viatique_xblock.models import Exam

        Grader(usage_id, "instructor_1")  # the page keeps the exam row in step with the block
        exam = Exam.objects.get(usage_key=usage_id)
        add_copies(exam, args.baseline_copies)
        small_count, small = measure(usage_id, args.repeat)
        add_copies(exam, args.copies)
        large_count, large = measure(usage_id, args.repeat)
        connections.close_all()
    print(f"copy list and dashboard: {large_count} copies against {small_count} (baseline, same run), "
          f"{args.repeat} calls each; goal < 200 ms and the same queries at both sizes")
    print(f"  {'request':26s} {'median':>8s} {'p95':>8s} {'queries':>8s} | {'baseline':>8s} {'queries':>8s} | ratio")
    result = {"copies": large_count, "baseline_copies": small_count, "repeat": args.repeat, "requests": {}}
    for name, figures in large.items():
        base = small[name]
        ratio = round(figures["median_ms"] / base["median_ms"], 2) if base["median_ms"] else None
        print(f"  {name:26s} {figures['median_ms']:8.1f} {figures['p95_ms']:8.1f} {figures['queries']:8d} | "
              f"{base['median_ms']:8.1f} {base['queries']:8d} | {ratio}")
        result["requests"][name] = {**figures, "baseline": base, "ratio": ratio}
    result["load_average"] = os.getloadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
