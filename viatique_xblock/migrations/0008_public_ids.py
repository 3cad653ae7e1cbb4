"""Copies and pages get a random public id, the only id of them handlers, JSON and URLs use (their
primary keys follow the scan's order, which can follow the class list). As Django advises for a unique
field on existing rows, in three steps: the column, empty (this migration); filled for existing rows
(0009); made unique and required (0010)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('viatique_xblock', '0007_exam_weight'),
    ]

    operations = [
        migrations.AddField(
            model_name='copy',
            name='public_id',
            field=models.CharField(editable=False, max_length=16, null=True),
        ),
        migrations.AddField(
            model_name='page',
            name='public_id',
            field=models.CharField(editable=False, max_length=16, null=True),
        ),
    ]
