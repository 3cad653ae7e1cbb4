"""The lockout on the production-like stack of ``make serve`` (three gunicorn workers, Redis cache):
a learner asking for copies that are not theirs is refused five times, then locked out with 429 by
whichever worker answers, even for their own copy; another learner behind the same address is not;
an instructor lifts the lockout from another request and every worker lets the learner in again.
"""
import concurrent.futures
import http.cookiejar
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest

from .conftest import children, manage
from .test_serve_stack import SCENARIO, stack  # noqa: F401  (the stack fixture, one stack for this module)

pytestmark = pytest.mark.integration

#: run in the stack's environment: the demo exam's copies of three learners get a stored graded PDF,
#: and results are released; prints the usage id and the copies' public ids as JSON
PREPARE = """
import json
from django.utils import timezone
from workbench.scenarios import get_scenarios
from viatique_xblock.platform import storage
from viatique_xblock.models import Copy, Exam
from viatique_xblock.states import Grading

usage = str(get_scenarios()["viatique.0"].usage_id)
exam = Exam.objects.get(usage_key=usage)
ids = {}
for username in ("learner_1", "learner_2", "learner_3"):
    copy = Copy.objects.get(exam=exam, learner_username=username)
    name = storage.overwrite(storage.file_name("lockout-test", f"{copy.pk}.pdf"), b"%PDF-1.4 graded " + username.encode())
    Copy.objects.filter(pk=copy.pk).update(graded_pdf_name=name, grading_state=Grading.GRADED)
    ids[username] = copy.public_id
Exam.objects.filter(pk=exam.pk).update(released_at=timezone.now())
# "missing": a number, which names no copy (copies are named by their public ids): not found, as a copy that is not there
print(json.dumps({"usage": usage, "copies": ids, "missing": max(Copy.objects.values_list("pk", flat=True)) + 1000}))
"""


def request(stack, path, data=None, opener=None, headers=None):  # noqa: F811
    """``(status, headers, body bytes)`` of a GET (or a POST of JSON ``data``), errors included."""
    req = urllib.request.Request(stack.base_url + path, headers=dict(headers or {}),
                                 data=None if data is None else json.dumps(data).encode())
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def released(stack):  # noqa: F811
    env = dict(stack.env, DJANGO_SETTINGS_MODULE="demo_host.settings")
    result = manage("shell", "-c", PREPARE, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def pdf_path(released, copy_id, student, probe=""):
    return f"/handler/{released['usage']}/graded_pdf/{copy_id}?student={student}" + (f"&probe={probe}" if probe else "")


def answering_pids(stack, probe, status):
    """Pids of the gunicorn workers that answered the requests tagged ``probe`` with ``status``."""
    return {int(pid) for pid in re.findall(
        rf'"GET [^"]*probe={probe}-\d+ HTTP/1\.1" {status} .*pid=<(\d+)>', stack.output())}


def test_a_learner_is_locked_out_on_every_worker_and_another_on_the_same_address_is_not(stack, released):  # noqa: F811
    copies = released["copies"]
    status, _headers, body = request(stack, pdf_path(released, copies["learner_3"], "learner_3"))
    assert (status, body) == (200, b"%PDF-1.4 graded learner_3")

    # learner_2 tries copies that are not theirs: five plain refusals
    targets = [copies["learner_1"], copies["learner_3"], released["missing"], copies["learner_1"], "x"]
    for target in targets:
        status, _headers, body = request(stack, pdf_path(released, target, "learner_2"))
        assert (status, json.loads(body)["error"]) == (404, "not_found")

    # then 429 on every later request, whichever of the three workers answers, own copy included
    workers = set(children(stack.gunicorn_pid))
    assert len(workers) == 3
    probe = uuid.uuid4().hex[:8]

    def locked(index):
        target = copies["learner_2"] if index % 2 else released["missing"] + index
        return request(stack, pdf_path(released, target, "learner_2", probe=f"{probe}-{index}"))

    answered = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        for batch in range(20):
            for status, headers, body in pool.map(locked, range(batch * 12, batch * 12 + 12)):
                answer = json.loads(body)
                assert (status, answer["error"]) == (429, "locked_out")
                assert 800 <= answer["retry_after"] <= 900
                assert headers["Retry-After"] == str(answer["retry_after"])
            answered = answering_pids(stack, probe, 429)
            if answered == workers:
                break
    assert answered == workers, f"429 from {answered}, workers {workers}"

    # another learner behind the same address (127.0.0.1) is not affected
    status, _headers, body = request(stack, pdf_path(released, copies["learner_3"], "learner_3"))
    assert (status, body) == (200, b"%PDF-1.4 graded learner_3")

    # the instructor sees the lockout and lifts it (a POST with the CSRF token of the page)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    assert request(stack, f"{SCENARIO}?student=instructor_1", opener=opener)[0] == 200
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    status, _headers, body = request(stack, f"/handler/{released['usage']}/lockouts/?student=instructor_1",
                                     opener=opener)
    [lockout] = json.loads(body)["lockouts"]
    assert (status, lockout["kind"], lockout["subject"]) == (200, "user", "learner_2")
    status, _headers, body = request(stack, f"/handler/{released['usage']}/lift_lockout/?student=instructor_1",
                                     data={"id": lockout["id"]}, opener=opener,
                                     headers={"X-CSRFToken": token, "Referer": stack.base_url + SCENARIO})
    assert (status, json.loads(body)["lockouts"]) == (200, [])

    # lifted for every worker at once
    probe = uuid.uuid4().hex[:8]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(
            lambda index: request(stack, pdf_path(released, copies["learner_2"], "learner_2", f"{probe}-{index}")),
            range(12)))
    assert {(status, body) for status, _headers, body in results} == {(200, b"%PDF-1.4 graded learner_2")}
