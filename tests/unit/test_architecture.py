"""The package's layout holds: stages depend in one direction (import-linter), every Celery task name of
earlier releases is still registered, and docs/architecture.md names what the tree holds."""
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "viatique_xblock"

#: the task names of the releases before the stage folders: tasks queued by them must still run after an upgrade
TASK_NAMES = {"viatique.assemble_batch", "viatique.assemble_upload", "viatique.build_export_zip",
              "viatique.health_report", "viatique.process_batch", "viatique.process_range",
              "viatique.render_graded_copy"}
#: task names added since (each kept from then on): the periodic recovery, the exam archive's export and import, the booklets printed from the dashboard
NEW_TASK_NAMES = {"viatique.recover", "viatique.build_exam_archive", "viatique.import_exam_archive",
                  "viatique.print_booklets", "viatique.rubric_rescore", "viatique.rerender_graded_copy"}
STAGES = ("scanning", "identity", "grading", "results", "reports", "platform", "pdf", "workers")


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(REPO / ".importlinter")], capture_output=True, text=True,
                            cwd=REPO, env={"PATH": str(lint.parent), "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_the_contracts_name_every_stage_in_order():
    text = (REPO / ".importlinter").read_text()
    layers = re.search(r"layers =\n((?:    .+\n)+)", text).group(1).split()
    assert layers == [f"viatique_xblock.{name}" for name in
                      ("workers", "reports", "results", "grading", "identity", "scanning", "platform", "pdf")]


def test_importing_the_tasks_module_registers_every_task_name_of_earlier_releases(tmp_path):
    script = ("import django, json; django.setup(); import viatique_xblock.tasks; from celery import current_app; "
              "print(json.dumps(sorted(n for n in current_app.tasks if n.startswith('viatique.'))))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO / "demo",
                            env={"PATH": str(Path(sys.executable).parent), "DJANGO_SETTINGS_MODULE": "demo_host.settings",
                                 "PYTHONPATH": f"{REPO}:{REPO / 'demo'}", "VIATIQUE_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(json.loads(result.stdout.strip().splitlines()[-1])) == TASK_NAMES | NEW_TASK_NAMES


def test_architecture_doc_names_every_module_of_the_stages_and_only_modules_that_exist():
    text = (REPO / "docs" / "architecture.md").read_text()
    for stage in STAGES:
        assert f"`{stage}/`" in text, stage
        for module in (PACKAGE / stage).glob("*.py"):
            if module.name != "__init__.py":
                assert f"`{module.name}`" in text or f"`{module.stem}.py`" in text, f"{stage}/{module.name}"
    for top in PACKAGE.glob("*.py"):
        if top.name not in ("__init__.py", "admin.py", "apps.py", "tasks.py", "block.py"):
            assert f"`{top.name}`" in text, top.name
    named = set(re.findall(r"`([a-z_]+\.py)`", text))
    existing = {path.name for path in PACKAGE.rglob("*.py")}
    assert named <= existing, named - existing
