"""Drop the placeholder column added by 0001 once submissions' 0006 has run (MariaDB only)."""
from django.db import migrations

from demo_host.mariadb_submissions import FAULTY, add_placeholder, drop_placeholder, has_faulty_migration


class Migration(migrations.Migration):
    atomic = False  # DDL on MySQL/MariaDB cannot run inside a transaction
    dependencies = [
        ("demo_host", "0001_mariadb_submissions_before_uuid"),
    ] + ([FAULTY] if has_faulty_migration() else [])
    operations = [migrations.RunPython(drop_placeholder, add_placeholder)]
