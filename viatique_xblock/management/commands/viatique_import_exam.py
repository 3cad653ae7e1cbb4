"""Import an exam's archive into the exam of an empty block (users mapped by username)."""
import json
import time

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock import exams
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.reports import archive


class Command(BaseCommand):
    help = ("Import an archive written by viatique_export_exam into the exam of a block that has no data yet "
            "(docs/archive.md). Learners are found by username; those this platform does not know keep their "
            "copies and are listed. Importing an archive twice, or into a block with data, is refused.")

    def add_arguments(self, parser):
        parser.add_argument("archive", help="the archive (.zip)")
        parser.add_argument("--block", required=True, help="usage id of the Viatique block to import into")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object on the last line")

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            exam = exams.exam_for_usage(options["block"])
            report = archive.import_exam(exam, options["archive"])
        except ViatiqueError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        report["seconds"] = round(time.monotonic() - started, 3)
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        counts = report["counts"]
        self.stdout.write(f"Archive {report['archive_id']} imported into {report['exam']}: {counts['copies']} copies, "
                          f"{counts['pages']} pages, {counts['batches']} scans; {report['published']['sent']} "
                          f"published scores sent again.")
        if report["unknown_learners"]:
            self.stdout.write("Learners this platform does not know (their copies are kept, identified by username "
                              f"only; no grade is sent for them): {', '.join(report['unknown_learners'])}")
        if report["unknown_staff"]:
            self.stdout.write(f"Staff usernames this platform does not know: {', '.join(report['unknown_staff'])}")
        if not report["block_settings"]:
            self.stdout.write("The block's settings could not be written here: set them in Studio as the "
                              "archive's data/exam.json says (title, marking scheme, grade scale, ...).")
