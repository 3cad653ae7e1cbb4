"""List the lockouts in force in every course, and lift them (an operator's counterpart of the
instructors' lockout list, which shows one course)."""
import json

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock.platform import lockout


class Command(BaseCommand):
    help = ("List the Viatique lockouts in force (every course, or --course); --lift-user NAME or "
            "--lift-address IP ends the lock and failure counters of that user or address at once.")

    def add_arguments(self, parser):
        parser.add_argument("--course", help="only the lockouts recorded in this course key")
        lift = parser.add_mutually_exclusive_group()
        lift.add_argument("--lift-user", metavar="USERNAME", help="lift the lockout of this username")
        lift.add_argument("--lift-address", metavar="IP", help="lift the lockout of this client address")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        lifted = None
        if options["lift_user"] or options["lift_address"]:
            kind = lockout.USER if options["lift_user"] else lockout.ADDRESS
            subject = (options["lift_user"] or options["lift_address"]).strip()
            if not subject:
                raise CommandError("Name a user or an address to lift.")
            records = lockout.lift_subject(kind, subject, by=lockout.OPERATOR)
            lifted = {"kind": kind, "subject": subject, "records": [record.pk for record in records]}
        rows = [{**lockout.as_json(record), "course_key": record.course_key}
                for record in lockout.in_force(options["course"])]
        if options["json"]:
            self.stdout.write(json.dumps({"lifted": lifted, "in_force": rows}, default=str))
            return
        if lifted:
            self.stdout.write(f"Lifted the lockout of {lifted['kind']} {lifted['subject']} "
                              f"(records: {lifted['records'] or 'none in force'}).")
        if not rows:
            self.stdout.write("No lockout in force.")
        for row in rows:
            self.stdout.write(f"#{row['id']} {row['kind']} {row['subject']} in {row['course_key']}: "
                              f"{row['retry_after']} s left (until {row['locked_until']:%Y-%m-%d %H:%M:%S %Z})")
