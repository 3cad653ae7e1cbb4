"""``scripts/serve.sh``, the production-like stack of ``make serve``, on its own MariaDB database,
its own Redis database and a free port: the pages by role, three gunicorn workers answering,
a Celery worker sharing database, cache and storage, a secret key of the var dir's own, a killed
Celery worker replaced and its batch finished, and a clean stop on SIGTERM.

The tests share one stack (it takes a while to migrate); the last one stops it.
"""
import ast
import concurrent.futures
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import MySQLdb
import pytest

from .conftest import (REPO_DIR, children, free_port, group_members, manage, process_running, redis_url,
                       reserved_redis_db, scratch_dir, subprocess_env, temporary_database)

pytestmark = pytest.mark.integration

SCENARIO = "/scenario/viatique.0/"
READY_LINE = "Viatique is serving on"
START_TIMEOUT = 300
QUEUE = f"viatique-serve-test-{uuid.uuid4().hex[:8]}"
#: The broker gives a dead worker's tasks back once they have been unacknowledged VISIBILITY_TIMEOUT
#: seconds, which kombu looks for when a worker starts and then only every 100 s or so; serve.sh starts
#: the new worker RESTART_DELAY seconds after the old one died, so after that timeout: the new worker's
#: start-up check hands it the interrupted tasks at once. (The demo host's default timeout, the tasks'
#: time limit + 90 s, would keep this test waiting for a quarter of an hour.)
VISIBILITY_TIMEOUT = 3
RESTART_DELAY = VISIBILITY_TIMEOUT + 1
PAGES_PER_TASK = 4
WORKER_READY = re.compile(r"\S+@\S+ ready\.")  # Celery logs "<node name> ready."


class Stack:
    def __init__(self, process, log_path, port, env, database_url):
        self.process = process
        self.log_path = log_path
        self.port = port
        self.env = env
        self.database_url = database_url
        self.base_url = f"http://127.0.0.1:{port}"
        self.gunicorn_pid = self.celery_pid = None

    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while READY_LINE not in self.output():
            assert self.process.poll() is None, f"serve.sh exited ({self.process.returncode}):\n{self.output()}"
            assert time.monotonic() < deadline, f"serve.sh not ready:\n{self.output()}"
            time.sleep(0.2)
        match = re.search(r"gunicorn master pid (\d+), Celery worker pid (\d+)", self.output())
        self.gunicorn_pid, self.celery_pid = int(match[1]), int(match[2])
        # Every web worker loads the workbench's scenarios at start (taking turns, see demo_host/wsgi.py)
        # and then logs its warm-up. A test's own `manage.py shell` loading them while a worker still
        # does would race it (the workbench writes its state rows with get_or_create: two rows, then
        # MultipleObjectsReturned), so the stack is ready once the three workers have logged.
        while self.output().count("viatique warm-up pid=") < 3:
            assert time.monotonic() < deadline, f"the web workers did not all start:\n{self.output()}"
            time.sleep(0.2)

    def get(self, path):
        with urllib.request.urlopen(self.base_url + path, timeout=60) as response:
            return response.status, response.read().decode()

    def stop(self):
        """SIGTERM to serve.sh; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=120)
        finally:
            self.kill_leftovers()

    def kill_leftovers(self):
        """Whatever the outcome of a test, kill what might remain of the stack."""
        for pgid in (self.process.pid, self.gunicorn_pid, self.celery_pid):
            if pgid:
                for pid in group_members(pgid):
                    os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def stack():
    with reserved_redis_db() as redis_db, temporary_database("mariadb", "serve") as database_url, \
            scratch_dir("serve") as var_dir:
        port = free_port()
        env = subprocess_env(
            PY=os.path.relpath(sys.executable, REPO_DIR),  # relative, as the Makefile passes it
            HOST="127.0.0.1", PORT=port,
            DATABASE_URL=database_url, REDIS_URL=redis_url(redis_db), VIATIQUE_VAR_DIR=var_dir,
            CELERY_BROKER_URL=None, CELERY_RESULT_BACKEND=None, VIATIQUE_CELERY_QUEUE=None,
            CELERY_DEFAULT_QUEUE=QUEUE, DEBUG="1",  # serve.sh must force DEBUG=0
            DJANGO_SETTINGS_MODULE=None,
            SECRET_KEY=None,  # serve.sh creates the var dir's own
            CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps({"visibility_timeout": VISIBILITY_TIMEOUT}),
            CELERY_RESTART_DELAY=RESTART_DELAY,
            VIATIQUE_SETTINGS=json.dumps({"PAGES_PER_TASK": PAGES_PER_TASK}),
        )
        log_path = var_dir / "serve.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([str(REPO_DIR / "scripts" / "serve.sh")], cwd=REPO_DIR, env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        running = Stack(process, log_path, port, env, database_url)
        try:
            running.wait_ready()
            yield running
        finally:
            running.stop()


def test_pages_answer_by_role_with_debug_off(stack):
    status, instructor = stack.get(f"{SCENARIO}?student=instructor_1")
    assert status == 200
    assert "Instructor dashboard" in instructor and 'data-role="instructor"' in instructor
    status, grader = stack.get(f"{SCENARIO}?student=staff_1")
    assert status == 200
    assert "Grader dashboard" in grader and "Instructor dashboard" not in grader
    status, learner = stack.get(f"{SCENARIO}?student=learner_1")
    assert status == 200
    assert "viatique-learner" in learner and "viatique-staff" not in learner
    # DEBUG is off (serve.sh forces it): an unknown page is a plain 404, not Django's debug page.
    with pytest.raises(urllib.error.HTTPError) as missing:
        stack.get("/no-such-page/")
    assert missing.value.code == 404
    assert "DEBUG = True" not in missing.value.read().decode()
    # The collected static files are served (whitenoise) with DEBUG off.
    static = sorted(set(re.findall(r'(?:href|src)="(/static/[^"?]+)', instructor)))
    assert static, "the page links no static file"
    for path in static:
        assert stack.get(path)[0] == 200


def test_requests_are_answered_by_three_gunicorn_workers(stack):
    workers = children(stack.gunicorn_pid)
    assert len(workers) == 3
    probe = uuid.uuid4().hex[:8]
    answered = set()

    def fetch(index):
        return stack.get(f"{SCENARIO}?student=staff_1&probe={probe}-{index}")[0]

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        for batch in range(20):
            assert set(pool.map(fetch, range(batch * 12, batch * 12 + 12))) == {200}
            # The access log (serve.sh's format) names the pid of the worker that answered.
            answered = {int(pid) for pid in re.findall(
                rf'"GET {re.escape(SCENARIO)}\?student=staff_1&probe={probe}-\d+ HTTP/1\.1" 200 .*pid=<(\d+)>',
                stack.output())}
            if len(answered) == 3:
                break
    assert answered == set(workers)


def test_each_gunicorn_worker_is_warmed_up_before_its_first_request(stack):
    # demo_host/wsgi.py runs viatique_xblock.platform.warmup in every worker and logs what it did.
    warmed = {int(pid): (ast.literal_eval(done), int(frozen)) for pid, done, frozen in
              re.findall(r"viatique warm-up pid=(\d+) (\{.*\}) frozen_objects=(\d+)", stack.output())}
    workers = children(stack.gunicorn_pid)
    assert workers and set(workers) <= set(warmed)
    for pid in workers:
        done, frozen = warmed[pid]
        assert done["errors"] == {}
        assert {"modules", "cache", "celery", "database"} <= set(done)
        assert frozen > 10000  # the Django application and its modules, kept out of full collections


def test_a_celery_worker_runs_and_shares_database_cache_and_storage(stack):
    assert process_running(stack.celery_pid)
    # The operator's check, run with the stack's environment, reaches that worker.
    env = dict(stack.env, DEBUG="0", CELERY_BROKER_URL=stack.env["REDIS_URL"],
               DJANGO_SETTINGS_MODULE="demo_host.settings")
    result = manage("viatique_doctor", "--json", "--timeout", "60", env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["celery"]["queue"] == QUEUE and report["celery"]["eager"] is False
    assert report["celery"]["worker"]["database"] == {
        "vendor": "mysql", "name": stack.database_url.rsplit("/", 1)[1]}
    assert len(children(stack.celery_pid)) == 2  # --concurrency 2


def test_the_stack_signs_with_a_secret_key_of_its_var_dir(stack):
    key_file = Path(stack.env["VIATIQUE_VAR_DIR"]) / "secret_key"
    assert f"created a random secret key in {key_file}" in stack.output()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 50 and key != "viatique-demo-host-not-secret"
    # the servers read it from the file: it is in no process's environment
    for pid in group_members(stack.gunicorn_pid) + group_members(stack.celery_pid):
        assert not [entry for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                    if entry.startswith(b"SECRET_KEY=")], pid
    # and a manage.py run on that var dir, DEBUG off, uses the same key
    result = manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)",
                    env=dict(stack.env, DEBUG="0", DJANGO_SETTINGS_MODULE="demo_host.settings"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == key


#: run by ``manage.py shell`` on the stack: a class scan of COPIES four-page booklets, queued to the
#: stack's Celery worker as an upload's would be
BATCH_SCRIPT = """
import io
from viatique_xblock.models import Exam
from viatique_xblock.pdf import synthetic
from viatique_xblock.scanning import batches, booklets
exam = Exam.objects.get()
pdf, _numbers = booklets.print_booklets(exam, copies=COPIES, blank_pages=4)
data = synthetic.scan(pdf)
info = batches.validate_bytes(data)
batches.create_batch(exam, "restart.pdf", info.sha256, info, io.BytesIO(data), uploaded_by="test")
"""


class StackDatabase:
    """Reads of the stack's MariaDB database (autocommit: each read sees what the workers committed)."""

    def __init__(self, database_url):
        self.connection = MySQLdb.connect(host="127.0.0.1", port=3306, user="root",
                                          database=database_url.rsplit("/", 1)[1])
        self.connection.autocommit(True)

    def rows(self, sql, *params):
        cursor = self.connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()

    def batch(self, name):
        """(id, state, pages_done, page_count) of the batch of file ``name``, or None."""
        found = self.rows("SELECT id, state, pages_done, page_count FROM viatique_xblock_scanbatch "
                          "WHERE original_name = %s", name)
        return found[0] if found else None

    def pages(self, batch_id):
        """The page rows the batch's ranges wrote so far (its progress: ranges keep no counter in its row)."""
        return self.rows("SELECT COUNT(*) FROM viatique_xblock_page WHERE batch_id = %s", batch_id)[0][0]

    def close(self):
        self.connection.close()


def wait_until(condition, timeout, what, stack):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}, not within {timeout} s:\n{stack.output()[-6000:]}"
        time.sleep(0.05)


def test_a_killed_celery_worker_is_replaced_and_its_batch_completes(stack, capsys):
    copies = 50
    database = StackDatabase(stack.database_url)
    env = dict(stack.env, DEBUG="0", CELERY_BROKER_URL=stack.env["REDIS_URL"],
               DJANGO_SETTINGS_MODULE="demo_host.settings")
    old_worker = stack.celery_pid
    ready_before = len(WORKER_READY.findall(stack.output()))
    shell = subprocess.Popen([sys.executable, str(REPO_DIR / "demo" / "manage.py"), "shell", "-c",
                              f"COPIES = {copies}\n" + BATCH_SCRIPT], cwd=REPO_DIR, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # in the middle of the batch: some pages done (and the shell that queued it may still be exiting)
        def started():
            batch = database.batch("restart.pdf")
            return batch[0] if batch and database.pages(batch[0]) > 0 else None

        batch_id = wait_until(started, 240, "the batch did not start", stack)
        os.killpg(old_worker, signal.SIGKILL)  # the worker and its pool at once, as an OOM kill would
        killed_at = time.monotonic()
        output, _ = shell.communicate(timeout=120)
        assert shell.returncode == 0, output
        _id, state, _row_pages_done, pages = database.batch("restart.pdf")
        pages_done = database.pages(batch_id)
        assert state == "processing" and 0 < pages_done < pages == copies * 4, "killed in the middle"

        # serve.sh starts a new worker, which takes the interrupted tasks at its start
        new_worker = int(wait_until(lambda: re.search(r"Celery worker pid (\d+) started again", stack.output()),
                                    60, "no new Celery worker", stack)[1])
        replaced_at = time.monotonic()
        stack.celery_pid = new_worker
        assert new_worker != old_worker and process_running(new_worker)
        assert stack.process.poll() is None, "serve.sh stopped"
        wait_until(lambda: len(WORKER_READY.findall(stack.output())) > ready_before, 120,
                   "the new Celery worker is not ready", stack)
        ready_at = time.monotonic()
        # done at the new worker's start-up check, or at worst at its first periodic one (~100 s later)
        wait_until(lambda: database.batch("restart.pdf")[1] == "done", 240, "the batch did not complete", stack)
        done_at = time.monotonic()

        # every page once, in a copy of four pages numbered 1 to 4
        assert database.rows("SELECT COUNT(*) FROM viatique_xblock_page WHERE batch_id = %s", batch_id)[0][0] == pages
        positions = database.rows("SELECT copy_id, GROUP_CONCAT(position ORDER BY position) FROM viatique_xblock_page "
                                  "WHERE batch_id = %s GROUP BY copy_id", batch_id)
        assert len(positions) == copies and all(copy_id and joined == "1,2,3,4" for copy_id, joined in positions)
        assert not group_members(old_worker), "what was left of the old worker was killed"
        assert "exited with status 137" in stack.output()
        wait_until(lambda: len(children(new_worker)) == 2, 60, "the new worker's pool", stack)  # --concurrency 2
        with capsys.disabled():
            print(f"\n[serve stack] Celery worker killed in the middle of a {pages}-page batch "
                  f"({pages_done} pages done): new worker started {replaced_at - killed_at:.1f} s after the kill "
                  f"(restart delay {RESTART_DELAY} s), ready after {ready_at - killed_at:.1f} s, batch done "
                  f"{done_at - killed_at:.1f} s after the kill (visibility timeout {VISIBILITY_TIMEOUT} s)")
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait(timeout=30)
        database.close()


def test_sigterm_stops_gunicorn_and_celery_with_all_their_children(stack):
    groups = (stack.gunicorn_pid, stack.celery_pid)
    pids = [pid for pgid in groups for pid in group_members(pgid)]
    assert len(pids) == 1 + 3 + 1 + 2  # gunicorn master + 3 workers, celery + 2 pool processes
    assert set(children(stack.process.pid)) == set(groups)

    assert stack.stop() == 0
    assert not [pid for pid in pids if process_running(pid)]
    assert not [pgid for pgid in groups if group_members(pgid)]
    port_users = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"127.0.0.1:{stack.port}" not in port_users and QUEUE not in port_users
    assert "serve.sh: stopped." in stack.output()

