"""Load benchmark of the grading handlers: concurrent simulated graders against `make serve`.

Usage: ``python benchmarks/grading_load.py [--graders 50] [--rounds 20] [--think 4.0]
[--base-url URL --usage-id ID [--access-log FILE]] [--keep-log FILE]``

Without ``--base-url`` it starts its own production-like stack (``scripts/serve.sh``: 3 gunicorn
workers, a Celery worker, Redis, a throwaway MariaDB database; see ``stack.py``), imports a scan
of one page per copy so every grader has a copy of their own, and removes everything at the end.

Each simulated grader (``staff_load_<n>``, a grader of the demo host) runs what the grading
workspace does: ``open_copy``, ``acquire_lease``, then ``--rounds`` rounds of work, each ending in
the autosave: a ``save_draft`` of the whole work (annotations and points growing), plus a
``save_points`` every third round; the heartbeat (``renew_lease``) on its own timer, every
``LEASE_HEARTBEAT_SECONDS`` (30 s) as the workspace sends it; at the end ``finalize``.

The pace is the workspace's: it autosaves ``DRAFT_AUTOSAVE_SECONDS`` (2 s) after the grader's
last change, so one grader's saves are never closer than 2 s; ``--think`` is the mean time
between them (uniform in [2, 2 x think - 2] s). The default, 4 s, is a grader who changes something
every few seconds without stopping: 50 of them send about 12 autosaves and 4 points a second
(1.7 heartbeats). The workspace itself sends points inside its autosave; ``save_points`` (the
points handler of the API) is extra load. A ``--think`` under 2 s is a stress test no workspace
can produce (uniform in [0.5, 1.5] x think). Graders start within the first two think times
(uniformly), so all 50 work at once and their requests overlap.

Measured: latency of every request as the client sees it, p50 and p99 per operation (goal: p99 <
50 ms, SPEC section 6), and the same from the server's side, read in gunicorn's access log
(``%(M)s``: the worker's time on the request, without the wait for a free worker nor the
client's own delays: the 50 client threads run in one Python process on the same cores as the
server); the CPU seconds each part of the stack used while grading (web workers, Celery worker,
MariaDB, Redis, this client, the whole machine); and correctness: once every grader is done, the
instructor reads every copy back (``open_copy``) and compares points and annotations with the
last write each grader had confirmed. Any difference is a lost or overwritten update (goal:
zero). Refused writes (409) are counted separately.

Baseline, in the same run: the same graders, at the same pace, each calling ``comment_bank``
(a read of one small table) the same number of times; the ratio compares the grading
handlers' p99 with it. The last line is one JSON object.
"""
import argparse
import http.cookiejar
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH_DIR))
sys.path.insert(0, BENCH_DIR)

SCENARIO = "/scenario/viatique.0/"
#: the workspace's autosave delay (``DRAFT_AUTOSAVE_SECONDS``), for the baseline's pace
AUTOSAVE_SECONDS = 2
WRITES = ("save_draft", "save_points", "renew_lease", "finalize")
#: the handlers of the goal (p99 < 50 ms): lease, heartbeat, draft save, points
GRADING = ("acquire_lease", "renew_lease", "save_draft", "save_points")
#: the default mean seconds between a grader's autosaves (see the module's docstring)
THINK_SECONDS = 4.0


class Client:
    """One browser: its own cookies (the CSRF cookie) and its ``?student=`` identity."""

    def __init__(self, base_url, usage_id, student):
        self.base_url = base_url
        self.usage_id = usage_id
        self.student = student
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def page(self):
        with self.opener.open(f"{self.base_url}{SCENARIO}?student={self.student}", timeout=60) as response:
            return response.read().decode()

    def csrf(self):
        return next((cookie.value for cookie in self.jar if cookie.name == "csrftoken"), "")

    def call(self, handler, data=None, method="POST", suffix=""):
        """``(status, body, seconds)`` of one handler call."""
        url = f"{self.base_url}/handler/{self.usage_id}/{handler}/{suffix}"
        query = {"student": self.student}
        body = None
        headers = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
        if method == "GET":
            query.update(data or {})
        else:
            body = json.dumps(data or {}).encode()
            headers.update({"Content-Type": "application/json", "X-CSRFToken": self.csrf(),
                            "Referer": self.base_url + SCENARIO})
        request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(query)}", data=body, headers=headers,
                                         method=method)
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        seconds = time.perf_counter() - started
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = {"raw": raw[:200].decode(errors="replace")}
        return status, payload, seconds


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {}
        self.statuses = {}
        self.started = time.monotonic()
        self.timeline = []  # (seconds since the start when the request ended, operation, seconds)

    def add(self, operation, status, seconds):
        with self.lock:
            self.latencies.setdefault(operation, []).append(seconds)
            self.timeline.append((time.monotonic() - self.started, operation, seconds))
            counts = self.statuses.setdefault(operation, {})
            counts[status] = counts.get(status, 0) + 1

    def slowest(self, operations, count=10):
        """``[operation, seconds into the run, ms]`` of the slowest requests of ``operations``."""
        chosen = sorted((item for item in self.timeline if item[1] in operations), key=lambda item: -item[2])
        return [[operation, round(at, 1), round(seconds * 1000, 1)] for at, operation, seconds in chosen[:count]]

    def summary(self):
        result = {}
        for operation, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            result[operation] = {
                "count": len(values),
                "p50_ms": round(percentile(ordered, 50) * 1000, 1),
                "p99_ms": round(percentile(ordered, 99) * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1),
                "statuses": {str(code): n for code, n in sorted(self.statuses[operation].items())},
            }
        return result


def percentile(ordered, rank):
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(rank / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def points_for(question, round_number):
    """A valid number of points for a question: a multiple of its step within its maximum."""
    step = float(question.get("step") or 1)
    steps = int(float(question["max"]) / step)
    value = step * ((round_number * 7 + len(question["id"])) % (steps + 1))
    return f"{value:g}"


def pause(think, autosave):
    """Seconds from one autosave to the next, ``think`` on average.

    The workspace saves ``autosave`` seconds after the grader's last change, so two saves of one
    grader are never closer than that: the pause is uniform in [autosave, 2 x think - autosave].
    A ``think`` below the autosave delay (a stress test no workspace can produce) falls back to
    uniform in [0.5, 1.5] x ``think``."""
    if think > autosave:
        return random.uniform(autosave, 2 * think - autosave)
    return random.uniform(0.5, 1.5) * think


def grader_run(client, copy_id, rounds, think, recorder, outcome, start_gate):
    """What one grader does; ``outcome`` receives the last confirmed work."""
    client.page()
    start_gate.wait()
    # graders open their copies within the first couple of think times, not all in one instant
    time.sleep(random.uniform(0, 2 * think))
    status, opened, seconds = client.call("open_copy", {"copy_id": copy_id}, "GET")
    recorder.add("open_copy", status, seconds)
    if status != 200:
        outcome.update(error=f"open_copy {status} {opened}")
        return
    status, lease, seconds = client.call("acquire_lease", {"copy_id": copy_id})
    recorder.add("acquire_lease", status, seconds)
    if status != 200:
        outcome.update(error=f"acquire_lease {status} {lease}")
        return
    fencing, token = lease["fencing"], lease["token"]
    settings = opened.get("settings") or {}
    autosave, heartbeat = settings.get("autosave_seconds", 2), settings.get("heartbeat_seconds", 30)
    next_heartbeat = time.monotonic() + heartbeat  # the workspace's heartbeat timer starts with the lease
    version = (opened.get("draft") or {}).get("version", 0)
    questions = opened["questions"]
    pages = opened["pages"]
    annotations, points = [], {}
    confirmed = None
    for round_number in range(1, rounds + 1):
        time.sleep(pause(think, autosave))
        if time.monotonic() >= next_heartbeat:
            status, body, seconds = client.call("renew_lease", {"copy_id": copy_id, "token": token})
            recorder.add("renew_lease", status, seconds)
            next_heartbeat += heartbeat
        page = pages[round_number % len(pages)]
        annotations.append({
            "uid": str(uuid.uuid4()), "page_id": page["id"], "kind": ("tick", "cross", "comment")[round_number % 3],
            "x": round(random.uniform(0.05, 0.6), 4), "y": round(random.uniform(0.05, 0.8), 4),
            "width": 0.2, "height": 0.05, "text": f"Remarque {round_number} : très bien ≤ √2",
            "question_id": "", "points": None,
        })
        question = questions[round_number % len(questions)]
        points[question["id"]] = {"points": points_for(question, round_number), "comment": f"r{round_number}"}
        payload = {"annotations": annotations, "points": points, "general_comment": f"Tour {round_number}"}
        status, body, seconds = client.call("save_draft", {"copy_id": copy_id, "fencing": fencing,
                                                           "version": version, "payload": payload})
        recorder.add("save_draft", status, seconds)
        if status == 200:
            version = body["version"]
            confirmed = json.loads(json.dumps(payload))
        if round_number % 3 == 0:
            question = questions[(round_number + 1) % len(questions)]
            value = points_for(question, round_number + 100)
            status, body, seconds = client.call("save_points", {
                "copy_id": copy_id, "fencing": fencing, "question_id": question["id"], "points": value,
                "comment": "direct"})
            recorder.add("save_points", status, seconds)
            if status == 200:
                points[question["id"]] = {"points": value, "comment": "direct"}
                version = body.get("version", version)
                if confirmed is not None:
                    confirmed["points"][question["id"]] = {"points": value, "comment": "direct"}
    # every question needs points before finalize
    for index, question in enumerate(questions):
        points.setdefault(question["id"], {"points": points_for(question, index), "comment": ""})
    payload = {"annotations": annotations, "points": points, "general_comment": "Fin"}
    status, body, seconds = client.call("save_draft", {"copy_id": copy_id, "fencing": fencing, "version": version,
                                                       "payload": payload})
    recorder.add("save_draft", status, seconds)
    if status == 200:
        confirmed = json.loads(json.dumps(payload))
    status, body, seconds = client.call("finalize", {"copy_id": copy_id, "fencing": fencing})
    recorder.add("finalize", status, seconds)
    outcome.update(confirmed=confirmed, finalized=status == 200)


def same_number(a, b):
    try:
        return abs(float(a) - float(b)) < 1e-9
    except (TypeError, ValueError):
        return a == b


def lost_updates(instructor, copy_id, confirmed):
    """Differences between what the server holds and the grader's last confirmed work."""
    status, stored, _seconds = instructor.call("open_copy", {"copy_id": copy_id}, "GET")
    if status != 200:
        return [f"open_copy {status}"]
    problems = []
    for qid, entry in confirmed["points"].items():
        held = (stored.get("points") or {}).get(qid)
        if held is None or not same_number(held.get("points"), entry["points"]):
            problems.append(f"points {qid}: {held} != {entry}")
    stored_uids = {a["uid"] for a in stored.get("annotations") or []}
    confirmed_uids = {a["uid"] for a in confirmed["annotations"]}
    if stored_uids != confirmed_uids:
        problems.append(f"annotations: {len(stored_uids ^ confirmed_uids)} differ")
    if (stored.get("copy") or {}).get("general_comment") != confirmed["general_comment"]:
        problems.append("general comment differs")
    return problems


def baseline_run(client, calls, think, recorder, start_gate):
    client.page()
    start_gate.wait()
    time.sleep(random.uniform(0, 2 * think))
    for _ in range(calls):
        time.sleep(pause(think, AUTOSAVE_SECONDS))
        status, _body, seconds = client.call("comment_bank", {}, "GET")
        recorder.add("comment_bank", status, seconds)


def run_threads(targets):
    gate = threading.Barrier(len(targets))
    threads = [threading.Thread(target=target, args=(*args, gate)) for target, args in targets]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def scan_of_copies(path, copies):
    """A scan without codes of ``copies`` one-page copies (a line of text on each)."""
    import pymupdf

    document = pymupdf.open()
    for number in range(copies):
        page = document.new_page(width=595, height=842)
        page.insert_text((72, 100), f"Copie de charge {number + 1}", fontsize=18)
    document.save(path)


def import_copies(env, scenario, copies):
    """Import a scan of ``copies`` one-page copies into the workbench exam ``scenario``; its usage id."""
    from stack import manage

    usage_id = manage(env, "shell", "-c", "from workbench.scenarios import get_scenarios; "
                      f"print(get_scenarios()['{scenario}'].usage_id)").stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="viatique-load-") as folder:
        scan = os.path.join(folder, "load.pdf")
        scan_of_copies(scan, copies)
        manage(env, "viatique_import_scan", "--block", usage_id, "--pages-per-copy", "1", "--sync", scan)
    return usage_id


def prepare(base_url, env, graders):
    return import_copies(env, "viatique.0", graders)


def free_copies(instructor, count):
    """Ids of ``count`` copies nobody was given nor started (the ones the import just made)."""
    status, listing, _ = instructor.call("list_copies", {"offset": 0, "limit": 200}, "GET")
    assert status == 200, listing
    free = [copy["id"] for copy in listing["copies"] if copy["state"] == "ready" and not copy["grader"]]
    if len(free) < count:
        raise SystemExit(f"only {len(free)} free copies for {count} graders")
    return sorted(free)[-count:]


def server_side(log_path, start, end):
    """What gunicorn logged for the simulated graders between two offsets of its log: per handler,
    the workers' own milliseconds (``%(M)s``: no listen-queue wait, no client), and the requests
    each worker took."""
    from stack import access_log

    recorder, workers = Recorder(), {}
    for line in access_log(log_path, start, end):
        if line["student"].startswith("staff_load_"):
            recorder.add(line["handler"], int(line["status"]), int(line["ms"]) / 1000)
            workers[line["pid"]] = workers.get(line["pid"], 0) + 1
    return {"operations": recorder.summary(), "requests_per_worker": sorted(workers.values(), reverse=True)}


def phase(targets, log_path, groups):
    """Run ``targets``; ``(seconds, server-side figures, CPU seconds by part)``."""
    from stack import cpu_snapshot, cpu_used, log_size

    start, before = log_size(log_path), cpu_snapshot(groups)
    seconds = run_threads(targets)
    time.sleep(0.5)  # the last access log lines
    cpu = cpu_used(before, cpu_snapshot(groups))
    cpu["other"] = round(cpu["busy"] - sum(cpu[name] for name in ("web", "celery", "mariadb", "redis", "client")), 2)
    return seconds, server_side(log_path, start, log_size(log_path)), cpu


def run(args, base_url, usage_id, env=None):
    from stack import stack_groups

    stack_log = (env or {}).get("VIATIQUE_BENCH_LOG")
    log_path = args.access_log or stack_log
    groups = stack_groups(stack_log)
    load_before = os.getloadavg()
    instructor = Client(base_url, usage_id, "instructor_1")
    instructor.page()
    copies = free_copies(instructor, args.graders)
    recorder = Recorder()
    outcomes = [{} for _ in copies]
    targets = [(grader_run, (Client(base_url, usage_id, f"staff_load_{n}"), copy_id, args.rounds, args.think,
                             recorder, outcomes[n]))
               for n, copy_id in enumerate(copies)]
    seconds, server, cpu = phase(targets, log_path, groups)
    base = Recorder()
    calls = recorder.summary().get("save_draft", {}).get("count", args.rounds * args.graders) // args.graders
    _seconds, base_server, _cpu = phase([(baseline_run, (Client(base_url, usage_id, f"staff_load_{n}"), calls,
                                                         args.think, base)) for n in range(args.graders)],
                                        log_path, groups)
    lost, errors = [], [o["error"] for o in outcomes if o.get("error")]
    for copy_id, outcome in zip(copies, outcomes):
        if outcome.get("confirmed"):
            lost.extend(f"copy {copy_id}: {problem}" for problem in lost_updates(instructor, copy_id,
                                                                                  outcome["confirmed"]))
    operations = recorder.summary()
    grading_p99 = max((operations[op]["p99_ms"] for op in GRADING if op in operations), default=0)
    baseline = base.summary().get("comment_bank", {})
    refused = sum(n for op in WRITES for code, n in operations.get(op, {}).get("statuses", {}).items()
                  if code == "409")
    return {
        "graders": args.graders, "rounds": args.rounds, "think_seconds": args.think,
        "seconds": round(seconds, 1),
        "requests": sum(op["count"] for op in operations.values()),
        "operations": operations,
        "grading_p99_ms": grading_p99,
        "server_operations": server["operations"],
        "server_grading_p99_ms": max((server["operations"][op]["p99_ms"] for op in GRADING
                                      if op in server["operations"]), default=None),
        "server_baseline_comment_bank": base_server["operations"].get("comment_bank", {}),
        "requests_per_worker": server["requests_per_worker"],
        "slowest_grading_requests": recorder.slowest(GRADING),
        "cpu_seconds": cpu,
        "baseline_comment_bank": baseline,
        "ratio_p99_to_baseline": round(grading_p99 / baseline["p99_ms"], 2) if baseline.get("p99_ms") else None,
        "finalized": sum(1 for o in outcomes if o.get("finalized")),
        "refused_writes_409": refused,
        "lost_updates": len(lost),
        "lost_update_details": lost[:10],
        "errors": errors[:10],
        "load_average": os.getloadavg(),
        "load_average_before": load_before,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--think", type=float, default=THINK_SECONDS,
                        help="mean seconds between a grader's autosaves (at least the 2 s autosave delay apart)")
    parser.add_argument("--base-url", help="a running `make serve` (default: start a throwaway stack)")
    parser.add_argument("--usage-id", help="the block's usage id on --base-url")
    parser.add_argument("--access-log", help="with --base-url: the file of gunicorn's access log, for the "
                                             "server-side figures (serve.sh's format)")
    parser.add_argument("--keep-log", metavar="FILE", help="without --base-url: copy the throwaway stack's log "
                                                           "(gunicorn's access log, Celery) to FILE at the end")
    args = parser.parse_args()
    if args.base_url:
        result = run(args, args.base_url.rstrip("/"), args.usage_id)
    else:
        from stack import serve_stack

        with serve_stack("grading") as (base_url, env):
            usage_id = prepare(base_url, env, args.graders)
            try:
                result = run(args, base_url, usage_id, env)
            finally:
                if args.keep_log:
                    shutil.copyfile(env["VIATIQUE_BENCH_LOG"], args.keep_log)
    print(f"{result['graders']} graders x {result['rounds']} rounds, one autosave every {args.think} s on average, "
          f"in {result['seconds']} s, {result['requests']} requests; load average {result['load_average_before']} "
          f"before, {result['load_average']} after")
    server = result["server_operations"]
    print("  operation          n   client p50    p99     max | server p50    p99     max  (ms; server: gunicorn's "
          "%(M)s)")
    for name, figures in result["operations"].items():
        theirs = server.get(name, {})
        print(f"  {name:14s} {figures['count']:5d}  {figures['p50_ms']:9.1f} {figures['p99_ms']:7.1f} "
              f"{figures['max_ms']:7.1f} | {theirs.get('p50_ms', float('nan')):9.1f} "
              f"{theirs.get('p99_ms', float('nan')):7.1f} {theirs.get('max_ms', float('nan')):7.1f}  "
              f"{figures['statuses']}")
    base, base_server = result["baseline_comment_bank"], result["server_baseline_comment_bank"]
    print(f"  baseline comment_bank: client p50 {base.get('p50_ms')} p99 {base.get('p99_ms')} ms | server p50 "
          f"{base_server.get('p50_ms')} p99 {base_server.get('p99_ms')} ms")
    cpu = result["cpu_seconds"]
    print(f"  CPU seconds while grading ({result['seconds']} s x {os.cpu_count()} cores): "
          + ", ".join(f"{name} {value}" for name, value in cpu.items())
          + f"; requests per web worker {result['requests_per_worker']}")
    print(f"  server-side grading p99 {result['server_grading_p99_ms']} ms; slowest [operation, s into the run, "
          f"ms]: {result['slowest_grading_requests']}")
    print(f"grading handlers p99 {result['grading_p99_ms']} ms (goal < 50 ms), ratio to baseline p99 "
          f"{result['ratio_p99_to_baseline']}; lost updates {result['lost_updates']} (goal 0); "
          f"refused writes {result['refused_writes_409']}; finalized {result['finalized']}/{result['graders']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
