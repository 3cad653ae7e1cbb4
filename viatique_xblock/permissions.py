"""Who may do what. Each check raises :class:`PermissionDenied` with a translated message."""
from . import compat
from .errors import PermissionDenied
from .i18n import N_


def staff(block, user):
    """Instructors and graders."""
    if not user.is_staff:
        raise PermissionDenied(N_("Only course staff can do this."))


def instructor(block, user):
    """Instructors only."""
    if not user.is_instructor:
        raise PermissionDenied(N_("Only instructors can do this."))


def author(block, user):
    """Editing the block's settings: course staff, who may edit the course in Studio anyway.

    Studio checks course-author access before it calls a handler; the LMS and the
    workbench do not, so a learner is refused here.
    """
    if compat.is_studio(block) or user.is_staff:
        return
    raise PermissionDenied(N_("Only the course team can change the exam settings."))
