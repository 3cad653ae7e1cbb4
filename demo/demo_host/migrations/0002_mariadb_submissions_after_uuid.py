"""Drop the placeholder column added by 0001 once submissions' 0006 has run (MariaDB only)."""
from django.db import migrations

from demo_host.mariadb_submissions import add_placeholder, drop_placeholder


class Migration(migrations.Migration):
    atomic = False  # DDL on MySQL/MariaDB cannot run inside a transaction
    dependencies = [
        ("demo_host", "0001_mariadb_submissions_before_uuid"),
        ("submissions", "0006_mariadb_uuid_conversion"),
    ]
    operations = [migrations.RunPython(drop_placeholder, add_placeholder)]
