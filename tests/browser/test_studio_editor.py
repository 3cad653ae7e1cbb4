"""The Studio editor of the demo exam: validation shown to the author, stable ids, keyboard use.

Every test here saves settings, so each gets a demo host of its own (``fresh_demo_host``),
seeded with the demo scheme: q1 "Exercice 1 : suites" (group of q2 and q3), q4, q5, q6; total 20.
"""
import re

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

DEMO_IDS = {"q1", "q2", "q3", "q4", "q5", "q6"}


def open_editor(page, host):
    page.goto(host.url("studio_view/", student="instructor_1"))
    expect(page.locator(".viatique-question-row")).to_have_count(6)
    expect(total(page)).to_have_text("Total: 20 points")


def total(page):
    return page.locator("[data-region='total']")


def label_input(page, number):
    """The label input of "Question <number>" (``number`` like "2" or "1.2")."""
    return page.get_by_role("textbox", name=f"Question {number}", exact=True)


def row(page, number):
    return page.locator(".viatique-question-row").filter(has=label_input(page, number))


def question_id(page, number):
    return row(page, number).locator(".viatique-qid")


def save(page, confirm=False):
    """Submit (first save of this page load) and wait until the editor marks the block saved. ``confirm``: the
    change touches graded copies of the demo exam, so its impact is shown first and confirmed."""
    expect(saved_mark(page)).to_have_count(0)
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        page.get_by_role("button", name="Save", exact=True).click()
        if confirm:
            impact = page.get_by_role("region", name="This change of the marking scheme changes graded copies")
            expect(impact).to_be_focused()
            impact.get_by_role("button", name="Save and apply this change").click()
    assert response_info.value.ok, response_info.value.text()
    expect(saved_mark(page)).to_have_count(1)
    return response_info.value.json()


def saved_mark(page):
    return page.locator("[data-saved]")


def tab_to(page, locator, limit=150):
    """Press Tab until ``locator`` has the focus (the keyboard path a user would take)."""
    expect(locator).to_be_visible()
    for _ in range(limit):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{locator} cannot be reached with Tab")


def focused(page):
    return page.locator("*:focus")


def test_malformed_scheme_is_refused_with_visible_messages_and_nothing_saved(page, fresh_demo_host, browser_errors):
    browser_errors.allow_http(400, "/studio_submit/")
    open_editor(page, fresh_demo_host)
    alert = page.get_by_role("alert")
    expect(alert).to_be_hidden()

    row(page, "2").get_by_label("Maximum").fill("-2")  # "Exercice 2 : probabilités"
    row(page, "1.2").get_by_label("Step").fill("0.4")  # "1. b) Récurrence": maximum 3
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        page.get_by_role("button", name="Save", exact=True).click()

    response = response_info.value
    assert response.status == 400
    body = response.json()
    assert body["error"] == "invalid_settings"
    assert sorted(problem["path"] for problem in body["problems"]) == ["marking_scheme.1.2", "marking_scheme.2"]
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("The settings were not saved")
    expect(alert.get_by_role("listitem")).to_have_count(2)
    expect(alert).to_contain_text(
        "Question “Exercice 2 : probabilités” has a maximum of -2: a maximum must be greater than zero.")
    expect(alert).to_contain_text("Question “1. b) Récurrence”: the step 0.4 does not divide the maximum 3")
    expect(alert).to_be_focused()
    # the fields at fault are marked (the maximum of question 2, the step of question 1.2), not the labels
    expect(row(page, "2").get_by_label("Maximum")).to_have_attribute("aria-invalid", "true")
    expect(row(page, "1.2").get_by_label("Step")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[aria-invalid='true']")).to_have_count(2)
    # the author's edits are still in the form
    expect(row(page, "2").get_by_label("Maximum")).to_have_value("-2")

    page.reload()
    open_editor(page, fresh_demo_host)
    expect(row(page, "2").get_by_label("Maximum")).to_have_value("5")
    expect(row(page, "1.2").get_by_label("Step")).to_have_value("0.5")
    expect(page.locator("[aria-invalid]")).to_have_count(0)


def test_corrected_form_saves_and_clears_the_errors(page, fresh_demo_host, browser_errors):
    browser_errors.allow_http(400, "/studio_submit/")
    open_editor(page, fresh_demo_host)
    title = page.get_by_role("textbox", name="Title", exact=True)
    title.fill("")
    row(page, "3").get_by_label("Step").fill("0.7")  # maximum 6
    page.get_by_role("button", name="Save", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The title cannot be empty.")
    expect(alert).to_contain_text("the step 0.7 does not divide the maximum 6")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(row(page, "3").get_by_label("Step")).to_have_attribute("aria-invalid", "true")
    expect(label_input(page, "3")).not_to_have_attribute("aria-invalid", "true")

    title.fill("Bac blanc corrigé")
    row(page, "3").get_by_label("Step").fill("0.75")
    save(page, confirm=True)  # points of the demo's graded copies off the new step: listed, confirmed

    expect(alert).to_be_hidden()
    expect(page.locator("[aria-invalid]")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("textbox", name="Title", exact=True)).to_have_value("Bac blanc corrigé")
    expect(row(page, "3").get_by_label("Step")).to_have_value("0.75")


def test_renamed_and_moved_question_keeps_its_id(page, fresh_demo_host):
    open_editor(page, fresh_demo_host)
    expect(question_id(page, "3")).to_have_text("id q5")
    expect(question_id(page, "2")).to_have_text("id q4")

    label_input(page, "3").fill("Exercice 3 : géométrie")
    # the row's buttons are named after the label as typed
    move_up = page.get_by_role("button", name="Move “Exercice 3 : géométrie” up", exact=True)
    move_up.click()

    expect(label_input(page, "2")).to_have_value("Exercice 3 : géométrie")
    expect(question_id(page, "2")).to_have_text("id q5")
    expect(label_input(page, "3")).to_have_value("Exercice 2 : probabilités")
    expect(question_id(page, "3")).to_have_text("id q4")
    expect(move_up).to_be_focused()  # the keyboard user can move it again

    result = save(page)

    saved = result["settings"]["marking_scheme"]["questions"]
    assert [(node["id"], node["label"]) for node in saved[1:3]] == [
        ("q5", "Exercice 3 : géométrie"), ("q4", "Exercice 2 : probabilités")]
    for shown in ("after save", "after reload"):
        expect(label_input(page, "2"), shown).to_have_value("Exercice 3 : géométrie")
        expect(question_id(page, "2"), shown).to_have_text("id q5")
        expect(row(page, "2").get_by_label("Maximum"), shown).to_have_value("6")
        expect(label_input(page, "3"), shown).to_have_value("Exercice 2 : probabilités")
        expect(question_id(page, "3"), shown).to_have_text("id q4")
        expect(total(page), shown).to_have_text("Total: 20 points")
        page.reload()
    # the course page's marking scheme follows, ids attached to the same labels
    page.goto(fresh_demo_host.url(student="instructor_1"))
    expect(page.locator("th[data-question-id='q5']")).to_have_text("Exercice 3 : géométrie")
    expect(page.locator(".viatique-scheme tbody th")).to_have_text([
        "Exercice 1 : suites", "1. a) Conjecture", "1. b) Récurrence", "Exercice 3 : géométrie",
        "Exercice 2 : probabilités", "Exercice 4 : fonction exponentielle"])


def test_question_and_sub_question_added_with_keyboard_only_get_fresh_ids(page, fresh_demo_host):
    open_editor(page, fresh_demo_host)
    keyboard = page.keyboard

    tab_to(page, page.get_by_role("button", name="Add a question", exact=True))
    keyboard.press("Enter")
    new_label = label_input(page, "5")
    expect(new_label).to_be_focused()
    expect(question_id(page, "5")).to_have_text("new")
    expect(total(page)).to_have_text("Total: 21 points")  # a new question is worth 1 point
    keyboard.type("Exercice 5 : algorithmique")
    keyboard.press("Tab")
    expect(focused(page)).to_have_accessible_name("Maximum of question 5")
    keyboard.press("ControlOrMeta+a")
    keyboard.type("3")
    expect(total(page)).to_have_text("Total: 23 points")
    keyboard.press("Tab")
    expect(focused(page)).to_have_accessible_name("Step of question 5")
    keyboard.press("ControlOrMeta+a")
    keyboard.type("0.5")

    add_sub = page.get_by_role("button", name="Add a sub-question to “Exercice 5 : algorithmique”", exact=True)
    tab_to(page, add_sub, limit=5)
    keyboard.press("Enter")
    sub_label = label_input(page, "5.1")
    expect(sub_label).to_be_focused()
    expect(question_id(page, "5.1")).to_have_text("new")
    # the question became a group: its own maximum is gone, the sub-question's 1 point counts
    expect(row(page, "5").get_by_label("Maximum")).to_have_count(0)
    expect(total(page)).to_have_text("Total: 21 points")
    keyboard.type("5. a) Boucle")
    keyboard.press("Tab")
    keyboard.press("ControlOrMeta+a")
    keyboard.type("2")
    expect(total(page)).to_have_text("Total: 22 points")

    tab_to(page, page.get_by_role("button", name="Save", exact=True))
    keyboard.press("Enter")
    # the demo's graded copies become incomplete for the new question: the impact first, confirmed by keyboard
    impact = page.get_by_role("region", name="This change of the marking scheme changes graded copies")
    expect(impact).to_be_focused()
    keyboard.press("Tab")
    expect(impact.get_by_role("button", name="Save and apply this change")).to_be_focused()
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        keyboard.press("Enter")
    assert response_info.value.ok, response_info.value.text()
    expect(saved_mark(page)).to_have_count(1)

    group = response_info.value.json()["settings"]["marking_scheme"]["questions"][4]
    child = group["children"][0]
    new_ids = {group["id"], child["id"]}
    assert len(new_ids) == 2 and not new_ids & DEMO_IDS, new_ids
    assert all(re.fullmatch(r"q\d+", qid) for qid in new_ids), new_ids
    assert (group["label"], child["label"], child["max"], child["step"]) == (
        "Exercice 5 : algorithmique", "5. a) Boucle", 2, 0.5)
    for shown in ("after save", "after reload"):
        expect(label_input(page, "5"), shown).to_have_value("Exercice 5 : algorithmique")
        expect(question_id(page, "5"), shown).to_have_text(f"id {group['id']}")
        expect(label_input(page, "5.1"), shown).to_have_value("5. a) Boucle")
        expect(question_id(page, "5.1"), shown).to_have_text(f"id {child['id']}")
        expect(total(page), shown).to_have_text("Total: 22 points")
        expect(question_id(page, "1.2"), shown).to_have_text("id q3")
        page.reload()


def test_editor_controls_have_accessible_names(page, fresh_demo_host):
    open_editor(page, fresh_demo_host)
    assert unnamed_controls(page, ".viatique-studio") == []
    for label in ("Title", "Pages per copy", "Grade scale (0 for none)", "Weight",
                  "Regrade window (days, 0 for none)"):
        expect(page.get_by_label(label, exact=True)).to_have_count(1)
    expect(page.get_by_role("checkbox", name="Anonymous grading (graders never see names)")).to_be_checked()
    for verb in ("Move “{}” up", "Move “{}” down", "Add a sub-question to “{}”", "Remove “{}”"):
        expect(page.get_by_role("button", name=verb.format("1. b) Récurrence"), exact=True)).to_have_count(1)
    expect(page.get_by_role("button", name="Add a question", exact=True)).to_be_visible()


def test_the_weight_is_empty_until_set_and_can_be_emptied_again(page, fresh_demo_host):
    """An unset weight (None: the marking scheme's points count as they are) is an empty field, explained by
    a hint; a weight saved shows again after a reload, and emptying the field sets it back to None."""
    open_editor(page, fresh_demo_host)
    weight = page.get_by_label("Weight", exact=True)
    expect(weight).to_have_value("")
    expect(weight).to_have_accessible_description(re.compile("contributes to its subsection"))
    weight.fill("1")
    assert save(page)["settings"]["weight"] == 1.0
    page.reload()
    expect(weight).to_have_value("1")
    weight.fill("")
    assert save(page)["settings"]["weight"] is None
    expect(weight).to_have_value("")
    page.reload()
    expect(weight).to_have_value("")


def test_the_grading_mode_shows_the_exams_and_cannot_change_while_copies_are_being_graded(page, fresh_demo_host,
                                                                                        browser_errors):
    """The demo exam grades by copy and has a copy being graded: the editor shows its mode, explained by a
    hint, and refuses to change it with the server's reason."""
    browser_errors.allow_http(409, "/studio_submit/")
    open_editor(page, fresh_demo_host)
    mode = page.get_by_label("Grading mode", exact=True)
    expect(mode).to_have_value("by_copy")
    expect(mode).to_have_accessible_description(re.compile("By question: each grader takes a question"))
    mode.select_option("by_question")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Copies are being graded: the grading mode can change only")
    page.reload()
    expect(page.get_by_label("Grading mode", exact=True)).to_have_value("by_copy")


def test_a_questions_scoring_and_who_may_change_rubric_items_are_chosen_and_kept(page, fresh_demo_host):
    """Each leaf question says how its rubric items count (gains from 0, the default, or deductions from its
    maximum), and the exam who may change its rubric items (instructors by default); both are saved with the
    scheme and shown again after a reload, and a group has no scoring of its own."""
    open_editor(page, fresh_demo_host)
    scoring = page.get_by_role("combobox", name="Scoring of question 2", exact=True)
    expect(scoring).to_have_value("gains")
    expect(page.get_by_role("combobox", name="Scoring of question 1", exact=True)).to_have_count(0)  # a group
    editors = page.get_by_label("Who may change rubric items", exact=True)
    expect(editors).to_have_value("instructors")
    expect(editors).to_have_accessible_description(re.compile("re-scores every copy it is applied to"))
    scoring.select_option("deductions")
    editors.select_option("staff")
    settings = save(page)["settings"]
    assert settings["rubric_editors"] == "staff"
    leaves = {node["id"]: node for node in settings["marking_scheme"]["questions"] if "children" not in node}
    assert leaves["q4"]["scoring"] == "deductions" and "scoring" not in leaves["q5"]
    page.reload()
    expect(page.get_by_role("combobox", name="Scoring of question 2", exact=True)).to_have_value("deductions")
    expect(page.get_by_role("combobox", name="Scoring of question 3", exact=True)).to_have_value("gains")
    expect(page.get_by_label("Who may change rubric items", exact=True)).to_have_value("staff")
