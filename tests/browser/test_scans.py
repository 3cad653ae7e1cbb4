"""Scans on the instructor dashboard, in Chromium: chunked upload with its progress bar, processing
into copies, the anomaly queue (assign, discard, merge), a refused file, an interrupted upload resumed.

The scans are built here: QR booklets of the demo exam (``make_booklets``) scanned by
``synthetic.scan`` with a duplicate, a missing and an unreadable page and a booklet split in two, or
a plain PDF without codes. Most tests run on a demo host with small upload chunks (``chunked_host``),
so a test-sized file goes up in several chunks. Every host starts from the seeded demo exam, which
has a class scan of its own (``demo_facts``): what the tests add is counted on top of it.
"""
import hashlib
import json
import math
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import pymupdf
import pytest
from django.utils import translation
from playwright.sync_api import expect

from viatique_xblock.pdf import booklets, synthetic
from viatique_xblock.pdf.errors import NotAPdf

from .conftest import DemoHost, unnamed_controls

pytestmark = pytest.mark.browser

CHUNK = 256 * 1024
INSTRUCTOR = "instructor_1"
SLOW = 20_000  # ms: enough for the retries with backoff (1 + 2 + 4 s) and the processing


class ChunkedDemoHost(DemoHost):
    """The demo host with ``VIATIQUE["UPLOAD_CHUNK_BYTES"] = CHUNK`` (a settings module in its var dir)."""

    @property
    def env(self):
        env = super().env
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.var_dir), env.get("PYTHONPATH")]))
        env["DJANGO_SETTINGS_MODULE"] = "viatique_chunked_settings"
        return env


@pytest.fixture
def chunked_host(demo_template, browser_tmp_dir):
    """A demo host of its own (fresh seeded database) whose uploads go in chunks of CHUNK bytes."""
    var_dir = Path(tempfile.mkdtemp(prefix="host-", dir=browser_tmp_dir)) / "var"
    shutil.copytree(demo_template, var_dir)
    (var_dir / "viatique_chunked_settings.py").write_text(
        "from demo_host.settings import *  # noqa: F401,F403\n"
        f"VIATIQUE = dict(VIATIQUE, UPLOAD_CHUNK_BYTES={CHUNK})\n"
    )
    host = ChunkedDemoHost(var_dir).start()
    yield host
    host.stop()
    shutil.rmtree(var_dir.parent, ignore_errors=True)


# ------------------------------------------------------------------------ files

def booklet_scan(facts):
    """Five booklets of 4 pages with numbers the demo exam never used, and a loose sheet, scanned (17 pages):
    the 1st with its page 3 upside down, the 2nd with its page 2 scanned twice (file page 9), the
    3rd without its page 2, only pages 1-2 of the 4th and 3-4 of the 5th (one pupil's pages in two
    booklets), and the sheet without a code last (file page 17)."""
    taken = set(facts["booklet_numbers"])
    numbers = [number for number in (31415, 92653, 58979, 32384, 62643, *range(10000, 10100)) if number not in taken][:5]
    printed = pymupdf.open(stream=booklets.make_booklets(
        blank_pages=4, exam_ref=facts["exam_ref"], numbers=numbers), filetype="pdf")
    sheet = printed.new_page(width=printed[0].rect.width, height=printed[0].rect.height)
    sheet.insert_text((72, 144), "Brouillon", fontsize=24)
    order = [0, 1, 2, 3, 4, 5, 6, 7, 5, 8, 10, 11, 12, 13, 18, 19, 20]
    return synthetic.scan(printed.tobytes(), order=order, upside_down=(2,))


def plain_scan(pages=8, side=300):
    """A PDF without codes (split every 4 pages), each page with a noise image that does not compress."""
    rng = random.Random(7)
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()
        page.insert_text((72, 72), f"Copie, page {number + 1}")
        noise = pymupdf.Pixmap(pymupdf.csGRAY, side, side, rng.randbytes(side * side), False)
        page.insert_image(pymupdf.Rect(72, 100, 72 + side, 100 + side), pixmap=noise)
    return doc.tobytes(deflate=True)


def pdf_payload(name, data):
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


# ------------------------------------------------------------------------ helpers

def open_dashboard(page, host, facts):
    """The instructor's dashboard as seeded: the demo copies, the demo scan's batch and nothing else."""
    page.goto(host.url(student=INSTRUCTOR, screen="scans"))
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{len(facts.copies)} copies")
    expect(page.get_by_role("heading", name="Scans")).to_be_visible()
    expect_seeded_batches(page, facts)


def expect_seeded_batches(page, facts):
    """The demo scan's batch, processed, and no other (checked in any language)."""
    expect(page.locator("[data-region='batches'] li")).to_have_count(len(facts["batches"]))
    for batch in facts["batches"]:
        row = page.locator("[data-region='batches'] li", has_text=batch["name"])
        expect(row.get_by_role("progressbar")).to_have_attribute("value", str(batch["pages"]))
        expect(row.get_by_role("progressbar")).to_have_attribute("max", str(batch["pages"]))
        expect(row.locator("[data-field='state']")).to_have_attribute("data-state", "done")
    expect(page.locator("[data-region='batches-empty']")).to_be_hidden()


def anomaly_pages(page, file_name):
    """The pages of one scan file in the anomaly queue."""
    escaped = file_name.replace(".", "\\.")
    return page.locator("[data-region='anomaly-pages'] > li").filter(
        has=page.get_by_role("group", name=re.compile(rf"^Page \d+ of {escaped}$")))


def incomplete_copy(page, facts, missing):
    """The copy (not a seeded one) listed as missing exactly the pages ``missing`` ("2", "3, 4")."""
    rows = page.locator("[data-region='incomplete-copies'] li").filter(
        has=page.locator("[data-field='missing-text']", has_text=re.compile(rf": page\(s\) {missing} missing$")))
    for code in facts.codes:
        rows = rows.filter(has_not_text=re.compile(rf"^{code}:"))
    expect(rows).to_have_count(1)
    return rows


def upload(page, files):
    page.get_by_label("Scan files (PDF)").set_input_files(files)
    page.get_by_role("button", name="Upload").click()


def chunk_requests(page):
    """Indexes of the chunks the page sends, in order (appended to as requests go out)."""
    sent = []

    def on_request(request):
        match = re.search(r"/upload_chunk/[0-9a-f-]+/(\d+)", request.url)
        if match:
            sent.append(int(match.group(1)))
    page.on("request", on_request)
    return sent


def record_upload_progress(page):
    """Every value the upload progress bars take, in the page (window.__uploadProgress)."""
    page.add_init_script("""
        window.__uploadProgress = [];
        new MutationObserver(function (records) {
          records.forEach(function (record) {
            var bar = record.target;
            if (bar.tagName === 'PROGRESS' && /^Upload of /.test(bar.getAttribute('aria-label') || '')) {
              window.__uploadProgress.push([bar.value, bar.max]);
            }
          });
        }).observe(document, {subtree: true, attributes: true, attributeFilter: ['value', 'max']});
    """)


def scan_messages(page):
    return page.locator("[data-region='scan-messages']")


def anomaly_page(page, number, file_name):
    return page.get_by_role("group", name=f"Page {number} of {file_name}")


# -------------------------------------------------------------------------- tests

def test_demo_exam_comes_with_its_class_scan_and_anomalies(page, demo_host, demo_facts):
    """A fresh demo shows the imported class scan, its duplicated page and its copy missing a page."""
    open_dashboard(page, demo_host, demo_facts)
    (batch,) = demo_facts["batches"]
    # one page per page of every booklet: one is missing, one was scanned twice
    assert batch["pages"] == 4 * len(demo_facts.copies)
    progress = page.get_by_role("progressbar", name=f"Processing of {batch['name']}")
    expect(progress).to_have_attribute("value", str(batch["pages"]))
    expect(progress).to_have_attribute("max", str(batch["pages"]))

    expect(page.locator("[data-region='anomaly-pages'] > li")).to_have_count(1)
    (seeded,) = demo_facts["anomaly_pages"]
    duplicate = page.get_by_role("group", name=seeded["name"])
    expect(duplicate).to_contain_text("This page was scanned twice")
    expect(duplicate).to_contain_text("Code read: ")
    thumbnail = duplicate.get_by_role("img")
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    (incomplete,) = demo_facts["incomplete"]
    missing = ", ".join(map(str, incomplete["missing"]))
    expect(page.locator("[data-region='incomplete-copies'] li [data-field='missing-text']")).to_have_text(
        [f"{incomplete['code']}: page(s) {missing} missing"])


def test_upload_processing_and_anomaly_fixes(page, chunked_host, demo_facts):
    seeded = len(demo_facts.copies)
    data = booklet_scan(demo_facts)
    chunks = math.ceil(len(data) / CHUNK)
    assert chunks >= 3, len(data)
    record_upload_progress(page)
    sent = chunk_requests(page)
    open_dashboard(page, chunked_host, demo_facts)
    assert unnamed_controls(page, "[data-region='scans']") == []
    expect(page.get_by_role("radio", name=re.compile(r"^Many copies: .* every 4 pages$"))).to_be_checked()

    with page.expect_request(re.compile(r"/upload_finish/")) as finishing:
        upload(page, pdf_payload("class-scan.pdf", data))
    # the whole file's SHA-256 goes with "finish": the server checks the assembled file against it
    assert json.loads(finishing.value.post_data)["sha256"] == hashlib.sha256(data).hexdigest()

    # the bytes go up, chunk after chunk, until the bar is full
    bar = page.get_by_role("progressbar", name="Upload of class-scan.pdf")
    expect(bar).to_have_attribute("value", str(len(data)), timeout=SLOW)
    expect(bar).to_have_attribute("max", str(len(data)))
    values = [value for value, maximum in page.evaluate("window.__uploadProgress") if maximum == len(data)]
    assert values == sorted(values) and values[-1] == len(data), values
    assert any(0 < value < len(data) for value in values), values
    assert sent == list(range(chunks))
    # then the processing, batch by batch
    processing = page.get_by_role("progressbar", name="Processing of class-scan.pdf")
    expect(processing).to_have_attribute("value", "17", timeout=SLOW)
    expect(processing).to_have_attribute("max", "17")
    batch = page.locator("[data-region='batches'] li", has_text="class-scan.pdf")
    expect(batch).to_contain_text("17 of 17 pages")
    expect(batch).to_contain_text("Processed")
    expect(page.locator("[data-region='uploads'] li", has_text="class-scan.pdf")).to_contain_text("Accepted")
    expect(scan_messages(page)).to_contain_text("class-scan.pdf is processed: 17 pages.")

    # the copy list and the counters now have the five booklets
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{seeded + 5} copies")
    expect(page.locator("[data-region='copies'] tbody tr")).to_have_count(seeded + 5)
    expect(page.locator("dd[data-count='total']")).to_have_text(str(seeded + 5))

    # the anomaly queue: the page scanned twice and the sheet without a code, with thumbnails,
    # after the demo scan's own
    queue = page.locator("[data-region='anomaly-pages'] > li")
    expect(queue).to_have_count(len(demo_facts["anomaly_pages"]) + 2)
    expect(anomaly_pages(page, "class-scan.pdf")).to_have_count(2)
    duplicate = anomaly_page(page, 9, "class-scan.pdf")
    loose = anomaly_page(page, 17, "class-scan.pdf")
    expect(duplicate).to_contain_text("This page was scanned twice")
    expect(loose).to_contain_text("No readable QR code")
    for item in (duplicate, loose):
        thumbnail = item.get_by_role("img")
        thumbnail.scroll_into_view_if_needed()
        expect(thumbnail).to_have_attribute("alt", re.compile(r"^Thumbnail of page \d+ of class-scan\.pdf"))
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert unnamed_controls(page, "[data-region='anomalies']") == []
    # the 3rd booklet lacks its page 2; the 4th and 5th have half a copy each
    incomplete = incomplete_copy(page, demo_facts, "2")
    copy_code = incomplete.inner_text().split(":")[0]
    copy_id = incomplete.get_attribute("data-copy-id")
    first_half = incomplete_copy(page, demo_facts, "3, 4").inner_text().split(":")[0]
    second_half = incomplete_copy(page, demo_facts, "1, 2").inner_text().split(":")[0]

    # the loose sheet is the 3rd booklet's page 2: assign it
    loose.get_by_label("Copy").select_option(copy_id)
    loose.get_by_label("Page number").fill("2")
    with page.expect_response(re.compile(r"/fix_page/")) as fixed:
        loose.get_by_role("button", name="Assign page 17 of class-scan.pdf").click()
    assert fixed.value.ok
    expect(loose).to_have_count(0)
    messages = page.locator("[data-region='anomaly-messages']")
    expect(messages).to_contain_text(f"Page 17 of class-scan.pdf is now page 2 of copy {copy_code}.")
    expect(page.locator("[data-region='incomplete-copies'] li", has_text=copy_code)).to_have_count(0)
    # focus went to the next page left in the queue; discard it from the keyboard, after a confirmation
    expect(duplicate.get_by_label("Copy")).to_be_focused()
    duplicate.get_by_role("button", name="Discard page 9 of class-scan.pdf").focus()
    page.keyboard.press("Enter")
    expect(duplicate.get_by_role("button", name="Yes, discard it")).to_be_focused()
    expect(duplicate.get_by_role("group", name="Discard page 9 of class-scan.pdf?")).to_be_visible()
    page.keyboard.press("Enter")
    expect(messages).to_contain_text("Page 9 of class-scan.pdf was discarded.")
    expect(anomaly_pages(page, "class-scan.pdf")).to_have_count(0)
    # what is left is the demo scan's own anomaly, which now has the focus
    expect(queue).to_have_count(len(demo_facts["anomaly_pages"]))
    first_left = page.get_by_role("group", name=demo_facts["anomaly_pages"][-1]["name"])
    expect(first_left.get_by_label("Copy")).to_be_focused()

    # merging the two halves of one pupil's copy removes one from the copy list
    page.get_by_label("Copy whose pages move").select_option(label=second_half)
    page.get_by_label("Copy that receives them").select_option(label=first_half)
    page.get_by_role("button", name="Merge").click()
    expect(messages).to_contain_text(f"The pages of {second_half} are now in {first_half}.")
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{seeded + 4} copies")
    expect(page.get_by_role("rowheader", name=second_half, exact=True)).to_have_count(0)
    expect(page.locator("dd[data-count='total']")).to_have_text(str(seeded + 4))
    for code in (first_half, second_half):
        expect(page.locator("[data-region='incomplete-copies'] li", has_text=code)).to_have_count(0)

    # after a reload the queue holds the demo's anomalies only and the batch is still listed
    page.reload()
    expect(queue).to_have_count(len(demo_facts["anomaly_pages"]))
    expect(anomaly_pages(page, "class-scan.pdf")).to_have_count(0)
    expect(page.locator("[data-region='incomplete-copies'] li")).to_have_count(len(demo_facts["incomplete"]))
    expect(page.locator("[data-region='batches'] li", has_text="class-scan.pdf")).to_contain_text("Processed")

    # a grader follows the processing (of scans named by number, not by file) but neither uploads
    # nor fixes pages
    page.goto(chunked_host.url(student="staff_1", screen="scans"))
    ours = page.locator("[data-region='batches'] li", has_text="17 of 17 pages")
    expect(ours.get_by_role("progressbar", name=re.compile(r"^Processing of Scan \d+$"))).to_have_attribute("value", "17")
    expect(page.locator("[data-region='batches'] li")).to_have_count(len(demo_facts["batches"]) + 1)
    assert "class-scan.pdf" not in page.content()
    expect(page.get_by_label("Scan files (PDF)")).to_have_count(0)
    expect(page.get_by_role("button", name="Upload")).to_have_count(0)
    expect(page.locator("[data-region='anomalies']")).to_have_count(0)


def test_refused_file_shows_translated_reason_and_creates_nothing(page, fresh_demo_host, demo_facts):
    seeded = len(demo_facts.copies)
    page.context.add_cookies([{"name": "django_language", "value": "fr", "url": fresh_demo_host.base_url}])
    page.goto(fresh_demo_host.url(student=INSTRUCTOR, screen="scans"))
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{seeded} copies")
    expect(page.get_by_role("heading", name="Numérisations")).to_be_visible()
    expect_seeded_batches(page, demo_facts)
    fake = b"<!DOCTYPE html><html><body><p>Not a scan</p></body></html>\n"

    page.get_by_label("Fichiers numérisés (PDF)").set_input_files(
        {"name": "copies.pdf", "mimeType": "application/pdf", "buffer": fake})
    page.get_by_role("button", name="Téléverser").click()

    with translation.override("fr"):
        reason = NotAPdf().message  # as the server's French catalogue has it
    row = page.locator("[data-region='uploads'] li", has_text="copies.pdf")
    expect(row.locator("[data-field='outcome']")).to_contain_text("Refusé : " + reason)
    expect(scan_messages(page)).to_contain_text("copies.pdf a été refusé : " + reason)
    expect_seeded_batches(page, demo_facts)
    page.reload()  # nothing was created; the refusal is remembered with its reason
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{seeded} copies")
    expect(page.locator("dd[data-count='total']")).to_have_text(str(seeded))
    expect(page.locator("[data-region='uploads'] li", has_text="copies.pdf")).to_contain_text("Refusé : " + reason)
    expect_seeded_batches(page, demo_facts)
    expect(page.locator("[data-region='anomaly-pages'] > li")).to_have_count(len(demo_facts["anomaly_pages"]))


def test_interrupted_upload_resumes_with_the_missing_chunks(page, chunked_host, browser_errors, tmp_path, demo_facts):
    seeded = len(demo_facts.copies)
    path = tmp_path / "plain-scan.pdf"
    path.write_bytes(plain_scan())
    size = path.stat().st_size
    chunks = math.ceil(size / CHUNK)
    assert chunks >= 3, size
    sent = chunk_requests(page)
    failed = []

    def refuse_chunk_one(route):
        failed.append(route.request.url)
        route.fulfill(status=503, content_type="text/plain", body="Service Unavailable")
    page.route(re.compile(r"/upload_chunk/[0-9a-f-]+/1\?"), refuse_chunk_one)
    browser_errors.allow_http(503, "/upload_chunk/")
    open_dashboard(page, chunked_host, demo_facts)
    page.get_by_role("radio", name=re.compile(r"^Many copies")).check()

    upload(page, str(path))

    expect(scan_messages(page)).to_contain_text(
        "The upload of plain-scan.pdf stopped: The server answered with an error (503). "
        "It will resume where it stopped when you choose the file again", timeout=SLOW)
    assert len(failed) == 4  # tried once, then three more times with backoff
    assert sent == [0, 1, 1, 1, 1]
    row = page.locator("[data-region='uploads'] li", has_text="plain-scan.pdf")
    expect(row.locator("[data-field='outcome']")).to_contain_text("Stopped")
    expect(row.get_by_role("progressbar")).to_have_attribute("value", str(CHUNK))

    # the connection is back: choosing the same file again sends only the chunks still missing
    page.unroute(re.compile(r"/upload_chunk/[0-9a-f-]+/1\?"))
    del sent[:]
    with page.expect_response(re.compile(r"/upload_status/")) as status, \
            page.expect_request(re.compile(r"/upload_finish/")) as finishing:
        upload(page, str(path))
    assert status.value.json()["received"] == [0]
    # the hash covers the whole file, the chunk sent before the interruption too
    assert json.loads(finishing.value.post_data)["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    expect(scan_messages(page)).to_contain_text(
        f"Resuming the upload of plain-scan.pdf: 1 of {chunks} parts are already there.")
    processing = page.get_by_role("progressbar", name="Processing of plain-scan.pdf")
    expect(processing).to_have_attribute("value", "8", timeout=SLOW)
    assert sent == list(range(1, chunks))
    expect(page.locator("[data-region='uploads'] li", has_text="plain-scan.pdf")).to_have_count(1)
    expect(page.locator("[data-region='uploads'] li", has_text="plain-scan.pdf")).to_contain_text("Accepted")
    # no codes: every 4 pages make a copy
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{seeded + 2} copies", timeout=SLOW)
    # the file is done: choosing it again starts a new upload, recognised as the same file
    del sent[:]
    upload(page, str(path))
    expect(scan_messages(page)).to_contain_text("plain-scan.pdf was uploaded before: nothing was added.")
    expect(page.locator("[data-region='copies-status']")).to_have_text(f"{seeded + 2} copies")


def test_a_file_over_djangos_body_limit_uploads_with_the_default_chunk_size(page, fresh_demo_host, demo_facts):
    data = plain_scan(pages=12, side=500)
    assert len(data) > 2.5 * 1024 * 1024, len(data)
    open_dashboard(page, fresh_demo_host, demo_facts)

    upload(page, pdf_payload("big-scan.pdf", data))

    row = page.locator("[data-region='uploads'] li", has_text="big-scan.pdf")
    expect(row.locator("[data-field='outcome']")).to_have_text("Accepted", timeout=SLOW)


def test_the_page_hashes_files_in_pieces_as_sha256_does(page, demo_host):
    """The whole file's SHA-256 is computed by the page chunk after chunk (crypto.subtle.digest takes its
    input at once, and a scan can be 1 GiB): any length, cut anywhere, gives SHA-256's digest."""
    page.goto(demo_host.url(student=INSTRUCTOR, screen="scans"))
    expect(page.get_by_role("heading", name="Scans")).to_be_visible()
    lengths = list(range(0, 130)) + [1000, 4096, 65_537, 3 * 1024 * 1024 + 5]
    digests = page.evaluate("""(lengths) => lengths.map(function (length) {
        var bytes = new Uint8Array(length);
        for (var i = 0; i < length; i += 1) { bytes[i] = (i * 31 + 7 + (i >> 8)) & 255; }
        var whole = new ViatiqueScans.Sha256(), cuts = new ViatiqueScans.Sha256();
        whole.update(bytes);
        for (var start = 0, step = 1; start < length; start += step, step = step * 3 % 1000 + 1) {
          cuts.update(bytes.subarray(start, Math.min(length, start + step)));
        }
        return [whole.hex(), cuts.hex()];
    })""", lengths)
    for length, (whole, cuts) in zip(lengths, digests):
        expected = hashlib.sha256(bytes((i * 31 + 7 + (i >> 8)) & 255 for i in range(length))).hexdigest()
        assert whole == cuts == expected, length
