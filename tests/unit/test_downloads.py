"""Graded PDF downloads, learners' page images and signed links, through the LMS-like harness."""
from urllib.parse import parse_qs, urlparse

import pymupdf
import pytest
from django.test import override_settings
from django.utils import timezone

from tests.harness import make_block
from tests.unit.downloads_support import stored_files  # noqa: F401  (fixture)
from tests.unit.downloads_support import PDF, body, graded_copy, learner, release, send
from viatique_xblock import files
from viatique_xblock.models import AuditEvent, Copy, LockoutRecord
from viatique_xblock.platform import storage
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

OTHER_USAGE = "block-v1:Viatique+T101+2026+type@viatique+block@exam2"


@pytest.fixture
def exam():
    block = make_block()
    return block.get_exam()


@pytest.fixture
def copies(exam, stored_files):  # noqa: F811
    return {
        "learner_1": graded_copy(exam, stored_files, "K7Q2", "learner_1", pages=2),
        "learner_2": graded_copy(exam, stored_files, "M3X9", "learner_2"),
    }


def assert_private_pdf(response, name):
    assert response.status_code == 200
    assert response.body == PDF
    assert response.headers["Content-Type"].startswith("application/pdf")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'


def test_instructor_downloads_any_graded_pdf_named_with_the_learner_and_it_is_audited(copies):
    block = make_block()
    response = send(block, "graded_pdf", copies["learner_1"].public_id)
    assert_private_pdf(response, "paper-exam-k7q2-learner_1.pdf")
    event = AuditEvent.objects.get(action="download.graded_pdf")
    assert (event.actor, event.copy_id_ref, event.client_ip) == ("instructor_1", copies["learner_1"].pk, "203.0.113.7")
    assert event.details == {"signed": False}
    assert ("edx.viatique.download.graded_pdf",
            {"exam_id": event.exam_id, "copy_id": copies["learner_1"].pk, "signed": False}) in block.runtime.events


def pdf_text(data):
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        return "".join(page.get_text() for page in doc)


def test_grader_of_an_anonymous_exam_gets_the_code_as_name_and_the_cover_without_the_name(copies):
    response = send(make_block("staff_2", "staff"), "graded_pdf", copies["learner_2"].public_id, query="inline=1")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == 'inline; filename="paper-exam-m3x9.pdf"'
    text = pdf_text(response.body)
    assert "Chloe" not in text and "Answer one" in text
    assert AuditEvent.objects.get(action="download.graded_pdf").actor == "staff_2"


def test_grader_of_a_named_exam_gets_the_pdf_as_it_is(copies):
    block = make_block("staff_2", "staff", fields={"anonymous_grading": False})
    block.sync_exam()  # as showing the block does: the exam row follows the settings
    response = send(block, "graded_pdf", copies["learner_2"].public_id)
    assert_private_pdf(response, "paper-exam-m3x9.pdf")


def test_learner_gets_their_own_graded_pdf_only_after_release(exam, copies):
    own = copies["learner_1"].public_id
    for _attempt in range(6):  # their own copy before release: refused, and never a lockout
        response = send(learner("learner_1"), "graded_pdf", own)
        assert (response.status_code, body(response)["error"]) == (403, "not_released")
    release(exam)
    response = send(learner("learner_1"), "graded_pdf", own, query="inline=1")
    assert response.status_code == 200 and response.body == PDF
    assert response.headers["Content-Disposition"] == 'inline; filename="paper-exam-k7q2.pdf"'
    assert not LockoutRecord.objects.exists()


def test_learner_cannot_download_someone_elses_or_a_missing_copy_and_it_counts(exam, copies):
    release(exam)
    block = learner("learner_1")
    # another's copy, the learner's own copy by its database key (never an id outside the server), junk
    for copy_id in (copies["learner_2"].public_id, copies["learner_1"].pk, "abc"):
        response = send(block, "graded_pdf", str(copy_id))
        assert (response.status_code, body(response)["error"]) == (404, "not_found")
    assert not AuditEvent.objects.filter(action="download.graded_pdf").exists()
    send(block, "graded_pdf", copies["learner_2"].public_id)
    send(block, "graded_pdf", copies["learner_2"].public_id)
    assert send(block, "graded_pdf", copies["learner_1"].public_id).status_code == 429


def test_learner_of_a_copy_being_regraded_gets_no_pdf(exam, copies):
    release(exam)
    copies["learner_1"].grading_state = Grading.REOPENED
    copies["learner_1"].save()
    response = send(learner("learner_1"), "graded_pdf", copies["learner_1"].public_id)
    assert (response.status_code, body(response)["error"]) == (404, "no_graded_pdf")


def test_a_copy_of_another_exam_is_not_found_even_for_its_instructor(copies):
    response = send(make_block(usage=OTHER_USAGE), "graded_pdf", copies["learner_1"].public_id)
    assert (response.status_code, body(response)["error"]) == (404, "not_found")


def test_learner_page_images_own_pages_after_release_only(exam, copies):
    own = copies["learner_1"].pages.order_by("position").first()
    other = copies["learner_2"].pages.first()
    response = send(learner("learner_1"), "learner_page_image", own.public_id)
    assert (response.status_code, body(response)["error"]) == (403, "not_released")
    release(exam)
    response = send(learner("learner_1"), "learner_page_image", own.public_id)
    assert response.status_code == 200 and response.body == stored(own.image_name)  # their cover, as scanned
    assert response.headers["Cache-Control"] == "private, no-store"
    thumb = send(learner("learner_1"), "learner_page_image", f"{own.public_id}/thumb")
    assert thumb.status_code == 200 and thumb.body == stored(own.thumbnail_name)
    response = send(learner("learner_1"), "learner_page_image", other.public_id)
    assert (response.status_code, body(response)["error"]) == (404, "not_found")
    # staff get what page_image gives them
    assert send(make_block("staff_1", "staff"), "learner_page_image", other.public_id).status_code == 200


def stored(name):
    with storage.get_storage().open(name, "rb") as handle:
        return handle.read()


def signed_link(block, copy_id, kind="graded_pdf"):
    response = send(block, "download_url", data={"copy_id": copy_id, "kind": kind}, method="POST")
    return response.status_code, body(response)


def follow(block, url):
    parsed = urlparse(url)
    suffix = parsed.path.rstrip("/").rsplit("/", 1)[1]
    return send(block, "graded_pdf", suffix, query=f"sig={parse_qs(parsed.query)['sig'][0]}")


def test_signed_link_downloads_for_its_user_and_is_audited_as_signed(exam, copies):
    release(exam)
    block = learner("learner_1")
    status, link = signed_link(block, copies["learner_1"].public_id)
    assert status == 200
    assert f"/graded_pdf/{copies['learner_1'].public_id}" in link["url"] and "sig=" in link["url"]
    assert link["expires_at"]
    response = follow(learner("learner_1"), link["url"])
    assert response.status_code == 200 and response.body == PDF
    assert AuditEvent.objects.get(action="download.graded_pdf").details == {"signed": True}


def test_signed_link_refused_to_another_user_on_another_copy_tampered_or_expired(copies):
    _, link = signed_link(make_block("staff_1", "staff"), copies["learner_1"].public_id)
    response = follow(make_block("staff_2", "staff"), link["url"])
    assert (response.status_code, body(response)["error"]) == (403, "bad_signature")
    response = send(make_block("staff_1", "staff"), "graded_pdf", copies["learner_2"].public_id,
                    query=f"sig={parse_qs(urlparse(link['url']).query)['sig'][0]}")
    assert (response.status_code, body(response)["error"]) == (403, "bad_signature")
    response = follow(make_block("staff_1", "staff"), link["url"].replace("sig=", "sig=x"))
    assert (response.status_code, body(response)["error"]) == (403, "bad_signature")
    with override_settings(VIATIQUE={"SIGNED_URL_SECONDS": -1}):  # any age is past the lifetime
        response = follow(make_block("staff_1", "staff"), link["url"])
    assert (response.status_code, body(response)["error"]) == (403, "expired_link")
    assert "expired" in body(response)["message"]
    # three bad links by staff_1 so far: two more lock them out
    for garbage in ("y", "z"):
        response = follow(make_block("staff_1", "staff"), link["url"].replace("sig=", f"sig={garbage}"))
        assert response.status_code == 403
    assert send(make_block("staff_1", "staff"), "graded_pdf", copies["learner_1"].public_id).status_code == 429


def test_no_signed_link_for_a_copy_the_user_may_not_download(exam, copies):
    status, answer = signed_link(learner("learner_1"), copies["learner_1"].public_id)
    assert (status, answer["error"]) == (403, "not_released")
    release(exam)
    status, answer = signed_link(learner("learner_1"), copies["learner_2"].public_id)
    assert (status, answer["error"]) == (404, "not_found")
    status, answer = signed_link(learner("learner_1"), copies["learner_1"].public_id, kind="scan")
    assert (status, answer["error"]) == (400, "invalid_request")


def test_signed_links_can_be_turned_off(copies):
    with override_settings(VIATIQUE={"SIGNED_URLS_ENABLED": False}):
        status, answer = signed_link(make_block(), copies["learner_1"].public_id)
    assert (status, answer["error"]) == (404, "signed_urls_disabled")


def test_download_names_are_safe_in_the_header():
    value = files.content_disposition('Bac "blanc"\r\nX-Evil: 1 é.pdf')
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="Bac _blanc_X-Evil_ 1 e.pdf"; filename*=UTF-8\'\'Bac%20%22')
    assert files.content_disposition("a.pdf", inline=True) == 'inline; filename="a.pdf"'


def test_the_masked_pdf_is_made_once_per_render_and_name_area(copies, exam):
    from viatique_xblock.models import Exam
    from viatique_xblock.results import downloads

    copy = copies["learner_2"]
    grader = make_block("staff_2", "staff")
    store = storage.get_storage()
    made = []
    try:
        first = send(grader, "graded_pdf", copy.public_id)
        assert first.status_code == 200 and "Chloe" not in pdf_text(first.body)
        name = downloads.masked_pdf_name(exam, copy)
        made.append(name)
        assert store.exists(name) and name != copy.graded_pdf_name and "masked12" in name
        stamp = store.get_modified_time(name)
        again = send(grader, "graded_pdf", copy.public_id)
        assert again.body == first.body and store.get_modified_time(name) == stamp  # served, not made again
        # the copy graded again (a new render), or a taller name area: another masked PDF
        Copy.objects.filter(pk=copy.pk).update(graded_at=timezone.now())
        copy.refresh_from_db()
        made.append(downloads.masked_pdf_name(exam, copy))
        Exam.objects.filter(pk=exam.pk).update(name_area_height=30)
        exam.refresh_from_db()
        made.append(downloads.masked_pdf_name(exam, copy))
        assert len(set(made)) == 3 and all(store.exists(each) for each in made)
        # the stored graded PDF itself is untouched
        with store.open(copy.graded_pdf_name, "rb") as handle:
            assert handle.read() == PDF
    finally:
        for each in made:
            if store.exists(each):
                store.delete(each)
