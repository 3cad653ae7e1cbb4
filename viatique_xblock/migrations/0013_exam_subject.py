"""The blank exam an instructor uploads to print the booklets on (the print screen)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("viatique_xblock", "0012_desk_skips_hold_missing_accepted"),
    ]

    operations = [
        migrations.AddField(
            model_name="exam",
            name="subject",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
