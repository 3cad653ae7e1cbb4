"""Who may do what. Each check raises :class:`PermissionDenied` with a translated message."""
from viatique_xblock.errors import PermissionDenied
from viatique_xblock.i18n import N_
from viatique_xblock.platform import compat


def staff(block, user):
    """Instructors and graders."""
    if not user.is_staff:
        raise PermissionDenied(N_("Only course staff can do this."))


def instructor(block, user):
    """Instructors only."""
    if not user.is_instructor:
        raise PermissionDenied(N_("Only instructors can do this."))


def author(block, user):
    """Editing the block's settings: in Studio, whoever Studio lets edit the course; elsewhere
    (the LMS, the workbench) instructors only.

    Studio checks course-author access before it calls a handler; the LMS and the
    workbench do not. A grader posting the settings from the LMS would otherwise turn
    anonymous grading off for the exam (its row is updated at once) and see the names.
    """
    if compat.is_studio(block) or user.is_instructor:
        return
    if user.is_staff:
        raise PermissionDenied(N_("Only instructors can change the exam settings here; use Studio."))
    raise PermissionDenied(N_("Only the course team can change the exam settings."))
