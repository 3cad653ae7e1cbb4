"""A throwaway `make serve` stack for benchmarks: scripts/serve.sh on its own MariaDB database,
its own cache key prefix and Celery queue, and a free port; everything removed on exit.

    with serve_stack() as base_url:
        ...   # http://127.0.0.1:<port>
"""
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY_LINE = "Viatique is serving on"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mariadb(sql):
    import MySQLdb

    connection = MySQLdb.connect(**MARIADB)
    try:
        connection.cursor().execute(sql)
    finally:
        connection.close()


@contextlib.contextmanager
def mariadb_database(purpose):
    name = f"viatique_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    _mariadb(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield f"mysql://{MARIADB['user']}@{MARIADB['host']}:{MARIADB['port']}/{name}"
    finally:
        _mariadb(f"DROP DATABASE IF EXISTS `{name}`")


#: the Redis databases a benchmark may take (the test suite takes from the same list, the same way)
REDIS_CANDIDATE_DBS = (13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2)
RESERVATION_KEY = "viatique-test:reserved"


@contextlib.contextmanager
def reserved_redis_db(host="127.0.0.1", port=6379):
    """An empty Redis database reserved for this run (SET NX), flushed at the end."""
    import redis

    for db in REDIS_CANDIDATE_DBS:
        client = redis.Redis(host=host, port=port, db=db)
        if client.dbsize() == 0 and client.set(RESERVATION_KEY, "benchmark", nx=True, ex=3600):
            break
        client.close()
    else:
        raise RuntimeError("No empty Redis database to run the benchmark on.")
    try:
        yield f"redis://{host}:{port}/{db}"
    finally:
        client.flushdb()
        client.close()


@contextlib.contextmanager
def serve_stack(purpose="load", settings_json=None, web_workers=3):
    """Start scripts/serve.sh (gunicorn x ``web_workers`` + a Celery worker) and yield
    ``(base_url, env)``; stop it and delete its database, files and Redis database afterwards."""
    tag = uuid.uuid4().hex[:8]
    prefix = f"viatique-bench-{tag}"
    queue = f"viatique-bench-{tag}"
    with mariadb_database(purpose) as database_url, reserved_redis_db() as redis_url, \
            tempfile.TemporaryDirectory(prefix="viatique-bench-") as var_dir:
        port = free_port()
        env = dict(os.environ)
        for name in ("DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "VIATIQUE_CELERY_QUEUE"):
            env.pop(name, None)
        env.update(PY=sys.executable, HOST="127.0.0.1", PORT=str(port), DATABASE_URL=database_url,
                   REDIS_URL=redis_url, VIATIQUE_VAR_DIR=var_dir, CELERY_DEFAULT_QUEUE=queue,
                   CACHE_KEY_PREFIX=prefix, WEB_WORKERS=str(web_workers))
        if settings_json:
            env["VIATIQUE_SETTINGS"] = settings_json
        log_path = os.path.join(var_dir, "serve.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen([os.path.join(REPO_DIR, "scripts", "serve.sh")], cwd=REPO_DIR, env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while True:
                with open(log_path, errors="replace") as handle:
                    output = handle.read()
                if READY_LINE in output:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve.sh did not start:\n{output[-4000:]}")
                time.sleep(0.3)
            env["VIATIQUE_BENCH_LOG"] = log_path
            yield f"http://127.0.0.1:{port}", env
        finally:
            _stop(process, log_path)


def _stop(process, log_path):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            pass
    with open(log_path, errors="replace") as handle:
        pids = re.search(r"gunicorn master pid (\d+), Celery worker pid (\d+)", handle.read())
    groups = [process.pid] + ([int(pids[1]), int(pids[2])] if pids else [])
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


# ------------------------------------------------------------------ what the stack did, from outside

#: one access log line of scripts/serve.sh's gunicorn (``%(M)s``: the worker's time on the request,
#: from reading it to the response; the wait in the listen queue for a free worker is not in it)
ACCESS_LINE = re.compile(r'^gunicorn \S+ "(?P<method>[A-Z]+) /handler/[^/ ]+/(?P<handler>\w+)/\S*?[?&]student='
                         r'(?P<student>[^& "]+)\S* HTTP/[\d.]+" (?P<status>\d{3}) \S+ (?P<ms>\d+)ms pid=<?(?P<pid>\d+)')


def log_size(path):
    """Where the log ends now (to read what a phase of a benchmark added to it)."""
    return os.path.getsize(path) if path else 0


def access_log(path, start=0, end=None):
    """The handler requests gunicorn logged between two offsets of ``path``: dicts of ``ACCESS_LINE``'s groups."""
    if not path:
        return []
    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.read(None if end is None else max(0, end - start)).decode(errors="replace")
    return [match.groupdict() for match in map(ACCESS_LINE.match, text.splitlines()) if match]


def stack_groups(log_path):
    """``{"web": gunicorn's process group, "celery": the Celery worker's}`` from serve.sh's log."""
    if not log_path:
        return {}
    with open(log_path, errors="replace") as handle:
        found = re.search(r"gunicorn master pid (\d+), Celery worker pid (\d+)", handle.read())
    return {"web": int(found[1]), "celery": int(found[2])} if found else {}


def cpu_snapshot(groups):
    """CPU seconds used so far by the stack's parts: ``web`` and ``celery`` (their process groups,
    children included), ``mariadb`` and ``redis`` (the machine's servers, shared with whatever else
    uses them), ``client`` (this process); and the machine's ``busy`` and ``capacity`` seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(("web", "celery", "mariadb", "redis"), 0.0)
    by_group = {pgid: name for name, pgid in groups.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        command = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        name = by_group.get(int(fields[2])) or {"mariadbd": "mariadb", "mysqld": "mariadb",
                                                 "redis-server": "redis"}.get(command)
        if name:
            used[name] += seconds
    times = os.times()
    used["client"] = times.user + times.system
    with open("/proc/stat") as handle:
        ticks = [int(value) for value in handle.readline().split()[1:]]
    used["busy"] = (sum(ticks[:8]) - ticks[3] - ticks[4]) / tick  # all but idle and iowait
    used["capacity"] = sum(ticks[:8]) / tick
    return used


def cpu_used(before, after):
    """CPU seconds each part used between two :func:`cpu_snapshot`."""
    return {name: round(after[name] - before[name], 2) for name in after}


def manage(env, *args, timeout=600):
    """``demo/manage.py`` with the stack's environment (its database, cache and storage)."""
    env = dict(env, DJANGO_SETTINGS_MODULE="demo_host.settings", DEBUG="0")
    return subprocess.run([sys.executable, os.path.join(REPO_DIR, "demo", "manage.py"), *args], env=env,
                          cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout, check=True)
