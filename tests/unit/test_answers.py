"""Grading by question through its handlers (LMS-like harness) and domain API: the grading mode setting,
claiming the next answer, leases per (copy, question) with their fencing, saving an answer (points, comment,
the question's annotations, the general comment), the last answer finalizing the copy and queuing its render
once (also when the last two answers are graded at the same moment), "no answer", skipping, reopening one
question (a published score withdrawn and published again), dealing questions and the progress. Leases on
the real Redis of the test settings, the database on MariaDB."""
import concurrent.futures
import threading

import pymupdf
import pytest
from django.db import connection

from tests.harness import call, make_block
from tests.unit import grading_helpers as helpers
from tests.unit.grading_helpers import GRADER, INSTRUCTOR, OTHER, annotation
from viatique_xblock import exams, signals
from viatique_xblock.grading import answers, leases, question_dispatch, rendering
from viatique_xblock.models import Answer, AuditEvent, Copy, Exam, QuestionPoints
from viatique_xblock.platform import storage
from viatique_xblock.results import learner as learner_results, release
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

FIELDS = {**helpers.FIELDS, "grading_mode": "by_question", "pages_per_copy": 2}


def block(username="instructor_1", role="instructor"):
    return make_block(username, role, fields=FIELDS)


def grader(username="staff_1"):
    return block(username, "staff")


@pytest.fixture
def exam():
    made = block().get_exam()
    yield made
    helpers.remove_exam_files(made)


@pytest.fixture
def renders(monkeypatch):
    """The copies whose render was queued, in order (the render itself runs as the queue would)."""
    queued = []
    lock = threading.Lock()
    original = rendering.queue_renders

    def record(copy_ids):
        with lock:
            queued.extend(copy_ids)
        original(copy_ids)

    monkeypatch.setattr(rendering, "queue_renders", record)
    return queued


def take_next(question_id, user_block=None):
    status, body = call(user_block or grader(), "next_answer", {"question_id": question_id})
    assert status == 200, body
    return body["answer"]


def grade(answer, user_block=None, points=None, done=True, **extra):
    data = {"copy_id": answer["copy"]["id"], "question_id": answer["question"]["id"],
            "fencing": answer["lease"]["fencing"], "version": answer["draft"]["version"],
            "points": answer["question"]["max"] if points is None else points, "comment": "", "done": done, **extra}
    return call(user_block or grader(), "save_answer", data)


# ------------------------------------------------------------------ the mode

def test_a_new_exam_is_graded_by_question_and_an_existing_one_keeps_grading_by_copy():
    fresh = make_block(fields={**helpers.FIELDS, "grading_mode": None}, usage=helpers_usage("fresh"))
    assert fresh.get_exam().grading_mode == "by_question"
    # an exam row from before grading by question (the migration gave it by_copy) whose block never set the
    # mode: showing the block keeps it by copy
    old = make_block(fields={**helpers.FIELDS, "grading_mode": None}, usage=helpers_usage("old"))
    Exam.objects.create(usage_key=str(old.scope_ids.usage_id), course_key="course-v1:V+T+1")
    assert Exam.objects.get(usage_key=str(old.scope_ids.usage_id)).grading_mode == "by_copy"
    assert old.sync_exam().grading_mode == "by_copy"
    # an author's choice is followed
    chosen = make_block(fields={**helpers.FIELDS, "grading_mode": "by_copy"}, usage=helpers_usage("chosen"))
    assert chosen.sync_exam().grading_mode == "by_copy"


def helpers_usage(name):
    return f"block-v1:Viatique+Mode+2026+type@viatique+block@{name}"


def test_the_mode_cannot_change_while_copies_are_being_graded(exam):
    copy = helpers.make_copy(exam, "M001")
    settings = {"display_name": "Bac blanc", "marking_scheme": helpers.SCHEME, "pages_per_copy": 2,
                "grade_scale": 20, "regrade_window_days": 7, "name_area_height": 12}
    usage, course = exam.usage_key, exam.course_key
    exams.save_settings({**settings, "grading_mode": "by_copy"}, usage, course)  # nothing started: it may
    assert Exam.objects.get(pk=exam.pk).grading_mode == "by_copy"
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.IN_PROGRESS)
    with pytest.raises(exams.GradingModeInUse):
        exams.save_settings({**settings, "grading_mode": "by_question"}, usage, course)
    assert Exam.objects.get(pk=exam.pk).grading_mode == "by_copy"
    with pytest.raises(exams.InvalidSettings):
        exams.save_settings({**settings, "grading_mode": "by_page"}, usage, course)


def test_each_modes_writes_are_refused_on_an_exam_of_the_other_mode(exam):
    copy = helpers.make_copy(exam, "W001")
    status, body = call(grader(), "acquire_lease", {"copy_id": copy.public_id})
    assert (status, body["error"], body["mode"]) == (409, "wrong_grading_mode", "by_question")
    status, body = call(grader(), "finalize", {"copy_id": copy.public_id, "fencing": 1})
    assert (status, body["error"]) == (409, "wrong_grading_mode")
    assert call(grader(), "open_copy", method="GET", query=f"copy_id={copy.public_id}")[0] == 200
    by_copy = make_block("staff_1", "staff", fields=helpers.FIELDS, usage=helpers_usage("copies"))  # by copy
    status, body = call(by_copy, "next_answer", {"question_id": "q2"})
    assert (status, body["error"], body["mode"]) == (409, "wrong_grading_mode", "by_copy")


# ------------------------------------------------------------------ claiming and leases

def test_next_answer_claims_each_answer_once_and_two_questions_of_a_copy_never_block(exam, settings):
    copies = [helpers.make_copy(exam, f"N{index:03d}", username=f"learner_{index}") for index in range(3)]
    first = take_next("q2", grader("staff_1"))
    second = take_next("q2", grader("staff_2"))
    assert first["copy"]["id"] != second["copy"]["id"]
    assert first["lease"]["fencing"] == 1 and first["remaining"] == 3 and second["remaining"] == 3
    assert [page["id"] for page in first["pages"]] == list(
        Copy.objects.get(public_id=first["copy"]["id"]).pages.order_by("position").values_list("public_id", flat=True))
    assert first["question"]["id"] == "q2" and first["answer"]["state"] == "open" and not first["page_missing"]
    assert "name" not in first["copy"]  # an anonymous exam: no name for graders
    # a reload gives staff_1 the answer they hold
    assert take_next("q2", grader("staff_1"))["copy"]["id"] == first["copy"]["id"]
    # another question of the same copy: its own lease, at the same time
    other_question = take_next("q3", grader("staff_2"))
    assert other_question["copy"]["id"] == copies[0].public_id == first["copy"]["id"]
    # the same answer: one grader at a time
    status, body = call(grader("staff_3"), "open_answer", {"copy_id": first["copy"]["id"], "question_id": "q2"})
    assert status == 200 and body["answer"]["lease"] is None and body["answer"]["held_by"]["holder"] == "Staff_1"
    # under HIDE_GRADER_IDENTITIES another grader is "Grader N", as in the copy list
    Answer.objects.filter(copy__public_id=first["copy"]["id"], question_id="q2").update(graded_by="staff_1")
    settings.VIATIQUE = {**settings.VIATIQUE, "HIDE_GRADER_IDENTITIES": True}
    status, body = call(grader("staff_3"), "open_answer", {"copy_id": first["copy"]["id"], "question_id": "q2"})
    assert body["answer"]["answer"]["graded_by"] == "Grader 1" and body["answer"]["held_by"]["holder"] == "Grader 1"
    status, body = call(block(), "open_answer", {"copy_id": first["copy"]["id"], "question_id": "q2"})
    assert body["answer"]["answer"]["graded_by"] == "staff_1" and body["answer"]["held_by"]["holder"] == "Staff_1"
    Answer.objects.filter(copy__public_id=first["copy"]["id"], question_id="q2").update(graded_by="")
    # the third copy, then none left for q2 (the others are held)
    third = take_next("q2", grader("staff_3"))
    assert third["copy"]["id"] == copies[2].public_id
    status, body = call(grader("staff_4"), "next_answer", {"question_id": "q2"})
    assert (status, body) == (200, {"answer": None, "remaining": 3})
    status, body = call(grader(), "next_answer", {"question_id": "q1"})  # a group: no points of its own
    assert (status, body["error"], body["field"]) == (400, "invalid_request", "question_id")
    for answer, username in ((first, "staff_1"), (second, "staff_2"), (other_question, "staff_2"),
                             (third, "staff_3")):
        assert call(grader(username), "release_answer_lease", {
            "copy_id": answer["copy"]["id"], "question_id": answer["question"]["id"],
            "token": answer["lease"]["token"]}) == (200, {"released": True})


@pytest.mark.django_db(transaction=True)
def test_twenty_graders_pressing_next_at_once_in_threads_get_twenty_different_answers():
    exam = block().get_exam()
    try:
        for index in range(25):
            helpers.make_copy(exam, f"T{index:03d}", username=f"learner_{index}", pages=0)
        barrier = threading.Barrier(20)

        def press(index):
            barrier.wait()
            try:
                answer, _remaining = answers.next_answer(Exam.objects.get(pk=exam.pk), helpers.user(f"staff_{index}"),
                                                         "q3")
                return answer["copy"]["id"]
            finally:
                connection.close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            claimed = list(pool.map(press, range(20)))
        assert len(set(claimed)) == 20
        assert Answer.objects.filter(copy__exam=exam, question_id="q3", lease_fencing=1).count() == 20
        assert AuditEvent.objects.filter(exam=exam, action="lease.acquired").count() == 20
    finally:
        for copy in Copy.objects.filter(exam=exam):
            leases.force_release(copy, INSTRUCTOR, question_id="q3")
        AuditEvent.objects.filter(exam=exam)._raw_delete(AuditEvent.objects.db)
        helpers.remove_files(exam)
        exam.delete()


def test_a_write_with_the_fencing_of_an_ended_lease_or_a_stale_version_is_refused(exam):
    copy = helpers.make_copy(exam, "F001")
    old = take_next("q2", grader("staff_1"))
    assert call(block(), "force_release_answer_lease", {"copy_id": copy.public_id, "question_id": "q2"}) == \
        (200, {"released": True})
    new = take_next("q2", grader("staff_2"))
    assert new["lease"]["fencing"] == old["lease"]["fencing"] + 1
    assert grade(new, grader("staff_2"), points="3", done=False)[0] == 200
    status, body = grade(old, grader("staff_1"), points="1", done=False)
    assert (status, body["error"]) == (409, "lease_lost")
    status, body = grade(new, grader("staff_2"), points="2", done=False)  # the version it opened with
    assert (status, body["error"], body["version"]) == (409, "stale_draft", 1)
    assert QuestionPoints.objects.get(copy=copy, question_id="q2").points == 3
    # a renewal with the old token is refused too; the holder's is not
    status, body = call(grader("staff_1"), "renew_answer_lease",
                        {"copy_id": copy.public_id, "question_id": "q2", "token": old["lease"]["token"]})
    assert (status, body["error"]) == (409, "lease_lost")
    assert call(grader("staff_2"), "renew_answer_lease",
                {"copy_id": copy.public_id, "question_id": "q2", "token": new["lease"]["token"]})[0] == 200
    leases.force_release(copy, INSTRUCTOR, question_id="q2")


# ------------------------------------------------------------------ saving, finishing a copy

def test_annotations_belong_to_their_question_and_the_general_comment_is_shared(exam, renders,
                                                                                django_capture_on_commit_callbacks):
    copy = helpers.make_copy(exam, "S001")
    first_page, second_page = copy.pages.order_by("position").values_list("public_id", flat=True)
    on_q2 = take_next("q2", grader("staff_1"))
    on_q3 = take_next("q3", grader("staff_2"))
    tick = annotation(first_page, kind="tick", width=0, height=0, question_id="q3")  # takes q2's id
    status, body = grade(on_q2, grader("staff_1"), points="3.5", done=False, comment="Bien",
                         annotations=[tick], general_comment="Sérieux")
    assert status == 200 and body["answer"] == {"state": "open", "points": "3.5", "comment": "Bien",
                                                 "no_answer": False}
    assert body["copy_state"] == "in_progress" and body["finalized"] is False
    note = annotation(second_page, text="Revoir")
    status, body = grade(on_q3, grader("staff_2"), points="5", done=False, annotations=[note, tick])
    assert (status, body["error"]) == (400, "invalid_work")  # q2's annotation cannot move to q3
    assert body["problems"][0]["path"] == "annotations.1.uid"
    assert grade(on_q3, grader("staff_2"), points="5", done=False, annotations=[note])[0] == 200
    assert dict(copy.annotations.values_list("question_id", "text")) == {"q2": "Bien", "q3": "Revoir"}
    status, reopened = call(grader("staff_2"), "open_answer", {"copy_id": copy.public_id, "question_id": "q3"})
    assert [item["text"] for item in reopened["answer"]["annotations"]] == ["Revoir"]
    assert reopened["answer"]["copy"]["general_comment"] == "Sérieux"
    # the general comment from the other question
    version = reopened["answer"]["draft"]["version"]
    assert grade({**on_q3, "draft": {"version": version}}, grader("staff_2"), points="5", done=False,
                 general_comment="Sérieux et soigné")[0] == 200
    # saving the q2 answer again with no annotation deletes q2's only
    status, q2_again = call(grader("staff_1"), "open_answer", {"copy_id": copy.public_id, "question_id": "q2"})
    q2_again = q2_again["answer"]
    assert q2_again["answer"]["comment"] == "Bien" and len(q2_again["annotations"]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        status, body = grade(q2_again, grader("staff_1"), points="3.5", comment="Bien", annotations=[])
    assert status == 200 and body["answer"]["state"] == "graded" and body["finalized"] is False
    assert list(copy.annotations.values_list("question_id", flat=True)) == ["q3"]
    assert Copy.objects.get(pk=copy.pk).general_comment == "Sérieux et soigné"
    assert leases.current(exam, INSTRUCTOR, copy, "q2") is None  # graded: its lease went
    assert renders == []
    status, q3_again = call(grader("staff_2"), "open_answer", {"copy_id": copy.public_id, "question_id": "q3"})
    with django_capture_on_commit_callbacks(execute=True):
        status, body = grade(q3_again["answer"], grader("staff_2"), points="5")
    assert status == 200 and body["finalized"] is True and body["copy_state"] == "submitted"
    assert renders == [copy.pk]
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED and copy.total_points == 8.5 and copy.grader == ""
    assert AuditEvent.objects.filter(action="copy.finalized", copy_id_ref=copy.pk).count() == 1
    assert AuditEvent.objects.filter(action="answer.graded", copy_id_ref=copy.pk).count() == 2
    # the copy cannot change any more: the answer tells so, and no lease is taken on it
    status, body = call(grader("staff_2"), "open_answer", {"copy_id": copy.public_id, "question_id": "q3"})
    assert body["answer"]["can_edit"] is False and body["answer"]["lease"] is None


def test_graded_by_question_the_learner_sees_each_question_with_its_annotations(exam, renders,
                                                                                django_capture_on_commit_callbacks):
    copy = helpers.make_copy(exam, "L001", username="learner_1")
    first_page = copy.pages.order_by("position").first().public_id
    with django_capture_on_commit_callbacks(execute=True):
        on_q2 = take_next("q2")
        assert grade(on_q2, points="2", comment="Justifier",
                     annotations=[annotation(first_page, text="Où est la preuve ?")])[0] == 200
        on_q3 = take_next("q3")
        assert grade(on_q3, points="6", comment="Parfait")[0] == 200
    Exam.objects.filter(pk=exam.pk).update(released_at=exam.created_at)
    exam.refresh_from_db()
    learner = helpers.user("learner_1", "learner")
    learner = learner.__class__(**{**learner.__dict__, "anonymous_id": copy.learner_anonymous_id})
    body = learner_results.results(exam, learner, scale=20, window_days=7)
    questions = {row["id"]: row for row in body["questions"]}
    assert questions["q2"]["points"] == "2" and questions["q2"]["comment"] == "Justifier"
    assert questions["q3"]["points"] == "6" and not questions["q3"]["no_answer"]
    assert [(item["question_id"], item["text"]) for item in body["annotations"]] == [("q2", "Où est la preuve ?")]
    assert "grading_mode" not in str(body) and "by_question" not in str(body)


@pytest.mark.django_db(transaction=True)
def test_the_last_two_answers_graded_at_the_same_moment_finalize_and_render_the_copy_once(renders):
    exam = block().get_exam()
    try:
        copy = helpers.make_copy(exam, "R001")
        on_q2 = answers.next_answer(exam, GRADER, "q2")[0]
        on_q3 = answers.next_answer(exam, OTHER, "q3")[0]
        barrier = threading.Barrier(2)

        def finish(user, answer):
            barrier.wait()
            try:
                return answers.save_answer(Exam.objects.get(pk=exam.pk), user, answer["copy"]["id"],
                                           answer["question"]["id"], answer["lease"]["fencing"],
                                           answer["draft"]["version"], points=answer["question"]["max"], done=True)
            finally:
                connection.close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda pair: finish(*pair), [(GRADER, on_q2), (OTHER, on_q3)]))
        assert sorted(result["finalized"] for result in results) == [False, True]
        assert renders == [copy.pk]
        assert AuditEvent.objects.filter(action="copy.finalized", copy_id_ref=copy.pk).count() == 1
        assert AuditEvent.objects.filter(action="copy.graded", copy_id_ref=copy.pk).count() == 1
        assert Copy.objects.get(pk=copy.pk).grading_state == Grading.GRADED
    finally:
        AuditEvent.objects.filter(exam=exam)._raw_delete(AuditEvent.objects.db)
        helpers.remove_exam_files(exam)
        exam.delete()


def test_no_answer_gives_zero_and_says_so_to_the_learner_and_on_the_pdf(exam, renders,
                                                                         django_capture_on_commit_callbacks):
    copy = helpers.make_copy(exam, "X001", pages=1)  # page 2 was never scanned
    exam.pages_per_copy = 2
    exam.save()
    on_q3 = take_next("q3")
    assert on_q3["question_pages"] == [1, 2] and on_q3["missing_pages"] == [2] and on_q3["page_missing"] is True
    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(grader(), "mark_no_answer", {"copy_id": copy.public_id, "question_id": "q3",
                                                         "fencing": on_q3["lease"]["fencing"],
                                                         "version": on_q3["draft"]["version"]})
        assert status == 200 and body["answer"] == {"state": "graded", "points": "0", "comment": "",
                                                    "no_answer": True}
        assert grade(take_next("q2"), points="4")[0] == 200
    row = QuestionPoints.objects.get(copy=copy, question_id="q3")
    assert row.points == 0 and row.no_answer
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED and copy.total_points == 4
    with storage.get_storage().open(copy.graded_pdf_name, "rb") as handle:
        text = "".join(page.get_text() for page in pymupdf.open(stream=handle.read(), filetype="pdf"))
    assert "No answer." in text
    Exam.objects.filter(pk=exam.pk).update(released_at=exam.created_at)
    exam.refresh_from_db()
    learner = helpers.user("learner_1", "learner")
    learner = learner.__class__(**{**learner.__dict__, "anonymous_id": copy.learner_anonymous_id})
    questions = {row["id"]: row for row in learner_results.results(exam, learner)["questions"]}
    assert questions["q3"]["no_answer"] is True and questions["q3"]["points"] == "0"
    assert questions["q2"]["no_answer"] is False
    # reopened and graded 0 as an answer after all: "no answer" is no longer said
    Exam.objects.filter(pk=exam.pk).update(released_at=None)
    assert call(block(), "reopen_question", {"copy_id": copy.public_id, "question_id": "q3"})[0] == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert grade(take_next("q3"), points="0", comment="Faux")[0] == 200
    row.refresh_from_db()
    assert (row.points, row.no_answer, row.comment) == (0, False, "Faux")


def test_a_skipped_answer_comes_after_the_others_and_done_needs_points(exam):
    first = helpers.make_copy(exam, "K001")
    second = helpers.make_copy(exam, "K002", username="learner_2")
    answer = take_next("q2")
    assert answer["copy"]["id"] == first.public_id
    status, body = grade(answer, points="")
    assert (status, body["error"]) == (400, "incomplete")
    assert call(grader(), "skip_answer", {"copy_id": first.public_id, "question_id": "q2",
                                          "token": answer["lease"]["token"]}) == \
        (200, {"skipped": True, "released": True})
    following = take_next("q2")
    assert following["copy"]["id"] == second.public_id
    leases.release_lease(second, following["lease"]["token"], "q2")
    # for another grader the order is as before
    other = take_next("q2", grader("staff_2"))
    assert other["copy"]["id"] == first.public_id
    leases.release_lease(first, other["lease"]["token"], "q2")


# ------------------------------------------------------------------ reopening one question

def test_reopening_one_question_regrades_only_it_and_publishes_the_score_again(exam, renders,
                                                                              django_capture_on_commit_callbacks):
    copy = helpers.make_copy(exam, "O001")
    with django_capture_on_commit_callbacks(execute=True):
        assert grade(take_next("q2"), points="2")[0] == 200
        assert grade(take_next("q3"), points="3")[0] == 200
    assert renders == [copy.pk]
    withdrawn, published = [], []
    receivers = [(signals.copy_reopened, lambda sender, copy, actor=None, **kw: withdrawn.append(copy.pk)),
                 (signals.copy_graded, lambda sender, copy, actor=None, **kw: published.append(copy.pk))]
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False)
    try:
        status, body = call(grader(), "reopen_question", {"copy_id": copy.public_id, "question_id": "q2"})
        assert (status, body["error"]) == (403, "forbidden")
        with django_capture_on_commit_callbacks(execute=True):
            status, body = call(block(), "reopen_question", {"copy_id": copy.public_id, "question_id": "q2"})
        assert (status, body) == (200, {"state": "reopened", "answer_state": "open"})
        assert withdrawn == [copy.pk]
        status, body = call(block(), "reopen_question", {"copy_id": copy.public_id, "question_id": "q2"})
        assert (status, body["error"]) == (409, "illegal_transition")  # not graded any more
        # only q2 is offered again; q3 stays graded
        assert call(grader(), "next_answer", {"question_id": "q3"})[1] == {"answer": None, "remaining": 0}
        again = take_next("q2")
        assert again["copy"]["id"] == copy.public_id and again["answer"]["points"] == "2"
        with django_capture_on_commit_callbacks(execute=True):
            status, body = grade(again, points="4")
        assert status == 200 and body["finalized"] is True
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)
    assert renders == [copy.pk, copy.pk] and published == [copy.pk]
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED and copy.total_points == 7
    assert AuditEvent.objects.filter(action="copy.question_reopened", copy_id_ref=copy.pk).count() == 1
    assert AuditEvent.objects.filter(action="copy.finalized", copy_id_ref=copy.pk).count() == 2


def test_a_released_score_is_withdrawn_by_a_question_reopened_and_published_again(exam, renders,
                                                                                  django_capture_on_commit_callbacks,
                                                                                  monkeypatch):
    sent = []

    def publish(exam, copy, possible):  # the gradebook's side, as results/release.py calls it
        sent.append(("publish", copy.pk))
        copy.published_points = copy.total_points
        Copy.objects.filter(pk=copy.pk).update(published_points=copy.total_points)
        return True

    def withdraw(exam, copy):
        sent.append(("withdraw", copy.pk))
        copy.published_points = None
        Copy.objects.filter(pk=copy.pk).update(published_points=None)
        return True

    monkeypatch.setattr(release, "publish_copy", publish)
    monkeypatch.setattr(release, "withdraw_copy", withdraw)
    copy = helpers.make_copy(exam, "P001")
    with django_capture_on_commit_callbacks(execute=True):
        assert grade(take_next("q2"), points="2")[0] == 200
        assert grade(take_next("q3"), points="3")[0] == 200
    Exam.objects.filter(pk=exam.pk).update(released_at=exam.created_at)
    Copy.objects.filter(pk=copy.pk).update(published_points=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert call(block(), "reopen_question", {"copy_id": copy.public_id, "question_id": "q3"})[0] == 200
        assert grade(take_next("q3"), points="6")[0] == 200
    assert sent == [("withdraw", copy.pk), ("publish", copy.pk)]
    assert Copy.objects.get(pk=copy.pk).published_points == 8


# ------------------------------------------------------------------ dealing and progress

def test_dealing_a_question_to_two_graders_shares_its_answers_and_progress_counts_them(exam, monkeypatch,
                                                                                      django_capture_on_commit_callbacks):
    monkeypatch.setattr(type(block()), "_staff_usernames", lambda self: ["staff_1", "staff_2", "instructor_1"])
    copies = [helpers.make_copy(exam, f"D{index:03d}", username=f"learner_{index}", pages=0) for index in range(5)]
    status, body = call(grader(), "dispatch_questions", {"assignments": {"q2": ["staff_1"]}})
    assert status == 403
    status, body = call(block(), "dispatch_questions", {"assignments": {"q2": ["staff_1", "staff_2"],
                                                                        "q3": ["staff_2"]}})
    assert status == 200, body
    assert body["dealt"] == {"q2": {"staff_1": 3, "staff_2": 2}, "q3": {"staff_2": 5}}
    status, body = call(block(), "dispatch_questions", {"assignments": {"q2": ["staff_9"]}})
    assert (status, body["error"]) == (400, "invalid_request")
    status, body = call(block(), "dispatch_questions", {"assignments": {"nope": ["staff_1"]}})
    assert (status, body["error"]) == (400, "invalid_request")
    claimed = take_next("q2", grader("staff_1"))
    assert Answer.objects.get(copy__public_id=claimed["copy"]["id"], question_id="q2").grader == "staff_1"
    # staff_1 may not open an answer dealt to staff_2
    theirs = Answer.objects.filter(question_id="q2", grader="staff_2").first()
    status, body = call(grader("staff_1"), "open_answer", {"copy_id": theirs.copy.public_id, "question_id": "q2"})
    assert (status, body["error"]) == (403, "forbidden")
    # staff_1 grades their three, then nothing is left for them
    with django_capture_on_commit_callbacks(execute=True):
        for _index in range(3):
            assert grade(take_next("q2", grader("staff_1")), grader("staff_1"), points="1")[0] == 200
    assert call(grader("staff_1"), "next_answer", {"question_id": "q2"})[1] == {"answer": None, "remaining": 0}
    status, body = call(grader("staff_1"), "question_progress", method="GET")
    assert status == 200 and body["mode"] == "by_question" and body["total_copies"] == 5
    rows = {row["id"]: row for row in body["questions"]}
    assert (rows["q2"]["graded"], rows["q2"]["total"], rows["q2"]["mine"], rows["q2"]["assigned"]) == (3, 5, 3, True)
    assert (rows["q3"]["graded"], rows["q3"]["mine"], rows["q3"]["assigned"]) == (0, 0, False)
    assert "graders" not in rows["q2"]
    status, body = call(block(), "question_progress", method="GET")
    rows = {row["id"]: row for row in body["questions"]}
    assert rows["q2"]["graders"] == {"staff_1": {"dealt": 3, "graded": 3}, "staff_2": {"dealt": 2, "graded": 0}}
    assert len(copies) == 5
    assert question_dispatch.progress(exam, INSTRUCTOR)["questions"][1]["graders"] == {
        "staff_2": {"dealt": 5, "graded": 0}}


HOSTILE = [None, True, 1.5, -1, 10 ** 30, "", "x" * 300, "\ud800", "q1", ["q2"], {"id": "q2"}, "1e400", "NaN"]


def test_hostile_values_in_each_field_are_refused_never_a_server_error(exam, monkeypatch):
    monkeypatch.setattr(type(block()), "_staff_usernames", lambda self: ["staff_1", "staff_2", "instructor_1"])
    copy = helpers.make_copy(exam, "H001")
    answer = take_next("q2")
    base = {
        "next_answer": {"question_id": "q2"},
        "open_answer": {"copy_id": copy.public_id, "question_id": "q2", "take_lease": False},
        "renew_answer_lease": {"copy_id": copy.public_id, "question_id": "q2", "token": answer["lease"]["token"]},
        "save_answer": {"copy_id": copy.public_id, "question_id": "q2", "fencing": answer["lease"]["fencing"],
                        "version": 0, "points": "1", "comment": "", "annotations": [], "general_comment": "",
                        "done": False},
        "mark_no_answer": {"copy_id": copy.public_id, "question_id": "q2", "fencing": answer["lease"]["fencing"],
                           "version": 0},
        "skip_answer": {"copy_id": copy.public_id, "question_id": "q3", "token": "nope"},
        "reopen_question": {"copy_id": copy.public_id, "question_id": "q2"},
        "dispatch_questions": {"assignments": {"q2": ["staff_1"]}},
    }
    statuses = set()
    for handler, data in base.items():
        for name in data:
            for value in HOSTILE:
                status, body = call(block(), handler, {**data, name: value})
                assert status < 500, (handler, name, value, body)
                statuses.add(status)
    assert statuses >= {200, 400, 409}
    leases.force_release(copy, INSTRUCTOR, question_id="q2")


def test_a_comment_written_before_the_points_survives_a_reload_and_other_questions_saves(exam):
    copy = helpers.make_copy(exam, "C001")
    on_q2 = take_next("q2")
    status, body = grade(on_q2, points="", comment="Début de preuve", done=False)
    assert status == 200 and body["answer"]["points"] is None
    assert not QuestionPoints.objects.filter(copy=copy, question_id="q2").exists()
    on_q3 = take_next("q3")  # the same grader's other question of the copy, saved since
    assert grade(on_q3, points="1", comment="", done=False)[0] == 200
    status, again = call(grader(), "open_answer", {"copy_id": copy.public_id, "question_id": "q2"})
    assert again["answer"]["answer"]["comment"] == "Début de preuve" and again["answer"]["answer"]["points"] is None
    assert grade(again["answer"], points="2", comment="Début de preuve", done=False)[0] == 200
    assert QuestionPoints.objects.get(copy=copy, question_id="q2").comment == "Début de preuve"
    for question_id, answer in (("q2", on_q2), ("q3", on_q3)):
        leases.release_lease(copy, answer["lease"]["token"], question_id)
