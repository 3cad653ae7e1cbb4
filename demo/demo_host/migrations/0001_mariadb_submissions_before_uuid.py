"""Work around an edx-submissions 3.12 / 4.0 migration that fails on a fresh MariaDB database.

``submissions.0006_mariadb_uuid_conversion`` runs ``ALTER TABLE
submissions_studentitem MODIFY uuid uuid`` (and the same on submissions_score) although
those tables have no ``uuid`` column, so ``migrate`` stops with "Unknown column" on MariaDB (MySQL and
PostgreSQL skip that migration). The demo host adds a throw-away column just
before it and :mod:`0002 <demo_host.migrations.0002_mariadb_submissions_after_uuid>`
drops it right after. The plugin itself needs no such step; an Open edX on
MariaDB has the same upstream problem (see docs/operations.md).
"""
from django.db import migrations

from demo_host.mariadb_submissions import FAULTY, add_placeholder, drop_placeholder, has_faulty_migration


class Migration(migrations.Migration):
    atomic = False  # DDL on MySQL/MariaDB cannot run inside a transaction
    dependencies = [("submissions", "0005_CreateTeamModel")]
    # edx-submissions 3.11 (Teak) has no such migration: nothing to surround
    run_before = [FAULTY] if has_faulty_migration() else []
    operations = [migrations.RunPython(add_placeholder, drop_placeholder)]
