"""The LMS's user retirement, as a plugin meets it: the platform's retirement signals and retired usernames.

For the duration of one test (the :func:`lms_retirement` fixture, on top of :func:`tests.lms_grades.lms_gradebook`,
whose LMS modules it extends), modules named exactly like the LMS's are installed in ``sys.modules``:

- ``openedx.core.djangoapps.user_api.accounts.signals`` with ``USER_RETIRE_LMS_CRITICAL`` and
  ``USER_RETIRE_LMS_MISC`` (``django.dispatch.Signal()``, as in edx-platform);
- ``common.djangoapps.student.models.get_retired_username_by_username``, which gives the LMS's form of a
  retired username (``retired__user_`` and a hash of the username and a salt).

Viatique's receiver is connected the way the app's ``ready`` connects it (``retirement.connect``), once the
modules are there. :meth:`Retirement.retire` sends the signals as the LMS's retirement steps do: ``retire_misc``
sends ``USER_RETIRE_LMS_MISC``, then ``retire`` clears the profile's name, sends ``USER_RETIRE_LMS_CRITICAL``
and renames the user to the retired username.
"""
import hashlib
import sys
import types

import pytest
from django.dispatch import Signal

from tests import lms_grades
from viatique_xblock.identity import retirement

SIGNALS_MODULE = "openedx.core.djangoapps.user_api.accounts.signals"
RETIRED_USERNAME_FMT = "retired__user_{}"
SALT = "viatique-test-salt"
_MISSING = object()

MODULES = lms_grades._packages(SIGNALS_MODULE)


def retired_username_of(username):
    """The LMS's ``user_util.get_retired_username`` with one salt: ``retired__user_<sha1 of salt+username>``."""
    return RETIRED_USERNAME_FMT.format(hashlib.sha1((SALT + username.lower()).encode()).hexdigest())


class Retirement:
    def __init__(self):
        self.critical = Signal()
        self.misc = Signal()

    def install(self):
        signals_module = types.ModuleType(SIGNALS_MODULE)
        signals_module.USER_RETIRE_LMS_CRITICAL = self.critical
        signals_module.USER_RETIRE_LMS_MISC = self.misc
        for name in MODULES:
            module = signals_module if name == SIGNALS_MODULE else types.ModuleType(name)
            if name != SIGNALS_MODULE:
                module.__path__ = []
            sys.modules[name] = module
            parent, _dot, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
        sys.modules[lms_grades.STUDENT_MODULE].get_retired_username_by_username = retired_username_of
        assert retirement.connect()

    def retire(self, user):
        """The LMS's retirement steps that concern plugins, in the pipeline's order."""
        retired = retired_username_of(user.username)
        self.misc.send(sender=type(self), user=user)
        user.first_name = user.last_name = ""  # the retire step clears the profile first
        self.critical.send(sender=type(self), user=user)
        user.username = retired
        user.is_active = False
        user.save()
        return retired


@pytest.fixture
def lms_retirement(lms_gradebook):
    """A :class:`Retirement` installed as the LMS's modules for one test (with the LMS-like gradebook)."""
    saved = {name: sys.modules.get(name, _MISSING) for name in MODULES}
    retiring = Retirement()
    retiring.gradebook = lms_gradebook
    retiring.install()
    try:
        yield retiring
    finally:
        for name, module in saved.items():
            if module is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
