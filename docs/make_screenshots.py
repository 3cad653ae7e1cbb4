"""Take the README screenshots: the instructor dashboard and the Studio editor (1280x900).

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
