"""The lockout policy on the real Redis cache, through the LMS-like harness: counts, thresholds per user
and per address, 429 with Retry-After on every handler, lift, and what never counts."""
import concurrent.futures

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.harness import make_block
from tests.unit.downloads_support import stored_files  # noqa: F401  (fixture)
from tests.unit.downloads_support import ADDRESS, body, graded_copy, learner, release, send
from viatique_xblock.errors import LockedOut
from viatique_xblock.models import AuditEvent, LockoutRecord
from viatique_xblock.platform import compat, conf, lockout, redis_client

pytestmark = pytest.mark.django_db

WINDOW = 900


@pytest.fixture
def released(stored_files):  # noqa: F811
    """A released exam where learner_1 and learner_2 each have a graded copy."""
    exam = make_block().get_exam()
    copies = {name: graded_copy(exam, stored_files, code, name)
              for name, code in (("learner_1", "A1"), ("learner_2", "B2"), ("learner_3", "C3"))}
    release(exam)
    return copies


def deny(block, times, address=ADDRESS):
    """``times`` requests for a copy that is not the requester's; returns their statuses."""
    return [send(block, "graded_pdf", str(10 ** 9 + index), address=address).status_code for index in range(times)]


def test_the_policy_numbers_by_default():
    assert (conf.get("LOCKOUT_USER_FAILURES"), conf.get("LOCKOUT_ADDRESS_FAILURES")) == (5, 100)
    assert (conf.get("LOCKOUT_WINDOW_SECONDS"), conf.get("LOCKOUT_SECONDS")) == (900, 900)
    assert caches[conf.get("CACHE_ALIAS")].__class__.__module__.startswith("django_redis")  # the real thing


def test_five_denials_lock_the_user_out_of_every_handler_with_429_and_retry_after(released):
    block = learner("learner_1")
    assert deny(block, 5) == [404] * 5
    response = send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id)
    assert response.status_code == 429
    answer = body(response)
    assert answer["error"] == "locked_out" and answer["message"]
    assert WINDOW - 5 <= answer["retry_after"] <= WINDOW
    assert response.headers["Retry-After"] == str(answer["retry_after"])
    # every handler of the block, whatever the method, before any permission check
    for handler, method in (("download_url", "POST"), ("lockouts", "GET"), ("list_copies", "GET")):
        response = send(learner("learner_1"), handler, method=method, data={})
        assert (response.status_code, body(response)["error"]) == (429, "locked_out")


def test_four_denials_do_not_lock(released):
    assert deny(learner("learner_1"), 4) == [404] * 4
    assert send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id).status_code == 200


def test_a_lock_leaves_a_record_an_audit_event_and_a_tracking_event(released):
    block = learner("learner_1")
    deny(block, 5)
    record = LockoutRecord.objects.get()
    assert (record.kind, record.subject, record.course_key) == ("user", "learner_1", "course-v1:Viatique+T101+2026")
    event = AuditEvent.objects.get(action="lockout.started")
    assert event.actor == "learner_1" and event.client_ip == ADDRESS
    assert event.details == {"lockout_id": record.pk, "kind": "user", "subject": "learner_1", "failures": 5,
                             "seconds": 900, "reason": "not_found"}
    assert [name for name, _data in block.runtime.events] == ["edx.viatique.lockout.started"]


def test_one_learner_locked_does_not_lock_another_on_the_same_address(released):
    deny(learner("learner_1"), 7)  # 5 denials, then 429s that count nothing
    assert send(learner("learner_2"), "graded_pdf", released["learner_2"].public_id).status_code == 200
    assert LockoutRecord.objects.count() == 1


@override_settings(VIATIQUE={"LOCKOUT_ADDRESS_FAILURES": 8})
def test_an_address_is_locked_after_its_own_threshold_for_learners_not_instructors(released):
    deny(learner("learner_5"), 4)
    deny(learner("learner_6"), 4)  # 8 from the address, no user reached 5
    assert {(record.kind, record.subject) for record in LockoutRecord.objects.all()} == {("address", ADDRESS)}
    response = send(learner("learner_2"), "graded_pdf", released["learner_2"].public_id)
    assert (response.status_code, body(response)["error"]) == (429, "locked_out")
    # another address is not locked, and an instructor behind the locked one can still work (and lift it)
    assert send(learner("learner_2"), "graded_pdf", released["learner_2"].public_id,
                address="198.51.100.1").status_code == 200
    assert send(make_block(), "lockouts").status_code == 200


def test_validation_errors_and_role_refusals_never_count(released):
    grader = make_block("staff_1", "staff")
    for _attempt in range(6):
        assert send(grader, "lockouts").status_code == 403  # instructor-only: a grader clicking around
        assert send(grader, "download_url", data={"copy_id": released["learner_1"].public_id, "kind": "zip"},
                    method="POST").status_code == 400
        assert send(grader, "graded_pdf", method="POST").status_code == 405
    assert send(grader, "graded_pdf", released["learner_1"].public_id).status_code == 200
    assert not LockoutRecord.objects.exists()


def test_instructors_denials_do_not_count(released):
    assert deny(make_block(), 8) == [404] * 8
    assert send(make_block(), "graded_pdf", released["learner_1"].public_id).status_code == 200


def test_instructor_lists_and_lifts_a_lockout(released):
    deny(learner("learner_1"), 5)
    response = send(make_block(), "lockouts")
    [item] = body(response)["lockouts"]
    assert (item["kind"], item["subject"]) == ("user", "learner_1")
    assert WINDOW - 5 <= item["retry_after"] <= WINDOW
    assert send(make_block("staff_1", "staff"), "lockouts").status_code == 403
    assert send(make_block("staff_1", "staff"), "lift_lockout", data={"id": item["id"]},
                method="POST").status_code == 403
    instructor = make_block()
    response = send(instructor, "lift_lockout", data={"id": item["id"]}, method="POST")
    assert response.status_code == 200
    assert body(response)["lockouts"] == []
    record = LockoutRecord.objects.get()
    assert record.lifted_by == "instructor_1" and record.lifted_at is not None
    event = AuditEvent.objects.get(action="lockout.lifted")
    assert event.details["subject"] == "learner_1" and event.details["was_active"] is True
    assert ("edx.viatique.lockout.lifted", {"exam_id": event.exam_id, "copy_id": None, **event.details}) \
        in instructor.runtime.events
    # unlocked, with its failures forgotten: four new denials do not lock again
    assert send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id).status_code == 200
    assert deny(learner("learner_1"), 4) == [404] * 4
    assert send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id).status_code == 200


def test_lockouts_of_another_course_are_neither_listed_nor_lifted(released):
    deny(learner("learner_1"), 5)
    other = make_block(usage="block-v1:Other+C2+2026+type@viatique+block@exam1")
    assert body(send(other, "lockouts"))["lockouts"] == []
    record = LockoutRecord.objects.get()
    response = send(other, "lift_lockout", data={"id": record.pk}, method="POST")
    assert (response.status_code, body(response)["error"]) == (404, "not_found")
    assert send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id).status_code == 429


def test_concurrent_failures_start_exactly_one_lock():
    cache = caches[conf.get("CACHE_ALIAS")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _i: lockout._fail(cache, lockout.USER, "racer", 5), range(40)))
    assert sum(started for _count, started in results) == 1
    fail_key, lock_key = lockout._keys(lockout.USER, "racer")
    client = redis_client.raw_client(cache)
    assert WINDOW - 5 <= client.ttl(cache.make_key(lock_key)) <= WINDOW


@pytest.fixture
def django_redis_backend(settings):
    """Django's own RedisCache (a platform without django-redis) holding the lockout, on the real Redis."""
    default = settings.CACHES["default"]
    prefix = default["KEY_PREFIX"] + "-django-lockout"
    settings.CACHES = {**settings.CACHES, "lockout-django": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": default["LOCATION"],
        "KEY_PREFIX": prefix}}
    settings.VIATIQUE = {**settings.VIATIQUE, "CACHE_ALIAS": "lockout-django"}
    yield caches["lockout-django"]
    client = caches["default"].client.get_client(write=True)
    keys = list(client.scan_iter(match=prefix + ":*"))
    if keys:
        client.delete(*keys)


def test_djangos_own_redis_cache_counts_atomically_and_locks_with_retry_after(django_redis_backend):
    cache = django_redis_backend
    client = redis_client.raw_client(cache)
    assert client is not None, "the Lua scripts run on Django's RedisCache too"
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _i: lockout._fail(cache, lockout.USER, "racer", 5), range(40)))
    assert sum(started for _count, started in results) == 1
    _fail_key, lock_key = lockout._keys(lockout.USER, "racer")
    assert WINDOW - 5 <= client.ttl(cache.make_key(lock_key)) <= WINDOW
    user = compat.ViatiqueUser(user_id=1, username="racer", full_name="", anonymous_id="x", role=compat.LEARNER)
    with pytest.raises(LockedOut) as locked:
        lockout.check(user, None)
    assert WINDOW - 5 <= locked.value.retry_after <= WINDOW


def test_the_failure_counter_expires_with_its_window():
    cache = caches[conf.get("CACHE_ALIAS")]
    assert lockout._fail(cache, lockout.USER, "slow", 5) == (1, False)
    fail_key, _lock_key = lockout._keys(lockout.USER, "slow")
    assert WINDOW - 5 <= redis_client.raw_client(cache).ttl(cache.make_key(fail_key)) <= WINDOW


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "viatique-lockout-test"}})
def test_a_per_process_cache_applies_the_same_policy():
    cache = caches[conf.get("CACHE_ALIAS")]
    assert redis_client.raw_client(cache) is None
    results = [lockout._fail(cache, lockout.USER, "local", 5) for _attempt in range(5)]
    assert results == [(1, False), (2, False), (3, False), (4, False), (5, True)]
    user = compat.ViatiqueUser(user_id=1, username="local", full_name="", anonymous_id="x", role=compat.LEARNER)
    with pytest.raises(LockedOut) as locked:
        lockout.check(user, None)
    assert WINDOW - 5 <= locked.value.retry_after <= WINDOW
    cache.clear()


def test_lifting_an_old_record_leaves_a_newer_lock_alone(released):
    deny(learner("learner_1"), 5)
    first = LockoutRecord.objects.get()
    assert send(make_block(), "lift_lockout", data={"id": first.pk}, method="POST").status_code == 200
    deny(learner("learner_1"), 5)  # locked again: a record of its own
    assert LockoutRecord.objects.count() == 2
    response = send(make_block(), "lift_lockout", data={"id": first.pk}, method="POST")
    assert response.status_code == 200 and len(body(response)["lockouts"]) == 1
    assert send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id).status_code == 429


@override_settings(VIATIQUE={"LOCKOUT_ADDRESS_FAILURES": 3})
def test_a_forged_forwarded_for_header_changes_neither_the_address_counted_nor_the_lock(released):
    for index, forged in enumerate(("10.9.9.1", "10.9.9.2", "10.9.9.3")):
        response = send(learner(f"learner_{index + 5}"), "graded_pdf", "999999", headers={"X-Forwarded-For": forged})
        assert response.status_code == 404
    assert [(record.kind, record.subject) for record in LockoutRecord.objects.all()] == [("address", ADDRESS)]
    response = send(learner("learner_2"), "graded_pdf", released["learner_2"].public_id,
                    headers={"X-Forwarded-For": "198.51.100.9"})
    assert response.status_code == 429


def test_every_handler_of_the_block_answers_429_to_a_locked_out_user(released):
    deny(learner("learner_1"), 5)
    block = learner("learner_1")
    handlers = sorted(name for name in dir(type(block))
                      if getattr(getattr(type(block), name), "_is_xblock_handler", False))
    assert {"graded_pdf", "download_url", "learner_page_image", "lockouts", "lift_lockout"} <= set(handlers)
    for name in handlers:
        for method in ("GET", "POST"):
            response = send(block, name, "1", method=method, data={})
            assert (response.status_code, response.headers.get("Retry-After") is not None) == (429, True), name


def test_an_operator_lists_and_lifts_lockouts_of_every_course_from_the_command_line(released):
    import io
    import json

    from django.core.management import call_command

    deny(learner("learner_1"), 5)
    deny(learner("learner_2"), 5)
    out = io.StringIO()
    call_command("viatique_lockouts", "--json", stdout=out)
    listed = json.loads(out.getvalue().splitlines()[-1])
    assert listed["lifted"] is None
    assert sorted(row["subject"] for row in listed["in_force"]) == ["learner_1", "learner_2"]
    assert {row["course_key"] for row in listed["in_force"]} == {"course-v1:Viatique+T101+2026"}
    out = io.StringIO()
    call_command("viatique_lockouts", "--course", "course-v1:Other+X+2026", stdout=out)
    assert "No lockout in force." in out.getvalue()

    out = io.StringIO()
    call_command("viatique_lockouts", "--lift-user", "learner_1", "--json", stdout=out)
    result = json.loads(out.getvalue().splitlines()[-1])
    record = LockoutRecord.objects.get(subject="learner_1")
    assert result["lifted"] == {"kind": "user", "subject": "learner_1", "records": [record.pk]}
    assert [row["subject"] for row in result["in_force"]] == ["learner_2"]
    assert (record.lifted_by, record.lifted_at is not None) == ("operator", True)
    event = AuditEvent.objects.get(action="lockout.lifted")
    assert event.details == {"lockout_id": record.pk, "kind": "user", "subject": "learner_1", "was_active": True,
                             "by": "operator"}
    # learner_1 is back, with its failures forgotten; learner_2 is still locked
    assert send(learner("learner_1"), "graded_pdf", released["learner_1"].public_id).status_code == 200
    assert deny(learner("learner_1"), 4) == [404] * 4
    assert send(learner("learner_2"), "graded_pdf", released["learner_2"].public_id).status_code == 429


def test_an_operator_clears_an_address_even_without_a_record(released):
    import io

    from django.core.management import call_command

    # four denials: counted, no lock and no record yet
    assert deny(learner("learner_3"), 4) == [404] * 4
    from django.conf import settings

    with override_settings(VIATIQUE={**getattr(settings, "VIATIQUE", {}), "LOCKOUT_ADDRESS_FAILURES": 6}):
        out = io.StringIO()
        call_command("viatique_lockouts", "--lift-address", ADDRESS, stdout=out)
        assert f"Lifted the lockout of address {ADDRESS} (records: none in force)." in out.getvalue()
        # the address counter started again: two more denials (of another learner) do not reach 6
        assert deny(learner("learner_2"), 2) == [404] * 2
    assert not LockoutRecord.objects.filter(kind="address").exists()


@pytest.mark.django_db(transaction=True)
def test_sixty_simultaneous_denials_get_exactly_five_refusals_and_fifty_five_429s():
    """Issue 13, finding 7: a burst of denials that all pass the lock check before the lock starts.
    Counting and deciding are one atomic step in Redis: the five first counted are refused as
    themselves (404), every later one is answered 429 with Retry-After, whoever passed the check."""
    import threading

    from django.db import connection

    make_block().get_exam()  # the exam row, committed, so that every thread reads the same one
    burst = 60
    barrier = threading.Barrier(burst)

    def denied(index):
        block = learner("learner_1")
        barrier.wait()
        try:
            response = send(block, "graded_pdf", str(10 ** 9 + index))
            return response.status_code, body(response), response.headers.get("Retry-After")
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=burst) as pool:
        answers = list(pool.map(denied, range(burst)))
    statuses = [status for status, _answer, _retry in answers]
    assert statuses.count(404) == 5 and statuses.count(429) == 55, statuses
    for status, answer, retry_after in answers:
        if status == 429:
            assert answer["error"] == "locked_out" and WINDOW - 5 <= answer["retry_after"] <= WINDOW
            assert retry_after == str(answer["retry_after"])
        else:
            assert answer["error"] == "not_found"
    assert LockoutRecord.objects.count() == 1


def test_a_denial_counted_past_the_threshold_is_answered_429_not_as_itself():
    cache = caches[conf.get("CACHE_ALIAS")]
    user = compat.ViatiqueUser(user_id=1, username="burst", full_name="", anonymous_id="x", role=compat.LEARNER)
    answers = [lockout.refuse(user, None, "course-v1:A+B+C", reason="not_found") for _attempt in range(7)]
    assert answers[:5] == [None] * 5
    assert all(isinstance(answer, LockedOut) and WINDOW - 5 <= answer.retry_after <= WINDOW for answer in answers[5:])
    assert LockoutRecord.objects.count() == 1
    fail_key, lock_key = lockout._keys(lockout.USER, "burst")
    client = redis_client.raw_client(cache)
    assert int(client.get(cache.make_key(fail_key))) == 7  # the count goes on while locked, as long as the lock
    assert WINDOW - 5 <= client.ttl(cache.make_key(fail_key)) <= WINDOW
    # the lock lifted, its count goes too: a new denial is the first of a new window
    lockout._clear(cache, lockout.USER, "burst")
    assert lockout.refuse(user, None, "course-v1:A+B+C") is None
    assert lockout._fail(cache, lockout.USER, "burst", 5) == (2, False)


def test_a_count_left_over_an_expired_lock_starts_again():
    cache = caches[conf.get("CACHE_ALIAS")]
    fail_key, lock_key = lockout._keys(lockout.USER, "expired")
    client = redis_client.raw_client(cache)
    client.set(cache.make_key(fail_key), 9, ex=WINDOW)  # a count whose lock has just expired
    assert lockout._fail(cache, lockout.USER, "expired", 5) == (1, False)
    assert client.ttl(cache.make_key(lock_key)) == -2
