"""The exam archive from the Reports section, as an instructor of the demo exam: exported by the (eager)
task, downloaded, its manifest read. The demo host has one block only, whose exam has data: the import
control is not offered there (the import itself, and its refusals, are tested through the handlers in
tests/unit/test_archive_handlers.py)."""
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser


def test_instructor_exports_and_downloads_the_exam_archive(page, fresh_demo_host, demo_facts):
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
