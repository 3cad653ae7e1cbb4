"""The question layout editor (issue 14): an instructor draws a question's box with the mouse on a page of
the first scanned copy, in the Studio editor and in the dashboard's Settings screen, saves, opens it again
and finds it; the same with the keyboard alone (typed pages and edges); axe-core finds no WCAG 2.1 A/AA
violation in the editor's states.

The demo exam's q6 ("Exercice 4 : fonction exponentielle", Question 4) has no layout; its copies have 4 pages.
"""
import re

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import EMPTY_SCENARIO
from .test_studio_editor import focused, open_editor, save, tab_to

pytestmark = pytest.mark.browser

Q6 = "Question 4: Exercice 4 : fonction exponentielle"
EDGES = ("Left edge", "Top edge", "Right edge", "Bottom edge")


def leaf(scheme, question_id):
    def walk(nodes):
        for node in nodes:
            if node.get("id") == question_id:
                return node
            found = walk(node.get("children") or [])
            if found:
                return found
        return None
    return walk(scheme["questions"])


def edges(scope):
    return [float(scope.get_by_label(name, exact=True).input_value()) for name in EDGES]


def draw(page, surface, start, end):
    """Drag the mouse on ``surface`` from ``start`` to ``end`` (fractions of its width and height)."""
    surface.scroll_into_view_if_needed()
    box = surface.bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + (start[0] + end[0]) / 2 * box["width"], box["y"] + (start[1] + end[1]) / 2 * box["height"],
                    steps=4)
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=4)
    page.mouse.up()


def reference_shown(scope, number):
    image = scope.get_by_role("img", name=f"Page {number} of the first scanned copy")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 100, "the page image was served"
    return image


def test_an_instructor_draws_a_box_with_the_mouse_saves_and_finds_it_again(page, fresh_demo_host):
    open_editor(page, fresh_demo_host)
    layout = page.locator("[data-region='layout']")
    assert_accessible(page, state="(Studio editor with the question layout)")
    layout.get_by_label("Question", exact=True).select_option(label=Q6)
    status = layout.locator("[data-region='layout-status']")
    expect(status).to_have_text(f"{Q6}: Whole copy")
    pages = layout.get_by_label("Pages of its answer")
    pages.fill("4")
    pages.press("Tab")
    expect(layout.get_by_label("Page shown")).to_have_value("4")
    reference_shown(layout, 4)

    surface = layout.locator("[data-region='layout-page']")
    draw(page, surface, (0.2, 0.3), (0.7, 0.6))
    drawn = edges(layout)
    assert all(abs(got - want) < 1 for got, want in zip(drawn, (20, 30, 70, 60))), drawn
    expect(layout.locator("[data-region='layout-box']")).to_be_visible()
    expect(status).to_contain_text(f"{Q6}: Page 4 — box on page 4")
    assert_accessible(page, state="(a box drawn)")

    body = save(page)
    stored = leaf(body["settings"]["marking_scheme"], "q6")["layout"]
    assert stored["pages"] == [4] and stored["box"]["page"] == 4
    assert [round(stored["box"][key] * 100, 2) for key in ("x0", "y0", "x1", "y1")] == drawn

    # opened again: the box is there, on its page
    open_editor(page, fresh_demo_host)
    layout.get_by_label("Question", exact=True).select_option(label=Q6)
    expect(layout.get_by_label("Pages of its answer")).to_have_value("4")
    expect(layout.get_by_label("Page shown")).to_have_value("4")
    reference_shown(layout, 4)
    assert edges(layout) == drawn
    shown = layout.locator("[data-region='layout-box']")
    expect(shown).to_be_visible()
    frame = surface.bounding_box()
    box = shown.bounding_box()
    assert abs((box["x"] - frame["x"]) / frame["width"] - drawn[0] / 100) < 0.01
    assert abs((box["y"] - frame["y"]) / frame["height"] - drawn[1] / 100) < 0.01
    assert abs(box["width"] / frame["width"] - (drawn[2] - drawn[0]) / 100) < 0.01


def test_the_layout_can_be_set_with_the_keyboard_alone(page, fresh_demo_host):
    open_editor(page, fresh_demo_host)
    layout = page.locator("[data-region='layout']")
    question = layout.get_by_label("Question", exact=True)
    tab_to(page, question)
    for _ in range(6):
        if question.evaluate("s => s.options[s.selectedIndex].text") == Q6:
            break
        page.keyboard.press("ArrowDown")
    expect(layout.locator("[data-region='layout-status']")).to_have_text(f"{Q6}: Whole copy")
    page.keyboard.press("Tab")
    expect(focused(page)).to_have_accessible_name("Pages of its answer")
    page.keyboard.type("3, 4")
    page.keyboard.press("Tab")
    expect(focused(page)).to_have_accessible_name("Page shown")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    reference_shown(layout, 3)
    # a box the wrong way round is refused where it was typed, and said
    for name, value in zip(EDGES, ("10", "20", "5", "50")):
        expect(focused(page)).to_have_accessible_name(name)
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    expect(layout.get_by_label("Right edge", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(layout.locator("[data-region='layout-status']")).to_contain_text("The box is empty")
    assert_accessible(page, state="(a box typed wrong)")
    right = layout.get_by_label("Right edge", exact=True)
    right.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("90")
    page.keyboard.press("Tab")
    expect(right).not_to_have_attribute("aria-invalid", "true")
    expect(layout.locator("[data-region='layout-status']")).to_contain_text(
        f"{Q6}: Pages 3, 4 — box on page 3: 10 to 90 % across, 20 to 50 % down")
    expect(layout.locator("[data-region='layout-box']")).to_be_visible()
    # Enter in a field submits the editor's form
    right.focus()
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        page.keyboard.press("Enter")
    body = response_info.value.json()
    assert leaf(body["settings"]["marking_scheme"], "q6")["layout"] == {
        "pages": [3, 4], "box": {"page": 3, "x0": 0.1, "y0": 0.2, "x1": 0.9, "y1": 0.5}}
    # the box removed with its button, by keyboard
    tab_to(page, layout.get_by_role("button", name="Remove the box"))
    page.keyboard.press("Enter")
    expect(layout.locator("[data-region='layout-box']")).to_be_hidden()
    expect(layout.locator("[data-region='layout-status']")).to_have_text(f"{Q6}: Pages 3, 4")


def test_instructors_draw_a_box_in_the_dashboard_settings(page, fresh_demo_host):
    page.goto(fresh_demo_host.url(student="instructor_1", screen="settings"))
    section = page.locator("[data-region='layout']")
    expect(section.get_by_role("heading", name="Where the answers are")).to_be_visible()
    section.get_by_label("Question", exact=True).select_option(label="Exercice 4 : fonction exponentielle")
    section.get_by_label("Pages of its answer").fill("2")
    section.get_by_label("Pages of its answer").press("Tab")
    reference_shown(section, 2)
    draw(page, section.locator("[data-region='layout-page']"), (0.1, 0.5), (0.9, 0.8))
    drawn = edges(section)
    assert_accessible(page, state="(dashboard settings with the question layout)")
    with page.expect_response(re.compile(r"/save_question_layout/")) as response_info:
        section.get_by_role("button", name="Save the layout").click()
    assert response_info.value.ok, response_info.value.text()
    expect(section.get_by_text("The layout was saved.")).to_be_visible()
    page.reload()
    section.get_by_label("Question", exact=True).select_option(label="Exercice 4 : fonction exponentielle")
    expect(section.get_by_label("Pages of its answer")).to_have_value("2")
    assert edges(section) == drawn


def test_before_any_scan_the_box_is_drawn_on_a_blank_page(page, fresh_demo_host, browser_errors):
    page.goto(fresh_demo_host.url("studio_view/", student="instructor_1", scenario=EMPTY_SCENARIO))
    layout = page.locator("[data-region='layout']")
    layout.get_by_label("Question", exact=True).select_option(label="Question 2: Question 2")
    blank = layout.get_by_text("Page 1: no copy has been scanned yet. Draw on this blank page.")
    expect(blank).to_be_visible()
    expect(layout.get_by_role("img")).to_have_count(0)
    draw(page, layout.locator("[data-region='layout-page']"), (0.25, 0.25), (0.75, 0.5))
    drawn = edges(layout)
    assert all(abs(got - want) < 1 for got, want in zip(drawn, (25, 25, 75, 50))), drawn
    # a click without a drag is no box: said, and the box drawn before stays
    surface = layout.locator("[data-region='layout-page']").bounding_box()
    page.mouse.click(surface["x"] + 10, surface["y"] + 10)
    expect(layout.locator("[data-region='layout-status']")).to_have_text(
        "The box is too small: drag from one corner to the opposite one.")
    assert edges(layout) == drawn
    assert_accessible(page, state="(the question layout on a blank page, before any scan)")
    body = save(page)
    assert body["settings"]["marking_scheme"]["questions"][1]["layout"]["box"]["page"] == 1


def test_a_layout_past_the_pages_per_copy_is_refused_on_its_question(page, fresh_demo_host, browser_errors):
    browser_errors.allow_http(400, "/studio_submit/")
    open_editor(page, fresh_demo_host)
    page.get_by_label("Pages per copy").fill("2")  # q5 "Exercice 3" has its answer on page 3
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        page.get_by_role("button", name="Save", exact=True).click()
    response = response_info.value
    assert response.status == 400
    (problem,) = response.json()["problems"]
    assert (problem["path"], problem["field"], problem["code"]) == (
        "marking_scheme.3", "layout", "layout_page_out_of_range")
    expect(page.get_by_role("alert")).to_contain_text(
        "Question “Exercice 3 : géométrie dans l'espace”: Page 3 is not a page of the copy: pages go from 1 to 2.")
    layout = page.locator("[data-region='layout']")
    question = layout.get_by_label("Question", exact=True)
    assert question.evaluate("s => s.options[s.selectedIndex].text") == \
        "Question 3: Exercice 3 : géométrie dans l'espace"
    expect(layout.get_by_label("Pages of its answer")).to_have_value("3")
    expect(layout.get_by_label("Pages of its answer")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, state="(a layout refused by the server)")
