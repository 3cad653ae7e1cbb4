"""The built wheel carries everything, and installs into each Open edX release the plugin supports
(Teak and the current line, on Python 3.11) without changing any package the platform pins: in a
clean virtualenv holding the release's versions of the packages the plugin shares with the platform,
a plain ``pip install`` of the wheel changes none of them, ``pip check`` is clean, the plugin's
migrations apply on MariaDB and the block renders."""
import json
import os
import re
import subprocess
import sys
import uuid
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


def test_the_editable_install_prints_no_setuptools_warning(tmp_path):
    """As `make demo` installs the plugin (pip install -e, setuptools in pip's isolated build environment):
    the package's data folders are declared as setuptools wants them (no warning per folder of static files,
    templates or translations) and the editable install is a plain path entry (no "Editable installation"
    notice)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--no-deps", "-e",
                             str(REPO)], capture_output=True, text=True, cwd=tmp_path, check=True)
    output = result.stdout + result.stderr
    for warning in ("Warning", "warning:", "is absent from the `packages` configuration", "Editable installation"):
        assert warning not in output, output[-3000:]


def _make_dry_run(target, venv):
    result = subprocess.run(["make", "-n", target, f"VENV={venv}"], capture_output=True, text=True, cwd=REPO,
                            check=True)
    return result.stdout


def test_make_demo_installs_no_test_tools_and_make_test_does(tmp_path):
    venv = tmp_path / "fresh-venv"  # as on a fresh clone: nothing installed yet
    demo = _make_dry_run("demo", venv)
    assert f"scripts/make_venv.sh {venv} requirements/current.txt demo\n" in demo
    for tool in ("chromium", "libreoffice", "npm install", "demo,test"):
        assert tool not in demo, tool
    test = _make_dry_run("test-current", venv)
    for tool in ("chromium", "libreoffice-calc-nogui", "npm install", "axe-core@", "demo,test"):
        assert tool in test, tool


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


#: The Open edX releases the plugin installs into: their constraints file and their Django.
RELEASES = {"current": ("current.txt", "5.2"), "teak": ("teak.txt", "4.2")}

#: What the plugin shares with the platform: a virtualenv holding a release's versions of these is
#: the platform as far as the plugin is concerned. Installing the wheel must change none of them.
PLATFORM_PACKAGES = ["Django", "XBlock", "edx-submissions", "edx-opaque-keys", "web-fragments", "celery", "kombu",
                     "redis", "django-redis", "Pillow", "edx-django-utils", "lxml", "mysqlclient"]


def platform_python():
    """The platform's Python (3.11), as the Makefile finds it."""
    found = subprocess.run([str(REPO / "scripts" / "find_python.sh")], capture_output=True, text=True,
                           env={**os.environ, "PYTHON_VERSION": "3.11"})
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def installed(python):
    """``{normalised name: version}`` of every package in a virtualenv."""
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True)
    return {re.sub(r"[-_.]+", "-", item["name"]).lower(): item["version"] for item in json.loads(listed.stdout)}


@pytest.fixture
def mariadb_database():
    """An empty MariaDB database for the installed plugin's migrations, dropped afterwards."""
    import MySQLdb

    name = f"viatique_pkg_{uuid.uuid4().hex[:10]}"
    server = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
    try:
        server.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        yield name
    finally:
        server.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        server.close()


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_wheel_installs_into_a_release_without_changing_it_and_renders(wheel, tmp_path, release, mariadb_database):
    constraints, django_line = RELEASES[release]
    venv = tmp_path / "venv"
    subprocess.run([platform_python(), "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The platform: the release's versions of the packages the plugin shares with it.
    platform = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(REPO / "requirements" / constraints), *PLATFORM_PACKAGES],
        capture_output=True, text=True,
    )
    assert platform.returncode == 0, platform.stderr[-3000:]
    before = installed(python)
    # What an operator does: a plain install of the plugin, no constraints.
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    after = installed(python)
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert changed == {}, f"installing the plugin changed the platform's packages: {changed}"
    assert "viatique-xblock" in after
    check = subprocess.run([str(python), "-m", "pip", "check", "--disable-pip-version-check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTHON"))}
    env["VIATIQUE_PACKAGING_DB"] = mariadb_database
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
    assert report["database"] == "mysql mariadb"
    assert "viatique_xblock_copy" in report["tables"] and "viatique_xblock_exam" in report["tables"]
    assert report["staff_dashboard"] and report["learner_status"]
    assert all(size > 100 for size in report["static_sizes"].values())
    assert report["graded_pdf"], "the installed PDF layer makes a graded PDF with its text"
    assert (report["python"].rsplit(".", 1)[0], report["django"].rsplit(".", 1)[0]) == ("3.11", django_line)
