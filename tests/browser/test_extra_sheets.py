"""Extra sheets, missing pages and the desk's memory, in Chromium, as the instructor and a grader act.

- A learner's second booklet, scanned on its own as "One learner's copy" (pages numbered 1 and 2 again),
  is merged into their copy: its pages come after the last page; one is discarded (after a confirmation)
  and brought back with Undo; a refused action says why next to its own button.
- A grader opening a copy whose page 3 was never scanned is warned in the workspace; the instructor
  accepts the copy without it and the warning says so.
- At the identification desk, a skipped copy stays skipped after a reload; "Not on the roster" puts a
  copy on the hold list, from which it goes back to the desk; a refused match shows both name areas.
"""
import json
import re

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import unnamed_controls
from .test_grading import open_copy, open_dashboard
from .test_scans import pdf_payload, plain_scan, upload


def open_screen(page, host, student, screen):
    """The dashboard of ``student`` on ``screen`` (its URL hash), once that screen shows."""
    page.goto(host.url(student=student, screen=screen))
    expect(page.locator(f"[data-screen='{screen}']")).to_be_visible()

pytestmark = pytest.mark.browser

INSTRUCTOR = "instructor_1"
GRADER = "staff_1"

#: run by ``manage.py shell``: the positions of the pages of copy COPY_CODE, one JSON line
PAGES_SCRIPT = """
import json
from viatique_xblock.models import Page
print(json.dumps(list(Page.objects.filter(copy__anonymous_code=COPY_CODE).order_by("position")
                      .values_list("position", flat=True))))
"""

#: run by ``manage.py shell``: give the copy missing a page to GRADER, print its code and missing pages
MISSING_SCRIPT = """
import json
from viatique_xblock.models import Copy, Exam
from viatique_xblock.scanning import anomalies
exam = Exam.objects.get()
copy = anomalies.copies_missing_pages(exam).first()
Copy.objects.filter(pk=copy.pk).update(grader=GRADER)
print(json.dumps({"code": copy.anonymous_code, "missing": anomalies.missing_of(exam, copy)}))
"""


def shell(host, script, **names):
    prelude = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    return json.loads(host.manage("shell", "-v", "0", "-c", prelude + script).strip().splitlines()[-1])


def test_a_second_booklet_with_overlapping_page_numbers_goes_after_the_last_page(page, fresh_demo_host, demo_facts):
    host = fresh_demo_host
    target = next(copy for copy in demo_facts.copies if copy["state"] == "ready"
                  and copy["code"] not in [item["code"] for item in demo_facts["incomplete"]])
    open_screen(page, host, INSTRUCTOR, "scans")
    anomalies = page.get_by_role("region", name="Anomalies")
    messages = anomalies.locator("[data-region='anomaly-messages']")

    # the second booklet, pages 1 and 2 again, scanned as one learner's copy
    page.get_by_role("radio", name="One learner's copy").check()
    upload(page, pdf_payload("second-booklet.pdf", plain_scan(pages=2, side=60)))
    expect(page.locator("[data-region='batches'] li", has_text="second-booklet.pdf")).to_contain_text(
        "Processed", timeout=60000)
    source = anomalies.get_by_label("Copy whose pages move")
    codes = set(demo_facts.codes)
    expect(source.locator("option")).to_have_count(len(codes) + 2)  # the placeholder and the new copy
    new_code = next(code for code in source.locator("option").all_inner_texts() if code and code.split(" — ")[0]
                    not in codes and code != "Choose a copy")
    target_label = next(text for text in source.locator("option").all_inner_texts()
                        if text.split(" — ")[0] == target["code"])

    undo_box = anomalies.locator("[data-region='undo']")
    expect(undo_box).to_have_count(0)

    # a refusal shows next to the control that caused it, not at the top of the section
    merge = anomalies.get_by_role("button", name="Merge")
    merge.click()
    expect(source).to_be_focused()
    expect(source).to_have_attribute("aria-invalid", "true")
    error = anomalies.locator("#" + source.get_attribute("aria-describedby"))
    expect(error).to_have_text("Choose the copy whose pages move.")
    assert error.evaluate("(node, button) => node.parentNode === button.parentNode", merge.element_handle())
    expect(messages).not_to_contain_text("Choose the copy whose pages move.")

    source.select_option(label=new_code)
    anomalies.get_by_label("Copy that receives them").select_option(label=target_label)
    merge.click()
    expect(messages).to_contain_text(f"The pages of {new_code} are now in {target_label}.")
    expect(error).to_have_text("")
    assert shell(host, PAGES_SCRIPT, COPY_CODE=target["code"]) == [1, 2, 3, 4, 5, 6]

    # the copy's pages, listed: the booklet's two pages are its pages 5 and 6
    anomalies.get_by_label("Copy whose pages to show").select_option(label=target_label)
    anomalies.get_by_role("button", name="Show its pages").click()
    listed = anomalies.locator("[data-region='copy-pages'] > li[data-page-id]")
    expect(listed).to_have_count(6)
    sixth = anomalies.get_by_role("group", name=f"Page 6 of copy {target['code']}")
    expect(sixth).to_be_visible()

    # discard page 6: asked first; then Undo brings it back at its place
    sixth.get_by_role("button", name=f"Discard page 6 of copy {target['code']}").click()
    yes = sixth.get_by_role("button", name="Yes, discard it")
    expect(yes).to_be_focused()
    expect(sixth.get_by_role("button", name=f"Move page 6 of copy {target['code']}")).to_have_count(0)
    assert unnamed_controls(page, "[data-region='anomalies']") == []
    assert_accessible(page, state="with a discard being confirmed")
    sixth.get_by_role("button", name="Cancel").click()  # not yet
    expect(sixth.get_by_role("button", name=f"Discard page 6 of copy {target['code']}")).to_be_focused()
    sixth.get_by_role("button", name=f"Discard page 6 of copy {target['code']}").click()
    yes.click()
    expect(messages).to_contain_text(f"Page 6 of copy {target['code']} was discarded.")
    expect(listed).to_have_count(5)
    assert shell(host, PAGES_SCRIPT, COPY_CODE=target["code"]) == [1, 2, 3, 4, 5]
    expect(undo_box.get_by_role("button", name="Undo")).to_be_focused()
    assert_accessible(page, state="with the undo of a discard offered")
    page.keyboard.press("Enter")
    expect(messages).to_contain_text(f"Page 6 of copy {target['code']} is back.")
    expect(undo_box).to_have_count(0)
    expect(listed).to_have_count(6)
    assert shell(host, PAGES_SCRIPT, COPY_CODE=target["code"]) == [1, 2, 3, 4, 5, 6]


def test_a_grader_is_warned_of_a_page_never_scanned(page, fresh_demo_host):
    host = fresh_demo_host
    copy = shell(host, MISSING_SCRIPT, GRADER=GRADER)
    assert copy["missing"] == [3]
    open_dashboard(page, host, GRADER)
    workspace = open_copy(page, copy["code"])
    warning = workspace.locator("[data-region='missing-pages']")
    expect(warning).to_have_text("Page 3 of 4 was not scanned.")
    assert_accessible(page, state="in the workspace of a copy with a missing page")
    expect(workspace.get_by_role("heading", name=f"Copy {copy['code']}")).to_have_attribute(
        "aria-describedby", warning.get_attribute("id"))
    expect(workspace.locator("[data-region='page-label']")).to_have_text("Page 1 of 3")

    # the instructor accepts the copy without it: it leaves the list, the grader is told
    open_screen(page, host, INSTRUCTOR, "scans")
    row = page.locator("[data-region='incomplete-copies'] li", has_text=copy["code"])
    row.get_by_role("button", name=f"Accept without it: copy {copy['code']}, page(s) 3").click()
    expect(row).to_have_count(0)
    expect(page.locator("[data-region='anomaly-messages']")).to_contain_text(
        f"Copy {copy['code']} is accepted without page(s) 3.")
    open_dashboard(page, host, GRADER)
    workspace = open_copy(page, copy["code"])
    expect(workspace.locator("[data-region='missing-pages']")).to_have_text(
        "Page 3 of 4 was not scanned. The instructor accepted the copy without it.")


def test_a_skipped_copy_stays_skipped_after_a_reload_and_a_name_off_the_roster_is_held(page, fresh_demo_host):
    host = fresh_demo_host
    open_screen(page, host, INSTRUCTOR, "identification")
    region = page.get_by_role("region", name="Identification desk")
    desk = region.locator("[data-region='desk']")
    expect(desk).to_have_attribute("data-copy-code", re.compile(r"\w"))
    first = desk.get_attribute("data-copy-code")

    with page.expect_response(re.compile(r"/desk_skip/")):
        region.get_by_role("button", name="Skip this copy").click()
    expect(desk).not_to_have_attribute("data-copy-code", first)
    second = desk.get_attribute("data-copy-code")
    expect(region.locator("[data-region='identify-messages']")).to_contain_text(f"Copy {first} put aside for later.")

    page.reload()
    expect(desk).to_have_attribute("data-copy-code", second)

    # "Not on the roster": the copy goes on the hold list, with its name area, and the desk moves on
    region.get_by_role("button", name="Not on the roster").click()
    note = region.get_by_label("Name on the cover, or why (optional)")
    expect(note).to_be_focused()
    note.fill("Anna Pérez, not enrolled")
    region.get_by_role("button", name="Put on hold").click()
    held = region.locator("[data-region='held-copies'] li")
    expect(held).to_have_count(1)
    expect(held).to_contain_text(f"Copy {second}: Anna Pérez, not enrolled")
    expect(held.get_by_role("img", name=f"Name area of the cover of copy {second}")).to_be_visible()
    expect(desk).to_have_attribute("data-copy-code", first)  # the skipped copy: the only one left
    assert unnamed_controls(page, "[data-region='identify']") == []
    assert_accessible(page, state="with a copy on the hold list")
    page.reload()
    expect(held).to_have_count(1)
    held.get_by_role("button", name=f"Back to the desk: copy {second}").click()
    expect(held).to_have_count(0)
    expect(desk).to_have_attribute("data-copy-code", second)
