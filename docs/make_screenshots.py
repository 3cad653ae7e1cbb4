"""Take the README screenshots (1280x900): the instructor dashboard (its Grading screen, and the print
screen of Scans), the Studio editor, a grader's full-window
workspace (1366x768) on a copy dealt to them, and a learner's results (the script releases the results of the
demo exam it runs on: give it a throwaway demo host, the default).

    .venv/bin/python docs/make_screenshots.py                # a temporary demo host, removed afterwards
    .venv/bin/python docs/make_screenshots.py --base-url http://127.0.0.1:8000   # a running `make demo`

Uses Debian's Chromium through Playwright, launched as the browser tests launch it.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS_DIR.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser.conftest import SCENARIO, VIEWPORT, DemoHost, launch_chromium  # noqa: E402


def take(base_url):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT, locale="en-US")

        page.goto(f"{base_url}{SCENARIO}?student=instructor_1")
        expect(page.locator("[data-region='copies'] tbody tr").first).to_be_visible()
        page.screenshot(path=str(DOCS_DIR / "screenshot-instructor.png"))

        page.goto(f"{base_url}{SCENARIO}studio_view/?student=instructor_1")
        expect(page.locator(".viatique-question-row").first).to_be_visible()
        page.screenshot(path=str(DOCS_DIR / "screenshot-studio.png"))

        # the full-window workspace, opened from a copy's "Full window" link, at 1366 x 768, a tick placed
        page.goto(f"{base_url}{SCENARIO}?student=staff_2#grading")
        link = page.locator("[data-region='copies'] tr:has(td[data-state='ready']) [data-action='open-workspace']").first
        focus = browser.new_page(viewport={"width": 1366, "height": 768}, locale="en-US")
        focus.goto(base_url + link.get_attribute("href"))
        expect(focus.locator("[data-region='grading']")).to_have_attribute("data-editable", "true")
        focus.wait_for_function("() => document.querySelector('[data-region=page-image]').complete")
        focus.get_by_role("application").focus()
        for key in ["t"] + ["ArrowDown"] * 12 + ["ArrowRight"] * 20 + ["Enter"]:
            focus.keyboard.press(key)
        focus.screenshot(path=str(DOCS_DIR / "screenshot-grading.png"))
        focus.close()

        page.goto(f"{base_url}{SCENARIO}?student=instructor_1#scans")
        expect(page.locator("[data-region='batches'] li").first).to_be_visible()
        booklets = page.locator("[data-region='booklets']")
        booklets.get_by_label("Extra blank pages").fill("2")
        booklets.get_by_role("button", name="Make the booklets").click()
        expect(booklets.get_by_role("link", name="Download the booklets (PDF)")).to_be_visible()
        page.mouse.wheel(0, 5000)  # the print screen at the bottom, under the header that stays
        page.wait_for_timeout(300)
        page.screenshot(path=str(DOCS_DIR / "screenshot-booklets.png"))

        page.goto(f"{base_url}{SCENARIO}?student=instructor_1#results")
        results = page.locator("[data-region='results']")
        results.get_by_role("button", name="Release the results…").click()
        page.get_by_role("dialog", name="Release the results?").get_by_role("button").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("dd[data-count='released']")).to_have_text("released")
        page.goto(f"{base_url}{SCENARIO}?student=learner_1")
        expect(page.locator(".viatique-learner img").first).to_be_visible()
        page.screenshot(path=str(DOCS_DIR / "screenshot-learner.png"), full_page=True)
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running demo host; by default a temporary one is started")
    args = parser.parse_args()
    if args.base_url:
        take(args.base_url.rstrip("/"))
        return
    tmp = Path(tempfile.mkdtemp(prefix="viatique-screenshots-"))
    host = DemoHost(tmp)
    try:
        host.prepare()
        host.start()
        take(host.base_url)
    finally:
        host.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
