"""Validate a scan PDF exactly as an upload would (same limits, same code path)."""
import json

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock.errors import ViatiqueError
from viatique_xblock.scanning import batches


class Command(BaseCommand):
    help = "Check that a PDF would be accepted as a scan upload; exit status 1 when it would be refused."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        try:
            info = batches.validate_file(options["path"])
        except ViatiqueError as error:
            result = {"ok": False, "code": error.code, "message": error.message}
        except OSError as error:
            result = {"ok": False, "code": "file_unreadable", "message": str(error)}
        else:
            result = {"ok": True, **info.as_dict()}
        if options["json"]:
            self.stdout.write(json.dumps(result, default=str))
        elif result["ok"]:
            self.stdout.write(f"OK: {result['pages']} pages, sha256 {result['sha256']}")
        else:
            self.stdout.write(f"Refused ({result['code']}): {result['message']}")
        if not result["ok"]:
            raise CommandError(result["code"], returncode=1) if not options["json"] else SystemExit(1)
