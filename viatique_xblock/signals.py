"""Domain signals, so modules react to each other's changes without importing each other.

Sent by the grading domain (:mod:`viatique_xblock.grading.workspace`), received by the
results domain (gradebook scores) among others. The copy signals carry ``copy``
(a :class:`~viatique_xblock.models.Copy`) and ``actor`` (a ``ViatiqueUser`` or None).
"""
from django.dispatch import Signal

#: a copy's graded PDF was rendered and the copy is now ``graded``
copy_graded = Signal()
#: a graded copy's points changed without reopening it (a living rubric item edited or deleted,
#: :mod:`viatique_xblock.grading.rubrics`): a released copy's new total must be published; receivers return
#: True when they published it
copy_rescored = Signal()
#: an instructor reopened a graded copy (its published score, if any, must be withdrawn)
copy_reopened = Signal()
#: a user was retired (:mod:`viatique_xblock.identity.retirement`): sent with ``username`` (the original),
#: ``retired_username`` and ``copy_ids`` (the copies whose grading lease they ever took), no ``copy``;
#: the grading stage drops the leases the user still holds
user_retired = Signal()
