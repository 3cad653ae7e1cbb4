"""User retirement (issue 18): the platform's retirement signals, as the LMS sends them (tests/lms_retirement.py),
erase a learner's name and username from every row, file name and audit payload of Viatique, and paint over the
name on their scanned cover (page image, scan, graded PDF), while their graded copy and published grade stay.

The exam is the demo's, made by the real pipeline (tests/unit/test_demo_data.py): two prenamed booklets, the first
learner's graded copy released to the LMS-like gradebook (tests/lms_grades.py), a regrade request, a lockout, a
roster CSV's names, derived images and a grader's masked graded PDF."""
import hashlib
import io
import json
import os

import pymupdf
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from PIL import Image, ImageOps

from tests.harness import call, make_block
from tests.lms_grades import exam_in_course, lms_gradebook  # noqa: F401  (fixture)
from tests.lms_retirement import lms_retirement, retired_username_of  # noqa: F401  (fixture)
from viatique_xblock import audit, demo_data
from viatique_xblock.grading import leases
from viatique_xblock.identity import anonymity, desk, retirement
from viatique_xblock.models import (
    AppliedItem, Annotation, AuditEvent, Booklet, Copy, LockoutRecord, Page, QuestionPoints, RegradeRequest,
    RubricItem, RubricRescore, UploadSession,
)
from viatique_xblock.platform import compat, lockout, storage
from viatique_xblock.platform.compat import Learner, ViatiqueUser
from viatique_xblock.results import downloads
from viatique_xblock.scanning import batches
from viatique_xblock.states import Grading

# the scan is processed when the seed's transaction commits, as in the demo host
pytestmark = pytest.mark.django_db(transaction=True)

NAME, USERNAME, EMAIL = "Chloé Dubois", "chloe_d", "chloe.dubois@example.com"
#: what must be found nowhere once the learner is retired (case ignored)
TRACES = ("chloe_d", "chloé", "chloe", "dubois")


def anonymous_id(username):
    """An LMS-like anonymous id: a hash, which says nothing of the username."""
    return hashlib.md5(f"course|{username}".encode()).hexdigest()


LEARNERS = [Learner(username=USERNAME, name=NAME, anonymous_id=anonymous_id(USERNAME), email=EMAIL),
            Learner(username="leo_m", name="Léo Martin", anonymous_id=anonymous_id("leo_m"), email="leo@example.com")]


def learner_block(learner):
    return make_block(learner.username, "learner", fields=demo_data.DEMO_SETTINGS, anonymous_id=learner.anonymous_id)


@pytest.fixture
def course(lms_retirement):
    """The demo exam with two prenamed learners (both graded by the demo's plan) and one anonymous booklet,
    released to the LMS-like gradebook, with everything that names the first learner."""
    gradebook = lms_retirement.gradebook
    instructor = make_block()
    assert demo_data.configure(instructor)
    exam = instructor.get_exam()
    demo_data.seed(exam, LEARNERS, anonymous_names=["Lina Faure"], anonymous=1)
    user = gradebook.learner(LEARNERS[0].anonymous_id, USERNAME)
    user.first_name, user.last_name, user.email = "Chloé", "Dubois", EMAIL
    user.save()
    gradebook.learner(LEARNERS[1].anonymous_id, "leo_m")
    assert call(instructor, "release_results", {})[0] == 200
    learner = learner_block(LEARNERS[0])
    status, _body = call(learner, "request_regrade", {
        "question_id": "q2", "message": "Bonjour, c'est Chloé Dubois (chloe_d) : la conjecture était justifiée."})
    assert status == 200, _body
    request = RegradeRequest.objects.get()
    assert call(make_block("staff_1", "staff", fields=demo_data.DEMO_SETTINGS), "answer_regrade",
                {"id": request.pk, "answer": "Vu avec Chloé : la note reste."})[0] == 200
    # the roster CSV's names, and what an instructor's look at the identity records
    exam.roster_details = {USERNAME: NAME, "leo_m": "Léo Martin"}
    exam.save(update_fields=["roster_details"])
    copy = Copy.objects.get(exam=exam, learner_anonymous_id=LEARNERS[0].anonymous_id)
    audit.record(exam, "copy.identity_revealed", actor=ViatiqueUser(1, "instructor_1", "Marie Curie", "", "instructor"),
                 copy=copy, details={"username": USERNAME, "name": NAME,
                                     "file": f"{USERNAME}-{copy.anonymous_code}.pdf"})
    # the learner probes other copies until locked out (records, audit events with their address)
    me = ViatiqueUser(user.id, USERNAME, NAME, LEARNERS[0].anonymous_id, "learner")
    for _attempt in range(5):
        lockout.count_failure(me, "203.0.113.7", exam.course_key, exam=exam, reason="probe")
    # an anonymous copy held at the identification desk, its note naming her (read on a cover, not matched yet)
    waiting = Copy.objects.filter(exam=exam, identity_state="unidentified").first()
    assert waiting is not None
    desk.hold(exam, str(waiting.public_id), note="Chloé Dubois ? Pas encore dans la liste.", actor="instructor_1")
    # an upload named after the learner, refused
    UploadSession.objects.create(exam=exam, created_by="instructor_1", file_name="copie DUBOIS_Chloe.pdf",
                                 size_bytes=10, chunk_bytes=10, state="refused")
    return {"exam": exam, "instructor": instructor, "copy": copy, "user": user, "gradebook": gradebook,
            "retirement": lms_retirement}


def stored_names():
    store = storage.get_storage()
    names = []
    for folder, _dirs, files in os.walk(store.location):
        names += [os.path.relpath(os.path.join(folder, name), store.location) for name in files]
    return names


def read(name):
    with storage.get_storage().open(name, "rb") as handle:
        return handle.read()


def name_area_pixels(image_bytes, exam):
    """The grey levels of the name area of an upright page image."""
    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    _x0, _y0, _x1, y1 = exam.name_area
    # inside the band, away from its lower edge (JPEG blocks blur the border)
    band = image.crop((4, 4, image.width - 4, int(y1 * image.height) - 8))
    return list(band.tobytes())


def pdf_page_pixels(pdf_bytes, index, exam, turn=0):
    with pymupdf.open(stream=pdf_bytes, filetype="pdf") as doc:
        page = doc[index]
        if turn:
            page.set_rotation((page.rotation + turn) % 360)
        png = page.get_pixmap(dpi=60, colorspace=pymupdf.csGRAY).tobytes("png")
    return name_area_pixels(png, exam)


def blank(pixels):
    """Painted over: one grey (128), give or take JPEG's noise, and no ink."""
    return min(pixels) > 100 and max(pixels) < 156 and abs(sum(pixels) / len(pixels) - 128) < 6


def rows_holding(traces):
    """``[(model, field, value)]`` of every text or JSON value of Viatique's tables that holds one of ``traces``."""
    found = []
    for model in apps.get_app_config("viatique_xblock").get_models():
        kinds = (models.CharField, models.TextField, models.JSONField, models.GenericIPAddressField)
        fields = [field for field in model._meta.concrete_fields if isinstance(field, kinds)]
        for row in model.objects.all():
            for field in fields:
                value = getattr(row, field.attname)
                text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value or "")
                if any(trace in text.casefold() for trace in traces):
                    found.append((model.__name__, field.name, text[:120]))
    return found


def test_the_platform_retirement_erases_the_learner_and_keeps_the_graded_copy_and_its_grade(course):
    exam, copy, user = course["exam"], course["copy"], course["user"]
    cover = Page.objects.get(copy=copy, position=1)
    # before: the name is everywhere, and written in the cover's name area
    assert {model for model, _field, _text in rows_holding(TRACES)} >= {
        "Copy", "Booklet", "Exam", "RegradeRequest", "AuditEvent", "LockoutRecord", "UploadSession"}
    assert not blank(name_area_pixels(read(cover.image_name), exam))
    scan_name = cover.batch.file_name
    assert not blank(pdf_page_pixels(read(scan_name), cover.source_index, exam, cover.rotation))
    assert not blank(pdf_page_pixels(read(copy.graded_pdf_name), 0, exam))
    # what a grader was given: a masked cover and its thumbnail, the cover's thumbnail, a masked graded PDF
    masked_cover = anonymity.masked_image_name(exam, cover)
    cover_thumbnail = batches.thumbnail_name(cover)
    grader_pdf = downloads.masked_pdf_name(exam, copy)
    points = dict(QuestionPoints.objects.filter(copy=copy).values_list("question_id", "points"))
    annotations = Annotation.objects.filter(copy=copy).count()
    published = copy.published_points
    assert published == copy.total_points and published > 0
    subsection = course["gradebook"].subsection(user, [exam_in_course(course["instructor"])])
    assert subsection == (pytest.approx(float(published)), pytest.approx(20.0))

    retired = course["retirement"].retire(user)

    assert retired == retired_username_of(USERNAME)
    # no row, file name or audit payload holds the name, the username or the address
    assert rows_holding(TRACES) == []
    assert rows_holding(("203.0.113.7",)) == []
    assert not [name for name in stored_names() if any(trace in name.casefold() for trace in TRACES)]
    copy = Copy.objects.get(pk=copy.pk)
    assert (copy.learner_username, copy.learner_name) == (retired, retired)
    assert Booklet.objects.get(exam=exam, number=copy.booklet_number).learner_username == retired
    assert exam.__class__.objects.get(pk=exam.pk).roster_details == {retired: retired, "leo_m": "Léo Martin"}
    assert LockoutRecord.objects.get().subject == retired
    request = RegradeRequest.objects.get()
    assert request.message == f"Bonjour, c'est {retired} ({retired}) : la conjecture était justifiée."
    assert request.answer == f"Vu avec {retired} : la note reste."
    assert AuditEvent.objects.filter(actor=retired, action="regrade.requested").exists()
    # the name area is blank in the stored page image, the scan and the graded PDF
    cover = Page.objects.get(pk=cover.pk)
    assert blank(name_area_pixels(read(cover.image_name), exam))
    assert blank(pdf_page_pixels(read(scan_name), cover.source_index, exam, cover.rotation))
    graded = read(copy.graded_pdf_name)
    assert blank(pdf_page_pixels(graded, 0, exam))
    with pymupdf.open(stream=graded, filetype="pdf") as doc:
        text = "".join(page.get_text() for page in doc).casefold()
    assert copy.anonymous_code.casefold() in text and not any(trace in text for trace in TRACES)
    # what was made from the old images is gone (made again from the blank ones when asked for)
    store = storage.get_storage()
    assert not any(store.exists(name) for name in (masked_cover, cover_thumbnail, grader_pdf))
    assert (cover.thumbnail_name, cover.masked_image_name) == ("", "")
    assert blank(name_area_pixels(read(anonymity.masked_image_name(exam, cover)), exam))
    # the rest of the copy and the grade stay
    assert (copy.grading_state, copy.published_points, copy.total_points) == (Grading.GRADED, published, published)
    assert dict(QuestionPoints.objects.filter(copy=copy).values_list("question_id", "points")) == points
    assert Annotation.objects.filter(copy=copy).count() == annotations
    assert course["gradebook"].csm[(user.id, exam.usage_key)] == {"grade": float(published), "max_grade": 20.0}
    assert course["gradebook"].subsection(user, [exam_in_course(course["instructor"])]) == subsection
    # the learner's view, for their account now under the retired username (the platform renamed it)
    viewer = make_block(retired, "learner", fields=demo_data.DEMO_SETTINGS, anonymous_id=LEARNERS[0].anonymous_id)
    status, body = call(viewer, "my_results", method="GET")
    assert status == 200 and body["released"] and body["copy"]["total"] == str(published.normalize())
    # the other learner is untouched
    other = Copy.objects.get(exam=exam, learner_anonymous_id=LEARNERS[1].anonymous_id)
    assert (other.learner_username, other.learner_name) == ("leo_m", "Léo Martin")
    # audited once per exam, without the old name (the second signal found nothing left to change)
    [event] = AuditEvent.objects.filter(action="identity.user_retired")
    assert event.details == {"retired_username": retired, "source": "platform", "copies": 1}
    assert event.actor == ""


def test_the_command_does_the_same_and_a_second_run_changes_nothing(course, capsys):
    exam, copy = course["exam"], course["copy"]
    retired = "retired__user_by_hand"
    call_command("viatique_retire_user", USERNAME, retired, "--json")
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["changed"] and report["retired_username"] == retired
    assert report["files"] == {"graded_pdfs_blanked": 1, "page_images_blanked": 1, "scan_pages_blanked": 1}
    # the audit events that named her, the hold's among them (its note)
    assert report["rows"]["copies_of_the_learner"] == 1 and report["rows"]["audit_events"] == 4
    assert report["rows"]["hold_notes"] == 1
    assert rows_holding(TRACES) == []
    assert blank(name_area_pixels(read(Page.objects.get(copy=copy, position=1).image_name), exam))
    [event] = AuditEvent.objects.filter(action="identity.user_retired")
    assert event.details["source"] == "command"

    call_command("viatique_retire_user", USERNAME, retired, "--json")
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again == {"retired_username": retired, "exams": 0, "rows": {}, "files": {}, "changed": False}
    assert AuditEvent.objects.filter(action="identity.user_retired").count() == 1


def test_a_retired_grader_leaves_no_name_in_work_leases_or_audit(course, capsys):
    exam = course["exam"]
    grader = ViatiqueUser("g1", "staff_1", "Paul Langevin", "", "grader")
    copy = Copy.objects.filter(exam=exam, grader="staff_1").exclude(grading_state=Grading.GRADED).first() or \
        Copy.objects.filter(exam=exam, grader="staff_1").first()
    lease = leases.acquire_lease(copy, grader)
    assert leases.store().get(copy.pk)["name"] == "Paul Langevin"
    audit.record(exam, "copy.finalized", actor=grader, copy=copy, details={"grader_name": "Paul Langevin", "scale": 20})
    assert lease
    # a rubric item they made and applied, and a re-scoring they started
    item = RubricItem.objects.create(exam=exam, question_id="q2", text="Justifiez", created_by="staff_1")
    AppliedItem.objects.create(copy=copy, question_id="q2", item=item, applied_by="staff_1")
    RubricRescore.objects.create(exam=exam, created_by="staff_1")

    call_command("viatique_retire_user", "staff_1", "retired__grader", "--name", "Paul Langevin")
    assert "Retired as retired__grader" in capsys.readouterr().out

    assert rows_holding(("staff_1", "langevin")) == []
    assert leases.store().get(copy.pk) is None
    assert Copy.objects.filter(exam=exam, grader="retired__grader").exists()
    assert QuestionPoints.objects.filter(grader="retired__grader").exists()
    assert Annotation.objects.filter(author="retired__grader").exists()
    assert RubricItem.objects.get(pk=item.pk).created_by == "retired__grader"
    assert AppliedItem.objects.get(item=item).applied_by == "retired__grader"
    assert RubricRescore.objects.get(exam=exam).created_by == "retired__grader"
    assert AuditEvent.objects.filter(action="copy.finalized", actor="retired__grader",
                                     details__grader_name="retired__grader").exists()
    # the learners' copies are not touched
    assert Copy.objects.get(pk=course["copy"].pk).learner_username == USERNAME


# ------------------------------------------------------------------ without the platform, and the eraser alone


@pytest.mark.django_db
def test_outside_the_lms_nothing_is_connected():
    assert compat.connect_retirement(retirement.on_user_retired) is False
    assert retirement.connect() is False


@pytest.mark.django_db
def test_a_username_equal_to_the_retired_one_or_empty_is_refused():
    for username, retired in (("a_user", "a_user"), ("", "retired"), ("a_user", " ")):
        with pytest.raises(retirement.InvalidRetirement):
            retirement.retire(username, retired)


def test_the_eraser_finds_names_in_their_usual_spellings_and_only_whole_words():
    eraser = retirement.Eraser("chloe_d", "R", names=["Chloé Dubois"], emails=["chloe.dubois@example.com"])
    cases = {
        "Chloé Dubois": "R", "DUBOIS Chloé": "R", "dubois_chloe.pdf": "R.pdf", "chloe-dubois": "R",
        "ChloeDubois": "R", "chloe_d": "R", "chloe_d-AB12.pdf": "R-AB12.pdf",
        "mail chloe.dubois@example.com": "mail R",
        "chloe_dd": "chloe_dd", "Chloé Duboiset": "Chloé Duboiset", "Marie Dubois": "Marie Dubois",
    }
    for text, expected in cases.items():
        assert eraser.text(text) == expected, text
    assert eraser.text("Merci Chloé") == "Merci Chloé" and eraser.text("Merci Chloé", loose=True) == "Merci R"
    assert eraser.json({"chloe_d": [1, {"name": "Chloé Dubois", "n": 3}], "other": None}) == \
        {"R": [1, {"name": "R", "n": 3}], "other": None}
