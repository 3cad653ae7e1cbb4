"""Security and privacy review: one test per flaw found and fixed (bad input that made a 500,
identity leaks to graders, internal details in messages)."""
import pytest

from tests.harness import call
from tests.unit import results_helpers
from tests.unit.downloads_support import stored_files  # noqa: F401  (fixture)
from viatique_xblock.models import AuditEvent, RegradeRequest

pytestmark = pytest.mark.django_db


def test_an_absurd_audit_log_offset_is_an_empty_page_not_a_server_error():
    instructor = results_helpers.block()
    AuditEvent.objects.create(exam=instructor.get_exam(), action="roster.uploaded", actor="instructor_1")
    status, body = call(instructor, "audit_log", method="GET", query="offset=" + "9" * 30 + "&limit=" + "9" * 30)
    assert status == 200
    assert body["events"] == [] and body["count"] == 1 and body["limit"] == 200
    status, body = call(instructor, "audit_log", method="GET", query="offset=-5&limit=-1")
    assert status == 200 and body["offset"] == 0 and body["limit"] == 1 and len(body["events"]) == 1


@pytest.mark.parametrize("question_id", [["q2"], {"id": "q2"}, 2, None])
def test_a_regrade_request_naming_a_question_by_a_list_or_object_is_invalid_not_a_server_error(question_id):
    instructor = results_helpers.block()
    results_helpers.classroom(instructor.get_exam())
    results_helpers.release(instructor)
    status, body = call(results_helpers.learner_block("learner_1"), "request_regrade",
                        {"question_id": question_id, "message": "Please look again."})
    assert (status, body["error"]) == (400, "invalid_request")
    assert not RegradeRequest.objects.exists()


def _grey_rows(jpeg_bytes, top, bottom):
    """True when every sampled pixel between the fractions ``top`` and ``bottom`` of the height is mask grey."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(jpeg_bytes)) as image:
        grey = image.convert("L")
        rows = range(int(grey.height * top) + 2, int(grey.height * bottom) - 2, 3)
        return all(abs(grey.getpixel((x, y)) - 128) <= 8 for y in rows for x in range(2, grey.width - 2, 5))


def test_a_taller_name_area_is_masked_again_for_graders_not_served_from_the_old_mask(stored_files):  # noqa: F811
    from tests.unit.downloads_support import graded_copy, jpeg, send
    from viatique_xblock.models import Exam, Page, ScanBatch
    from viatique_xblock.platform import storage
    from viatique_xblock.scanning import batches

    instructor = results_helpers.block()
    exam = instructor.get_exam()
    copy = graded_copy(exam, stored_files, "K7Q2", "learner_1")
    cover = Page.objects.get(copy=copy, position=1)
    Page.objects.filter(pk=cover.pk).update(image_name=stored_files.put("cover.jpg", jpeg("black")),
                                            thumbnail_name="")
    grader = results_helpers.block("staff_1", "staff")
    try:
        first = send(grader, "page_image", cover.public_id)
        assert _grey_rows(first.body, 0, 0.12) and not _grey_rows(first.body, 0.12, 0.30)
        # the instructor finds names written lower: the name area grows to 30 % of the cover
        Exam.objects.filter(pk=exam.pk).update(name_area_height=30)
        again = send(grader, "page_image", cover.public_id)
        assert again.status_code == 200 and _grey_rows(again.body, 0, 0.30)
        thumb = send(grader, "page_image", f"{cover.public_id}/thumb")
        assert thumb.status_code == 200 and _grey_rows(thumb.body, 0, 0.30)
    finally:  # the masked images made for the grader
        store = storage.get_storage()
        batch = ScanBatch(pk=cover.batch_id, exam_id=cover.exam_id)
        for kind in ("masked12", "masked30", "masked12thumb", "masked30thumb"):
            name = batches.image_name(batch, cover.source_index, kind, "jpg")
            if store.exists(name):
                store.delete(name)


def test_hidden_grader_identities_also_hide_other_graders_in_the_copy_list(settings):
    from tests.unit import grading_helpers

    settings.VIATIQUE = {**settings.VIATIQUE, "HIDE_GRADER_IDENTITIES": True}
    exam = grading_helpers.exam()
    for code, grader in (("A001", "staff_1"), ("A002", "staff_2"), ("A003", "staff_3"), ("A004", "")):
        grading_helpers.make_copy(exam, code, grader=grader, pages=0, username=f"learner_{code}")
    AuditEvent.objects.create(exam=exam, action="lease.acquired", actor="staff_2")  # staff_2 is "Grader 1"
    status, body = call(grading_helpers.block("staff_1", "staff"), "list_copies", method="GET")
    assert status == 200
    assert [row["grader"] for row in body["copies"]] == ["staff_1", "Grader 1", "Grader 2", ""]
    assert "staff_2" not in str(body) and "staff_3" not in str(body)
    status, body = call(grading_helpers.block(), "list_copies", method="GET")
    assert [row["grader"] for row in body["copies"]] == ["staff_1", "staff_2", "staff_3", ""]



def test_a_render_failure_shown_to_staff_names_no_server_path(monkeypatch):
    from tests.unit import grading_helpers
    from viatique_xblock.grading import rendering
    from viatique_xblock.models import Copy
    from viatique_xblock.pdf import graded
    from viatique_xblock.states import Grading

    def broken(*args, **kwargs):
        raise RuntimeError("code=2: cannot read /srv/edx/var/viatique/scans/7/3f2a.pdf at offset 1234")

    monkeypatch.setattr(graded, "render_graded_pdf", broken)
    exam = grading_helpers.exam()
    copy = grading_helpers.make_copy(exam, "A001", grader="staff_1", state=Grading.SUBMITTED)
    try:
        assert rendering.render_copy(copy.pk) == Grading.RENDER_FAILED
        status, body = call(grading_helpers.block("staff_1", "staff"), "open_copy", method="GET",
                            query=f"copy_id={copy.public_id}")
    finally:
        grading_helpers.remove_files(exam)
    reason = body["copy"]["render_error"]
    assert status == 200 and reason == Copy.objects.get(pk=copy.pk).render_error
    assert "RuntimeError" in reason and "/srv" not in reason and "offset" not in reason
    event = AuditEvent.objects.get(action="copy.render_failed")
    assert "/srv" not in str(event.details)


def test_export_job_errors_are_words_in_the_readers_language_never_the_exceptions_text():
    from celery.exceptions import SoftTimeLimitExceeded

    from viatique_xblock.models import ExportJob
    from viatique_xblock.workers.reports import ExportTask

    instructor = results_helpers.block()
    exam = instructor.get_exam()
    missing = ExportJob.objects.create(exam=exam, naming="code", total=2, state="done", error_message="missing:K7Q2")
    slow = ExportJob.objects.create(exam=exam, naming="code", total=2)
    broken = ExportJob.objects.create(exam=exam, naming="code", total=2)
    ExportTask().on_failure(SoftTimeLimitExceeded(), "task-id", (slow.pk,), {}, None)
    ExportTask().on_failure(OSError(28, "No space left on device", "/srv/edx/media/x.zip"), "task-id",
                            (broken.pk,), {}, None)
    errors = {}
    for job in (missing, slow, broken):
        status, body = call(instructor, "export_status", method="GET", query=f"id={job.public_id}")
        assert status == 200
        errors[job.pk] = body["error"]
    assert errors[missing.pk] == "Missing graded PDFs: K7Q2"
    assert errors[slow.pk] == "The export took longer than the time limit."
    assert errors[broken.pk] == "The export failed (OSError); the details are in the server's logs."
    assert "/srv" not in ExportJob.objects.get(pk=broken.pk).error_message


def test_a_grader_cannot_turn_anonymous_grading_off_from_the_lms():
    from tests.unit import grading_helpers
    from viatique_xblock.models import Exam

    exam = grading_helpers.exam()
    grading_helpers.make_copy(exam, "A001", grader="staff_1", pages=0, username="chloe_dubois")
    grader = grading_helpers.block("staff_1", "staff")
    settings = {"display_name": "Bac blanc", "marking_scheme": grading_helpers.SCHEME, "pages_per_copy": 2,
                "grade_scale": 20, "weight": 1, "anonymous_grading": False, "regrade_window_days": 7,
                "name_area_height": 12}
    status, body = call(grader, "studio_submit", settings)
    assert (status, body["error"]) == (403, "forbidden")
    assert Exam.objects.get(pk=exam.pk).anonymous_grading is True
    assert not AuditEvent.objects.filter(action="settings.saved").exists()
    status, body = call(grader, "list_copies", method="GET")
    assert "chloe_dubois" not in str(body) and "Chloe" not in str(body)
    status, body = call(grading_helpers.block(), "studio_submit", settings)
    assert status == 200 and Exam.objects.get(pk=exam.pk).anonymous_grading is False


INSTRUCTOR_ONLY = [
    "force_release_lease", "reopen_copy", "release_summary", "release_results", "unrelease_results", "grades_csv",
    "export_zip", "export_status", "export_download", "audit_log", "audit_log_csv", "lockouts", "lift_lockout",
    "upload_start", "upload_chunk", "upload_status", "upload_finish", "anomaly_queue", "fix_page", "merge_copies",
    "copy_pages", "accept_missing", "desk_queue", "desk_skip", "hold_copy", "release_hold", "print_booklets", "upload_roster", "roster_search", "name_area", "identify", "unidentify", "reveal_identity",
    "graders", "dispatch", "assign_copy", "rebalance", "studio_submit",
]


def test_graders_are_refused_every_instructor_only_action_and_the_refusals_never_lock_them_out():
    from tests.unit import grading_helpers
    from tests.unit.downloads_support import send
    from viatique_xblock.models import Copy, LockoutRecord

    exam = grading_helpers.exam()
    copy = grading_helpers.make_copy(exam, "A001", grader="staff_1", pages=0, state="graded")
    grader = grading_helpers.block("staff_1", "staff")
    for name in INSTRUCTOR_ONLY:
        answers = {method: send(grader, name, copy.public_id, method=method, data={"copy_id": copy.public_id})
                   for method in ("GET", "POST")}
        statuses = {method: response.status_code for method, response in answers.items()}
        assert 403 in statuses.values() and set(statuses.values()) <= {403, 405}, (name, statuses)
        refused = next(response for response in answers.values() if response.status_code == 403)
        assert refused.json["error"] == "forbidden", name
    assert not LockoutRecord.objects.exists()
    assert Copy.objects.get(pk=copy.pk).grading_state == "graded"
    status, _body = call(grader, "list_copies", method="GET")
    assert status == 200  # still not locked out


@pytest.mark.parametrize("query", ["copies=2&blank_pages=abc", "copies=2&blank_pages=-3", "copies=2&blank_pages=201",
                                   "copies=5000&blank_pages=20"])
def test_booklets_the_pdf_maker_would_refuse_are_a_400_and_reserve_no_number(query):
    from webob import Request

    from viatique_xblock.models import Booklet

    block = results_helpers.block()
    response = block.handle("print_booklets", Request.blank(f"/?{query}", method="POST", body=b""))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert not Booklet.objects.exists()


@pytest.mark.parametrize("handler,data", [
    ("dispatch", {"graders": [["staff_1"]]}), ("dispatch", {"graders": 5}), ("dispatch", {"graders": "staff_1"}),
    ("rebalance", {"graders": [{"u": "staff_1"}]}), ("assign_copy", {"grader": ["staff_1"]}),
    ("assign_copy", {"grader": 7}),
])
def test_graders_named_by_anything_but_usernames_are_a_400_not_a_server_error(handler, data):
    from tests.unit.test_identification import block, copies
    from viatique_xblock.models import Copy

    instructor = block()
    copy = copies(instructor.get_exam(), 1)[0]
    status, body = call(instructor, handler, {"copy_id": copy.public_id, **data})
    assert (status, body["error"]) == (400, "invalid_request")
    assert Copy.objects.get(pk=copy.pk).grader == ""
