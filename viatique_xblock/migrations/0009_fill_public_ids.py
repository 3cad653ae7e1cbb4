"""A random public id for every existing copy and page (see 0008)."""
from django.db import migrations

import viatique_xblock.public_ids

CHUNK = 500


def fill(apps, schema_editor):
    for name in ("Copy", "Page"):
        model = apps.get_model("viatique_xblock", name)
        seen = set()
        pending = []
        for pk in model.objects.filter(public_id__isnull=True).values_list("pk", flat=True).iterator():
            value = viatique_xblock.public_ids.new()
            while value in seen:
                value = viatique_xblock.public_ids.new()
            seen.add(value)
            pending.append(model(pk=pk, public_id=value))
            if len(pending) >= CHUNK:
                model.objects.bulk_update(pending, ["public_id"])
                pending = []
        if pending:
            model.objects.bulk_update(pending, ["public_id"])


class Migration(migrations.Migration):

    dependencies = [
        ('viatique_xblock', '0008_public_ids'),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
