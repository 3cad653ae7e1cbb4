"""The lockouts section of the instructor dashboard, in Chromium: a learner who asked five times for
copies that are not theirs is listed, and the instructor lifts the lockout from the keyboard."""
import re

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

LEARNER = "learner_9"


def usage_id(page, host):
    page.goto(host.url(student="instructor_1"))
    return re.search(r'data-usage(?:-id)?="([^"]+)"', page.content())[1]


def graded_pdf(page, host, usage, copy_id, student):
    return page.request.get(f"{host.base_url}/handler/{usage}/graded_pdf/{copy_id}?student={student}")


def test_instructor_sees_and_lifts_a_lockout_from_the_keyboard(page, fresh_demo_host):
    host = fresh_demo_host
    usage = usage_id(page, host)
    statuses = [graded_pdf(page, host, usage, 10 ** 6 + index, LEARNER).status for index in range(6)]
    assert statuses == [404] * 5 + [429]

    page.goto(host.url(student="instructor_1", screen="settings"))
    region = page.locator('[data-region="lockouts"]')
    expect(region.get_by_role("heading", name="Lockouts")).to_be_visible()
    row = region.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.get_by_role("rowheader")).to_have_text(LEARNER)
    expect(row.locator("td").first).to_have_text("User")
    expect(row.locator("td").nth(2)).to_have_text("15 min")
    assert unnamed_controls(page, '[data-region="lockouts"]') == []

    lift = region.get_by_role("button", name=f"Lift the lockout of {LEARNER}")
    lift.focus()
    page.keyboard.press("Enter")
    messages = region.locator('[data-region="lockouts-messages"]')
    expect(messages).to_have_text(f"Lockout of {LEARNER} lifted.")
    expect(messages).to_be_focused()
    expect(row).to_have_count(0)
    assert graded_pdf(page, host, usage, 10 ** 6, LEARNER).status == 404  # refused again, no longer locked out
