"""The exam archive from the dashboard (issue 18 part 2's UI; docs/handlers.md "Exam archive"): instructors
only; an export job queued, built by its (eager) task with its progress and downloaded privately (audited);
an uploaded archive imported by its task into an empty block of another course; refusals (a block with
data, a file that is no archive, an import already waiting) with their stable codes; retention."""
import datetime
import json
import zipfile

import pytest
from django.utils import timezone
from webob import Request

from tests.harness import call, make_block
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from tests.unit.test_archive import SOURCE, TARGET, source  # noqa: F401  (fixture)
from viatique_xblock import exams
from viatique_xblock.models import AuditEvent, Copy, ExportJob, Page, ScanBatch
from viatique_xblock.platform import storage
from viatique_xblock.reports import archive_jobs, exports
from viatique_xblock.states import BatchState

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_EMPTY = "block-v1:Other+C3+2027+type@viatique+block@empty"


def raw_post(block, handler, body):
    request = Request.blank(f"/handler/{handler}/")
    request.method = "POST"
    request.body = body
    request.content_type = "application/zip"
    response = block.handle(handler, request, "")
    return response.status_code, json.loads(response.body or b"null")


def get(block, handler, suffix=""):
    request = Request.blank(f"/handler/{handler}/{suffix}")
    return block.handle(handler, request, suffix)


@pytest.mark.parametrize("role", ["staff", "learner"])
def test_graders_and_learners_are_refused_every_archive_handler(role):
    block = make_block(f"{role}_1", role, usage=OTHER_EMPTY)
    assert call(block, "archive_export", {})[0] == 403
    assert call(block, "archive_status", method="GET")[0] == 403
    assert get(block, "archive_download", "00000000-0000-0000-0000-000000000000").status_code == 403
    status, body = raw_post(block, "archive_import", b"PK\x03\x04")
    assert (status, body["error"]) == (403, "forbidden")
    assert not ExportJob.objects.exists()


def test_an_instructor_exports_the_archive_downloads_it_and_imports_it_into_an_empty_block(source, tmp_path):  # noqa: F811
    instructor = make_block(usage=SOURCE)
    # the exam has data: no import offered, and an upload is refused with its code
    status, body = call(instructor, "archive_status", method="GET")
    assert status == 200 and body == {"archives": [], "importable": False}
    status, body = raw_post(instructor, "archive_import", b"PK\x05\x06" + b"\0" * 18)
    assert (status, body["error"]) == (409, "exam_not_empty") and body["message"]

    status, job = call(instructor, "archive_export", {})
    assert status == 200, job
    assert job["kind"] == "archive"
    files = (ScanBatch.objects.filter(exam=source).count() + Page.objects.filter(exam=source).count()
             + Copy.objects.filter(exam=source).exclude(graded_pdf_name="").count())
    # the task ran eagerly once the request's transaction committed: the job is done with every file counted
    status, job = call(instructor, "archive_status", method="GET", query=f"id={job['id']}")
    assert status == 200 and job["state"] == "done" and job["ready"], job
    assert job["done"] == job["total"] == files
    assert job["report"]["counts"]["copies"] == Copy.objects.filter(exam=source).count()
    status, overview = call(instructor, "archive_status", method="GET")
    assert [item["id"] for item in overview["archives"]] == [job["id"]]
    # the ZIP exports' list does not show archives
    assert call(instructor, "export_status", method="GET")[1] == {"exports": []}

    response = get(instructor, "archive_download", job["id"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "exam-archive-" in response.headers["Content-Disposition"]
    data = b"".join(response.app_iter)
    path = tmp_path / "downloaded.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive_zip:
        manifest = json.loads(archive_zip.read("manifest.json"))
    assert manifest["archive_id"] == job["report"]["archive_id"]
    assert AuditEvent.objects.filter(exam=source, action="archive.downloaded", actor="instructor_1").count() == 1
    assert AuditEvent.objects.filter(exam=source, action="archive.export_requested").count() == 1
    # a ZIP export's id is not an archive's, and the other way round
    assert get(instructor, "export_download", job["id"]).status_code == 404

    target = make_block(usage=TARGET)
    status, body = call(target, "archive_status", method="GET")
    assert body == {"archives": [], "importable": True}
    status, imported = raw_post(target, "archive_import", data)
    assert status == 200, imported
    assert imported["kind"] == "archive_import"
    status, imported = call(target, "archive_status", method="GET", query=f"id={imported['id']}")
    assert imported["state"] == "done", imported
    assert imported["report"]["archive_id"] == manifest["archive_id"]
    stored = [name for name in manifest["files"] if not name.startswith("data/")]
    assert imported["done"] == imported["total"] == len(stored) > 0
    target_exam = exams.exam_for_usage(TARGET)
    assert Copy.objects.filter(exam=target_exam).count() == Copy.objects.filter(exam=source).count()
    # the upload is deleted once imported; the exam now has data: no second import
    job = ExportJob.objects.get(public_id=imported["id"])
    assert job.file_name == ""
    assert not storage.get_storage().exists(archive_jobs.upload_name(job))
    assert call(target, "archive_status", method="GET")[1]["importable"] is False
    status, body = raw_post(target, "archive_import", data)
    assert (status, body["error"]) == (409, "exam_not_empty")
    assert AuditEvent.objects.filter(exam=target_exam, action="archive.import_requested").count() == 1
    assert AuditEvent.objects.filter(exam=target_exam, action="archive.imported").count() == 1


def test_a_file_that_is_no_archive_is_refused_with_its_code_and_the_block_stays_importable():
    target = make_block(usage=OTHER_EMPTY)
    status, body = raw_post(target, "archive_import", b"")
    assert (status, body["error"]) == (400, "invalid_request")
    status, job = raw_post(target, "archive_import", b"this is not a zip")
    assert status == 200
    status, job = call(target, "archive_status", method="GET", query=f"id={job['id']}")
    assert (job["state"], job["error"]) == ("refused", "archive_invalid")
    assert job["message"] == "This file is not an exam archive (not a ZIP file)."
    assert ExportJob.objects.get(public_id=job["id"]).file_name == ""
    status, overview = call(target, "archive_status", method="GET")
    assert overview["importable"] is True and overview["archives"][0]["error"] == "archive_invalid"


def test_an_upload_over_the_setting_is_refused_before_it_is_stored(settings):
    settings.VIATIQUE = {**getattr(settings, "VIATIQUE", {}), "ARCHIVE_IMPORT_MAX_BYTES": 10}
    status, body = raw_post(make_block(usage=OTHER_EMPTY), "archive_import", b"x" * 11)
    assert (status, body["error"], body["limit"]) == (413, "request_too_large", 10)
    assert not ExportJob.objects.exists()


def test_job_states_queued_running_done_and_a_busy_exam_refused(source):  # noqa: F811
    sent = []
    job = archive_jobs.start_export(source, send=sent.append)
    assert sent == [job.pk]
    assert archive_jobs.job_status(job)["state"] == "queued"
    # asked again while it waits: the same job, sent again
    assert archive_jobs.start_export(source, send=sent.append).pk == job.pk and sent == [job.pk, job.pk]
    # a running job's progress is read from the cache (the export writes in one transaction)
    ExportJob.objects.filter(pk=job.pk).update(state="running")
    archive_jobs._set_progress(job.pk, 3, 40)
    status = archive_jobs.job_status(ExportJob.objects.get(pk=job.pk))
    assert (status["state"], status["done"], status["total"], status["ready"]) == ("running", 3, 40, False)
    with pytest.raises(exports.ExportNotReady):
        archive_jobs.download(source, str(job.public_id))
    # another task has it: this one builds nothing; a retry takes it over
    assert archive_jobs.build_archive(job.pk) == ""
    assert archive_jobs.build_archive(job.pk, takeover=True)
    assert archive_jobs.job_status(ExportJob.objects.get(pk=job.pk))["state"] == "done"
    # a failed task's job
    ExportJob.objects.filter(pk=job.pk).update(state="failed", error_message="failed:OSError")
    status = archive_jobs.job_status(ExportJob.objects.get(pk=job.pk))
    assert (status["state"], status["error"]) == ("failed", "archive_job_failed") and status["message"]
    # a scan being processed: refused at once with its code
    ScanBatch.objects.filter(exam=source).update(state=BatchState.PROCESSING)
    status, body = call(make_block(usage=SOURCE), "archive_export", {})
    assert (status, body["error"]) == (409, "archive_exam_busy")


def test_archives_are_purged_with_the_zip_exports(source):  # noqa: F811
    status, job = call(make_block(usage=SOURCE), "archive_export", {})
    row = ExportJob.objects.get(public_id=job["id"])
    assert storage.get_storage().exists(row.file_name)
    ExportJob.objects.filter(pk=row.pk).update(updated_at=timezone.now() - datetime.timedelta(days=8))
    assert exports.purge() == [job["id"]]
    assert not storage.get_storage().exists(row.file_name)
    response = get(make_block(usage=SOURCE), "archive_download", job["id"])
    assert response.status_code == 410
    status, job = call(make_block(usage=SOURCE), "archive_status", method="GET", query=f"id={job['id']}")
    assert job["state"] == "expired" and job["message"] == "This exam archive was deleted after 7 days; export it again."
