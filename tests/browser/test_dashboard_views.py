"""What each role sees on the course page of the demo exam (10 seeded copies, anonymous grading)."""
import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

ROSTER = settings.VIATIQUE_DEMO_ROSTER


def open_dashboard(page, demo_host, student):
    """Open the block as ``student`` and wait until the copy list is loaded from list_copies."""
    with page.expect_response(re.compile(r"/list_copies/")) as response_info:
        page.goto(demo_host.url(student=student))
    response = response_info.value
    assert response.ok, response.status
    expect(page.locator("[data-region='copies-status']")).to_have_text("10 copies")
    return response.json()


def copy_rows(page):
    return page.locator("[data-region='copies'] tbody tr")


def test_instructor_sees_every_copy_with_learner_names(page, demo_host):
    data = open_dashboard(page, demo_host, "instructor_1")

    assert data["count"] == 10
    rows = copy_rows(page)
    expect(rows).to_have_count(10)
    headers = page.locator("[data-region='copies'] thead th")
    expect(headers).to_have_text(["Code", "Learner", "Identity", "Grading", "Grader", "Total"])
    expect(rows.first.get_by_role("rowheader")).to_have_text("C001")
    expect(rows.first.get_by_role("cell").first).to_have_text(ROSTER[0][1])
    for username, name in ROSTER[:8]:  # the 8 identified copies
        expect(page.get_by_role("cell", name=name, exact=True)).to_have_count(1)
    expect(page.get_by_role("row", name=re.compile(r"^C009 — Unidentified"))).to_have_count(1)
    expect(page.get_by_role("row", name=re.compile(r"^C001 .* Graded staff_1 16$"))).to_have_count(1)
    counters = {"total": "10", "identified": "8", "assigned": "6", "in_progress": "1", "graded": "3",
                "released": "not released"}
    for key, value in counters.items():
        expect(page.locator(f"dd[data-count='{key}']")).to_have_text(value)
    expect(page.get_by_text("Instructor dashboard")).to_be_visible()


def test_grader_sees_copies_but_no_learner_identity(page, demo_host):
    data = open_dashboard(page, demo_host, "staff_1")

    expect(copy_rows(page)).to_have_count(10)
    expect(page.get_by_text("Grader dashboard")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Learner")).to_have_count(0)
    headers = page.locator("[data-region='copies'] thead th")
    expect(headers).to_have_text(["Code", "Identity", "Grading", "Grader", "Total"])
    # the grader's own copies come first
    codes = page.locator("[data-region='copies'] tbody th").all_inner_texts()
    assert codes[:3] == ["C001", "C003", "C005"], codes
    # no identity in the handler's JSON, in the text shown, or anywhere in the HTML
    assert all("name" not in copy and "username" not in copy for copy in data["copies"]), data["copies"]
    text = page.locator("body").inner_text()
    html = page.content()
    for username, name in ROSTER:
        for secret in (username, name):
            assert secret not in text, f"{secret!r} is shown to a grader"
            assert secret not in html, f"{secret!r} is in the grader's page"


def test_learner_with_graded_copy_sees_awaiting_release_and_nothing_of_others(page, demo_host):
    page.goto(demo_host.url(student="learner_1"))

    status = page.get_by_role("status")
    expect(status).to_have_attribute("data-status", "awaiting_release")
    expect(status).to_have_text(
        "Your copy has been graded. Results will be shown when your instructor releases them.")
    expect(page.locator("[data-region='copies']")).to_have_count(0)
    expect(page.get_by_role("table")).to_have_count(0)
    text = page.locator("body").inner_text()
    html = page.content()
    for username, name in ROSTER[1:]:
        for secret in (username, name):
            assert secret not in text and secret not in html, f"learner_1 sees {secret!r}"
    for number in range(1, 11):
        assert f"C{number:03d}" not in html, "a learner sees copy codes"
    # and no grade before release
    assert "16" not in page.locator(".viatique-block").inner_text()


def test_learner_without_copy_sees_no_copy(page, demo_host):
    page.goto(demo_host.url(student="learner_12"))

    status = page.get_by_role("status")
    expect(status).to_have_attribute("data-status", "no_copy")
    expect(status).to_have_text("No copy of yours has been received for this exam yet.")
    expect(page.get_by_role("table")).to_have_count(0)


@pytest.mark.parametrize("student", ["instructor_1", "staff_1"])
def test_dashboard_controls_have_accessible_names(page, demo_host, student):
    open_dashboard(page, demo_host, student)

    pager = page.get_by_role("navigation", name="Pages of the copy list")
    expect(pager).to_be_visible()
    # 10 copies fit on one page of 50: both pager buttons are there, named, and disabled
    expect(pager.get_by_role("button", name="Previous")).to_be_disabled()
    expect(pager.get_by_role("button", name="Next")).to_be_disabled()
    expect(pager).to_contain_text("1–10 of 10")
    expect(page.get_by_role("table", name="Copies of this exam")).to_be_visible()
    expect(page.get_by_role("table", name="Questions and their points")).to_be_visible()
    for region in ("Progress", "Copies", "Marking scheme"):
        expect(page.get_by_role("region", name=region)).to_be_visible()
    assert unnamed_controls(page, ".viatique-block") == []
