"""Helpers of the demo host's MariaDB work-around for edx-submissions (see migrations/0001).

edx-submissions 4.0.2's ``0006_mariadb_uuid_conversion`` alters a ``uuid`` column
on three tables, but only ``submissions_submission`` has one.
"""
TABLES = ("submissions_studentitem", "submissions_score")


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
