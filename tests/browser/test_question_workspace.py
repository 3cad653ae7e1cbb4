"""Grading by question in the full-window workspace, in Chromium, by two graders at the same time.

The workbench's second exam (``viatique.1``) is set up graded by question, with two questions and twenty
one-page copies whose pages are pages of the demo's class scan (their images and the scan file as the
pipeline stored them). staff_1 grades question 1 and staff_2 question 2 of the same twenty copies, in two
browsers, turn by turn, by keyboard only: skip to the page, a tick placed with keys, the points and a comment
typed, Ctrl+Enter (graded, next answer). Afterwards every copy was finalized once and rendered once, has
both questions' points, comments and ticks; the learner of one copy sees both questions' points and comments
once the results are released. axe-core checks the workspace (an answer open, a points error, the list of
keys, nothing left) and the list of questions; what the first grader heard is checked word for word.

A second test gives question 1 a box: the answer shows it zoomed to fit, w the whole page; "a" marks an
answer "no answer", "s" skips one, which comes back last; an instructor forces the lease away and the
workspace says so (axe-core in the box and lease-lost states).
"""
import json
import re
import time

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import new_page
from .test_workspace import HEARD_SCRIPT, heard

pytestmark = pytest.mark.browser

EXAM = "/scenario/viatique.1/"
COPIES = 20
LEARNER = "learner_1"
GRADERS = {"staff_1": "q1", "staff_2": "q2"}
POINTS = {"q1": "1.5", "q2": "2"}
SCOPE = ".viatique-focus"
VIEWPORT = {"width": 1366, "height": 768}

#: the second exam graded by question: two questions, COPIES one-page copies made of the demo scan's pages
#: (their stored images, the scan file itself), copy 0 identified as LEARNER's; prints its usage id
SETUP_TEMPLATE = """
import json
from workbench.scenarios import get_scenarios
from demo_host.services import anonymous_id
from viatique_xblock.models import Copy, Exam, Page, ScanBatch
from viatique_xblock.platform import compat
usage = str(get_scenarios()["viatique.1"].usage_id)
scheme = {"questions": [{"id": "q1", "label": "Question 1", "max": 2, "step": 0.5},
                        {"id": "q2", "label": "Question 2", "max": 3, "step": 0.5}], "next_id": 3}
scheme["questions"][0].update(%(layout)s)
compat.write_block_settings(usage, {"marking_scheme": scheme, "grading_mode": "by_question", "pages_per_copy": 1,
                                    "display_name": "By question"})
block = compat._workbench_block(usage)
exam = block.sync_exam()
assert exam.grading_mode == "by_question", exam.grading_mode
source = ScanBatch.objects.exclude(exam=exam).order_by("pk").first()
pages = list(Page.objects.filter(batch=source, copy__isnull=False).exclude(image_name="").order_by("source_index")[:%(copies)d])
batch = ScanBatch.objects.create(exam=exam, original_name="scan.pdf", sha256="f" * 64, page_count=source.page_count,
                                 file_name=source.file_name, state="done")
for index, original in enumerate(pages):
    copy = Copy.objects.create(exam=exam, anonymous_code=f"Q{index:04d}")
    Page.objects.create(exam=exam, batch=batch, copy=copy, source_index=original.source_index, position=1,
                        rotation=original.rotation, width_pt=original.width_pt, height_pt=original.height_pt,
                        image_name=original.image_name)
    if index == 0:
        Copy.objects.filter(pk=copy.pk).update(
            identity_state="identified", learner_username="%(learner)s", learner_name="Learner One",
            learner_anonymous_id=anonymous_id("%(learner)s", compat.course_key(block)))
print(json.dumps({"usage": usage, "copies": len(pages), "scheme": exam.scheme}))
"""


def setup_script(copies=COPIES, layout=None):
    """SETUP_TEMPLATE for ``copies`` copies, question 1 with ``layout`` (none by default)."""
    return SETUP_TEMPLATE % {"copies": copies, "learner": LEARNER,
                             "layout": repr({"layout": layout} if layout else {})}

#: each copy of that exam: state, its finalize and render events, points, comments and annotations per question
STATE = """
import json
from django.db.models import Count
from viatique_xblock.models import Annotation, AuditEvent, Copy, QuestionPoints
from viatique_xblock.scheme import plain_number
rows = {}
for copy in Copy.objects.filter(exam__usage_key=%r):
    events = dict(AuditEvent.objects.filter(copy_id_ref=copy.pk).values_list("action").annotate(n=Count("id")))
    rows[copy.anonymous_code] = {
        "state": copy.grading_state,
        "finalized": events.get("copy.finalized", 0), "rendered": events.get("copy.graded", 0),
        "points": {row.question_id: [str(plain_number(row.points)), row.comment, row.grader]
                   for row in QuestionPoints.objects.filter(copy=copy)},
        "annotations": sorted([a.question_id, a.kind] for a in Annotation.objects.filter(copy=copy)),
    }
print(json.dumps(rows))
"""

RELEASE = """
from viatique_xblock.models import Exam
from viatique_xblock.platform import compat
from viatique_xblock.results import release
exam = Exam.objects.get(usage_key=%r)
release.release(exam, compat.ViatiqueUser(user_id="instructor_1", username="instructor_1", full_name="Instructor",
                                          anonymous_id="", role="instructor"))
"""


def shell(host, script):
    return json.loads(host.manage("shell", "-v", "0", "-c", script).strip().splitlines()[-1] or "null")


def grader_page(chromium, browser_errors):
    return new_page(chromium, browser_errors, VIEWPORT, timeout_ms=15_000, init_script=HEARD_SCRIPT)


def grade_one(page, question, code_pattern):
    """One answer by keyboard: skip to the page, a tick, the points, a comment, Ctrl+Enter. Returns the copy's code."""
    heading = page.get_by_role("heading", name=code_pattern)
    expect(heading).to_be_focused()
    code = re.search(r"copy (Q\d{4})$", heading.inner_text()).group(1)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Skip to the page")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("application")).to_be_focused()
    page.keyboard.press("t")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.press("m")
    expect(page.get_by_role("textbox", name=re.compile(r"^Question \d$"))).to_be_focused()
    page.keyboard.type(POINTS[question])
    page.keyboard.press("Tab")
    page.keyboard.type(f"Comment on {question} of {code}")
    page.keyboard.press("Control+Enter")
    expect(page.locator("[data-region='grading-title']")).not_to_have_text(re.compile(f"copy {code}$"))
    return code


def test_two_graders_grade_two_questions_of_the_same_copies_at_once_by_keyboard(fresh_demo_host, chromium,
                                                                               browser_errors):
    host = fresh_demo_host
    setup = shell(host, setup_script())
    assert setup["copies"] == COPIES
    usage = setup["usage"]
    workspace = {name: f"{host.base_url}/handler/{usage}/workspace/?student={name}&question={question}"
                 for name, question in GRADERS.items()}
    contexts = []
    try:
        pages = {}
        for name in GRADERS:
            context, page = grader_page(chromium, browser_errors)
            contexts.append(context)
            pages[name] = page
        # the dashboard links each question to the workspace, with its progress
        staff_1 = pages["staff_1"]
        staff_1.goto(host.url(student="staff_1", screen="grading", scenario=EXAM))
        link = staff_1.get_by_role("link", name="Question 1: 0 / 20 graded, you: 0 (new tab)")
        expect(link).to_have_attribute("target", "_blank")
        assert link.get_attribute("href").endswith("question=q1")
        # the workspace with no question: the list of questions
        staff_1.goto(f"{host.base_url}/handler/{usage}/workspace/?student=staff_1")
        expect(staff_1.get_by_role("link", name="Question 2: 0 / 20 graded, you: 0")).to_be_visible()
        assert_accessible(staff_1, SCOPE, "(list of questions)")

        for name, page in pages.items():
            page.goto(workspace[name])
            expect(page.locator(SCOPE).locator("[data-region='grading']")).to_have_attribute("data-editable", "true")
        expect(staff_1.locator("[data-region='question-progress']")).to_have_text(
            "Question 1: 0 / 20 graded, you: 0")
        assert staff_1.evaluate("() => document.scrollingElement.scrollHeight <= window.innerHeight")
        assert_accessible(staff_1, SCOPE, "(an answer open)")

        # a points error, told once the typing stops; the list of keys, a dialog
        staff_1.keyboard.press("m")
        staff_1.keyboard.type("7")
        points = staff_1.get_by_role("textbox", name="Question 1", exact=True)
        expect(points).to_have_attribute("aria-invalid", "true")
        expect(staff_1.locator("[data-region='announce-alert']")).to_have_text("At most 2 points.")
        assert_accessible(staff_1, SCOPE, "(points error)")
        staff_1.keyboard.press("Backspace")
        staff_1.keyboard.press("Escape")
        expect(staff_1.get_by_role("application")).to_be_focused()
        staff_1.keyboard.press("?")
        dialog = staff_1.get_by_role("dialog", name="Keyboard shortcuts")
        for text in ("Graded: save and go to the next answer", "Previous answer", "Whole page", "Go to the points",
                     "No answer (0 points, stated to the learner)", "Back to the dashboard"):
            expect(dialog).to_contain_text(text)
        assert_accessible(staff_1, SCOPE, "(list of keys open)")
        staff_1.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        staff_1.get_by_role("heading", name=re.compile("^Question 1 — copy Q0000$")).focus()
        staff_1.evaluate("() => { window.__heard.length = 0; }")

        graded = {name: [] for name in GRADERS}
        for turn in range(COPIES):  # turn by turn: both graders hold a lease on the same copies at once
            for name, question in GRADERS.items():
                label = "Question 1" if question == "q1" else "Question 2"
                graded[name].append(grade_one(pages[name], question, re.compile(f"^{label} — copy Q")))
            if turn == 0:  # what staff_1 heard while grading the first answer, and the next one opening
                expect(staff_1.locator("[data-region='announce-status']")).to_have_text(
                    "Copy Q0001, page 1. 19 left to grade.")
                assert heard(staff_1) == ["Tool: Tick.", "Cursor at 10 % across, 12 % down", "Tick placed on page 1.",
                                          "Copy Q0001, page 1. 19 left to grade."], heard(staff_1)
        for name, page in pages.items():
            expect(page.locator("[data-region='grading-title']")).to_have_text(
                re.compile(r": nothing left to grade$"))
            expect(page.locator("[data-region='announce-status']")).to_have_text(
                "Every answer to this question is graded.")
        expect(staff_1.locator("[data-region='question-progress']")).to_have_text(
            "Question 1: 20 / 20 graded, you: 20")
        assert_accessible(staff_1, SCOPE, "(nothing left)")
        for name in GRADERS:
            assert sorted(graded[name]) == [f"Q{index:04d}" for index in range(COPIES)], (name, graded[name])
    finally:
        for context in contexts:
            context.close()

    # every copy finalized once and rendered once, with both questions' points, comments and ticks
    state = {}
    for _attempt in range(60):
        state = shell(host, STATE % usage)
        if all(row["state"] == "graded" for row in state.values()):
            break
        time.sleep(1)
    assert len(state) == COPIES
    for code, row in state.items():
        assert row["state"] == "graded", (code, row)
        assert (row["finalized"], row["rendered"]) == (1, 1), (code, row)
        assert row["points"] == {
            "q1": [POINTS["q1"], f"Comment on q1 of {code}", "staff_1"],
            "q2": [POINTS["q2"], f"Comment on q2 of {code}", "staff_2"],
        }, (code, row)
        assert row["annotations"] == [["q1", "tick"], ["q2", "tick"]], (code, row)

    # the learner of copy Q0000 sees both questions' points and comments once released
    host.manage("shell", "-v", "0", "-c", RELEASE % usage)
    learner = chromium.new_context(viewport=VIEWPORT, locale="en-US")
    try:
        page = learner.new_page()
        page.on("pageerror", browser_errors.on_page_error)
        page.goto(host.url(student=LEARNER, scenario=EXAM))
        results = page.locator("[data-region='learner-results']")
        for question, label in (("q1", "Question 1"), ("q2", "Question 2")):
            expect(results).to_contain_text(label)
            expect(results).to_contain_text(f"Comment on {question} of Q0000")
        expect(results).to_contain_text("3.5")
    finally:
        learner.close()


def test_the_question_s_box_no_answer_and_skip_by_keyboard(fresh_demo_host, chromium, browser_errors):
    """Question 1 has a box on page 1: the answer shows it zoomed to fit, w the whole page; "a" marks an answer
    "no answer" (0 points), "s" skips one, which comes back after the others."""
    host = fresh_demo_host
    browser_errors.allow_http(409, "/save_answer")  # the lease forced away: the next save is refused, on purpose
    box = {"page": 1, "x0": 0.1, "y0": 0.2, "x1": 0.6, "y1": 0.45}
    setup = shell(host, setup_script(copies=3, layout={"pages": [1], "box": box, "whole_copy": False}))
    assert setup["scheme"]["questions"][0]["layout"]["box"] == box
    context, page = grader_page(chromium, browser_errors)
    try:
        page.goto(f"{host.base_url}/handler/{setup['usage']}/workspace/?student=staff_1&question=q1")
        expect(page.get_by_role("heading", name="Question 1 — copy Q0000")).to_be_focused()
        stage = page.locator("[data-region='stage']")
        sheet = page.get_by_role("application")
        expect(stage).to_have_attribute("data-zoom", "box")
        # the box fills the viewport's width or height: the page is larger than the viewport
        view, shown = stage.bounding_box(), sheet.bounding_box()
        assert shown["width"] > view["width"] or shown["height"] > view["height"], (view, shown)
        box_left = shown["x"] + box["x0"] * shown["width"]
        box_right = shown["x"] + box["x1"] * shown["width"]
        assert view["x"] - 1 <= box_left and box_right <= view["x"] + view["width"] + 1
        page.keyboard.press("w")
        expect(stage).to_have_attribute("data-zoom", "page")
        expect(page.locator("[data-region='announce-status']")).to_have_text("Whole page.")
        view, shown = stage.bounding_box(), sheet.bounding_box()
        assert shown["height"] <= view["height"] + 1 and shown["width"] <= view["width"] + 1
        page.keyboard.press("w")
        expect(stage).to_have_attribute("data-zoom", "box")
        assert_accessible(page, SCOPE, "(the question's box)")

        page.keyboard.press("a")  # Q0000: no answer
        expect(page.get_by_role("heading", name="Question 1 — copy Q0001")).to_be_focused()
        page.keyboard.press("s")  # Q0001: skipped, comes back last
        expect(page.get_by_role("heading", name="Question 1 — copy Q0002")).to_be_focused()
        page.keyboard.press("m")
        page.keyboard.type("2")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_role("heading", name="Question 1 — copy Q0001")).to_be_focused()
        expect(page.locator("[data-region='question-progress']")).to_have_text("Question 1: 2 / 3 graded, you: 2")

        # the lease forced away by an instructor: the next save is refused and the workspace says so
        forced = page.evaluate("""async ([url, copy]) => {
          const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
          const response = await fetch(url, {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
            body: JSON.stringify({copy_id: copy, question_id: 'q1'})});
          return [response.status, await response.json()];
        }""", [f"{host.base_url}/handler/{setup['usage']}/force_release_answer_lease/?student=instructor_1",
               page.locator("[data-region='grading']").get_attribute("data-copy-id")])
        assert forced == [200, {"released": True}]
        page.keyboard.press("m")
        page.keyboard.press("Tab")
        page.keyboard.type("Vu")
        expect(page.locator("[data-region='grading-alert']")).to_contain_text("You no longer hold this answer",
                                                                             timeout=15_000)
        expect(page.locator("[data-region='grading']")).to_have_attribute("data-editable", "false")
        assert_accessible(page, SCOPE, "(lease lost)")
    finally:
        context.close()
    state = shell(host, STATE % setup["usage"])
    assert state["Q0000"]["points"]["q1"][0] == "0"
    assert state["Q0002"]["points"]["q1"][0] == "2"
    assert "q1" not in state["Q0001"]["points"]
