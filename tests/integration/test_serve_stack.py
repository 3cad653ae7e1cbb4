"""``scripts/serve.sh``, the production-like stack of ``make serve``, on its own MariaDB database,
its own Redis database and a free port: the pages by role, three gunicorn workers answering,
a Celery worker sharing database, cache and storage, and a clean stop on SIGTERM.

The tests share one stack (it takes a while to migrate); the last one stops it.
"""
import ast
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from .conftest import (REPO_DIR, children, free_port, group_members, manage, process_running, redis_url,
                       reserved_redis_db, scratch_dir, subprocess_env, temporary_database)

pytestmark = pytest.mark.integration

SCENARIO = "/scenario/viatique.0/"
READY_LINE = "Viatique is serving on"
START_TIMEOUT = 300
QUEUE = f"viatique-serve-test-{uuid.uuid4().hex[:8]}"


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

