"""Run inside a clean virtualenv where only the built wheel (and its dependencies) is installed.

Loads the three entry points, applies the plugin's migrations to a MariaDB database
(``VIATIQUE_PACKAGING_DB``, made and dropped by the test; SQLite in memory without it), renders the block
for an instructor and a learner through a minimal LMS-like runtime, reads the
block's static files through XBlock's resource API, and makes a graded PDF with the
installed PDF layer. Prints one JSON line.
"""
import json
import os
import sys
from importlib.metadata import entry_points

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="packaging-test",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "submissions", "viatique_xblock"],
    DATABASES={"default": (
        {"ENGINE": "django.db.backends.mysql", "NAME": os.environ["VIATIQUE_PACKAGING_DB"],
         "HOST": os.environ.get("VIATIQUE_PACKAGING_DB_HOST", "127.0.0.1"), "PORT": "3306", "USER": "root",
         "OPTIONS": {"charset": "utf8mb4"}}
        if os.environ.get("VIATIQUE_PACKAGING_DB") else
        {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"})},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    USE_TZ=True,
)
django.setup()

from django.core.management import call_command  # noqa: E402
from opaque_keys.edx.keys import UsageKey  # noqa: E402
from xblock.field_data import DictFieldData  # noqa: E402
from xblock.fields import ScopeIds  # noqa: E402
from xblock.reference.user_service import UserService, XBlockUser  # noqa: E402
from xblock.runtime import Runtime  # noqa: E402

loaded = {}
for group in ("xblock.v1", "lms.djangoapp", "cms.djangoapp"):
    (point,) = [ep for ep in entry_points(group=group) if ep.value.startswith("viatique_xblock")]
    loaded[group] = f"{point.name}={point.load().__module__}"

# The plugin's migrations and what they depend on. (edx-submissions' own 0006 fails on MariaDB in its
# 3.12 and 4.0 releases, with or without the plugin: see docs/operations.md.)
call_command("migrate", "viatique_xblock", verbosity=0)
from django.db import connection  # noqa: E402

with connection.cursor() as cursor:
    tables = set(connection.introspection.table_names(cursor))


class User(UserService):
    def __init__(self, role):
        super().__init__()
        self.role = role

    def get_current_user(self):
        user = XBlockUser(is_current_user=True, full_name="Test")
        user.opt_attrs.update({"edx-platform.username": f"{self.role}_1", "edx-platform.user_role": self.role,
                               "edx-platform.anonymous_user_id": f"anon-{self.role}",
                               "edx-platform.user_is_staff": self.role != "student"})
        return user


class LmsRuntime(Runtime):
    def handler_url(self, *args, **kwargs):
        return "/handler"

    def local_resource_url(self, block, uri):
        return "/resource/" + uri

    def resource_url(self, resource):
        return "/static/" + resource

    def publish(self, *args):
        pass


def render(role):
    block_class = entry_points(group="xblock.v1")["viatique"].load()
    runtime = LmsRuntime(None, None, services={"user": User(role), "field-data": DictFieldData({})})
    usage = UsageKey.from_string("block-v1:Org+C+R+type@viatique+block@b1")
    block = block_class(runtime, scope_ids=ScopeIds("u", "viatique", usage, usage))
    return block_class, block.student_view().content


block_class, staff_html = render("instructor")
_, learner_html = render("student")
static = {uri: len(block_class.open_local_resource(uri).read())
          for uri in ("static/js/viatique_staff.js", "static/js/viatique_common.js", "static/css/viatique.css")}
import viatique_xblock  # noqa: E402


def graded_pdf_text():
    """A graded PDF of a one-page scan with one annotation, made by the installed PDF layer; its text."""
    import pymupdf

    from viatique_xblock.pdf.graded import render_graded_pdf

    scan = pymupdf.open()
    scan.new_page(width=595, height=842).insert_text((72, 100), "Copie", fontsize=18)
    data = render_graded_pdf(
        {"s": scan.tobytes()}, [{"source": "s", "index": 0, "rotation": 0}],
        [{"page": 0, "kind": "comment", "x": 0.1, "y": 0.2, "width": 0.4, "height": 0.05,
          "text": "Très bien : ∀ ε > 0", "question_label": "Q1", "points": "2"}],
        {"title": "Examen", "code": "A1", "total": "2", "max": "5", "scale_total": None, "scale": None,
         "questions": [{"id": "q1", "label": "Q1", "points": "2", "max": "5", "comment": ""}],
         "general_comment": "Bien.", "grader": None})
    with pymupdf.open(stream=data, filetype="pdf") as graded:
        return "".join(page.get_text() for page in graded)


pdf_text = "".join(graded_pdf_text().split())

print(json.dumps({
    "entry_points": loaded,
    "module_file": viatique_xblock.__file__,
    "staff_dashboard": "Instructor dashboard" in staff_html,
    "learner_status": 'data-status="no_copy"' in learner_html,
    "static_sizes": static,
    "graded_pdf": "Trèsbien:∀ε>0" in pdf_text and "Bien." in pdf_text,
    "python": sys.version.split()[0],
    "database": connection.vendor + (" mariadb" if getattr(connection, "mysql_is_mariadb", False) else ""),
    "tables": sorted(name for name in tables if name.startswith("viatique_")),
    "django": django.get_version(),
}))
