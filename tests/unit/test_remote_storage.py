"""Files through the storage API only, never a local path (S3: the worker does not see the web server's
disk): the whole pipeline on a storage without ``path()``; the copies of stored scans that PDF work reads
on this machine (one per machine and version, within a budget); downloads redirected to the storage's
signed URL after the permission check (``STORAGE_REDIRECTS``), or streamed."""
import io
import os
import time
import zipfile
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.harness import call, make_block, upload_in_chunks
from tests.unit import grading_helpers as helpers
from tests.unit.downloads_support import graded_copy, learner, release, send, stored_files  # noqa: F401
from tests.unit.remote_storage import remote_storage, signing_storage  # noqa: F401  (fixtures)
from viatique_xblock.identity import retirement
from viatique_xblock.models import Copy, ExportJob, Page, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.platform import checks, storage
from viatique_xblock.platform.compat import Learner
from viatique_xblock.results import downloads
from viatique_xblock.scanning import booklets
from viatique_xblock.states import BatchState, Grading

pytestmark = pytest.mark.django_db

LEARNERS = [Learner("learner_1", "Chloé Dubois", "anon-learner_1"), Learner("learner_2", "Léo Martin", "anon-learner_2")]
TARGET = "block-v1:Viatique+T101+2026+type@viatique+block@exam2"


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def cached_copies():
    folder = storage.cache_dir()
    return sorted(name for name in os.listdir(folder) if not name.startswith(".")) if os.path.isdir(folder) else []


# ------------------------------------------------------------------ copies on this machine


def test_a_stored_file_is_copied_to_this_machine_once_per_version(remote_storage):  # noqa: F811
    name = storage.overwrite(storage.file_name("scans", 1, "scan.pdf"), b"%PDF-first")
    with storage.local_file(name) as first:
        assert read(first) == b"%PDF-first"
    with storage.local_file(name) as again:
        assert read(again) == b"%PDF-first"
    assert not os.path.exists(first) and not os.path.exists(again), "the path handed out goes after use"
    assert remote_storage.opened[name] == 1 and len(cached_copies()) == 1
    storage.overwrite(name, b"%PDF-second, rewritten in place")  # as retirement rewrites a scan
    with storage.local_file(name) as changed:
        assert read(changed) == b"%PDF-second, rewritten in place"
    assert remote_storage.opened[name] == 2


def test_processes_starting_on_one_file_together_make_one_copy_of_it(remote_storage, monkeypatch):  # noqa: F811
    """The worker processes that start on a new scan at once (its first ranges) wait for one copy instead of
    each downloading their own (a lock per copy, on this machine); all of them read the whole file."""
    import threading

    name = storage.overwrite(storage.file_name("scans", 1, "scan.pdf"), b"%PDF-" + b"x" * 100_000)
    downloads_made = []
    real_download = storage._download

    def slow_download(store, stored, target):
        downloads_made.append(stored)
        time.sleep(0.3)  # long enough for the others to find no copy yet
        real_download(store, stored, target)
    monkeypatch.setattr(storage, "_download", slow_download)
    contents, errors = [], []

    def use():
        try:
            with storage.local_file(name) as path:
                contents.append(read(path))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
    threads = [threading.Thread(target=use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and contents == [b"%PDF-" + b"x" * 100_000] * 3
    assert downloads_made == [name] and len(cached_copies()) == 1


def test_a_file_of_a_storage_on_this_file_system_is_linked_not_copied(settings, tmp_path, monkeypatch):
    """A storage that is a folder of this machine (Django's FileSystemStorage, Tutor's default) on the cache's
    file system: the cached copy is a hard link to the stored file (the same inode, nothing copied), which
    keeps the version it was made of when the file is replaced; on another file system, a copy."""
    settings.STORAGES = {**settings.STORAGES, "viatique-local": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}}}
    settings.VIATIQUE = {**settings.VIATIQUE, "STORAGE": "viatique-local", "LOCAL_CACHE_DIR": str(tmp_path / "cache")}
    store = storage.get_storage()
    name = storage.overwrite(storage.file_name("scans", 1, "scan.pdf"), b"%PDF-first")
    with storage.local_file(name) as path:
        assert read(path) == b"%PDF-first" and os.stat(path).st_ino == os.stat(store.path(name)).st_ino
    kept = os.path.join(storage.cache_dir(), cached_copies()[0])
    time.sleep(0.05)  # a new modification time: a new version
    storage.overwrite(name, b"%PDF-second")  # replaced by a new file: the link keeps the first
    assert read(kept) == b"%PDF-first"
    with storage.local_file(name) as path:
        assert read(path) == b"%PDF-second"

    def cross_device(source, target):
        raise OSError(18, "Invalid cross-device link")
    monkeypatch.setattr(storage.os, "link", cross_device)
    settings.VIATIQUE = {**settings.VIATIQUE, "LOCAL_CACHE_BYTES": 0}  # a temporary copy, no cache link either
    with storage.local_file(name) as path:
        assert read(path) == b"%PDF-second" and os.stat(path).st_ino != os.stat(store.path(name)).st_ino


def test_without_a_budget_each_use_gets_a_temporary_copy_removed_after_use(remote_storage, settings):  # noqa: F811
    settings.VIATIQUE = {**settings.VIATIQUE, "LOCAL_CACHE_BYTES": 0}
    name = storage.overwrite(storage.file_name("scans", 1, "scan.pdf"), b"%PDF-data")
    for expected_opens in (1, 2):
        with storage.local_file(name) as path:
            assert read(path) == b"%PDF-data"
        assert not os.path.exists(path)
        assert remote_storage.opened[name] == expected_opens
    assert cached_copies() == []


def test_copies_beyond_the_budget_go_least_recently_used_first(remote_storage, settings):  # noqa: F811
    settings.VIATIQUE = {**settings.VIATIQUE, "LOCAL_CACHE_BYTES": 250}
    names = [storage.overwrite(storage.file_name("scans", 1, f"{index}.pdf"), bytes([index]) * 100)
             for index in range(3)]
    for name in names:
        with storage.local_file(name):
            pass
        time.sleep(0.05)  # file times are coarser than a loop turn
    assert len(cached_copies()) == 2
    for name in names[1:]:  # the two used last are kept
        with storage.local_file(name) as path:
            assert read(path) == bytes([names.index(name)]) * 100
        time.sleep(0.05)
    assert [remote_storage.opened[name] for name in names] == [1, 1, 1]
    with storage.local_file(names[0]):
        pass
    assert remote_storage.opened[names[0]] == 2 and len(cached_copies()) == 2


def test_a_file_left_by_a_killed_process_is_removed_once_stale(remote_storage, settings):  # noqa: F811
    name = storage.overwrite(storage.file_name("scans", 1, "scan.pdf"), b"%PDF-data")
    os.makedirs(storage.cache_dir(), exist_ok=True)
    stale, recent = (os.path.join(storage.cache_dir(), f".{which}.pdf.part") for which in ("stale", "recent"))
    for path in (stale, recent):
        with open(path, "wb") as handle:
            handle.write(b"half")
    old = time.time() - 3 * settings.VIATIQUE.get("TASK_TIME_LIMIT", 900)
    os.utime(stale, (old, old))
    with storage.local_file(name):
        pass
    assert not os.path.exists(stale) and os.path.exists(recent)


def test_a_storage_that_replaces_files_in_place_is_written_without_asking_first(remote_storage, settings):  # noqa: F811
    settings.STORAGES = {**settings.STORAGES, "viatique-remote": {
        "BACKEND": "tests.unit.remote_storage.OverwritingRemoteStorage"}}
    store = storage.get_storage()
    name = storage.file_name("pages", 1, "00001-page.jpg")
    assert storage.overwrite(name, b"first") == name and storage.overwrite(name, b"second") == name
    assert store.asked == 0 and store.open(name).read() == b"second"
    _dirs, files = store.listdir(storage.file_name("pages", 1))
    assert files == ["00001-page.jpg"]


# ------------------------------------------------------------------ the pipeline without local paths


def grade(copy):
    grader = helpers.block("staff_1", "staff")
    status, lease = call(grader, "acquire_lease", {"copy_id": copy.public_id})
    assert status == 200, lease
    first = copy.pages.order_by("position").values_list("public_id", flat=True)[0]
    payload = {"annotations": [helpers.annotation(first, text="Bien vu")],
               "points": {"q2": {"points": "3", "comment": ""}, "q3": {"points": "5", "comment": ""}},
               "general_comment": "Sérieux"}
    assert call(grader, "save_draft", {"copy_id": copy.public_id, "fencing": lease["fencing"], "version": 0,
                                       "payload": payload})[0] == 200
    status, done = call(grader, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    assert status == 200, done


def test_the_whole_pipeline_runs_on_a_storage_without_local_paths(
        remote_storage, settings, django_capture_on_commit_callbacks):  # noqa: F811
    settings.VIATIQUE = {**settings.VIATIQUE, "UPLOAD_CHUNK_BYTES": 64 * 1024, "PAGES_PER_TASK": 3}
    instructor = helpers.block()
    exam = instructor.get_exam()
    pdf, _numbers = booklets.print_booklets(exam, learners=LEARNERS, blank_pages=2)
    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in the unit tests
        upload_in_chunks(exam, instructor, synthetic.scan(pdf))
    batch = ScanBatch.objects.get(exam=exam)
    assert batch.state == BatchState.DONE and remote_storage.exists(batch.file_name)
    copy = Copy.objects.get(exam=exam, learner_username="learner_1")
    cover = copy.pages.get(position=1)
    assert remote_storage.exists(cover.image_name)

    thumb = send(helpers.block("staff_1", "staff"), "page_image", suffix=f"{cover.public_id}/thumb")
    assert thumb.status_code == 200 and thumb.body[:2] == b"\xff\xd8"

    with django_capture_on_commit_callbacks(execute=True):
        grade(copy)
    copy.refresh_from_db()
    assert copy.grading_state == Grading.GRADED, copy.render_error
    assert remote_storage.open(copy.graded_pdf_name).read(5) == b"%PDF-"
    masked = downloads.masked_pdf_name(exam, copy)  # the graders' copy without the name area
    assert remote_storage.open(masked).read(5) == b"%PDF-"

    assert call(instructor, "release_results", {})[0] == 200
    pdf_download = send(learner("learner_1"), "graded_pdf", suffix=copy.public_id)
    assert pdf_download.status_code == 200 and pdf_download.body.startswith(b"%PDF-")

    with django_capture_on_commit_callbacks(execute=True):
        status, job = call(instructor, "export_zip", {})
    assert status == 200 and ExportJob.objects.get(public_id=job["id"]).state == "done"
    with zipfile.ZipFile(io.BytesIO(send(instructor, "export_download", suffix=job["id"]).body)) as archive:
        assert [archive.read(entry)[:5] for entry in archive.namelist()] == [b"%PDF-"]

    with django_capture_on_commit_callbacks(execute=True):
        status, job = call(instructor, "archive_export", {})
    assert status == 200 and ExportJob.objects.get(public_id=job["id"]).state == "done", job
    exam_archive = send(instructor, "archive_download", suffix=job["id"]).body
    target = make_block(usage=TARGET, fields=helpers.FIELDS).get_exam()
    from viatique_xblock.reports import archive_jobs
    with django_capture_on_commit_callbacks(execute=True):
        imported = archive_jobs.start_import(target, exam_archive)
    imported.refresh_from_db()
    assert imported.state == "done", imported.error_message
    for page in Page.objects.filter(exam=target):
        assert remote_storage.exists(page.image_name)

    report = retirement.retire("learner_1", "retired__learner_1").as_json()
    assert report["files"]["page_images_blanked"] >= 1 and report["files"]["graded_pdfs_blanked"] >= 1
    assert report["files"]["scan_pages_blanked"] >= 1


# ------------------------------------------------------------------ downloads: signed URL or streamed


def test_downloads_redirect_to_the_storages_signed_url_after_the_permission_check(
        signing_storage, settings, stored_files):  # noqa: F811
    settings.VIATIQUE = {**settings.VIATIQUE, "STORAGE_REDIRECTS": True, "SIGNED_URL_SECONDS": 120}
    exam = make_block().get_exam()
    copy = graded_copy(exam, stored_files, "AAA1", "learner_1")
    release(exam)
    response = send(learner("learner_1"), "graded_pdf", suffix=copy.public_id)
    assert response.status_code == 302 and response.headers["Cache-Control"] == "private, no-store"
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert unquote(location.path) == f"/bucket/{copy.graded_pdf_name}"
    assert query["X-Amz-Expires"] == ["120"] and query["ResponseContentType"] == ["application/pdf"]
    assert query["ResponseContentDisposition"][0].startswith('attachment; filename="')
    assert query["ResponseCacheControl"] == ["private, no-store"]
    refused = send(learner("learner_2"), "graded_pdf", suffix=copy.public_id)
    assert refused.status_code == 404 and "Location" not in refused.headers
    page = copy.pages.first()
    image = send(learner("learner_1"), "learner_page_image", suffix=page.public_id)
    assert image.status_code == 302 and parse_qs(urlsplit(image.headers["Location"]).query)["ResponseContentType"] == [
        "image/jpeg"]
    assert checks.check_storage_redirects() == []


def test_a_storage_that_does_not_sign_its_urls_is_streamed_and_the_check_says_so(
        remote_storage, settings, stored_files):  # noqa: F811
    settings.VIATIQUE = {**settings.VIATIQUE, "STORAGE_REDIRECTS": True}
    exam = make_block().get_exam()
    copy = graded_copy(exam, stored_files, "AAA1", "learner_1")
    release(exam)
    response = send(learner("learner_1"), "graded_pdf", suffix=copy.public_id)
    assert response.status_code == 200 and response.body.startswith(b"%PDF-")
    assert [warning.id for warning in checks.check_storage_redirects()] == ["viatique.W002"]
    settings.VIATIQUE = {**settings.VIATIQUE, "STORAGE_REDIRECTS": False}
    assert checks.check_storage_redirects() == []


def test_only_a_storage_that_signs_its_urls_is_redirected_to():
    class Store:
        querystring_auth = True
        custom_domain = None

    signing = Store()
    assert storage.signs_urls(signing)
    signing.custom_domain = "cdn.example"  # an unsigned public domain
    assert not storage.signs_urls(signing)
    signing.cloudfront_signer = object()  # CloudFront signs them again
    assert storage.signs_urls(signing)
    signing.querystring_auth = False
    assert not storage.signs_urls(signing)
    assert not storage.signs_urls(object())  # a file system storage
