"""Helpers of the demo host's MariaDB work-around for edx-submissions (see migrations/0001).

edx-submissions 3.12 and 4.0's ``0006_mariadb_uuid_conversion`` alters a ``uuid`` column
on three tables, but only ``submissions_submission`` has one.
"""
import importlib.util

TABLES = ("submissions_studentitem", "submissions_score")

#: the faulty migration, shipped by edx-submissions 3.12 and 4.0 (the current Open edX line) but not by 3.11 (Teak)
FAULTY = ("submissions", "0006_mariadb_uuid_conversion")


def has_faulty_migration():
    """Whether the installed edx-submissions ships the migration this work-around surrounds."""
    return importlib.util.find_spec(f"submissions.migrations.{FAULTY[1]}") is not None


def is_mariadb(connection):
    return connection.vendor == "mysql" and connection.mysql_is_mariadb


def has_uuid_column(connection, table):
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, table)
    return any(column.name == "uuid" for column in columns)


def add_placeholder(apps, schema_editor):
    connection = schema_editor.connection
    if not is_mariadb(connection):
        return
    for table in TABLES:
        if not has_uuid_column(connection, table):
            schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN uuid char(32) NULL")


def drop_placeholder(apps, schema_editor):
    connection = schema_editor.connection
    if not is_mariadb(connection):
        return
    for table in TABLES:
        if has_uuid_column(connection, table):
            schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN uuid")
