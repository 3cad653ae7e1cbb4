"""The full-window grading workspace in Chromium (the block's ``workspace`` handler, a page of its own).

- It opens in a tab of its own from the copy list's "Full window" link; at 1366 x 768 the page image and
  every points field are in view and the window does not scroll; axe-core finds no WCAG 2.1 A/AA
  violation in each of its states (loaded, tool chosen, annotation placed, points error, list of shortcuts
  open, finalize being confirmed, lease lost); keys typed on a button do not choose a tool; the first Tab
  stop skips to the page.
- A keyboard-only grader grades three copies one after the other (skip to the page, a tick placed with
  keys, the points typed, finalize confirmed, "n" for the next copy), and the live regions said exactly
  what the test lists, once each; the next copy's first page was fetched ahead.
"""
import re

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import launch_chromium  # noqa: F401  (the fixtures' browser)

pytestmark = pytest.mark.browser

GRADER = "staff_1"
FOCUS_VIEWPORT = {"width": 1366, "height": 768}
SCOPE = ".viatique-focus"
#: points of the demo scheme's leaf questions, in the order of the points panel
POINTS = [("q2", "1.5"), ("q3", "2.5"), ("q4", "3.75"), ("q5", "4"), ("q6", "2")]
TOTAL = "13.75"

#: records, in ``window.__heard``, every text a live region of the page says (a status or an alert):
#: the text of its first paragraph (an alert's buttons are not part of what it says), each change once
HEARD_SCRIPT = """
window.__heard = [];
document.addEventListener('DOMContentLoaded', () => {
  const last = new WeakMap();
  const live = '[role=status], [role=alert], [aria-live]:not([aria-live=off])';
  new MutationObserver(records => {
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const region = node && node.closest(live);
      if (!region) { continue; }
      const text = ((region.matches('[role=alert]') && region.querySelector('p')) || region).textContent.trim();
      if (text && last.get(region) !== text) { window.__heard.push(text); }
      last.set(region, text);
    }
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
});
"""


def heard(page):
    return page.evaluate("() => window.__heard.slice()")


def clear_heard(page):
    page.evaluate("() => { window.__heard.length = 0; }")


@pytest.fixture
def focus_page(chromium, browser_errors, request):
    """A Chromium page at 1366 x 768 that records what the live regions say."""
    from .conftest import PAGE_KEY, new_page

    context, page = new_page(chromium, browser_errors, FOCUS_VIEWPORT, init_script=HEARD_SCRIPT)
    request.node.stash[PAGE_KEY] = page
    yield page
    context.close()


def handler_url(page, host, name, student=GRADER):
    """The URL of the demo exam's handler ``name`` in the workbench, for ``student`` (the usage id read from
    the copy list's "Full window" links, as the dashboard makes them)."""
    with page.expect_response(re.compile(r"/list_copies/")):
        page.goto(host.url(student=GRADER, screen="grading"))
    href = page.locator("[data-action='open-workspace']").first.get_attribute("href")
    usage = re.match(r"^/handler/([^/]+)/workspace/", href).group(1)
    return f"{host.base_url}/handler/{usage}/{name}/?student={student}"


def open_from_dashboard(page, host, code):
    """The copy list's "Full window" link of ``code`` (on the grader's dashboard, which ``page`` shows) opens
    the workspace in a new tab; returns that tab."""
    link = page.get_by_role("link", name=f"Full window: copy {code} (new tab)")
    expect(link).to_have_attribute("target", "_blank")
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    expect(tab.get_by_role("heading", name=f"Copy {code}")).to_be_focused()
    expect(tab.locator(SCOPE)).to_be_visible()
    return tab


def in_view(page, locator):
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and \
        box["x"] + box["width"] <= size["width"] + 0.5 and box["y"] + box["height"] <= size["height"] + 0.5


def test_workspace_fits_1366x768_and_is_accessible_in_each_state(fresh_demo_host, demo_facts, focus_page,
                                                                     browser_errors):
    host = fresh_demo_host
    page = focus_page
    browser_errors.allow_http(409, "/save_draft")  # the lease forced away: the next save is refused, on purpose
    code = next(copy["code"] for copy in demo_facts.copies if copy["grader"] == "" and copy["state"] == "ready")
    force_release = handler_url(page, host, "force_release_lease", student="instructor_1")
    tab = open_from_dashboard(page, host, code)
    tab.on("console", browser_errors.on_console)
    tab.on("pageerror", browser_errors.on_page_error)
    focus = tab.locator(SCOPE)
    expect(focus.locator("[data-region='grading']")).to_have_attribute("data-editable", "true")
    expect(tab).to_have_title(re.compile(r"^Grading · "))

    # --- 1366 x 768: the page and every points field in view, the window does not scroll
    sheet = tab.get_by_role("application", name=re.compile(r"^Page 1 of \d+$"))
    expect(tab.locator("[data-region='page-image']")).to_be_visible()
    tab.wait_for_function("() => document.querySelector('[data-region=page-image]').complete")
    assert in_view(tab, sheet), sheet.bounding_box()
    for question, _points in POINTS:
        assert in_view(tab, tab.locator(f"[data-field='points'][data-question='{question}']")), question
    assert in_view(tab, tab.locator("[data-region='total']"))
    assert tab.evaluate("() => document.scrollingElement.scrollHeight <= window.innerHeight")
    assert tab.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")
    assert tab.locator("[role=application][aria-readonly]").count() == 0
    assert_accessible(tab, SCOPE, "(loaded)")

    # --- the first Tab stop after the copy's heading skips to the page
    tab.keyboard.press("Tab")
    expect(tab.get_by_role("button", name="Skip to the page")).to_be_focused()
    tab.keyboard.press("Enter")
    expect(sheet).to_be_focused()

    # --- a key typed on a button is not a shortcut: "x" on "Next copy" chooses no tool
    tab.get_by_role("button", name="Next copy").focus()
    tab.keyboard.press("x")
    expect(tab.get_by_role("button", name="Cross")).to_have_attribute("aria-pressed", "false")
    expect(focus.locator("[data-region='grading']")).to_have_attribute("data-copy-id", re.compile(r"\S"))

    # --- a tool chosen on the page is told
    sheet.focus()
    tab.keyboard.press("t")
    expect(tab.get_by_role("button", name="Tick", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(focus.locator("[data-region='announce-status']")).to_have_text("Tool: Tick.")
    assert_accessible(tab, SCOPE, "(tool chosen)")
    tab.keyboard.press("Enter")
    expect(focus.locator("[data-region='announce-status']")).to_have_text("Tick placed on page 1.")
    add_to_bank = tab.get_by_role("button", name="Add to bank: annotation 1")
    expect(add_to_bank).to_have_text("Add to bank")  # the name starts with what the button shows
    assert_accessible(tab, SCOPE, "(annotation placed)")

    # --- a points error: shown beside the field, and told once the typing stops
    tab.keyboard.press("m")
    field = tab.locator("[data-field='points'][data-question='q2']")
    expect(field).to_be_focused()
    tab.keyboard.type("9")
    expect(field).to_have_attribute("aria-invalid", "true")
    error = tab.locator("#" + field.get_attribute("aria-describedby"))
    expect(error).to_have_text("At most 2 points.")
    expect(focus.locator("[data-region='announce-alert']")).to_have_text("At most 2 points.")
    assert_accessible(tab, SCOPE, "(points error)")
    tab.keyboard.press("Backspace")

    # --- the list of shortcuts: a dialog, Escape gives the focus back
    tab.keyboard.press("Escape")  # from a field: back to the page
    expect(sheet).to_be_focused()
    tab.keyboard.press("?")
    dialog = tab.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    for text in ("Next or previous copy", "Zoom in, zoom out", "Whole page (fit the page)", "Go to the points",
                 "Apply or remove the rubric item of that number (0: the tenth)",
                 "Finalize", "Back to the dashboard", "Show or hide this list"):
        expect(dialog).to_contain_text(text)
    expect(dialog.get_by_role("checkbox", name="Use single-key shortcuts")).to_be_checked()
    assert_accessible(tab, SCOPE, "(list of shortcuts open)")
    tab.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(sheet).to_be_focused()

    # --- finalize is confirmed first (Ctrl+Enter), Escape takes it back
    for question, points in POINTS:
        tab.locator(f"[data-field='points'][data-question='{question}']").fill(points)
    expect(tab.locator("[data-region='total']")).to_have_text(f"Total: {TOTAL} / 20")
    tab.keyboard.press("Control+Enter")
    confirm = tab.get_by_role("alertdialog", name=f"Finalize copy {code}?")
    expect(confirm).to_contain_text(f"Total: {TOTAL} / 20. Once finalized, only an instructor can reopen it.")
    expect(confirm.get_by_role("button", name="Yes, finalize")).to_be_focused()
    assert_accessible(tab, SCOPE, "(finalize being confirmed)")
    tab.keyboard.press("Escape")
    expect(confirm).to_have_count(0)

    # --- the lease forced away by an instructor: the next save is refused and the workspace says so
    forced = tab.evaluate("""async ([url]) => {
      const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
      const response = await fetch(url, {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
        body: JSON.stringify({copy_id: new URL(location.href).searchParams.get('copy')})});
      return [response.status, await response.json()];
    }""", [force_release])
    assert forced == [200, {"released": True}]
    tab.get_by_role("textbox", name="General comment").fill("Bien.")
    alert = focus.locator("[data-region='grading-alert']")
    expect(alert).to_contain_text("You no longer hold this copy", timeout=15_000)
    expect(focus.locator("[data-region='grading']")).to_have_attribute("data-editable", "false")
    assert_accessible(tab, SCOPE, "(lease lost)")


def test_keyboard_only_grader_grades_three_copies_and_hears_each_message_once(fresh_demo_host, demo_facts,
                                                                             focus_page):
    host = fresh_demo_host
    page = focus_page
    mine = {copy["code"] for copy in demo_facts.copies if copy["grader"] in ("", GRADER)}
    ready = {copy["code"] for copy in demo_facts.copies if copy["code"] in mine and copy["state"] == "ready"}
    # "n" goes on by code among the copies the grader may open (a copy graded already is passed with "n" again)
    path = sorted(mine)
    codes = [code for code in path if code in ready][:3]
    path = path[path.index(codes[0]):]
    assert len(codes) == 3, path

    workspace = handler_url(page, host, "workspace")  # (the grader's dashboard is on screen now)
    href = page.get_by_role("link", name=f"Full window: copy {codes[0]} (new tab)").get_attribute("href")
    assert href.startswith(workspace.removeprefix(host.base_url)) and "&copy=" in href
    page.goto(host.base_url + href)  # a new document: nothing heard yet
    focus = page.locator(SCOPE)
    previous = None
    for number, code in enumerate(codes):
        passed = path[path.index(previous) + 1:path.index(code)] if previous else []
        for other in passed:  # graded already: on to the next
            expect(page.get_by_role("heading", name=f"Copy {other}")).to_be_focused(timeout=15_000)
            clear_heard(page)
            page.keyboard.press("n")
        heading = page.get_by_role("heading", name=f"Copy {code}")
        expect(heading).to_be_focused(timeout=15_000)
        expect(focus.locator("[data-region='grading']")).to_have_attribute("data-editable", "true")
        pages = int(re.search(r"of (\d+)$", page.get_by_role("application").get_attribute("aria-label")).group(1))
        if previous and not passed:  # the page on screen came from memory: fetched while the previous was graded
            expect(page.locator("[data-region='page-image']")).to_have_attribute("src", re.compile(r"^blob:"))
        previous = code
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # Skip to the page
        expect(page.get_by_role("application")).to_be_focused()
        page.keyboard.press("t")
        page.keyboard.press("Enter")
        page.keyboard.press("m")
        if number == 0:  # a mistake first: told once, after the typing
            page.keyboard.type("9")
            expect(focus.locator("[data-region='announce-alert']")).to_have_text("At most 2 points.")
            page.keyboard.press("Backspace")
        for index, (question, points) in enumerate(POINTS):
            expect(page.locator(f"[data-field='points'][data-question='{question}']")).to_be_focused()
            page.keyboard.type(points)
            if index < len(POINTS) - 1:
                page.keyboard.press("Tab")  # the question's comment
                page.keyboard.press("Tab")  # the next question's points
        page.keyboard.press("Control+Enter")
        expect(page.get_by_role("button", name="Yes, finalize")).to_be_focused()
        page.keyboard.press("Enter")
        expect(focus.locator("[data-region='grading']")).to_have_attribute("data-copy-state", "graded",
                                                                          timeout=30_000)
        expect(focus.locator("[data-region='announce-status']")).to_have_text("Graded: the graded PDF is ready.")
        expected = [f"Ready. {pages} pages. Total: 0 / 20.", "Tool: Tick.", "Tick placed on page 1."]
        if number == 0:
            expected.append("At most 2 points.")
        expected += ["Finalized. The graded PDF is being made…", "Graded: the graded PDF is ready."]
        assert heard(page) == expected, (code, heard(page))
        clear_heard(page)
        if number < len(codes) - 1:
            page.keyboard.press("n")

    for code in codes:
        saved = host.manage("shell", "-v", "0", "-c",
                            "from viatique_xblock.models import Annotation, Copy\n"
                            f"copy = Copy.objects.get(anonymous_code={code!r})\n"
                            "print(copy.grading_state, copy.total_points.normalize(),"
                            " Annotation.objects.filter(copy=copy).count())")
        assert saved.strip().splitlines()[-1] == f"graded {TOTAL} 1", (code, saved)
