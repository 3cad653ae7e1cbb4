"""Send every published score again through the platform's grade signal (upgrading from edx-submissions)."""
import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from viatique_xblock.models import Exam
from viatique_xblock.results import release


class Command(BaseCommand):
    help = ("Send the published score of every copy of every released exam again through the platform's grade "
            "signal (raw points, weighted by the LMS with the block's weight), and reset the edx-submissions "
            "scores that versions before it sent (the LMS would rank them first). Run it once after upgrading; "
            "running it again sends the same scores again.")

    def add_arguments(self, parser):
        parser.add_argument("--block", help="only the exam of this block usage id")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        exams = Exam.objects.filter(Q(released_at__isnull=False) | Q(copies__submission_uuid__gt="")).distinct()
        if options["block"]:
            exams = Exam.objects.filter(usage_key=options["block"])
            if not exams.exists():
                raise CommandError(f"No exam for the block {options['block']!r}.")
        results = {}
        for exam in exams.order_by("pk"):
            counts = release.republish(exam)
            results[exam.usage_key] = counts
            if not options["json"]:
                self.stdout.write(
                    f"{exam.usage_key}: {counts['republished']} scores sent again "
                    f"({counts['delivered']} received by a gradebook), "
                    f"{counts['legacy_reset']} edx-submissions scores reset")
        if options["json"]:
            self.stdout.write(json.dumps({"exams": results}))
        elif not results:
            self.stdout.write("No released exam and no edx-submissions score to reset.")
