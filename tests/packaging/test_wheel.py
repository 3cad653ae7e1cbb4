"""The built wheel carries everything, and installs and renders in a clean virtualenv: with the
versions the suite runs with (Python 3.12, Django 5.2) and with the oldest setup.py accepts
(Python 3.11, Django 4.2)."""
import json
import os
import re
import shutil
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


def python_311():
    """A Python 3.11 of this machine, on PATH or through pyenv (the oldest Python the plugin supports)."""
    candidates = [shutil.which("python3.11")]
    if shutil.which("pyenv"):
        versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True).stdout.split()
        for version in sorted((v for v in versions if re.fullmatch(r"3\.11(\.\d+)?", v)), reverse=True):
            found = subprocess.run(["pyenv", "which", "python"], capture_output=True, text=True,
                                   env={**os.environ, "PYENV_VERSION": version})
            candidates.append(found.stdout.strip())
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
                               capture_output=True, text=True)
        if probe.stdout.strip() == "True":
            return candidate
    return None


#: (the interpreter, constraints beyond requirements/constraints.txt): the versions the suite runs with
#: (Python 3.12 and Django 5.2 in `make test`), and the oldest ones setup.py accepts (Python 3.11, Django 4.2, with the
#: django-redis before 7, which needs Django 5.2)
TARGETS = {"current": (None, []), "oldest": ("3.11", ["Django>=4.2,<5.0", "django-redis>=5.4,<7"])}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_wheel_installs_into_a_clean_virtualenv_and_renders(wheel, tmp_path, target):
    version, extra = TARGETS[target]
    interpreter = sys._base_executable
    if version:
        interpreter = python_311()
        assert interpreter, "no Python 3.11 on this machine (PATH or pyenv): the oldest supported Python"
    constraints = tmp_path / "constraints.txt"
    pinned = (REPO / "requirements" / "constraints.txt").read_text().splitlines()
    overridden = {re.split(r"[<>=!~;\s]", line, maxsplit=1)[0].lower() for line in extra}
    constraints.write_text("\n".join([line for line in pinned
                                      if re.split(r"[<>=!~;\s]", line, maxsplit=1)[0].lower() not in overridden]
                                     + extra) + "\n")
    venv = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(constraints), str(wheel)],
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
    assert report["graded_pdf"], "the installed PDF layer makes a graded PDF with its text"
    import django

    suite = (f"{sys.version_info[0]}.{sys.version_info[1]}", ".".join(django.get_version().split(".")[:2]))
    expected = {"current": suite, "oldest": ("3.11", "4.2")}[target]
    assert (report["python"].rsplit(".", 1)[0], report["django"].rsplit(".", 1)[0]) == expected
