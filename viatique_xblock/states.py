"""Copy states and the transitions the server allows between them.

Identity (``unidentified``/``identified``) is independent of the grading state.
No endpoint sets a state directly: domain functions call :func:`check_grading_transition`
before every change, and an illegal transition raises :class:`IllegalTransition`.
"""
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_


class Identity:
    UNIDENTIFIED = "unidentified"
    IDENTIFIED = "identified"
    CHOICES = [(UNIDENTIFIED, "unidentified"), (IDENTIFIED, "identified")]


class Grading:
    READY = "ready"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    GRADED = "graded"
    RENDER_FAILED = "render_failed"
    REOPENED = "reopened"
    CHOICES = [
        (READY, "ready"),
        (IN_PROGRESS, "in progress"),
        (SUBMITTED, "submitted"),
        (GRADED, "graded"),
        (RENDER_FAILED, "render failed"),
        (REOPENED, "reopened"),
    ]


class GradingMode:
    """How an exam's copies are graded (the block's ``grading_mode``): whole copies one after the other, or one
    question of every copy after the other (:mod:`viatique_xblock.grading.answers`)."""

    BY_COPY = "by_copy"
    BY_QUESTION = "by_question"
    CHOICES = [(BY_COPY, "by copy"), (BY_QUESTION, "by question")]
    #: what a new exam gets when its author chose nothing
    DEFAULT = BY_QUESTION


#: grading state -> states it may move to
GRADING_TRANSITIONS = {
    Grading.READY: {Grading.IN_PROGRESS},
    Grading.IN_PROGRESS: {Grading.SUBMITTED},
    Grading.SUBMITTED: {Grading.GRADED, Grading.RENDER_FAILED},
    Grading.RENDER_FAILED: {Grading.SUBMITTED, Grading.REOPENED},
    Grading.GRADED: {Grading.REOPENED},
    Grading.REOPENED: {Grading.SUBMITTED, Grading.IN_PROGRESS},
}


class BatchState:
    """A scan file's processing, once it was accepted (validated) and stored."""

    UPLOADING = "uploading"
    QUEUED = "queued"
    PROCESSING = "processing"
    ASSEMBLING = "assembling"
    DONE = "done"
    FAILED = "failed"
    CHOICES = [
        (UPLOADING, "uploading"),
        (QUEUED, "queued"),
        (PROCESSING, "processing"),
        (ASSEMBLING, "assembling"),
        (DONE, "done"),
        (FAILED, "failed"),
    ]


class UploadState:
    """A resumable upload: chunks arrive, then the file is assembled and validated."""

    OPEN = "open"
    ASSEMBLING = "assembling"
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    CHOICES = [
        (OPEN, "open"),
        (ASSEMBLING, "assembling"),
        (ACCEPTED, "accepted"),
        (DUPLICATE, "duplicate"),
        (REFUSED, "refused"),
    ]


class IllegalTransition(ViatiqueError):
    code = "illegal_transition"
    status = 409


def check_grading_transition(current, target):
    """Raise :class:`IllegalTransition` unless ``current -> target`` is allowed."""
    if target not in GRADING_TRANSITIONS.get(current, set()):
        raise IllegalTransition(
            N_("A copy cannot go from {current} to {target}."), current=current, target=target
        )
