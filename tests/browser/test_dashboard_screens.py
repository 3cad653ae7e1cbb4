"""The instructor dashboard as a set of screens, as a user drives it: by keyboard, by the URL's hash (back,
forward, reload), the progress counters opening the filtered copy list; finding one copy among 2,000 by
search; printing 30 booklets from the print screen and reading them back (page count, QR codes)."""
import json
import re

import pymupdf
import pytest
from playwright.sync_api import expect

from viatique_xblock.pdf import decode, qr

from .axe import assert_accessible

pytestmark = pytest.mark.browser

INSTRUCTOR = "instructor_1"
SCREENS = ["Scans", "Identification", "Grading", "Results", "Reports", "Settings"]


def nav(page):
    return page.get_by_role("navigation", name="Dashboard screens")


def screen_link(page, name):
    return nav(page).get_by_role("link", name=name, exact=True)


def tab_to(page, locator, limit=200):
    """Press Tab until ``locator`` has the focus (the keyboard path a user would take)."""
    expect(locator).to_be_visible()
    for _ in range(limit):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{locator} cannot be reached with Tab")


def expect_screen(page, name):
    """``name`` is the screen shown (and the current link); every other screen is hidden."""
    expect(screen_link(page, name)).to_have_attribute("aria-current", "page")
    shown = page.locator(f"[data-screen='{name.lower()}']")
    expect(shown).to_be_visible()
    expect(shown).to_have_attribute("role", "region")
    expect(shown).to_have_accessible_name(name)
    for other in SCREENS:
        if other != name:
            expect(screen_link(page, other)).not_to_have_attribute("aria-current", "page")
            expect(page.locator(f"[data-screen='{other.lower()}']")).to_be_hidden()


def open_dashboard(page, host, screen=None):
    with page.expect_response(re.compile(r"/list_copies/")):
        page.goto(host.url(student=INSTRUCTOR, screen=screen))


def test_screens_by_keyboard_by_hash_back_forward_and_reload(page, demo_host, demo_facts):
    open_dashboard(page, demo_host)
    expect(nav(page).get_by_role("link")).to_have_text(SCREENS)
    # the demo exam has copies: the instructor starts on Grading, the copy list
    expect_screen(page, "Grading")
    expect(page.locator("[data-region='copies'] tbody tr")).to_have_count(len(demo_facts.copies))

    # by keyboard: Tab to a screen's link, Enter
    tab_to(page, screen_link(page, "Scans"))
    page.keyboard.press("Enter")
    expect_screen(page, "Scans")
    assert page.evaluate("location.hash") == "#scans"
    expect(page.get_by_role("heading", name="Print booklets")).to_be_visible()
    expect(page.get_by_role("heading", name="Anomalies")).to_be_visible()
    expect(page.locator("[data-region='copies']")).to_be_hidden()
    tab_to(page, screen_link(page, "Reports"))
    page.keyboard.press("Enter")
    expect_screen(page, "Reports")
    expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()

    # back and forward move between screens; a reload keeps the screen
    page.go_back()
    expect_screen(page, "Scans")
    page.go_forward()
    expect_screen(page, "Reports")
    page.reload()
    expect_screen(page, "Reports")

    # each screen holds its own sections, and none is lost
    for screen, heading in (("identification", "Identification desk"), ("identification", "Dispatch to graders"),
                            ("results", "Results and regrade requests"), ("settings", "Marking scheme"),
                            ("settings", "Lockouts")):
        page.goto(demo_host.url(student=INSTRUCTOR, screen=screen))
        expect_screen(page, screen.title())
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def test_the_progress_header_stays_and_its_counters_open_the_filtered_list(page, demo_host, demo_facts):
    open_dashboard(page, demo_host, screen="scans")
    header = page.locator("[data-region='header']")
    page.mouse.wheel(0, 3000)
    page.wait_for_function("window.scrollY > 300")
    box = header.bounding_box()
    assert box is not None and -1 <= box["y"] <= 1, box  # still at the top of the window

    graded = [copy["code"] for copy in demo_facts.copies if copy["state"] == "graded"]
    assert graded
    with page.expect_response(re.compile(r"/list_copies/\?.*state=graded")):
        page.locator("dd[data-count='graded']").get_by_role("link").click()
    expect_screen(page, "Grading")
    assert page.evaluate("location.hash") == "#grading?state=graded"
    expect(page.locator("[data-region='copies'] tbody th")).to_have_text(graded)
    expect(page.get_by_role("search", name="Find copies").get_by_label("Grading", exact=True)).to_have_value("graded")
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{len(graded)} copies match")
    unidentified = [copy["code"] for copy in demo_facts.copies if copy["identity"] == "unidentified"]
    page.go_back()
    expect_screen(page, "Scans")
    page.goto(demo_host.url(student=INSTRUCTOR, screen="grading?identity=unidentified"))
    expect(page.locator("[data-region='copies'] tbody th")).to_have_text(unidentified)
    # clearing the filters shows every copy again
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("[data-region='copies'] tbody tr")).to_have_count(len(demo_facts.copies))


#: run by ``manage.py shell`` on the host's database: 2,000 more copies in bulk, through the models
SEED_SCRIPT = """
from viatique_xblock.models import Copy, Exam
from viatique_xblock.states import Grading, Identity
exam = Exam.objects.get()
Copy.objects.bulk_create([
    Copy(exam=exam, anonymous_code=f"Z{number:05d}", grader="staff_1" if number % 2 else "",
         grading_state=Grading.READY, identity_state=Identity.IDENTIFIED,
         learner_username=f"bulk_{number}", learner_name=f"Bulk Learner {number:04d}",
         learner_anonymous_id=f"anon-bulk-{number}")
    for number in range(2000)], batch_size=500)
print(Copy.objects.filter(exam=exam).count())
"""


def test_finding_one_copy_among_2000_by_search(page, fresh_demo_host, demo_facts):
    total = int(fresh_demo_host.manage("shell", "-v", "0", "-c", SEED_SCRIPT).strip().splitlines()[-1])
    assert total == len(demo_facts.copies) + 2000
    open_dashboard(page, fresh_demo_host, screen="grading")
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{total} copies")
    expect(page.locator("[data-region='copies'] tbody tr")).to_have_count(50)  # one page

    search = page.get_by_role("searchbox", name="Search (code or learner)")
    tab_to(page, search)
    page.keyboard.type("z01234")
    with page.expect_response(re.compile(r"/list_copies/\?.*q=z01234")):
        page.keyboard.press("Enter")
    rows = page.locator("[data-region='copies'] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("rowheader")).to_have_text("Z01234")
    expect(rows.first).to_contain_text("Bulk Learner 1234")
    assert page.evaluate("location.hash") == "#grading?q=z01234"
    # by the learner's name, and a reload keeps the search
    search.fill("Learner 1777")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("rowheader")).to_have_text("Z01777")
    page.reload()
    expect(page.get_by_role("searchbox", name="Search (code or learner)")).to_have_value("Learner 1777")
    expect(page.locator("[data-region='copies'] tbody th")).to_have_text(["Z01777"])
    rows.first.get_by_role("button", name="Open copy Z01777").click()
    expect(page.locator("[data-region='grading-title']")).to_contain_text("Z01777")


BOOKLETS_SCRIPT = """
import json
from viatique_xblock.models import Booklet, Exam
from viatique_xblock.scanning import batches
exam = Exam.objects.get()
print(json.dumps({"exam_ref": batches.exam_ref(exam),
                  "numbers": list(Booklet.objects.filter(exam=exam).values_list("number", flat=True))}))
"""


def test_printing_30_booklets_from_the_print_screen_and_reading_them_back(page, fresh_demo_host):
    before = json.loads(fresh_demo_host.manage("shell", "-v", "0", "-c", BOOKLETS_SCRIPT).strip().splitlines()[-1])
    open_dashboard(page, fresh_demo_host, screen="scans")
    region = page.locator("[data-region='booklets']")
    expect(region.get_by_role("heading", name="Print booklets")).to_be_visible()
    expect(region.get_by_role("radio", name=re.compile("^Anonymous"))).to_be_checked()
    region.get_by_label("Number of booklets").fill("30")
    region.get_by_label("Pages per booklet").fill("2")
    region.get_by_label("Extra blank pages").fill("1")
    # a refused count is said next to the button and points at its field
    region.get_by_label("Pages per booklet").fill("0")
    region.get_by_role("button", name="Make the booklets").click()
    expect(region.get_by_label("Pages per booklet")).to_have_attribute("aria-invalid", "true")
    expect(region.get_by_label("Pages per booklet")).to_be_focused()
    expect(region.get_by_role("status")).to_have_text("Enter a whole number from 1 to 200.")
    assert_accessible(page, state="with a refused booklet count")
    region.get_by_label("Pages per booklet").fill("2")
    region.get_by_role("button", name="Make the booklets").click()

    expect(region.get_by_role("status")).to_have_text("30 booklets are ready to print.")
    link = region.get_by_role("link", name="Download the booklets (PDF)")
    assert_accessible(page, state="with the booklets ready")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "booklets-anonymous-30.pdf"
    doc = pymupdf.open(download.path())
    assert doc.page_count == 30 * 3

    after = json.loads(fresh_demo_host.manage("shell", "-v", "0", "-c", BOOKLETS_SCRIPT).strip().splitlines()[-1])
    printed = set(after["numbers"]) - set(before["numbers"])
    assert len(printed) == 30
    # every page's QR code names this exam, one of the numbers reserved, and its page (3: the extra page)
    seen = {}
    for index in range(doc.page_count):
        code = decode.read_page_code(doc, index)
        assert code is not None and code.payload is not None, index
        assert code.payload.exam_ref == after["exam_ref"]
        seen.setdefault(code.payload.copy, []).append(code.payload.page)
    assert set(seen) == printed and all(pages == [1, 2, 3] for pages in seen.values())
    # the anonymous cover: the "Name" box and its instruction
    cover = doc[0].get_text()
    assert "Name" in cover and "Write your name in the box above" in cover
    first = decode.read_page_code(doc, 0).payload
    assert qr.short(after["exam_ref"], first.copy, 1) in cover

    # the audit log, loaded before, follows: the print run and its download are there on the Reports screen
    screen_link(page, "Reports").click()
    events = page.locator("[data-region='audit-events'] tbody tr")  # newest first
    expect(events.nth(0).get_by_role("rowheader")).to_have_text("booklets.downloaded")
    expect(events.nth(1).get_by_role("rowheader")).to_have_text("booklets.printed")
    expect(events.nth(1)).to_contain_text("copies: 30")
    expect(events.nth(1)).to_contain_text("extra_pages: 1")


def test_booklets_printed_on_a_blank_exam_uploaded_from_the_print_screen(page, fresh_demo_host, tmp_path,
                                                                        browser_errors):
    """The instructor uploads the blank exam on the print screen (a damaged file first, refused next to its
    field), prints two booklets on it and gets its pages, each stamped with its own code."""
    from tests.unit.pdf import builders

    open_dashboard(page, fresh_demo_host, screen="scans")
    region = page.locator("[data-region='booklets']")
    on_subject = region.get_by_role("radio", name=re.compile("^The blank exam"))
    expect(on_subject).to_be_disabled()
    expect(region.get_by_role("radio", name="Blank pages")).to_be_checked()
    browser_errors.allow_http(400, "booklet_subject")  # the damaged file's refusal, shown next to its field
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4 not a PDF at all")
    chooser = region.get_by_label("Blank exam to print on (PDF)")
    chooser.set_input_files(str(damaged))
    expect(chooser).to_have_attribute("aria-invalid", "true")
    expect(region.locator("[data-region='subject-status']")).to_have_text(
        re.compile("^This PDF is damaged and cannot be read"))
    expect(on_subject).to_be_disabled()

    subject = tmp_path / "Bac blanc.pdf"
    subject.write_bytes(builders.subject(3))
    chooser.set_input_files(str(subject))
    expect(region.locator("[data-region='subject-status']")).to_have_text("Uploaded: the booklets can be printed on it.")
    expect(chooser).not_to_have_attribute("aria-invalid", "true")
    expect(on_subject).to_be_checked()
    expect(on_subject).to_have_accessible_name("The blank exam: Bac blanc.pdf, 3 pages")
    expect(region.get_by_label("Pages per booklet")).to_be_disabled()
    assert_accessible(page, state="with a blank exam uploaded")

    region.get_by_label("Number of booklets").fill("2")
    region.get_by_label("Extra blank pages").fill("1")
    region.get_by_role("button", name="Make the booklets").click()
    expect(region.get_by_role("status")).to_have_text("2 booklets are ready to print.")
    with page.expect_download() as download_info:
        region.get_by_role("link", name="Download the booklets (PDF)").click()
    doc = pymupdf.open(download_info.value.path())
    assert doc.page_count == 2 * 4
    for index in range(doc.page_count):
        code = decode.read_page_code(doc, index)
        position = index % 4 + 1
        assert code is not None and code.payload is not None and code.payload.page == position, index
        assert (f"Subject page {position}:" in doc[index].get_text()) == (position <= 3), index
    # a reload shows the blank exam still there, chosen again in one click
    page.reload()
    expect(page.locator("[data-region='booklets']").get_by_role("radio", name=re.compile("^The blank exam: Bac blanc"))) \
        .to_be_enabled()
