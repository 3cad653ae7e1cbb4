"""Public ids are unique and required; new rows draw one (see 0008)."""
from django.db import migrations, models

import viatique_xblock.public_ids


class Migration(migrations.Migration):

    dependencies = [
        ('viatique_xblock', '0009_fill_public_ids'),
    ]

    operations = [
        migrations.AlterField(
            model_name='copy',
            name='public_id',
            field=models.CharField(default=viatique_xblock.public_ids.new, editable=False, max_length=16, unique=True),
        ),
        migrations.AlterField(
            model_name='page',
            name='public_id',
            field=models.CharField(default=viatique_xblock.public_ids.new, editable=False, max_length=16, unique=True),
        ),
    ]
