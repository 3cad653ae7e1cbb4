"""Where one grading request's time goes: the handlers in-process, with their queries and a profile.

Usage: ``python benchmarks/grading_profile.py [--rounds 40] [--top 25] [--sort tottime]``

On a throwaway MariaDB database and a reserved Redis database (as ``grading_load.py``, but
no gunicorn: Django's test client in this process, the demo host's settings with ``DEBUG=0``),
one grader opens a copy, takes its lease, then does ``--rounds`` rounds of what the workspace
does (a ``save_draft`` of the growing work, a ``save_points``, a ``renew_lease``). It prints, per
handler, the mean milliseconds, the SQL queries (count, and the time the database took to answer
them, commits included) and the Redis commands of one call, then a cProfile of all the rounds
(``--top`` functions by ``--sort``) to stderr. The baseline is ``comment_bank`` (one small read)
called the same number of times. The last line is one JSON object.

A single client: it shows the cost of one request, not queueing under load (``grading_load.py``).
"""
import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path[:0] = [os.path.join(REPO_DIR, "demo"), REPO_DIR, BENCH_DIR]

SCENARIO = "/scenario/viatique.0/"


class Counter:
    """SQL queries (and the seconds the database took) through ``connection.execute_wrapper``."""

    def __init__(self):
        self.queries = 0
        self.seconds = 0.0
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1
            self.statements.append(sql.split(" WHERE ")[0][:90])


class CommitCounter:
    """Commits (and their seconds: the database's log flush) through the connection's ``_commit``."""

    def __init__(self, connection):
        self.commits = 0
        self.seconds = 0.0
        original = connection._commit

        def commit():
            started = time.perf_counter()
            try:
                return original()
            finally:
                self.commits += 1
                self.seconds += time.perf_counter() - started

        connection._commit = commit


class RedisCounter:
    """Redis commands sent (a pipeline counts its commands), by patching the client's execute_command."""

    def __init__(self):
        self.commands = 0
        self.seconds = 0.0

    def install(self):
        import redis.client

        counter = self
        original = redis.client.Redis.execute_command
        original_pipe = redis.client.Pipeline.execute

        def execute_command(self, *args, **options):
            started = time.perf_counter()
            try:
                return original(self, *args, **options)
            finally:
                counter.commands += 1
                counter.seconds += time.perf_counter() - started

        def pipe_execute(self, *args, **options):
            started = time.perf_counter()
            size = len(self.command_stack)
            try:
                return original_pipe(self, *args, **options)
            finally:
                counter.commands += size
                counter.seconds += time.perf_counter() - started

        redis.client.Redis.execute_command = execute_command
        redis.client.Pipeline.execute = pipe_execute


def setup(env, copies=2):
    """Migrate the throwaway database, seed the demo host and import a scan of ``copies`` one-page
    copies (none with 0); returns the usage id of the demo's first block."""
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # DEBUG off refuses the published one
    os.environ.update(env, DJANGO_SETTINGS_MODULE="demo_host.settings", DEBUG="0", ALLOWED_HOSTS="testserver")
    import django

    django.setup()
    from django.core.management import call_command
    from grading_load import scan_of_copies

    with open(os.devnull, "w") as quiet:
        call_command("migrate", verbosity=0, stdout=quiet)
        call_command("viatique_demo_seed", stdout=quiet)
        from workbench.scenarios import get_scenarios

        usage_id = str(get_scenarios()["viatique.0"].usage_id)
        if not copies:
            return usage_id
        with tempfile.TemporaryDirectory(prefix="viatique-profile-") as folder:
            scan = os.path.join(folder, "scan.pdf")
            scan_of_copies(scan, copies)
            call_command("viatique_import_scan", "--block", usage_id, "--pages-per-copy", "1", "--sync", scan,
                         stdout=quiet)
    return usage_id


class Grader:
    def __init__(self, usage_id, student):
        from django.test import Client

        self.client = Client()
        self.usage_id = usage_id
        self.student = student
        page = self.client.get(f"{SCENARIO}?student={student}")
        assert page.status_code == 200, page.content[:500]

    def call(self, handler, data=None, method="POST"):
        url = f"/handler/{self.usage_id}/{handler}/"
        if method == "GET":  # the test client's query replaces the one in the path
            response = self.client.get(url, {**(data or {}), "student": self.student}, HTTP_ACCEPT="application/json")
        else:
            response = self.client.post(f"{url}?student={self.student}", json.dumps(data or {}),
                                        content_type="application/json")
        return response.status_code, json.loads(response.content or b"{}")


def one_round(timed, lease, copy_id, pages, questions, work):
    """A round of the workspace: a draft save of the growing work, points of one question, a heartbeat,
    and the baseline read."""
    from grading_load import points_for

    number = len(work["annotations"]) + 1
    work["annotations"].append({"uid": str(uuid.uuid4()), "page_id": pages[0]["id"], "kind": "comment",
                                "x": 0.1, "y": 0.1, "width": 0.2, "height": 0.05, "text": f"Remarque {number}",
                                "question_id": "", "points": None})
    question = questions[number % len(questions)]
    work["points"][question["id"]] = {"points": points_for(question, number), "comment": f"r{number}"}
    status, body = timed("save_draft", "save_draft", {
        "copy_id": copy_id, "fencing": lease["fencing"], "version": work["version"],
        "payload": {"annotations": work["annotations"], "points": work["points"], "general_comment": f"Tour {number}"}})
    assert status == 200, body
    question = questions[(number + 1) % len(questions)]
    value = points_for(question, number + 100)
    status, body = timed("save_points", "save_points", {
        "copy_id": copy_id, "fencing": lease["fencing"], "question_id": question["id"], "points": value,
        "comment": "direct"})
    assert status == 200, body
    work["points"][question["id"]] = {"points": value, "comment": "direct"}
    work["version"] = body["version"]
    timed("renew_lease", "renew_lease", {"copy_id": copy_id, "token": lease["token"]})
    timed("comment_bank", "comment_bank", {}, "GET")


def measure(args):
    from django.db import connection
    from grading_load import free_copies

    usage_id = os.environ["VIATIQUE_PROFILE_USAGE"]
    instructor = Grader(usage_id, "instructor_1")

    class Listing:  # free_copies wants .call(handler, data, method) -> (status, body, seconds)
        def call(self, handler, data, method):
            return (*instructor.call(handler, data, method), 0)

    copy_id = free_copies(Listing(), 1)[0]
    grader = Grader(usage_id, "staff_load_0")
    sql, redis_counter, commits = Counter(), RedisCounter(), CommitCounter(connection)
    redis_counter.install()
    figures = {}

    def timed(name, handler, data=None, method="POST"):
        queries, sql_seconds, commands, redis_seconds = sql.queries, sql.seconds, redis_counter.commands, \
            redis_counter.seconds
        commit_seconds = commits.seconds
        del sql.statements[:]
        started, cpu_started = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(sql):
            status, body = grader.call(handler, data, method)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        entry = figures.setdefault(name, {"calls": 0, "seconds": 0.0, "cpu_seconds": 0.0, "queries": 0,
                                          "sql_seconds": 0.0,
                                          "commit_seconds": 0.0,
                                          "redis_commands": 0, "redis_seconds": 0.0, "statuses": {}})
        entry["calls"] += 1
        entry["seconds"] += seconds
        entry["max_seconds"] = max(entry.get("max_seconds", 0.0), seconds)
        entry["max_commit_seconds"] = max(entry.get("max_commit_seconds", 0.0), commits.seconds - commit_seconds)
        entry["cpu_seconds"] += cpu_seconds
        entry["queries"] += sql.queries - queries
        entry["sql_seconds"] += sql.seconds - sql_seconds
        entry["commit_seconds"] += commits.seconds - commit_seconds
        entry["redis_commands"] += redis_counter.commands - commands
        entry["redis_seconds"] += redis_counter.seconds - redis_seconds
        entry["statuses"][str(status)] = entry["statuses"].get(str(status), 0) + 1
        entry["last_statements"] = list(sql.statements)
        return status, body

    status, opened = timed("open_copy", "open_copy", {"copy_id": copy_id}, "GET")
    assert status == 200, opened
    status, lease = timed("acquire_lease", "acquire_lease", {"copy_id": copy_id})
    assert status == 200, lease
    version, pages, questions = opened["draft"]["version"], opened["pages"], opened["questions"]
    work = {"annotations": [], "points": {}, "version": version}

    def rounds(count):
        for _ in range(count):
            one_round(timed, lease, copy_id, pages, questions, work)

    rounds(args.rounds)  # timed without the profiler, whose overhead would inflate every figure
    profile = cProfile.Profile()
    timings = {name: {**entry, "statuses": dict(entry["statuses"])} for name, entry in figures.items()}
    profile.runcall(rounds, args.rounds)
    if args.dump:
        profile.dump_stats(args.dump)
    stream = io.StringIO()
    pstats.Stats(profile, stream=stream).sort_stats(args.sort).print_stats(args.top)
    print(stream.getvalue(), file=sys.stderr)
    result = {}
    for name, entry in timings.items():
        calls = entry["calls"]
        result[name] = {"calls": calls, "ms": round(entry["seconds"] * 1000 / calls, 2),
                        "cpu_ms": round(entry["cpu_seconds"] * 1000 / calls, 2),
                        "max_ms": round(entry["max_seconds"] * 1000, 2),
                        "max_commit_ms": round(entry["max_commit_seconds"] * 1000, 2),
                        "queries": round(entry["queries"] / calls, 1),
                        "sql_ms": round(entry["sql_seconds"] * 1000 / calls, 2),
                        "commit_ms": round(entry["commit_seconds"] * 1000 / calls, 2),
                        "redis_commands": round(entry["redis_commands"] / calls, 1),
                        "redis_ms": round(entry["redis_seconds"] * 1000 / calls, 2),
                        "statuses": entry["statuses"]}
        if args.statements:
            result[name]["statements"] = entry["last_statements"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--dump", help="also write the profile to this file (pstats format)")
    parser.add_argument("--statements", action="store_true", help="list the SQL of the last call of each handler")
    args = parser.parse_args()
    from stack import mariadb_database, reserved_redis_db

    with mariadb_database("profile") as database_url, reserved_redis_db() as redis_url, \
            tempfile.TemporaryDirectory(prefix="viatique-profile-") as var_dir:
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "VIATIQUE_VAR_DIR": var_dir,
               "CACHE_KEY_PREFIX": f"viatique-profile-{uuid.uuid4().hex[:8]}"}
        os.environ["VIATIQUE_PROFILE_USAGE"] = setup(env)
        handlers = measure(args)
        from django.db import connections

        connections.close_all()
    baseline = handlers.get("comment_bank", {}).get("ms")
    print("per call (mean of the rounds, one client, no concurrency):")
    for name, entry in handlers.items():
        print(f"  {name:14s} {entry['ms']:6.2f} ms (CPU {entry['cpu_ms']:6.2f} ms, max {entry['max_ms']:6.1f} ms)  "
              f"{entry['queries']:5.1f} queries ({entry['sql_ms']:6.2f} ms, "
              f"commit {entry['commit_ms']:5.2f} ms, max {entry['max_commit_ms']:5.1f})  "
              f"{entry['redis_commands']:4.1f} Redis commands ({entry['redis_ms']:5.2f} ms)  {entry['statuses']}")
        for statement in entry.get("statements", []):
            print(f"      {statement}")
    result = {"rounds": args.rounds, "handlers": handlers, "baseline_comment_bank_ms": baseline,
              "ratio_save_draft_to_baseline": round(handlers["save_draft"]["ms"] / baseline, 2) if baseline else None,
              "load_average": os.getloadavg()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
