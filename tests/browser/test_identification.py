"""The identification desk and the dispatch to graders, in Chromium.

``desk_writers`` turns the exam of a fresh demo host into a dozen anonymous copies: whatever the demo
seed imported is removed, then 12 anonymous QR booklets are printed, each "filled in" with one
learner's name handwritten on its cover (in a shuffled order), scanned and imported by the pipeline.
It returns who wrote each copy, which only the name area of the cover shows. The instructor then
identifies every copy from the keyboard alone, and deals them to two graders.
"""
import json
import re
import unicodedata

import pytest
from playwright.sync_api import expect

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

INSTRUCTOR = "instructor_1"
COPIES = 12

#: run by ``manage.py shell`` on the host's database: prints {code: {"username", "name"}} (one line)
DESK_SCRIPT = """
import io, json, random
from django.db import transaction
from demo_host.services import DemoRosterService
from viatique_xblock.scanning import batches as scans, booklets as printing
from viatique_xblock.models import Booklet, Copy, Exam, Page, ScanBatch, UploadSession
from viatique_xblock.pdf import synthetic
from viatique_xblock.states import BatchState

exam = Exam.objects.get()
with transaction.atomic():  # start from an exam without any scan, whatever the demo seed imported
    for model in (Page, Copy, UploadSession, ScanBatch, Booklet):
        model.objects.filter(exam=exam).delete()
learners = DemoRosterService().enrolled(exam.course_key)[:COPIES]
assert len(learners) == COPIES, learners
random.Random(COPIES).shuffle(learners)
pages = exam.pages_per_copy
pdf, numbers = printing.print_booklets(exam, copies=COPIES, blank_pages=pages)
filled = synthetic.fill_in(pdf, seed=COPIES, pages_per_booklet=pages,
                           names={index * pages: learner.name for index, learner in enumerate(learners)})
data = synthetic.scan(filled, seed=COPIES)
info = scans.validate_bytes(data)
with transaction.atomic():  # processed here once this transaction commits, as the seed does
    batch = scans.create_batch(exam, "anonymous-booklets.pdf", info.sha256, info, io.BytesIO(data),
                               uploaded_by="test", send=scans.run_locally)
batch.refresh_from_db()
assert batch.state == BatchState.DONE, (batch.state, batch.error_code)
copies = list(Copy.objects.filter(exam=exam))
assert len(copies) == COPIES and all(copy.identity_state == "unidentified" for copy in copies)
writer = dict(zip(numbers, learners))
print(json.dumps({copy.anonymous_code: {"username": writer[copy.booklet_number].username,
                                        "name": writer[copy.booklet_number].name} for copy in copies}))
"""

#: the identities of the demo exam's copies now: {code: username or ""} (one line)
IDENTITIES_SCRIPT = """
import json
from viatique_xblock.models import Copy
print(json.dumps({copy.anonymous_code: copy.learner_username for copy in Copy.objects.all()}))
"""


@pytest.fixture
def desk_writers(fresh_demo_host):
    """The fresh demo host's exam holds only 12 unidentified copies; returns who wrote each one."""
    output = fresh_demo_host.manage("shell", "-v", "0", "-c", f"COPIES = {COPIES}\n" + DESK_SCRIPT)
    return json.loads(output.strip().splitlines()[-1])


def fold(text):
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)).lower()


def query_for(name):
    """What an instructor in a hurry types: the last name, then the start of the first, no accents."""
    first, *last = fold(name).split()
    return f"{' '.join(last)} {first[:3]}"


def tab_to(page, target, limit=100):
    """Press Tab until ``target`` has the focus (the keyboard's only way through the page)."""
    for _ in range(limit):
        if target.evaluate("node => node === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} never got the focus")


def open_dashboard(page, host, student, screen="identification"):
    with page.expect_response(re.compile(r"/list_copies/")):
        page.goto(host.url(student=student, screen=screen if student == INSTRUCTOR else None))


def test_instructor_identifies_a_dozen_copies_with_the_keyboard_then_deals_them(
        page, fresh_demo_host, desk_writers, browser_errors):
    host, writers = fresh_demo_host, desk_writers
    browser_errors.allow_http(409, "/identify")  # the refused match, on purpose
    open_dashboard(page, host, INSTRUCTOR)

    desk_region = page.get_by_role("region", name="Identification desk")
    desk = desk_region.locator("[data-region='desk']")
    counter = desk_region.locator("[data-region='identify-progress']")
    search = desk_region.get_by_role("combobox", name="Learner's name")
    options = desk_region.get_by_role("listbox", name="Learners found").get_by_role("option")
    undo = desk_region.get_by_role("button", name=re.compile(r"^Undo"))
    expect(counter).to_have_text(f"Identified: 0 of {COPIES} copies")
    expect(counter).to_have_attribute("aria-live", "polite")
    expect(desk).to_be_visible()
    expect(desk_region.get_by_role("img", name=re.compile(r"^Name area of the cover of copy \w+$"))).to_be_visible()
    page.wait_for_function("() => document.querySelector(\"img[data-region='name-area']\").naturalWidth > 0")
    assert unnamed_controls(page, "[data-region='identify']") == []
    assert unnamed_controls(page, "[data-region='dispatch']") == []
    expect(search).to_have_attribute("aria-expanded", "false")

    def on_desk():
        expect(desk).to_have_attribute("data-copy-code", re.compile(r"\w"))
        code = desk.get_attribute("data-copy-code")
        expect(desk_region.locator("[data-region='desk-copy']")).to_contain_text(f"Copy {code}")
        return code

    def identified():
        return int(re.search(r"Identified: (\d+) of", counter.inner_text()).group(1))

    def type_query(query, expected_name):
        """Type ``query``: the results come as one types, the first one highlighted."""
        page.keyboard.type(query, delay=20)
        expect(options.first).to_contain_text(expected_name)
        expect(search).to_have_attribute("aria-expanded", "true")
        expect(search).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
        expect(options.first).to_have_attribute("aria-selected", "true")

    # --- from here on, the keyboard only
    tab_to(page, search)
    first_code = on_desk()
    # the instructor misreads the first cover: it gets the learner who wrote another copy
    wrong = next(info for code, info in sorted(writers.items()) if code != first_code
                 and info["name"] not in ("Léo Martin", writers[first_code]["name"]))
    type_query(query_for(wrong["name"]), wrong["name"])
    page.keyboard.press("Enter")
    expect(counter).to_have_text(f"Identified: 1 of {COPIES} copies")
    expect(desk_region.locator("[data-region='identify-messages']")).to_contain_text(
        f"Copy {first_code} is {wrong['name']}.")

    swapped = undone = browsed = False
    for _ in range(3 * COPIES):
        if desk.is_hidden():
            break
        expect(search).to_be_focused()
        expect(search).to_have_value("")
        code = on_desk()
        writer = writers[code]
        before = identified()
        if writer["name"] == wrong["name"]:
            # this learner is already matched (to the first copy): the results say so, the match is refused
            type_query(query_for(writer["name"]), writer["name"])
            expect(options.first).to_contain_text(f"already matched to copy {first_code}")
            page.keyboard.press("Enter")
            conflict = desk_region.locator("[data-region='conflict-text']")
            expect(conflict).to_have_text(f"{writer['name']} is already matched to copy {first_code}.")
            swap = desk_region.get_by_role("button", name=re.compile(r"^Swap"))
            expect(swap).to_be_focused()
            assert identified() == before
            page.keyboard.press("Enter")
            # the copy gets its learner; the first copy lost them and comes up next
            expect(desk).to_have_attribute("data-copy-code", first_code)
            expect(counter).to_have_text(f"Identified: {before} of {COPIES} copies")
            expect(desk_region.locator("[data-region='identify-messages']")).to_contain_text(
                f"Swapped: copy {code} is {writer['name']}; copy {first_code} is unidentified again")
            swapped = True
            continue
        if writer["name"] == "Léo Martin" and not browsed:
            # "m": several learners; ArrowDown / ArrowUp move the highlight (aria-activedescendant)
            page.keyboard.type("m")
            expect(options.nth(1)).to_be_visible()
            count = options.count()
            names = options.evaluate_all("items => items.map(item => item.querySelector('.viatique-option-name').textContent)")
            assert writer["name"] in names, names
            page.keyboard.press("ArrowUp")  # from the first result: wraps to the last
            expect(search).to_have_attribute("aria-activedescendant", options.nth(count - 1).get_attribute("id"))
            page.keyboard.press("ArrowDown")
            for _step in range(names.index(writer["name"])):
                page.keyboard.press("ArrowDown")
            active = desk_region.locator("[role='option'][aria-selected='true']")
            expect(active).to_have_count(1)
            expect(active).to_contain_text(writer["name"])
            expect(search).to_have_attribute("aria-activedescendant", active.get_attribute("id"))
            browsed = True
        else:
            type_query(query_for(writer["name"]), writer["name"])
        page.keyboard.press("Enter")
        expect(counter).to_have_text(f"Identified: {before + 1} of {COPIES} copies")
        if not undone and before >= 3:
            # Undo the match just made: the copy comes back to the desk, the search box gets the focus back
            expect(undo).to_be_visible()
            tab_to(page, undo)
            page.keyboard.press("Enter")
            expect(counter).to_have_text(f"Identified: {before} of {COPIES} copies")
            expect(desk).to_have_attribute("data-copy-code", code)
            expect(search).to_be_focused()
            expect(desk_region.locator("[data-region='identify-messages']")).to_contain_text(
                f"Undone: copy {code} is unidentified again.")
            undone = True

    assert swapped and undone and browsed
    expect(counter).to_have_text(f"Identified: {COPIES} of {COPIES} copies")
    expect(desk).to_be_hidden()
    done = desk_region.locator("[data-region='desk-done']")
    expect(done).to_have_text("Every copy is identified.")
    expect(done).to_be_focused()
    expect(page.locator("dd[data-count='identified']")).to_have_text(str(COPIES))
    # every copy is matched to the learner who wrote it
    identities = json.loads(host.manage("shell", "-v", "0", "-c", IDENTITIES_SCRIPT).strip().splitlines()[-1])
    assert identities == {code: info["username"] for code, info in writers.items()}
    # the copy list, on the Grading screen, shows each copy with its learner
    page.get_by_role("navigation", name="Dashboard screens").get_by_role("link", name="Grading").click()
    rows = page.locator("[data-region='copies'] tbody tr")
    expect(rows).to_have_count(COPIES)
    for code, info in writers.items():
        expect(page.get_by_role("row", name=re.compile(rf"^{code} {re.escape(info['name'])} Identified"))).to_have_count(1)

    # --- dispatch to staff_1 and staff_2, back on the Identification screen
    page.go_back()
    dispatch = page.get_by_role("region", name="Dispatch to graders")
    staff_1 = dispatch.get_by_role("checkbox", name=re.compile(r"^Paul Langevin \(staff_1\), copies: 0$"))
    staff_2 = dispatch.get_by_role("checkbox", name=re.compile(r"^Irène Joliot \(staff_2\), copies: 0$"))
    expect(dispatch.get_by_role("checkbox")).to_have_count(3)  # instructor_1, staff_1, staff_2
    deal = dispatch.get_by_role("button", name="Deal the unassigned copies")
    deal.click()
    expect(dispatch.locator("[data-region='dispatch-messages']")).to_have_text("Choose at least one grader.")
    staff_1.check()
    staff_2.check()
    deal.click()
    messages = dispatch.locator("[data-region='dispatch-messages']")
    expect(messages).to_have_text(f"{COPIES} copies dealt.")
    result = dispatch.locator("[data-region='dispatch-result'] li")
    expect(result).to_have_text([f"Paul Langevin (staff_1), copies: {COPIES // 2} (new: {COPIES // 2})",
                                 f"Irène Joliot (staff_2), copies: {COPIES // 2} (new: {COPIES // 2})"])
    expect(dispatch.get_by_role("checkbox", name=f"Paul Langevin (staff_1), copies: {COPIES // 2}")).to_be_checked()
    expect(page.locator("dd[data-count='assigned']")).to_have_text(str(COPIES))
    graders = page.locator("[data-region='copies'] tbody tr td:nth-child(5)")
    expect(graders).to_have_count(COPIES)
    expect(graders).to_have_text([re.compile(r"^staff_[12]$")] * COPIES)
    totals = [text for text in graders.all_inner_texts()]
    assert abs(totals.count("staff_1") - totals.count("staff_2")) <= 1, totals
    # already balanced: rebalancing moves nothing, dealing again deals nothing
    dispatch.get_by_role("button", name="Rebalance").click()
    expect(messages).to_have_text(re.compile(r"^Nothing to move"))
    deal.click()
    expect(messages).to_have_text("No copy was waiting to be dealt.")


def test_grader_sees_neither_the_desk_nor_the_dispatch(page, demo_host):
    calls = []
    page.on("request", lambda request: calls.append(request.url))
    open_dashboard(page, demo_host, "staff_1")

    expect(page.get_by_text("Grader dashboard")).to_be_visible()
    expect(page.locator("[data-region='copies'] tbody tr").first).to_be_visible()
    for name in ("Identification desk", "Dispatch to graders"):
        expect(page.get_by_role("region", name=name)).to_have_count(0)
    for selector in ("[data-region='identify']", "[data-region='dispatch']", "[role='combobox']"):
        expect(page.locator(selector)).to_have_count(0)
    for name in ("Deal the unassigned copies", "Rebalance", "Swap", "Undo"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.wait_for_load_state("networkidle")
    instructor_only = [url for url in calls if re.search(r"/(roster_search|name_area|graders|identify)/", url)]
    assert instructor_only == []
