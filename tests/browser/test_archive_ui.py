"""The exam archive from the Reports section, as an instructor: the demo exam's archive exported by the
(eager) task and downloaded, then imported into the workbench's second exam, which is empty (the import is
offered only there), and the same copies shown there. Refusals of the import are tested through the
handlers in tests/unit/test_archive_handlers.py."""
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from .conftest import EMPTY_SCENARIO, unnamed_controls

pytestmark = pytest.mark.browser


def test_instructor_exports_the_exam_archive_and_imports_it_into_an_empty_exam(page, fresh_demo_host, demo_facts):
    with page.expect_response(re.compile(r"/archive_status/")):
        page.goto(fresh_demo_host.url(student="instructor_1", screen="reports"))
    reports = page.locator("[data-region='reports']")
    part = reports.get_by_role("region", name="Exam archive")
    expect(part).to_be_visible()
    # the exam has data: no import offered
    expect(part.locator("[data-region='archive-import']")).to_have_count(0)

    button = part.get_by_role("button", name="Export the exam archive")
    button.focus()
    page.keyboard.press("Enter")
    expect(part.locator("[data-region='archive-status']")).to_contain_text("The exam archive is ready")
    with page.expect_download() as download_info:
        part.get_by_role("link", name="Download the exam archive").click()
    with zipfile.ZipFile(download_info.value.path()) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        copies = json.loads(archive.read("data/copies.json"))
    assert manifest["format"] == "viatique-exam-archive"
    assert sorted(copy["anonymous_code"] for copy in copies) == sorted(demo_facts.codes)
    assert unnamed_controls(page, "[data-region='reports']") == []

    # the second exam is empty: its Reports offer the import, which brings the same copies over
    with page.expect_response(re.compile(r"/archive_status/")):
        page.goto(fresh_demo_host.url(student="instructor_1", screen="reports", scenario=EMPTY_SCENARIO))
    part = page.locator("[data-region='reports']").get_by_role("region", name="Exam archive")
    importing = part.get_by_role("group", name="Import an exam archive")
    expect(importing).to_be_visible()
    importing.get_by_label("Exam archive (.zip)").set_input_files(download_info.value.path())
    with page.expect_navigation():  # the dashboard reloads once the import is done
        importing.get_by_role("button", name="Import an exam archive").click()
    page.goto(fresh_demo_host.url(student="instructor_1", screen="grading", scenario=EMPTY_SCENARIO))
    expect(page.locator("[data-region='copies'] tbody th")).to_have_text(sorted(demo_facts.codes))
    expect(page.locator("[data-region='archive-import']")).to_have_count(0)  # no second import offered
