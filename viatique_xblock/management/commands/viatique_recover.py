"""Queue again the work that stopped (uploads being assembled, scan batches, graded PDFs, ZIP exports) and
remove abandoned uploads with their chunks: what the periodic task ``viatique.recover`` does, for platforms
without celery beat (run it from cron, every 15 minutes for example), or once after an outage."""
import json

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock.workers import recovery


class Command(BaseCommand):
    help = ("Queue again the work unfinished longer than --minutes (default: RECOVER_AFTER_SECONDS): uploads "
            "being assembled, scan batches whose tasks stopped, copies waiting for their graded PDF, ZIP exports "
            "queued or running; and remove the uploads whose chunks stopped arriving longer than --abandoned-hours "
            "ago (default: ABANDONED_UPLOAD_SECONDS). Every task is idempotent; everything done is audited. "
            "Exit status 1 when the broker cannot be reached.")

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=float, help="stuck for at least this long (default: RECOVER_AFTER_SECONDS)")
        parser.add_argument("--abandoned-hours", type=float,
                            help="remove uploads idle for at least this long (default: ABANDONED_UPLOAD_SECONDS)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be done, do nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        for name in ("minutes", "abandoned_hours"):
            if options[name] is not None and options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} cannot be negative.")
        report = recovery.recover(
            dry_run=options["dry_run"],
            stuck_after=None if options["minutes"] is None else options["minutes"] * 60,
            abandoned_after=None if options["abandoned_hours"] is None else options["abandoned_hours"] * 3600,
        )
        if options["json"]:
            self.stdout.write(json.dumps(report))
        else:
            verb = "Would queue again" if options["dry_run"] else "Queued again"
            for name, items in report["requeued"].items():
                self.stdout.write(f"{verb} {len(items)} {name}: {items}")
            verb = "Would remove" if options["dry_run"] else "Removed"
            self.stdout.write(f"{verb} {len(report['removed']['uploads'])} abandoned uploads: "
                              f"{report['removed']['uploads']}")
        if report["queue_unavailable"]:
            message = "The Celery broker cannot be reached: what is still stuck is left for the next run."
            if options["json"]:
                raise SystemExit(1)
            raise CommandError(message, returncode=1)
