"""Benchmark of one large scan ingested by real Celery workers: 1 worker process against 2 (or more).

Usage: ``python benchmarks/parallel_ingest.py [--pages 4000] [--pages-per-copy 4] [--dpi 150] [--no-codes]
[--upside-down-every 17] [--concurrency 1,2] [--pages-per-task 100] [--scan SCAN.pdf] [--jobs 2]
[--sample-every 0.2]``

1. Makes the scan as ``pipeline.py --generate`` does (QR booklets, or with ``--no-codes`` a batch of the
   school's own paper cut every ``--pages-per-copy`` pages), or takes ``--scan``.
2. For each value of ``--concurrency``, in a subprocess of its own: a throwaway MariaDB database, migrated;
   a reserved Redis database as the broker; a Celery worker of the demo host (``celery -A demo_host worker
   --concurrency N``, prefork, ``PAGES_PER_TASK`` from ``--pages-per-task``, ``MAX_PAGES`` and
   ``MAX_UPLOAD_BYTES`` raised to the scan's), warmed up by a first tiny scan; then the scan is stored as
   an upload stores it (``batches.create_batch``, not timed) and its ``viatique.process_batch`` is sent: the time runs from that
   message to the batch ``done`` (ranges of pages as separate tasks on the worker's processes, the assembly
   once they are all done). The RSS of every worker process is sampled all along (``--sample-every``);
   their peaks (VmHWM) are read at the end.
3. Compares the runs: the same pages (code, rotation, copy, position, anomaly of every page), the same copies
   and the same anomalies, and prints the speed-up of each run over the first.

The machine's load moves these figures: the CPU seconds the worker, MariaDB and everything else on the
machine (``other``) used during each run are printed beside them. The last line is one JSON object. Nothing is
left behind (database, Redis database, files).

A 10,000-page scan with flat worker memory: ``--pages 10000 --concurrency 1`` (``MAX_PAGES`` is raised
for the run).
"""
import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DEMO_DIR = os.path.join(REPO_DIR, "demo")
sys.path.insert(0, REPO_DIR)

from stack import cpu_snapshot, cpu_used, mariadb_database, reserved_redis_db  # noqa: E402

USAGE_ID = "viatique-benchmark-parallel"
READY = re.compile(r"@\S+ ready\.")


def load():
    return [round(value, 2) for value in os.getloadavg()]


# -- the worker ----------------------------------------------------------------------------------

def _status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def group_pids(pgid):
    """The processes of a process group (the worker's main process and its pool)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    stat = handle.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[2]) == pgid:
                pids.append(int(entry))
    return sorted(pids)


class RssSampler(threading.Thread):
    """Samples the RSS of every process of the worker's group: the largest, over time."""

    def __init__(self, pgid, every):
        super().__init__(daemon=True)
        self.pgid, self.every, self.samples, self.stopped = pgid, every, [], threading.Event()
        self.peak = {}

    def sample(self):
        sizes = {pid: _status_kb(pid, "VmRSS") for pid in group_pids(self.pgid)}
        sizes = {pid: kb for pid, kb in sizes.items() if kb}
        for pid, kb in sizes.items():
            self.peak[pid] = max(self.peak.get(pid, 0), kb)
        return sizes

    def run(self):
        while not self.stopped.wait(self.every):
            sizes = self.sample()
            self.samples.append(max(sizes.values(), default=0) / 1024)

    def stop(self):
        self.stopped.set()
        self.join()
        hwm = {pid: _status_kb(pid, "VmHWM") for pid in group_pids(self.pgid)}
        return self.samples, {pid: kb for pid, kb in hwm.items() if kb}


@contextlib.contextmanager
def celery_worker(env, concurrency, log_path):
    """A Celery worker of the demo host with ``concurrency`` processes, ready; stopped at the end."""
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "demo_host", "worker", "-Q", env["CELERY_DEFAULT_QUEUE"],
         "-n", f"parallel-{uuid.uuid4().hex[:6]}@%h", "--concurrency", str(concurrency), "--pool", "prefork",
         "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=DEMO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not READY.search(open(log_path, errors="replace").read()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the worker did not start:\n" + open(log_path, errors="replace").read()[-3000:])
            time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


# -- one run (in a subprocess of its own: Django on its own database) ----------------------------------

def setup_django():
    sys.path.insert(0, DEMO_DIR)
    os.environ.update(DJANGO_SETTINGS_MODULE="demo_host.settings", DEBUG="0")
    import django

    django.setup()


def signature(batch):
    """What the ingestion produced, to compare runs: every page, the copies, the anomalies (a dict)."""
    from viatique_xblock.models import Copy, Page

    pages = list(Page.objects.filter(batch=batch).order_by("source_index").values_list(
        "source_index", "qr_payload", "rotation", "copy__booklet_number", "copy__source_group", "position",
        "anomaly"))
    kinds = {}
    for *_rest, anomaly in pages:
        if anomaly:
            kinds[anomaly] = kinds.get(anomaly, 0) + 1
    return {
        "pages": len(pages),
        "copies": Copy.objects.filter(exam=batch.exam).count(),
        "anomalies": sum(kinds.values()),
        "anomaly_kinds": kinds,
        "digest": hashlib.sha256(json.dumps(pages).encode()).hexdigest(),
    }


def wait_done(batch_pk, timeout):
    from viatique_xblock.models import ScanBatch
    from viatique_xblock.states import BatchState

    deadline = time.monotonic() + timeout
    while True:
        state = ScanBatch.objects.filter(pk=batch_pk).values_list("state", flat=True).first()
        if state in (BatchState.DONE, BatchState.FAILED):
            return state
        if time.monotonic() > deadline:
            raise SystemExit(f"batch {batch_pk} still {state} after {timeout} s")
        time.sleep(0.05)


def store(exam, path, pages_per_copy):
    """The scan validated and stored as an upload does, its batch created but not sent (a dict of figures)."""
    from viatique_xblock.scanning import batches

    info = batches.validate_file(path)
    with open(path, "rb") as handle:
        return batches.create_batch(exam, os.path.basename(path), info.sha256, info, handle, uploaded_by="benchmark",
                                    send=lambda *step: None, pages_per_copy=pages_per_copy)


def warm_up(args):
    """A first small scan of another exam, one range per worker process: each process imports and connects."""
    import pymupdf

    from viatique_xblock import exams
    from viatique_xblock.pdf import synthetic
    from viatique_xblock.scanning import batches

    blank = pymupdf.open()
    for _ in range(args.pages_per_task * args.run):
        blank.new_page(width=595, height=842)
    data = synthetic.scan(blank.tobytes(), dpi=36, speckles=0)
    info = batches.validate_bytes(data)
    batch = batches.create_batch(exams.exam_for_usage(USAGE_ID + "-warm-up"), "warm-up.pdf", info.sha256, info,
                                 io.BytesIO(data), pages_per_copy=1)
    wait_done(batch.pk, 300)


def one_run(args):
    """Ingest ``args.scan`` with a worker of ``args.run`` processes on the database of DATABASE_URL."""
    from django.core.management import call_command

    setup_django()
    call_command("migrate", verbosity=0)
    from viatique_xblock import exams
    from viatique_xblock.scanning import batches

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log_path = os.path.join(os.environ["VIATIQUE_VAR_DIR"], "worker.log")
    exam = exams.exam_for_usage(USAGE_ID)  # the first exam of the database: V1, the scan's codes
    if batches.exam_ref(exam) != "V1":
        raise SystemExit(f"the exam's reference is {batches.exam_ref(exam)}, the scan's V1")
    batch = store(exam, args.scan, args.pages_per_copy)
    with celery_worker(env, args.run, log_path) as worker:
        warm_up(args)
        # the warm-up's tasks log their success after the batch is done: wait for those lines, so that the
        # scan's counts below start after them
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
                len(re.findall(r"Task viatique\.process_range\[\S+\] succeeded", open(log_path).read())) < args.run
                or not re.search(r"Task viatique\.assemble_batch\[\S+\] succeeded", open(log_path).read())):
            time.sleep(0.05)
        warm_log = os.path.getsize(log_path)
        groups = {"celery": worker.pid}
        sampler = RssSampler(worker.pid, args.sample_every)
        sampler.sample()
        cpu_before = cpu_snapshot(groups)
        load_start = load()
        started = time.perf_counter()
        sampler.start()
        batches.send_step("process_batch", batch.pk)
        state = wait_done(batch.pk, 3600)
        seconds = time.perf_counter() - started
        samples, hwm = sampler.stop()
        cpu = cpu_used(cpu_before, cpu_snapshot(groups))
        batch.refresh_from_db()
        with open(log_path, "rb") as handle:
            handle.seek(warm_log)
            log = handle.read().decode(errors="replace")  # the scan's own tasks, not the warm-up's
    cpu["other"] = round(cpu["busy"] - cpu["celery"] - cpu["mariadb"] - cpu["redis"] - cpu["client"], 2)
    pool = {pid: kb for pid, kb in hwm.items() if pid != worker.pid}
    return {
        "concurrency": args.run,
        "state": state,
        "seconds": round(seconds, 3),
        "pages_per_second": round(batch.page_count / seconds, 1),
        "ranges": len(re.findall(r"Task viatique\.process_range\[\S+\] succeeded", log)),
        "assemblies": len(re.findall(r"Task viatique\.assemble_batch\[\S+\] succeeded", log)),
        "assembly_seconds": sum(float(seconds) for seconds in re.findall(
            r"Task viatique\.assemble_batch\[\S+\] succeeded in ([\d.]+)s", log)),
        "range_seconds": round(sum(float(seconds) for seconds in re.findall(
            r"Task viatique\.process_range\[\S+\] succeeded in ([\d.]+)s", log)), 2),
        "range_processes": sorted(set(re.findall(r"/(ForkPoolWorker-\d+)\] Task viatique\.process_range", log))),
        "retries": len(re.findall(r"Task viatique\.\w+\[\S+\] retry", log)),
        "cpu_seconds": cpu,
        "worker_pages_per_cpu_second": round(batch.page_count / cpu["celery"], 1) if cpu["celery"] else None,
        "peak_rss_mb_per_process": sorted(round(kb / 1024) for kb in pool.values()),
        "main_process_peak_rss_mb": round(hwm.get(worker.pid, 0) / 1024),
        "rss_timeline_mb": [round(samples[round(share * (len(samples) - 1))]) for share in (0, .25, .5, .75, 1)]
        if samples else [],
        "rss_max_sampled_mb": round(max(samples, default=0)),
        "load_average": [load_start, load()],
        **signature(batch),
    }


def run_in_subprocess(args, scan, concurrency, max_pages):
    """One run on a fresh database, broker and storage; its figures (a dict)."""
    with mariadb_database("parallel") as database_url, reserved_redis_db() as broker, \
            tempfile.TemporaryDirectory(prefix="viatique-bench-") as var_dir:
        queue = f"viatique-bench-{uuid.uuid4().hex[:8]}"
        env = dict(os.environ, DATABASE_URL=database_url, CELERY_BROKER_URL=broker, CELERY_RESULT_BACKEND="",
                   VIATIQUE_VAR_DIR=var_dir, CELERY_DEFAULT_QUEUE=queue, VIATIQUE_CELERY_QUEUE=queue,
                   CACHE_KEY_PREFIX=queue, SECRET_KEY=secrets.token_urlsafe(50),
                   VIATIQUE_SETTINGS=json.dumps({"PAGES_PER_TASK": args.pages_per_task, "MAX_PAGES": max_pages,
                                                 "MAX_UPLOAD_BYTES": max(2 ** 30, os.path.getsize(scan))}))
        for name in ("REDIS_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        command = [sys.executable, os.path.abspath(__file__), "--run", str(concurrency), "--scan", scan,
                   "--pages-per-copy", str(args.pages_per_copy), "--sample-every", str(args.sample_every)]
        done = subprocess.run(command + (["--no-codes"] if args.no_codes else []), env=env, capture_output=True,
                              text=True, check=False)
        if done.returncode:
            raise SystemExit(f"the run with {concurrency} processes failed:\n{done.stdout}{done.stderr[-5000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def generate(args, path):
    """The scan, made by pipeline.py's generator (booklets of exam ``V1``, the first of a fresh database)."""
    command = [sys.executable, os.path.join(BENCH_DIR, "pipeline.py"), "--generate", path, "--pages",
               str(args.pages), "--pages-per-copy", str(args.pages_per_copy), "--dpi", str(args.dpi),
               "--upside-down-every", str(args.upside_down_every), "--jobs", str(args.jobs)]
    subprocess.run(command + (["--no-codes"] if args.no_codes else []), check=True)


def compare(runs):
    """Whether every run produced the same pages, copies and anomalies as the first."""
    keys = ("pages", "copies", "anomalies", "anomaly_kinds", "digest")
    return all(all(run[key] == runs[0][key] for key in keys) for run in runs[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4000, help="pages in the scan (default 4000)")
    parser.add_argument("--pages-per-copy", type=int, default=4)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--no-codes", action="store_true", help="the school's own paper, no codes (see pipeline.py)")
    parser.add_argument("--upside-down-every", type=int, default=17, metavar="N")
    parser.add_argument("--concurrency", default="1,2", help="worker processes of each run (default 1,2)")
    parser.add_argument("--pages-per-task", type=int, default=100, help="PAGES_PER_TASK (default 100)")
    parser.add_argument("--scan", help="a scan made before by pipeline.py --generate (same options)")
    parser.add_argument("--jobs", type=int, default=2, help="processes generating the scan")
    parser.add_argument("--sample-every", type=float, default=0.2, help="seconds between RSS samples")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # one run, in the subprocess
    args = parser.parse_args()
    if args.run:
        print(json.dumps(one_run(args)))
        return
    load_start = load()
    with tempfile.TemporaryDirectory(prefix="viatique-bench-") as tmp:
        scan = args.scan
        if not scan:
            scan = os.path.join(tmp, "scan.pdf")
            generate(args, scan)
        import pymupdf

        with pymupdf.open(scan) as doc:
            pages = doc.page_count
        print(f"scan: {pages} pages, {'no codes' if args.no_codes else 'QR booklets'}, "
              f"{os.path.getsize(scan) / 1e6:.1f} MB; load average {load_start}")
        runs = []
        for concurrency in (int(value) for value in args.concurrency.split(",")):
            run = run_in_subprocess(args, scan, concurrency, max(pages, 5000))
            runs.append(run)
            print(f"  {concurrency} worker process(es): {run['seconds']:.2f} s, {run['pages_per_second']} pages/s, "
                  f"{run['ranges']} ranges on {', '.join(run['range_processes'])}, {run['assemblies']} assembly, "
                  f"{run['retries']} retries; {run['copies']} copies, {run['anomalies']} anomalies; CPU s: worker "
                  f"{run['cpu_seconds']['celery']}, MariaDB {run['cpu_seconds']['mariadb']}, other "
                  f"{run['cpu_seconds']['other']} of {run['cpu_seconds']['capacity']}; peak RSS per process "
                  f"{run['peak_rss_mb_per_process']} MB (sampled over time: {run['rss_timeline_mb']}); "
                  f"load {run['load_average'][1]}")
    same = compare(runs)
    result = {
        "pages": pages,
        "codes": not args.no_codes,
        "pages_per_task": args.pages_per_task,
        "runs": runs,
        "speedup": {str(run["concurrency"]): round(runs[0]["seconds"] / run["seconds"], 2) for run in runs},
        "same_result": same,
        "peak_rss_mb": max(max(run["peak_rss_mb_per_process"], default=0) for run in runs),
        "load_average": [load_start, load()],
    }
    print("speed-up over the first run: " + ", ".join(f"{key} processes x{value}"
                                                      for key, value in result["speedup"].items())
          + f" (goal >= 1.7 with 2); same pages, copies and anomalies: {same}")
    print(json.dumps(result))
    if not same:
        raise SystemExit("the runs disagree")


if __name__ == "__main__":
    main()
