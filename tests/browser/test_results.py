"""Release and the learner view, in Chromium, on the demo exam (whose seed grades learner_1..3 with
points, comments, annotations and a rendered PDF, results unreleased).

Before release learners see only the state of their copy. The instructor releases behind a
confirmation stating the counts; then learner_1 sees their points, comments and annotated pages
(keyboard paging, zoom, the annotations as a text list) and downloads their graded PDF; learner_2
sees only their own results; a learner asks for a regrade and the instructor answers it.
"""
import re

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

INSTRUCTOR = "instructor_1"
BLOCK = ".viatique-block"


def learner_region(page):
    return page.locator('[data-region="learner-results"]')


def graded_counts(facts):
    copies = facts.copies
    graded = [copy for copy in copies if copy["state"] == "graded" and copy["identity"] == "identified"]
    ungraded = [copy for copy in copies if copy["state"] != "graded"]
    unidentified = [copy for copy in copies if copy["identity"] != "identified"]
    return len(graded), len(ungraded), len(unidentified)


def release(page, host, facts):
    page.goto(host.url(student=INSTRUCTOR, screen="results"))
    results = page.locator('[data-region="results"]')
    expect(results.locator('[data-region="release-state"]')).to_contain_text("not released")
    results.get_by_role("button", name="Release the results…").click()
    dialog = page.get_by_role("dialog", name="Release the results?")
    expect(dialog).to_be_visible()
    graded, ungraded, unidentified = graded_counts(facts)
    expect(dialog).to_contain_text(f"Graded copies whose score goes to the gradebook: {graded}.")
    expect(dialog).to_contain_text(f"Copies not graded yet: {ungraded}.")
    expect(dialog).to_contain_text(f"Copies not identified: {unidentified}.")
    assert unnamed_controls(page, '[data-region="results"]') == []
    page.keyboard.press("Enter")  # the confirm button has the focus
    expect(results.locator('[data-region="release-messages"]')).to_have_text(
        f"Results released: {graded} scores sent to the gradebook.")
    expect(dialog).to_be_hidden()
    expect(page.locator('dd[data-count="released"]')).to_have_text("released")
    expect(results.get_by_role("button", name="Unrelease the results…")).to_be_visible()


def test_learners_see_their_own_results_only_after_release(fresh_demo_host, page, demo_facts):
    first, second = demo_facts.copy_of("learner_1"), demo_facts.copy_of("learner_2")
    assert first["state"] == second["state"] == "graded"

    for username in ("learner_1", "learner_2"):
        page.goto(fresh_demo_host.url(student=username))
        expect(page.locator(".viatique-learner-status")).to_have_attribute("data-status", "awaiting_release")
        expect(page.locator(".viatique-learner-status")).to_contain_text("graded")
        page.wait_for_load_state("networkidle")
        expect(learner_region(page)).to_be_empty()
        assert first["code"] not in page.content() and "Total" not in learner_region(page).inner_text()

    release(page, fresh_demo_host, demo_facts)

    # learner_1: total, points and comments per question, general comment
    page.goto(fresh_demo_host.url(student="learner_1"))
    region = learner_region(page)
    expect(region.locator('[data-region="total"]')).to_have_text(f"Total: {first['total']} / 20")
    expect(region.locator('[data-region="scale-total"]')).to_contain_text("On a scale of 20")
    questions = region.locator('[data-region="questions"] tbody tr')
    expect(questions).to_have_count(5)
    expect(questions.first).to_contain_text("Conjecture juste")
    expect(region.locator('[data-region="general-comment"]')).to_have_text("Travail sérieux ; soignez la rédaction.")

    # the annotated pages: the page image with its marks, paged from the keyboard, zoomed
    image = region.locator(".viatique-learner-image")
    expect(image).to_have_attribute("alt", re.compile(r"^Page 1 of your copy"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(region.locator(".viatique-mark")).to_have_count(1)  # page 1: the tick
    expect(region.locator('[data-region="page-label"]')).to_have_text("Page 1 of 4")
    region.locator('[data-region="viewer"]').focus()
    page.keyboard.press("ArrowRight")
    expect(region.locator('[data-region="page-label"]')).to_have_text("Page 2 of 4")
    expect(region.locator(".viatique-mark-comment")).to_contain_text("Initialisation oubliée")
    page.keyboard.press("+")
    expect(region.locator('[data-region="zoom-label"]')).to_have_text("Zoom 125 %")
    region.get_by_role("button", name="Previous page").click()
    expect(region.locator('[data-region="page-label"]')).to_have_text("Page 1 of 4")
    # the same annotations as text
    notes = region.locator('[data-region="annotation-list"]')
    expect(notes).to_contain_text(
        "Comment — “Initialisation oubliée” — question Exercice 1 : suites › 1. b) Récurrence")
    expect(notes.locator("li[data-kind]")).to_have_count(5)
    assert unnamed_controls(page, BLOCK) == []

    # the graded PDF
    with page.expect_download() as download_info:
        region.get_by_role("link", name="Download your graded copy (PDF)").click()
    download = download_info.value
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"

    # a regrade request, answered by the instructor
    form = region.locator('[data-region="regrade-form"]')
    form.get_by_label("Question").select_option(label="Exercice 2 : probabilités")
    form.get_by_label("Why should it be looked at again?").fill("Mon arbre est juste, je crois.")
    form.get_by_role("button", name="Ask for a regrade").click()
    expect(region.locator('[data-region="regrade-messages"]')).to_have_text("Your request was sent.")
    expect(region.locator('[data-region="my-requests"] li')).to_contain_text("Waiting for an answer")

    page.goto(fresh_demo_host.url(student=INSTRUCTOR, screen="results"))
    requests = page.locator('[data-region="regrade-requests"] li')
    expect(requests).to_have_count(1)
    expect(requests.first).to_contain_text("Mon arbre est juste, je crois.")
    requests.first.get_by_label(f"Answer to copy {first['code']}").fill("Relu : la note est maintenue.")
    requests.first.get_by_role("button", name="Send the answer").click()
    expect(page.locator('[data-region="regrade-status"]')).to_have_text(f"Answer sent for copy {first['code']}.")
    expect(requests).to_have_count(0)

    page.goto(fresh_demo_host.url(student="learner_1"))
    expect(learner_region(page).locator('[data-region="my-requests"] li')).to_contain_text(
        "Answer: Relu : la note est maintenue.")

    # learner_2 sees their own results and nothing of learner_1's
    page.goto(fresh_demo_host.url(student="learner_2"))
    region = learner_region(page)
    expect(region.locator('[data-region="total"]')).to_have_text(f"Total: {second['total']} / 20")
    page.wait_for_load_state("networkidle")
    text = region.inner_text()
    assert "Mon arbre est juste" not in text and "Relu" not in text
    assert first["code"] not in page.content()
    assert region.locator('[data-region="viewer"]').count() == 1
