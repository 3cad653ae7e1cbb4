"""Copies accepted without their missing pages, copies put on hold at the identification desk (a name not on the
roster), and the copies each instructor skipped at the desk."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("viatique_xblock", "0011_exportjob_kind_details"),
    ]

    operations = [
        migrations.AddField(
            model_name="copy",
            name="hold_note",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="copy",
            name="missing_accepted",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="copy",
            name="on_hold",
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name="DeskSkip",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("username", models.CharField(max_length=150)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("copy", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="desk_skips", to="viatique_xblock.copy")),
                ("exam", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="viatique_xblock.exam")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("copy", "username"), name="viatique_skip_unique_user")],
            },
        ),
    ]
