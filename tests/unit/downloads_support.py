"""Helpers of the download and lockout tests: handler calls from a given client address, graded copies
with a stored PDF and page images (files removed by the ``stored_files`` fixture)."""
import io
import json

import pymupdf
import pytest
from django.utils import timezone
from PIL import Image
from webob import Request

from tests.harness import make_block
from viatique_xblock.models import Copy, Exam, Page, ScanBatch
from viatique_xblock.platform import storage
from viatique_xblock.states import Grading, Identity

ADDRESS = "203.0.113.7"


def _graded_pdf():
    """A one-page graded PDF: the learner's name in the cover's top band, an answer below."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((60, 50), "Chloe Dubois", fontsize=14)
    page.insert_text((60, 400), "Answer one", fontsize=14)
    return doc.tobytes()


PDF = _graded_pdf()


def learner(username, **kwargs):
    return make_block(username, "learner", anonymous_id=f"anon-{username}", **kwargs)


def send(block, handler, suffix="", query="", data=None, method="GET", address=ADDRESS, headers=None):
    """Call a handler as the LMS would, from ``address``; returns the webob response."""
    request = Request.blank(f"/handler/{handler}/{suffix}" + (f"?{query}" if query else ""),
                            environ={"REMOTE_ADDR": address}, headers=headers)
    request.method = method
    if method == "POST":
        request.body = json.dumps(data or {}).encode()
        request.content_type = "application/json"
    return block.handle(handler, request, suffix)


def body(response):
    return json.loads(response.body)


class Files:
    """Stored files made by a test, deleted at its end."""

    def __init__(self):
        self.names = []

    def put(self, name, data):
        self.names.append(storage.overwrite(storage.file_name("tests", name), data))
        return self.names[-1]

    def cleanup(self):
        store = storage.get_storage()
        for name in self.names:
            if store.exists(name):
                store.delete(name)


@pytest.fixture
def stored_files():
    files = Files()
    yield files
    files.cleanup()


def jpeg(color="white"):
    out = io.BytesIO()
    Image.new("RGB", (40, 56), color).save(out, "JPEG")
    return out.getvalue()


def graded_copy(exam, files, code, username, state=Grading.GRADED, pages=1):
    """A copy of ``username`` with a stored graded PDF and ``pages`` page images."""
    copy = Copy.objects.create(
        exam=exam, anonymous_code=code, learner_username=username, learner_name=username.title(),
        learner_anonymous_id=f"anon-{username}", identity_state=Identity.IDENTIFIED, grading_state=state,
        grader="staff_1", graded_pdf_name=files.put(f"{code}.pdf", PDF),
    )
    batch, _ = ScanBatch.objects.get_or_create(exam=exam, sha256="0" * 64, defaults={"original_name": "scan.pdf"})
    for position in range(1, pages + 1):
        index = Page.objects.filter(batch=batch).count()
        Page.objects.create(exam=exam, batch=batch, copy=copy, source_index=index, position=position,
                            image_name=files.put(f"{code}-{position}.jpg", jpeg()),
                            thumbnail_name=files.put(f"{code}-{position}-thumb.jpg", jpeg("grey")))
    return copy


def release(exam):
    Exam.objects.filter(pk=exam.pk).update(released_at=timezone.now())
    exam.refresh_from_db()
