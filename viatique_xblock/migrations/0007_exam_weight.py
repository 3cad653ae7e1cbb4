"""The exam row keeps the block's weight (None: the scheme's maximum, unweighted), sent with every score."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('viatique_xblock', '0006_grading_results'),
    ]

    operations = [
        migrations.AddField(
            model_name='exam',
            name='weight',
            field=models.FloatField(blank=True, null=True),
        ),
    ]
