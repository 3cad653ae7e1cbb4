"""Viatique's migrations on the three databases the platform runs on, in subprocesses:
they apply from scratch, every model's table exists afterwards, and they unapply to zero."""
import json

import pytest
from django.apps import apps

from .conftest import manage, subprocess_env, temporary_database

pytestmark = pytest.mark.integration

LIST_TABLES = (
    "import json; from django.db import connection; "
    "print(json.dumps(sorted(t for t in connection.introspection.table_names() "
    "if t.startswith('viatique_xblock_'))))"
)


def run(env, *args):
    result = manage(*args, env=env, timeout=600)
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def viatique_tables(env):
    return set(json.loads(run(env, "shell", "-c", LIST_TABLES).strip().splitlines()[-1]))


def migration_states(env):
    """{migration name: applied?} of the viatique_xblock app, from ``showmigrations``."""
    lines = run(env, "showmigrations", "viatique_xblock").splitlines()
    states = {line.strip()[4:]: line.strip().startswith("[X]") for line in lines if line.strip().startswith("[")}
    assert states, lines
    return states


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql", "mariadb"])
def test_migrations_apply_and_unapply_to_zero(vendor, scratch):
    expected_tables = {
        model._meta.db_table for model in apps.get_app_config("viatique_xblock").get_models()
        if model._meta.managed and not model._meta.proxy
    }
    with temporary_database(vendor, "migrations") as database_url:
        env = subprocess_env(DATABASE_URL=database_url, VIATIQUE_VAR_DIR=scratch, REDIS_URL=None, DEBUG="1")
        run(env, "migrate", "--noinput", "-v", "0")
        assert all(migration_states(env).values())
        assert viatique_tables(env) == expected_tables

        run(env, "migrate", "viatique_xblock", "zero", "--noinput", "-v", "0")
        assert not any(migration_states(env).values())
        assert viatique_tables(env) == set()


def test_models_have_no_missing_migration(scratch):
    env = subprocess_env(DATABASE_URL=None, VIATIQUE_VAR_DIR=scratch, REDIS_URL=None, DEBUG="1")
    result = manage("makemigrations", "viatique_xblock", "--check", "--dry-run", env=env, timeout=120)
    assert result.returncode == 0, f"missing migration:\n{result.stdout}\n{result.stderr}"
    assert "No changes detected" in result.stdout


#: run at migration 0007 (copies and pages without public ids): an exam with 1,203 copies of one page each,
#: made through the historical models, as an existing database holds them
OLD_ROWS = """
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
apps = MigrationExecutor(connection).loader.project_state(("viatique_xblock", "0007_exam_weight")).apps
Exam, ScanBatch, Copy, Page = (apps.get_model("viatique_xblock", name) for name in ("Exam", "ScanBatch", "Copy", "Page"))
exam = Exam.objects.create(course_key="course-v1:V+T+1", usage_key="block-v1:V+T+1+type@viatique+block@old")
batch = ScanBatch.objects.create(exam=exam, original_name="old.pdf", sha256="0" * 64, page_count=1203)
copies = Copy.objects.bulk_create([Copy(exam=exam, anonymous_code=f"C{index:05d}") for index in range(1203)])
copies = list(Copy.objects.filter(exam=exam).order_by("pk"))
Page.objects.bulk_create([Page(exam=exam, batch=batch, copy=copy, source_index=index, position=1)
                          for index, copy in enumerate(copies)])
print(Copy.objects.count(), Page.objects.count())
"""
#: after the migrations: every copy and page has a public id of the right form, all different
PUBLIC_IDS = """
import json
from viatique_xblock import public_ids
from viatique_xblock.models import Copy, Page
ids = list(Copy.objects.values_list("public_id", flat=True)) + list(Page.objects.values_list("public_id", flat=True))
print(json.dumps({"count": len(ids), "distinct": len(set(ids)),
                  "well_formed": all(public_ids.parse(value) == value for value in ids),
                  "new": public_ids.parse(Copy.objects.create(exam=Copy.objects.first().exam, anonymous_code="NEW1")
                                          .public_id) is not None}))
"""


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql", "mariadb"])
def test_existing_copies_and_pages_get_distinct_public_ids(vendor, scratch):
    with temporary_database(vendor, "public_ids") as database_url:
        env = subprocess_env(DATABASE_URL=database_url, VIATIQUE_VAR_DIR=scratch, REDIS_URL=None, DEBUG="1")
        run(env, "migrate", "--noinput", "-v", "0")
        run(env, "migrate", "viatique_xblock", "0007", "--noinput", "-v", "0")
        assert run(env, "shell", "-c", OLD_ROWS).strip().splitlines()[-1] == "1203 1203"
        run(env, "migrate", "viatique_xblock", "--noinput", "-v", "0")
        found = json.loads(run(env, "shell", "-c", PUBLIC_IDS).strip().splitlines()[-1])
        assert found == {"count": 2406, "distinct": 2406, "well_formed": True, "new": True}
        # and back: the column goes, the rows stay (the 1,203 and the one made since)
        run(env, "migrate", "viatique_xblock", "0007", "--noinput", "-v", "0")
        assert run(env, "shell", "-c", OLD_ROWS.split("exam = ")[0] + "print(Copy.objects.count())"
                   ).strip().splitlines()[-1] == "1204"


#: run at migration 0014 (before rubrics): an exam with a comment bank (a question's comment with points, an
#: exam-wide one) and a copy with points typed, made through the historical models
OLD_BANK = """
import datetime
from decimal import Decimal
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
apps = MigrationExecutor(connection).loader.project_state(("viatique_xblock", "0014_grading_by_question")).apps
Exam, Copy, QuestionPoints, BankComment = (apps.get_model("viatique_xblock", name)
                                           for name in ("Exam", "Copy", "QuestionPoints", "BankComment"))
exam = Exam.objects.create(course_key="course-v1:V+T+1", usage_key="block-v1:V+T+1+type@viatique+block@bank")
copy = Copy.objects.create(exam=exam, anonymous_code="C00001", public_id="aaaaaaaaaaaaaaaa")
QuestionPoints.objects.create(copy=copy, question_id="q1", points=Decimal("3.5"), comment="Bien")
made = BankComment.objects.create(exam=exam, text="Justifiez", question_id="q1", points=Decimal("-0.5"),
                                  created_by="staff_1")
BankComment.objects.filter(pk=made.pk).update(created_at=datetime.datetime(2026, 1, 2, 3, 4, 5,
                                                                           tzinfo=datetime.timezone.utc))
BankComment.objects.create(exam=exam, text="Bien vu", created_by="staff_2")
print(BankComment.objects.count())
"""
#: after the migrations: the bank's comments are rubric items, the points typed the question's adjustment
RUBRIC_ITEMS = """
import json
from viatique_xblock import public_ids
from viatique_xblock.grading import workspace
from viatique_xblock.models import Exam, QuestionPoints, RubricItem
exam = Exam.objects.get(usage_key="block-v1:V+T+1+type@viatique+block@bank")
items = [[item.text, item.question_id, str(item.points) if item.points is not None else None, item.created_by,
          item.created_at.isoformat()[:19], public_ids.parse(item.public_id) == item.public_id, item.version]
         for item in RubricItem.objects.filter(exam=exam).order_by("text")]
row = QuestionPoints.objects.get()
print(json.dumps({"items": items, "adjustment": str(row.adjustment), "points": str(row.points),
                  "bank": [entry["text"] for entry in workspace.comment_bank(exam)]}))
"""


@pytest.mark.parametrize("vendor", ["sqlite", "mariadb"])
def test_the_comment_bank_becomes_rubric_items(vendor, scratch):
    with temporary_database(vendor, "rubrics") as database_url:
        env = subprocess_env(DATABASE_URL=database_url, VIATIQUE_VAR_DIR=scratch, REDIS_URL=None, DEBUG="1")
        run(env, "migrate", "--noinput", "-v", "0")
        run(env, "migrate", "viatique_xblock", "0014", "--noinput", "-v", "0")
        assert run(env, "shell", "-c", OLD_BANK).strip().splitlines()[-1] == "2"
        run(env, "migrate", "viatique_xblock", "--noinput", "-v", "0")
        found = json.loads(run(env, "shell", "-c", RUBRIC_ITEMS).strip().splitlines()[-1])
        assert found["items"] == [
            ["Bien vu", "", None, "staff_2", found["items"][0][4], True, 1],
            ["Justifiez", "q1", "-0.500", "staff_1", "2026-01-02T03:04:05", True, 1],
        ]
        assert (found["adjustment"], found["points"]) == ("3.500", "3.500")
        assert found["bank"] == ["Bien vu", "Justifiez"]
        # and back: the items are the bank again
        run(env, "migrate", "viatique_xblock", "0014", "--noinput", "-v", "0")
        assert run(env, "shell", "-c", OLD_BANK.split("exam = ")[0] + "print(sorted(BankComment.objects"
                   ".values_list('text', flat=True)))").strip().splitlines()[-1] == "['Bien vu', 'Justifiez']"
