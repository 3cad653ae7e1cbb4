"""The block through an LMS-like runtime: views by role, handlers, permissions, audit and events."""
import re

import pytest
from django.utils import timezone, translation

from tests.harness import USAGE, call, make_block, startup_data
from viatique_xblock.models import AuditEvent, Copy, Exam, QuestionPoints
from viatique_xblock.states import Grading, Identity

pytestmark = pytest.mark.django_db

VALID = {
    "display_name": "Bac blanc",
    "pages_per_copy": "4",
    "grade_scale": "20",
    "weight": "2",
    "regrade_window_days": "7",
    "anonymous_grading": True,
    "marking_scheme": {"questions": [
        {"id": "q1", "label": "Exercice 1", "max": 8, "step": 0.5},
        {"label": "Exercice 2", "max": 12, "step": 0.25},
    ], "next_id": 2},
}


def make_copy(exam, code, username="", grading=Grading.READY, grader="", anonymous_id=None):
    return Copy.objects.create(
        exam=exam, anonymous_code=code, learner_username=username,
        learner_name=username.replace("_", " ").title(),
        learner_anonymous_id=anonymous_id or (f"anon-{username}" if username else None),
        identity_state=Identity.IDENTIFIED if username else Identity.UNIDENTIFIED,
        grading_state=grading, grader=grader,
    )


def test_block_has_a_score_with_the_schemes_total_as_maximum():
    block = make_block()
    assert block.has_score is True
    assert block.weight is None  # as CAPA problems: the raw points count, the scheme's total possible
    assert block.max_score() == 20.0
    assert "subsection" in str(type(block).weight.help)


def test_the_exam_row_follows_the_blocks_weight():
    make_block(fields={"weight": 1.5}).sync_exam()
    assert Exam.objects.get(usage_key=USAGE).weight == 1.5
    make_block().sync_exam()
    assert Exam.objects.get(usage_key=USAGE).weight is None


@pytest.mark.parametrize("sent", ["", "  ", None])
def test_an_empty_weight_is_saved_as_none(sent):
    block = make_block(fields={"weight": 2.0})
    status, body = call(block, "studio_submit", dict(VALID, weight=sent))
    assert status == 200, body
    assert block.weight is None and body["settings"]["weight"] is None
    assert Exam.objects.get(usage_key=USAGE).weight is None


def test_a_weight_is_a_number_from_0_to_1000():
    block = make_block()
    for bad in ("-1", "1001", "heavy", "nan"):
        status, body = call(block, "studio_submit", dict(VALID, weight=bad))
        assert status == 400 and [p["path"] for p in body["problems"]] == ["weight"], bad
    status, body = call(block, "studio_submit", dict(VALID, weight="0,5"))
    assert status == 200 and block.weight == 0.5
    assert Exam.objects.get(usage_key=USAGE).weight == 0.5


def test_the_editor_shows_an_unset_weight_as_an_empty_field_with_a_hint():
    frag = make_block().studio_view()
    assert startup_data(frag)["settings"]["weight"] is None
    assert 'aria-describedby="' in frag.content and "-weight-hint" in frag.content
    assert "Leave it empty to count the marking scheme" in frag.content


def test_instructor_view_is_the_dashboard_and_creates_the_exam_row():
    frag = make_block().student_view()
    assert "Instructor dashboard" in frag.content
    # the counter of copies is a link to the copy list (the Grading screen), each screen a region of its own
    assert re.search(r'data-count="total"><a href="#grading"[^>]*>0<', frag.content)
    assert re.findall(r'data-screen="(\w+)"', frag.content) == [
        "scans", "identification", "grading", "results", "reports", "settings"]
    assert startup_data(frag)["copies"] == 0
    exam = Exam.objects.get(usage_key=USAGE)
    assert exam.course_key == "course-v1:Viatique+T101+2026"
    assert exam.scheme["questions"][0]["id"] == "q1"
    assert frag.js_init_fn == "ViatiqueStaffDashboard"
    urls = [resource.data for resource in frag.resources]
    assert "/xblock/resource/viatique/static/js/viatique_staff.js" in urls
    assert "/xblock/resource/viatique/static/css/viatique.css" in urls


def test_grader_view_is_the_grader_dashboard_without_a_names_column():
    frag = make_block("staff_1", "staff").student_view()
    assert "Grader dashboard" in frag.content
    assert ">Learner<" not in frag.content
    # no identification screen, and no search by name
    assert re.findall(r'data-screen="(\w+)"', frag.content) == ["scans", "grading", "results", "reports", "settings"]
    assert "Search (code)" in frag.content and "Search (code or learner)" not in frag.content


def test_learner_view_shows_only_the_state_of_their_own_copy():
    exam = make_block().get_exam()
    make_copy(exam, "C1", "learner_1", Grading.GRADED)
    make_copy(exam, "C2", "learner_2", Grading.READY)
    content = make_block("learner_1", "learner", anonymous_id="anon-learner_1").student_view().content
    assert 'data-status="awaiting_release"' in content
    assert "C2" not in content and "learner_2" not in content and "Dashboard" not in content
    content = make_block("learner_2", "learner", anonymous_id="anon-learner_2").student_view().content
    assert 'data-status="received"' in content
    content = make_block("learner_9", "learner", anonymous_id="anon-learner_9").student_view().content
    assert 'data-status="no_copy"' in content


def test_learner_status_after_release():
    exam = make_block().get_exam()
    make_copy(exam, "C1", "learner_1", Grading.GRADED)
    Exam.objects.filter(pk=exam.pk).update(released_at=timezone.now())
    content = make_block("learner_1", "learner", anonymous_id="anon-learner_1").student_view().content
    assert 'data-status="released"' in content


def test_author_view_escapes_labels():
    block = make_block(fields={"marking_scheme": {"questions": [
        {"id": "q1", "label": "<script>alert(1)</script> & co", "max": 2, "step": 1}], "next_id": 2}})
    content = block.author_view().content
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in content
    assert "Paper exam, 4 pages per copy." in content


def test_studio_view_renders_the_editor_with_the_settings():
    frag = make_block().studio_view()
    assert frag.js_init_fn == "ViatiqueStudioEditor"
    assert startup_data(frag)["settings"]["marking_scheme"]["questions"][1]["id"] == "q2"
    assert 'data-action="add-question"' in frag.content


def test_studio_submit_saves_validated_settings_audits_and_emits_an_event():
    block = make_block()
    status, body = call(block, "studio_submit", VALID)
    assert status == 200, body
    assert block.display_name == "Bac blanc"
    assert block.pages_per_copy == 4 and block.grade_scale == 20.0 and block.weight == 2.0
    assert Exam.objects.get(usage_key=USAGE).weight == 2.0
    # the new question gets a fresh id: q2 belonged to the default scheme's second question
    assert [q["id"] for q in block.marking_scheme["questions"]] == ["q1", "q3"]
    assert body["max_score"] == 20.0
    event = AuditEvent.objects.get(action="settings.saved")
    assert event.actor == "instructor_1" and event.actor_role == "instructor"
    assert ("edx.viatique.settings.saved", {"exam_id": event.exam_id, "copy_id": None, "questions": 2}) \
        in block.runtime.events
    assert Exam.objects.get(usage_key=USAGE).title == "Bac blanc"


def test_studio_submit_refuses_a_malformed_scheme_and_changes_nothing():
    block = make_block()
    bad = dict(VALID, pages_per_copy="0", marking_scheme={"questions": [
        {"id": "q1", "label": "A", "max": -1, "step": 1}, {"id": "q1", "label": "B", "max": 1, "step": 0.3}]})
    status, body = call(block, "studio_submit", bad)
    assert status == 400
    assert body["error"] == "invalid_settings"
    paths = [problem["path"] for problem in body["problems"]]
    assert paths == ["pages_per_copy", "marking_scheme.1", "marking_scheme.2", "marking_scheme.2"]
    assert block.display_name == "Paper exam" and block.pages_per_copy == 4
    assert not AuditEvent.objects.filter(action="settings.saved").exists()


def test_studio_submit_refuses_removing_a_question_that_has_points_without_a_confirmation():
    block = make_block()
    exam = block.get_exam()
    copy = make_copy(exam, "C1", "learner_1")
    QuestionPoints.objects.create(copy=copy, question_id="q2", points=3)
    without_q2 = dict(VALID, marking_scheme={"questions": [{"id": "q1", "label": "Only", "max": 20, "step": 1}]})
    status, body = call(block, "studio_submit", without_q2)
    assert status == 409
    assert body["error"] == "scheme_change_unconfirmed"
    assert body["impact"]["removed"] == [{"id": "q2", "label": "Question 2", "copies": 1}]
    assert [q["id"] for q in block.marking_scheme["questions"]] == ["q1", "q2"]


def test_studio_submit_refuses_turning_a_graded_question_into_a_group_without_a_confirmation():
    block = make_block()
    copy = make_copy(block.get_exam(), "C1", "learner_1")
    QuestionPoints.objects.create(copy=copy, question_id="q2", points=3)
    grouped = dict(VALID, marking_scheme={"questions": [
        {"id": "q1", "label": "One", "max": 10, "step": 1},
        {"id": "q2", "label": "Two", "children": [{"label": "2a", "max": 10, "step": 1}]}], "next_id": 3})
    status, body = call(block, "studio_submit", grouped)
    assert status == 409 and body["error"] == "scheme_change_unconfirmed"
    assert body["impact"]["removed"][0]["id"] == "q2" and body["impact"]["added"][0]["id"] == "q3"


def test_relabelled_questions_keep_their_points():
    block = make_block()
    copy = make_copy(block.get_exam(), "C1", "learner_1")
    QuestionPoints.objects.create(copy=copy, question_id="q2", points=3)
    reordered = dict(VALID, marking_scheme={"questions": [
        {"id": "q2", "label": "Second, now first", "max": 10, "step": 0.5},
        {"id": "q1", "label": "First, now second", "max": 10, "step": 0.5}], "next_id": 3})
    status, _ = call(block, "studio_submit", reordered)
    assert status == 200
    stored = QuestionPoints.objects.get(copy=copy)
    assert stored.question_id == "q2"
    assert block.marking_scheme["questions"][0] == {"id": "q2", "label": "Second, now first", "max": 10, "step": 0.5}


def test_learners_cannot_change_settings():
    status, body = call(make_block("learner_1", "learner"), "studio_submit", VALID)
    assert status == 403
    assert body == {"error": "forbidden", "message": "Only the course team can change the exam settings."}


def test_an_unexpected_failure_is_a_500_with_a_stable_code_and_no_traceback(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("/srv/secret/path exploded")

    monkeypatch.setattr("viatique_xblock.grading.copies.list_copies", broken)
    status, body = call(make_block(), "list_copies", method="GET")
    assert status == 500 and body["error"] == "server_error"
    assert "secret" not in body["message"] and "Traceback" not in body["message"]
    assert "exploded" in caplog.text  # the operator still gets it in the log


def test_handlers_refuse_the_wrong_method_and_bad_json():
    block = make_block()
    status, body = call(block, "studio_submit", method="GET")
    assert status == 405 and body["error"] == "method_not_allowed"
    response = block.handle("studio_submit", __import__("webob").Request.blank("/", method="GET"))
    assert response.headers["Allow"] == "POST"
    with translation.override("fr"):
        status, body = call(block, "studio_submit", method="GET")
    assert body["message"] == "Utilisez POST."
    from webob import Request
    request = Request.blank("/", method="POST", body=b"{not json")
    response = block.handle("studio_submit", request)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_list_copies_hides_identities_from_graders_and_lists_their_own_first():
    exam = make_block().get_exam()
    make_copy(exam, "C1", "learner_1", grader="staff_2")
    make_copy(exam, "C2", "learner_2", grader="staff_1")
    make_copy(exam, "C3")
    status, body = call(make_block("staff_1", "staff"), "list_copies", method="GET")
    assert status == 200
    assert [row["code"] for row in body["copies"]] == ["C2", "C1", "C3"]
    text = str(body)
    assert "learner_1" not in text and "Learner 1" not in text and "anon-" not in text
    status, body = call(make_block(), "list_copies", method="GET", query="limit=2&offset=1")
    assert body["count"] == 3 and [row["code"] for row in body["copies"]] == ["C2", "C3"]
    assert body["copies"][0]["username"] == "learner_2"


def test_graders_see_names_when_grading_is_not_anonymous():
    block = make_block(fields={"anonymous_grading": False})
    make_copy(block.get_exam(), "C1", "learner_1")
    status, body = call(make_block("staff_1", "staff", fields={"anonymous_grading": False}), "list_copies",
                        method="GET")
    assert body["copies"][0]["username"] == "learner_1"


def test_list_copies_is_refused_to_learners_and_never_crosses_blocks():
    status, body = call(make_block("learner_1", "learner"), "list_copies", method="GET")
    assert status == 403 and body["error"] == "forbidden"
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2")
    make_copy(other.get_exam(), "X1", "learner_1")
    status, body = call(make_block(), "list_copies", method="GET")
    assert body["count"] == 0


def test_list_copies_query_count_does_not_grow_with_copies(django_assert_max_num_queries):
    exam = make_block().get_exam()
    for number in range(60):
        make_copy(exam, f"C{number:02d}", f"learner_{number}")
    block = make_block()
    with django_assert_max_num_queries(4):  # exam sync, count, page, the graders to filter by
        status, body = call(block, "list_copies", method="GET", query="limit=50")
    assert status == 200 and len(body["copies"]) == 50


def test_audit_events_are_append_only():
    from viatique_xblock.models import AppendOnlyError
    exam = make_block().get_exam()
    event = AuditEvent.objects.create(exam=exam, action="x")
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(exam=exam).update(action="y")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(exam=exam).delete()


PAYLOAD = '</script><img src=x onerror="window.__xss=1"><!--<script>'


def test_no_user_text_reaches_the_runtimes_init_arguments_and_the_startup_data_cannot_end_its_element():
    """The exam's title, the scheme's labels and the username go into the block's own HTML as escaped
    JSON (some hosts write the init arguments into a <script> unescaped)."""
    fields = {"display_name": "Exam " + PAYLOAD, "marking_scheme": {"questions": [
        {"id": "q1", "label": "Q " + PAYLOAD + " & co", "max": 2, "step": 1}], "next_id": 2}}
    staff = make_block("staff_" + PAYLOAD, "staff", fields=fields).student_view()
    studio = make_block(fields=fields).studio_view()
    learner = make_block("learner_" + PAYLOAD, "learner", fields=fields).student_view()
    for frag in (staff, studio, learner):
        assert frag.json_init_args is None
        element = frag.content[frag.content.index("<script data-viatique-startup"):]
        body = element[element.index(">") + 1:element.rindex("</script>")]
        assert "<" not in body and ">" not in body and "&" not in body, body
        assert frag.content.count("</script>") == 1 and "onerror=\"window" not in frag.content
    assert startup_data(staff)["username"] == "staff_" + PAYLOAD
    assert startup_data(studio)["settings"]["display_name"] == "Exam " + PAYLOAD
    assert startup_data(studio)["settings"]["marking_scheme"]["questions"][0]["label"] == "Q " + PAYLOAD + " & co"
    assert set(startup_data(learner)) == {"i18n", "lang", "status"}


def test_each_view_has_one_startup_element_with_the_translations():
    with translation.override("fr"):
        frag = make_block().student_view()
    data = startup_data(frag)
    assert data["role"] == "instructor" and data["username"] == "instructor_1"
    assert data["lang"] == "fr"  # numbers and plurals in the user's language (ViatiqueCommon.numbers)
    assert data["i18n"] and all(isinstance(value, (str, list)) for value in data["i18n"].values())
    assert make_block().author_view().content.count("data-viatique-startup") == 0
