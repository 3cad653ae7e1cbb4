"""What each role sees on the course page of the demo exam: the class scan imported by
``viatique_demo_seed`` (prenamed and anonymous booklets, a few copies graded or assigned),
anonymous grading. Anonymous codes are random: expectations come from ``demo_facts``."""
import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

ROSTER = settings.VIATIQUE_DEMO_ROSTER


def open_dashboard(page, demo_host, student, facts):
    """Open the block as ``student`` and wait until the copy list is loaded from list_copies."""
    # the copy list's own call (the identification desk lists the unidentified copies too)
    main_list = re.compile(r"/list_copies/\?(?!.*identity=)")
    with page.expect_response(lambda response: bool(main_list.search(response.url))) as response_info:
        page.goto(demo_host.url(student=student))
    response = response_info.value
    assert response.ok, response.status
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{len(facts.copies)} copies")
    return response.json()


def copy_rows(page):
    return page.locator("[data-region='copies'] tbody tr")


def test_demo_exam_has_every_kind_of_copy(demo_facts):
    """The seeded scan gives the dashboards something of each state to show."""
    states = {(copy["identity"], copy["state"], bool(copy["grader"])) for copy in demo_facts.copies}
    assert {("identified", "graded", True), ("identified", "in_progress", True), ("identified", "ready", True),
            ("identified", "ready", False), ("unidentified", "ready", False)} <= states, states
    assert demo_facts.copy_of("learner_1")["state"] == "graded"
    assert demo_facts.copy_of("learner_12") is None
    assert [page["anomaly"] for page in demo_facts["anomaly_pages"]] == ["duplicate"]
    assert len(demo_facts["incomplete"]) == 1


def test_instructor_sees_every_copy_with_learner_names(page, demo_host, demo_facts):
    copies = demo_facts.copies
    data = open_dashboard(page, demo_host, "instructor_1", demo_facts)

    assert data["count"] == len(copies)
    rows = copy_rows(page)
    expect(rows).to_have_count(len(copies))
    headers = page.locator("[data-region='copies'] thead th")
    expect(headers).to_have_text(["Code", "Learner", "Identity", "Grading", "Grader", "Total", "Actions"])
    # in the order of their codes, each with its learner's name (a dash while unidentified)
    expect(page.locator("[data-region='copies'] tbody th")).to_have_text(demo_facts.codes)
    expect(rows.first.get_by_role("cell").first).to_have_text(copies[0]["name"] or "—")
    identified = [copy for copy in copies if copy["identity"] == "identified"]
    assert len(identified) >= 8
    for copy in identified:
        expect(page.get_by_role("cell", name=copy["name"], exact=True)).to_have_count(1)
    for copy in copies:
        if copy["identity"] == "unidentified":
            expect(page.get_by_role("row", name=re.compile(rf"^{copy['code']} — Unidentified"))).to_have_count(1)
    graded = demo_facts.copy_of("learner_1")
    assert (graded["grader"], graded["total"]) == ("staff_1", 16)
    expect(page.get_by_role("row", name=re.compile(rf"^{graded['code']} .* Graded staff_1 16( Open copy \w+ Full window: copy \w+ \(new tab\))?$"))).to_have_count(1)
    for key, value in demo_facts.counters().items():
        expect(page.locator(f"dd[data-count='{key}']")).to_have_text(value)
    expect(page.get_by_text("Instructor dashboard")).to_be_visible()


def test_grader_sees_copies_but_no_learner_identity(page, demo_host, demo_facts):
    data = open_dashboard(page, demo_host, "staff_1", demo_facts)

    expect(copy_rows(page)).to_have_count(len(demo_facts.copies))
    expect(page.get_by_text("Grader dashboard")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Learner")).to_have_count(0)
    headers = page.locator("[data-region='copies'] thead th")
    expect(headers).to_have_text(["Code", "Identity", "Grading", "Grader", "Total", "Actions"])
    # the grader's own copies come first
    mine = [copy["code"] for copy in demo_facts.copies if copy["grader"] == "staff_1"]
    assert len(mine) >= 2
    codes = page.locator("[data-region='copies'] tbody th").all_inner_texts()
    assert codes[:len(mine)] == mine, codes
    assert sorted(codes) == sorted(demo_facts.codes)
    # no identity in the handler's JSON, in the text shown, or anywhere in the HTML
    assert all("name" not in copy and "username" not in copy for copy in data["copies"]), data["copies"]
    text = page.locator("body").inner_text()
    html = page.content()
    for username, name in ROSTER:
        for secret in (username, name):
            assert secret not in text, f"{secret!r} is shown to a grader"
            assert secret not in html, f"{secret!r} is in the grader's page"


def test_learner_with_graded_copy_sees_awaiting_release_and_nothing_of_others(page, demo_host, demo_facts):
    assert demo_facts.copy_of("learner_1")["state"] == "graded"
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
    for code in demo_facts.codes:  # not even their own copy's code
        assert not re.search(rf"\b{code}\b", html), f"a learner sees the copy code {code}"
    # and no grade before release
    assert "16" not in page.locator(".viatique-block").inner_text()


@pytest.mark.parametrize(("student", "state", "code", "message"), [
    ("learner_4", "in_progress", "grading", "Your copy is being graded."),
    ("learner_9", "ready", "received", "Your copy has been received and is waiting to be graded."),
])
def test_learner_sees_the_status_of_their_copy(page, demo_host, demo_facts, student, state, code, message):
    assert demo_facts.copy_of(student)["state"] == state
    page.goto(demo_host.url(student=student))

    status = page.get_by_role("status")
    expect(status).to_have_attribute("data-status", code)
    expect(status).to_have_text(message)
    expect(page.get_by_role("table")).to_have_count(0)


def test_learner_without_copy_sees_no_copy(page, demo_host, demo_facts):
    assert demo_facts.copy_of("learner_12") is None
    page.goto(demo_host.url(student="learner_12"))

    status = page.get_by_role("status")
    expect(status).to_have_attribute("data-status", "no_copy")
    expect(status).to_have_text("No copy of yours has been received for this exam yet.")
    expect(page.get_by_role("table")).to_have_count(0)


@pytest.mark.parametrize("student", ["instructor_1", "staff_1"])
def test_dashboard_controls_have_accessible_names(page, demo_host, demo_facts, student):
    open_dashboard(page, demo_host, student, demo_facts)
    count = len(demo_facts.copies)
    assert count <= 50

    pager = page.get_by_role("navigation", name="Pages of the copy list")
    expect(pager).to_be_visible()
    # every copy fits on one page of 50: both pager buttons are there, named, and disabled
    expect(pager.get_by_role("button", name="Previous")).to_be_disabled()
    expect(pager.get_by_role("button", name="Next")).to_be_disabled()
    expect(pager).to_contain_text(f"1–{count} of {count}")
    expect(page.get_by_role("table", name="Copies of this exam")).to_be_visible()
    for region in ("Progress", "Copies"):
        expect(page.get_by_role("region", name=region)).to_be_visible()
    # every control of every screen (and of the header that stays) is named
    screens = page.get_by_role("navigation", name="Dashboard screens").get_by_role("link")
    names = screens.all_inner_texts()
    assert names == (["Scans", "Identification", "Grading", "Results", "Reports", "Settings"]
                     if student == "instructor_1" else ["Scans", "Grading", "Results", "Reports", "Settings"])
    for name in names:
        screens.filter(has_text=name).click()
        expect(page.locator(f"[data-screen='{name.lower()}']")).to_be_visible()
        unnamed = unnamed_controls(page, f"[data-region='header'], [data-screen='{name.lower()}']")
        assert unnamed == [], (name, unnamed)
    expect(page.get_by_role("table", name="Questions and their points")).to_be_visible()
    expect(page.get_by_role("region", name="Marking scheme")).to_be_visible()
