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
