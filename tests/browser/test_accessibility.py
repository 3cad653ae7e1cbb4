"""WCAG 2.1 A/AA in Chromium: axe-core finds no violation in the views and states a user goes through
(every screen of the instructor's and the grader's dashboards, the grader's workspace, Studio editor, release dialog); the release
dialog by keyboard only (where the focus lands, what the live region says); reflow at 320 px; a focus
indicator of 3:1 or more; targets of 24 x 24 px; Studio marks the field a problem is about and says
when the settings are saved.
"""
import re

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .test_grading import GRADER, grade_as_grader, ready_copy
from .test_results import graded_counts

pytestmark = pytest.mark.browser

INSTRUCTOR = "instructor_1"


def contrast(first, second):
    def luminance(rgb):
        channels = [value / 255 for value in rgb]
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb(css):
    return [int(part) for part in re.findall(r"\d+", css)[:3]]


#: the dashboard's screens each role has (graders have no Identification screen)
SCREENS = {INSTRUCTOR: ["scans", "identification", "grading", "results", "reports", "settings"],
           GRADER: ["scans", "grading", "results", "reports", "settings"]}


@pytest.mark.parametrize("student,screen", [(student, screen) for student, screens in SCREENS.items()
                                            for screen in screens])
def test_every_screen_of_the_dashboards_has_no_wcag_violation(page, demo_host, student, screen):
    page.goto(demo_host.url(student=student, screen=screen))
    expect(page.locator(f"[data-screen='{screen}']")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert_accessible(page, state=f"on the {screen} screen of {student}'s dashboard")


def test_grader_workspace_has_no_wcag_violation(page, fresh_demo_host, demo_facts):
    grade_as_grader(page, fresh_demo_host, ready_copy(demo_facts, GRADER))
    page.wait_for_load_state("networkidle")
    assert_accessible(page, state="in the grader's workspace")


def test_release_dialog_by_keyboard_only(page, fresh_demo_host, demo_facts):
    page.goto(fresh_demo_host.url(student=INSTRUCTOR, screen="results"))
    results = page.locator('[data-region="results"]')
    button = results.get_by_role("button", name="Release the results…")
    messages = results.locator('[data-region="release-messages"]')
    expect(messages).to_have_attribute("aria-live", "polite")  # in the page before it speaks
    expect(messages).to_have_text("")
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Release the results?")
    expect(dialog).to_be_visible()
    confirm = dialog.get_by_role("button", name="Release", exact=True)
    expect(confirm).to_be_focused()
    assert_accessible(page, state="with the release dialog open")
    # Escape: nothing released, the focus back on the button that opened the dialog
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    expect(messages).to_have_text("")
    # again, confirmed with Enter
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    graded, _ungraded, _unidentified = graded_counts(demo_facts)
    expect(messages).to_have_text(f"Results released: {graded} scores sent to the gradebook.")
    expect(dialog).to_be_hidden()
    unrelease = results.get_by_role("button", name="Unrelease the results…")
    expect(unrelease).to_be_focused()
    assert_accessible(page, state="after the release")


def test_focus_indicator_contrast_and_target_sizes(page, fresh_demo_host):
    page.goto(fresh_demo_host.url("studio_view/", student=INSTRUCTOR))
    save = page.get_by_role("button", name="Add a question")
    save.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard: :focus-visible
    expect(save).to_be_focused()
    style = save.evaluate("b => { const s = getComputedStyle(b); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }")
    assert style[0] == "solid" and float(style[1].rstrip("px")) >= 2
    assert contrast(rgb(style[2]), (255, 255, 255)) >= 3, style
    # every button of the scheme editor (move up, down, add a sub-question, remove) is 24 x 24 px or more
    buttons = page.locator('[data-region="scheme"] button')
    assert buttons.count() >= 4
    for index in range(buttons.count()):
        box = buttons.nth(index).bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, (buttons.nth(index).get_attribute("aria-label"), box)


@pytest.mark.parametrize("path,screen", [("", screen) for screen in SCREENS[INSTRUCTOR]] + [("studio_view/", None)])
def test_reflow_at_320_px(page, demo_host, path, screen):
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(demo_host.url(path, student=INSTRUCTOR, screen=screen))
    if screen:
        expect(page.locator(f"[data-screen='{screen}']")).to_be_visible()
    page.wait_for_load_state("networkidle")
    block = page.locator(".viatique-block").first
    right = block.bounding_box()["x"] + block.bounding_box()["width"]
    assert right <= 320
    beyond = page.evaluate("""right => Array.from(document.querySelectorAll('.viatique-block *'))
      .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > right + 0.5
                   && !e.closest('.viatique-sr-only'))
      .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""", right)
    assert beyond == [], f"cut off or scrolled sideways at 320 px: {beyond[:10]}"


def test_studio_marks_the_field_at_fault_and_says_saved(page, fresh_demo_host, browser_errors):
    browser_errors.allow_http(400, "studio_submit")
    page.goto(fresh_demo_host.url("studio_view/", student=INSTRUCTOR))
    assert_accessible(page, state="in the Studio editor")
    maximum = page.get_by_role("textbox", name="Maximum of question 1.1")
    maximum.fill("")
    page.get_by_role("button", name="Save").click()
    errors = page.locator('[data-region="errors"]')
    expect(errors).to_contain_text("needs a maximum number of points")
    expect(maximum).to_have_attribute("aria-invalid", "true")
    label = page.locator('[data-field="label"][data-path="1.1"]')
    expect(label).not_to_have_attribute("aria-invalid", "true")
    assert_accessible(page, state="with the Studio editor's errors")
    maximum.fill("2,5")  # a decimal comma is a number too
    page.get_by_role("button", name="Save").click()
    # the maximum of the demo's graded copies changes: the change's impact is shown first, and confirmed
    impact = page.get_by_role("region", name="This change of the marking scheme changes graded copies")
    expect(impact).to_be_focused()
    expect(impact).to_contain_text("graded copies get a new graded PDF")
    assert_accessible(page, state="with the impact of a change of the marking scheme")
    confirm = impact.get_by_role("button", name="Save and apply this change")
    box = confirm.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    confirm.click()
    expect(page.locator('[data-region="saved"]')).to_have_text("Settings saved.")
    expect(impact).to_be_hidden()
    expect(errors).to_be_hidden()
    expect(page.get_by_role("textbox", name="Maximum of question 1.1")).to_have_value("2.5")
