"""The grading workspace through its handlers (LMS-like harness) and domain API: what graders see,
drafts (versions, validation, one transaction), single writes, finalize, render, reopen, retry,
comment bank. Leases on the real Redis of the test settings."""
import datetime
import io
import json

import pymupdf
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from tests.harness import call
from tests.unit import grading_helpers as helpers
from tests.unit.grading_helpers import GRADER, INSTRUCTOR, annotation
from tests.unit.remote_storage import remote_storage  # noqa: F401  (fixture)
from viatique_xblock import signals
from viatique_xblock.grading import leases, rendering, workspace
from viatique_xblock.models import Annotation, AuditEvent, RubricItem, Copy, Draft, QuestionPoints
from viatique_xblock.platform import storage
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam():
    made = helpers.exam()
    yield made
    helpers.remove_exam_files(made)


@pytest.fixture
def copy(exam):
    return helpers.make_copy(exam, "A001")


def grader_block():
    return helpers.block("staff_1", "staff")


def take(copy, block=None):
    status, lease = call(block or grader_block(), "acquire_lease", {"copy_id": copy.public_id})
    assert status == 200, lease
    return lease


def page_ids(copy):
    """The public ids of the copy's pages, the ids the workspace names them by."""
    return list(copy.pages.order_by("position").values_list("public_id", flat=True))


def full_payload(copy, **points):
    first, second = page_ids(copy)
    return {
        "annotations": [annotation(first, kind="tick", width=0, height=0, question_id="q2", points="1.5"),
                        annotation(second, kind="comment", text="Revoir la définition <b>&")],
        "points": {"q2": {"points": points.get("q2", "3.5"), "comment": "Bien"},
                   "q3": {"points": points.get("q3", 4.25), "comment": ""}},
        "general_comment": "Travail sérieux",
    }


def save(copy, lease, version, payload, block=None):
    return call(block or grader_block(), "save_draft", {"copy_id": copy.public_id, "fencing": lease["fencing"],
                                                        "version": version, "payload": payload})


def test_open_copy_for_a_grader_of_an_anonymous_exam_shows_no_name(copy, exam):
    other = helpers.make_copy(exam, "A002", username="learner_2", pages=0)
    helpers.make_copy(exam, "A003", grader="staff_2", username="learner_3", pages=0)
    status, body = call(grader_block(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")
    assert status == 200
    assert body["copy"]["code"] == "A001" and body["copy"]["state"] == "ready"
    assert "name" not in body["copy"] and "username" not in body["copy"]
    assert "learner_1" not in str(body) and "Learner 1" not in str(body)
    assert [page["position"] for page in body["pages"]] == [1, 2]
    whole_copy = {"pages": [1, 2, 3, 4], "box": None, "whole_copy": True}  # no layout: every page (4 per copy)
    assert body["questions"] == [
        {"id": "q2", "label": "1. a)", "path": "Exercice 1 › 1. a)", "max": 4, "step": 0.5, "layout": whole_copy},
        {"id": "q3", "label": "Exercice 2", "path": "Exercice 2", "max": 6, "step": 0.25, "layout": whole_copy}]
    assert body["draft"] == {"version": 0} and body["lease"] is None
    assert body["neighbours"] == {"previous": None, "next": other.public_id}  # A003 is another grader's
    assert body["copy"]["id"] == copy.public_id and [page["id"] for page in body["pages"]] == page_ids(copy)
    assert body["can_edit"] is True and body["is_instructor"] is False
    assert body["settings"] == {"heartbeat_seconds": 30, "autosave_seconds": 2, "lease_ttl_seconds": 600}
    status, body = call(helpers.block(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")
    assert body["copy"]["name"] == "Learner 1" and body["copy"]["username"] == "learner_1"


def test_graders_cannot_open_another_graders_copy_or_another_exams(copy, exam):
    theirs = helpers.make_copy(exam, "A009", grader="staff_2", username="learner_9", pages=0)
    status, body = call(grader_block(), "open_copy", method="GET", query=f"copy_id={theirs.public_id}")
    assert status == 403 and body["error"] == "forbidden"
    assert call(grader_block(), "acquire_lease", {"copy_id": theirs.public_id})[0] == 403
    assert call(grader_block(), "open_copy", method="GET", query="copy_id=" + "a" * 16)[0] == 404
    # something that is not a copy id at all is an invalid request (not a probe for the lockout), and so
    # is the copy's database key: copies are named by their public ids only
    assert call(grader_block(), "open_copy", method="GET", query="copy_id=abc")[0] == 400
    for sent in (True, 1.9, None, [copy.public_id], copy.pk, str(copy.pk)):
        status, body = call(grader_block(), "acquire_lease", {"copy_id": sent})
        assert (status, body["error"]) == (400, "invalid_request"), sent
    elsewhere = helpers.make_block("staff_1", "staff", usage="block-v1:Viatique+T101+2026+type@viatique+block@b2")
    assert call(elsewhere, "open_copy", method="GET", query=f"copy_id={copy.public_id}")[0] == 404
    assert call(helpers.block("learner_1", "learner"), "open_copy", method="GET",
                query=f"copy_id={copy.public_id}")[0] == 403


def test_a_draft_is_stored_in_rows_with_its_version_and_the_copy_starts(copy):
    lease = take(copy)
    status, body = save(copy, lease, 0, full_payload(copy))
    assert status == 200, body
    assert body["version"] == 1 and body["total"] == "7.75" and body["saved_at"]
    copy.refresh_from_db()
    assert copy.grading_state == Grading.IN_PROGRESS and copy.general_comment == "Travail sérieux"
    assert str(copy.total_points) == "7.750"
    assert dict(copy.points.values_list("question_id", "comment")) == {"q2": "Bien", "q3": ""}
    assert sorted(copy.annotations.values_list("kind", flat=True)) == ["comment", "tick"]
    assert Draft.objects.get(copy=copy, grader="staff_1").version == 1
    started = AuditEvent.objects.get(action="copy.started", copy_id_ref=copy.pk)
    assert started.details == {"from": "ready", "grader": "staff_1"} and started.actor == "staff_1"
    assert copy.grader == "staff_1"  # dealt to nobody: it is the grader's who started it
    changed = AuditEvent.objects.get(action="copy.points_changed", copy_id_ref=copy.pk)
    assert changed.details["changes"] == {"q2": [None, "3.5"], "q3": [None, "4.25"]}
    # what open_copy gives back is what was saved
    status, opened = call(grader_block(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")
    assert opened["draft"] == {"version": 1} and opened["copy"]["total"] == "7.75"
    # points typed are the question's adjustment (scored from 0, no rubric item applied)
    assert opened["points"] == {"q2": {"points": "3.5", "comment": "Bien", "adjustment": "3.5", "items": []},
                                "q3": {"points": "4.25", "comment": "", "adjustment": "4.25", "items": []}}
    assert {item["text"] for item in opened["annotations"]} == {"Bien", "Revoir la définition <b>&"}
    assert opened["lease"]["holder"] == "Staff_1"


def test_a_question_comment_written_before_its_points_survives_a_reload(copy):
    lease = take(copy)
    payload = full_payload(copy)
    payload["points"]["q3"] = {"points": None, "comment": "Démonstration à reprendre"}
    status, body = save(copy, lease, 0, payload)
    assert status == 200, body
    assert not QuestionPoints.objects.filter(copy=copy, question_id="q3").exists()  # no points yet
    status, opened = call(grader_block(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")
    assert opened["points"]["q3"] == {"points": None, "comment": "Démonstration à reprendre"}
    assert opened["points"]["q2"] == {"points": "3.5", "comment": "Bien", "adjustment": "3.5", "items": []}


def test_single_writes_keep_the_question_comments_written_before_their_points(copy):
    lease = take(copy)
    payload = full_payload(copy)
    payload["points"]["q3"] = {"points": None, "comment": "Démonstration à reprendre"}
    assert save(copy, lease, 0, payload)[0] == 200

    def write(handler, data):
        status, body = call(grader_block(), handler, {"copy_id": copy.public_id, "fencing": lease["fencing"], **data})
        assert status == 200, body

    def opened_points():
        return call(grader_block(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")[1]["points"]

    # writes of other things (points of another question, the general comment, an annotation) keep it
    write("save_points", {"question_id": "q2", "points": "2", "comment": "Juste"})
    write("save_comment", {"general_comment": "Bon travail"})
    write("save_annotation", {"annotation": annotation(page_ids(copy)[0], text="Ici")})
    assert opened_points()["q3"] == {"points": None, "comment": "Démonstration à reprendre"}
    assert opened_points()["q2"] == {"points": "2", "comment": "Juste", "adjustment": "2", "items": []}
    # save_points without points but with a comment writes such a comment; with neither, clears it
    write("save_points", {"question_id": "q3", "points": None, "comment": "Autre remarque"})
    assert opened_points()["q3"] == {"points": None, "comment": "Autre remarque"}
    write("save_points", {"question_id": "q3", "points": "", "comment": ""})
    assert "q3" not in opened_points()
    # points given afterwards take the comment into the row
    write("save_points", {"question_id": "q3", "points": "4", "comment": "Enfin"})
    assert QuestionPoints.objects.get(copy=copy, question_id="q3").comment == "Enfin"
    assert opened_points()["q3"] == {"points": "4", "comment": "Enfin", "adjustment": "4", "items": []}


def test_the_next_draft_replaces_the_work_and_audits_only_points_that_changed(copy):
    lease = take(copy)
    payload = full_payload(copy)
    save(copy, lease, 0, payload)
    payload["annotations"] = payload["annotations"][:1]
    payload["annotations"][0]["x"] = 0.5
    payload["general_comment"] = "Autre"
    status, body = save(copy, lease, 1, payload)  # points unchanged
    assert (status, body["version"]) == (200, 2)
    assert AuditEvent.objects.filter(action="copy.points_changed").count() == 1
    assert list(copy.annotations.values_list("x", flat=True)) == [0.5]
    del payload["points"]["q3"]
    status, body = save(copy, lease, 2, payload)
    assert body["total"] == "3.5" and not copy.points.filter(question_id="q3").exists()
    assert AuditEvent.objects.filter(action="copy.points_changed").first().details["changes"] == {"q3": ["4.25", None]}


def test_a_stale_version_is_refused_and_nothing_is_overwritten(copy):
    lease = take(copy)
    second_tab = take(copy)  # the same grader's second tab: the same lease
    assert second_tab["fencing"] == lease["fencing"] and second_tab["token"] == lease["token"]
    assert save(copy, lease, 0, full_payload(copy))[0] == 200
    status, body = save(copy, second_tab, 0, full_payload(copy, q2="1"))
    assert status == 409 and body["error"] == "stale_draft" and body["version"] == 1
    assert copy.points.get(question_id="q2").points == 3.5
    assert save(copy, second_tab, 1, full_payload(copy, q2="1"))[0] == 200  # after reloading


def test_invalid_work_lists_every_problem_and_saves_nothing(copy, exam):
    lease = take(copy)
    stranger = helpers.make_copy(exam, "A002", username="learner_2")
    first = page_ids(copy)[0]
    payload = {
        "annotations": [
            annotation(first, x=1.2),
            annotation(first, x=0.8, width=0.3),
            annotation(page_ids(stranger)[0]),
            annotation(first, kind="smiley"),
            annotation(first, text="x" * (workspace.MAX_TEXT + 1)),
            annotation(first, points="1"),
            annotation(first, width=-0.1),
            {"uid": "not-a-uuid", "page_id": first},
        ],
        "points": {"q2": {"points": "4.5"}, "q3": {"points": "0.3"}, "q1": {"points": 1}, "zz": 1,
                   "q2x": {"points": "abc"}},
        "general_comment": 12,
    }
    status, body = save(copy, lease, 0, payload)
    assert status == 400 and body["error"] == "invalid_work"
    paths = [problem["path"] for problem in body["problems"]]
    assert paths == ["annotations.0.x", "annotations.1", "annotations.2.page_id", "annotations.3.kind",
                     "annotations.4.text", "annotations.5.points", "annotations.6.width", "annotations.7.uid",
                     "points.q2.points", "points.q3.points", "points.q1", "points.zz", "points.q2x",
                     "general_comment"]
    assert "0 to 4" in body["problems"][8]["message"] and "0.25" in body["problems"][9]["message"]
    assert not Draft.objects.exists() and not Annotation.objects.exists() and not QuestionPoints.objects.exists()
    copy.refresh_from_db()
    assert copy.grading_state == Grading.READY


def test_single_writes_move_the_version_on(copy):
    lease = take(copy)
    block, fencing = grader_block(), lease["fencing"]
    status, body = call(block, "save_points", {"copy_id": copy.public_id, "fencing": fencing, "question_id": "q3",
                                               "points": "5.75", "comment": "Presque"})
    assert status == 200 and body == {"question_id": "q3", "points": "5.75", "comment": "Presque",
                                      "total": "5.75", "version": 1}
    item = annotation(page_ids(copy)[1], kind="highlight", question_id="q3", points="0.25")
    status, body = call(block, "save_annotation", {"copy_id": copy.public_id, "fencing": fencing, "annotation": item})
    assert status == 200 and body["annotation"]["uid"] == item["uid"] and body["version"] == 2
    assert body["annotation"]["points"] == "0.25"
    status, body = call(block, "delete_annotation", {"copy_id": copy.public_id, "fencing": fencing, "uid": item["uid"]})
    assert body == {"deleted": True, "total": "5.75", "version": 3}
    status, body = call(block, "delete_annotation", {"copy_id": copy.public_id, "fencing": fencing, "uid": item["uid"]})
    assert body["deleted"] is False
    status, body = call(block, "save_comment", {"copy_id": copy.public_id, "fencing": fencing, "general_comment": "Ok"})
    assert body == {"version": 5}
    status, body = call(block, "save_points", {"copy_id": copy.public_id, "fencing": fencing, "question_id": "q3",
                                               "points": 7})
    assert status == 400 and body["problems"][0]["path"] == "points.points"
    # a client working from the draft version it had gets refused: the single writes moved it on
    assert save(copy, lease, 0, full_payload(copy))[1]["error"] == "stale_draft"


def test_finalize_refuses_an_incomplete_copy_then_submits_once_and_renders(copy, exam,
                                                                           django_capture_on_commit_callbacks):
    lease = take(copy)
    block = grader_block()
    payload = full_payload(copy)
    del payload["points"]["q3"]
    save(copy, lease, 0, payload)
    status, body = call(block, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    assert status == 400 and body["error"] == "incomplete"
    assert body["missing"] == [{"id": "q3", "label": "Exercice 2"}] and "Exercice 2" in body["message"]
    save(copy, lease, 1, full_payload(copy))
    graded = []
    signals.copy_graded.connect(receiver := (lambda sender, copy, actor, **kw: graded.append(copy.pk)), weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            status, body = call(block, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    finally:
        signals.copy_graded.disconnect(receiver)
    assert (status, body) == (200, {"state": "submitted"})
    assert graded == [copy.pk]
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED and copy.finalized_at and copy.graded_at
    assert AuditEvent.objects.filter(action="copy.finalized", copy_id_ref=copy.pk).count() == 1
    assert AuditEvent.objects.filter(action="copy.graded", copy_id_ref=copy.pk).count() == 1
    assert leases.current(exam, INSTRUCTOR, copy) is None  # released
    with storage.get_storage().open(copy.graded_pdf_name, "rb") as handle:
        pdf = pymupdf.open(stream=handle.read(), filetype="pdf")
    text = "".join(page.get_text() for page in pdf)
    assert pdf.page_count >= 3 and "A001" in text and "7.75" in text and "Travail sérieux" in text
    assert "15.5" in text  # on the block's grade scale (/20), kept with the finalize for later renders
    assert AuditEvent.objects.get(action="copy.finalized").details["scale"] == 20
    # the lease went with the finalize; with a new one, a second finalize finds the copy graded
    status, body = call(block, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    assert status == 409 and body["error"] == "lease_lost"
    status, body = call(block, "finalize", {"copy_id": copy.public_id, "fencing": take(copy)["fencing"]})
    assert status == 409 and body["error"] == "illegal_transition"
    assert rendering.render_copy(copy.pk) == Grading.GRADED  # a redelivered task does nothing
    assert AuditEvent.objects.filter(action="copy.graded", copy_id_ref=copy.pk).count() == 1
    # rendered again (a regrade) with French active, the platform's language in a Celery worker: the
    # numbers are written as French writes them, like the labels
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.SUBMITTED)
    with translation.override("fr"):
        assert rendering.render_copy(copy.pk) == Grading.GRADED
    with storage.get_storage().open(copy.graded_pdf_name, "rb") as handle:
        text = "".join(page.get_text() for page in pymupdf.open(stream=handle.read(), filetype="pdf"))
    assert "7,75" in text and "15,5" in text and "7.75" not in text


def test_a_render_failure_is_kept_and_can_be_retried(copy, exam, django_capture_on_commit_callbacks):
    lease = take(copy)
    save(copy, lease, 0, full_payload(copy))
    batch = copy.pages.first().batch
    store = storage.get_storage()
    with store.open(batch.file_name, "rb") as handle:
        original = handle.read()
    storage.overwrite(batch.file_name, b"this is not a PDF any more")
    with django_capture_on_commit_callbacks(execute=True):
        call(grader_block(), "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    copy.refresh_from_db()
    assert copy.grading_state == Grading.RENDER_FAILED and copy.render_error
    status, body = call(grader_block(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")
    assert body["copy"]["render_error"] == copy.render_error and body["can_edit"] is False
    storage.overwrite(batch.file_name, original)
    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(grader_block(), "retry_render", {"copy_id": copy.public_id})
    assert (status, body) == (200, {"state": "submitted"})
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED and copy.render_error == ""
    assert AuditEvent.objects.filter(action="copy.render_failed").count() == 1
    assert AuditEvent.objects.get(action="copy.render_retried").actor == "staff_1"
    assert call(grader_block(), "retry_render", {"copy_id": copy.public_id})[1]["error"] == "illegal_transition"


def test_reopen_by_instructors_only_then_grading_goes_on(copy, exam):
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.GRADED)
    assert call(grader_block(), "reopen_copy", {"copy_id": copy.public_id})[0] == 403
    reopened = []
    signals.copy_reopened.connect(receiver := (lambda sender, copy, actor, **kw: reopened.append(actor.username)),
                                  weak=False)
    try:
        assert call(helpers.block(), "reopen_copy", {"copy_id": copy.public_id}) == (200, {"state": "reopened"})
    finally:
        signals.copy_reopened.disconnect(receiver)
    assert reopened == ["instructor_1"]
    event = AuditEvent.objects.get(action="copy.reopened", copy_id_ref=copy.pk)
    Copy.objects.filter(pk=copy.pk).update(grader="staff_2")  # another grader did it first
    assert event.details == {"from": "graded"} and event.actor_role == "instructor"
    assert call(helpers.block(), "reopen_copy", {"copy_id": copy.public_id})[1]["error"] == "illegal_transition"
    lease = take(copy, helpers.block("staff_2", "staff"))
    assert save(copy, lease, 0, full_payload(copy), helpers.block("staff_2", "staff"))[0] == 200
    copy.refresh_from_db()
    assert (copy.grading_state, copy.grader) == (Grading.IN_PROGRESS, "staff_2")
    assert AuditEvent.objects.filter(action="copy.started").first().details == {"from": "reopened",
                                                                               "grader": "staff_2"}


def test_a_submitted_copy_cannot_change(copy):
    lease = take(copy)
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.SUBMITTED)
    status, body = save(copy, lease, 0, full_payload(copy))
    assert status == 409 and body["error"] == "illegal_transition"
    assert not QuestionPoints.objects.exists()


def test_comment_bank_is_shared_by_the_exams_graders(exam):
    status, body = call(grader_block(), "add_bank_comment", {"text": "  Justifiez  ", "question_id": "q3",
                                                             "points": "0.5"})
    assert status == 200 and body["comment"]["text"] == "Justifiez" and body["comment"]["points"] == "0.5"
    call(helpers.block("staff_2", "staff"), "add_bank_comment", {"text": "Bien vu"})
    status, body = call(helpers.block("staff_2", "staff"), "comment_bank", method="GET")
    assert [(item["text"], item["question_id"]) for item in body["comments"]] == [("Bien vu", ""), ("Justifiez", "q3")]
    assert AuditEvent.objects.filter(action="bank.comment_added").count() == 2
    for bad in ({"text": ""}, {"text": "x", "question_id": "nope"}, {"text": "x", "points": 1},
                {"text": "x", "question_id": "q2", "points": 9}):
        status, body = call(grader_block(), "add_bank_comment", bad)
        assert status == 400 and body["error"] == "invalid_work"
    assert RubricItem.objects.count() == 2
    assert call(helpers.block("learner_1", "learner"), "comment_bank", method="GET")[0] == 403


def test_a_copy_write_takes_a_row_lock(copy, exam):
    """The fencing check and the write happen under SELECT ... FOR UPDATE on the copy row."""
    lease = take(copy)
    with CaptureQueriesContext(connection) as queries:
        workspace.save_comment(exam, GRADER, copy.public_id, lease["fencing"], "Bien")
    locks = [query["sql"] for query in queries.captured_queries if "FOR UPDATE" in query["sql"]]
    assert any("viatique_xblock_copy" in sql for sql in locks)


def test_the_pdf_renders_from_a_storage_without_local_paths(remote_storage, django_capture_on_commit_callbacks):  # noqa: F811
    """A storage whose files are not on this machine (an object store): the renderer reads a copy of the scan
    made here (the fixture fails the test if anything asks the storage for a path)."""
    exam = helpers.exam()
    copy = helpers.make_copy(exam, "M001")
    lease = take(copy)
    save(copy, lease, 0, full_payload(copy))
    with django_capture_on_commit_callbacks(execute=True):
        call(grader_block(), "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED, copy.render_error
    with storage.get_storage().open(copy.graded_pdf_name, "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert remote_storage.opened[copy.pages.first().batch.file_name] == 1, "the scan was copied here once"


def test_copies_left_submitted_are_sent_to_render_again_by_the_operator_command(copy, exam):
    lease = take(copy)
    save(copy, lease, 0, full_payload(copy))
    workspace.finalize(exam, GRADER, copy.public_id, lease["fencing"], scale=20)  # the broker "was down": no render
    Copy.objects.filter(pk=copy.pk).update(finalized_at=timezone.now() - datetime.timedelta(minutes=30))
    fresh = helpers.make_copy(exam, "A002", state=Grading.SUBMITTED, pages=0, username="learner_2")
    Copy.objects.filter(pk=fresh.pk).update(finalized_at=timezone.now())
    out = io.StringIO()
    call_command("viatique_render_submitted", "--dry-run", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"copies": [copy.pk], "sent": False}
    assert Copy.objects.get(pk=copy.pk).grading_state == Grading.SUBMITTED
    call_command("viatique_render_submitted", "--usage", exam.usage_key, stdout=io.StringIO())
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED and copy.graded_pdf_name
    assert Copy.objects.get(pk=fresh.pk).grading_state == Grading.SUBMITTED  # finalized a moment ago


def test_values_of_the_wrong_type_are_invalid_work_never_a_server_error(copy):
    lease = take(copy)
    first, _second = page_ids(copy)
    write = {"copy_id": copy.public_id, "fencing": lease["fencing"]}
    status, body = call(grader_block(), "save_points", {**write, "question_id": [], "points": 1})
    assert status == 400 and body["error"] == "invalid_work", body
    status, body = call(grader_block(), "add_bank_comment", {"text": "x", "question_id": [1]})
    assert status == 400 and body["problems"][0]["path"] == "question_id", body
    for hostile in ({"kind": []}, {"question_id": {"a": 1}}):
        status, body = save(copy, lease, 0, {"annotations": [annotation(first, **hostile)], "points": {},
                                             "general_comment": ""})
        assert status == 400 and body["error"] == "invalid_work", (hostile, body)
    assert not copy.annotations.exists() and not copy.points.exists()
    assert not RubricItem.objects.exists()
