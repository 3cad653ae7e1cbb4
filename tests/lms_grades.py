"""An LMS-like gradebook: the platform's grade signal, and what the LMS does with a score.

For the duration of one test (the :func:`lms_gradebook` fixture), modules named exactly like the
LMS's are installed in ``sys.modules`` (and the previous entries put back afterwards):

- ``lms.djangoapps.grades.signals.signals`` with ``SCORE_PUBLISHED = django.dispatch.Signal()``;
- ``common.djangoapps.student.models`` with ``user_by_anonymous_id`` (a real Django user, or None).

A receiver of ``SCORE_PUBLISHED`` does what the LMS's ``score_published_handler`` and
courseware's ``set_score`` do (Teak): it writes ``grade`` / ``max_grade`` on the learner's
StudentModule for the block's usage key (here a dict, ``csm``), and records what the handler
then sends as ``PROBLEM_RAW_SCORE_CHANGED`` (``raw_score_changes``: weight, course and usage ids,
``score_deleted``).

:meth:`Gradebook.subsection` adds up a subsection as ``lms/djangoapps/grades/scores.py``
``get_score`` scores each block, in its order of priority: (1) the learner's edx-submissions score
for the block's usage key (the real ``submissions.api.get_scores``), taken as already weighted;
(2) the StudentModule's score when it has a total, weighted by the block's weight; (3) 0 of the
block's ``max_score()``, weighted. :func:`weighted_score` is the LMS's.
"""
import sys
import types
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.dispatch import Signal
from opaque_keys.edx.keys import UsageKey
from submissions import api as submissions_api

from viatique_xblock.platform import compat

SIGNALS_MODULE = "lms.djangoapps.grades.signals.signals"
STUDENT_MODULE = "common.djangoapps.student.models"
_MISSING = object()


def _packages(dotted):
    parts = dotted.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


MODULES = _packages(SIGNALS_MODULE) + _packages(STUDENT_MODULE)


def weighted_score(raw_earned, raw_possible, weight):
    """``lms/djangoapps/grades/scores.py`` ``weighted_score``: unweighted when there is no weight
    or nothing possible, else the share of ``weight`` earned."""
    assert raw_possible is not None
    if weight is None or raw_possible == 0:
        return (raw_earned, raw_possible)
    return float(raw_earned) * weight / raw_possible, float(weight)


@dataclass(frozen=True)
class Scored:
    """A scored block as the LMS's course structure has it: its location, weight and ``max_score()``."""

    location: object
    weight: object
    max_points: object

    def max_score(self):
        return self.max_points


def exam_in_course(block):
    """The Viatique block as a scored block of the course (its usage key, weight and max_score())."""
    return Scored(block.scope_ids.usage_id, block.weight, block.max_score())


def problem(usage_key, weight=None, max_points=1.0):
    """A problem of the same subsection (a CAPA problem's weight defaults to None)."""
    return Scored(UsageKey.from_string(usage_key), weight, max_points)


class Gradebook:
    """The LMS's side of the grade signal, for one test."""

    def __init__(self):
        self.signal = Signal()
        self.csm = {}  # (user id, usage key) -> {"grade": ..., "max_grade": ...}
        self.raw_score_changes = []
        self._users = {}  # anonymous id -> user
        self._anonymous_ids = {}  # user id -> anonymous id

    # ---------------------------------------------------------------- the platform's modules

    def user_by_anonymous_id(self, uid):
        return self._users.get(uid)

    def score_published_handler(self, sender, block, user, raw_earned, raw_possible, only_if_higher, **kwargs):
        """What the LMS's receiver does (without ``only_if_higher``, which Viatique never asks for)."""
        assert not only_if_higher
        assert isinstance(block.location, UsageKey)
        self.set_score(user.id, block.location, raw_earned, raw_possible)
        self.raw_score_changes.append({
            "raw_earned": raw_earned, "raw_possible": raw_possible, "weight": getattr(block, "weight", None),
            "user_id": user.id, "course_id": str(block.location.course_key), "usage_id": str(block.location),
            "score_deleted": kwargs.get("score_deleted", False),
        })

    def set_score(self, user_id, usage_key, score, max_score):
        """courseware's ``set_score``: the StudentModule's grade and max_grade (created when needed)."""
        row = self.csm.setdefault((user_id, str(usage_key)), {"grade": score, "max_grade": max_score})
        row["grade"], row["max_grade"] = score, max_score

    def install(self):
        signals_module = types.ModuleType(SIGNALS_MODULE)
        signals_module.SCORE_PUBLISHED = self.signal
        student_module = types.ModuleType(STUDENT_MODULE)
        student_module.user_by_anonymous_id = self.user_by_anonymous_id
        leaves = {SIGNALS_MODULE: signals_module, STUDENT_MODULE: student_module}
        for name in MODULES:
            module = leaves.get(name)
            if module is None:  # a package on the way
                module = types.ModuleType(name)
                module.__path__ = []
            sys.modules[name] = module
            parent, _dot, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
        self.signal.connect(self.score_published_handler, weak=False)

    # ---------------------------------------------------------------- test helpers

    def learner(self, anonymous_id, username=None):
        """A Django user the platform knows under ``anonymous_id``."""
        user = get_user_model().objects.create(username=username or anonymous_id.replace("anon-", "")[:150])
        self._users[anonymous_id] = user
        self._anonymous_ids[user.id] = anonymous_id
        return user

    def answer(self, user, block, earned, possible):
        """A problem graded by the platform (what ``runtime.publish(block, 'grade', ...)`` sends)."""
        self.signal.send(sender=None, block=block, user=user, raw_earned=earned, raw_possible=possible,
                         only_if_higher=None, score_deleted=None, grader_response=None)

    # ---------------------------------------------------------------- the LMS's grading

    def score(self, user, block, submissions_scores):
        """``(weighted earned, weighted possible)`` of one block, or None (not scored), as ``get_score``."""
        location = str(block.location)
        weight = getattr(block, "weight", None)
        submission = submissions_scores.get(location)
        if submission:
            return (submission["points_earned"], submission["points_possible"])
        row = self.csm.get((user.id, location))
        if row is not None and row["max_grade"] is not None:
            raw_earned = row["grade"] if row["grade"] is not None else 0.0
            return weighted_score(raw_earned, row["max_grade"], weight)
        raw_possible = block.max_score()
        if raw_possible is None:
            return None
        return weighted_score(0.0, raw_possible, weight)

    def subsection(self, user, blocks):
        """``(earned, possible)`` of a subsection holding ``blocks``, for ``user``."""
        course_id = str(UsageKey.from_string(str(blocks[0].location)).course_key)
        submissions_scores = submissions_api.get_scores(course_id, self._anonymous_ids[user.id])
        scores = [score for score in (self.score(user, block, submissions_scores) for block in blocks) if score]
        return (sum(earned for earned, _possible in scores), sum(possible for _earned, possible in scores))


@pytest.fixture
def lms_gradebook(db):
    """An :class:`Gradebook` installed as the LMS's modules for one test."""
    saved = {name: sys.modules.get(name, _MISSING) for name in MODULES}
    book = Gradebook()
    compat._platform_gradebook.cache_clear()
    book.install()
    try:
        yield book
    finally:
        book.signal.disconnect(book.score_published_handler)
        for name, module in saved.items():
            if module is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        compat._platform_gradebook.cache_clear()
