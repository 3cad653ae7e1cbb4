import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Grading by question: the exam's grading mode (``by_copy`` for the exams that exist: their grading
    goes on as it was), the answers (one question of one copy) with their fencing numbers, and "no answer"."""

    dependencies = [
        ("viatique_xblock", "0013_exam_subject"),
    ]

    operations = [
        migrations.AddField(
            model_name="exam",
            name="grading_mode",
            field=models.CharField(default="by_copy", max_length=16),
        ),
        migrations.AddField(
            model_name="questionpoints",
            name="no_answer",
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name="Answer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("question_id", models.CharField(max_length=64)),
                ("grader", models.CharField(blank=True, max_length=150)),
                ("state", models.CharField(choices=[("open", "open"), ("graded", "graded")], default="open",
                                           max_length=16)),
                ("lease_fencing", models.BigIntegerField(default=0)),
                ("graded_by", models.CharField(blank=True, max_length=150)),
                ("graded_at", models.DateTimeField(blank=True, null=True)),
                ("skipped_by", models.CharField(blank=True, max_length=150)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("copy", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="answers",
                                           to="viatique_xblock.copy")),
            ],
            options={
                "indexes": [models.Index(fields=["question_id", "grader", "state"], name="viatique_xb_questio_0ab829_idx")],
                "constraints": [models.UniqueConstraint(fields=("copy", "question_id"),
                                                        name="viatique_answer_unique_question")],
            },
        ),
    ]
