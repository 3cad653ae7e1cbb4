"""Grading leases on django-redis (real Redis, atomic Lua scripts) and on the per-process fallback:
re-entrance, holders, fencing, renew/release/force, an unreachable Redis, and the lease column of
list_copies (one cache round trip, queries independent of the number of copies)."""
import concurrent.futures
import threading
import uuid

import pytest
from django.core.cache import caches
from django.db import connection
from django_redis import get_redis_connection

from tests.harness import call
from tests.unit import grading_helpers as helpers
from tests.unit.grading_helpers import GRADER, INSTRUCTOR, OTHER
from viatique_xblock.grading import leases, workspace
from viatique_xblock.models import AuditEvent, Copy, Draft
from viatique_xblock.platform import conf

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["redis", "django-redis-backend", "local"])
def store_kind(request, settings):
    """Every test runs on django-redis (Tutor's cache), on Django's own RedisCache (a platform without
    django-redis) and on the LocMem fallback (DEBUG, unit tests)."""
    default = settings.CACHES["default"]
    if request.param == "local":
        settings.CACHES = {**settings.CACHES, "leases-local": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}}
        settings.VIATIQUE = {**settings.VIATIQUE, "CACHE_ALIAS": "leases-local"}
    elif request.param == "django-redis-backend":
        settings.CACHES = {**settings.CACHES, "leases-django": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": default["LOCATION"],
            "KEY_PREFIX": default["KEY_PREFIX"] + "-django"}}
        settings.VIATIQUE = {**settings.VIATIQUE, "CACHE_ALIAS": "leases-django"}
    yield "local" if request.param == "local" else "redis"
    if request.param == "local":
        caches["leases-local"].clear()
    elif request.param == "django-redis-backend":
        client = caches["default"].client.get_client(write=True)
        keys = list(client.scan_iter(match=default["KEY_PREFIX"] + "-django:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def exam():
    made = helpers.exam()
    yield made
    helpers.remove_files(made)


@pytest.fixture
def copy(exam):
    return helpers.make_copy(exam, "A001")


def test_store_is_redis_scripts_on_django_redis_and_local_elsewhere(store_kind):
    assert type(leases.store()).__name__ == {"redis": "RedisStore", "local": "LocalStore"}[store_kind]


def test_acquire_grants_a_lease_with_the_next_fencing_number(store_kind, copy):
    lease = leases.acquire_lease(copy, GRADER)
    assert lease.fencing == 1 and len(lease.token) == 32
    assert Copy.objects.get(pk=copy.pk).lease_fencing == 1
    assert AuditEvent.objects.filter(action="lease.acquired", copy_id_ref=copy.pk, actor="staff_1").count() == 1
    assert leases.current(copy.exam, INSTRUCTOR, copy)["holder"] == "Paul Langevin"


def test_redis_lease_key_carries_the_cache_prefix_and_the_ttl(copy, settings):
    leases.acquire_lease(copy, GRADER)
    cache = caches["default"]
    key = cache.make_key(f"viatique:lease:{copy.pk}")
    assert key.startswith(settings.CACHES["default"]["KEY_PREFIX"] + ":")
    ttl_ms = get_redis_connection("default").pttl(key)
    assert 0 < ttl_ms <= conf.get("LEASE_TTL_SECONDS") * 1000


def test_same_grader_gets_the_same_lease_again_renewed(store_kind, copy):
    first = leases.acquire_lease(copy, GRADER)
    second = leases.acquire_lease(copy, GRADER)  # a second tab
    assert (second.token, second.fencing) == (first.token, first.fencing)
    assert second.expires_at >= first.expires_at
    assert Copy.objects.get(pk=copy.pk).lease_fencing == 1


def test_another_grader_is_told_who_holds_it_and_until_when(store_kind, copy):
    first = leases.acquire_lease(copy, GRADER)
    with pytest.raises(leases.LeaseHeld) as held:
        leases.acquire_lease(copy, OTHER)
    body = held.value.as_json()
    assert held.value.status == 409
    assert body["error"] == "lease_held" and body["holder"] == "Paul Langevin"
    assert body["expires_at"] == leases.iso(first.expires_at)
    assert Copy.objects.get(pk=copy.pk).lease_fencing == 1


def test_hidden_grader_identities_show_a_stable_label_to_graders_not_instructors(store_kind, copy, settings):
    settings.VIATIQUE = {**settings.VIATIQUE, "HIDE_GRADER_IDENTITIES": True}
    other_copy = helpers.make_copy(copy.exam, "A002", pages=0, username="learner_2")
    leases.acquire_lease(other_copy, OTHER)  # staff_2 took a lease first: Grader 1
    leases.acquire_lease(copy, GRADER)  # staff_1: Grader 2
    with pytest.raises(leases.LeaseHeld) as held:
        leases.acquire_lease(copy, OTHER)
    assert held.value.holder == "Grader 2"
    assert leases.current(copy.exam, OTHER, copy)["holder"] == "Grader 2"
    assert leases.current(copy.exam, GRADER, other_copy)["holder"] == "Grader 1"
    assert leases.current(copy.exam, INSTRUCTOR, copy)["holder"] == "Paul Langevin"
    assert leases.current(copy.exam, GRADER, copy)["holder"] == "Paul Langevin"  # one's own name


def test_renew_needs_the_token_and_extends_the_lease(store_kind, copy):
    lease = leases.acquire_lease(copy, GRADER)
    assert leases.renew_lease(copy, lease.token) >= lease.expires_at
    with pytest.raises(leases.LeaseLost):
        leases.renew_lease(copy, "not-the-token")


def test_release_only_by_the_token_then_the_next_grader_gets_a_new_fencing(store_kind, copy):
    lease = leases.acquire_lease(copy, GRADER)
    assert leases.release_lease(copy, "wrong") is False
    assert leases.current(copy.exam, INSTRUCTOR, copy) is not None
    assert leases.release_lease(copy, lease.token) is True
    assert leases.current(copy.exam, INSTRUCTOR, copy) is None
    assert leases.acquire_lease(copy, OTHER).fencing == 2


def test_writes_are_fenced_after_the_lease_moved_on(store_kind, copy, exam):
    stale = leases.acquire_lease(copy, GRADER)
    assert leases.force_release(copy, INSTRUCTOR) is True  # or it expired
    event = AuditEvent.objects.get(action="lease.forced", copy_id_ref=copy.pk)
    assert event.actor == "instructor_1" and event.details["holder"] == "staff_1"
    # nobody took it yet: the old number is still the copy's, but the cache holds no lease with it
    with pytest.raises(leases.LeaseLost):
        workspace.save_comment(exam, GRADER, copy.public_id, stale.fencing, "Too late")
    taken = leases.acquire_lease(copy, OTHER)
    assert taken.fencing == stale.fencing + 1
    with pytest.raises(leases.LeaseLost) as lost:
        workspace.save_comment(exam, GRADER, copy.public_id, stale.fencing, "Too late")
    assert lost.value.status == 409 and lost.value.code == "lease_lost"
    # the holder's own writes pass; another user with the right number does not
    assert workspace.save_comment(exam, OTHER, copy.public_id, taken.fencing, "Bien")["version"] == 1
    # the copy is staff_2's now; staff_1's stale tab is still told its lease ended (not "forbidden",
    # which would count towards the lockout at every heartbeat)
    assert Copy.objects.get(pk=copy.pk).grader == "staff_2"
    with pytest.raises(leases.LeaseLost):
        workspace.save_comment(exam, GRADER, copy.public_id, stale.fencing, "Too late")
    stale_tab = helpers.block("staff_1", "staff")
    status, body = call(stale_tab, "renew_lease", {"copy_id": copy.public_id, "token": stale.token})
    assert (status, body["error"]) == (409, "lease_lost")
    assert call(stale_tab, "release_lease", {"copy_id": copy.public_id, "token": stale.token}) == (200, {"released": False})
    assert call(stale_tab, "save_comment", {"copy_id": copy.public_id, "fencing": stale.fencing,
                                            "general_comment": "x"})[1]["error"] == "lease_lost"
    assert call(stale_tab, "renew_lease", {"copy_id": "z" * 16, "token": stale.token})[0] == 404
    with pytest.raises(leases.LeaseLost):
        workspace.save_comment(exam, INSTRUCTOR, copy.public_id, taken.fencing, "Not mine")
    assert Copy.objects.get(pk=copy.pk).general_comment == "Bien"


def test_a_fencing_number_behind_the_database_is_refused(store_kind, copy, exam):
    lease = leases.acquire_lease(copy, GRADER)
    Copy.objects.filter(pk=copy.pk).update(lease_fencing=lease.fencing + 1)  # a newer grant committed
    with pytest.raises(leases.LeaseLost):
        workspace.save_comment(exam, GRADER, copy.public_id, lease.fencing, "Lost")
    for bad in (None, "x", 0, -1):
        with pytest.raises(leases.LeaseLost):
            workspace.save_comment(exam, GRADER, copy.public_id, bad, "Lost")


def test_lease_handlers_follow_the_contract(store_kind, copy):
    grader = helpers.block("staff_1", "staff")
    status, body = call(grader, "acquire_lease", {"copy_id": copy.public_id})
    assert status == 200 and set(body) == {"token", "fencing", "expires_at"}
    status, held = call(helpers.block("staff_2", "staff"), "acquire_lease", {"copy_id": copy.public_id})
    assert status == 409 and held["error"] == "lease_held" and held["holder"] == "Staff_1"
    assert held["expires_at"] and held["message"]
    status, renewed = call(grader, "renew_lease", {"copy_id": copy.public_id, "token": body["token"]})
    assert status == 200 and renewed["expires_at"] >= body["expires_at"]
    assert call(grader, "renew_lease", {"copy_id": copy.public_id, "token": "x"})[1]["error"] == "lease_lost"
    assert call(grader, "force_release_lease", {"copy_id": copy.public_id})[0] == 403
    assert call(grader, "release_lease", {"copy_id": copy.public_id, "token": body["token"]}) == (200, {"released": True})
    assert call(grader, "release_lease", {"copy_id": copy.public_id, "token": body["token"]}) == (200, {"released": False})
    call(grader, "acquire_lease", {"copy_id": copy.public_id})
    assert call(helpers.block(), "force_release_lease", {"copy_id": copy.public_id}) == (200, {"released": True})


def test_unreachable_redis_is_503_and_nothing_is_saved(copy, exam, settings):
    lease = leases.acquire_lease(copy, GRADER)
    settings.CACHES = {**settings.CACHES, "down": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}}
    settings.VIATIQUE = {**settings.VIATIQUE, "CACHE_ALIAS": "down"}
    status, body = call(helpers.block("staff_1", "staff"), "save_draft", {
        "copy_id": copy.public_id, "fencing": lease.fencing, "version": 0,
        "payload": {"points": {"q2": {"points": 2}}, "general_comment": "x"}})
    assert status == 503 and body["error"] == "lease_unavailable" and "Redis" in body["message"]
    assert not Draft.objects.filter(copy=copy).exists() and not copy.points.exists()
    assert call(helpers.block("staff_1", "staff"), "acquire_lease", {"copy_id": copy.public_id})[0] == 503
    # the list of copies still shows, without holders
    status, listing = call(helpers.block(), "list_copies", {})
    assert status == 200 and listing["copies"][0]["lease"] is None


@pytest.mark.parametrize("count", [10, 100])
def test_list_copies_shows_holders_with_one_cache_round_trip(store_kind, exam, count,
                                                              django_assert_num_queries, monkeypatch):
    copies = [helpers.make_copy(exam, f"B{index:03d}", pages=0, username=f"learner_{index}")
              for index in range(count)]
    leases.acquire_lease(copies[0], GRADER)
    leases.acquire_lease(copies[-1], OTHER)
    calls = []
    store_class = type(leases.store())
    real = store_class.get_many
    monkeypatch.setattr(store_class, "get_many", lambda self, ids: calls.append(len(ids)) or real(self, ids))
    instructor = helpers.block()
    instructor.get_exam()
    with django_assert_num_queries(4):  # the exam, the count, the page of copies, the graders to filter by
        status, body = call(instructor, "list_copies", {"limit": 200})
    assert status == 200 and body["count"] == count
    assert calls == [count]
    holders = {row["code"]: row["lease"] for row in body["copies"]}
    assert holders["B000"]["holder"] == "Paul Langevin"
    assert holders[f"B{count - 1:03d}"]["holder"] == "Irène Joliot"
    assert sum(1 for lease in holders.values() if lease) == 2


@pytest.mark.django_db(transaction=True)
def test_twenty_graders_at_once_in_threads_get_one_lease(store_kind):
    """The atomic acquire (Lua on Redis, the process lock on the fallback) under real concurrency."""
    exam = helpers.exam()
    copy = helpers.make_copy(exam, "T001", pages=0)
    barrier = threading.Barrier(20)

    def grab(index):
        barrier.wait()
        try:
            return leases.acquire_lease(Copy.objects.get(pk=copy.pk), helpers.user(f"staff_{index + 10}"))
        except leases.LeaseHeld as held:
            return held
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(grab, range(20)))
    granted = [outcome for outcome in outcomes if isinstance(outcome, leases.Lease)]
    assert len(granted) == 1 and granted[0].fencing == 1
    assert Copy.objects.get(pk=copy.pk).lease_fencing == 1
    assert AuditEvent.objects.filter(action="lease.acquired", copy_id_ref=copy.pk).count() == 1
    assert all(isinstance(outcome, leases.LeaseHeld) for outcome in outcomes if outcome not in granted)
    leases.force_release(copy, INSTRUCTOR)
