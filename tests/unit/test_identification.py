"""Identification, dispatch and anonymity, through the domain API and the block's handlers."""
import io
import json

import pymupdf
import pytest
from django.test import override_settings
from django.utils import timezone
from webob import Request

from tests.harness import call, make_block
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.identity import desk, dispatch
from viatique_xblock.models import AuditEvent, Copy, Exam, Page, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import batches, booklets
from viatique_xblock.states import Grading, Identity

pytestmark = pytest.mark.django_db

ROSTER = [Learner("learner_1", "Chloé Dubois", "anon-1", "chloe@example.com"),
          Learner("learner_2", "Léo Martin", "anon-2", "leo@example.com"),
          Learner("learner_3", "Élodie Chevalier", "anon-3", "elodie@example.com"),
          Learner("learner_4", "Jules Mercier", "anon-4", "jules@example.com")]
STAFF = [("instructor_1", "Marie Curie"), ("staff_1", "Paul Langevin"), ("staff_2", "Irène Joliot"),
         ("staff_3", "Pierre Auger")]


class Roster:
    """The ``viatique_roster`` service, as the LMS's enrollments would answer."""

    def enrolled(self, course_key):
        return list(ROSTER)

    def staff(self, course_key):
        return list(STAFF)


def block(username="instructor_1", role="instructor", **kwargs):
    made = make_block(username, role, **kwargs)
    made.runtime._services["viatique_roster"] = Roster()
    return made


def copies(exam, count, **fields):
    return [Copy.objects.create(exam=exam, anonymous_code=f"K{index:04d}", **fields) for index in range(count)]


def test_search_ignores_accents_case_and_word_order():
    results = desk.search(ROSTER, "chevalier elo")
    assert results[0]["username"] == "learner_3"
    assert desk.search(ROSTER, "DUBOIS chl")[0]["name"] == "Chloé Dubois"
    assert desk.search(ROSTER, "leo")[0]["username"] == "learner_2"
    assert desk.search(ROSTER, "zzzz") == []
    assert desk.search(ROSTER, "dubois", {"anon-1": "K0001"})[0]["copy"] == "K0001"


def test_one_learner_one_copy_with_swap_and_undo():
    instructor = block()
    exam = instructor.get_exam()
    first, second = copies(exam, 2)
    status, body = call(instructor, "identify", {"copy_id": first.public_id, "username": "learner_1"})
    assert status == 200 and body["progress"] == {"identified": 1, "total": 2}
    status, body = call(instructor, "identify", {"copy_id": second.public_id, "username": "learner_1"})
    assert status == 409 and body["error"] == "learner_taken"
    assert body["holder"] == {"id": first.public_id, "code": first.anonymous_code}
    assert "Chloé Dubois" in body["message"] and first.anonymous_code in body["message"]
    status, body = call(instructor, "identify", {"copy_id": second.public_id, "username": "learner_1", "swap": True})
    assert status == 200
    first.refresh_from_db(), second.refresh_from_db()
    assert (second.learner_username, second.learner_anonymous_id) == ("learner_1", "anon-1")
    assert first.identity_state == Identity.UNIDENTIFIED and first.learner_anonymous_id is None
    status, body = call(instructor, "unidentify", {"copy_id": second.public_id})
    assert status == 200 and body["progress"]["identified"] == 0
    actions = list(AuditEvent.objects.filter(exam=exam).values_list("action", flat=True))
    assert {"copy.identified", "copy.identity_swapped", "copy.unidentified"} <= set(actions)
    status, body = call(instructor, "identify", {"copy_id": first.public_id, "username": "nobody"})
    assert status == 400 and body["error"] == "unknown_learner"


def test_no_identity_change_after_release():
    instructor = block()
    exam = instructor.get_exam()
    (copy,) = copies(exam, 1)
    Exam.objects.filter(pk=exam.pk).update(released_at=timezone.now())
    status, body = call(instructor, "identify", {"copy_id": copy.public_id, "username": "learner_1"})
    assert status == 409 and body["error"] == "results_released"


def test_dispatch_is_balanced_and_never_moves_dealt_or_started_copies():
    instructor = block()
    exam = instructor.get_exam()
    copies(exam, 10)
    status, body = call(instructor, "dispatch", {"graders": ["staff_1", "staff_2", "staff_3"]})
    assert status == 200 and sorted(body["totals"].values()) == [3, 3, 4]
    first_deal = dict(Copy.objects.filter(exam=exam).values_list("pk", "grader"))
    for index in range(5):
        Copy.objects.create(exam=exam, anonymous_code=f"N{index:04d}")
    Copy.objects.filter(pk=list(first_deal)[0]).update(grading_state=Grading.GRADED)
    status, body = call(instructor, "dispatch", {"graders": ["staff_1", "staff_2", "staff_3"]})
    assert sorted(body["totals"].values()) == [5, 5, 5] and sum(body["dealt"].values()) == 5
    assert all(Copy.objects.get(pk=pk).grader == grader for pk, grader in first_deal.items())
    graded = Copy.objects.get(pk=list(first_deal)[0])
    status, body = call(instructor, "assign_copy", {"copy_id": graded.public_id, "grader": "staff_3"})
    assert status == 409 and body["error"] == "copy_started"
    status, body = call(instructor, "dispatch", {"graders": ["learner_1"]})
    assert status == 400 and "not on the course staff" in body["message"]


def test_rebalance_moves_only_copies_nobody_started():
    exam = block().get_exam()
    copies(exam, 6, grader="staff_1")
    started = Copy.objects.filter(exam=exam).order_by("anonymous_code").first()
    Copy.objects.filter(pk=started.pk).update(grading_state=Grading.IN_PROGRESS)
    result = dispatch.rebalance(exam, ["staff_1", "staff_2"], ["staff_1", "staff_2"])
    assert result["totals"] == {"staff_1": 3, "staff_2": 3} and result["moved"] == 3
    assert Copy.objects.get(pk=started.pk).grader == "staff_1"


def scanned_exam(instructor, ingest_names=ROSTER[:2]):
    """An exam with prenamed booklets scanned and imported (copies identified, with covers)."""
    exam = instructor.get_exam()
    pdf, _numbers = booklets.print_booklets(exam, blank_pages=2, learners=list(ingest_names))
    data = synthetic.scan(pdf)
    info = batches.validate_bytes(data)
    # one file per learner is often named after them: graders must not see file names either
    name = f"{ingest_names[0].name}.pdf"
    batch = batches.create_batch(exam, name, info.sha256, info, io.BytesIO(data), send=batches.run_locally)
    batches.process_batch(batch.pk, send=batches.run_locally)
    return exam


def forbidden_strings():
    found = []
    for learner in ROSTER:
        found += [learner.username, learner.name, learner.anonymous_id, learner.email]
        found += learner.name.split()
    return [text for text in found if len(text) > 2]


def grader_calls(grader, exam):
    """Every handler of the block, called by a grader with the ids they could try."""
    copy = Copy.objects.filter(exam=exam).first()
    cover = Page.objects.get(copy=copy, position=1)
    other_page = Page.objects.filter(copy=copy, position=2).first()
    ids = {"copy_id": copy.public_id, "page_id": cover.public_id, "upload_id": "00000000-0000-0000-0000-000000000000",
           "username": "learner_1", "graders": ["staff_1"], "q": "dubois", "grader": "staff_1"}
    handlers = sorted(name for name in dir(type(grader)) if getattr(getattr(type(grader), name), "_is_xblock_handler",
                                                                    False))
    assert len(handlers) >= 20, handlers
    responses = {}
    for name in handlers:
        for method, suffix in (("GET", copy.public_id), ("POST", copy.public_id), ("GET", cover.public_id),
                               ("GET", f"{cover.public_id}/thumb"), ("GET", other_page.public_id)):
            query = "&".join(f"{key}={value}" for key, value in ids.items() if not isinstance(value, list))
            request = Request.blank(f"/?{query}", method=method)
            if method == "POST":
                request.body = json.dumps(ids).encode()
                request.content_type = "application/json"
            response = grader.handle(name, request, suffix)
            responses[(name, method, suffix)] = response
    return responses, cover


# the walk tries ids that are not the grader's on purpose: far more denials than would lock them out
@override_settings(VIATIQUE={"LOCKOUT_USER_FAILURES": 10 ** 6, "LOCKOUT_ADDRESS_FAILURES": 10 ** 6})
def test_a_grader_never_receives_a_learners_identity_from_any_handler():
    instructor = block()
    exam = scanned_exam(instructor)
    assert Copy.objects.filter(exam=exam, identity_state=Identity.IDENTIFIED).count() == 2
    grader = block("staff_1", "staff")
    responses, cover = grader_calls(grader, exam)
    secrets = forbidden_strings()
    for key, response in responses.items():
        body = response.body
        text = body.decode("utf-8", "replace")
        for secret in secrets:
            assert secret not in text, (key, secret)
        for header, value in response.headers.items():
            assert not any(secret in value for secret in secrets), (key, header)
    image = responses[("page_image", "GET", cover.public_id)]
    assert image.status_code == 200 and image.content_type == "image/jpeg"
    pix = pymupdf.Pixmap(image.body)
    band = int(pix.height * exam.name_area_height / 100)
    masked = [pix.pixel(x, y)[0] for x in range(5, pix.width - 5, 23) for y in range(2, band - 2, 7)]
    assert masked and max(masked) - min(masked) <= 6 and abs(sum(masked) / len(masked) - 128) < 4, \
        "the cover's name area is painted over: no stroke of the printed name is left"
    original = batches.storage.get_storage().open(cover.image_name).read()
    raw = pymupdf.Pixmap(original)
    unmasked = [raw.pixel(x, y)[0] for x in range(5, raw.width - 5, 23) for y in range(2, band - 2, 7)]
    assert max(unmasked) - min(unmasked) > 60, "the original cover, kept for instructors, has the name"
    assert instructor.handle("page_image", Request.blank("/"), cover.public_id).body == original


def test_graders_see_names_when_grading_is_not_anonymous():
    instructor = block(fields={"anonymous_grading": False})
    exam = scanned_exam(instructor)
    grader = block("staff_1", "staff", fields={"anonymous_grading": False})
    status, body = call(grader, "list_copies", method="GET")
    assert {row["username"] for row in body["copies"]} == {"learner_1", "learner_2"}
    cover = Page.objects.filter(exam=exam, position=1).first()
    response = grader.handle("page_image", Request.blank("/"), cover.public_id)
    assert response.body == batches.storage.get_storage().open(cover.image_name).read()


def test_reveal_is_for_instructors_and_audited():
    instructor = block()
    exam = instructor.get_exam()
    (copy,) = copies(exam, 1, learner_anonymous_id="anon-1", learner_username="learner_1",
                     learner_name="Chloé Dubois", identity_state=Identity.IDENTIFIED)
    status, body = call(block("staff_1", "staff"), "reveal_identity", {"copy_id": copy.public_id})
    assert status == 403
    status, body = call(instructor, "reveal_identity", {"copy_id": copy.public_id})
    assert status == 200 and body["username"] == "learner_1"
    assert AuditEvent.objects.filter(action="copy.identity_revealed", copy_id_ref=copy.pk).count() == 1


def test_desk_handlers_serve_the_name_area_and_search():
    instructor = block()
    exam = scanned_exam(instructor, ROSTER[:1])
    copy = Copy.objects.get(exam=exam)
    response = instructor.handle("name_area", Request.blank("/"), copy.public_id)
    assert response.status_code == 200 and response.content_type == "image/jpeg"
    crop = pymupdf.Pixmap(response.body)
    assert crop.width == 600 and crop.height < crop.width / 2
    status, body = call(instructor, "roster_search", method="GET", query="q=martin")
    assert body["results"][0]["username"] == "learner_2" and body["progress"] == {"identified": 1, "total": 1}
    status, body = call(instructor, "graders", method="GET")
    assert [row["username"] for row in body["graders"]] == [username for username, _ in STAFF]


def test_skips_are_remembered_per_instructor_until_the_next_scan():
    instructor = block()
    exam = instructor.get_exam()
    first, second, third = copies(exam, 3)
    status, body = call(instructor, "desk_queue", method="GET")
    assert [row["code"] for row in body["copies"]] == ["K0000", "K0001", "K0002"] and body["count"] == 3
    status, body = call(instructor, "desk_skip", {"copy_id": first.public_id})
    assert status == 200 and [row["code"] for row in body["copies"]] == ["K0001", "K0002", "K0000"]
    call(instructor, "desk_skip", {"copy_id": second.public_id})
    # a new request (a reload): the skips are still there, in the order they were made
    status, body = call(block(), "desk_queue", method="GET")
    assert [(row["code"], row["skipped"]) for row in body["copies"]] == [
        ("K0002", False), ("K0000", True), ("K0001", True)]
    # another instructor has their own
    status, body = call(block("instructor_2"), "desk_queue", method="GET")
    assert [row["code"] for row in body["copies"]][0] == "K0000"
    # the next scan brings every copy back in order
    ScanBatch.objects.create(exam=exam, original_name="next.pdf", sha256="0" * 64)
    status, body = call(instructor, "desk_queue", method="GET")
    assert [row["code"] for row in body["copies"]] == ["K0000", "K0001", "K0002"]
    status, body = call(block("staff_1", "staff"), "desk_skip", {"copy_id": first.public_id})
    assert status == 403


def test_a_name_not_on_the_roster_goes_on_the_hold_list():
    instructor = block()
    exam = instructor.get_exam()
    first, second = copies(exam, 2)
    status, body = call(instructor, "hold_copy", {"copy_id": first.public_id, "note": "Anna Pérez, not enrolled"})
    assert status == 200 and [row["code"] for row in body["copies"]] == ["K0001"]
    assert body["held"] == [{"id": first.public_id, "code": "K0000", "note": "Anna Pérez, not enrolled"}]
    assert AuditEvent.objects.get(action="copy.held").details == {"note": "Anna Pérez, not enrolled"}
    # resolved by putting it back on the desk ...
    status, body = call(instructor, "release_hold", {"copy_id": first.public_id})
    assert status == 200 and body["held"] == [] and body["copies"][0]["code"] == "K0000"
    assert AuditEvent.objects.filter(action="copy.hold_released").exists()
    # ... or by matching it (the learner was enrolled meanwhile)
    desk.hold(exam, second.public_id)
    desk.match(exam, second.public_id, ROSTER[0])
    second.refresh_from_db()
    assert not second.on_hold and desk.held(exam) == []
    with pytest.raises(ViatiqueError) as caught:
        desk.hold(exam, second.public_id)
    assert caught.value.code == "already_identified"
