"""The grading workspace in Chromium: a grader annotates, marks, reloads, finalizes; a second grader is kept out.

The demo seed dispatched copies to staff_1 and staff_2; staff_1 grades one of their copies still
``ready``: annotations on two pages with the mouse (click, drag) and the keyboard (shortcuts, arrow
keys, Enter), a comment of the bank inserted in two keystrokes, points checked as they are typed,
a highlight resized and moved with the arrow keys, a reload of the browser page that finds the work the
server saved, then finalize: the copy becomes
graded with its graded PDF. Meanwhile an instructor opening the same copy is told who holds it.

Graders open only their own copies and unassigned ones (grading.get_copy): so the second test has
staff_1 take an unassigned copy, and staff_2, opening it too, is told who holds it; the list offers
staff_2 no Open button on a copy given to staff_1. The third test loses the network (the change waits in the browser and
is retried until saved), has the lease forced away by an instructor (the refused change comes back from
the browser after Reload) and a second tab save first (the older tab is told to reload). The fourth
damages the copy's scan in the storage before finalize: the render fails for real, the workspace says
so, and Retry makes the PDF once the file is back.
"""
import contextlib
import json
import pathlib
import re

import pytest
from playwright.sync_api import expect

from .conftest import VIEWPORT, unnamed_controls

pytestmark = pytest.mark.browser

GRADER = "staff_1"
OTHER_GRADER = "staff_2"
INSTRUCTOR = "instructor_1"
GRADER_NAME = "Paul Langevin"
#: points given to the demo scheme's leaf questions (within each maximum and step)
POINTS = {"q2": "1.5", "q3": "2.5", "q4": "3.75", "q5": "4", "q6": "2"}

#: run by ``manage.py shell``: the copy (COPY_CODE) as the database holds it, one JSON line
COPY_SCRIPT = """
import json
from viatique_xblock.models import Annotation, Copy
copy = Copy.objects.get(anonymous_code=COPY_CODE)
print(json.dumps({
    "state": copy.grading_state, "graded_pdf_name": copy.graded_pdf_name or "",
    "total": None if copy.total_points is None else str(copy.total_points),
    "general_comment": copy.general_comment,
    "points": {row.question_id: str(row.points.normalize()) for row in copy.points.all()},
    "annotations": sorted([annotation.kind, annotation.page.position, annotation.text]
                          for annotation in Annotation.objects.filter(copy=copy)),
    "boxes": {annotation.kind: [round(float(getattr(annotation, name)), 4) for name in ("x", "y", "width", "height")]
              for annotation in Annotation.objects.filter(copy=copy, kind="highlight")},
}))
"""


def copy_in_db(host, code):
    output = host.manage("shell", "-v", "0", "-c", f"COPY_CODE = {code!r}\n" + COPY_SCRIPT)
    return json.loads(output.strip().splitlines()[-1])


def open_dashboard(page, host, student):
    with page.expect_response(re.compile(r"/list_copies/")):
        page.goto(host.url(student=student))


def ready_copy(facts, grader):
    """The code of a copy still ``ready`` given to ``grader`` ("" for a copy nobody was given)."""
    return next(copy["code"] for copy in facts.copies if copy["grader"] == grader and copy["state"] == "ready")


def grade_as_grader(page, host, code):
    """staff_1's dashboard with ``code`` open and its lease taken; returns the workspace."""
    open_dashboard(page, host, GRADER)
    workspace = open_copy(page, code)
    expect(workspace).to_have_attribute("data-editable", "true")
    return workspace


def open_copy(page, code):
    """Open a copy from the list; returns the workspace once its copy is on screen."""
    with page.expect_response(re.compile(r"/open_copy/")):
        page.get_by_role("button", name=f"Open copy {code}").click()
    workspace = page.get_by_role("region", name=f"Copy {code}")
    expect(workspace).to_be_visible()
    expect(workspace.locator("[data-region='page-image']")).to_be_visible()
    return workspace


def click_at(page, sheet, x, y):
    sheet.scroll_into_view_if_needed()
    box = sheet.bounding_box()
    page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)


def drag(page, sheet, start, end):
    sheet.scroll_into_view_if_needed()
    box = sheet.bounding_box()
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=5)
    page.mouse.up()


def focused(page):
    return page.locator(":focus")


@contextlib.contextmanager
def second_page(chromium, browser_errors):
    """A page of a browser context of its own (another person), watched for JS errors like ``page``."""
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(10_000)
    try:
        other_page = context.new_page()
        other_page.on("console", browser_errors.on_console)
        other_page.on("pageerror", browser_errors.on_page_error)
        yield other_page
    finally:
        context.close()


def expect_held_by_grader(workspace):
    """The workspace says the grader holds the copy, and opened it read-only."""
    alert = workspace.locator("[data-region='grading-alert']")
    expect(alert).to_contain_text(f"{GRADER_NAME} is grading this copy until")
    expect(workspace).to_have_attribute("data-editable", "false")
    expect(workspace.get_by_role("button", name="Finalize")).to_have_count(0)
    expect(workspace.locator("[data-field='points'][data-question='q2']")).to_be_disabled()
    expect(workspace.get_by_role("button", name="Tick", exact=True)).to_be_disabled()


def test_grader_annotates_marks_reloads_and_finalizes_while_an_instructor_sees_who_holds_it(
        page, chromium, fresh_demo_host, demo_facts, browser_errors):
    host = fresh_demo_host
    code = ready_copy(demo_facts, GRADER)
    browser_errors.allow_http(409, "/acquire_lease")  # the second grader, on purpose
    workspace = grade_as_grader(page, host, code)
    expect(workspace.get_by_role("heading", name=f"Copy {code}")).to_be_focused()
    assert unnamed_controls(page, "[data-region='grading']") == []
    # "?" lists every shortcut; Escape puts the list away
    page.keyboard.press("?")
    help_list = workspace.locator("[data-region='grading-help']")
    expect(help_list).to_contain_text("Choose a tool: comment box, tick, cross, highlight, free text")
    expect(workspace.get_by_role("button", name="Keyboard shortcuts (?)")).to_have_attribute("aria-expanded", "true")
    assert unnamed_controls(page, "[data-region='grading']") == []
    page.keyboard.press("Escape")
    expect(help_list).to_have_count(0)
    # zoom in, then "w" fits the page again (the number keys are the rubric's)
    stage = workspace.locator("[data-region='stage']")
    workspace.get_by_role("button", name="Zoom in").click()
    expect(stage).to_have_attribute("data-zoom", "1.25")
    page.keyboard.press("w")  # on the button: a key typed on a control is no shortcut
    expect(stage).to_have_attribute("data-zoom", "1.25")
    workspace.locator("[data-region='sheet']").focus()
    page.keyboard.press("w")
    expect(stage).to_have_attribute("data-zoom", "1.00")

    sheet = workspace.get_by_role("application", name=re.compile(r"^Page 1 of \d+$"))
    pages = int(re.search(r"of (\d+)", sheet.get_attribute("aria-label")).group(1))
    assert pages >= 2
    thumbs = workspace.get_by_role("navigation", name="Pages of the copy").get_by_role("button")
    expect(thumbs).to_have_count(pages)
    expect(thumbs.first).to_have_attribute("aria-current", "page")
    annotations = workspace.locator("[data-region='annotations'] > li")
    status = workspace.locator("[data-region='save-status']")

    # --- page 1 with the mouse: a tick (click), a comment box (drag) whose text is typed at once
    tick = workspace.get_by_role("button", name="Tick", exact=True)
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "true")
    click_at(page, sheet, 0.5, 0.3)
    expect(annotations).to_have_count(1)
    expect(annotations.first).to_have_attribute("data-kind", "tick")
    workspace.get_by_role("button", name="Comment box").click()
    expect(tick).to_have_attribute("aria-pressed", "false")
    drag(page, sheet, (0.1, 0.5), (0.6, 0.6))
    expect(annotations).to_have_count(2)
    comment_text = focused(page)
    expect(comment_text).to_have_attribute("data-field", "annotation-text")
    page.keyboard.type("Bonne idée <b>mais</b> à justifier")
    mark = workspace.locator("[data-region='overlay'] [data-kind='comment']")
    expect(mark).to_have_text("Bonne idée <b>mais</b> à justifier")  # text, never markup
    width = mark.evaluate("node => node.getBoundingClientRect().width / node.parentNode.getBoundingClientRect().width")
    assert 0.45 < width < 0.55, width  # the box is as wide as it was dragged
    page.keyboard.press("Enter")
    expect(sheet).to_be_focused()
    # the comment goes to the bank (for the next copies)
    with page.expect_response(re.compile(r"/add_bank_comment/")):
        workspace.get_by_role("button", name="Add to bank: annotation 2").click()
    expect(workspace.locator("[data-region='grading-outcome']")).to_have_text("Added to the comment bank.")

    # --- page 2 with the keyboard: "]" turns the page, a tool letter, arrows move the cursor, Enter places
    sheet.focus()
    page.keyboard.press("]")
    sheet = workspace.get_by_role("application", name=re.compile(r"^Page 2 of"))
    expect(sheet).to_be_focused()
    expect(thumbs.nth(1)).to_have_attribute("aria-current", "page")
    expect(annotations).to_have_count(0)
    page.keyboard.press("x")
    expect(workspace.get_by_role("button", name="Cross")).to_have_attribute("aria-pressed", "true")
    for key in ["Home"] + ["ArrowRight"] * 5 + ["Shift+ArrowDown"] * 2:
        page.keyboard.press(key)
    expect(workspace.locator("[data-region='cursor-text']")).to_have_text("Cursor at 10 % across, 20 % down")
    page.keyboard.press("Enter")
    expect(annotations).to_have_count(1)
    expect(annotations.first).to_contain_text("Cross at 10 % across, 20 % down")
    page.keyboard.press("f")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")
    expect(focused(page)).to_have_attribute("data-field", "annotation-text")
    page.keyboard.type("Justifier le passage à la limite")
    page.keyboard.press("Enter")
    expect(sheet).to_be_focused()
    # the bank in two keystrokes: "b" opens it filtered on nothing, Enter inserts its first comment
    page.keyboard.press("b")
    expect(workspace.get_by_role("combobox", name="Filter the comments")).to_be_focused()
    bank = workspace.get_by_role("listbox", name="Comments of the bank")
    expect(bank.get_by_role("option").first).to_contain_text("Bonne idée <b>mais</b> à justifier")
    assert unnamed_controls(page, "[data-region='grading']") == []
    page.keyboard.press("Enter")
    expect(annotations).to_have_count(3)
    expect(sheet).to_be_focused()
    expect(bank).to_have_count(0)
    # a highlight, then the cross carries half a point of question q4
    page.keyboard.press("h")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")
    expect(annotations).to_have_count(4)
    # the highlight (40 % x 3 % at 10 %, 40 %) made longer and taller, then moved, from the keyboard
    highlight = workspace.locator("[data-region='annotations'] > li[data-kind='highlight']")
    highlight.get_by_role("button", name=re.compile(r"^Resize annotation \d+$")).focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    outcome = workspace.locator("[data-region='grading-outcome']")
    expect(outcome).to_have_text(re.compile(r"^Annotation \d+: 10 % across, 40 % down, 44 % wide, 5 % high$"))
    highlight.get_by_role("button", name=re.compile(r"^Move annotation \d+$")).focus()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowUp")
    expect(outcome).to_have_text(re.compile(r"^Annotation \d+: 20 % across, 38 % down, 44 % wide, 5 % high$"))
    mark = workspace.locator("[data-region='overlay'] [data-kind='highlight']")
    width = mark.evaluate("node => node.getBoundingClientRect().width / node.parentNode.getBoundingClientRect().width")
    assert abs(width - 0.44) < 0.01, width
    expect(highlight.get_by_role("button", name=re.compile(r"^Move annotation"))).to_be_focused()
    cross = workspace.locator("[data-region='annotations'] > li[data-kind='cross']")
    cross.get_by_role("combobox", name=re.compile(r"^Question of annotation")).select_option("q4")
    cross_points = cross.get_by_role("textbox", name=re.compile(r"^Points of annotation"))
    cross_points.fill("0.3")
    expect(cross_points).to_have_attribute("aria-invalid", "true")
    expect(cross).to_contain_text("Use steps of 0.25 points.")
    cross_points.fill("0.5")
    expect(cross_points).not_to_have_attribute("aria-invalid", "true")
    expect(workspace.locator("[data-region='overlay'] [data-kind='cross']")).to_have_text("✗0.5 pt")

    # --- points, checked as they are typed; invalid values are shown, never sent
    def points_field(question_id):
        return workspace.locator(f"[data-field='points'][data-question='{question_id}']")

    total = workspace.locator("[data-region='total']")
    field = points_field("q3")
    field.fill("7")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(workspace.locator("#" + field.get_attribute("aria-describedby"))).to_have_text("At most 3 points.")
    field.fill("2.3")
    expect(workspace.locator("#" + field.get_attribute("aria-describedby"))).to_have_text("Use steps of 0.5 points.")
    expect(total).to_have_text("Total: 0 / 20")
    for question_id, value in POINTS.items():
        if question_id != "q6":  # left blank for now
            points_field(question_id).fill(value)
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(total).to_have_text("Total: 11.75 / 20")
    workspace.locator("[data-field='question-comment'][data-question='q5']").fill("Figure soignée")
    workspace.get_by_role("textbox", name="General comment").fill("Copie sérieuse.")
    expect(status).to_have_text(re.compile(r"^Saved at "), timeout=15_000)

    # --- meanwhile an instructor opens the same copy: told who holds it, read-only, may force the release
    with second_page(chromium, browser_errors) as other_page:
        open_dashboard(other_page, host, INSTRUCTOR)
        other_workspace = open_copy(other_page, code)
        expect_held_by_grader(other_workspace)
        expect(other_workspace.get_by_role("button", name="Force release")).to_be_visible()
        expect(other_workspace.locator("[data-field='points'][data-question='q2']")).to_have_value("1.5")
        assert unnamed_controls(other_page, "[data-region='grading']") == []

    # --- the browser page reloads mid-way: the work comes back from the server
    page.reload()
    workspace = open_copy(page, code)
    expect(workspace).to_have_attribute("data-editable", "true")
    expect(annotations).to_have_count(2)  # page 1: the tick and the comment box
    expect(workspace.locator("[data-region='overlay'] [data-kind='comment']")).to_have_text(
        "Bonne idée <b>mais</b> à justifier")
    for question_id, value in POINTS.items():
        expect(points_field(question_id)).to_have_value("" if question_id == "q6" else value)
    expect(workspace.get_by_role("textbox", name="General comment")).to_have_value("Copie sérieuse.")
    workspace.get_by_role("button", name="Page 2", exact=True).click()
    expect(annotations).to_have_count(4)
    expect(workspace.locator("[data-region='annotations'] > li[data-kind='cross'] [data-field='annotation-points']")
           ).to_have_value("0.5")

    # --- finalize: refused while a question has no points, then the copy becomes graded with its PDF
    finalize = workspace.get_by_role("button", name="Finalize")
    finalize.click()
    outcome = workspace.locator("[data-region='grading-outcome']")
    expect(outcome).to_contain_text("Not finalized: points are missing for")
    expect(outcome).to_contain_text("Exercice 4 : fonction exponentielle")
    expect(points_field("q6")).to_be_focused()
    page.keyboard.type(POINTS["q6"])
    expect(total).to_have_text("Total: 13.75 / 20")
    finalize.click()  # confirmed first
    workspace.get_by_role("alertdialog", name=f"Finalize copy {code}?").get_by_role("button", name="Yes, finalize").click()
    expect(workspace).to_have_attribute("data-copy-state", "graded", timeout=30_000)
    expect(workspace.locator("[data-region='grading-state']")).to_have_text("State: Graded")
    expect(workspace).to_have_attribute("data-editable", "false")
    pdf_link = workspace.get_by_role("link", name=f"Graded PDF of copy {code}")
    expect(pdf_link).to_be_visible()
    pdf = page.request.get(host.base_url + pdf_link.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")

    saved = copy_in_db(host, code)
    assert saved["state"] == "graded"
    assert saved["graded_pdf_name"]
    assert saved["points"] == POINTS
    assert saved["general_comment"] == "Copie sérieuse."
    kinds = [(kind, position) for kind, position, _text in saved["annotations"]]
    assert sorted(kinds) == sorted([("tick", 1), ("comment", 1), ("cross", 2), ("text", 2), ("comment", 2),
                                    ("highlight", 2)])
    assert saved["boxes"] == {"highlight": [0.2, 0.38, 0.44, 0.05]}
    texts = {text for _kind, _position, text in saved["annotations"]}
    assert {"Bonne idée <b>mais</b> à justifier", "Justifier le passage à la limite"} <= texts

    # an instructor reopens the graded copy: it can be edited again
    with second_page(chromium, browser_errors) as other_page:
        open_dashboard(other_page, host, INSTRUCTOR)
        other_workspace = open_copy(other_page, code)
        expect(other_workspace.get_by_role("button", name="Finalize")).to_have_count(0)
        other_workspace.get_by_role("button", name="Reopen").click()
        expect(other_workspace).to_have_attribute("data-copy-state", "reopened")
        expect(other_workspace).to_have_attribute("data-editable", "true")
        expect(other_workspace.locator("[data-field='points'][data-question='q6']")).to_have_value(POINTS["q6"])
        other_workspace.get_by_role("button", name="Close the copy").click()
    assert copy_in_db(host, code)["state"] == "reopened"

    # closing the workspace gives the focus back to the list
    workspace.get_by_role("button", name="Close the copy").click()
    expect(workspace).to_be_hidden()
    expect(page.get_by_role("button", name=f"Open copy {code}")).to_be_focused()


def test_a_second_grader_is_told_who_holds_the_copy(page, chromium, fresh_demo_host, demo_facts, browser_errors):
    host = fresh_demo_host
    free, given = ready_copy(demo_facts, ""), ready_copy(demo_facts, GRADER)
    browser_errors.allow_http(409, "/acquire_lease")
    workspace = grade_as_grader(page, host, free)

    with second_page(chromium, browser_errors) as other_page:
        open_dashboard(other_page, host, OTHER_GRADER)
        other_workspace = open_copy(other_page, free)
        expect_held_by_grader(other_workspace)
        expect(other_workspace.get_by_role("button", name="Force release")).to_have_count(0)  # instructors only
        assert unnamed_controls(other_page, "[data-region='grading']") == []
        # a copy given to staff_1 is not staff_2's to open: the list offers no Open button for it
        expect(other_page.get_by_role("row", name=re.compile(rf"^{given} ")).get_by_role("button")).to_have_count(0)
        expect(other_page.get_by_role("button", name=re.compile(r"^Open copy "))).to_have_count(
            sum(1 for copy in demo_facts.copies if copy["grader"] in ("", OTHER_GRADER)))

    # staff_1 goes on to a neighbouring copy without the list: the lease of this one is given back
    grading = page.locator("[data-region='grading']")
    step = workspace.get_by_role("button", name="Next copy")
    if step.is_disabled():
        step = workspace.get_by_role("button", name="Previous copy")
    with page.expect_response(re.compile(r"/release_lease/")) as released:
        step.click()
    assert released.value.json() == {"released": True}
    title = grading.locator("[data-region='grading-title']")
    expect(title).to_have_text(re.compile(r"^Copy \w+$"))
    expect(title).not_to_have_text(f"Copy {free}")
    # codes are random: the neighbour may be a copy staff_1 already graded (read-only, no lease)
    neighbour = title.inner_text().split()[-1]
    state = next(copy["state"] for copy in demo_facts.copies if copy["code"] == neighbour)
    editable = state in ("ready", "in_progress", "reopened")
    expect(grading).to_have_attribute("data-editable", "true" if editable else "false")
    if editable:  # and closes it: its lease is given back too
        with page.expect_response(re.compile(r"/release_lease/")) as released:
            grading.get_by_role("button", name="Close the copy").click()
        assert released.value.json() == {"released": True}
    else:
        grading.get_by_role("button", name="Close the copy").click()
    expect(grading).to_be_hidden()


def test_a_lost_lease_and_a_stale_draft_stop_the_page_and_reload_loses_nothing(
        page, chromium, fresh_demo_host, demo_facts, browser_errors):
    host = fresh_demo_host
    code = ready_copy(demo_facts, GRADER)
    browser_errors.allow_http(409, "/acquire_lease")
    browser_errors.allow_http(409, "/save_draft")
    workspace = grade_as_grader(page, host, code)
    status = workspace.locator("[data-region='save-status']")
    q2 = workspace.locator("[data-field='points'][data-question='q2']")
    q3 = workspace.locator("[data-field='points'][data-question='q3']")
    q2.fill("1")
    expect(status).to_have_text(re.compile(r"^Saved at "))

    # --- the network drops: the change stays on the page and in this browser, retried less and less often
    page.context.set_offline(True)
    q3.fill("0.5")
    expect(status).to_have_text("Not saved — retrying in 2 s. Your work is kept in this browser.")
    expect(status).to_have_text(re.compile(r"^Not saved — retrying in 4 s\."), timeout=10_000)
    page.context.set_offline(False)
    expect(status).to_have_text(re.compile(r"^Saved at "), timeout=15_000)
    assert copy_in_db(host, code)["points"] == {"q2": "1", "q3": "0.5"}
    # Chromium reports each request the offline browser could not send; those, and only those, are expected
    browser_errors.errors = [error for error in browser_errors.errors if "ERR_INTERNET_DISCONNECTED" not in error]

    # --- an instructor forces the lease away and takes the copy: the grader's next save is refused
    with second_page(chromium, browser_errors) as other_page:
        open_dashboard(other_page, host, INSTRUCTOR)
        other_workspace = open_copy(other_page, code)
        expect_held_by_grader(other_workspace)
        other_workspace.get_by_role("button", name="Force release").click()
        expect(other_workspace).to_have_attribute("data-editable", "true")

        q3.fill("2")
        alert = workspace.locator("[data-region='grading-alert']")
        expect(alert).to_contain_text("You no longer hold this copy")
        expect(status).to_have_text("Not saved: your lease on this copy was lost.")
        expect(workspace).to_have_attribute("data-editable", "false")
        expect(q3).to_be_disabled()
        expect(q3).to_have_value("2")  # still on screen
        other_workspace.get_by_role("button", name="Close the copy").click()
        expect(other_workspace).to_be_hidden()

    # Reload takes the copy again; the change the server refused comes back from this browser and is saved
    with page.expect_response(re.compile(r"/acquire_lease/")):
        workspace.get_by_role("button", name="Reload").click()
    expect(workspace).to_have_attribute("data-editable", "true")
    expect(workspace.locator("[data-region='grading-outcome']")).to_have_text(
        "Changes not yet saved from this browser were restored.")
    expect(q3).to_have_value("2")
    expect(status).to_have_text(re.compile(r"^Saved at "))
    assert copy_in_db(host, code)["points"] == {"q2": "1", "q3": "2"}

    # --- a second tab of the same grader shares the lease; the older tab's next save is stale
    second = page.context.new_page()
    second.on("console", browser_errors.on_console)
    second.on("pageerror", browser_errors.on_page_error)
    open_dashboard(second, host, GRADER)
    second_workspace = open_copy(second, code)
    expect(second_workspace).to_have_attribute("data-editable", "true")
    second_workspace.get_by_role("textbox", name="General comment").fill("Vu dans le second onglet.")
    expect(second_workspace.locator("[data-region='save-status']")).to_have_text(re.compile(r"^Saved at "))
    second.close()

    workspace.get_by_role("textbox", name="General comment").fill("Écrit dans le premier onglet.")
    expect(workspace.locator("[data-region='grading-alert']")).to_contain_text("changed in another window or tab")
    expect(status).to_have_text("Not saved: this copy was saved from another window.")
    expect(workspace).to_have_attribute("data-editable", "false")
    workspace.get_by_role("button", name="Reload").click()
    expect(workspace.get_by_role("textbox", name="General comment")).to_have_value("Vu dans le second onglet.")
    expect(workspace).to_have_attribute("data-editable", "true")
    assert copy_in_db(host, code)["general_comment"] == "Vu dans le second onglet."


#: run by ``manage.py shell``: where the scan of the copy (COPY_CODE) is stored on this host
SCAN_PATH_SCRIPT = """
from viatique_xblock.models import Copy
from viatique_xblock.platform import storage
copy = Copy.objects.get(anonymous_code=COPY_CODE)
print(storage.get_storage().path(copy.pages.filter(discarded=False).first().batch.file_name))
"""


def test_a_graded_pdf_that_cannot_be_made_is_shown_with_its_reason_and_retried(
        page, fresh_demo_host, demo_facts, browser_errors):
    """No mock: the copy's scan is damaged in the storage when the copy is finalized, so the render
    fails for real; once the file is back, Retry makes the graded PDF."""
    host = fresh_demo_host
    code = ready_copy(demo_facts, GRADER)
    scan = pathlib.Path(host.manage("shell", "-v", "0", "-c", f"COPY_CODE = {code!r}\n" + SCAN_PATH_SCRIPT)
                        .strip().splitlines()[-1])
    original = scan.read_bytes()
    workspace = grade_as_grader(page, host, code)
    for question_id, value in POINTS.items():
        workspace.locator(f"[data-field='points'][data-question='{question_id}']").fill(value)
    expect(workspace.locator("[data-region='save-status']")).to_have_text(re.compile(r"^Saved at "), timeout=15_000)
    scan.write_bytes(b"%PDF-1.7 damaged in the storage")
    try:
        workspace.get_by_role("button", name="Finalize").click()
        workspace.get_by_role("button", name="Yes, finalize").click()
        expect(workspace).to_have_attribute("data-copy-state", "render_failed", timeout=30_000)
        expect(workspace.locator("[data-region='grading-state']")).to_have_text(
            "State: The graded PDF could not be made")
        outcome = workspace.locator("[data-region='grading-outcome']")
        expect(outcome).to_contain_text("The graded PDF could not be made: ")
        assert str(scan) not in outcome.inner_text()  # no server path in what staff read
        expect(workspace.get_by_role("link", name=f"Graded PDF of copy {code}")).to_have_count(0)
        saved = copy_in_db(host, code)
        assert (saved["state"], saved["graded_pdf_name"]) == ("render_failed", "")
        assert saved["points"] == POINTS  # nothing of the grading is lost
    finally:
        scan.write_bytes(original)
    retry = workspace.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    retry.click()
    expect(workspace).to_have_attribute("data-copy-state", "graded", timeout=30_000)
    expect(workspace.locator("[data-region='grading-state']")).to_have_text("State: Graded")
    expect(workspace.get_by_role("link", name=f"Graded PDF of copy {code}")).to_be_visible()
    assert copy_in_db(host, code)["state"] == "graded"
