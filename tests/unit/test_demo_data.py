"""The demo exam's class scan (``viatique_demo_seed``): made by the real pipeline, every state, once."""
from decimal import Decimal

import pytest

from tests.harness import make_block
from viatique_xblock import demo_data, scheme
from viatique_xblock.models import AuditEvent, Booklet, Copy, Page, QuestionPoints, ScanBatch
from viatique_xblock.platform import storage
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import anomalies
from viatique_xblock.states import BatchState, Grading, Identity

# processing runs when the seed's transaction commits, as in the demo host (each test seeds: ~5 s)
pytestmark = pytest.mark.django_db(transaction=True)

LEARNERS = [Learner(username=f"learner_{n}", name=f"Élève {n}", anonymous_id=f"anon-{n}") for n in range(1, 11)]
WRITERS = ["Lina Faure", "Gabriel Bonnet"]


def counts(exam):
    return {model.__name__: model.objects.filter(**{"copy__exam" if model is QuestionPoints else "exam": exam}).count()
            for model in (ScanBatch, Booklet, Copy, Page, QuestionPoints, AuditEvent)}


@pytest.fixture
def seeded():
    block = make_block()
    assert demo_data.configure(block)
    exam = block.get_exam()
    batch = demo_data.seed(exam, LEARNERS, anonymous_names=WRITERS)
    return exam, batch


def copy_of(exam, number):
    return Copy.objects.get(exam=exam, learner_anonymous_id=f"anon-{number}")


def test_the_class_scan_is_imported_by_the_pipeline_with_its_faults_then_graded_in_part(seeded):
    exam, batch = seeded
    pages = exam.pages_per_copy
    assert batch.state == BatchState.DONE
    assert batch.uploaded_by == "demo" and batch.original_name == demo_data.SCAN_NAME
    assert batch.page_count == (len(LEARNERS) + demo_data.ANONYMOUS_BOOKLETS) * pages  # one missing, one twice
    copies = Copy.objects.filter(exam=exam)
    assert copies.count() == len(LEARNERS) + demo_data.ANONYMOUS_BOOKLETS
    # the prenamed booklets (random numbers, printed first) are identified by the pipeline; the anonymous
    # ones after them are not
    printed = list(Booklet.objects.filter(exam=exam).order_by("pk").values_list("number", flat=True))
    assert len(printed) == len(LEARNERS) + demo_data.ANONYMOUS_BOOKLETS and printed != sorted(printed)
    for number, learner in enumerate(LEARNERS, start=1):
        copy = copy_of(exam, number)
        assert (copy.booklet_number, copy.identity_state, copy.learner_username, copy.learner_name) == (
            printed[number - 1], Identity.IDENTIFIED, learner.username, learner.name)
    unnamed = copies.filter(identity_state=Identity.UNIDENTIFIED)
    assert sorted(unnamed.values_list("booklet_number", flat=True)) == sorted(printed[len(LEARNERS):])
    # the cover fed upside down is turned upright; the swapped pages are put back in order
    turned = copy_of(exam, demo_data.UPSIDE_DOWN[0] + 1).pages.get(position=demo_data.UPSIDE_DOWN[1])
    assert turned.rotation == 180
    booklet, (first, second) = demo_data.SWAPPED
    swapped = dict(copy_of(exam, booklet + 1).pages.values_list("position", "source_index"))
    assert sorted(swapped) == [1, 2, 3, 4] and swapped[first] > swapped[second]
    # the page scanned twice waits in the queue; the copy missing a page is listed
    queue = anomalies.queue(exam)
    assert [page["anomaly"] for page in queue["pages"]] == ["duplicate"]
    assert queue["pages"][0]["code"].split(":")[2:4] == [str(printed[demo_data.DUPLICATED[0]]),
                                                         str(demo_data.DUPLICATED[1])]
    missing = copy_of(exam, demo_data.MISSING[0] + 1)
    assert queue["incomplete_copies"] == [{"id": missing.public_id, "code": missing.anonymous_code,
                                           "missing": [demo_data.MISSING[1]]}]
    # every placed page has its image
    assert not Page.objects.filter(exam=exam, image_name="").exists()

    # then a few copies are graded (points on every question, within maximum and step) or assigned
    leaves = scheme.leaves(exam.scheme)
    for number, (state, grader, fraction) in enumerate(demo_data.PLAN, start=1):
        copy = copy_of(exam, number)
        assert (copy.grading_state, copy.grader) == (state, grader)
        points = {p.question_id: p.points for p in QuestionPoints.objects.filter(copy=copy)}
        if fraction is None:
            assert points == {} and copy.total_points is None
            continue
        assert sorted(points) == sorted(leaf["id"] for leaf in leaves)
        for leaf in leaves:
            value = points[leaf["id"]]
            assert 0 <= value <= Decimal(str(leaf["max"]))
            assert value % Decimal(str(leaf["step"])) == 0
        assert copy.total_points == sum(points.values()) and copy.graded_at is not None
        # with comments, annotations and the graded PDF rendered by the render task's code
        assert set(QuestionPoints.objects.filter(copy=copy).values_list("comment", flat=True)) <= \
            set(demo_data.QUESTION_COMMENTS.values())
        assert copy.annotations.count() == len(demo_data.ANNOTATIONS)
        assert copy.graded_pdf_name and storage.get_storage().exists(copy.graded_pdf_name)
    assert copy_of(exam, 1).total_points == 16
    others = Copy.objects.filter(exam=exam).exclude(learner_anonymous_id__in=[f"anon-{n}" for n in range(1, 7)])
    assert set(others.values_list("grading_state", "grader")) == {(Grading.READY, "")}


def test_a_second_seed_changes_nothing(seeded):
    exam, _batch = seeded
    before = counts(exam)
    assert demo_data.seed(exam, LEARNERS, anonymous_names=WRITERS) is None
    assert counts(exam) == before
    # a demo database seeded by an earlier version (graded copies without comments, annotations or PDF)
    # gets them on the next seed
    old = copy_of(exam, 1)
    old.annotations.all().delete()
    QuestionPoints.objects.filter(copy=old).update(comment="")
    Copy.objects.filter(pk=old.pk).update(graded_pdf_name="")
    assert demo_data.seed(exam, LEARNERS, anonymous_names=WRITERS) is None
    old.refresh_from_db()
    assert old.grading_state == Grading.GRADED and old.graded_pdf_name
    assert old.annotations.count() == len(demo_data.ANNOTATIONS)
    assert not QuestionPoints.objects.filter(copy=old, comment="").exists()
