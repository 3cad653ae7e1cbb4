"""Grading leases and finalize on the production-like stack of ``make serve`` (three gunicorn workers,
Redis cache, MariaDB, a Celery worker): fifty graders asking for one copy's lease at once get exactly
one lease; a write carrying the fencing number of a lease that ended is refused once another grader
took the copy; twenty simultaneous finalize calls submit the copy once and render its PDF once.
"""
import concurrent.futures
import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from viatique_xblock import public_ids

from .conftest import manage
from .test_serve_stack import SCENARIO, stack  # noqa: F401  (the stack fixture: one stack for this module)

pytestmark = pytest.mark.integration

RENDER_TIMEOUT = 180

#: run in the stack's environment: the demo exam's usage id and its unassigned copies nobody started (public ids)
COPIES = """
import json
from workbench.scenarios import get_scenarios
from viatique_xblock.models import Copy, Exam
usage = str(get_scenarios()["viatique.0"].usage_id)
exam = Exam.objects.get(usage_key=usage)
ids = list(Copy.objects.filter(exam=exam, grader="", grading_state="ready", pages__isnull=False)
           .distinct().order_by("pk").values_list("public_id", flat=True))
print(json.dumps({"usage": usage, "copies": ids}))
"""
#: how many audit events of each action a copy has
EVENTS = """
import json
from django.db.models import Count
from viatique_xblock.models import AuditEvent, Copy
rows = (AuditEvent.objects.filter(copy_id_ref=Copy.objects.get(public_id="{copy_id}").pk)
        .values_list("action").annotate(n=Count("id")))
print(json.dumps(dict(rows)))
"""


class Client:
    """One browser: the CSRF cookie of the page, then JSON calls to the block's handlers."""

    def __init__(self, stack, usage):  # noqa: F811
        self.stack = stack
        self.usage = usage
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with self.opener.open(f"{stack.base_url}{SCENARIO}?student=instructor_1", timeout=60) as page:
            assert page.status == 200
        self.token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")

    def call(self, student, handler, data=None):
        """``(status, JSON body)`` of a handler: a POST of ``data``, or a GET of the query ``data`` when a str."""
        url = f"{self.stack.base_url}/handler/{self.usage}/{handler}/?student={student}"
        if isinstance(data, str):
            request = urllib.request.Request(f"{url}&{data}")
        else:
            request = urllib.request.Request(url, data=json.dumps(data or {}).encode(), headers={
                "Content-Type": "application/json", "X-CSRFToken": self.token,
                "Referer": self.stack.base_url + SCENARIO})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors="replace")
            try:
                return error.code, json.loads(body)
            except ValueError:
                return error.code, {"error": "not_json", "body": body[:500]}


def at_once(count, action):
    """``action(index)`` from ``count`` threads released together; their results in order."""
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        return action(index)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture(scope="module")
def demo(stack):  # noqa: F811
    result = manage("shell", "-c", COPIES, env=dict(stack.env, DJANGO_SETTINGS_MODULE="demo_host.settings"),
                    timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found["copies"]) >= 3, found
    return found


@pytest.fixture(scope="module")
def client(stack, demo):  # noqa: F811
    return Client(stack, demo["usage"])


def events(stack, copy_id):  # noqa: F811
    result = manage("shell", "-c", EVENTS.format(copy_id=public_ids.parse(copy_id)),
                    env=dict(stack.env, DJANGO_SETTINGS_MODULE="demo_host.settings"), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fifty_graders_asking_at_once_get_one_lease(stack, demo, client):  # noqa: F811
    copy_id = demo["copies"][0]
    answers = at_once(50, lambda index: client.call(f"staff_{index + 10}", "acquire_lease", {"copy_id": copy_id}))
    granted = [(index, body) for index, (status, body) in enumerate(answers) if status == 200]
    assert len(granted) == 1, answers
    winner, lease = granted[0]
    assert lease["fencing"] == 1
    refused = [body for status, body in answers if status != 200]
    assert {status for status, _body in answers} == {200, 409}, answers
    assert {(body["error"], body["holder"]) for body in refused} == {("lease_held", f"staff_{winner + 10}")}
    # the list of copies shows the holder
    status, listing = client.call("instructor_1", "list_copies", "limit=200")
    row = next(row for row in listing["copies"] if row["id"] == copy_id)
    assert row["lease"]["holder"] == f"staff_{winner + 10}"


def test_a_write_with_the_fencing_of_an_ended_lease_is_refused(stack, demo, client):  # noqa: F811
    copy_id = demo["copies"][1]
    status, old = client.call("staff_1", "acquire_lease", {"copy_id": copy_id})
    assert status == 200
    # staff_1's lease ends (an instructor frees it, as expiry would), staff_2 takes the copy and writes
    assert client.call("instructor_1", "force_release_lease", {"copy_id": copy_id}) == (200, {"released": True})
    status, new = client.call("staff_2", "acquire_lease", {"copy_id": copy_id})
    assert status == 200 and new["fencing"] == old["fencing"] + 1
    assert client.call("staff_2", "save_comment", {"copy_id": copy_id, "fencing": new["fencing"],
                                                   "general_comment": "Début"})[0] == 200
    # staff_1's tab, unaware, writes with the old number: refused, the next grader's work stays
    status, body = client.call("staff_1", "save_comment", {"copy_id": copy_id, "fencing": old["fencing"],
                                                           "general_comment": "Écrasé ?"})
    assert status == 409 and body["error"] == "lease_lost"
    status, opened = client.call("staff_2", "open_copy", f"copy_id={copy_id}")
    assert opened["copy"]["general_comment"] == "Début" and opened["lease"]["holder"] == "Irène Joliot"
    assert events(stack, copy_id)["lease.forced"] == 1


def test_twenty_finalize_calls_at_once_submit_and_render_once(stack, demo, client):  # noqa: F811
    copy_id = demo["copies"][2]
    status, lease = client.call("staff_3", "acquire_lease", {"copy_id": copy_id})
    assert status == 200
    status, opened = client.call("staff_3", "open_copy", f"copy_id={copy_id}")
    points = {question["id"]: {"points": question["max"], "comment": ""} for question in opened["questions"]}
    status, saved = client.call("staff_3", "save_draft", {"copy_id": copy_id, "fencing": lease["fencing"],
                                                          "version": opened["draft"]["version"],
                                                          "payload": {"points": points, "annotations": []}})
    assert status == 200, saved
    answers = at_once(20, lambda index: client.call("staff_3", "finalize", {"copy_id": copy_id,
                                                                            "fencing": lease["fencing"]}))
    assert [answer for answer in answers if answer[0] == 200] == [(200, {"state": "submitted"})]
    assert {body["error"] for status, body in answers if status != 200} <= {"illegal_transition", "lease_lost"}
    deadline = time.monotonic() + RENDER_TIMEOUT
    while True:
        status, opened = client.call("staff_3", "open_copy", f"copy_id={copy_id}")
        if opened["copy"]["state"] != "submitted" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert opened["copy"]["state"] == "graded" and opened["copy"]["graded_pdf"] is True, opened["copy"]
    counted = events(stack, copy_id)
    assert counted["copy.finalized"] == 1 and counted["copy.graded"] == 1
    renders = re.findall(r"Task viatique\.render_graded_copy\[[^\]]+\] received", stack.output())
    assert len(renders) == 1
    # the lease went with the finalize
    status, listing = client.call("instructor_1", "list_copies", "limit=200")
    assert next(row for row in listing["copies"] if row["id"] == copy_id)["lease"] is None
