"""Benchmark of the whole scan ingestion, as the product runs it, against a bare 150-dpi render.

Usage: ``python benchmarks/pipeline.py [--copies 35] [--pages-per-copy 4] [--pages N] [--dpi 150]
[--upside-down-every 17] [--repeat 3] [--jobs 1] [--database-url URL]``

1. Generates a scanner-style scan (one JPEG per page) of QR booklets
   (:func:`~viatique_xblock.pdf.booklets.make_booklets` with blank pages, scanned by
   :func:`~viatique_xblock.pdf.synthetic.scan`; one page in ``--upside-down-every`` fed upside
   down), in a subprocess, chunk by chunk (``--jobs`` processes), into a temporary folder.
   ``--pages N`` makes an N-page scan (``--pages 2500`` for the memory check).
2. Ingests it ``--repeat`` times, each time in a fresh subprocess on a fresh database (SQLite in
   a temporary ``VIATIQUE_VAR_DIR``, or a throwaway database on the server of ``--database-url``)
   with the demo host's settings, after the imports a Celery worker makes when it starts
   (:func:`~viatique_xblock.platform.warmup.warm_up_worker`): ``exams.exam_for_usage``, then ``batches.validate_file`` and
   ``batches.create_batch(..., send=batches.run_locally)``, which processes every range of pages and
   assembles the copies in that process (validation, split, QR, page images, rows). The
   subprocess reports its own peak RSS (``ru_maxrss``): the worker's memory, not the generator's.
3. Opens the same file and renders every page at 150 dpi with PyMuPDF (the baseline), after
   each ingestion, in a subprocess too (Linux hands a parent's peak RSS down to its children).

Prints the best of the repetitions for both, in pages per second, and their ratio (ingestion /
render; goals: >= 100 pages/s per core and a ratio >= 1, SPEC section 6), with the CPU time,
the peak RSS and the load average. The last line is one JSON object. Temporary files are
deleted at the end.

The time of each step (codes, page images, stored files, assembly...) is measured too, by
wrapping those functions (``steps_seconds``). ``--generate OUT.pdf`` runs step 1 alone,
``--ingest SCAN.pdf`` step 2 once in this process, for profiling: ``--profile cumtime`` prints
the profile of the ingestion alone (without Django's start and the migrations) to stderr.
"""
import argparse
import cProfile
import json
import math
import os
import pstats
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, REPO_DIR)

import pymupdf  # noqa: E402
from pdf_ops import per_page, timed  # noqa: E402  (benchmarks/ is this script's folder)

EXAM_REF = "V1"  # batches.exam_ref() of the first exam of a fresh database
USAGE_ID = "viatique-benchmark-pipeline"
CHUNK_PAGES = 100  # pages scanned per generation task
MB = 1024 * 1024


def rss_mb():
    """The current resident set size of this process, in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def peak_rss_mb():
    """The peak RSS of this process, in MB.

    Linux carries ``ru_maxrss`` over from the parent through fork and exec: the parent of the
    ingestion subprocesses must stay small (the baseline renders in a subprocess of its own).
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def vm_hwm_mb():
    """The peak RSS of this process since its exec (VmHWM), in MB: the cross-check of ru_maxrss."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- 1. the scan ---------------------------------------------------------------------------

def _scan_chunk(task):
    """Scan pages ``first..first+count-1`` of the booklets (or of own paper) into ``out``; one generation task."""
    from viatique_xblock.pdf import synthetic
    from viatique_xblock.pdf.booklets import make_booklets

    out, first, count, pages_per_copy, dpi, upside_down_every, no_codes = task
    if no_codes:
        turned = {index - first for index in range(first, first + count)
                  if upside_down_every and index % upside_down_every == 3 % upside_down_every}
        paper = synthetic.own_paper(count, seed=first, pages_per_copy=pages_per_copy)
        data = synthetic.scan(paper, dpi=dpi, skew=1.5, upside_down=turned, seed=first)
        with open(out, "wb") as handle:
            handle.write(data)
        return out
    first_copy = first // pages_per_copy + 1
    copies = (first + count - 1) // pages_per_copy + 2 - first_copy
    booklets = make_booklets(blank_pages=pages_per_copy, copies=copies, exam_ref=EXAM_REF, first_copy=first_copy)
    offset = first - (first_copy - 1) * pages_per_copy
    turned = {index - first + offset for index in range(first, first + count)
              if upside_down_every and index % upside_down_every == 3 % upside_down_every}
    data = synthetic.scan(booklets, dpi=dpi, skew=1.5, upside_down=turned, order=range(offset, offset + count),
                          seed=first)
    with open(out, "wb") as handle:
        handle.write(data)
    return out


def generate(path, pages, pages_per_copy, dpi, upside_down_every, jobs, no_codes=False):
    """Write the scan to ``path``, scanned in chunks (in ``jobs`` processes) then joined."""
    tasks = [(f"{path}.{first:06d}", first, min(CHUNK_PAGES, pages - first), pages_per_copy, dpi, upside_down_every,
              no_codes) for first in range(0, pages, CHUNK_PAGES)]
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_scan_chunk, tasks, chunksize=1)
    else:
        parts = [_scan_chunk(task) for task in tasks]
    out = pymupdf.open()
    for part in parts:
        with pymupdf.open(part) as chunk:
            out.insert_pdf(chunk)
        os.unlink(part)
    out.save(path)
    out.close()


# -- 2. the ingestion ----------------------------------------------------------------------

#: (step, module, function) timed during the ingestion, inclusive of what they call: the ranges
#: include the codes, images and stored files of their pages, and the last range the assembly.
STEPS = [
    ("validate", "viatique_xblock.scanning.batches", "validate_file"),
    ("read_and_hash", "viatique_xblock.pdf.validate", "_read"),
    ("scanner_images", "viatique_xblock.pdf.pages", "scanner_image"),
    ("open_scan", "viatique_xblock.platform.storage", "_download"),
    ("ranges", "viatique_xblock.scanning.batches", "process_range"),
    ("first_look", "viatique_xblock.pdf.decode", "first_look"),
    ("read_codes", "viatique_xblock.pdf.decode", "read_page_code"),
    ("page_images", "viatique_xblock.pdf.images", "page_image"),
    ("store_images", "viatique_xblock.platform.storage", "overwrite"),
    ("assemble", "viatique_xblock.scanning.batches", "assemble_batch"),
    ("assemble_copies", "viatique_xblock.scanning.batches", "_booklet_copies"),
]


def time_steps():
    """Wrap the functions of :data:`STEPS` (those that exist) to add up their seconds in the dict returned."""
    import importlib

    totals = {}

    def timed_step(step, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[step] = totals.get(step, 0.0) + time.perf_counter() - started
        return wrapper

    for step, module_name, name in STEPS:
        module = importlib.import_module(module_name)
        if callable(getattr(module, name, None)):
            setattr(module, name, timed_step(step, getattr(module, name)))
    return totals


def count_io(connection):
    """Count what the database and the storage see during the ingestion, in the dict returned: SQL
    statements by kind, and the storage's calls (``exists``, ``save`` with its bytes, ``delete``, ``open``
    and ``scan_opened``: each range opens the stored scan, :func:`batches.local_copy`, a download of the whole
    file on a remote storage)."""
    from django.core.files.storage import FileSystemStorage

    from viatique_xblock.scanning import batches

    seen = {"sql": {}, "storage": {}, "stored_bytes": 0}

    def statement(execute, sql, params, many, context):
        kind = sql.lstrip().split(None, 1)[0].upper()
        seen["sql"][kind] = seen["sql"].get(kind, 0) + 1
        return execute(sql, params, many, context)

    def counted(name, function):
        def wrapper(self, *args, **kwargs):
            seen["storage"][name] = seen["storage"].get(name, 0) + 1
            if name == "save":
                seen["stored_bytes"] += args[1].size
            return function(self, *args, **kwargs)
        return wrapper

    for name in ("exists", "save", "delete", "open"):
        setattr(FileSystemStorage, name, counted(name, getattr(FileSystemStorage, name)))
    local_copy = batches.local_copy

    def scan_opened(name):
        seen["storage"]["scan_opened"] = seen["storage"].get("scan_opened", 0) + 1
        return local_copy(name)
    batches.local_copy = scan_opened
    connection.execute_wrappers.append(statement)
    return seen


class RssSampler(threading.Thread):
    """Samples the RSS of this process while the ingestion runs (to show that it stays flat)."""

    def __init__(self, every=0.1):
        super().__init__(daemon=True)
        self.every, self.samples, self.stopped = every, [], threading.Event()

    def run(self):
        while not self.stopped.wait(self.every):
            self.samples.append(rss_mb())

    def stop(self):
        self.stopped.set()
        self.join()
        self.samples.append(rss_mb())
        return self.samples


def setup_django(database_url):
    """The demo host's settings on a fresh database: SQLite in VIATIQUE_VAR_DIR, or a new
    database on ``database_url``'s server (dropped at the end of :func:`ingest`)."""
    sys.path.insert(0, os.path.join(REPO_DIR, "demo"))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "VIATIQUE_SETTINGS", "CACHE_KEY_PREFIX"):
        os.environ.pop(name, None)  # tasks run in this process, a per-process cache, default settings
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # DEBUG off refuses the published one
    os.environ.update(DJANGO_SETTINGS_MODULE="demo_host.settings", DEBUG="0")  # DEBUG=1 keeps every query
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = (f"viatique_bench_{uuid.uuid4().hex[:10]}" if database_url
                    else os.path.join(settings.VAR_DIR, "bench.sqlite3"))
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return connection


def ingest(path, database_url=None, exam_ref=EXAM_REF, profile=None, pages_per_copy=None):
    """Ingest ``path`` as an upload does, in this process; return the figures (a dict).

    Files go to ``VIATIQUE_VAR_DIR``; without it, to a temporary folder removed at the end.
    """
    var_dir = None
    if not os.environ.get("VIATIQUE_VAR_DIR"):
        var_dir = os.environ["VIATIQUE_VAR_DIR"] = tempfile.mkdtemp(prefix="viatique-bench-")
    try:
        return _ingest(path, setup_django(database_url), exam_ref, profile, pages_per_copy)
    finally:
        if var_dir:
            shutil.rmtree(var_dir, ignore_errors=True)


def _ingest(path, connection, exam_ref, profile, pages_per_copy):
    try:
        from viatique_xblock import exams
        from viatique_xblock.models import Copy, Page, ScanBatch
        from viatique_xblock.platform import warmup
        from viatique_xblock.scanning import batches

        warmup.warm_up_worker()  # what a Celery worker imports when it starts, before its first task
        exam = exams.exam_for_usage(USAGE_ID)
        if batches.exam_ref(exam) != exam_ref:
            raise SystemExit(f"the exam's reference is {batches.exam_ref(exam)}, the scan's {exam_ref}")
        steps = time_steps()
        io_seen = count_io(connection)
        rss_before = rss_mb()
        sampler = RssSampler()
        sampler.start()
        profiler = cProfile.Profile() if profile else None
        cpu = cpu_seconds()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        info = batches.validate_file(path)
        with open(path, "rb") as handle:
            batch = batches.create_batch(exam, os.path.basename(path), info.sha256, info, handle,
                                       uploaded_by="benchmark", send=batches.run_locally,
                                       pages_per_copy=pages_per_copy)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        samples = sampler.stop()
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats(profile).print_stats(40)
        batch.refresh_from_db()
        unplaced = Page.objects.filter(batch=batch, copy__isnull=True, discarded=False)
        kinds = {}
        for kind in unplaced.values_list("anomaly", flat=True):
            kinds[kind] = kinds.get(kind, 0) + 1
        return {
            "pages": Page.objects.filter(batch=batch).count(),
            "state": batch.state,
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "copies_found": Copy.objects.filter(exam=exam).count(),
            "anomalies": sum(kinds.values()),
            "anomaly_kinds": kinds,
            "rss_before_mb": round(rss_before),
            "rss_max_sampled_mb": round(max(samples)),
            "rss_end_mb": round(samples[-1]),
            "rss_timeline_mb": [round(samples[round(share * (len(samples) - 1))]) for share in (0, .25, .5, .75, 1)],
            "peak_rss_mb": round(peak_rss_mb()),
            "peak_rss_vmhwm_mb": round(vm_hwm_mb()),
            "database": connection.vendor,
            "sql_statements": io_seen["sql"],
            "storage_calls": io_seen["storage"],
            "stored_bytes": io_seen["stored_bytes"],
            "steps_seconds": {step: round(steps[step], 3) for step, _module, _name in STEPS if step in steps},
        }
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def in_subprocess(*options, env=None):
    """Run this script with ``options`` in a fresh Python process; returns its last line's JSON."""
    command = [sys.executable, os.path.abspath(__file__), *options]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(options)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ingest_in_subprocess(path, var_dir, database_url, pages_per_copy):
    """One ingestion in a fresh Python process (its own peak RSS); returns its figures."""
    options = (["--ingest", path, "--pages-per-copy", str(pages_per_copy)]
               + (["--database-url", database_url] if database_url else []))
    return in_subprocess(*options, env=dict(os.environ, VIATIQUE_VAR_DIR=var_dir))


# -- 3. the baseline -----------------------------------------------------------------------

def baseline(path):
    """Seconds and CPU seconds of opening the file and rendering every page at 150 dpi (a dict)."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    with pymupdf.open(path) as doc:
        per_page(doc, lambda d, i: d[i].get_pixmap(dpi=150))
        pages = doc.page_count
    return {"pages": pages, "seconds": round(time.perf_counter() - started, 3),
            "cpu_seconds": round(cpu_seconds() - cpu, 3)}


# -- the run -------------------------------------------------------------------------------

def load():
    return [round(value, 2) for value in os.getloadavg()]


def run(args):
    pages = args.pages or args.copies * args.pages_per_copy
    load_start = load()
    with tempfile.TemporaryDirectory(prefix="viatique-bench-") as tmp:
        scan = args.scan or os.path.join(tmp, "scan.pdf")
        generation, _ = (0.0, None) if args.scan else timed(lambda: subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--generate", scan, "--pages", str(pages),
             "--pages-per-copy", str(args.pages_per_copy), "--dpi", str(args.dpi),
             "--upside-down-every", str(args.upside_down_every), "--jobs", str(args.jobs)]
            + (["--no-codes"] if args.no_codes else []), check=True))
        scan_mb = os.path.getsize(scan) / 1e6
        if args.scan:
            with pymupdf.open(scan) as doc:
                pages = doc.page_count
        kind = "pages without codes, copies" if args.no_codes else "booklets"
        print(f"scan: {pages} pages ({math.ceil(pages / args.pages_per_copy)} {kind} of {args.pages_per_copy}) "
              f"at {args.dpi} dpi, {scan_mb:.1f} MB, generated in {generation:.1f} s; load average {load_start}")
        runs, renders = [], []
        for repetition in range(args.repeat):
            var_dir = os.path.join(tmp, f"var{repetition}")
            runs.append(ingest_in_subprocess(scan, var_dir, args.database_url, args.pages_per_copy))
            renders.append(in_subprocess("--baseline", scan))
            figures = runs[-1]
            print(f"  run {repetition + 1}: ingestion {figures['seconds']:.2f} s ({pages / figures['seconds']:.1f} "
                  f"pages/s, CPU {figures['cpu_seconds']:.2f} s), bare render {renders[-1]['seconds']:.2f} s "
                  f"({pages / renders[-1]['seconds']:.1f} pages/s), peak RSS {figures['peak_rss_mb']} MB")
    best = min(runs, key=lambda figures: figures["seconds"])
    best_render = min(renders, key=lambda figures: figures["seconds"])
    render, render_cpu = pages / best_render["seconds"], best_render["cpu_seconds"]
    pages_per_second = best["pages"] / best["seconds"]
    result = {
        "pages": best["pages"],
        "seconds": best["seconds"],
        "pages_per_second": round(pages_per_second, 1),
        "baseline_pages_per_second": round(render, 1),
        "ratio": round(pages_per_second / render, 2),
        "peak_rss_mb": max(figures["peak_rss_mb"] for figures in runs),
        "copies_found": best["copies_found"],
        "anomalies": best["anomalies"],
        "anomaly_kinds": best["anomaly_kinds"],
        "state": best["state"],
        "pages_per_cpu_second": round(best["pages"] / best["cpu_seconds"], 1),
        "baseline_pages_per_cpu_second": round(best["pages"] / render_cpu, 1),
        "rss_before_mb": best["rss_before_mb"],
        "rss_max_sampled_mb": max(figures["rss_max_sampled_mb"] for figures in runs),
        "rss_timeline_mb": best["rss_timeline_mb"],
        "steps_seconds": best["steps_seconds"],
        "database": best["database"],
        "sql_statements": best["sql_statements"],
        "storage_calls": best["storage_calls"],
        "stored_bytes": best["stored_bytes"],
        "dpi": args.dpi,
        "codes": not args.no_codes,
        "scan_mb": round(scan_mb, 1),
        "repeat": args.repeat,
        "load_average": [load_start, load()],
    }
    print(f"ingestion (best of {args.repeat}): {result['pages_per_second']} pages/s "
          f"({result['pages_per_cpu_second']} per CPU second), {result['copies_found']} copies, "
          f"{result['anomalies']} anomalies, state {result['state']}")
    print(f"bare 150-dpi render (best of {args.repeat}): {result['baseline_pages_per_second']} pages/s "
          f"({result['baseline_pages_per_cpu_second']} per CPU second)")
    print("ingestion steps (best run, seconds, inclusive): "
          + ", ".join(f"{step} {seconds}" for step, seconds in result["steps_seconds"].items()))
    print(f"ratio ingestion / render: {result['ratio']} (goal >= 1; >= 100 pages/s per core)")
    print(f"the database saw {result['sql_statements']} (SQL statements), the storage {result['storage_calls']} "
          f"(calls) and {result['stored_bytes'] / MB:.1f} MB written")
    print(f"ingestion worker: peak RSS {result['peak_rss_mb']} MB (goal < 500), {result['rss_before_mb']} MB "
          f"before the scan, at most {result['rss_max_sampled_mb']} MB sampled during it "
          f"(at 0, 25, 50, 75, 100 % of it: {result['rss_timeline_mb']}); "
          f"load average {result['load_average'][1]}")
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=35, help="booklets in the scan (default 35)")
    parser.add_argument("--pages-per-copy", type=int, default=4, help="pages per booklet (default 4)")
    parser.add_argument("--pages", type=int, help="pages in the scan (default copies x pages per copy)")
    parser.add_argument("--dpi", type=int, default=150, help="resolution of the scanner images (default 150)")
    parser.add_argument("--no-codes", action="store_true",
                        help="a scanner batch of the school's own paper (no code anywhere), cut every "
                             "--pages-per-copy pages, instead of QR booklets")
    parser.add_argument("--upside-down-every", type=int, default=17, metavar="N",
                        help="one page in N is fed upside down (its code read from the whole image); 0: none")
    parser.add_argument("--repeat", type=int, default=3, help="ingestions and renders; the best counts")
    parser.add_argument("--jobs", type=int, default=1, help="processes generating the scan")
    parser.add_argument("--database-url", help="e.g. mysql://root@127.0.0.1:3306/x: a throwaway database "
                                               "on that server (default: SQLite in a temporary folder)")
    parser.add_argument("--scan", metavar="SCAN", help="ingest SCAN, made before by --generate with the same "
                                                       "options, instead of generating one")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--ingest", metavar="SCAN", help="only ingest SCAN in this process (for profiling)")
    mode.add_argument("--generate", metavar="OUT", help="only write the scan to OUT")
    mode.add_argument("--baseline", metavar="SCAN", help="only render every page of SCAN at 150 dpi")
    parser.add_argument("--profile", metavar="SORT", help="with --ingest: print a profile of the ingestion alone "
                                                          "to stderr, sorted by SORT (cumtime, tottime)")
    args = parser.parse_args()
    if args.ingest:
        print(json.dumps(ingest(args.ingest, args.database_url, profile=args.profile,
                                pages_per_copy=args.pages_per_copy)))
    elif args.baseline:
        print(json.dumps(baseline(args.baseline)))
    elif args.generate:
        generate(args.generate, args.pages or args.copies * args.pages_per_copy, args.pages_per_copy, args.dpi,
                 args.upside_down_every, args.jobs, args.no_codes)
    else:
        run(args)


if __name__ == "__main__":
    main()
