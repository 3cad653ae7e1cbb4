"""Erase a user's name and username from everything Viatique stored, as the platform's retirement does."""
import json

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock.errors import ViatiqueError
from viatique_xblock.identity import retirement


class Command(BaseCommand):
    help = ("Retire a user from Viatique as the platform's retirement signals do: their username and names are "
            "replaced by RETIRED_USERNAME on every row that holds them (copies, booklets, roster names, regrade "
            "requests, audit events, lockout records, file names), and their cover's name area is painted over "
            "in the stored page image, scan and graded PDF. Points, comments and published grades stay. Running "
            "it again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("username", help="the username to retire")
        parser.add_argument("retired_username", help="what replaces it (the platform's retired username)")
        parser.add_argument("--name", action="append", default=[],
                            help="a name the user is known by, also replaced in texts (repeatable; the names "
                                 "Viatique and the platform stored are found without it)")
        parser.add_argument("--email", action="append", default=[],
                            help="an email address of the user (a roster CSV may key their name by it; repeatable)")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        try:
            report = retirement.retire(options["username"], options["retired_username"], names=options["name"],
                                       emails=options["email"], source="command")
        except ViatiqueError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        result = report.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        if not result["changed"]:
            self.stdout.write("Nothing to change: no row or file of Viatique holds this user.")
            return
        self.stdout.write(f"Retired as {result['retired_username']} in {result['exams']} exam(s).")
        for kind, number in {**result["rows"], **result["files"]}.items():
            self.stdout.write(f"  {kind}: {number}")
