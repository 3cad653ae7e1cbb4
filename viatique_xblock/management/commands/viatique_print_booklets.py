"""Print QR-stamped booklets for a block's exam (the dashboard's code path)."""
import json

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock import exams
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import booklets


class Command(BaseCommand):
    help = "Write the printable booklets of an exam to OUT.pdf (anonymous, or prenamed from a roster)."

    def add_arguments(self, parser):
        parser.add_argument("out")
        parser.add_argument("--block", required=True, help="usage id of the Viatique block")
        parser.add_argument("--copies", type=int, help="number of anonymous booklets")
        parser.add_argument("--subject", help="the blank exam PDF (else blank pages)")
        parser.add_argument("--blank-pages", type=int, help="pages of a booklet without a subject")
        parser.add_argument("--prenamed", help="JSON file: [{\"username\", \"name\", \"anonymous_id\"}, ...]")

    def handle(self, *args, **options):
        exam = exams.exam_for_usage(options["block"])
        learners = None
        if options["prenamed"]:
            with open(options["prenamed"], encoding="utf-8") as handle:
                learners = [Learner(username=row["username"], name=row.get("name") or row["username"],
                                    anonymous_id=row["anonymous_id"]) for row in json.load(handle)]
        subject = None
        if options["subject"]:
            with open(options["subject"], "rb") as handle:
                subject = handle.read()
        try:
            pdf, numbers = booklets.print_booklets(exam, copies=options["copies"], subject=subject,
                                                 blank_pages=options["blank_pages"], learners=learners)
        except ViatiqueError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        with open(options["out"], "wb") as handle:
            handle.write(pdf)
        # the numbers are drawn at random (scanning.booklets); which learner got which is in the Booklet rows
        self.stdout.write(json.dumps({"out": options["out"], "booklets": len(numbers), "bytes": len(pdf)}))
