"""Run inside a clean virtualenv where only the built wheel (and its dependencies) is installed.

Loads the three entry points, migrates an in-memory database, renders the block
for an instructor and a learner through a minimal LMS-like runtime, and reads the
block's static files through XBlock's resource API. Prints one JSON line.
"""
import json
import sys
from importlib.metadata import entry_points

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="packaging-test",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "submissions", "viatique_xblock"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
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

call_command("migrate", verbosity=0)


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

print(json.dumps({
    "entry_points": loaded,
    "module_file": viatique_xblock.__file__,
    "staff_dashboard": "Instructor dashboard" in staff_html,
    "learner_status": 'data-status="no_copy"' in learner_html,
    "static_sizes": static,
    "python": sys.version.split()[0],
}))
