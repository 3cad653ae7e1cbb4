"""Question layout (issue 14): where each question's answer is on a copy, stored in the marking scheme
with the question's stable id; its validation and typed errors; saving it never changes a grade; the
image region served for a question of a copy matches its box, turned upright, masked for graders."""
import io
from decimal import Decimal

import pytest
from PIL import Image, ImageOps
from webob import Request

from tests.harness import call
from tests.unit import downloads_support, grading_helpers as helpers
from tests.unit.downloads_support import stored_files  # noqa: F401  (fixture)
from viatique_xblock import exams, question_layout as layout, scheme
from viatique_xblock.grading import regions, workspace
from viatique_xblock.models import AuditEvent, Copy, Exam, Page, QuestionPoints, ScanBatch
from viatique_xblock.pdf import images as pdf_images
from viatique_xblock.platform import storage
from viatique_xblock.states import Grading

BOX = {"page": 2, "x0": 0.1, "y0": 0.25, "x1": 0.8, "y1": 0.6}


def leaf(**extra):
    return {"id": "q1", "label": "Q1", "max": 4, "step": 1, **extra}


# ------------------------------------------------------------------ validation (no database)

def test_a_layout_is_normalised_and_kept_in_the_scheme_with_its_question():
    checked = scheme.validate({"questions": [leaf(layout={"pages": [3, "2", 2.0], "box": {
        "page": 2, "x0": "0.123456", "y0": 0, "x1": 1, "y1": 0.5}})], "next_id": 2}, pages_per_copy=4)
    assert checked["questions"][0]["layout"] == {
        "pages": [2, 3], "box": {"page": 2, "x0": 0.1235, "y0": 0.0, "x1": 1.0, "y1": 0.5}}


def test_no_layout_or_an_empty_one_is_the_whole_copy():
    checked = scheme.validate({"questions": [leaf(), leaf(id="q2", layout={}), leaf(id="q3", layout=None)]})
    assert all("layout" not in node for node in checked["questions"])
    assert layout.effective(None, 3) == {"pages": [1, 2, 3], "box": None, "whole_copy": True}
    assert layout.effective({"pages": [2], "box": BOX}, 3) == {"pages": [2], "box": BOX, "whole_copy": False}


@pytest.mark.parametrize(("raw", "code"), [
    ({"pages": [5]}, "layout_page_out_of_range"),
    ({"pages": [0]}, "layout_page_out_of_range"),
    ({"pages": [1], "box": dict(BOX, page=2)}, "layout_page_out_of_range"),
    ({"pages": [2], "box": dict(BOX, x1=1.2)}, "layout_box_outside"),
    ({"pages": [2], "box": dict(BOX, y0=-0.1)}, "layout_box_outside"),
    ({"pages": [2], "box": dict(BOX, x1=0.1)}, "layout_box_empty"),
    ({"pages": [2], "box": dict(BOX, y0=0.7)}, "layout_box_empty"),
    ({"pages": [2], "box": dict(BOX, y1=0.255)}, "layout_box_empty"),
    ({"pages": []}, "invalid_layout"),
    ({"pages": ["two"]}, "invalid_layout"),
    ({"pages": [True]}, "invalid_layout"),
    ({"pages": [2], "box": dict(BOX, x0="NaN")}, "invalid_layout"),
    ({"pages": [2], "box": [0, 0, 1, 1]}, "invalid_layout"),
    ("page 2", "invalid_layout"),
])
def test_a_faulty_layout_is_refused_with_its_code_on_its_question(raw, code):
    with pytest.raises(scheme.SchemeError) as caught:
        scheme.validate({"questions": [leaf(), leaf(id="q2", layout=raw)]}, pages_per_copy=4)
    (problem,) = caught.value.problems
    assert (problem["path"], problem["field"], problem["code"]) == ("2", "layout", code)
    with pytest.raises(layout.LayoutError) as single:
        layout.validate(raw, 4, "q2")
    assert single.value.code == code and single.value.as_json()["question_id"] == "q2"


def test_the_settings_check_layouts_against_the_pages_per_copy_sent_with_them():
    settings = {"display_name": "Exam", "pages_per_copy": 2, "grade_scale": 0, "regrade_window_days": 0,
                "marking_scheme": {"questions": [leaf(layout={"pages": [3]})]}}
    with pytest.raises(exams.InvalidSettings) as caught:
        exams.validate_settings(settings)
    assert [(p["path"], p["field"], p["code"]) for p in caught.value.problems] == [
        ("marking_scheme.1", "layout", "layout_page_out_of_range")]
    values = exams.validate_settings(dict(settings, pages_per_copy=3))
    assert values["marking_scheme"]["questions"][0]["layout"] == {"pages": [3]}


def test_with_layouts_changes_only_the_layouts_and_refuses_unknown_questions_and_groups():
    original = helpers.SCHEME
    changed = layout.with_layouts(original, {"q2": {"pages": [2], "box": BOX}}, 2)
    assert changed["questions"][0]["children"][0] == {**original["questions"][0]["children"][0],
                                                      "layout": {"pages": [2], "box": BOX}}
    assert changed["questions"][1] == original["questions"][1] and changed["next_id"] == original["next_id"]
    assert "layout" not in original["questions"][0]["children"][0], "the scheme given is not changed"
    assert layout.with_layouts(changed, {"q2": None}, 2) == original
    for unknown in ("q9", "q1"):  # q1 is a group: its sub-questions have the layouts
        with pytest.raises(layout.UnknownQuestion) as caught:
            layout.with_layouts(original, {unknown: {"pages": [1]}}, 2)
        assert caught.value.code == "unknown_question"
    with pytest.raises(layout.PageOutOfRange):
        layout.with_layouts(original, {"q2": {"pages": [3]}}, 2)


# ------------------------------------------------------------------ saving (database)

pytestmark_db = pytest.mark.django_db


@pytest.fixture
def exam():
    made = helpers.exam()
    yield made
    ScanBatch.objects.filter(exam=made, file_name="").delete()  # graded_copy's, which has no scan file
    helpers.remove_files(made)


@pytestmark_db
def test_moving_a_box_never_changes_grades(exam):
    graded = helpers.make_copy(exam, "A001", grader="staff_1", state=Grading.GRADED)
    QuestionPoints.objects.create(copy=graded, question_id="q2", points=Decimal("3.5"), comment="Bien")
    QuestionPoints.objects.create(copy=graded, question_id="q3", points=Decimal("5"))
    Copy.objects.filter(pk=graded.pk).update(total_points=Decimal("8.5"))
    before = (list(QuestionPoints.objects.filter(copy=graded).values_list("question_id", "points", "comment")),
              list(Copy.objects.filter(pk=graded.pk).values_list("total_points", "grading_state", "graded_at", "published_points")))
    instructor = helpers.block()
    for box in (BOX, dict(BOX, x0=0.3, y1=0.9), None):
        status, body = call(instructor, "save_question_layout",
                            {"layouts": {"q2": {"pages": [2], "box": box} if box else None}})
        assert status == 200, body
        after = (list(QuestionPoints.objects.filter(copy=graded).values_list("question_id", "points", "comment")),
                 list(Copy.objects.filter(pk=graded.pk).values_list("total_points", "grading_state", "graded_at", "published_points")))
        assert after == before
    # the same through the Studio editor's save: the scheme with a moved box
    moved = layout.with_layouts(helpers.SCHEME, {"q2": {"pages": [1, 2], "box": dict(BOX, page=1)}}, 2)
    status, body = call(instructor, "studio_submit", {
        "display_name": "Bac blanc", "pages_per_copy": 2, "grade_scale": 20, "regrade_window_days": 7,
        "name_area_height": 12, "anonymous_grading": True, "marking_scheme": moved})
    assert status == 200, body
    assert Exam.objects.get(pk=exam.pk).scheme["questions"][0]["children"][0]["layout"]["box"]["page"] == 1
    assert (list(QuestionPoints.objects.filter(copy=graded).values_list("question_id", "points", "comment")),
            list(Copy.objects.filter(pk=graded.pk).values_list("total_points", "grading_state", "graded_at", "published_points"))) == before


@pytestmark_db
def test_the_dashboard_saves_layouts_into_the_block_and_the_exam_row(exam):
    instructor = helpers.block()
    exam.pages_per_copy = 2
    exam.save()
    status, body = call(instructor, "save_question_layout", {"layouts": {"q3": {"pages": [2], "box": BOX}}})
    assert status == 200, body
    rows = {row["id"]: row["layout"] for row in body["questions"]}
    assert rows == {"q2": {"pages": [1, 2], "box": None, "whole_copy": True},
                    "q3": {"pages": [2], "box": BOX, "whole_copy": False}}
    assert instructor.marking_scheme["questions"][1]["layout"] == {"pages": [2], "box": BOX}
    assert layout.layouts(Exam.objects.get(pk=exam.pk).scheme)["q3"] == {"pages": [2], "box": BOX}
    assert AuditEvent.objects.filter(exam=exam, action="layout.saved").count() == 1
    # the workspace's questions carry the layout, for graders
    assert workspace.questions(Exam.objects.get(pk=exam.pk))[1]["layout"]["box"] == BOX


@pytestmark_db
@pytest.mark.parametrize(("layouts", "status", "code"), [
    ({"q9": {"pages": [1]}}, 400, "unknown_question"),
    ({"q3": {"pages": [7]}}, 400, "layout_page_out_of_range"),
    ({"q3": {"pages": [1], "box": dict(BOX, page=1, x1=2)}}, 400, "layout_box_outside"),
    ({"q3": {"pages": [1], "box": dict(BOX, page=1, x1=0.1)}}, 400, "layout_box_empty"),
    ([1, 2], 400, "invalid_layout"),
])
def test_a_refused_layout_changes_nothing(exam, layouts, status, code):
    instructor = helpers.block()
    before = Exam.objects.get(pk=exam.pk).scheme
    answer = call(instructor, "save_question_layout", {"layouts": layouts})
    assert (answer[0], answer[1]["error"]) == (status, code)
    assert Exam.objects.get(pk=exam.pk).scheme == before and instructor.marking_scheme == helpers.SCHEME


@pytestmark_db
def test_graders_cannot_save_layouts(exam):
    status, body = call(helpers.block("staff_1", "staff"), "save_question_layout", {"layouts": {"q3": None}})
    assert (status, body["error"]) == (403, "forbidden")


# ------------------------------------------------------------------ the region served

def position_image(width=300, height=420):
    """An upright page whose every 16-pixel cell has its own colour (so that a crop a cell off, or turned,
    differs in most pixels; cells large enough for JPEG to keep their colour)."""
    image = Image.new("RGB", (width, height))
    pixels = image.load()
    for x in range(width):
        for y in range(height):
            cx, cy = x // 16, y // 16
            pixels[x, y] = ((cx * 73 + cy * 151) % 256, (cx * 29 + cy * 97) % 256, (cx * 53 + cy * 11) % 256)
    return image


def stored_sideways(upright):
    """The upright page stored as scanners store a page turned a quarter: the pixels turned, and an Exif
    orientation (6) that turns them back, as the scan pipeline's passed-through JPEGs are."""
    raw = upright.transpose(Image.Transpose.ROTATE_90)  # Exif 6 turns this back clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    raw.save(out, "JPEG", quality=95, exif=exif)
    data = out.getvalue()
    assert ImageOps.exif_transpose(Image.open(io.BytesIO(data))).size == upright.size
    return data


def mean_difference(one, other):
    assert one.size == other.size
    first, second = one.convert("RGB").tobytes(), other.convert("RGB").tobytes()
    return sum(abs(a - b) for a, b in zip(first, second)) / len(first)


@pytest.fixture
def scanned(exam):
    """A copy of two pages whose images are stored turned sideways (Exif orientation 6)."""
    copy = helpers.make_copy(exam, "B002")
    upright = position_image()
    data = stored_sideways(upright)
    for page in Page.objects.filter(copy=copy):
        name = storage.overwrite(storage.file_name("pages", exam.pk, f"test-{page.pk}.jpg"), data)
        Page.objects.filter(pk=page.pk).update(image_name=name)
    # what the stored image shows once upright (JPEG changed its colours a little, not its geometry)
    yield copy, ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    store = storage.get_storage()
    for page in Page.objects.filter(copy=copy):
        for name in (page.image_name, page.masked_image_name):
            if name and store.exists(name):
                store.delete(name)
    folder = storage.file_name("pages", exam.pk)
    if store.exists(folder):
        for batch_dir in store.listdir(folder)[0]:
            for name in store.listdir(f"{folder}/{batch_dir}")[1]:
                store.delete(f"{folder}/{batch_dir}/{name}")


def served(block, copy, question_id, query=""):
    request = Request.blank(f"/handler/question_region/{copy.public_id}/{question_id}" + (f"?{query}" if query else ""))
    return block.handle("question_region", request, f"{copy.public_id}/{question_id}")


@pytestmark_db
def test_the_region_served_is_the_box_of_the_upright_page(exam, scanned):
    copy, upright = scanned
    instructor = helpers.block()
    assert call(instructor, "save_question_layout", {"layouts": {"q3": {"pages": [2], "box": BOX}}})[0] == 200
    response = served(instructor, copy, "q3")
    assert response.status_code == 200 and response.content_type == "image/jpeg"
    assert response.headers["Cache-Control"].startswith("private")
    region = Image.open(io.BytesIO(response.body))
    left, top, right, bottom = pdf_images.pixel_box(upright.width, upright.height,
                                                   [BOX[key] for key in layout.BOX_KEYS])
    assert (left, top, right, bottom) == (30, 105, 240, 252)
    assert region.size == (right - left, bottom - top)
    expected = upright.crop((left, top, right, bottom))
    assert mean_difference(region, expected) < 10
    # the same size a little off, or the page as stored (not turned), would not match
    assert mean_difference(region, upright.crop((left + 16, top, right + 16, bottom))) > 30
    sideways = Image.open(io.BytesIO(storage.get_storage().open(Page.objects.get(copy=copy, position=2).image_name)
                                     .read()))
    assert sideways.size != upright.size
    # stored once: the second request serves the same file
    assert served(instructor, copy, "q3").body == response.body
    # a moved box: a new region
    moved = dict(BOX, x0=0.5)
    assert call(instructor, "save_question_layout", {"layouts": {"q3": {"pages": [2], "box": moved}}})[0] == 200
    again = Image.open(io.BytesIO(served(instructor, copy, "q3").body))
    box = pdf_images.pixel_box(upright.width, upright.height, [moved[key] for key in layout.BOX_KEYS])
    assert mean_difference(again, upright.crop(box)) < 10


@pytestmark_db
def test_without_a_box_the_region_is_the_page_and_a_missing_page_is_said(exam, scanned):
    copy, _upright = scanned
    grader = helpers.block("staff_1", "staff")
    stored = storage.get_storage().open(Page.objects.get(copy=copy, position=2).image_name).read()
    instructor = helpers.block()
    assert call(instructor, "save_question_layout", {"layouts": {"q3": {"pages": [2]}}})[0] == 200
    assert served(grader, copy, "q3").body == stored
    assert served(grader, copy, "q3", "page=1").status_code == 400  # not one of the question's pages
    Page.objects.filter(copy=copy, position=2).update(discarded=True)
    response = served(grader, copy, "q3")
    assert response.status_code == 404 and response.json["error"] == "question_page_missing"
    assert response.json["page"] == 2
    assert served(grader, copy, "q9").json["error"] == "unknown_question"
    assert served(helpers.block("learner_1", "learner"), copy, "q2").status_code == 403


@pytestmark_db
def test_a_box_over_the_name_area_stays_masked_for_graders(exam, scanned):
    copy, upright = scanned
    instructor = helpers.block()
    over = {"page": 1, "x0": 0.0, "y0": 0.0, "x1": 1.0, "y1": 0.4}
    assert call(instructor, "save_question_layout", {"layouts": {"q2": {"pages": [1], "box": over}}})[0] == 200
    region = Image.open(io.BytesIO(served(helpers.block("staff_1", "staff"), copy, "q2").body)).convert("RGB")
    band = round(upright.height * exam.name_area_height / 100)
    assert region.size == (upright.width, round(upright.height * 0.4))
    masked = [region.getpixel((x, y)) for x in range(3, region.width - 3, 17) for y in range(2, band - 2, 7)]
    assert all(abs(value - 128) < 8 for pixel in masked for value in pixel), "the name area is painted over"
    below = region.crop((0, band + 2, region.width, region.height))
    assert mean_difference(below, upright.crop((0, band + 2, upright.width, region.height))) < 10
    # instructors see the page as scanned
    mine = Image.open(io.BytesIO(served(instructor, copy, "q2").body))
    assert mean_difference(mine, upright.crop((0, 0, upright.width, region.height))) < 10


@pytestmark_db
def test_the_reference_page_is_a_page_of_a_copy(exam, scanned):
    copy, _upright = scanned
    status, body = call(helpers.block(), "question_layout", method="GET", query="page=2")
    assert status == 200
    assert body["reference"] == {"page": 2, "page_id": Page.objects.get(copy=copy, position=2).public_id}
    assert regions.reference_page(exam, helpers.INSTRUCTOR, 5) is None


@pytestmark_db
def test_learners_are_not_told_where_answers_are(exam, stored_files):
    assert call(helpers.block(), "save_question_layout", {"layouts": {"q3": {"pages": [1], "box": dict(BOX, page=1)}}})[0] \
        == 200
    downloads_support.graded_copy(exam, stored_files, "C003", "learner_1")
    downloads_support.release(exam)
    status, body = call(downloads_support.learner("learner_1", fields=helpers.FIELDS), "my_results", method="GET")
    assert status == 200 and [question["id"] for question in body["questions"]] == ["q2", "q3"]
    assert all("layout" not in question for question in body["questions"])
