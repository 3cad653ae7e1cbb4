"""Sample copies for the demo host and the browser tests: every dashboard state, no scans.

Used by ``manage.py viatique_demo_seed``. It writes rows directly, as an import of
already-graded work would; it is not reachable from any handler.
"""
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from . import audit, scheme as scheme_module
from .models import Copy, QuestionPoints
from .states import Grading, Identity

DEMO_SCHEME = {
    "questions": [
        {"id": "q1", "label": "Exercice 1 : suites", "children": [
            {"id": "q2", "label": "1. a) Conjecture", "max": 2, "step": 0.5},
            {"id": "q3", "label": "1. b) Récurrence", "max": 3, "step": 0.5},
        ]},
        {"id": "q4", "label": "Exercice 2 : probabilités", "max": 5, "step": 0.25},
        {"id": "q5", "label": "Exercice 3 : géométrie dans l'espace", "max": 6, "step": 0.5},
        {"id": "q6", "label": "Exercice 4 : fonction exponentielle", "max": 4, "step": 0.5},
    ],
    "next_id": 7,
}

#: the demo block's settings, applied once by ``viatique_demo_seed``
DEMO_SETTINGS = {
    "display_name": "Bac blanc de mathématiques",
    "pages_per_copy": 4,
    "grade_scale": 20,
    "marking_scheme": DEMO_SCHEME,
}

#: (grading state, identified, grader, fraction of the maximum given)
PLAN = [
    (Grading.GRADED, True, "staff_1", Decimal("0.8")),
    (Grading.GRADED, True, "staff_2", Decimal("0.55")),
    (Grading.GRADED, True, "staff_1", Decimal("0.35")),
    (Grading.IN_PROGRESS, True, "staff_2", None),
    (Grading.READY, True, "staff_1", None),
    (Grading.READY, True, "staff_2", None),
    (Grading.READY, True, "", None),
    (Grading.READY, True, "", None),
    (Grading.READY, False, "", None),
    (Grading.READY, False, "", None),
]


def _points(leaf, fraction):
    step = Decimal(str(leaf["step"]))
    maximum = Decimal(str(leaf["max"]))
    return min(maximum, (maximum * fraction / step).quantize(Decimal(1)) * step)


def configure(block):
    """Give a block never edited in Studio the demo settings; return True when it did."""
    if block.fields["marking_scheme"].is_set_on(block):
        return False
    for name, value in DEMO_SETTINGS.items():
        setattr(block, name, value)
    block.save()
    return True


def seed(exam, roster, anonymous_id_of):
    """Create the demo copies of ``exam`` once; a second call changes nothing.

    ``roster`` is ``[(username, full name), ...]``; ``anonymous_id_of(username)``
    gives the learner's anonymous id as the user service does.
    """
    if Copy.objects.filter(exam=exam).exists():
        return 0
    leaves = scheme_module.leaves(exam.scheme)
    with transaction.atomic():
        for number, (state, identified, grader, fraction) in enumerate(PLAN, start=1):
            username, name = roster[number - 1] if identified else ("", "")
            copy = Copy.objects.create(
                exam=exam,
                anonymous_code=f"C{number:03d}",
                booklet_number=number,
                identity_state=Identity.IDENTIFIED if identified else Identity.UNIDENTIFIED,
                learner_anonymous_id=anonymous_id_of(username) if identified else None,
                learner_username=username,
                learner_name=name,
                grading_state=state,
                grader=grader,
            )
            if fraction is not None:
                points = [
                    QuestionPoints(copy=copy, question_id=leaf["id"], points=_points(leaf, fraction), grader=grader)
                    for leaf in leaves
                ]
                QuestionPoints.objects.bulk_create(points)
                copy.total_points = sum(p.points for p in points)
                copy.general_comment = "Travail sérieux ; soignez la rédaction."
                copy.finalized_at = copy.graded_at = timezone.now()
                copy.save()
        audit.record(exam, "demo.seeded", details={"copies": len(PLAN)})
    return len(PLAN)
