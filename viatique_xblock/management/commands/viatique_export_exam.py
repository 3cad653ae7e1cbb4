"""Write an exam's archive: every scan, page, copy, identity, grade, comment, regrade request and audit event."""
import json
import os
import time

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock import exams
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.reports import archive


class Command(BaseCommand):
    help = ("Write the archive of the exam of a block (docs/archive.md): a ZIP with a manifest (schema version, "
            "SHA-256 of every file), the exam's rows as JSON and its files as stored (scans, page images, graded "
            "PDFs), to import into an empty block of another course or instance with viatique_import_exam.")

    def add_arguments(self, parser):
        parser.add_argument("out", help="the archive to write (a .zip; replaced once complete)")
        parser.add_argument("--block", required=True, help="usage id of the Viatique block")
        parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            exam = exams.get_exam(options["block"])
            manifest = archive.export_exam(exam, options["out"])
        except ViatiqueError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        summary = {"archive_id": manifest["archive_id"], "schema_version": manifest["schema_version"],
                   "counts": manifest["counts"], "files": len(manifest["files"]),
                   "missing_files": manifest["missing_files"], "bytes": os.path.getsize(options["out"]),
                   "seconds": round(time.monotonic() - started, 3)}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        counts = manifest["counts"]
        self.stdout.write(f"{options['out']}: archive {summary['archive_id']} (schema {summary['schema_version']}), "
                          f"{counts['copies']} copies, {counts['pages']} pages, {counts['batches']} scans, "
                          f"{summary['bytes']} bytes.")
        if summary["missing_files"]:
            self.stdout.write(f"Not in the storage, left out: {', '.join(summary['missing_files'])}")
