"""The scan pipeline on the Django side, run in-process: splitting, anomalies, formats, handlers."""
import io
import json
import os

import pymupdf
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from webob import Request

from tests.harness import call, make_block
from tests.unit.pdf import builders
from viatique_xblock import public_ids
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.models import Annotation, AuditEvent, Copy, Page, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import Learner, current_user
from viatique_xblock.scanning import anomalies, batches, booklets
from viatique_xblock.states import BatchState, Grading, Identity

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest(django_capture_on_commit_callbacks):
    """Import a scan as ``viatique_import_scan --sync`` does (processing runs once the batch is committed)."""
    def run(exam, data, name="scan.pdf", **options):
        info = batches.validate_bytes(data)
        with django_capture_on_commit_callbacks(execute=True):
            batch = batches.create_batch(exam, name, info.sha256, info, io.BytesIO(data), send=batches.run_locally,
                                       **options)
        batch.refresh_from_db()
        return batch
    return run


def pages_of(copy):
    return list(Page.objects.filter(copy=copy).order_by("position").values_list("position", "rotation"))


@pytest.fixture
def exam():
    return make_block().get_exam()


def test_qr_scan_in_any_order_with_anomalies(exam, ingest):
    pdf, numbers = booklets.print_booklets(exam, copies=3, blank_pages=4)
    # booklet 2's third page is missing, booklet 3's first page is scanned twice, one page upside down;
    # the second file holds the end of booklet 3, scanned separately and out of order
    part_one = synthetic.scan(pdf, order=[4, 5, 7, 0, 1, 2, 3, 8, 8], upside_down=(5,))
    part_two = synthetic.scan(pdf, order=[11, 9, 10], seed=2)
    ingest(exam, part_one, "part-one.pdf")
    batch = ingest(exam, part_two, "part-two.pdf")
    assert batch.state == BatchState.DONE
    copies = {copy.booklet_number: copy for copy in Copy.objects.filter(exam=exam)}
    assert sorted(copies) == sorted(numbers)
    assert [position for position, _ in pages_of(copies[numbers[0]])] == [1, 2, 3, 4]
    assert pages_of(copies[numbers[1]]) == [(1, 0), (2, 180), (4, 0)]
    assert [position for position, _ in pages_of(copies[numbers[2]])] == [1, 2, 3, 4]
    queue = anomalies.queue(exam)
    assert [page["anomaly"] for page in queue["pages"]] == ["duplicate"]
    assert queue["incomplete_copies"] == [{"id": copies[numbers[1]].public_id, "code": copies[numbers[1]].anonymous_code,
                                           "missing": [3]}]
    assert ScanBatch.objects.filter(exam=exam, state=BatchState.DONE).count() == 2
    assert AuditEvent.objects.filter(exam=exam, action="scan.processed").count() == 2


def test_codes_of_another_exam_and_pages_without_code_are_anomalies(exam, ingest):
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@other").get_exam()
    ours, _first = booklets.print_booklets(exam, copies=1, blank_pages=2)
    theirs, _ = booklets.print_booklets(other, copies=1, blank_pages=2)
    blank = builders.image_pdf([builders.jpeg(text="")])
    doc = pymupdf.open(stream=ours, filetype="pdf")
    doc.insert_pdf(pymupdf.open(stream=theirs, filetype="pdf"), from_page=0, to_page=0)
    doc.insert_pdf(pymupdf.open(stream=blank, filetype="pdf"))
    ingest(exam, synthetic.scan(doc.tobytes()))
    assert sorted(page["anomaly"] for page in anomalies.queue(exam)["pages"]) == ["no_code", "other_exam"]
    assert Copy.objects.filter(exam=exam).count() == 1


def test_prenamed_booklets_are_identified_without_a_human_step(exam, ingest):
    learners = [Learner("learner_1", "Chloé Dubois", "anon-1"), Learner("learner_2", "Léo Martin", "anon-2")]
    pdf, numbers = booklets.print_booklets(exam, blank_pages=2, learners=learners)
    ingest(exam, synthetic.scan(pdf))
    copies = {copy.booklet_number: copy for copy in Copy.objects.filter(exam=exam)}
    assert copies[numbers[0]].identity_state == Identity.IDENTIFIED
    assert (copies[numbers[0]].learner_username, copies[numbers[0]].learner_anonymous_id) == ("learner_1", "anon-1")
    assert copies[numbers[1]].learner_name == "Léo Martin"
    assert AuditEvent.objects.filter(exam=exam, action="copy.identified").count() == 2


def test_booklets_printed_by_earlier_versions_numbered_from_1_still_scan_and_identify(exam, ingest):
    """Earlier versions numbered booklets 1, 2, ... in print order (the roster's for prenamed ones) and kept
    them in Booklet rows: such booklets, already printed, scan and are identified as before."""
    from viatique_xblock.models import Booklet
    from viatique_xblock.pdf import booklets as pdf_booklets

    learners = [Learner("learner_1", "Chloé Dubois", "anon-1"), Learner("learner_2", "Léo Martin", "anon-2")]
    Booklet.objects.bulk_create([Booklet(exam=exam, number=number, learner_anonymous_id=learner.anonymous_id,
                                         learner_username=learner.username, learner_name=learner.name)
                                 for number, learner in enumerate(learners, start=1)])
    printed = pdf_booklets.make_booklets(blank_pages=2, exam_ref=batches.exam_ref(exam),
                                         names=[learner.name for learner in learners], first_copy=1)
    ingest(exam, synthetic.scan(printed))
    copies = {copy.booklet_number: copy for copy in Copy.objects.filter(exam=exam)}
    assert (copies[1].learner_username, copies[2].learner_username) == ("learner_1", "learner_2")
    assert not anomalies.queue(exam)["pages"]
    # a new print run of the exam draws random numbers, never theirs
    _pdf, numbers = booklets.print_booklets(exam, copies=3, blank_pages=2)
    assert not {1, 2} & set(numbers)


def test_scan_without_codes_is_cut_every_pages_per_copy_and_the_short_copy_is_reported(exam, ingest):
    data = builders.image_pdf([builders.jpeg(text=f"page {n}") for n in range(10)])
    ingest(exam, data)
    copies = list(Copy.objects.filter(exam=exam).order_by("source_group"))
    assert [len(pages_of(copy)) for copy in copies] == [4, 4, 2]
    assert [entry["missing"] for entry in anomalies.queue(exam)["incomplete_copies"]] == [[3, 4]]
    assert len({copy.anonymous_code for copy in copies}) == 3


def test_import_option_pages_per_copy_and_one_file_per_learner(exam, ingest):
    data = builders.image_pdf([builders.jpeg(text=f"page {n}") for n in range(6)])
    ingest(exam, data, pages_per_copy=3)
    assert sorted(len(pages_of(copy)) for copy in Copy.objects.filter(exam=exam)) == [3, 3]
    single = builders.image_pdf([builders.jpeg(text=f"other {n}") for n in range(7)])
    batch = ingest(exam, single, "learner.pdf", split_mode="per_file")
    (copy,) = Copy.objects.filter(source_batch=batch)
    assert [position for position, _ in pages_of(copy)] == list(range(1, 8))


def full_searches(monkeypatch):
    """The pages searched in full after their first look (the expensive passes), in call order."""
    from viatique_xblock.pdf import decode

    searched = []
    read = decode.read_page_code

    def counted(doc, index, **options):
        searched.append(index)
        return read(doc, index, **options)
    monkeypatch.setattr(decode, "read_page_code", counted)
    return searched


def test_a_scan_of_the_schools_own_paper_skips_the_expensive_search_of_every_page(exam, ingest, monkeypatch):
    """200 dpi grey pages without codes, on an exam that printed no booklet: each page gets the first look
    at its top strip only, and the scan is cut every four pages."""
    searched = full_searches(monkeypatch)
    with override_settings(VIATIQUE={**settings.VIATIQUE, "PAGES_PER_TASK": 4}):
        batch = ingest(exam, synthetic.scan(synthetic.own_paper(8), dpi=200, upside_down=(5,)))
    assert batch.state == BatchState.DONE
    assert searched == []
    assert [len(pages_of(copy)) for copy in Copy.objects.filter(exam=exam).order_by("source_group")] == [4, 4]
    assert not anomalies.queue(exam)["pages"]


def test_pages_the_first_look_misses_are_searched_in_a_scan_with_codes(exam, ingest, monkeypatch):
    """The scan's own pattern: booklets printed outside this exam's Booklet rows (no mode to go by), one page
    fed upside down among upright ones of its range: found, turned, placed."""
    from viatique_xblock.pdf import booklets as pdf_booklets

    printed = pdf_booklets.make_booklets(blank_pages=4, copies=2, exam_ref=batches.exam_ref(exam), first_copy=1)
    searched = full_searches(monkeypatch)
    with override_settings(VIATIQUE={**settings.VIATIQUE, "PAGES_PER_TASK": 4}):
        ingest(exam, synthetic.scan(printed, dpi=200, upside_down=(6,)))
    assert searched == [6]
    copies = {copy.booklet_number: copy for copy in Copy.objects.filter(exam=exam)}
    assert pages_of(copies[2]) == [(1, 0), (2, 0), (3, 180), (4, 0)]
    assert not anomalies.queue(exam)["pages"]


def test_a_range_of_upside_down_booklet_pages_is_searched_when_the_exam_printed_booklets(exam, ingest, monkeypatch):
    """The exam's mode: a stack fed upside down fills a whole range whose pages show no code at the first
    look; the exam printed booklets, so each of them is searched in full and placed."""
    pdf, numbers = booklets.print_booklets(exam, copies=2, blank_pages=4)
    searched = full_searches(monkeypatch)
    with override_settings(VIATIQUE={**settings.VIATIQUE, "PAGES_PER_TASK": 4}):
        ingest(exam, synthetic.scan(pdf, upside_down=(4, 5, 6, 7)))
    assert searched == [4, 5, 6, 7]
    copy = Copy.objects.get(exam=exam, booklet_number=numbers[1])
    assert pages_of(copy) == [(1, 180), (2, 180), (3, 180), (4, 180)]
    assert not anomalies.queue(exam)["pages"]
    assert batches.codes_expected(exam)
    assert not batches.codes_expected(make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@new").get_exam())


def test_ranges_count_the_pages_and_leave_the_batch_row_alone_until_the_last_one(exam):
    """No counter that every range updates: a range reads the page count, writes the batch's progress at most
    every PROGRESS_EVERY_SECONDS, and the one that completes the batch claims its assembly, once."""
    import datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    data = builders.image_pdf([builders.jpeg(text=f"page {n}") for n in range(12)])
    info = batches.validate_bytes(data)
    sent = []
    batch = batches.create_batch(exam, "scan.pdf", info.sha256, info, io.BytesIO(data), send=lambda *step: None)
    with override_settings(VIATIQUE={**settings.VIATIQUE, "PAGES_PER_TASK": 4}):
        batches.process_batch(batch.pk, send=lambda *step: None)
        with CaptureQueriesContext(connection) as queries:
            batches.process_range(batch.pk, 0, 4, send=lambda *step: sent.append(step))
    table = ScanBatch._meta.db_table
    assert not [query["sql"] for query in queries if query["sql"].startswith("UPDATE") and table in query["sql"]]
    assert ScanBatch.objects.get(pk=batch.pk).pages_done == 0
    assert batches.progress(exam)[0]["pages_done"] == 4  # the dashboard counts the pages itself
    long_ago = timezone.now() - datetime.timedelta(seconds=batches.PROGRESS_EVERY_SECONDS + 1)
    ScanBatch.objects.filter(pk=batch.pk).update(updated_at=long_ago)
    batches.process_range(batch.pk, 4, 8, send=lambda *step: sent.append(step))
    batch.refresh_from_db()
    assert (batch.pages_done, batch.state, sent) == (8, BatchState.PROCESSING, [])
    assert batch.updated_at > long_ago  # a recent step, for the recovery
    batches.process_range(batch.pk, 8, 12, send=lambda *step: sent.append(step))
    batches.process_range(batch.pk, 8, 12, send=lambda *step: sent.append(step))  # redelivered: no second claim
    batch.refresh_from_db()
    assert (batch.pages_done, batch.state, sent) == (12, BatchState.ASSEMBLING, [("assemble_batch", batch.pk)])


def test_processing_twice_creates_nothing_twice(exam, ingest):
    pdf, _first = booklets.print_booklets(exam, copies=2, blank_pages=2)
    scanned = synthetic.scan(pdf)
    batch = ingest(exam, scanned)
    before = (Copy.objects.count(), Page.objects.count())
    ScanBatch.objects.filter(pk=batch.pk).update(state=BatchState.PROCESSING)
    batches.process_range(batch.pk, 0, 4, send=batches.run_locally)  # a redelivered task
    assert (Copy.objects.count(), Page.objects.count()) == before
    assert ingest(exam, scanned) == batch, "the same file is recognised"


@pytest.mark.parametrize("kind", ["cmyk_jpeg", "jpeg2000", "ccitt", "one_bit", "rotated", "letter_and_a5"])
def test_scanner_formats_import_with_page_images(exam, ingest, kind):
    if kind == "cmyk_jpeg":
        data = builders.image_pdf([builders.jpeg(colorspace=pymupdf.csCMYK)] * 4)
    elif kind == "jpeg2000":
        from PIL import Image
        out = io.BytesIO()
        Image.new("L", (400, 566), 230).save(out, "JPEG2000")
        data = builders.image_pdf([out.getvalue()] * 4)
    elif kind == "ccitt":
        data = builders.ccitt_pdf()
    elif kind == "one_bit":
        pix = pymupdf.open(stream=builders.subject(1), filetype="pdf")[0].get_pixmap(dpi=100)
        data = builders.one_bit_page_pdf(pix)
    elif kind == "rotated":
        data = builders.subject(pages=4, rotate=90)
    else:
        doc = pymupdf.open()
        for width, height in ((612, 792), (420, 595), (612, 792), (420, 595)):
            doc.new_page(width=width, height=height)
        data = doc.tobytes()
    ingest(exam, data)
    pages = list(Page.objects.filter(exam=exam))
    assert pages and all(page.copy_id for page in pages)
    store = storage.get_storage()
    for page in pages:
        image = store.open(page.image_name).read()
        assert pymupdf.Pixmap(image).width > 100


def test_anomaly_fixes_are_checked_and_audited(exam, ingest):
    pdf, numbers = booklets.print_booklets(exam, copies=2, blank_pages=2)
    ingest(exam, synthetic.scan(pdf, order=[0, 0, 1, 2]))
    instructor = current_user(make_block())
    duplicate = Page.objects.get(exam=exam, anomaly="duplicate")
    second = Copy.objects.get(exam=exam, booklet_number=numbers[1])
    with pytest.raises(ViatiqueError) as caught:
        anomalies.assign_page(exam, duplicate.public_id, second.public_id, 1, actor=instructor)
    assert caught.value.code == "position_taken"
    anomalies.assign_page(exam, duplicate.public_id, second.public_id, 2, actor=instructor)
    assert pages_of(second) == [(1, 0), (2, 0)]
    assert AuditEvent.objects.filter(action="page.assigned", actor="instructor_1").exists()
    anomalies.discard_page(exam, duplicate.public_id, actor=instructor)
    assert Page.objects.get(pk=duplicate.pk).discarded and anomalies.queue(exam)["pages"] == []
    Copy.objects.filter(pk=second.pk).update(grading_state=Grading.SUBMITTED)
    page = Page.objects.filter(copy=second).first()
    with pytest.raises(ViatiqueError) as caught:
        anomalies.discard_page(exam, page.public_id)
    assert caught.value.code == "copy_locked"
    other_exam = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@x").get_exam()
    with pytest.raises(ViatiqueError) as caught:
        anomalies.discard_page(other_exam, page.public_id)
    assert caught.value.code == "not_found"


def test_merging_two_partial_copies(exam, ingest):
    data = builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(6)])
    ingest(exam, data)  # 4 + 2 pages
    full, short = Copy.objects.filter(exam=exam).order_by("source_group")
    third = Copy.objects.create(exam=exam, anonymous_code="ZZZZZ")
    merged = anomalies.merge_copies(exam, short.public_id, third.public_id)
    assert merged == third and pages_of(third) == [(1, 0), (2, 0)], "no clash: the pages keep their numbers"
    assert not Copy.objects.filter(pk=short.pk).exists()
    assert AuditEvent.objects.filter(action="copy.merged").exists()


def _pages_in_order(copy):
    return list(Page.objects.filter(copy=copy).order_by("position").values_list("position", "source_index"))


def test_a_second_booklet_with_the_same_page_numbers_goes_after_the_last_page(exam, ingest):
    data = builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(6)])
    ingest(exam, data)  # 4 + 2 pages, both numbered from 1
    full, short = Copy.objects.filter(exam=exam).order_by("source_group")
    instructor = current_user(make_block())
    merged = anomalies.merge_copies(exam, short.public_id, full.public_id, actor=instructor)
    assert merged == full
    assert _pages_in_order(full) == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5)]
    event = AuditEvent.objects.get(action="copy.merged")
    assert event.actor == "instructor_1" and sorted(event.details["renumbered"].values()) == [5, 6]
    assert anomalies.queue(exam)["incomplete_copies"] == []


def test_pages_move_between_copies_and_extra_sheets_go_last(exam, ingest):
    ingest(exam, builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(8)]))  # two copies of 4
    first, second = Copy.objects.filter(exam=exam).order_by("source_group")
    moving = Page.objects.get(copy=second, position=4)
    anomalies.assign_page(exam, moving.public_id, first.public_id, None)  # no number: after the last page
    assert _pages_in_order(first)[-1] == (5, moving.source_index)
    assert anomalies.missing_of(exam, second) == [4]
    assert AuditEvent.objects.filter(action="page.moved", details__page=moving.pk).exists()
    # a page that carries an annotation stays in its copy
    annotated = Page.objects.get(copy=second, position=1)
    Annotation.objects.create(copy=second, page=annotated, kind="tick", x=0.1, y=0.1)
    with pytest.raises(ViatiqueError) as caught:
        anomalies.assign_page(exam, annotated.public_id, first.public_id, None)
    assert caught.value.code == "page_annotated"
    # and a graded copy's pages do not change until it is reopened
    Copy.objects.filter(pk=first.pk).update(grading_state=Grading.GRADED)
    page = Page.objects.get(copy=second, position=2)
    with pytest.raises(ViatiqueError) as caught:
        anomalies.assign_page(exam, page.public_id, first.public_id, None)
    assert caught.value.code == "copy_locked" and Page.objects.get(pk=page.pk).copy_id == second.pk
    Copy.objects.filter(pk=first.pk).update(grading_state=Grading.REOPENED)
    anomalies.assign_page(exam, page.public_id, first.public_id, 6)
    assert _pages_in_order(first)[-1] == (6, page.source_index)


def test_discard_is_undone_back_to_the_same_place(exam, ingest):
    ingest(exam, builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(4)]))
    copy = Copy.objects.get(exam=exam)
    page = Page.objects.get(copy=copy, position=3)
    instructor = current_user(make_block())
    anomalies.discard_page(exam, page.public_id, actor=instructor)
    assert anomalies.missing_of(exam, copy) == [3]
    assert [item["id"] for item in anomalies.queue(exam)["incomplete_copies"]] == [copy.public_id]
    restored = anomalies.restore_page(exam, page.public_id, actor=instructor)
    assert (restored.copy_id, restored.position, restored.discarded) == (copy.pk, 3, False)
    assert list(AuditEvent.objects.filter(exam=exam, details__page=page.pk).values_list("action", flat=True)) \
        == ["page.restored", "page.discarded"]
    with pytest.raises(ViatiqueError) as caught:
        anomalies.restore_page(exam, page.public_id)
    assert caught.value.code == "nothing_to_undo"
    # when its place was taken meanwhile, the undone page waits in the queue
    anomalies.discard_page(exam, page.public_id)
    other = Page.objects.get(copy=copy, position=4)
    anomalies.assign_page(exam, other.public_id, copy.public_id, 3)
    anomalies.restore_page(exam, page.public_id)
    assert [item["id"] for item in anomalies.queue(exam)["pages"]] == [page.public_id]


def test_missing_pages_are_queryable_and_can_be_accepted(exam, ingest, django_assert_num_queries):
    ingest(exam, builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(7)]))  # 4 + 3 pages
    full, short = Copy.objects.filter(exam=exam).order_by("source_group")
    assert list(anomalies.copies_missing_pages(exam)) == [short]
    with django_assert_num_queries(1):
        flags = dict(anomalies.with_missing_pages(Copy.objects.filter(exam=exam), exam.pages_per_copy)
                     .values_list("pk", "has_missing_pages"))
    assert flags == {full.pk: False, short.pk: True}
    # a gap counts too: page 2 of the full copy discarded
    anomalies.discard_page(exam, Page.objects.get(copy=full, position=2).public_id)
    assert set(anomalies.copies_missing_pages(exam)) == {full, short}
    anomalies.accept_missing(exam, short.public_id, actor=current_user(make_block()))
    assert list(anomalies.copies_missing_pages(exam)) == [full]
    assert [item["id"] for item in anomalies.queue(exam)["incomplete_copies"]] == [full.public_id]
    event = AuditEvent.objects.get(action="copy.missing_accepted")
    assert event.details == {"accepted": True, "missing": [4]} and event.copy_id_ref == short.pk


def test_loose_pages_wait_in_the_queue_and_are_attached_by_hand(exam, ingest):
    ingest(exam, builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(3)]))  # page 4 never scanned
    copy = Copy.objects.get(exam=exam)
    ingest(exam, builders.image_pdf([builders.jpeg(text="late")]), "late.pdf", split_mode="loose")
    (loose,) = anomalies.queue(exam)["pages"]
    assert loose["anomaly"] == "loose" and Copy.objects.filter(exam=exam).count() == 1
    block = make_block()
    status, body = call(block, "fix_page", {"page_id": loose["id"], "action": "assign", "copy_id": copy.public_id})
    assert status == 200 and body["pages"] == [] and body["incomplete_copies"] == []
    assert [position for position, _ in pages_of(copy)] == [1, 2, 3, 4]
    status, body = call(block, "copy_pages", method="GET", suffix=copy.public_id)
    assert status == 200 and [page["position"] for page in body["pages"]] == [1, 2, 3, 4]
    status, body = call(block, "fix_page", {"page_id": loose["id"], "action": "discard"})
    assert status == 200 and body["incomplete_copies"][0]["missing"] == [4]
    status, body = call(block, "fix_page", {"page_id": loose["id"], "action": "restore"})
    assert status == 200 and body["incomplete_copies"] == []
    status, body = call(block, "accept_missing", {"copy_id": "nope"})
    assert status == 404 and body["error"] == "not_found"


def test_page_images_and_thumbnails_are_served_privately_to_staff_only(exam, ingest):
    data = builders.image_pdf([builders.baseline_jpeg(pymupdf.open(stream=builders.subject(1), filetype="pdf")[0]
                                                       .get_pixmap(dpi=100))] * 4)
    ingest(exam, data)
    page = Page.objects.filter(exam=exam, position=2).first()  # not a cover: nothing is masked
    assert page.thumbnail_name == "", "thumbnails are made when first asked for"
    block = make_block("staff_1", "staff")
    response = block.handle("page_image", Request.blank("/"), page.public_id)
    assert response.status_code == 200 and response.content_type == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body == storage.get_storage().open(page.image_name).read(), "the scanner's JPEG, untouched"
    thumb = block.handle("page_image", Request.blank("/"), f"{page.public_id}/thumb")
    assert thumb.status_code == 200 and pymupdf.Pixmap(thumb.body).width == 180
    page.refresh_from_db()
    assert page.thumbnail_name
    status, body = call(make_block("learner_1", "learner"), "page_image", method="GET", suffix=page.public_id)
    assert status == 403 and body["error"] == "forbidden"
    other = make_block("staff_1", "staff", usage="block-v1:Viatique+T101+2026+type@viatique+block@x")
    status, body = call(other, "page_image", method="GET", suffix=page.public_id)
    assert status == 404 and body["error"] == "not_found"


def test_upload_chunk_reads_bodies_over_djangos_memory_limit():
    block = make_block()
    size = 3 * 1024 * 1024
    status, started = call(block, "upload_start", {"file_name": "big.pdf", "size": size})
    assert status == 200
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024, VIATIQUE={"UPLOAD_CHUNK_BYTES": size}):
        status, started = call(block, "upload_start", {"file_name": "big.pdf", "size": size})
        request = Request.blank("/", method="POST", body=b"x" * size)
        response = block.handle("upload_chunk", request, f"{started['upload_id']}/0")
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["received"] == [0]


@pytest.mark.django_db(transaction=True)  # the command commits, as it does in a shell
def test_operator_commands_share_the_upload_path(tmp_path, capsys):
    out = tmp_path / "booklets.pdf"
    call_command("viatique_print_booklets", str(out), "--block", "cmd-exam", "--copies", "2", "--blank-pages", "2")
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(synthetic.scan(out.read_bytes()))
    call_command("viatique_check_pdf", str(scan), "--json")
    checked = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert checked["ok"] is True and checked["pages"] == 4
    call_command("viatique_import_scan", str(scan), "--block", "cmd-exam", "--sync")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["copies"], summary["pages"], summary["anomalies"]) == (2, 4, 0)
    assert summary["states"] == ["done"] and summary["seconds"] >= 0
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"<html></html>")
    with pytest.raises(SystemExit) as exited:
        call_command("viatique_check_pdf", str(bad), "--json")
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["code"] == "not_a_pdf"


def reassembly_queries(batch):
    """Run the assembly of ``batch`` again (as a redelivered task would) and count its queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ScanBatch.objects.filter(pk=batch.pk).update(state=BatchState.ASSEMBLING)
    with CaptureQueriesContext(connection) as captured:
        batches.assemble_batch(batch.pk)
    return len(captured)


@pytest.mark.parametrize("mode", ["qr", "fixed"])
def test_assembly_queries_do_not_grow_with_the_copies_and_a_redelivery_creates_nothing(ingest, mode):
    counts = {}
    for copies in (2, 9):
        exam = make_block(usage=f"block-v1:Viatique+T101+2026+type@viatique+block@{mode}{copies}").get_exam()
        if mode == "qr":
            pdf, _first = booklets.print_booklets(exam, copies=copies, blank_pages=2)
            batch = ingest(exam, synthetic.scan(pdf))
        else:
            batch = ingest(exam, builders.image_pdf([builders.jpeg(text=f"p{n}") for n in range(4 * copies)]))
        placed = sorted(Page.objects.filter(batch=batch).values_list("source_index", "copy_id", "position"))
        codes = set(Copy.objects.filter(exam=exam).values_list("anonymous_code", flat=True))
        assert len(codes) == copies
        reassembly_queries(batch)  # the copies exist: found, not made again
        assert set(Copy.objects.filter(exam=exam).values_list("anonymous_code", flat=True)) == codes
        assert sorted(Page.objects.filter(batch=batch).values_list("source_index", "copy_id", "position")) == placed
        Copy.objects.filter(exam=exam).delete()
        counts[copies] = reassembly_queries(batch)  # every copy made again
        assert Copy.objects.filter(exam=exam).count() == copies
        assert not Page.objects.filter(batch=batch, copy__isnull=True).exists()
    assert counts[2] == counts[9]


def test_a_code_already_taken_makes_the_copies_one_by_one(exam, ingest, monkeypatch):
    taken = Copy.objects.create(exam=exam, anonymous_code="AAAAA").anonymous_code
    drawn = iter([taken, "CCCCC", "DDDDD", "EEEEE"])
    monkeypatch.setattr(batches.codes, "new_code", lambda: next(drawn))
    pdf, numbers = booklets.print_booklets(exam, copies=2, blank_pages=1)
    ingest(exam, synthetic.scan(pdf))
    made = dict(Copy.objects.filter(exam=exam, booklet_number__isnull=False).values_list("booklet_number",
                                                                                         "anonymous_code"))
    low, high = sorted(numbers)  # copies are made in the order of their booklet numbers
    assert made == {low: "DDDDD", high: "EEEEE"}


def test_copies_are_read_back_where_a_bulk_insert_returns_no_ids(exam, ingest, monkeypatch):
    bulk_create = Copy.objects.bulk_create

    def without_ids(rows, **options):  # as Django does on MySQL
        made = bulk_create(rows, **options)
        for row in rows:
            row.pk = row.id = None
        return made
    monkeypatch.setattr(Copy.objects, "bulk_create", without_ids)
    learners = [Learner("learner_1", "Chloé Dubois", "anon-1"), Learner("learner_1", "Chloé Dubois", "anon-1")]
    pdf, numbers = booklets.print_booklets(exam, blank_pages=2, learners=learners)  # printed twice for her
    ingest(exam, synthetic.scan(pdf))
    copies = {copy.booklet_number: copy for copy in Copy.objects.filter(exam=exam)}
    # one learner, one copy: one of her two booklets is identified, the other one's copy waits for the desk
    (identified,) = [number for number in numbers if copies[number].learner_anonymous_id == "anon-1"]
    assert [copies[number].learner_anonymous_id for number in numbers if number != identified] == [None]
    assert not Page.objects.filter(exam=exam, copy__isnull=True).exists()
    event = AuditEvent.objects.get(exam=exam, action="copy.identified")
    assert (event.copy_id_ref, event.details["booklet"]) == (copies[identified].pk, identified)


def test_an_upside_down_cover_is_tagged_and_graders_get_its_upright_name_area_masked(exam, ingest):
    from PIL import Image, ImageOps

    from viatique_xblock.pdf import jpeg

    learners = [Learner("learner_1", "Chloé Dubois", "anon-1")]
    pdf, _first = booklets.print_booklets(exam, blank_pages=2, learners=learners)
    ingest(exam, synthetic.scan(pdf, upside_down=(0,)))
    cover = Page.objects.get(exam=exam, position=1)
    assert cover.rotation == 180
    stored = storage.get_storage().open(cover.image_name).read()
    assert jpeg.info(stored).orientation == jpeg.ORIENTATIONS[180], "the scanner's JPEG, tagged, not re-encoded"
    instructor = make_block()
    assert instructor.handle("page_image", Request.blank("/"), cover.public_id).body == stored
    with Image.open(io.BytesIO(stored)) as image:
        upright = ImageOps.exif_transpose(image).convert("L")
    masked_body = make_block("staff_1", "staff").handle("page_image", Request.blank("/"), cover.public_id).body
    masked = Image.open(io.BytesIO(masked_body)).convert("L")
    assert jpeg.info(masked_body).orientation == 1 and masked.size == upright.size
    band = int(masked.height * exam.name_area_height / 100)

    def samples(image, top, bottom):
        return [image.getpixel((x, y)) for x in range(5, image.width - 5, 23) for y in range(top + 2, bottom - 2, 7)]
    painted = samples(masked, 0, band)
    assert max(painted) - min(painted) <= 6, "the name area of the upright cover is painted over"
    assert max(samples(upright, 0, band)) - min(samples(upright, 0, band)) > 60, "where the printed name is"
    assert max(samples(masked, masked.height - band, masked.height)) > 200, "the foot of the page is left as it is"
    crop = instructor.handle("name_area", Request.blank("/"), cover.copy.public_id)
    assert crop.status_code == 200 and jpeg.info(crop.body).orientation == 1
    name = Image.open(io.BytesIO(crop.body)).convert("L")
    assert max(samples(name, 0, name.height)) - min(samples(name, 0, name.height)) > 60, "the printed name is in it"


def test_an_image_made_on_request_is_never_deleted_under_a_reader():
    """Two requests making the same thumbnail at once: the second keeps the first's file (the first
    may be streaming it) instead of deleting and writing it again, as overwrite would."""
    name = storage.file_name("test-write-once", "page-thumb.jpg")
    store = storage.get_storage()
    try:
        assert storage.write_once(name, b"first") == name
        reader = store.open(name, "rb")
        assert storage.write_once(name, b"second") == name
        assert reader.read() == b"first"
        reader.close()
        with store.open(name, "rb") as handle:
            assert handle.read() == b"first"
        assert store.listdir(storage.file_name("test-write-once"))[1] == ["page-thumb.jpg"]
    finally:
        store.delete(name)


@pytest.mark.parametrize("count", [3, 60])
def test_the_anomaly_queue_lists_every_copy_for_its_selects_in_three_queries(exam, count, django_assert_num_queries):
    for number in range(count):
        Copy.objects.create(exam=exam, anonymous_code=f"Q{number:03d}", learner_name=f"Élève {number}",
                            learner_username=f"learner_{number}", learner_anonymous_id=f"anon-q-{number}")
    with django_assert_num_queries(3):  # unplaced pages, the pages' positions, the copies
        queue = anomalies.queue(exam)
    assert len(queue["copies"]) == count
    assert queue["copies"][1] == {"id": Copy.objects.get(exam=exam, anonymous_code="Q001").public_id, "code": "Q001",
                                  "name": "Élève 1", "username": "learner_1", "pages": 0}
    assert [copy["code"] for copy in queue["copies"]] == sorted(copy["code"] for copy in queue["copies"])
    # copies without pages are all incomplete here (no page at all)
    assert len(queue["incomplete_copies"]) == count


def test_a_page_whose_image_is_not_made_yet_is_a_409_not_a_500(exam, ingest):
    """While a scan is still processing, a page row exists before its image: the image handlers, cover masking
    and the desk's name crop answered 500 (IsADirectoryError, opening the storage's folder)."""
    data = builders.image_pdf([builders.baseline_jpeg(pymupdf.open(stream=builders.subject(1), filetype="pdf")[0]
                                                       .get_pixmap(dpi=100))] * 4)
    ingest(exam, data)
    cover = Page.objects.filter(exam=exam, position=1).first()
    Page.objects.filter(pk=cover.pk).update(image_name="", masked_image_name="", thumbnail_name="")
    for role, who in (("staff", "staff_1"), ("instructor", "instructor_1")):
        for suffix in (cover.public_id, f"{cover.public_id}/thumb"):
            status, body = call(make_block(who, role), "page_image", method="GET", suffix=suffix)
            assert (status, body["error"]) == (409, "image_not_ready"), (role, suffix, body)
    status, body = call(make_block(), "name_area", method="GET", suffix=cover.copy.public_id)
    assert (status, body["error"]) == (409, "image_not_ready")


def test_a_scan_is_cut_in_ranges_of_pages_per_task_and_its_last_ones_in_quarters():
    """The ranges cover every page once, in order; in a scan of more than two ranges, the last PAGES_PER_TASK
    pages go in ranges of a quarter of that, so that worker processes sharing the scan finish close together
    (a range of one page at least)."""
    assert batches.page_ranges(1000, 100) == [(start, start + 100) for start in range(0, 900, 100)] + [
        (900, 925), (925, 950), (950, 975), (975, 1000)]
    assert batches.page_ranges(330, 100) == [(0, 100), (100, 200), (200, 230), (230, 255), (255, 280),
                                             (280, 305), (305, 330)]
    assert batches.page_ranges(130, 100) == [(0, 100), (100, 130)]  # two ranges: as they are
    assert batches.page_ranges(5, 2) == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert batches.page_ranges(0, 100) == []
    for count, size in ((1, 1), (7, 3), (4000, 100), (99, 100), (200, 100), (201, 100)):
        ranges = batches.page_ranges(count, size)
        assert [index for start, stop in ranges for index in range(start, stop)] == list(range(count))
        assert all(0 < stop - start <= size for start, stop in ranges)


def test_a_worker_keeps_the_scan_open_for_its_next_range_and_closes_it_with_the_last(exam, monkeypatch):
    """The scan is opened once for the ranges of one process (MuPDF reads a scan's whole page tree at its first
    page, every time a document is opened); the range that completes the batch closes it, and the name of the
    machine's copy it was opened from is gone from the start (nothing is left on disk if the process dies)."""
    from viatique_xblock.pdf import validate as pdf_validate

    opened = []
    real_open = pdf_validate.open_document

    def counted(path):
        opened.append(path)
        return real_open(path)
    monkeypatch.setattr(pdf_validate, "open_document", counted)
    data = builders.image_pdf([builders.jpeg(text=f"page {n}") for n in range(12)])
    info = batches.validate_bytes(data)
    batch = batches.create_batch(exam, "scan.pdf", info.sha256, info, io.BytesIO(data), send=lambda *step: None)
    del opened[:]  # its validation's
    with override_settings(VIATIQUE={**settings.VIATIQUE, "PAGES_PER_TASK": 4}):
        ranges = batches.process_batch(batch.pk, send=lambda *step: None)
        for start, stop in ranges[:-1]:
            batches.process_range(batch.pk, start, stop, send=lambda *step: None)
            assert batches._open_scan.doc is not None and not os.path.exists(opened[0])
        batches.process_range(batch.pk, *ranges[-1], send=lambda *step: None)
    assert len(ranges) == 6 and len(opened) == 1
    assert batches._open_scan.doc is None
    assert Page.objects.filter(batch=batch).count() == 12
    with pytest.raises(RuntimeError), batches.scan_document(batch) as doc:  # a range that fails closes it
        assert doc.page_count == 12 and batches._open_scan.doc is doc
        raise RuntimeError("a page the range could not store")
    assert batches._open_scan.doc is None and len(opened) == 2


def test_copies_cut_by_the_assembly_hold_the_same_values_as_copies_made_one_by_one(exam):
    """The assembly inserts its copies with prepared rows (batches._insert_copies), not model by model: each
    column holds what ``Copy.objects.create`` would have written, a prenamed booklet's identity included."""
    made = batches._create_copies(exam, [{"booklet_number": 7},
                                         {"booklet_number": 8, "identity_state": Identity.IDENTIFIED,
                                          "learner_anonymous_id": "anon-8", "learner_username": "ada",
                                          "learner_name": "Ada L."}], "booklet_number")
    reference = Copy.objects.create(exam=exam, anonymous_code="REF01", booklet_number=9)
    skip = {"id", "public_id", "anonymous_code", "booklet_number", "created_at", "updated_at"}
    columns = [field.attname for field in Copy._meta.concrete_fields if field.attname not in skip]

    def values(copy):
        copy.refresh_from_db()
        return {name: getattr(copy, name) for name in columns}
    assert values(made[7]) == values(reference)
    assert values(made[8]) == {**values(reference), "identity_state": Identity.IDENTIFIED,
                               "learner_anonymous_id": "anon-8", "learner_username": "ada", "learner_name": "Ada L."}
    for copy in made.values():
        assert copy.public_id != reference.public_id and public_ids.parse(copy.public_id) == copy.public_id
        assert copy.created_at and copy.updated_at and len(copy.anonymous_code) == 5
    batch = ScanBatch.objects.create(exam=exam, original_name="own paper.pdf", sha256="1" * 64, page_count=4)
    group = batches._create_copies(exam, [{"source_batch": batch, "source_group": 1}], "source_group",
                                   source_batch=batch)
    assert (group[1].source_batch_id, group[1].source_group, group[1].exam_id) == (batch.pk, 1, exam.pk)
