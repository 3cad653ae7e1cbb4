"""Import scan PDFs into a block's exam through the upload's own code path."""
import json
import os
import time

from django.core.management.base import BaseCommand, CommandError

from viatique_xblock import exams
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.models import Copy, Page, ScanBatch
from viatique_xblock.scanning import batches


class Command(BaseCommand):
    help = "Import scan PDFs into the exam of a block usage; --sync processes them in this process."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--block", required=True, help="usage id of the Viatique block")
        parser.add_argument("--pages-per-copy", type=int, help="pages per copy for scans without codes")
        parser.add_argument("--per-file", action="store_true", help="each file is one learner's copy")
        parser.add_argument("--sync", action="store_true", help="process now and print a JSON summary")

    def handle(self, *args, **options):
        exam = exams.exam_for_usage(options["block"])
        started = time.monotonic()
        send = batches.run_locally if options["sync"] else None
        created = []
        for path in options["paths"]:
            try:
                info = batches.validate_file(path)
            except ViatiqueError as error:
                raise CommandError(f"{path}: refused ({error.code}): {error.message}") from error
            with open(path, "rb") as handle:
                batch = batches.create_batch(
                    exam, os.path.basename(path), info.sha256, info, handle, uploaded_by="manage.py",
                    split_mode="per_file" if options["per_file"] else "auto", send=send,
                    pages_per_copy=options["pages_per_copy"],
                )
            created.append(batch.pk)
            self.stderr.write(f"{path}: batch {batch.pk} ({batch.state})")
        if not options["sync"]:
            self.stdout.write(json.dumps({"batches": created, "queued": True}))
            return
        summary = {
            "batches": created,
            "states": sorted(set(ScanBatch.objects.filter(pk__in=created).values_list("state", flat=True))),
            "copies": Copy.objects.filter(exam=exam).count(),
            "pages": Page.objects.filter(batch_id__in=created).count(),
            "anomalies": Page.objects.filter(batch_id__in=created, copy__isnull=True, discarded=False).count(),
            "seconds": round(time.monotonic() - started, 3),
        }
        self.stdout.write(json.dumps(summary))
