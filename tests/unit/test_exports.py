"""Exports: the grades CSV (columns, stable ids, BOM, separators, formula injection, accents, queries)
and the ZIP of graded PDFs (names, only graded copies, progress, idempotence, download), with permissions."""
import csv
import io
import zipfile
from decimal import Decimal

import pytest
from webob import Request

from tests.harness import call, make_block
from viatique_xblock import files
from viatique_xblock.models import AuditEvent, Copy, ExportJob, QuestionPoints
from viatique_xblock.platform import storage
from viatique_xblock.platform.queue import QueueUnavailable
from viatique_xblock.reports import exports
from viatique_xblock.states import Grading, Identity

pytestmark = pytest.mark.django_db

SCHEME = {"questions": [
    {"id": "q1", "label": "Exercice 1 — dérivées", "max": 8, "step": 0.5},
    {"id": "g1", "label": "Partie B", "children": [
        {"id": "q3", "label": "=B2+1", "max": 6, "step": 0.25},
        {"id": "q2", "label": "Question 2b", "max": 6, "step": 1}]},
], "next_id": 4}
FIELDS = {"display_name": "Bac blanc", "marking_scheme": SCHEME, "grade_scale": 10.0}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def instructor(**kwargs):
    return make_block(fields=FIELDS, **kwargs)


def add_copy(exam, code, username="", name="", state=Grading.READY, grader="", points=None, pdf=""):
    copy = Copy.objects.create(
        exam=exam, anonymous_code=code, learner_username=username, learner_name=name,
        learner_anonymous_id=f"anon-{username}" if username else None,
        identity_state=Identity.IDENTIFIED if username else Identity.UNIDENTIFIED,
        grading_state=state, grader=grader, graded_pdf_name=pdf,
        total_points=sum(Decimal(str(value)) for value in points.values()) if points else None,
    )
    for question_id, value in (points or {}).items():
        QuestionPoints.objects.create(copy=copy, question_id=question_id, points=Decimal(str(value)))
    return copy


@pytest.fixture
def graded_exam():
    block = instructor()
    exam = block.get_exam()
    add_copy(exam, "AAAAA", "learner_1", "Chloé Dubois", Grading.GRADED, "staff_1", {"q1": 7.5, "q3": 5.25, "q2": 3})
    add_copy(exam, "CCCCC", "-learner_2", "=HYPERLINK(\"http://evil\")", Grading.IN_PROGRESS, "staff_2",
             {"q1": 2})
    add_copy(exam, "DDDDD")
    return block, exam


def download(block, handler, query=""):
    request = Request.blank(f"/handler/{handler}" + (f"?{query}" if query else ""))
    response = block.handle(handler, request, "")
    return response


def parse(data, delimiter=","):
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_grades_csv_has_one_row_per_copy_and_one_column_per_question_with_stable_ids(graded_exam):
    block, exam = graded_exam
    response = download(block, "grades_csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.content_disposition == 'attachment; filename="grades-bac-blanc.csv"'
    rows = parse(response.body)
    assert rows[0] == ["Code", "Username", "Name", "Identity", "Grading state", "Grader", "Total", "Total on 10",
                       "Exercice 1 — dérivées (q1)", "'=B2+1 (q3)", "Question 2b (q2)"]
    assert rows[1] == ["AAAAA", "learner_1", "Chloé Dubois", "identified", "graded", "staff_1", "15.75", "7.88",
                       "7.5", "5.25", "3"]
    assert rows[2][:3] == ["CCCCC", "'-learner_2", "'=HYPERLINK(\"http://evil\")"]
    assert rows[2][6:] == ["2", "1", "2", "", ""]
    assert rows[3] == ["DDDDD", "", "", "unidentified", "ready", "", "", "", "", "", ""]
    assert len(rows) == 4


def test_a_title_with_accents_keeps_them_in_the_download_name():
    """RFC 6266: the exact name in ``filename*`` (UTF-8, percent-encoded), an unaccented ASCII fallback."""
    name = f"grades-{exports.download_slug('Bac blanc de Mathématiques')}.csv"
    assert name == "grades-bac-blanc-de-mathématiques.csv"
    assert files.content_disposition(name) == (
        'attachment; filename="grades-bac-blanc-de-mathematiques.csv"; '
        "filename*=UTF-8''grades-bac-blanc-de-math%C3%A9matiques.csv")


def test_semicolon_separator_writes_decimal_commas(graded_exam):
    block, _exam = graded_exam
    rows = parse(download(block, "grades_csv", "separator=semicolon").body, delimiter=";")
    assert rows[1][6:] == ["15,75", "7,88", "7,5", "5,25", "3"]
    assert rows[1][2] == "Chloé Dubois"
    status, body = call(block, "grades_csv", method="GET", query="separator=tab")
    assert status == 400 and body["error"] == "invalid_request"


def test_no_cell_read_back_starts_like_a_formula(graded_exam):
    block, exam = graded_exam
    add_copy(exam, "EEEEE", "+33 6 12", "@SUM(A1)\tx", Grading.GRADED, "\rstaff", {"q1": 0})
    for query, delimiter in (("", ","), ("separator=semicolon", ";")):
        rows = parse(download(block, "grades_csv", query).body, delimiter)
        cells = [cell for row in rows for cell in row]
        assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
        assert "'+33 6 12" in cells and "'@SUM(A1)\tx" in cells and "'\rstaff" in cells


def test_grades_csv_is_audited_and_emits_an_event(graded_exam):
    block, exam = graded_exam
    download(block, "grades_csv", "separator=semicolon")
    event = AuditEvent.objects.get(exam=exam, action="export.grades_csv")
    assert event.actor == "instructor_1" and event.details["separator"] == "semicolon"
    assert any(name == "edx.viatique.export.grades_csv" for name, _data in block.runtime.events)


def test_grades_csv_query_count_does_not_grow_with_copies(graded_exam, django_assert_max_num_queries):
    block, exam = graded_exam
    for number in range(120):
        add_copy(exam, f"K{number:04d}", f"learner_{number + 10}", "Nom", Grading.GRADED, "staff_1", {"q1": 1})
    block = instructor()
    with django_assert_max_num_queries(5):  # exam sync, points, rubric items applied, copies, audit insert
        response = download(block, "grades_csv")
    assert len(parse(response.body)) == 124


def test_graders_and_learners_are_refused_every_export(graded_exam):
    for username, role in (("staff_1", "staff"), ("learner_1", "learner")):
        block = make_block(username, role, fields=FIELDS)
        for handler in ("grades_csv", "export_status", "audit_log", "audit_log_csv"):
            status, body = call(block, handler, method="GET")
            assert status == 403 and body["error"] == "forbidden", handler
        status, body = call(block, "export_zip", {"naming": "code"})
        assert status == 403
        status, body = call(block, "export_download", method="GET", suffix="x")
        assert status == 403
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


# ------------------------------------------------------------------------------ ZIP


@pytest.fixture
def stored_pdfs():
    """Graded PDFs in the storage; every file the test wrote (and the ZIPs) removed afterwards."""
    names = []

    def put(name, data):
        names.append(storage.overwrite(storage.file_name("graded", name), data))
        return names[-1]

    yield put
    store = storage.get_storage()
    for job in ExportJob.objects.all():
        names.append(exports.zip_name(job))
    for name in names:
        if store.exists(name):
            store.delete(name)


@pytest.fixture
def zip_exam(stored_pdfs):
    block = instructor()
    exam = block.get_exam()
    add_copy(exam, "AAAAA", "learner_1", "Chloé", Grading.GRADED, pdf=stored_pdfs("a.pdf", b"%PDF-a"))
    add_copy(exam, "CCCCC", "../../etc/passwd", "X", Grading.GRADED, pdf=stored_pdfs("c.pdf", b"%PDF-c"))
    add_copy(exam, "DDDDD", "", "", Grading.GRADED, pdf=stored_pdfs("d.pdf", b"%PDF-d"))
    add_copy(exam, "EEEEE", "learner_5", "Eve", Grading.SUBMITTED, pdf=stored_pdfs("e.pdf", b"%PDF-e"))
    add_copy(exam, "FFFFF", "learner_6", "Fay", Grading.READY)
    return block, exam


def read_zip(name):
    with storage.get_storage().open(name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    return {info.filename: archive.read(info) for info in archive.infolist()}


def test_zip_holds_only_graded_copies_named_by_sanitised_username_or_code(zip_exam, django_capture_on_commit_callbacks):
    block, exam = zip_exam
    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(block, "export_zip", {"naming": "username"})
    assert status == 200, body
    assert body["total"] == 3
    status, job = call(block, "export_status", method="GET", query=f"id={body['id']}")
    assert job["state"] == "done" and job["done"] == job["total"] == 3 and job["ready"]
    stored = ExportJob.objects.get(public_id=body["id"])
    assert read_zip(stored.file_name) == {"learner_1.pdf": b"%PDF-a", "etc_passwd.pdf": b"%PDF-c",
                                          "DDDDD.pdf": b"%PDF-d"}
    assert AuditEvent.objects.get(exam=exam, action="export.zip_requested").details["naming"] == "username"

    response = download(block, "export_download")  # no id
    assert response.status_code == 404
    request = Request.blank(f"/handler/export_download/{body['id']}")
    response = block.handle("export_download", request, body["id"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    assert response.content_disposition == 'attachment; filename="graded-copies-bac-blanc.zip"'
    assert zipfile.ZipFile(io.BytesIO(response.body)).namelist() == ["learner_1.pdf", "etc_passwd.pdf",
                                                                      "DDDDD.pdf"]
    assert AuditEvent.objects.filter(exam=exam, action="export.zip_downloaded").count() == 1


def test_zip_by_code_and_unique_names():
    rows = [(1, "AAAAA", Identity.IDENTIFIED, "ana"), (2, "BBBBB", Identity.UNIDENTIFIED, "ana"),
            (3, "CCCCC", Identity.IDENTIFIED, "Ana"), (4, "DDDDD", Identity.IDENTIFIED, "é")]
    assert exports.member_names(rows, "username") == {1: "ana.pdf", 2: "BBBBB.pdf", 3: "Ana-2.pdf", 4: "copy.pdf"}
    assert exports.member_names(rows, "code") == {1: "AAAAA.pdf", 2: "BBBBB.pdf", 3: "CCCCC.pdf", 4: "DDDDD.pdf"}


def test_zip_task_counts_progress_and_is_idempotent(zip_exam):
    block, exam = zip_exam
    job = exports.start_zip(exam, "code", send=lambda pk: None)
    assert job.state == "queued" and job.total == 3
    name = exports.build_zip(job.pk, progress_every=1)
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.file_name) == ("done", 3, 3, name)
    first = read_zip(name)
    assert sorted(first) == ["AAAAA.pdf", "CCCCC.pdf", "DDDDD.pdf"]
    # a redelivered task leaves the finished job alone
    assert exports.build_zip(job.pk) == name
    # a task redelivered mid-way (its worker died with the job running) writes the same name again,
    # not a second file
    ExportJob.objects.filter(pk=job.pk).update(state="running", done=1)
    assert exports.build_zip(job.pk, takeover=True) == name
    assert read_zip(name) == first


def test_a_job_is_built_by_the_task_that_claims_it(zip_exam):
    """Sent twice (the instructor asked again while it waited), a job is built once: the second task
    finds it running (another task's) or done, and leaves it."""
    _block, exam = zip_exam
    job = exports.start_zip(exam, "code", send=lambda pk: None)
    ExportJob.objects.filter(pk=job.pk).update(state="running")  # the first task claimed it
    assert exports.build_zip(job.pk) == ""
    job.refresh_from_db()
    assert job.state == "running" and job.file_name == ""
    ExportJob.objects.filter(pk=job.pk).update(state="queued")
    name = exports.build_zip(job.pk)
    assert exports.build_zip(job.pk) == name
    assert ExportJob.objects.get(pk=job.pk).state == "done"
    ExportJob.objects.filter(pk=job.pk).update(state="failed")
    assert exports.build_zip(job.pk, takeover=True) == "", "a job that failed for good stays failed"


def test_asking_again_for_a_waiting_export_sends_its_task_again(zip_exam, django_capture_on_commit_callbacks):
    block, exam = zip_exam
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        job = exports.start_zip(exam, "code", send=sent.append)
    again = exports.start_zip(exam, "code", send=sent.append)
    assert again.pk == job.pk and ExportJob.objects.count() == 1
    assert sent == [job.pk, job.pk]
    assert exports.start_zip(exam, "username", send=sent.append).pk != job.pk, "another naming, another ZIP"
    exports.build_zip(job.pk)
    assert exports.start_zip(exam, "code", send=sent.append).pk != job.pk, "once built, a new ZIP"


@pytest.mark.django_db(transaction=True)  # the job commits and its task is sent, as in the LMS (no request transaction)
def test_the_broker_down_at_export_answers_503_and_asking_again_completes(zip_exam, monkeypatch):
    block, exam = zip_exam

    def broker_down(job_pk):
        raise QueueUnavailable()
    monkeypatch.setattr(exports, "send_export", broker_down)
    status, body = call(block, "export_zip", {"naming": "code"})
    assert status == 503 and body["error"] == "queue_unavailable" and body["message"]
    job = ExportJob.objects.get(exam=exam)
    assert job.state == "queued"  # calling again sends it
    status, body = call(block, "export_zip", {"naming": "code"})
    assert status == 503 and ExportJob.objects.count() == 1
    monkeypatch.setattr(exports, "send_export", exports.build_zip)  # the broker is back (the task runs here)
    status, body = call(block, "export_zip", {"naming": "code"})
    assert status == 200 and body["id"] == str(job.public_id) and body["state"] == "done", body
    assert ExportJob.objects.count() == 1
    assert AuditEvent.objects.filter(exam=exam, action="export.zip_requested").count() == 1


def test_zip_progress_moves_as_pdfs_are_written(zip_exam, monkeypatch):
    _block, exam = zip_exam
    job = exports.start_zip(exam, "code", send=lambda pk: None)
    progress = []
    real_open = exports.zipfile.ZipFile.open

    def watching_open(archive, name, mode="r", **kwargs):
        progress.append(ExportJob.objects.get(pk=job.pk).done)
        return real_open(archive, name, mode, **kwargs)

    monkeypatch.setattr(exports.zipfile.ZipFile, "open", watching_open)
    exports.build_zip(job.pk, progress_every=1)
    assert progress == [0, 1, 2]


def test_zip_task_failure_marks_the_job_failed(zip_exam):
    _block, exam = zip_exam
    from viatique_xblock.workers.reports import ExportTask
    job = exports.start_zip(exam, "code", send=lambda pk: None)
    ExportTask().on_failure(RuntimeError("disk full under /srv/edx/media"), "task-id", (job.pk,), {}, None)
    job.refresh_from_db()
    assert job.state == "failed"
    status, body = call(instructor(), "export_status", method="GET", query=f"id={job.public_id}")
    assert body["error"] == "The export failed (RuntimeError); the details are in the server's logs."
    status, body = call(instructor(), "export_download", method="GET", suffix=str(job.public_id))
    assert status == 409 and body["error"] == "export_not_ready"


def test_zip_refused_without_graded_pdfs_or_with_a_bad_naming(zip_exam):
    block, _exam = zip_exam
    status, body = call(block, "export_zip", {"naming": "email"})
    assert status == 400
    empty = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2")
    status, body = call(empty, "export_zip", {"naming": "code"})
    assert status == 409 and body["error"] == "nothing_to_export"


def test_export_jobs_never_cross_exams(zip_exam):
    _block, exam = zip_exam
    job = exports.start_zip(exam, "code", send=lambda pk: None)
    other = make_block(usage="block-v1:Viatique+T101+2026+type@viatique+block@exam2")
    status, body = call(other, "export_status", method="GET", query=f"id={job.public_id}")
    assert status == 404
    status, body = call(other, "export_status", method="GET")
    assert body == {"exports": []}
    status, body = call(other, "export_status", method="GET", query="id=not-a-uuid")
    assert status == 404


def test_zips_older_than_the_retention_are_deleted_and_their_exports_say_so(zip_exam):
    import datetime
    import json

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    block, exam = zip_exam
    old = exports.start_zip(exam, "code", send=lambda pk: None)
    recent = exports.start_zip(exam, "username", send=lambda pk: None)
    old_name, recent_name = exports.build_zip(old.pk), exports.build_zip(recent.pk)
    ExportJob.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=8))
    store = storage.get_storage()

    out = io.StringIO()
    call_command("viatique_purge_exports", "--dry-run", "--json", stdout=out)
    assert json.loads(out.getvalue().splitlines()[-1]) == {"exports": [str(old.public_id)], "deleted": False}
    assert store.exists(old_name)

    out = io.StringIO()
    call_command("viatique_purge_exports", "--json", stdout=out)  # EXPORT_RETENTION_DAYS: 7
    assert json.loads(out.getvalue().splitlines()[-1]) == {"exports": [str(old.public_id)], "deleted": True}
    assert not store.exists(old_name) and store.exists(recent_name)
    old.refresh_from_db()
    assert (old.state, old.file_name) == ("expired", "")
    status, body = call(block, "export_status", method="GET", query=f"id={old.public_id}")
    assert (body["state"], body["ready"]) == ("expired", False)
    assert body["error"] == "This ZIP was deleted after 7 days; build a new one."
    status, body = call(block, "export_download", method="GET", suffix=str(old.public_id))
    assert (status, body["error"]) == (410, "export_expired")
    assert body["message"] == "This ZIP was deleted after 7 days; build a new one."
    request = Request.blank(f"/handler/export_download/{recent.public_id}")
    assert block.handle("export_download", request, str(recent.public_id)).status_code == 200
    # nothing left to purge; a retention of less than a day is refused
    out = io.StringIO()
    call_command("viatique_purge_exports", stdout=out)
    assert out.getvalue().strip() == "Deleted 0 ZIP exports: []"
    with pytest.raises(CommandError):
        call_command("viatique_purge_exports", "--days", "0")
    store.delete(recent_name)
