"""The demo exam's class scan, made and imported by the real pipeline (demo host and browser tests).

Used by ``manage.py viatique_demo_seed``; not reachable from any handler. :func:`seed`:

1. prints one prenamed booklet per learner given (random booklet numbers) and ``anonymous``
   anonymous booklets after them (:func:`viatique_xblock.scanning.booklets.print_booklets`);
2. "fills them in" with pupils' handwriting-like marks, and writes a name by hand on the
   cover of each anonymous booklet (:func:`viatique_xblock.pdf.synthetic.fill_in`);
3. scans them as one class scan with noise and slight skew, where the scanner got a few
   sheets wrong (:data:`UPSIDE_DOWN`, :data:`DUPLICATED`, :data:`MISSING`, :data:`SWAPPED`);
4. imports the scan through the upload's own path (validation, batch, processing and
   assembly, run in this process): prenamed copies are identified from their booklets,
   the duplicated page waits in the anomaly queue and the copy missing a page is listed;
5. gives a few copies grading states (:data:`PLAN`): graded with points and a comment on
   every question, a few annotations (:data:`ANNOTATIONS`) and a general comment, in
   progress, assigned to graders. These rows are written directly, as an import of
   already-graded work would be; the graded copies are then finalized as the grading
   workspace does (``submitted``) and their graded PDF rendered by the render task's own
   code (:func:`viatique_xblock.grading.rendering.render_copy`), which makes them ``graded``.
   Results stay unreleased: the instructor releases them.

A second call changes nothing: the exam already has a scan batch.
"""
import io
import re
from decimal import Decimal

import pymupdf
from django.db import transaction
from django.utils import timezone

from viatique_xblock import audit, scheme as scheme_module
from viatique_xblock.grading import rendering
from viatique_xblock.models import Annotation, Copy, QuestionPoints, ScanBatch
from viatique_xblock.pdf import synthetic
from viatique_xblock.scanning import batches, booklets
from viatique_xblock.states import BatchState, Grading

DEMO_SCHEME = {
    "questions": [
        {"id": "q1", "label": "Exercice 1 : suites", "children": [
            {"id": "q2", "label": "1. a) Conjecture", "max": 2, "step": 0.5,
             "layout": {"pages": [1], "box": {"page": 1, "x0": 0.04, "y0": 0.14, "x1": 0.96, "y1": 0.6}}},
            {"id": "q3", "label": "1. b) Récurrence", "max": 3, "step": 0.5,
             "layout": {"pages": [1, 2], "box": {"page": 2, "x0": 0.04, "y0": 0.04, "x1": 0.96, "y1": 0.5}}},
        ]},
        {"id": "q4", "label": "Exercice 2 : probabilités", "max": 5, "step": 0.25,
         "layout": {"pages": [2], "box": {"page": 2, "x0": 0.04, "y0": 0.45, "x1": 0.96, "y1": 0.97}}},
        {"id": "q5", "label": "Exercice 3 : géométrie dans l'espace", "max": 6, "step": 0.5,
         "layout": {"pages": [3]}},
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
    # the demo's workspace grades whole copies until the focused by-question workspace replaces it
    "grading_mode": "by_copy",
}

SCAN_NAME = "bac-blanc-scan.pdf"
UPLOADED_BY = "demo"
ANONYMOUS_BOOKLETS = 2
RANDOM_SEED = 2024
SKEW = 1.5  # degrees, at most, either way

# What the scanner got wrong, as (booklet in print order, 0-based; page, 1-based):
#: the cover of the 5th booklet went through upside down (the pipeline turns it upright)
UPSIDE_DOWN = (4, 1)
#: page 2 of the 6th booklet went through twice (the second one waits in the anomaly queue)
DUPLICATED = (5, 2)
#: page 3 of the 7th booklet never reached the scanner (its copy is listed as missing it)
MISSING = (6, 3)
#: pages 2 and 3 of the 8th booklet were scanned in the wrong order (put back in order)
SWAPPED = (7, (2, 3))

#: grading states of the copies of the prenamed booklets, by learner position in the list:
#: (grading state, grader, fraction of each question's maximum given)
PLAN = [
    (Grading.GRADED, "staff_1", Decimal("0.8")),
    (Grading.GRADED, "staff_2", Decimal("0.55")),
    (Grading.GRADED, "staff_1", Decimal("0.35")),
    (Grading.IN_PROGRESS, "staff_2", None),
    (Grading.READY, "staff_1", None),
    (Grading.READY, "staff_2", None),
]
GENERAL_COMMENT = "Travail sérieux ; soignez la rédaction."
#: the comment of each question of a graded copy
QUESTION_COMMENTS = {
    "q2": "Conjecture juste, à justifier par le calcul des premiers termes.",
    "q3": "L'hérédité est bien menée ; l'initialisation manque.",
    "q4": "Arbre pondéré correct.",
    "q5": "Vecteur normal juste, équation du plan à vérifier.",
    "q6": "Bonne étude des variations.",
}
#: annotations of a graded copy: (page position, kind, x, y, width, height, text, question id, points)
ANNOTATIONS = [
    (1, "tick", 0.72, 0.30, 0, 0, "", "q2", Decimal("1")),
    (2, "comment", 0.52, 0.22, 0.4, 0.07, "Initialisation oubliée", "q3", None),
    (2, "highlight", 0.08, 0.45, 0.84, 0.05, "", "", None),
    (3, "cross", 0.66, 0.52, 0, 0, "", "q5", None),
    (4, "text", 0.10, 0.80, 0.5, 0.05, "Très bonne fin de copie", "", None),
]

#: the fake copies that earlier versions of this module wrote (codes C001...; no page)
OLD_FAKE_CODE = re.compile(r"^C\d{3}$")


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


def scan_order(booklets, pages):
    """The source page indexes the scanner saw, in order (see the faults above)."""
    order = []
    for booklet in range(booklets):
        sequence = list(range(1, pages + 1))
        if booklet == SWAPPED[0]:
            first, second = (sequence.index(page) for page in SWAPPED[1])
            sequence[first], sequence[second] = sequence[second], sequence[first]
        for page in sequence:
            if (booklet, page) == MISSING:
                continue
            order.append(booklet * pages + page - 1)
            if (booklet, page) == DUPLICATED:
                order.append(booklet * pages + page - 1)
    return order


def class_scan(printed, names, pages, seed=RANDOM_SEED):
    """The scanner-style PDF of the printed booklets once filled in by the class.

    ``printed`` are the booklets' PDFs (bytes) in print order; ``names`` maps the
    0-based index of a booklet to the name its pupil wrote on its cover.
    """
    booklets = pymupdf.open()
    for pdf in printed:
        with pymupdf.open(stream=pdf, filetype="pdf") as part:
            booklets.insert_pdf(part)
    count = booklets.page_count // pages
    filled = synthetic.fill_in(booklets.tobytes(), seed=seed, pages_per_booklet=pages,
                               names={booklet * pages: name for booklet, name in names.items()})
    turned = UPSIDE_DOWN[0] * pages + UPSIDE_DOWN[1] - 1
    return synthetic.scan(filled, skew=SKEW, upside_down=(turned,), order=scan_order(count, pages), seed=seed)


def _drop_old_fake_copies(exam):
    """Remove the page-less sample copies an earlier demo seed wrote (no real code has a 0)."""
    fake = [copy.pk for copy in Copy.objects.filter(exam=exam, pages__isnull=True).only("pk", "anonymous_code")
            if OLD_FAKE_CODE.match(copy.anonymous_code)]
    Copy.objects.filter(pk__in=fake).delete()
    return len(fake)


def seed(exam, learners, anonymous_names=(), anonymous=ANONYMOUS_BOOKLETS):
    """Print, fill in, scan and import the demo class scan of ``exam`` once; see the module docstring.

    ``learners`` (:class:`~viatique_xblock.platform.compat.Learner`, in booklet order) get the
    prenamed booklets; ``anonymous_names`` are written by hand on the covers of the
    anonymous booklets. Returns the new :class:`~.models.ScanBatch`, or None when the
    exam already had a scan (whose graded copies an earlier version of this module left without
    comments, annotations and PDF are then completed: :func:`complete_graded`).
    """
    if ScanBatch.objects.filter(exam=exam).exists():
        complete_graded(exam, learners)
        return None
    pages = exam.pages_per_copy
    with transaction.atomic():
        _drop_old_fake_copies(exam)
        prenamed, _first = booklets.print_booklets(exam, blank_pages=pages, learners=list(learners))
        unnamed, _first = booklets.print_booklets(exam, blank_pages=pages, copies=anonymous)
        names = {len(learners) + index: name for index, name in enumerate(anonymous_names[:anonymous])}
        data = class_scan([prenamed, unnamed], names, pages)
        info = batches.validate_bytes(data)
        # processed here, as soon as this transaction commits (the upload's own path)
        batch = batches.create_batch(exam, SCAN_NAME, info.sha256, info, io.BytesIO(data),
                                   uploaded_by=UPLOADED_BY, send=batches.run_locally)
    batch.refresh_from_db()
    if batch.state != BatchState.DONE:
        raise RuntimeError(f"The demo scan was not processed: {batch.state} {batch.error_code}")
    grade(exam, learners)
    return batch


def _annotate(copy, grader):
    pages = {page.position: page for page in copy.pages.filter(discarded=False)}
    Annotation.objects.bulk_create(
        Annotation(copy=copy, page=pages[position], kind=kind, x=x, y=y, width=width, height=height, text=text,
                   question_id=question_id, points=points, author=grader)
        for position, kind, x, y, width, height, text, question_id, points in ANNOTATIONS if position in pages
    )


def _finalize_and_render(copy_pks, scale):
    """The graded demo copies, finalized (``submitted``), are rendered: ``graded`` with their PDF."""
    for pk in copy_pks:
        rendering.render_copy(pk, scale=scale)


def complete_graded(exam, learners, scale=DEMO_SETTINGS["grade_scale"]):
    """Give the graded copies of :data:`PLAN` that have no graded PDF (seeded by an earlier version of this
    module) their comments, annotations and PDF; returns how many. Nothing to do on a current seed."""
    pending = []
    with transaction.atomic():
        for learner, (_state, grader, fraction) in zip(learners, PLAN):
            copy = Copy.objects.filter(exam=exam, learner_anonymous_id=learner.anonymous_id,
                                       grading_state=Grading.GRADED, graded_pdf_name="").first()
            if fraction is None or copy is None:
                continue
            for question_id, comment in QUESTION_COMMENTS.items():
                QuestionPoints.objects.filter(copy=copy, question_id=question_id, comment="").update(comment=comment)
            if not copy.annotations.exists():
                _annotate(copy, grader)
            copy.grading_state = Grading.SUBMITTED
            copy.save(update_fields=["grading_state", "updated_at"])
            pending.append(copy.pk)
    _finalize_and_render(pending, scale)
    return len(pending)


def grade(exam, learners, scale=DEMO_SETTINGS["grade_scale"]):
    """Give the copies of the first learners the grading states of :data:`PLAN`; render the graded ones."""
    leaves = scheme_module.leaves(exam.scheme)
    finalized = []
    with transaction.atomic():
        for learner, (state, grader, fraction) in zip(learners, PLAN):
            copy = Copy.objects.get(exam=exam, learner_anonymous_id=learner.anonymous_id)
            copy.grading_state, copy.grader = state, grader
            if fraction is not None:
                points = [
                    QuestionPoints(copy=copy, question_id=leaf["id"], points=_points(leaf, fraction), grader=grader,
                                   comment=QUESTION_COMMENTS.get(leaf["id"], ""),
                                   # typed points: the adjustment against the question's base (no rubric item)
                                   adjustment=_points(leaf, fraction) - scheme_module.base_points(leaf))
                    for leaf in leaves
                ]
                QuestionPoints.objects.bulk_create(points)
                _annotate(copy, grader)
                copy.total_points = sum(p.points for p in points)
                copy.general_comment = GENERAL_COMMENT
                copy.finalized_at = timezone.now()
                # finalized: the render below makes it graded, with its PDF
                copy.grading_state = Grading.SUBMITTED
                finalized.append(copy.pk)
            copy.save()
        audit.record(exam, "demo.seeded", details={"batch_file": SCAN_NAME, "graded": len(finalized),
                                                   "assigned": len(PLAN[:len(learners)])})
    _finalize_and_render(finalized, scale)
