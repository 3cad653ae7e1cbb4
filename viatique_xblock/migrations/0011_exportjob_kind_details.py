"""Export jobs of three kinds: ZIPs of graded PDFs (every existing job), exam archives exported, and archives
imported; an archive job's outcome (the import's report, or a refusal)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("viatique_xblock", "0010_public_ids_unique"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="kind",
            field=models.CharField(default="zip", max_length=16),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="details",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
