"""Queue the graded-PDF render of copies left ``submitted`` (the broker was down when they were finalized)."""
import datetime
import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from viatique_xblock.grading import rendering


class Command(BaseCommand):
    help = ("Send the render task again for copies finalized at least --minutes ago and still 'submitted' "
            "(the task renders a copy only while it is submitted, so sending it twice is harmless).")

    def add_arguments(self, parser):
        parser.add_argument("--usage", help="only the copies of this block usage id")
        parser.add_argument("--minutes", type=int, default=10, help="finalized at least this long ago (10)")
        parser.add_argument("--dry-run", action="store_true", help="list the copies, send nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        before = timezone.now() - datetime.timedelta(minutes=options["minutes"])
        ids = rendering.stuck_copies(before, usage_key=options["usage"])
        if not options["dry_run"]:
            rendering.queue_renders(ids)
        result = {"copies": ids, "sent": not options["dry_run"]}
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            verb = "Would send" if options["dry_run"] else "Sent"
            self.stdout.write(f"{verb} the render task for {len(ids)} submitted copies: {ids}")
