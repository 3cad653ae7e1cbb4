"""The demo user service: LMS-like users keyed on the workbench's ``?student=`` id.

It exposes the same attributes as the LMS's ``DjangoXBlockUserService``
(``edx-platform.user_role`` and friends), so the block cannot tell the
difference: ``instructor_*`` is an instructor, ``staff_*`` a grader (course
staff), anything else a learner.
"""
import hashlib

from django.conf import settings
from xblock.reference.user_service import UserService, XBlockUser

from viatique_xblock.platform import compat


def platform_role(username):
    if username.startswith("instructor_"):
        return "instructor"
    if username.startswith("staff_"):
        return "staff"
    return "student"


#: salt of the demo's anonymous ids. The LMS derives them from its SECRET_KEY; the demo host may not (its key is
#: random per var dir under `make serve`, and a database seeded by `make demo` must keep finding its learners),
#: and need not: in the workbench anyone is whoever ``?student=`` says, so these ids hide nothing.
ANONYMOUS_ID_SALT = "viatique-demo-host-not-secret"


def anonymous_id(username, course_key=compat.WORKBENCH_COURSE_KEY):
    """A stable per-course anonymous id, as the LMS derives one from a salt, course and user."""
    digest = hashlib.md5(f"{ANONYMOUS_ID_SALT}|{course_key}|{username}".encode(), usedforsecurity=False)
    return digest.hexdigest()


def full_name(username):
    names = dict(settings.VIATIQUE_DEMO_ROSTER + settings.VIATIQUE_DEMO_STAFF)
    return names.get(username, username)


class DemoUserService(UserService):
    """Loaded by the workbench runtime, which sets ``self.runtime`` (its ``user_id`` is ``?student=``)."""

    runtime = None

    def get_current_user(self):
        username = str(getattr(self.runtime, "user_id", None) or "learner_1")
        role = platform_role(username)
        user = XBlockUser(
            is_current_user=True,
            emails=[f"{username}@example.com"],
            full_name=full_name(username),
        )
        user.opt_attrs.update({
            compat.ATTR_USER_ID: username,
            compat.ATTR_USERNAME: username,
            compat.ATTR_USER_ROLE: role,
            compat.ATTR_USER_IS_STAFF: role != "student",
            compat.ATTR_ANONYMOUS_USER_ID: anonymous_id(username),
            compat.ATTR_IS_AUTHENTICATED: True,
        })
        return user


class DemoRosterService:
    """The demo class (``VIATIQUE_DEMO_ROSTER``) as Viatique's ``viatique_roster`` service."""

    runtime = None

    def enrolled(self, course_key):
        return [
            compat.Learner(username=username, name=name, anonymous_id=anonymous_id(username, course_key),
                           email=f"{username}@example.com")
            for username, name in settings.VIATIQUE_DEMO_ROSTER
        ]

    def staff(self, course_key):
        """Course staff who may grade: the demo's instructors and graders."""
        return list(settings.VIATIQUE_DEMO_STAFF)
