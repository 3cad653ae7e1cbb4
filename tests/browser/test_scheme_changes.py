"""A question added in Studio after the results were released, in Chromium, on the demo exam (graded by copy;
its seed grades learner_1..3 with a rendered PDF).

The Studio editor asks for the change's impact first and states its counts (the released copies that will
change, the copies that become incomplete for the new question); once confirmed, nothing changes for
learners (their view, the gradebook's published total) until their copy is graded again for the new
question; then their new score is published and shown.
"""
import json
import re

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls
from .test_results import learner_region, release

pytestmark = pytest.mark.browser

FINISHED = ("graded", "render_failed", "submitted")
IMPACT = "This change of the marking scheme changes graded copies"

#: learner_1's copy as stored: its state, working total and published total (one JSON line)
COPY = """
import json
from viatique_xblock.models import Copy
copy = Copy.objects.get(learner_username=%r)
print(json.dumps({"state": copy.grading_state, "total": str(copy.total_points),
                  "published": None if copy.published_points is None else str(copy.published_points)}))
"""

#: learner_1's copy graded for the new question by its grader, as the workspace does (lease, points, finalize);
#: the render runs at once (the demo host has no broker), then the release path publishes the new score
GRADE = """
import json
from viatique_xblock.grading import leases, workspace
from viatique_xblock.models import Copy, Exam
from viatique_xblock.platform import compat
copy = Copy.objects.get(learner_username=%r)
exam = Exam.objects.get(pk=copy.exam_id)
user = compat.ViatiqueUser(user_id="instructor_1", username="instructor_1", full_name="Instructor",
                           anonymous_id="", role="instructor")
lease = leases.acquire_lease(copy, user)
workspace.save_points(exam, user, copy.public_id, lease.fencing, %r, %r)
workspace.finalize(exam, user, copy.public_id, lease.fencing, scale=20)
copy.refresh_from_db()
print(json.dumps({"state": copy.grading_state, "published": str(copy.published_points)}))
"""


def shell(host, script):
    return json.loads(host.manage("shell", "-v", "0", "-c", script).strip().splitlines()[-1])


def learner_total(page, host, username="learner_1"):
    page.goto(host.url(student=username))
    total = learner_region(page).locator('[data-region="total"]')
    expect(total).to_have_text(re.compile(r"^Total: "))
    return total.inner_text(), learner_region(page).locator('[data-region="questions"] tbody tr').count()


def test_a_question_added_after_release_is_confirmed_with_its_counts_and_learners_see_no_change_until_graded(
        fresh_demo_host, page, demo_facts):
    host = fresh_demo_host
    first = demo_facts.copy_of("learner_1")
    release(page, host, demo_facts)
    shown_before = learner_total(page, host)
    assert shown_before == (f"Total: {first['total']} / 20", 5)
    stored = shell(host, COPY % "learner_1")
    assert stored["published"] == stored["total"]

    released = sum(copy["state"] == "graded" and copy["identity"] == "identified" for copy in demo_facts.copies)
    incomplete = sum(copy["state"] in FINISHED for copy in demo_facts.copies)

    # Studio: a question added; the save asks for the impact and states its counts
    page.goto(host.url("studio_view/", student="instructor_1"))
    expect(page.locator(".viatique-question-row")).to_have_count(6)
    page.get_by_role("button", name="Add a question").click()
    page.get_by_role("textbox", name="Question 5", exact=True).fill("Exercice 5 : bonus")
    page.locator(".viatique-question-row").last.get_by_label("Maximum").fill("2")
    page.get_by_role("button", name="Save", exact=True).click()
    impact = page.get_by_role("region", name=IMPACT)
    expect(impact).to_be_focused()
    expect(impact).to_contain_text(f"{released} released copies will change")
    expect(impact).to_contain_text(f"{incomplete} copies become incomplete for question Exercice 5 : bonus")
    assert unnamed_controls(page, ".viatique-studio") == []
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        impact.get_by_role("button", name="Save and apply this change").click()
    assert response_info.value.ok, response_info.value.text()
    expect(page.locator("[data-saved]")).to_have_count(1)
    new_question = response_info.value.json()["settings"]["marking_scheme"]["questions"][-1]["id"]

    # nothing changes for learners: the same view, the same published total in the gradebook
    assert learner_total(page, host) == shown_before
    stored_after = shell(host, COPY % "learner_1")
    assert stored_after["state"] == "reopened" and stored_after["published"] == stored["published"]
    # regrade requests wait for the new grade, and the learner is told why (no form to send one)
    regrade = learner_region(page).locator('[data-region="regrade"]')
    expect(regrade.locator('[data-region="regrade-waits"]')).to_contain_text("change of the marking scheme")
    expect(regrade.locator('[data-region="regrade-form"]')).to_have_count(0)

    # graded again for the new question: the new score is published, and shown
    graded = shell(host, GRADE % ("learner_1", new_question, "2"))
    assert graded["state"] == "graded"
    new_total = float(stored["total"]) + 2
    assert float(graded["published"]) == new_total
    text, rows = learner_total(page, host)
    assert rows == 6 and text == f"Total: {new_total:g} / 22"
    expect(learner_region(page).locator('[data-region="regrade-form"]')).to_have_count(1)
