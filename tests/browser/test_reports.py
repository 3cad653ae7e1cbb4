"""Reports on the demo exam, as an instructor: statistics with a drawn histogram, the grades CSV
and the ZIP of graded PDFs downloaded (then deleted by the operator's purge and built again), the
audit log filtered. One flow on a host of its own (downloads are audited)."""
import csv
import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser


def test_instructor_reads_statistics_downloads_the_csv_and_filters_the_audit_log(page, fresh_demo_host, demo_facts):
    graded = [copy for copy in demo_facts.copies if copy["state"] == "graded"]
    assert graded
    with page.expect_response(re.compile(r"/statistics/")):
        page.goto(fresh_demo_host.url(student="instructor_1", screen="reports"))
    reports = page.locator("[data-region='reports']")

    # statistics: the total's figures and its histogram, whose description gives every bin in words
    total = reports.get_by_role("group", name="Total", exact=True)
    expect(total.locator("[data-figure='count']")).to_have_text(str(len(graded)))
    mean = sum(copy["total"] for copy in graded) / len(graded)
    expect(total.locator("[data-figure='mean']")).to_have_text(re.compile(rf"^{round(mean, 3):g}$"))
    histogram = total.get_by_role("img", name="Histogram of Total")
    expect(histogram).to_be_visible()
    description = histogram.locator("desc").text_content()
    assert sum(int(count) for count in re.findall(r": (\d+)", description)) == len(graded)
    expect(histogram.locator("rect.viatique-bar")).to_have_count(10)
    expect(reports.get_by_role("img", name=re.compile(r"^Histogram of .+\(q\w+\)$")).first).to_be_visible()
    expect(reports.get_by_role("table", name="Graded copies and mean total per grader")).to_contain_text("staff_1")

    # the grades CSV, with the semicolon: one row per copy, decimal commas
    reports.get_by_label("Separator").select_option("semicolon")
    with page.expect_download() as download_info:
        reports.get_by_role("link", name="Download the grades CSV").click()
    data = open(download_info.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(rows) == len(demo_facts.copies) + 1
    assert rows[0][:3] == ["Code", "Username", "Name"] and rows[0][-1].endswith(")")
    assert sorted(row[0] for row in rows[1:]) == sorted(demo_facts.codes)

    # the ZIP of graded PDFs, named by username, built by the (eager) task, then downloaded
    reports.get_by_role("button", name="Build a ZIP of the graded PDFs").click()
    expect(reports.locator("[data-region='export-status']")).to_contain_text("is ready")
    with page.expect_download() as download_info:
        reports.get_by_role("link", name="Download the ZIP").click()
    with zipfile.ZipFile(download_info.value.path()) as archive:
        assert sorted(archive.namelist()) == sorted(f"{copy['username']}.pdf" for copy in graded)

    # eight days later the operator's daily purge deletes it: the section says so, a new one can be built
    fresh_demo_host.manage("shell", "-c", "import datetime; from django.utils import timezone; "
                           "from viatique_xblock.models import ExportJob; ExportJob.objects.update("
                           "updated_at=timezone.now() - datetime.timedelta(days=8))")
    assert "Deleted 1 ZIP exports" in fresh_demo_host.manage("viatique_purge_exports")
    with page.expect_response(re.compile(r"/export_status/")):
        page.reload()
    expect(reports.locator("[data-region='export-status']")).to_have_text(
        "This ZIP was deleted after 7 days; build a new one.")
    expect(reports.get_by_role("link", name="Download the ZIP")).to_be_hidden()
    reports.get_by_role("button", name="Build a ZIP of the graded PDFs").click()
    expect(reports.locator("[data-region='export-status']")).to_contain_text("is ready")

    # the audit log: filtered by action, then by actor, where the downloads just made show
    audit = reports.get_by_role("region", name="Audit log")
    events = audit.locator("[data-region='audit-events'] tbody tr")
    expect(events.first).to_be_visible()
    audit.get_by_label("Action").select_option("demo.seeded")
    audit.get_by_role("button", name="Filter", exact=True).click()
    expect(events).to_have_count(1)
    expect(events.first).to_have_attribute("data-action", "demo.seeded")
    audit.get_by_role("button", name="Clear the filters").click()
    audit.get_by_label("Actor (username)").fill("instructor_1")
    audit.get_by_label("Actor (username)").press("Enter")
    for index, action in enumerate(["export.zip_requested", "export.zip_downloaded", "export.zip_requested",
                                    "export.grades_csv"]):
        expect(events.nth(index)).to_have_attribute("data-action", action)
    expect(audit.get_by_role("status")).to_have_text(re.compile(r"^Matching events: \d+$"))
    expect(audit.get_by_role("link", name="Download these events as CSV")).to_have_attribute(
        "href", re.compile(r"audit_log_csv.*actor=instructor_1"))
    assert unnamed_controls(page, "[data-region='reports']") == []
