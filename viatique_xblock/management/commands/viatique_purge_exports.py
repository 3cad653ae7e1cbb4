"""Delete the exports (ZIPs of graded PDFs, exam archives) older than ``EXPORT_RETENTION_DAYS`` (run it
daily, from cron or a periodic task): the copies' PDFs stay, an instructor builds a new export when needed."""
import json

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock.reports import exports


class Command(BaseCommand):
    help = ("Delete the ZIPs of graded PDFs built more than --days days ago (default: the EXPORT_RETENTION_DAYS "
            "setting) and mark their exports expired.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="older than this many days (default: EXPORT_RETENTION_DAYS)")
        parser.add_argument("--dry-run", action="store_true", help="list the exports, delete nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        if options["days"] is not None and options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        purged = exports.purge(days=options["days"], dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps({"exports": purged, "deleted": not options["dry_run"]}))
        else:
            verb = "Would delete" if options["dry_run"] else "Deleted"
            self.stdout.write(f"{verb} {len(purged)} ZIP exports: {purged}")
