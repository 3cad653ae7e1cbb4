"""Grading by question on the production-like stack of ``make serve`` (three gunicorn workers, Redis cache,
MariaDB, a Celery worker): the last two answers of a copy graded at the same moment by two graders finalize
the copy once and render it once; then fifty graders on five questions of a hundred copies press "next" as
fast as they can: no answer is claimed twice, none is lost, every copy is finalized and rendered once.
"""
import collections
import json
import re
import threading
import time

import pytest

from .conftest import manage
from .test_grading_stack import Client, at_once
from .test_serve_stack import stack  # noqa: F401  (the stack fixture: one stack for this module)

pytestmark = pytest.mark.integration

COPIES = 101  # the first for the race of the last two answers, a hundred for the fifty graders
QUESTIONS = ["q1", "q2", "q3", "q4", "q5"]
GRADERS = 50
RENDER_TIMEOUT = 300
RUN_TIMEOUT = 300

#: run in the stack's environment: the workbench's second exam, graded by question, with five questions and
#: COPIES one-page copies of a scan stored as the pipeline stores them; prints its usage id and copy ids
SETUP = """
import json, uuid
import pymupdf
from workbench.scenarios import get_scenarios
from viatique_xblock.models import Copy, Exam, Page, ScanBatch
from viatique_xblock.platform import storage
usage = str(get_scenarios()["viatique.1"].usage_id)
scheme = {{"questions": [{{"id": f"q{{n}}", "label": f"Question {{n}}", "max": 2, "step": 1}} for n in range(1, 6)],
          "next_id": 6}}
exam, _ = Exam.objects.update_or_create(usage_key=usage, defaults={{
    "course_key": "course-v1:Viatique+Demo+2026", "title": "By question", "scheme": scheme, "pages_per_copy": 1,
    "grading_mode": "by_question"}})
doc = pymupdf.open()
for index in range({copies}):
    doc.new_page(width=595, height=842).insert_text((72, 100), f"Answers of learner {{index}}")
sha = uuid.uuid4().hex
name = storage.overwrite(storage.file_name("scans", exam.pk, f"{{sha}}.pdf"), doc.tobytes())
batch = ScanBatch.objects.create(exam=exam, original_name="scan.pdf", sha256=sha, page_count={copies},
                                 file_name=name, state="done")
ids = []
for index in range({copies}):
    copy = Copy.objects.create(exam=exam, anonymous_code=f"Q{{index:04d}}")
    Page.objects.create(exam=exam, batch=batch, copy=copy, source_index=index, position=1, width_pt=595,
                        height_pt=842)
    ids.append(copy.public_id)
print(json.dumps({{"usage": usage, "copies": ids}}))
"""
#: each copy of the exam: its state, its audit events by action, its answers and points
STATE = """
import json
from django.db.models import Count
from viatique_xblock.models import Answer, AuditEvent, Copy, QuestionPoints
from viatique_xblock.scheme import plain_number
copies = {}
for copy in Copy.objects.filter(exam__usage_key="%s"):
    events = dict(AuditEvent.objects.filter(copy_id_ref=copy.pk).values_list("action").annotate(n=Count("id")))
    answers = {row.question_id: [row.state, row.graded_by] for row in Answer.objects.filter(copy=copy)}
    points = {row.question_id: [str(plain_number(row.points)), row.comment, row.grader]
              for row in QuestionPoints.objects.filter(copy=copy)}
    copies[copy.public_id] = {"state": copy.grading_state, "events": events, "answers": answers, "points": points,
                              "total": str(plain_number(copy.total_points)) if copy.total_points is not None else None}
print(json.dumps(copies))
"""


def shell(stack, script, timeout=180):  # noqa: F811
    result = manage("shell", "-c", script, env=dict(stack.env, DJANGO_SETTINGS_MODULE="demo_host.settings"),
                    timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exam(stack):  # noqa: F811
    return shell(stack, SETUP.format(copies=COPIES))


@pytest.fixture(scope="module")
def client(stack, exam):  # noqa: F811
    return Client(stack, exam["usage"])


def renders(stack):  # noqa: F811
    return len(re.findall(r"Task viatique\.render_graded_copy\[[^\]]+\] received", stack.output()))


def wait_rendered(stack, exam, copy_ids):  # noqa: F811
    deadline = time.monotonic() + RENDER_TIMEOUT
    while True:
        state = shell(stack, STATE % exam["usage"])
        waiting = [copy_id for copy_id in copy_ids if state[copy_id]["state"] != "graded"]
        if not waiting or time.monotonic() > deadline:
            return state
        time.sleep(2)


def test_the_last_two_answers_graded_at_once_finalize_and_render_the_copy_once(stack, exam, client):  # noqa: F811
    copy_id = exam["copies"][0]
    before = renders(stack)
    held = {}
    for index, question_id in enumerate(QUESTIONS):
        status, body = client.call(f"staff_{index + 1}", "open_answer", {"copy_id": copy_id, "question_id": question_id})
        assert status == 200 and body["answer"]["lease"], body
        held[question_id] = body["answer"]
    for index, question_id in enumerate(QUESTIONS[:3]):
        answer = held[question_id]
        status, body = client.call(f"staff_{index + 1}", "save_answer", {
            "copy_id": copy_id, "question_id": question_id, "fencing": answer["lease"]["fencing"],
            "version": answer["draft"]["version"], "points": 2, "comment": "", "done": True})
        assert status == 200 and body["finalized"] is False, body

    def finish(index):
        question_id = QUESTIONS[3 + index]
        answer = held[question_id]
        return client.call(f"staff_{4 + index}", "save_answer", {
            "copy_id": copy_id, "question_id": question_id, "fencing": answer["lease"]["fencing"],
            "version": answer["draft"]["version"], "points": 1, "comment": "", "done": True})

    results = at_once(2, finish)
    assert [status for status, _body in results] == [200, 200], results
    assert sorted(body["finalized"] for _status, body in results) == [False, True]
    state = wait_rendered(stack, exam, [copy_id])[copy_id]
    assert state["state"] == "graded" and state["total"] == "8"
    assert state["events"]["copy.finalized"] == 1 and state["events"]["copy.graded"] == 1
    assert renders(stack) - before == 1


def test_fifty_graders_on_five_questions_claim_each_answer_once_and_render_each_copy_once(stack, exam,  # noqa: F811
                                                                                          client):
    copy_ids = exam["copies"][1:]
    before = renders(stack)
    claims = collections.Counter()
    saved = {}
    errors = []
    lock = threading.Lock()
    deadline = time.monotonic() + RUN_TIMEOUT

    def grade(index):
        username, question_id = f"staff_{index + 10}", QUESTIONS[index % len(QUESTIONS)]
        done = 0
        while time.monotonic() < deadline:
            status, body = client.call(username, "next_answer", {"question_id": question_id})
            if status != 200:
                with lock:
                    errors.append(("next_answer", username, status, body))
                return done
            answer = body["answer"]
            if answer is None:
                if body["remaining"] == 0:
                    return done
                time.sleep(0.05)  # the last answers are held by others: they may come back
                continue
            key = (answer["copy"]["id"], question_id)
            points = (index + len(key[0])) % 3
            comment = f"{username} on {question_id}"
            with lock:
                claims[key] += 1
            status, body = client.call(username, "save_answer", {
                "copy_id": key[0], "question_id": question_id, "fencing": answer["lease"]["fencing"],
                "version": answer["draft"]["version"], "points": points, "comment": comment, "done": True})
            with lock:
                if status == 200:
                    saved[key] = [str(points), comment, username]
                else:
                    errors.append(("save_answer", username, status, body))
            done += 1
        return done

    started = time.monotonic()
    counts = at_once(GRADERS, grade)
    elapsed = time.monotonic() - started
    assert errors == []
    assert sum(counts) == len(copy_ids) * len(QUESTIONS) == len(saved)
    assert max(claims.values()) == 1 and set(claims) == {(copy_id, question_id) for copy_id in copy_ids
                                                        for question_id in QUESTIONS}
    state = wait_rendered(stack, exam, copy_ids)
    for copy_id in copy_ids:
        copy = state[copy_id]
        assert copy["state"] == "graded", (copy_id, copy)
        assert copy["events"]["copy.finalized"] == 1 and copy["events"]["copy.graded"] == 1, (copy_id, copy)
        assert copy["events"]["answer.graded"] == len(QUESTIONS)
        for question_id in QUESTIONS:  # every save is there as its grader wrote it: no lost update
            assert copy["points"][question_id] == saved[(copy_id, question_id)]
            assert copy["answers"][question_id] == ["graded", saved[(copy_id, question_id)][2]]
    assert renders(stack) - before == len(copy_ids)
    print(f"50 graders graded {sum(counts)} answers in {elapsed:.1f} s")
