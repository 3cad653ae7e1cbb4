"""Create the demo exam of scenario ``viatique.0`` and its sample copies (idempotent)."""
from django.conf import settings
from django.core.management.base import BaseCommand
from workbench.runtime import WorkbenchRuntime
from workbench.scenarios import get_scenarios

from demo_host.services import anonymous_id
from viatique_xblock import demo_data


class Command(BaseCommand):
    help = "Create the demo exam and its sample copies (does nothing if they exist)."

    def add_arguments(self, parser):
        parser.add_argument("--scenario", default="viatique.0")

    def handle(self, *args, **options):
        scenario = get_scenarios()[options["scenario"]]
        block = WorkbenchRuntime("instructor_1").get_block(scenario.usage_id)
        if demo_data.configure(block):
            self.stdout.write("Demo exam configured (title, marking scheme, pages per copy, scale).")
        exam = block.get_exam()
        created = demo_data.seed(exam, settings.VIATIQUE_DEMO_ROSTER, anonymous_id)
        self.stdout.write(f"Exam {exam.usage_key}: {created} demo copies created.")
