"""Browser tests: the demo host in a subprocess, driven by Debian's Chromium through Playwright.

- ``demo_template`` (session): a temporary folder where ``migrate`` and
  ``viatique_demo_seed`` ran once (SQLite database, ``VIATIQUE_VAR_DIR``): the demo
  exam with its class scan imported by the pipeline (see ``viatique_xblock.demo_data``).
- ``demo_facts`` (session): what that seeded database holds (copies with their random
  anonymous codes, anomalies, batches), read by the demo host's own models, so the tests
  compute what a page must show instead of hard-coding it.
- ``demo_host`` (session): a server on a copy of that template, shared by the
  tests that only read (the dashboards).
- ``fresh_demo_host`` (per test): a server on its own copy of the template, for
  tests that change the block (Studio saves), so test order never matters.
- ``page``: a Chromium page (1280x900). A test fails on any console error or
  uncaught page error, unless it declared the HTTP error it provokes with
  ``browser_errors.allow_http(status, url_part)``. A failing test leaves a
  screenshot in ``test-artifacts/``.

Everything is created under one temporary folder, removed at the end of the session.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
MANAGE = REPO_DIR / "demo" / "manage.py"
ARTIFACTS_DIR = REPO_DIR / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
SCENARIO = "/scenario/viatique.0/"
#: the workbench's second exam, empty: where an archive of the demo exam is imported
EMPTY_SCENARIO = "/scenario/viatique.1/"

#: variables of the pytest process (tests.settings sets some) that must not reach the demo host
FOREIGN_ENV = ("REDIS_URL", "CACHE_KEY_PREFIX", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoHost:
    """The workbench demo host on a SQLite database in ``var_dir``: migrate, seed, serve, stop."""

    def __init__(self, var_dir):
        self.var_dir = Path(var_dir)
        self.process = None
        self.log = None
        self.base_url = None

    @property
    def env(self):
        env = {name: value for name, value in os.environ.items() if name not in FOREIGN_ENV}
        env.update({
            "DJANGO_SETTINGS_MODULE": "demo_host.settings",
            "VIATIQUE_VAR_DIR": str(self.var_dir),
            "DATABASE_URL": f"sqlite:///{self.var_dir / 'db.sqlite3'}",
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def manage(self, *args):
        result = subprocess.run([sys.executable, str(MANAGE), *args], cwd=REPO_DIR, env=self.env,
                                capture_output=True, text=True, timeout=300)
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def prepare(self):
        """Create the database and the demo exam with its imported class scan."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("viatique_demo_seed")

    def facts(self):
        """What the demo exam of this var dir holds (see :data:`FACTS_SCRIPT`), as a dict."""
        return json.loads(self.manage("shell", "-v", "0", "-c", FACTS_SCRIPT).strip().splitlines()[-1])

    def start(self, timeout=60):
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = open(self.var_dir / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO_DIR, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The demo host exited with {self.process.returncode}:\n{self.server_log()}")
            try:
                with urllib.request.urlopen(self.base_url + SCENARIO + "?student=instructor_1", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"The demo host did not answer within {timeout} s:\n{self.server_log()}")

    def server_log(self):
        path = self.var_dir / "server.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def url(self, path="", student=None, screen=None, scenario=SCENARIO):
        """The block's page of ``scenario`` (as ``student``), on the dashboard's ``screen`` (its URL hash:
        ``"grading"``, ``"grading?state=graded"``) when given."""
        url = self.base_url + scenario + path
        url = f"{url}?student={student}" if student else url
        return f"{url}#{screen}" if screen else url


#: run by ``manage.py shell`` on a seeded var dir: the demo exam's rows as JSON (one line)
FACTS_SCRIPT = """
import json
from viatique_xblock import scheme
from viatique_xblock.scanning import anomalies, batches as scans
from viatique_xblock.models import Booklet, Copy, Exam, ScanBatch

exam = Exam.objects.get()
batches = {batch.pk: batch for batch in ScanBatch.objects.filter(exam=exam).order_by("pk")}
queue = anomalies.queue(exam)
print(json.dumps({
    "exam_ref": scans.exam_ref(exam),
    "copies": [
        {"code": copy.anonymous_code, "booklet": copy.booklet_number, "identity": copy.identity_state,
         "username": copy.learner_username, "name": copy.learner_name, "state": copy.grading_state,
         "grader": copy.grader,
         "total": None if copy.total_points is None else scheme.plain_number(copy.total_points)}
        for copy in Copy.objects.filter(exam=exam).order_by("anonymous_code")
    ],
    "batches": [{"name": batch.original_name, "pages": batch.page_count} for batch in batches.values()],
    "anomaly_pages": [{"name": f"Page {page['source_index'] + 1} of {batches[page['batch']].original_name}",
                       "anomaly": page["anomaly"]} for page in queue["pages"]],
    "incomplete": [{"code": copy["code"], "missing": copy["missing"]} for copy in queue["incomplete_copies"]],
    "booklet_numbers": sorted(set(Booklet.objects.filter(exam=exam).values_list("number", flat=True))
                              | set(Copy.objects.filter(exam=exam, booklet_number__isnull=False)
                                    .values_list("booklet_number", flat=True))),
}))
"""


class DemoFacts(dict):
    """The seeded demo exam (:data:`FACTS_SCRIPT`), with the look-ups the tests share."""

    @property
    def copies(self):
        return self["copies"]

    @property
    def codes(self):
        return [copy["code"] for copy in self.copies]

    def copy_of(self, username):
        """The copy of a learner (None if they have none)."""
        return next((copy for copy in self.copies if copy["username"] == username), None)

    def counters(self):
        """The dashboard's counters, as the instructor sees them."""
        copies = self.copies
        return {
            "total": str(len(copies)),
            "identified": str(sum(copy["identity"] == "identified" for copy in copies)),
            "assigned": str(sum(bool(copy["grader"]) for copy in copies)),
            "in_progress": str(sum(copy["state"] in ("in_progress", "reopened") for copy in copies)),
            "graded": str(sum(copy["state"] == "graded" for copy in copies)),
            "released": "not released",
        }


def launch_chromium(playwright):
    """Debian's Chromium, headless, with no background traffic (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


#: what a keyboard or screen-reader user can operate
CONTROLS = "button, a[href], input:not([type=hidden]), select, textarea, [role=button], [tabindex]:not([tabindex='-1'])"


def unnamed_controls(page, scope):
    """The interactive elements under ``scope`` that have no accessible name (as Chromium computes it)."""
    from playwright.sync_api import expect

    controls = page.locator(scope).locator(CONTROLS)
    assert controls.count(), f"no control found under {scope}"
    unnamed = []
    for index in range(controls.count()):
        control = controls.nth(index)
        try:
            expect(control).to_have_accessible_name(re.compile(r"\S"), timeout=1000)
        except AssertionError:
            unnamed.append(control.evaluate("el => el.outerHTML")[:160])
    return unnamed


# ------------------------------------------------------------------- demo host

@pytest.fixture(scope="session")
def browser_tmp_dir():
    path = Path(tempfile.mkdtemp(prefix="viatique-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_template(browser_tmp_dir):
    """A migrated and seeded demo var dir, copied by every server below."""
    template = browser_tmp_dir / "template"
    DemoHost(template).prepare()
    return template


@pytest.fixture(scope="session")
def demo_facts(demo_template):
    """What the seeded demo exam holds (a :class:`DemoFacts`); every host starts from it."""
    return DemoFacts(DemoHost(demo_template).facts())


def _host_on_copy(template, var_dir):
    shutil.copytree(template, var_dir)
    return DemoHost(var_dir).start()


@pytest.fixture(scope="session")
def demo_host(demo_template, browser_tmp_dir):
    """A demo host for tests that change nothing (the server's own state is never written to)."""
    host = _host_on_copy(demo_template, browser_tmp_dir / "shared")
    yield host
    host.stop()


@pytest.fixture
def fresh_demo_host(demo_template, browser_tmp_dir):
    """A demo host of its own, on a fresh copy of the seeded database, for tests that save settings."""
    var_dir = Path(tempfile.mkdtemp(prefix="host-", dir=browser_tmp_dir)) / "var"
    host = _host_on_copy(demo_template, var_dir)
    yield host
    host.stop()
    shutil.rmtree(var_dir.parent, ignore_errors=True)


# --------------------------------------------------------------------- browser

@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


class BrowserErrors:
    """Console errors and uncaught exceptions of a page; a test fails when any is left unexplained."""

    #: the workbench has no favicon; Chromium asks for one on the first page it opens
    IGNORED_URL = re.compile(r"/favicon\.ico$")

    def __init__(self):
        self.errors = []
        self.allowed = []

    def allow_http(self, status, url_part):
        """The test provokes this HTTP error on purpose (Chromium logs it as a console error)."""
        self.allowed.append((status, url_part))

    def on_console(self, message):
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if self.IGNORED_URL.search(url):
            return
        for status, url_part in self.allowed:
            if f"status of {status}" in message.text and url_part in url:
                return
        self.errors.append(f"console error: {message.text} ({url})")

    def on_page_error(self, error):
        self.errors.append(f"page error: {error}")


ERRORS_KEY = pytest.StashKey[BrowserErrors]()
PAGE_KEY = pytest.StashKey[object]()


@pytest.fixture
def browser_errors(request):
    errors = BrowserErrors()
    request.node.stash[ERRORS_KEY] = errors
    return errors


def new_page(chromium, browser_errors, viewport=VIEWPORT, timeout_ms=10_000, init_script=None):
    """``(context, page)``: a fresh Chromium context in English, its JS errors recorded in ``browser_errors``;
    ``init_script`` runs in every document before the page's own scripts."""
    context = chromium.new_context(viewport=viewport, locale="en-US")
    context.set_default_timeout(timeout_ms)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.on("console", browser_errors.on_console)
    page.on("pageerror", browser_errors.on_page_error)
    return context, page


@pytest.fixture
def page(chromium, browser_errors, request):
    context, page = new_page(chromium, browser_errors)
    request.node.stash[PAGE_KEY] = page
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not its teardown) on any JS error seen while it ran."""
    result = yield
    errors = item.stash.get(ERRORS_KEY, None)
    page = item.stash.get(PAGE_KEY, None)
    if page is not None and not page.is_closed():
        page.wait_for_timeout(100)  # let the last console messages arrive
    if errors is not None and errors.errors:
        raise AssertionError("JavaScript errors in the page:\n" + "\n".join(errors.errors))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Save a screenshot of the page of every failing test into test-artifacts/."""
    report = yield
    page = item.stash.get(PAGE_KEY, None)
    if report.failed and report.when in ("call", "setup") and page is not None and not page.is_closed():
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-180:]
        path = ARTIFACTS_DIR / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", str(path)))
        except Exception as exc:  # the page may have crashed: the report matters more
            report.sections.append(("screenshot", f"not taken: {exc}"))
    if report.failed and report.when == "call":
        # the demo host's log (tracebacks of server errors) next to the screenshot
        for fixture in ("fresh_demo_host", "demo_host"):
            host = getattr(item, "funcargs", {}).get(fixture)
            if host is not None:
                ARTIFACTS_DIR.mkdir(exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-180:]
                log_path = ARTIFACTS_DIR / f"{name}.{fixture}.log"
                log_path.write_text(host.server_log())
                report.sections.append(("demo host log", str(log_path)))
    return report
