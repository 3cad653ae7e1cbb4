"""The exam archive (issue 18, part 2; docs/archive.md): an exam exported and imported into an empty block of
another course gives the same copies, learner views, totals, grades CSV and page image bytes; the archive's
manifest checks every file; importing twice, into a block with data, or a damaged archive is refused with a
stable code and leaves nothing behind.

The exam is the demo's, made by the real pipeline (12 booklets, 3 graded copies), released to the LMS-like
gradebook, with a regrade request, a comment bank entry and a copy identified to a username the target
platform does not know. Learners are the demo host's roster (its ``viatique_roster`` service), whose
anonymous ids differ from one course to the other."""
import hashlib
import json
import os
import zipfile
from decimal import Decimal

import pytest

from tests.harness import call, make_block
from tests.lms_grades import lms_gradebook  # noqa: F401  (fixture)
from viatique_xblock import demo_data, exams, question_layout, signals
from viatique_xblock.grading import copies as copy_list, rendering, workspace
from viatique_xblock.models import (
    AppliedItem, AuditEvent, Copy, Exam, Page, QuestionPoints, RegradeRequest, RubricGroup, RubricItem, ScanBatch,
)
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import ViatiqueUser
from viatique_xblock.reports import archive, exports
from viatique_xblock.results import downloads, learner as learner_results, release
from viatique_xblock.states import BatchState, Grading, Identity

from demo_host.services import DemoRosterService

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = "block-v1:Viatique+T101+2026+type@viatique+block@exam1"
TARGET = "block-v1:Other+C2+2027+type@viatique+block@moved"
INSTRUCTOR = ViatiqueUser(1, "instructor_1", "Marie Curie", "", "instructor")
SCALE, WINDOW = demo_data.DEMO_SETTINGS["grade_scale"], 7
GHOST = "ghost_learner"


def roster(course_key):
    return DemoRosterService().enrolled(course_key)


@pytest.fixture
def source(lms_gradebook):
    instructor = make_block(usage=SOURCE)
    assert demo_data.configure(instructor)
    exam = instructor.get_exam()
    learners = {learner.username: learner for learner in roster(exam.course_key)}
    demo_data.seed(exam, [learners[f"learner_{n}"] for n in range(1, 11)],
                   anonymous_names=[learners["learner_11"].name, learners["learner_12"].name])
    # an anonymous copy identified to a learner the target platform will not know
    ghost = Copy.objects.filter(exam=exam, identity_state=Identity.UNIDENTIFIED).order_by("anonymous_code").first()
    Copy.objects.filter(pk=ghost.pk).update(identity_state=Identity.IDENTIFIED, learner_username=GHOST,
                                            learner_name="Ghost Learner", learner_anonymous_id="anon-ghost")
    for username in ("learner_1", "learner_2", "learner_3"):
        lms_gradebook.learner(learners[username].anonymous_id, username)
    workspace.add_bank_comment(exam, INSTRUCTOR, "Rédaction soignée", question_id="q4", points="0.5")
    # the bank's comment is a rubric item: in a "pick one" group, applied to a graded copy before the results are
    # released, as grading does (its points unchanged: the adjustment makes up the rest)
    item = RubricItem.objects.get(exam=exam, text="Rédaction soignée")
    item.group = RubricGroup.objects.create(exam=exam, question_id="q4", label="Forme", pick_one=True)
    item.save()
    graded = Copy.objects.filter(exam=exam, grading_state=Grading.GRADED).order_by("anonymous_code").first()
    AppliedItem.objects.create(copy=graded, question_id="q4", item=item, applied_by="staff_1")
    row = QuestionPoints.objects.get(copy=graded, question_id="q4")
    QuestionPoints.objects.filter(pk=row.pk).update(adjustment=row.points - item.points)
    assert call(instructor, "release_results", {})[0] == 200
    learner = make_block("learner_1", "learner", usage=SOURCE, fields=demo_data.DEMO_SETTINGS,
                         anonymous_id=learners["learner_1"].anonymous_id)
    status, body = call(learner, "request_regrade", {"question_id": "q3", "message": "L'initialisation y est."})
    assert status == 200, body
    return Exam.objects.get(pk=exam.pk)


def export(exam, tmp_path, name="exam.zip"):
    path = tmp_path / name
    manifest = archive.export_exam(exam, str(path))
    return path, manifest


def target_exam():
    return exams.exam_for_usage(TARGET)


def copy_rows(exam):
    """The instructor's copy list, without the ids each instance gives."""
    rows = copy_list.list_copies(exam, INSTRUCTOR, limit=500)["copies"]
    return [{key: value for key, value in row.items() if key != "id"} for row in rows]


def learner_view(exam, username):
    """What the learner sees, with the ids each instance gives replaced by their order."""
    learner = next(item for item in roster(exam.course_key) if item.username == username)
    viewer = ViatiqueUser(username, username, learner.name, learner.anonymous_id, "learner")
    body = learner_results.results(exam, viewer, scale=SCALE, window_days=WINDOW)
    if "copy" not in body:
        return body
    pages = {page["id"]: number for number, page in enumerate(body["pages"])}
    body["copy"]["id"] = "copy"
    for page in body["pages"]:
        page["id"] = pages[page["id"]]
    for item in body["annotations"]:
        item["page_id"] = pages[item["page_id"]]
    for number, item in enumerate(body["regrade"]["requests"]):
        item["id"] = number
    return body


def page_bytes(exam):
    """``{(copy code, position or source index): image bytes}`` of every page of the exam."""
    store = storage.get_storage()
    found = {}
    for page in Page.objects.filter(exam=exam).select_related("copy"):
        key = (page.copy.anonymous_code if page.copy else None, page.position, page.source_index)
        with store.open(page.image_name, "rb") as handle:
            found[key] = handle.read()
    return found


def graded_pdfs(exam):
    store = storage.get_storage()
    found = {}
    for copy in Copy.objects.filter(exam=exam).exclude(graded_pdf_name=""):
        with store.open(copy.graded_pdf_name, "rb") as handle:
            found[copy.anonymous_code] = handle.read()
    return found


def grades_csv(exam):
    return list(exports.grade_rows(exam, grade_scale=SCALE))


def stored_under(exam):
    """Every stored file of an exam (scans, pages, graded PDFs)."""
    root = storage.get_storage().location
    found = []
    for folder in ("scans", "pages", "graded"):
        path = os.path.join(root, storage.file_name(folder, exam.pk))
        for dirpath, _dirs, files in os.walk(path):
            found += [os.path.join(dirpath, name) for name in files]
    return found


def test_an_exported_exam_imports_into_another_course_as_it_was(source, tmp_path, lms_gradebook):
    path, manifest = export(source, tmp_path)

    # the manifest: format, schema version, counts, and a checksum of every file that is in the ZIP
    assert (manifest["format"], manifest["schema_version"]) == ("viatique-exam-archive", 1)
    assert manifest["counts"]["copies"] == 12
    assert manifest["counts"]["pages"] == Page.objects.filter(exam=source).count()
    assert manifest["missing_files"] == []
    with zipfile.ZipFile(path) as zipped:
        names = set(zipped.namelist())
        assert names == set(manifest["files"]) | {"manifest.json"}
        for name, expected in manifest["files"].items():
            data = zipped.read(name)
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (expected["sha256"], expected["bytes"]), name
        assert json.loads(zipped.read("manifest.json"))["archive_id"] == manifest["archive_id"]
        # the scans as uploaded, byte for byte
        [batch] = ScanBatch.objects.filter(exam=source)
        with storage.get_storage().open(batch.file_name, "rb") as handle:
            assert zipped.read(f"scans/{batch.pk}.pdf") == handle.read()

    # learner_1 and learner_2 are users of the target platform, under new anonymous ids (another course)
    target = target_exam()
    assert target.course_key == "course-v1:Other+C2+2027"
    target_learners = {learner.username: learner for learner in roster(target.course_key)}
    users = {name: lms_gradebook.learner(target_learners[name].anonymous_id, f"{name}-target")
             for name in ("learner_1", "learner_2")}
    report = archive.import_exam(target, str(path))

    assert report["archive_id"] == manifest["archive_id"] and report["counts"] == manifest["counts"]
    assert report["unknown_learners"] == [GHOST]  # kept, listed
    assert report["unknown_staff"] == []
    assert report["published"] == {"sent": 3, "delivered": 2, "not_sent": 0}
    assert report["block_settings"] is False  # no course content to write to outside the LMS and the workbench
    target = Exam.objects.get(pk=target.pk)
    assert (target.title, target.scheme, target.released_at) == (source.title, source.scheme, source.released_at)
    # the questions' layouts (where each answer is) come with the scheme, with their question ids
    assert question_layout.layouts(target.scheme)["q3"] == {
        "pages": [1, 2], "box": {"page": 2, "x0": 0.04, "y0": 0.04, "x1": 0.96, "y1": 0.5}}

    # the same copy list, totals, learner views, grades CSV, page image bytes and graded PDFs
    assert copy_rows(target) == copy_rows(source)
    assert sorted(Copy.objects.filter(exam=target).values_list("anonymous_code", "total_points", "published_points")) \
        == sorted(Copy.objects.filter(exam=source).values_list("anonymous_code", "total_points", "published_points"))
    for number in range(1, 13):
        assert learner_view(target, f"learner_{number}") == learner_view(source, f"learner_{number}")
    assert learner_view(target, "learner_1")["released"]
    assert learner_view(target, "learner_1")["regrade"]["requests"][0]["message"] == "L'initialisation y est."
    assert grades_csv(target) == grades_csv(source)
    assert page_bytes(target) == page_bytes(source)
    assert graded_pdfs(target) == graded_pdfs(source) and len(graded_pdfs(target)) == 3
    # the learners are the target's: their new anonymous ids, their grades in its gradebook
    mine = Copy.objects.get(exam=target, learner_username="learner_1")
    assert mine.learner_anonymous_id == target_learners["learner_1"].anonymous_id
    assert lms_gradebook.csm[(users["learner_1"].id, TARGET)] == {"grade": float(mine.total_points), "max_grade": 20.0}
    ghost = Copy.objects.get(exam=target, learner_username=GHOST)
    assert (ghost.identity_state, ghost.learner_name, ghost.learner_anonymous_id) == (
        Identity.IDENTIFIED, "Ghost Learner", None)
    # work, comment bank, regrade requests and audit events came along, with their times
    assert QuestionPoints.objects.filter(copy__exam=target).count() == QuestionPoints.objects.filter(
        copy__exam=source).count()
    assert list(RubricItem.objects.filter(exam=target).values_list("text", "points", "created_at")) == list(
        RubricItem.objects.filter(exam=source).values_list("text", "points", "created_at"))
    # the rubric's groups, where its items are applied, and the adjustments
    applied = ("copy__anonymous_code", "question_id", "item__text", "item__group__label", "item__group__pick_one",
               "applied_by")
    assert list(AppliedItem.objects.filter(copy__exam=target).values_list(*applied)) == list(
        AppliedItem.objects.filter(copy__exam=source).values_list(*applied)) != []
    adjustments = ("copy__anonymous_code", "question_id", "points", "adjustment")
    assert sorted(QuestionPoints.objects.filter(copy__exam=target).values_list(*adjustments)) == sorted(
        QuestionPoints.objects.filter(copy__exam=source).values_list(*adjustments))
    assert list(RegradeRequest.objects.filter(copy__exam=target).values_list("message", "state", "created_at")) == \
        list(RegradeRequest.objects.filter(copy__exam=source).values_list("message", "state", "created_at"))
    imported = list(AuditEvent.objects.filter(exam=target).exclude(action__in=["archive.imported"])
                    .exclude(action__startswith="results.score").order_by("created_at", "id")
                    .values_list("action", "actor", "created_at"))
    assert imported == list(AuditEvent.objects.filter(exam=source).order_by("created_at", "id")
                            .values_list("action", "actor", "created_at"))
    [event] = AuditEvent.objects.filter(exam=target, action="archive.imported")
    assert event.details["archive_id"] == manifest["archive_id"]
    # the copies' events point to the target's copies
    finalized = AuditEvent.objects.filter(exam=target, action="copy.graded").exclude(copy_id_ref=None)
    assert finalized.exists() and set(finalized.values_list("copy_id_ref", flat=True)) <= set(
        Copy.objects.filter(exam=target).values_list("pk", flat=True))

    # importing the same archive again, or into a block that has data, is refused and changes nothing
    before = (Copy.objects.count(), Page.objects.count(), AuditEvent.objects.count())
    with pytest.raises(archive.AlreadyImported) as refused:
        archive.import_exam(target, str(path))
    assert refused.value.code == "archive_already_imported"
    with pytest.raises(archive.ExamNotEmpty) as refused:
        archive.import_exam(source, str(path))
    assert refused.value.code == "exam_not_empty"
    assert (Copy.objects.count(), Page.objects.count(), AuditEvent.objects.count()) == before


def rewrite(path, out, change):
    """A copy of the archive ``path`` at ``out`` with ``change(name, data) -> data`` applied to its files."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info.filename)))
    return out


def test_a_damaged_archive_is_refused_and_leaves_no_row_and_no_file(source, tmp_path):
    path, manifest = export(source, tmp_path)
    page_name = next(name for name in manifest["files"] if name.startswith("pages/"))
    damaged = rewrite(path, tmp_path / "damaged.zip",
                      lambda name, data: data[:-1] + bytes([data[-1] ^ 1]) if name == page_name else data)
    target = target_exam()
    with pytest.raises(archive.CorruptArchive) as refused:
        archive.import_exam(target, str(damaged))
    assert refused.value.code == "archive_corrupt" and page_name in refused.value.message
    assert not Copy.objects.filter(exam=target).exists() and not ScanBatch.objects.filter(exam=target).exists()
    assert not AuditEvent.objects.filter(exam=target).exists()
    assert stored_under(target) == []
    assert Exam.objects.get(pk=target.pk).title == ""  # the settings are rolled back too

    # then the good archive imports into the same block
    assert archive.import_exam(target, str(path))["counts"]["copies"] == 12


def test_other_files_and_versions_are_refused_with_their_codes(source, tmp_path):
    path, _manifest = export(source, tmp_path)
    target = target_exam()
    newer = rewrite(path, tmp_path / "newer.zip", lambda name, data: json.dumps(
        {**json.loads(data), "schema_version": 2}).encode() if name == "manifest.json" else data)
    with pytest.raises(archive.UnsupportedVersion) as refused:
        archive.import_exam(target, str(newer))
    assert refused.value.code == "archive_unsupported_version"
    not_zip = tmp_path / "scan.pdf"
    not_zip.write_bytes(b"%PDF-1.7 not an archive")
    with pytest.raises(archive.ArchiveError) as refused:
        archive.import_exam(target, str(not_zip))
    assert refused.value.code == "archive_invalid"
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zipped:
        zipped.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(archive.ArchiveError):
        archive.import_exam(target, str(other))
    assert not Copy.objects.filter(exam=target).exists()


def resigned(path, out, name, change):
    """A copy of the archive with the JSON file ``name`` changed by ``change(value) -> value`` and the manifest's
    checksum of it made to match (an archive whose files are intact but whose rows do not hold together)."""
    with zipfile.ZipFile(path) as source:
        data = json.dumps(change(json.loads(source.read(name)))).encode()
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return rewrite(path, out, lambda entry, value: data if entry == name else
                   json.dumps(manifest).encode() if entry == "manifest.json" else value)


def test_rows_that_do_not_hold_together_are_refused_and_leave_nothing(source, tmp_path):
    path, _manifest = export(source, tmp_path)
    target = target_exam()

    def orphan(pages):
        pages[0]["copy"] = 987654321  # a copy the archive does not have
        return pages

    def twice(copies):
        return copies + [copies[0]]  # the same anonymous code twice in one exam

    for number, (name, change) in enumerate((("data/pages.json", orphan), ("data/copies.json", twice))):
        broken = resigned(path, tmp_path / f"broken-{number}.zip", name, change)
        with pytest.raises(archive.CorruptArchive) as refused:
            archive.import_exam(target, str(broken))
        assert refused.value.code == "archive_corrupt", name
        assert not Copy.objects.filter(exam=target).exists() and stored_under(target) == [], name


def test_an_exam_whose_scan_is_being_processed_is_not_exported(source, tmp_path):
    ScanBatch.objects.filter(exam=source).update(state=BatchState.PROCESSING)
    with pytest.raises(archive.ExamBusy) as refused:
        export(source, tmp_path)
    assert refused.value.code == "archive_exam_busy"
    assert list(tmp_path.iterdir()) == []  # no archive, no partial file


def test_the_commands_export_and_import_and_refuse_with_the_code(source, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    out = tmp_path / "exam.zip"
    call_command("viatique_export_exam", "--block", SOURCE, str(out), "--json")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["counts"]["copies"] == 12 and summary["bytes"] == out.stat().st_size
    call_command("viatique_import_exam", "--block", TARGET, str(out))
    printed = capsys.readouterr().out
    assert "12 copies" in printed and GHOST in printed and "set them in Studio" in printed
    with pytest.raises(CommandError, match="^archive_already_imported: "):
        call_command("viatique_import_exam", "--block", TARGET, str(out))
    with pytest.raises(CommandError, match="^not_found: "):
        call_command("viatique_export_exam", "--block", "block-v1:No+Such+Block+type@viatique+block@x",
                     str(tmp_path / "none.zip"))


def test_the_archive_format_is_documented():
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "archive.md"), encoding="utf-8").read()
    for name in archive.TABLES:
        assert f"data/{name}.json" in text, name
    for code in ("archive_invalid", "archive_unsupported_version", "archive_corrupt", "archive_already_imported",
                 "exam_not_empty", "archive_exam_busy"):
        assert f"`{code}`" in text, code
    assert f"schema_version\": {archive.SCHEMA_VERSION}" in text


def test_values_round_trip_through_the_archive_helpers():
    assert archive._parse_number(archive._number(Decimal("1.250"))) == Decimal("1.250")
    assert archive._extension("viatique/pages/1/2/00001-page.jpg") == "jpg"
    assert archive._extension("weird.name/with no extension") == "bin"
    with pytest.raises(archive.CorruptArchive):
        archive._parse_time("yesterday")


# ------------------------------------------------------------------ published states (a scheme changed after release)


def with_exercise_5(exam):
    """The exam's scheme with a question added (a change that reopens the released copies for it)."""
    scheme = json.loads(json.dumps(exam.scheme))
    scheme["questions"].append({"label": "Exercice 5 : algorithmique", "max": 4, "step": 0.5})
    return scheme


def reopened_by_scheme_change(exam):
    """A question added to the released exam's scheme and confirmed as the Studio editor saves it: the graded
    copies are reopened for it, their scores stay published. learner_2's copy is then graded for it and its PDF
    rendered again, its new score not published yet: the PDF of its published score is kept aside.
    Returns the exam."""
    instructor = make_block(usage=SOURCE, fields=demo_data.DEMO_SETTINGS)
    data = {"display_name": demo_data.DEMO_SETTINGS["display_name"], "pages_per_copy": "4", "grade_scale": "20",
            "weight": "", "regrade_window_days": str(WINDOW), "anonymous_grading": True, "grading_mode": "by_copy",
            "marking_scheme": with_exercise_5(exam)}
    status, impact = call(instructor, "scheme_change_impact", data)
    assert status == 200 and impact["needs_confirmation"], impact
    status, body = call(instructor, "studio_submit", {**data, "scheme_change_token": impact["token"]})
    assert status == 200, body
    copy = Copy.objects.get(exam=exam, learner_username="learner_2")
    assert copy.grading_state == Grading.REOPENED and copy.published_result is not None
    copy.points.create(question_id="q7", points=Decimal("3"), adjustment=Decimal("3"), grader="staff_2")
    Copy.objects.filter(pk=copy.pk).update(grading_state=Grading.SUBMITTED, total_points=copy.total_points + 3)
    signals.copy_graded.disconnect(dispatch_uid="viatique.release.copy_graded")
    try:
        assert rendering.render_copy(copy.pk, scale=SCALE) == Grading.GRADED
    finally:
        signals.copy_graded.connect(release.publish_regraded, dispatch_uid="viatique.release.copy_graded")
    copy.refresh_from_db()
    assert copy.published_result["pdf"] == rendering.published_pdf_name(copy) != copy.graded_pdf_name
    return Exam.objects.get(pk=exam.pk)


def learner_of(exam, username):
    learner = next(item for item in roster(exam.course_key) if item.username == username)
    return ViatiqueUser(username, username, learner.name, learner.anonymous_id, "learner")


def learner_pdf(exam, username):
    """The bytes of the graded PDF the learner downloads."""
    copy = Copy.objects.get(exam=exam, learner_username=username)
    name, _download = downloads.graded_pdf(exam, learner_of(exam, username), copy.public_id)
    with storage.get_storage().open(name, "rb") as handle:
        return handle.read()


def live_pdf(exam, username):
    """The bytes of the copy's latest graded PDF (the one staff download)."""
    copy = Copy.objects.get(exam=exam, learner_username=username)
    with storage.get_storage().open(copy.graded_pdf_name, "rb") as handle:
        return handle.read()


def live_maximum(exam, username):
    copy = Copy.objects.get(exam=exam, learner_username=username)
    return learner_results.breakdown(exam, copy, SCALE)["copy"]["max"]


def reworked(path, out, tables=None, drop=()):
    """A copy of the archive with its JSON files ``tables`` (``{name: change(value) -> value}``) changed and the
    files ``drop`` left out, its manifest made to match (intact files, rows as the test wants them)."""
    with zipfile.ZipFile(path) as source:
        manifest = json.loads(source.read("manifest.json"))
        changed = {name: json.dumps(change(json.loads(source.read(name)))).encode()
                   for name, change in (tables or {}).items()}
        for name, data in changed.items():
            manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name in drop:
            manifest["files"].pop(name, None)
        with zipfile.ZipFile(out, "w") as target:
            for info in source.infolist():
                if info.filename in drop:
                    continue
                data = json.dumps(manifest).encode() if info.filename == "manifest.json" else \
                    changed.get(info.filename, source.read(info.filename))
                target.writestr(info, data)
    return out


def test_a_copy_reopened_by_a_scheme_change_imports_with_the_state_its_learner_was_shown(source, tmp_path,
                                                                                        lms_gradebook):
    """The learner's view and graded PDF of an imported copy are the published ones of the source (the score the
    gradebook holds), not the copy as it is being graded again."""
    source = reopened_by_scheme_change(source)
    published = {name: (learner_view(source, name), learner_pdf(source, name))
                 for name in ("learner_1", "learner_2", "learner_3")}
    # the source shows the published state: the maximum before the change, the PDF kept aside
    assert published["learner_2"][0]["copy"]["max"] == "20" != live_maximum(source, "learner_2") == "24"
    assert published["learner_2"][1] != live_pdf(source, "learner_2")
    path, manifest = export(source, tmp_path)
    kept = f"published/{Copy.objects.get(exam=source, learner_username='learner_2').pk}.pdf"
    assert [name for name in manifest["files"] if name.startswith("published/")] == [kept]
    # the export's and the import's progress count it with the other stored files
    stored = [name for name in manifest["files"] if not name.startswith("data/")]
    assert archive.stored_file_count(source) == len(stored)

    target = target_exam()
    target_learners = {learner.username: learner for learner in roster(target.course_key)}
    users = {name: lms_gradebook.learner(target_learners[name].anonymous_id, f"{name}-target")
             for name in ("learner_1", "learner_2")}
    steps = []
    report = archive.import_exam(target, str(path), progress=lambda done, total: steps.append((done, total)))
    assert report["published"] == {"sent": 3, "delivered": 2, "not_sent": 0}
    assert steps[-1] == (len(stored), len(stored))
    target = Exam.objects.get(pk=target.pk)

    for name in ("learner_1", "learner_2", "learner_3"):
        assert learner_view(target, name) == published[name][0], name
        assert learner_pdf(target, name) == published[name][1], name
    # the imported copies are as they were: being graded again, or graded with their new PDF
    assert live_maximum(target, "learner_2") == "24"
    assert live_pdf(target, "learner_2") == live_pdf(source, "learner_2") != published["learner_2"][1]
    mine = Copy.objects.get(exam=target, learner_username="learner_2")
    assert mine.grading_state == Grading.GRADED and mine.published_result["pdf"] == rendering.published_pdf_name(mine)
    assert mine.published_result["copy"]["id"] == mine.public_id
    assert [page["id"] for page in mine.published_result["pages"]] == list(
        mine.pages.filter(discarded=False).order_by("position", "id").values_list("public_id", flat=True))
    reopened = Copy.objects.get(exam=target, learner_username="learner_1")
    assert reopened.grading_state == Grading.REOPENED
    assert reopened.published_result["pdf"] == reopened.graded_pdf_name
    # the gradebook holds the published score, the one the learner sees, out of the maximum it was published with
    source_copy = Copy.objects.get(exam=source, learner_username="learner_2")
    assert mine.published_points == source_copy.published_points != mine.total_points
    assert lms_gradebook.csm[(users["learner_2"].id, TARGET)] == {
        "grade": float(source_copy.published_points), "max_grade": 20.0}

    # once its new score is published, its learner sees it, with the new PDF
    release.publish_regraded(sender=Copy, copy=mine)
    assert learner_view(target, "learner_2")["copy"]["max"] == "24"
    assert learner_pdf(target, "learner_2") == live_pdf(target, "learner_2")


def test_an_archive_from_before_published_states_imports_the_copies_as_they_are(source, tmp_path):
    source = reopened_by_scheme_change(source)
    path, manifest = export(source, tmp_path)

    def without_published_states(copies):
        for row in copies:
            del row["published_result"]
        return copies

    older = reworked(path, tmp_path / "older.zip", {"data/copies.json": without_published_states},
                     drop=[name for name in manifest["files"] if name.startswith("published/")])
    target = target_exam()
    report = archive.import_exam(target, str(older))
    assert report["counts"] == manifest["counts"] and report["published"]["sent"] == 3
    target = Exam.objects.get(pk=target.pk)
    # as before published states were carried: the learner sees the copy as it is, with its latest PDF
    assert learner_view(target, "learner_2")["copy"]["max"] == "24"
    assert learner_pdf(target, "learner_2") == live_pdf(target, "learner_2") == live_pdf(source, "learner_2")
    assert learner_view(target, "learner_1")["copy"]["max"] == "24"


def test_a_published_state_naming_what_the_archive_does_not_have_is_refused_and_leaves_nothing(source, tmp_path):
    source = reopened_by_scheme_change(source)
    path, manifest = export(source, tmp_path)
    row_id = Copy.objects.get(exam=source, learner_username="learner_2").pk
    kept = f"published/{row_id}.pdf"
    target = target_exam()

    def changed(update):
        def change(copies):
            for row in copies:
                if row["id"] == row_id:
                    update(row["published_result"])
            return copies
        return {"data/copies.json": change}

    damaged = {
        # the PDF kept aside is not in the archive
        "no file": reworked(path, tmp_path / "no-file.zip", drop=[kept]),
        # a file that is not the copy's own: another copy's, or a scan
        "other file": reworked(path, tmp_path / "other-file.zip", changed(lambda result: result.update(
            pdf=next(name for name in manifest["files"] if name.startswith("scans/"))))),
        "other copy": reworked(path, tmp_path / "other-copy.zip", changed(lambda result: result.update(
            pdf="published/987654321.pdf"))),
        # a page the archive does not have
        "no page": reworked(path, tmp_path / "no-page.zip", changed(
            lambda result: result["pages"][0].update(id=987654321))),
        "not a state": reworked(path, tmp_path / "not-a-state.zip", changed(lambda result: result.pop("copy"))),
    }
    messages = {}
    for case, broken in damaged.items():
        with pytest.raises(archive.CorruptArchive) as refused:
            archive.import_exam(target, str(broken))
        assert refused.value.code == "archive_corrupt", case
        assert not Copy.objects.filter(exam=target).exists() and stored_under(target) == [], case
        messages[case] = refused.value.message
    assert kept in messages["no file"]

    # a kept PDF whose size is not the manifest's is refused before it is read
    grown = reworked(path, tmp_path / "grown.zip")
    with zipfile.ZipFile(grown) as zipped:
        entries = {info.filename: zipped.read(info.filename) for info in zipped.infolist()}
    with zipfile.ZipFile(grown, "w") as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data + b"\0" * 4096 if name == kept else data)
    with pytest.raises(archive.CorruptArchive) as refused:
        archive.import_exam(target, str(grown))
    assert kept in refused.value.message and stored_under(target) == []

    # the archive as exported imports
    assert archive.import_exam(target, str(path))["counts"]["copies"] == 12
