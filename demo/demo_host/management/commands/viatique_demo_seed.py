"""Create the demo exam of scenario ``viatique.0`` and import its class scan (idempotent)."""
import time

from django.core.management.base import BaseCommand
from workbench.runtime import WorkbenchRuntime
from workbench.scenarios import get_scenarios

from demo_host.services import DemoRosterService
from viatique_xblock import demo_data
from viatique_xblock.models import Copy, Page

#: learners who get a prenamed booklet, in booklet order
PRENAMED = [f"learner_{number}" for number in range(1, 11)]
#: learners who wrote their name on an anonymous booklet (identified at the desk)
ANONYMOUS = ["learner_11", "learner_12"]


class Command(BaseCommand):
    help = ("Create the demo exam and import its generated class scan: prenamed and anonymous booklets, "
            "filled in, scanned with faults (does nothing if the exam already has a scan).")

    def add_arguments(self, parser):
        parser.add_argument("--scenario", default="viatique.0")

    def handle(self, *args, **options):
        started = time.monotonic()
        scenario = get_scenarios()[options["scenario"]]
        block = WorkbenchRuntime("instructor_1").get_block(scenario.usage_id)
        if demo_data.configure(block):
            self.stdout.write("Demo exam configured (title, marking scheme, pages per copy, scale).")
        exam = block.sync_exam()
        roster = {learner.username: learner for learner in DemoRosterService().enrolled(exam.course_key)}
        batch = demo_data.seed(exam, [roster[name] for name in PRENAMED],
                               anonymous_names=[roster[name].name for name in ANONYMOUS])
        if batch is None:
            self.stdout.write(f"Exam {exam.usage_key}: it has a scan already, nothing was added.")
            return
        copies = Copy.objects.filter(exam=exam).count()
        unplaced = Page.objects.filter(exam=exam, copy__isnull=True).count()
        self.stdout.write(
            f"Exam {exam.usage_key}: {batch.original_name} imported in {time.monotonic() - started:.1f} s: "
            f"{batch.page_count} pages, {copies} copies, {unplaced} page(s) in the anomaly queue.")
