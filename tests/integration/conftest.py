"""Integration tests: real subprocesses (manage.py, a Celery worker, scripts/serve.sh) on the
machine's services, each with resources of its own, all removed at the end.

- :func:`reserved_redis_db`: a Redis database that was empty and is reserved for this run
  (a lock key), flushed at the end, so the tests never touch data of anyone else.
- :func:`temporary_database`: a MariaDB, PostgreSQL or SQLite database created for a test
  and dropped at the end.
- :func:`stop_process_group`: TERM, then KILL, a process started in a session of its own.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import kombu.pools
import pytest
import redis
from django.db import connection
from django.test import override_settings

REPO_DIR = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_DIR / "demo"
MANAGE = DEMO_DIR / "manage.py"
PYTHON = sys.executable
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root"}
POSTGRES = "host=127.0.0.1 port=5432 user=postgres dbname=test"
#: Redis databases the integration tests may reserve (0 is `make serve`'s, 14 the test cache's).
REDIS_CANDIDATE_DBS = (13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2)
RESERVATION_KEY = "viatique-test:reserved"
RUN_TAG = uuid.uuid4().hex[:8]


def subprocess_env(**overrides):
    """This process's environment for a Django subprocess: demo_host.settings, not tests.settings.

    ``tests.settings`` exported DATABASE_URL, REDIS_URL, CACHE_KEY_PREFIX, VIATIQUE_VAR_DIR and
    DEBUG; a value of ``None`` in ``overrides`` removes a variable.
    """
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "demo_host.settings"
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def manage(*args, env, timeout=300):
    """``manage.py <args>`` in a subprocess; returns the CompletedProcess (never raises on status)."""
    return subprocess.run([PYTHON, str(MANAGE), *args], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def scratch_dir(prefix, parent=None):
    path = Path(tempfile.mkdtemp(prefix=f"viatique-{prefix}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def reserved_redis_db():
    """Yield the number of an empty Redis database reserved for the caller; flush it at the end."""
    for db in REDIS_CANDIDATE_DBS:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        # Empty, and nobody else took it between the two calls (SET NX); expires if a run crashes.
        if client.dbsize() == 0 and client.set(RESERVATION_KEY, RUN_TAG, nx=True, ex=3600):
            break
        client.close()
    else:
        raise RuntimeError(f"No empty Redis database among {REDIS_CANDIDATE_DBS} to run the test on.")
    try:
        yield db
    finally:
        client.flushdb()
        client.close()


def redis_url(db):
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


@contextlib.contextmanager
def temporary_database(vendor, purpose):
    """Create an empty database of ``vendor`` (mariadb, postgresql, sqlite); yield its DATABASE_URL."""
    name = f"viatique_{purpose}_{RUN_TAG}_{uuid.uuid4().hex[:6]}"
    if vendor == "sqlite":
        with scratch_dir(purpose) as folder:
            yield f"sqlite:///{folder / (name + '.sqlite3')}"
        return
    if vendor == "mariadb":
        import MySQLdb

        def run(sql):
            connection = MySQLdb.connect(**MARIADB)
            try:
                connection.cursor().execute(sql)
            finally:
                connection.close()

        run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        try:
            yield f"mysql://{MARIADB['user']}@{MARIADB['host']}:{MARIADB['port']}/{name}"
        finally:
            run(f"DROP DATABASE IF EXISTS `{name}`")
        return
    if vendor == "postgresql":
        import psycopg

        def run(sql):
            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute(sql)

        run(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgres://postgres@127.0.0.1:5432/{name}"
        finally:
            run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    raise ValueError(vendor)


def mariadb_databases():
    import MySQLdb

    connection = MySQLdb.connect(**MARIADB)
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW DATABASES")
        return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def process_running(pid):
    """Whether ``pid`` is a live process (a zombie waiting for its parent does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def group_members(pgid):
    """Pids of the live processes in process group ``pgid``."""
    output = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True).stdout
    members = []
    for line in output.splitlines():
        pid, group = (int(field) for field in line.split())
        if group == pgid and process_running(pid):
            members.append(pid)
    return members


def children(pid):
    output = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(line) for line in output.split() if process_running(int(line)))


def stop_process_group(process, timeout=30):
    """Stop ``process`` (started with ``start_new_session=True``) and everything in its group."""
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def eventually(condition, timeout=15):
    """Whether ``condition()`` becomes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for(condition, timeout, worker):
    """Poll ``condition`` until it holds; past ``timeout`` seconds fail with the end of ``worker``'s log."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, worker.output()[-4000:]
        time.sleep(0.05)


@pytest.fixture
def scratch():
    """A temporary folder removed at the end of the test (not kept like pytest's tmp_path)."""
    with scratch_dir("scratch") as path:
        yield path


DB_SCHEMES = {"mysql": "mysql", "postgresql": "postgres"}


def database_url():
    """The URL of the test database pytest-django created (``connection`` now points to it)."""
    db = connection.settings_dict
    assert connection.vendor in DB_SCHEMES, "the worker needs a server database, not " + connection.vendor
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"{DB_SCHEMES[connection.vendor]}://{credentials}@{db['HOST']}:{db['PORT'] or ''}/{db['NAME']}"


def reset_connections(app):
    """Forget broker connections and the result backend, so the next use reads the new config."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@contextlib.contextmanager
def celery_configured(app, **values):
    """This process's Celery app with ``values`` (lower-case setting names) for the duration.

    The demo host's Django settings define ``CELERY_BROKER_URL`` and the like (None: tasks run
    eagerly); since celery 5.6 a namespaced Django setting, even None, wins over ``app.conf.update``,
    so both are set: the Django settings (read live by celery) and the app's own changes.
    """
    saved = {key: app.conf[key] for key in values}
    with override_settings(**{f"CELERY_{key.upper()}": value for key, value in values.items()}):
        app.conf.update(values)
        reset_connections(app)
        try:
            yield app
        finally:
            app.conf.update(saved)
    reset_connections(app)


class Worker:
    """``celery -A demo_host worker`` on ``queue``, started and stopped (or killed) on demand.

    It runs on the test database pytest-django created, this run's Redis cache and
    files (inherited environment), and the given broker. ``env`` adds variables.
    """

    def __init__(self, broker, log_path, queue, node, concurrency=1, env=None, cwd=DEMO_DIR, prefix=()):
        self.broker = broker
        self.log_path = log_path
        self.queue = queue
        self.node = node
        self.concurrency = concurrency
        self.extra_env = env or {}
        #: the worker's working directory, and a command it runs under (e.g. ``unshare``)
        self.cwd = cwd
        self.prefix = list(prefix)
        self.process = None
        self.log = None

    def start(self):
        if self.process is not None:
            return
        env = subprocess_env(
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=self.broker, CELERY_RESULT_BACKEND=self.broker,
            CELERY_DEFAULT_QUEUE=self.queue, VIATIQUE_CELERY_QUEUE=self.queue, **self.extra_env,
        )
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [*self.prefix, PYTHON, "-m", "celery", "-A", "demo_host", "worker", "-Q", self.queue, "-n", self.node,
             "--concurrency", str(self.concurrency), "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=self.cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self):
        if self.process is None:
            return
        stop_process_group(self.process)
        self.log.close()
        self.process = None

    def kill(self):
        """SIGKILL the worker and its pool at once, as a crash or an OOM kill would."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()
        self.process = None

    def output(self):
        return Path(self.log_path).read_text(errors="replace")
