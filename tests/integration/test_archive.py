"""The exam archive from one instance to another (issue 18, part 2): the demo host seeded on MariaDB, graded,
released, with a regrade request, exported by ``viatique_export_exam``; imported by ``viatique_import_exam`` into
the demo host's block on a PostgreSQL database with files of its own. Each step is a ``demo/manage.py``
subprocess with its own DATABASE_URL and VIATIQUE_VAR_DIR. Both instances then show the same copy list, learner
views, totals, grades CSV, page image bytes and graded PDFs (read through the block's handlers, as the workbench
serves them)."""
import json

import pytest

from .conftest import manage, scratch_dir, subprocess_env, temporary_database

pytestmark = pytest.mark.integration

#: shared by the scripts: the demo block and a handler call as the workbench makes it
PRELUDE = """
import hashlib, json, uuid
from urllib.parse import urlencode
from webob import Request
from workbench.runtime import WorkbenchRuntime
from workbench.scenarios import get_scenarios
from viatique_xblock import scheme
from viatique_xblock.models import Copy, Exam, Page
from viatique_xblock.platform import storage

USAGE = get_scenarios()["viatique.0"].usage_id


def block(user):
    return WorkbenchRuntime(user).get_block(USAGE)


def call(user, handler, data=None, method="POST", suffix=""):
    query = f"?{urlencode(data)}" if method == "GET" and data else ""
    request = Request.blank(f"/handler/{handler}/{suffix}{query}")
    request.method = method
    if method == "POST":
        request.body = json.dumps(data or {}).encode()
        request.content_type = "application/json"
    response = block(user).handle(handler, request, suffix)
    assert response.status_code == 200, (handler, response.status_code, response.body[:300])
    return response.body if response.content_type != "application/json" else json.loads(response.body)
"""

#: on the source: learner_4's copy (being graded in the demo) graded and finalized through the grading handlers,
#: results released, and a regrade request by learner_1
PREPARE = PRELUDE + """
exam = Exam.objects.get(usage_key=USAGE)
copy = Copy.objects.get(exam=exam, learner_username="learner_4")
lease = call(copy.grader, "acquire_lease", {"copy_id": copy.public_id})
for leaf in scheme.leaves(exam.scheme):
    call(copy.grader, "save_points", {"copy_id": copy.public_id, "fencing": lease["fencing"],
                                      "question_id": leaf["id"], "points": str(leaf["max"]), "comment": "Parfait."})
cover = Page.objects.get(copy=copy, position=1)
call(copy.grader, "save_annotation", {"copy_id": copy.public_id, "fencing": lease["fencing"], "annotation": {
    "uid": str(uuid.uuid4()), "page_id": cover.public_id, "kind": "comment", "x": 0.2, "y": 0.4, "width": 0.3,
    "height": 0.06, "text": "Très clair", "question_id": "", "points": None}})
call(copy.grader, "finalize", {"copy_id": copy.public_id, "fencing": lease["fencing"]})
assert Copy.objects.get(pk=copy.pk).grading_state == "graded"
call("instructor_1", "release_results", {})
call("learner_1", "request_regrade", {"question_id": "q5", "message": "Le vecteur normal était juste."})
print("prepared")
"""

#: on either instance: what the instructor and each learner see, and the stored files' checksums (one JSON line)
FACTS = PRELUDE + """
exam = Exam.objects.get(usage_key=USAGE)
instructor = block("instructor_1")


def sha(name):
    with storage.get_storage().open(name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def learner_view(username):
    body = call(username, "my_results", method="GET")
    if "copy" in body:
        pages = {page["id"]: number for number, page in enumerate(body["pages"])}
        body["copy"]["id"] = "copy"
        for page in body["pages"]:
            page["id"] = pages[page["id"]]
        for item in body["annotations"]:
            item["page_id"] = pages[item["page_id"]]
        for number, item in enumerate(body["regrade"]["requests"]):
            item["id"] = number
    return body


copies = call("instructor_1", "list_copies", {"limit": 500}, method="GET")["copies"]
print(json.dumps({
    "settings": {"title": exam.title, "scheme": exam.scheme, "released": exam.released_at.isoformat(),
                 "grade_scale": instructor.grade_scale, "regrade_window_days": instructor.regrade_window_days,
                 "marking_scheme": instructor.marking_scheme},
    "copy_list": [{key: value for key, value in row.items() if key != "id"} for row in copies],
    "learner_views": {f"learner_{number}": learner_view(f"learner_{number}") for number in range(1, 13)},
    "totals": sorted([copy.anonymous_code, str(copy.total_points), str(copy.published_points)]
                     for copy in Copy.objects.filter(exam=exam)),
    "grades_csv": call("instructor_1", "grades_csv", method="GET").decode("utf-8"),
    "page_images": sorted([page.copy.anonymous_code if page.copy else "", page.position or 0, page.source_index,
                           sha(page.image_name)] for page in Page.objects.filter(exam=exam).select_related("copy")),
    "graded_pdfs": sorted([copy.anonymous_code, sha(copy.graded_pdf_name)]
                          for copy in Copy.objects.filter(exam=exam).exclude(graded_pdf_name="")),
}, sort_keys=True))
"""


def run(env, *args, timeout=900):
    result = manage(*args, env=env, timeout=timeout)
    assert result.returncode == 0, f"manage.py {' '.join(args[:2])}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


def usage_key(env):
    return run(env, "shell", "-v", "0", "-c",
               "from workbench.scenarios import get_scenarios; print(get_scenarios()['viatique.0'].usage_id)"
               ).strip().splitlines()[-1]


def test_an_exam_moves_from_mariadb_to_postgresql_with_the_same_views_and_bytes():
    with temporary_database("mariadb", "archive_from") as source_db, \
            temporary_database("postgresql", "archive_to") as target_db, \
            scratch_dir("archive-from") as source_dir, scratch_dir("archive-to") as target_dir, \
            scratch_dir("archive-file") as folder:
        source = subprocess_env(DATABASE_URL=source_db, VIATIQUE_VAR_DIR=source_dir, REDIS_URL=None, DEBUG="1",
                                CELERY_BROKER_URL=None)
        target = subprocess_env(DATABASE_URL=target_db, VIATIQUE_VAR_DIR=target_dir, REDIS_URL=None, DEBUG="1",
                                CELERY_BROKER_URL=None)
        run(source, "migrate", "--noinput", "-v", "0")
        run(source, "viatique_demo_seed")
        assert run(source, "shell", "-v", "0", "-c", PREPARE).strip().splitlines()[-1] == "prepared"
        before = last_json(run(source, "shell", "-v", "0", "-c", FACTS))
        archive = folder / "bac-blanc.zip"
        block = usage_key(source)
        exported = last_json(run(source, "viatique_export_exam", "--block", block, str(archive), "--json"))
        assert exported["counts"]["copies"] == 12 and exported["missing_files"] == []
        assert exported["bytes"] == archive.stat().st_size

        run(target, "migrate", "--noinput", "-v", "0")
        report = last_json(run(target, "viatique_import_exam", "--block", usage_key(target), str(archive), "--json"))
        assert report["archive_id"] == exported["archive_id"] and report["counts"] == exported["counts"]
        assert report["unknown_learners"] == [] and report["unknown_staff"] == []
        assert report["block_settings"] is True
        assert report["published"]["sent"] == 4  # the demo's three graded copies and learner_4's
        after = last_json(run(target, "shell", "-v", "0", "-c", FACTS))

        for part in ("settings", "copy_list", "learner_views", "totals", "grades_csv", "page_images", "graded_pdfs"):
            assert after[part] == before[part], part
        assert before["learner_views"]["learner_1"]["released"]
        assert before["learner_views"]["learner_1"]["regrade"]["requests"][0]["message"] == \
            "Le vecteur normal était juste."
        assert len(before["graded_pdfs"]) == 4 and len(before["page_images"]) == 48

        # a second import, into the block that now has the exam, is refused with its code
        again = manage("viatique_import_exam", "--block", usage_key(target), str(archive), env=target, timeout=300)
        assert again.returncode == 1 and "archive_already_imported:" in again.stderr
