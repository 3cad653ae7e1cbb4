"""The built wheel carries everything, and installs and renders in a clean virtualenv."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, cwd=out)
    (path,) = out.glob("viatique_xblock-*.whl")
    return path


def test_wheel_contains_templates_static_files_translations_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "viatique_xblock/templates/staff_dashboard.html",
        "viatique_xblock/templates/studio.html",
        "viatique_xblock/static/js/viatique_studio.js",
        "viatique_xblock/static/css/viatique.css",
        "viatique_xblock/migrations/0001_initial.py",
        "viatique_xblock/translations/fr/LC_MESSAGES/django.mo",
        "viatique_xblock/translations/fr/LC_MESSAGES/djangojs.mo",
    ]:
        assert required in names, required
    assert not any(name.startswith(("tests/", "demo/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "viatique = viatique_xblock.block:ViatiqueXBlock" in text
    assert "[lms.djangoapp]" in text and "[cms.djangoapp]" in text


def test_wheel_installs_into_a_clean_virtualenv_and_renders(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(REPO / "requirements" / "constraints.txt"),
         str(wheel)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTHON"))}
    result = subprocess.run([str(python), str(Path(__file__).with_name("render_installed.py"))],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["module_file"].startswith(str(venv)), "the block must come from the installed wheel"
    assert report["entry_points"] == {
        "xblock.v1": "viatique=viatique_xblock.block",
        "lms.djangoapp": "viatique_xblock=viatique_xblock.apps",
        "cms.djangoapp": "viatique_xblock=viatique_xblock.apps",
    }
    assert report["staff_dashboard"] and report["learner_status"]
    assert all(size > 100 for size in report["static_sizes"].values())
