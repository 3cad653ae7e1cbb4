"""The staff copy list at class scale: server-side search, filters, sort and pagination, with the same
number of queries at 10 and at 200 copies; names searched for instructors only."""
from urllib.parse import urlencode

import pytest

from tests.harness import call, make_block
from viatique_xblock.models import Copy, Page, ScanBatch
from viatique_xblock.states import Grading, Identity

pytestmark = pytest.mark.django_db

GRADERS = ("staff_1", "staff_2", "")
STATES = (Grading.READY, Grading.IN_PROGRESS, Grading.GRADED, Grading.REOPENED)


def seed(exam, count):
    """``count`` copies in bulk: one in five unidentified, dealt in turn to staff_1, staff_2 and nobody,
    in every grading state; one in seven misses its last page (the exam's pages per copy otherwise)."""
    pages_per_copy = exam.pages_per_copy
    batch = ScanBatch.objects.create(exam=exam, original_name="scan.pdf", sha256="0" * 64, state="done")
    copies = Copy.objects.bulk_create([
        Copy(exam=exam, anonymous_code=f"K{number:04d}", booklet_number=20000 + number,
             grader=GRADERS[number % 3], grading_state=STATES[number % 4],
             identity_state=Identity.UNIDENTIFIED if number % 5 == 0 else Identity.IDENTIFIED,
             learner_username="" if number % 5 == 0 else f"learner_{number}",
             learner_name="" if number % 5 == 0 else f"Élève Numéro{number}",
             learner_anonymous_id=None if number % 5 == 0 else f"anon-{number}")
        for number in range(count)])
    copies = list(Copy.objects.filter(exam=exam).order_by("anonymous_code"))
    pages = []
    for number, copy in enumerate(copies):
        kept = pages_per_copy - 1 if number % 7 == 0 else pages_per_copy
        pages.extend(Page(exam=exam, batch=batch, copy=copy, source_index=number * pages_per_copy + index,
                          position=index + 1, width_pt=595, height_pt=842) for index in range(kept))
    Page.objects.bulk_create(pages)
    return copies


def listing(block, **query):
    status, body = call(block, "list_copies", method="GET", query=urlencode(query))
    assert status == 200, body
    return body


def codes(body):
    return [row["code"] for row in body["copies"]]


@pytest.mark.parametrize("count", [10, 200])
def test_the_same_number_of_queries_at_10_and_200_copies(count, django_assert_num_queries):
    exam = make_block().get_exam()
    seed(exam, count)
    block = make_block()
    block.get_exam()
    # the exam, the count, the page, the graders to filter by: whatever the size, whatever the filters
    for query in ({}, {"q": "Numéro1"}, {"state": "graded", "sort": "-total"},
                  {"missing": "1", "grader": "staff_1", "identity": "identified", "sort": "name"}):
        with django_assert_num_queries(4):
            body = listing(block, limit=50, **query)
        assert body["count"] <= count and len(body["copies"]) == min(50, body["count"])


def test_search_finds_a_copy_by_code_booklet_or_name_for_instructors_only():
    exam = make_block().get_exam()
    seed(exam, 40)
    instructor = make_block()
    assert codes(listing(instructor, q="k0017")) == ["K0017"]
    assert codes(listing(instructor, q="20023")) == ["K0023"]
    assert codes(listing(instructor, q="numéro31")) == ["K0031"]
    assert codes(listing(instructor, q="learner_12")) == ["K0012"]
    target = Copy.objects.get(exam=exam, anonymous_code="K0008")
    assert codes(listing(instructor, q=target.public_id.upper())) == ["K0008"]
    # graders never search names, even when the exam is not graded anonymously
    for fields in ({}, {"anonymous_grading": False}):
        grader = make_block("staff_1", "staff", fields=fields)
        assert listing(grader, q="Numéro31")["count"] == 0
        assert listing(grader, q="learner_12")["count"] == 0
        assert codes(listing(grader, q="K0031")) == ["K0031"]


def test_filters_by_state_grader_identity_and_missing_pages():
    exam = make_block().get_exam()
    seed(exam, 42)
    instructor = make_block()
    graded = listing(instructor, state="graded", limit=200)
    assert graded["count"] == sum(1 for number in range(42) if STATES[number % 4] == Grading.GRADED)
    assert {row["state"] for row in graded["copies"]} == {"graded"}
    # "being graded" counts reopened copies too, as the progress counter does
    assert {row["state"] for row in listing(instructor, state="in_progress", limit=200)["copies"]} == {
        "in_progress", "reopened"}
    assert {row["grader"] for row in listing(instructor, grader="staff_2", limit=200)["copies"]} == {"staff_2"}
    assert {row["grader"] for row in listing(instructor, grader="none", limit=200)["copies"]} == {""}
    unidentified = listing(instructor, identity="unidentified", limit=200)
    assert unidentified["count"] == 9 and {row["identity"] for row in unidentified["copies"]} == {"unidentified"}
    missing = listing(instructor, missing="1", limit=200)
    assert codes(missing) == [f"K{number:04d}" for number in range(0, 42, 7)]
    assert {row["missing_pages"] for row in missing["copies"]} == {1}
    assert listing(instructor, q="K0001")["copies"][0]["missing_pages"] == 0
    # a copy accepted without its page leaves the filter, and still says how many pages it lacks
    Copy.objects.filter(exam=exam, anonymous_code="K0007").update(missing_accepted=True)
    assert codes(listing(instructor, missing="1", limit=200)) == [f"K{number:04d}" for number in range(0, 42, 7)
                                                                   if number != 7]
    assert listing(instructor, q="K0007")["copies"][0]["missing_pages"] == 1
    # filters combine
    both = listing(instructor, missing="1", grader="staff_1", limit=200)
    assert codes(both) == [f"K{number:04d}" for number in range(0, 42, 7) if number % 3 == 0]
    assert listing(instructor)["graders"] == ["staff_1", "staff_2"]


def test_a_grader_filters_only_by_their_own_name_and_sees_no_grader_list():
    exam = make_block().get_exam()
    seed(exam, 12)
    grader = make_block("staff_1", "staff")
    mine = listing(grader, grader="staff_1", limit=200)
    assert mine["count"] == 4 and "graders" not in mine
    assert listing(grader, grader="staff_2")["count"] == 0


def test_sort_and_pages():
    exam = make_block().get_exam()
    copies = seed(exam, 30)
    for index, copy in enumerate(copies):
        Copy.objects.filter(pk=copy.pk).update(total_points=(index * 7) % 30)
    instructor = make_block()
    by_total = listing(instructor, sort="-total", limit=10)
    totals = [float(row["total"]) for row in by_total["copies"]]
    assert totals == sorted(totals, reverse=True) and totals[0] == 29
    second = listing(instructor, sort="-total", limit=10, offset=10)
    assert not set(codes(by_total)) & set(codes(second)) and second["offset"] == 10
    by_name = listing(instructor, sort="name", identity="identified", limit=200)
    names = [row["name"] for row in by_name["copies"]]
    assert names == sorted(names)
    # a grader cannot sort by name (the order would tell who wrote a copy): the default order then
    grader = make_block("staff_1", "staff")
    default = codes(listing(grader, limit=200))
    assert codes(listing(grader, sort="name", limit=200)) == default
    assert default[:10] == sorted(c.anonymous_code for c in copies if c.grader == "staff_1")
