"""The whole pipeline with files on S3: a real S3-API server (moto_server, from the test extra) started
for this module, the web side (this Django process) and a Celery worker in separate folders, sharing
nothing but the database, Redis and the bucket.

The worker runs in a mount namespace of its own (``unshare``) where the web side's folders (its
MEDIA_ROOT, its temporary folder, this run's var dir) are empty file systems: it cannot read a file
the web side wrote, so every file it gets comes from S3. The web side hands downloads out as
redirects to presigned S3 URLs (``STORAGE_REDIRECTS``), or streams them from S3.

upload (chunks to S3) -> the worker assembles, validates and splits it (pages to S3) -> prenamed
copies -> a grader grades a copy -> the worker renders its graded PDF (to S3) -> release -> the
instructor's ZIP export built by the worker (to S3) -> the learner downloads the graded PDF.
The bucket is emptied and removed, and the server stopped, at the end.
"""
import collections
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.test import override_settings

from tests.harness import call, upload_in_chunks
from tests.unit import grading_helpers as helpers
from tests.unit.downloads_support import learner, send
from viatique_xblock.models import Copy, ExportJob, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import booklets
from viatique_xblock.states import BatchState, Grading

from .conftest import (
    DEMO_DIR, RUN_TAG, Worker, celery_configured, free_port, group_members, redis_url, reserved_redis_db,
    scratch_dir, stop_process_group, wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = f"viatique-s3-{RUN_TAG}"
NODE = f"viatique-s3-{RUN_TAG}@%h"
BUCKET = f"viatique-test-{RUN_TAG}"
PAGES_PER_TASK = 4
TMP = tempfile.gettempdir()
MOTO_SERVER = Path(sys.executable).with_name("moto_server")
LEARNERS = [Learner("learner_1", "Chloé Dubois", "anon-learner_1"), Learner("learner_2", "Léo Martin", "anon-learner_2")]


class S3Server:
    """moto_server on a free loopback port, with one bucket."""

    def __init__(self, folder):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": self.endpoint, "S3_REGION": "us-east-1",
                    "S3_ACCESS_KEY_ID": "viatique-test", "S3_SECRET_ACCESS_KEY": "viatique-test-secret"}
        self.log_path = folder / "moto.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)], cwd=folder,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                   aws_access_key_id=self.env["S3_ACCESS_KEY_ID"],
                                   aws_secret_access_key=self.env["S3_SECRET_ACCESS_KEY"])

    def wait(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.client.list_buckets()
            except Exception:  # not listening yet
                assert self.process.poll() is None and time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.2)

    def requests(self):
        """The requests the server answered so far, by method (its access log)."""
        log = self.log_path.read_text(errors="replace")  # werkzeug colours a refused request's line
        return collections.Counter(re.findall(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) /', log))

    def keys(self, prefix=""):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def empty_and_stop(self):
        try:
            keys = self.keys()
            for start in range(0, len(keys), 1000):
                self.client.delete_objects(Bucket=BUCKET, Delete={
                    "Objects": [{"Key": key} for key in keys[start:start + 1000]]})
            self.client.delete_bucket(Bucket=BUCKET)
        finally:
            stop_process_group(self.process)
            self.log.close()


@pytest.fixture(scope="module")
def s3():
    with scratch_dir("s3") as folder:
        server = S3Server(folder)
        try:
            server.wait()
            server.client.create_bucket(Bucket=BUCKET)
            yield server
            assert server.client.list_buckets()["Buckets"], "the bucket is still there until the end"
        finally:
            server.empty_and_stop()
        assert server.process.poll() is not None


@pytest.fixture(scope="module")
def broker():
    from viatique_xblock.workers.scanning import process_batch
    app = process_batch.app
    with reserved_redis_db() as db, celery_configured(app, broker_url=redis_url(db), result_backend=None,
                                                      task_always_eager=False):
        yield redis_url(db)


@pytest.fixture
def web(s3, monkeypatch):
    """This process as the web side: its storage the bucket, a MEDIA_ROOT and a temporary folder of its own
    (a file in each that the worker must not see), downloads redirected to presigned URLs."""
    from demo_host.settings import s3_storage

    with scratch_dir("s3-web", parent=TMP) as folder:
        for name in ("media", "tmp"):
            (folder / name).mkdir()
            (folder / name / "web-only.txt").write_text("written by the web side")
        for name, value in s3.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(tempfile, "tempdir", str(folder / "tmp"))
        viatique = {**settings.VIATIQUE, "CELERY_QUEUE": QUEUE, "PAGES_PER_TASK": PAGES_PER_TASK,
                    "UPLOAD_CHUNK_BYTES": 64 * 1024, "STORAGE_REDIRECTS": True,
                    "LOCAL_CACHE_DIR": str(folder / "tmp" / "cache"), "STORAGE": "viatique-s3"}
        # a named storage, as a platform would add one (Django 4.2's override_settings replaces an
        # overridden "default" by its BACKEND alone, without its OPTIONS)
        with override_settings(STORAGES={**settings.STORAGES, "viatique-s3": s3_storage(BUCKET)},
                               MEDIA_ROOT=str(folder / "media"), VIATIQUE=viatique):
            assert type(storages["viatique-s3"]).__name__ == "S3Storage"
            yield folder


@pytest.fixture
def worker(broker, web, s3):
    """A Celery worker in a folder of its own, for which the web side's folders are empty."""
    hidden = [str(web), os.environ["VIATIQUE_VAR_DIR"]]
    mounts = " && ".join(f"mount -t tmpfs -o size=1m none {shlex.quote(path)}" for path in hidden)
    prefix = ["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", mounts + ' && exec "$@"', "sh"]
    with scratch_dir("s3-worker", parent=TMP) as folder:  # not in the web side's temporary folder
        for name in ("var", "tmp"):
            (folder / name).mkdir()
        handle = Worker(broker, folder / "worker.log", QUEUE, NODE, cwd=folder, prefix=prefix, env={
            **s3.env, "VIATIQUE_VAR_DIR": folder / "var", "TMPDIR": folder / "tmp", "PYTHONPATH": DEMO_DIR,
            "VIATIQUE_SETTINGS": json.dumps({"PAGES_PER_TASK": PAGES_PER_TASK}),
        })
        handle.folder = folder
        try:
            yield handle
        finally:
            handle.stop()


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.status, answer.headers, answer.read()


def followed(response):
    """The redirect to a presigned S3 URL a download handler answers, and what that URL serves."""
    assert response.status_code == 302, response.body[:300]
    location = response.headers["Location"]
    assert location.startswith(f"{os.environ['S3_ENDPOINT_URL']}/{BUCKET}/viatique/"), location
    assert "Signature=" in location or "X-Amz-Signature=" in location, location
    assert response.headers["Cache-Control"] == "private, no-store"
    return fetch(location)


def worker_processes(worker):
    """The worker's celery processes (the main one and its pool), not the ``unshare`` wrapper."""
    pids = [pid for pid in group_members(worker.process.pid)
            if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes() and b"unshare" not in
            Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert pids, worker.output()[-2000:]
    return pids


def assert_isolated(worker, web):
    """Seen from inside each worker process: its own folders, none of the web side's files."""
    for pid in worker_processes(worker):
        root = Path(f"/proc/{pid}/root")
        assert os.readlink(f"/proc/{pid}/cwd") == str(worker.folder)
        assert (root / str(worker.folder / "var").lstrip("/")).is_dir()  # the view works: its own folder
        for name in ("media", "tmp"):
            assert (web / name / "web-only.txt").exists()
            assert not (root / str(web / name / "web-only.txt").lstrip("/")).exists()
        assert not any((root / os.environ["VIATIQUE_VAR_DIR"].lstrip("/")).iterdir())


def grade(copy):
    grader = helpers.block("staff_1", "staff")
    status, lease = call(grader, "acquire_lease", {"copy_id": copy.public_id})
    assert status == 200, lease
    first, second = copy.pages.order_by("position").values_list("public_id", flat=True)[:2]
    payload = {"annotations": [helpers.annotation(first, kind="tick", width=0, height=0, question_id="q2", points="3"),
                               helpers.annotation(second, text="Bien vu")],
               "points": {"q2": {"points": "3", "comment": ""}, "q3": {"points": "5", "comment": "Très bien"}},
               "general_comment": "Sérieux"}
    status, saved = call(grader, "save_draft", {"copy_id": copy.public_id, "fencing": lease["fencing"],
                                                "version": 0, "payload": payload})
    assert status == 200, saved
    status, done = call(grader, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
    assert status == 200, done


def test_the_whole_pipeline_runs_on_s3_with_a_worker_that_cannot_read_the_web_sides_files(s3, web, worker):
    instructor = helpers.block()
    exam = instructor.get_exam()
    pdf, _numbers = booklets.print_booklets(exam, learners=LEARNERS, blank_pages=2)
    upload_in_chunks(exam, instructor, synthetic.scan(pdf))
    assert s3.keys("viatique/uploads/"), "the web side put the upload's chunks in the bucket"
    worker.start()

    # the worker assembled the chunks and split the scan, reading and writing only S3
    wait_for(lambda: ScanBatch.objects.filter(exam=exam, state=BatchState.DONE).exists(), 120, worker)
    assert_isolated(worker, web)
    seen = s3.requests()
    pages_done = ScanBatch.objects.get(exam=exam).page_count
    print(f"\n[s3 stack] ingestion of {pages_done} pages: {sum(seen.values())} S3 requests "
          f"({sum(seen.values()) / pages_done:.1f} per page; {dict(sorted(seen.items()))}), upload chunks included")
    copies = {copy.learner_username: copy for copy in Copy.objects.filter(exam=exam)}
    assert sorted(copies) == ["learner_1", "learner_2"]
    batch = ScanBatch.objects.get(exam=exam)
    pages = list(copies["learner_1"].pages.order_by("position"))
    assert len(pages) == 2
    assert batch.file_name in s3.keys("viatique/scans/")
    assert {page.image_name for page in pages} <= set(s3.keys("viatique/pages/"))
    assert not s3.keys("viatique/uploads/"), "the chunks left the bucket"
    # the worker read the scan through a copy of its own (LOCAL_CACHE_DIR: the demo host's var dir)
    cached = list((worker.folder / "var" / "cache").glob("*.pdf"))
    assert cached and cached[0].read_bytes().startswith(b"%PDF-"), [str(p) for p in worker.folder.rglob("*")]

    # a grader's thumbnail, made by the web side from the worker's page image in S3
    status, headers, thumb = followed(send(helpers.block("staff_1", "staff"), "page_image",
                                           suffix=f"{pages[0].public_id}/thumb"))
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and thumb[:2] == b"\xff\xd8"

    # grading: the worker renders the graded PDF into the bucket
    grade(copies["learner_1"])
    wait_for(lambda: Copy.objects.get(pk=copies["learner_1"].pk).grading_state == Grading.GRADED, 120, worker)
    graded = Copy.objects.get(pk=copies["learner_1"].pk)
    assert graded.graded_pdf_name in s3.keys("viatique/graded/")
    status, release = call(instructor, "release_results", {})
    assert status == 200, release

    # the instructor's ZIP, built by the worker into the bucket, downloaded by a presigned URL
    status, job = call(instructor, "export_zip", {})
    assert status == 200, job
    wait_for(lambda: ExportJob.objects.get(public_id=job["id"]).state == "done", 120, worker)
    assert ExportJob.objects.get(public_id=job["id"]).file_name in s3.keys("viatique/exports/")
    status, headers, body = followed(send(instructor, "export_download", suffix=job["id"]))
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        entries = archive.namelist()
        assert len(entries) == 1 and archive.read(entries[0]).startswith(b"%PDF-")

    # the learner's download: a presigned URL after the permission check, or streamed from S3
    response = send(learner("learner_1"), "graded_pdf", suffix=graded.public_id)
    status, headers, body = followed(response)
    assert status == 200 and body.startswith(b"%PDF-") and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert send(learner("learner_2"), "graded_pdf", suffix=graded.public_id).status_code == 404
    with override_settings(VIATIQUE={**settings.VIATIQUE, "STORAGE_REDIRECTS": False}):
        streamed = send(learner("learner_1"), "graded_pdf", suffix=graded.public_id)
    assert streamed.status_code == 200 and streamed.body == body
    # the bucket is private: the object's URL without a signature is refused
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch(f"{s3.endpoint}/{BUCKET}/{graded.graded_pdf_name}")
    assert refused.value.code == 403

    # nothing went to a local folder: the web side's MEDIA_ROOT holds only its own file, the worker's none
    assert [path.name for path in (web / "media").rglob("*")] == ["web-only.txt"]
    assert not (worker.folder / "var" / "media").exists() or not any((worker.folder / "var" / "media").rglob("*"))
    assert_isolated(worker, web)
