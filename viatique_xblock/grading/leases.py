"""Grading leases: one grader edits a copy (or, graded by question, an answer) at a time, and a grader
whose lease ended can never write.

A lease lives in the Django cache named by ``VIATIQUE['CACHE_ALIAS']``, under
``make_key("viatique:lease:<copy id>")`` for a copy, ``make_key("viatique:lease:<copy id>:<question id>")``
for one question of a copy when the exam is graded by question (the functions' ``question_id``; so the
cache's ``KEY_PREFIX`` applies), as a JSON value ``{"user", "name", "token", "fencing", "expires"}`` with
the lease's TTL:

- on django-redis (production) every change is one small Lua script run by Redis
  itself on the raw client, so acquiring, renewing and releasing are atomic across
  all web workers (no read-then-write race);
- on any other cache (LocMemCache: only in DEBUG, the single-process demo, unit tests)
  the same steps run under a process lock.

**Fencing.** When a *new* lease is granted, ``Copy.lease_fencing`` (for an answer:
``Answer.lease_fencing``, the row created when needed) is incremented in the database (``UPDATE ... SET lease_fencing = lease_fencing + 1``) and the number is
stored with the lease. Every write carries that number; :func:`check_write`, called
inside the write's transaction after ``select_for_update`` on the copy row, refuses it
(:class:`LeaseLost`) unless it equals ``Copy.lease_fencing`` *and* the cache still holds
a lease with that number. A grader whose lease expired, or was force-released, and who
was followed by someone else can never overwrite the next grader's work.

The same grader asking again (a second tab) gets the same lease back, renewed.
"""
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.db.models import F, Min
from django.dispatch import receiver

from viatique_xblock import audit, inputs
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import Answer, AuditEvent, Copy
from viatique_xblock.platform import conf, monitoring, redis_client
from viatique_xblock.signals import user_retired

log = logging.getLogger(__name__)

KEY = "viatique:lease:{copy_id}"


def subject(copy_pk, question_id=None):
    """What a lease is taken on, as the stores name it: a copy's key, or ``"<copy key>:<question id>"``."""
    return copy_pk if not question_id else f"{copy_pk}:{question_id}"
#: how long a second tab waits for the first tab's grant to get its fencing number
PENDING_WAIT_SECONDS = 2.0


class LeaseHeld(ViatiqueError):
    """Another grader holds the copy's lease."""

    code = "lease_held"
    status = 409

    def __init__(self, holder, expires_at):
        self.holder = holder
        self.expires_at = expires_at
        super().__init__(N_("{holder} is grading this copy (until {time} UTC)."), holder=holder,
                         time=expires_at.strftime("%H:%M"))

    def extra(self):
        return {"holder": self.holder, "expires_at": iso(self.expires_at)}


class LeaseLost(ViatiqueError):
    """The write's fencing number is not the current lease's any more."""

    code = "lease_lost"
    status = 409


class LeaseUnavailable(ViatiqueError):
    """The cache holding the leases does not answer."""

    code = "lease_unavailable"
    status = 503


LOST_MESSAGE = N_("Your editing lease on this copy ended (it expired or was taken over): nothing was saved. "
                  "Reload the copy to go on.")
UNAVAILABLE_MESSAGE = N_("Copies cannot be edited right now: the lease server (Redis) does not answer. "
                         "Nothing was saved; try again in a moment.")


@dataclass(frozen=True)
class Lease:
    token: str
    fencing: int
    expires_at: datetime

    def as_json(self):
        return {"token": self.token, "fencing": self.fencing, "expires_at": iso(self.expires_at)}


def iso(moment):
    return moment.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


def _from_ms(milliseconds):
    return datetime.fromtimestamp(milliseconds / 1000, tz=dt_timezone.utc)


def _now_ms():
    return int(time.time() * 1000)


def ttl_seconds():
    return int(conf.get("LEASE_TTL_SECONDS"))


# ------------------------------------------------------------------ the two stores

# KEYS[1] lease key. ARGV: user, name, new token, ttl ms, now ms.
# -> {"new", token} | {"mine", value} (renewed) | {"held", value}
ACQUIRE = """
local raw = redis.call('GET', KEYS[1])
if raw then
  local lease = cjson.decode(raw)
  if lease.user ~= ARGV[1] then return {'held', raw} end
  lease.expires = tonumber(ARGV[5]) + tonumber(ARGV[4])
  raw = cjson.encode(lease)
  redis.call('SET', KEYS[1], raw, 'PX', ARGV[4])
  return {'mine', raw}
end
local lease = {user=ARGV[1], name=ARGV[2], token=ARGV[3], fencing=0,
               expires=tonumber(ARGV[5]) + tonumber(ARGV[4])}
redis.call('SET', KEYS[1], cjson.encode(lease), 'PX', ARGV[4])
return {'new', ARGV[3]}
"""
# KEYS[1]; ARGV: token, fencing -> 1 when the pending lease got its number
SET_FENCING = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local lease = cjson.decode(raw)
if lease.token ~= ARGV[1] then return 0 end
lease.fencing = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(lease), 'KEEPTTL')
return 1
"""
# KEYS[1]; ARGV: token, ttl ms, now ms -> the renewed value, or false
RENEW = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local lease = cjson.decode(raw)
if lease.token ~= ARGV[1] then return false end
lease.expires = tonumber(ARGV[3]) + tonumber(ARGV[2])
raw = cjson.encode(lease)
redis.call('SET', KEYS[1], raw, 'PX', ARGV[2])
return raw
"""
# KEYS[1]; ARGV: field ("token" or "fencing"), value -> 1 when deleted
RELEASE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local lease = cjson.decode(raw)
if tostring(lease[ARGV[1]]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


def _decode(raw):
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


class RedisStore:
    """Leases on the Redis cache's raw client, each change one Lua script."""

    def __init__(self, cache, client):
        self.cache = cache
        self.client = client
        self.scripts = {name: client.register_script(source) for name, source in
                        (("acquire", ACQUIRE), ("set_fencing", SET_FENCING), ("renew", RENEW),
                         ("release", RELEASE))}

    def key(self, copy_id):
        return self.cache.make_key(KEY.format(copy_id=copy_id))

    def acquire(self, copy_id, user, name, token, ttl_ms, now_ms):
        outcome, value = self.scripts["acquire"](keys=[self.key(copy_id)],
                                                 args=[user, name, token, ttl_ms, now_ms])
        outcome = outcome.decode()
        return outcome, (token if outcome == "new" else _decode(value))

    def set_fencing(self, copy_id, token, fencing):
        return bool(self.scripts["set_fencing"](keys=[self.key(copy_id)], args=[token, fencing]))

    def renew(self, copy_id, token, ttl_ms, now_ms):
        return _decode(self.scripts["renew"](keys=[self.key(copy_id)], args=[token, ttl_ms, now_ms]) or None)

    def release(self, copy_id, field, value):
        return bool(self.scripts["release"](keys=[self.key(copy_id)], args=[field, str(value)]))

    def delete(self, copy_id):
        return bool(self.client.delete(self.key(copy_id)))

    def get(self, copy_id):
        return _decode(self.client.get(self.key(copy_id)))

    def get_many(self, copy_ids):
        """The leases of several copies in one round trip (MGET)."""
        if not copy_ids:
            return {}
        values = self.client.mget([self.key(copy_id) for copy_id in copy_ids])
        return {copy_id: _decode(raw) for copy_id, raw in zip(copy_ids, values) if raw is not None}


class LocalStore:
    """The same steps on a per-process cache, serialised by a process lock (DEBUG, demo, unit tests)."""

    lock = threading.Lock()

    def __init__(self, cache):
        self.cache = cache

    @staticmethod
    def key(copy_id):
        return KEY.format(copy_id=copy_id)

    def _put(self, copy_id, lease, ttl_ms=None):
        if ttl_ms is None:
            ttl_ms = max(1, lease["expires"] - _now_ms())
        self.cache.set(self.key(copy_id), json.dumps(lease), timeout=ttl_ms / 1000)

    def acquire(self, copy_id, user, name, token, ttl_ms, now_ms):
        with self.lock:
            lease = self.get(copy_id)
            if lease is not None and lease["user"] != user:
                return "held", lease
            if lease is not None:
                lease["expires"] = now_ms + ttl_ms
                self._put(copy_id, lease, ttl_ms)
                return "mine", lease
            self._put(copy_id, {"user": user, "name": name, "token": token, "fencing": 0,
                                "expires": now_ms + ttl_ms}, ttl_ms)
            return "new", token

    def set_fencing(self, copy_id, token, fencing):
        with self.lock:
            lease = self.get(copy_id)
            if lease is None or lease["token"] != token:
                return False
            lease["fencing"] = fencing
            self._put(copy_id, lease)
            return True

    def renew(self, copy_id, token, ttl_ms, now_ms):
        with self.lock:
            lease = self.get(copy_id)
            if lease is None or lease["token"] != token:
                return None
            lease["expires"] = now_ms + ttl_ms
            self._put(copy_id, lease, ttl_ms)
            return lease

    def release(self, copy_id, field, value):
        with self.lock:
            lease = self.get(copy_id)
            if lease is None or str(lease[field]) != str(value):
                return False
            self.cache.delete(self.key(copy_id))
            return True

    def delete(self, copy_id):
        with self.lock:
            return bool(self.cache.delete(self.key(copy_id)))

    def get(self, copy_id):
        lease = _decode(self.cache.get(self.key(copy_id)))
        if lease is not None and lease["expires"] <= _now_ms():
            return None
        return lease

    def get_many(self, copy_ids):
        found = self.cache.get_many([self.key(copy_id) for copy_id in copy_ids])
        leases = {copy_id: _decode(found.get(self.key(copy_id))) for copy_id in copy_ids}
        return {copy_id: lease for copy_id, lease in leases.items()
                if lease is not None and lease["expires"] > _now_ms()}


def store():
    """The lease store of the configured cache: Redis scripts on a Redis cache, else the local fallback."""
    alias = conf.get("CACHE_ALIAS")
    cache = caches[alias]
    client = redis_client.raw_client(cache)
    if client is not None:
        return RedisStore(cache, client)
    return LocalStore(cache)


def _guarded(call, *args):
    """Run a store call; a cache that does not answer is :class:`LeaseUnavailable`."""
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
    try:
        return call(*args)
    except (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError) as exc:
        raise LeaseUnavailable(UNAVAILABLE_MESSAGE) from exc


# ------------------------------------------------------------------ holders' names

def holder_label(exam, viewer, lease, numbers=None):
    """Who holds a lease, as ``viewer`` may see it: the grader's full name, or, under
    ``HIDE_GRADER_IDENTITIES``, "Grader N" for other graders (instructors always see names)."""
    if viewer is None or viewer.is_instructor or viewer.username == lease["user"] \
            or not conf.get("HIDE_GRADER_IDENTITIES"):
        return lease.get("name") or lease["user"]
    numbers = grader_numbers(exam) if numbers is None else numbers
    return _("Grader {number}").format(number=numbers.get(lease["user"], len(numbers) + 1))


def grader_numbers(exam):
    """username -> a number stable within the exam: the order in which graders first took a lease."""
    first = (AuditEvent.objects.filter(exam=exam, action="lease.acquired").values("actor")
             .annotate(first=Min("id")).order_by("first").values_list("actor", flat=True))
    return {username: index + 1 for index, username in enumerate(first)}


def _holder_json(exam, viewer, lease, numbers=None):
    return {"holder": holder_label(exam, viewer, lease, numbers), "expires_at": iso(_from_ms(lease["expires"]))}


def holders(exam, viewer, copy_ids):
    """``{copy id: {"holder", "expires_at"}}`` for the copies that have a lease, in one cache round trip.

    An unreachable cache gives no holders (the list of copies still shows)."""
    try:
        leases = _guarded(store().get_many, list(copy_ids))
    except LeaseUnavailable:
        return {}
    numbers = None
    if leases and conf.get("HIDE_GRADER_IDENTITIES") and not viewer.is_instructor:
        numbers = grader_numbers(exam)
    return {copy_id: _holder_json(exam, viewer, lease, numbers) for copy_id, lease in leases.items()}


def current(exam, viewer, copy, question_id=None):
    """``{"holder", "expires_at"}`` of the copy's (or the answer's) lease, or None (also when the cache does
    not answer)."""
    key = subject(copy.pk, question_id)
    return holders(exam, viewer, [key]).get(key)


# ------------------------------------------------------------------ the lease's life

def acquire_lease(copy, user, client_ip=None, publish=None, question_id=None):
    """Take (or take again, from a second tab) the copy's lease for ``user`` (with ``question_id``: the
    lease of that question of the copy); returns a :class:`Lease`.

    Raises :class:`LeaseHeld` when another grader holds it, :class:`LeaseUnavailable`
    when the cache does not answer.
    """
    lease = try_acquire(copy, user, client_ip, publish, question_id)
    if isinstance(lease, Lease):
        return lease
    monitoring.increment("lease_conflicts")
    raise LeaseHeld(holder_label(copy.exam, user, lease), _from_ms(lease["expires"]))


def try_acquire(copy, user, client_ip=None, publish=None, question_id=None):
    """:func:`acquire_lease`, except that a lease held by another grader is returned (its cache value)
    rather than raised: ``next_answer`` tries one answer after another."""
    leases = store()
    key = subject(copy.pk, question_id)
    ttl_ms = ttl_seconds() * 1000
    token = uuid.uuid4().hex
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    while True:
        now_ms = _now_ms()
        outcome, value = _guarded(leases.acquire, key, user.username, user.full_name or user.username,
                                  token, ttl_ms, now_ms)
        if outcome == "held":
            return value
        if outcome == "mine" and value["fencing"]:
            return Lease(value["token"], int(value["fencing"]), _from_ms(value["expires"]))
        if outcome == "new":
            return _grant(copy, user, leases, key, question_id, token, now_ms + ttl_ms, client_ip, publish)
        # our own other tab is being granted this very moment: its number comes in a few ms
        if time.monotonic() > deadline:
            raise LeaseUnavailable(UNAVAILABLE_MESSAGE)
        time.sleep(0.02)


def _next_fencing(copy, question_id):
    """The next fencing number of the copy, or of the answer (its row created when needed)."""
    if not question_id:
        Copy.objects.filter(pk=copy.pk).update(lease_fencing=F("lease_fencing") + 1)
        return Copy.objects.filter(pk=copy.pk).values_list("lease_fencing", flat=True).get()
    answer = Answer.objects.filter(copy_id=copy.pk, question_id=question_id)
    if not answer.update(lease_fencing=F("lease_fencing") + 1):
        # the first lease of this answer: its row is created with the number 1 (a concurrent first grant is
        # impossible: the Redis lease is ours; a row made meanwhile by dealing is counted as above)
        try:
            with transaction.atomic():
                return Answer.objects.create(copy_id=copy.pk, question_id=question_id, lease_fencing=1).lease_fencing
        except IntegrityError:
            answer.update(lease_fencing=F("lease_fencing") + 1)
    return answer.values_list("lease_fencing", flat=True).get()


def _grant(copy, user, leases, key, question_id, token, expires_ms, client_ip, publish):
    """A new lease: the next fencing number of the copy (or answer), stored with the lease."""
    try:
        with transaction.atomic():
            fencing = _next_fencing(copy, question_id)
            details = {"fencing": fencing}
            if question_id:
                details["question_id"] = question_id
            audit.record(copy.exam, "lease.acquired", actor=user, copy=copy, client_ip=client_ip,
                         details=details, publish=publish)
    except BaseException:
        _guarded(leases.release, key, "token", token)
        raise
    if not _guarded(leases.set_fencing, key, token, fencing):
        raise LeaseLost(LOST_MESSAGE)
    if not question_id:
        copy.lease_fencing = fencing
    return Lease(token, fencing, _from_ms(expires_ms))


def renew_lease(copy, token, question_id=None):
    """Extend the lease held with ``token`` by the TTL; returns the new expiry, or :class:`LeaseLost`."""
    lease = _guarded(store().renew, subject(copy.pk, question_id), str(token or ""), ttl_seconds() * 1000,
                     _now_ms())
    if lease is None:
        raise LeaseLost(LOST_MESSAGE)
    return _from_ms(lease["expires"])


def release_lease(copy, token, question_id=None):
    """Give the lease back (only its holder, who knows the token); True when it was released."""
    return _guarded(store().release, subject(copy.pk, question_id), "token", str(token or ""))


def release_fencing(copy, fencing, question_id=None):
    """Release the lease that carries ``fencing`` (after finalize); True when it was released."""
    return _guarded(store().release, subject(copy.pk, question_id), "fencing", str(fencing))


def force_release(copy, actor, client_ip=None, publish=None, question_id=None):
    """An instructor takes the lease away from whoever holds it (audited); True when there was one."""
    leases = store()
    key = subject(copy.pk, question_id)
    lease = _guarded(leases.get, key)
    released = _guarded(leases.delete, key)
    details = {"holder": lease["user"] if lease else "", "released": released}
    if question_id:
        details["question_id"] = question_id
    audit.record(copy.exam, "lease.forced", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                 details=details)
    return released


def check_write(copy, fencing, user, answer=None):
    """Refuse a write unless ``fencing`` is the copy's (with ``answer``: that answer's) current lease
    number, held by ``user``.

    Call it inside the write's transaction, with ``copy`` (and ``answer``) read by ``select_for_update``:
    the row lock keeps a new grant (which increments ``lease_fencing``) out until commit.
    """
    fencing = inputs.whole_number(fencing)
    current_number = answer.lease_fencing if answer is not None else copy.lease_fencing
    if fencing is None or fencing <= 0 or fencing != current_number:
        raise LeaseLost(LOST_MESSAGE)
    lease = _guarded(store().get, subject(copy.pk, answer.question_id if answer is not None else None))
    if lease is None or int(lease["fencing"]) != fencing or lease["user"] != user.username:
        raise LeaseLost(LOST_MESSAGE)


# ------------------------------------------------------------------ retired users


@receiver(user_retired, dispatch_uid="viatique.leases.user_retired")
def drop_retired_holders_leases(sender, username, copy_ids=(), **kwargs):
    """The leases a retired user still holds (their name is in them) end at once; a write they were in the
    middle of is refused as from any holder whose lease ended. Returns how many ended."""
    try:
        leases = store()
        keys = list(copy_ids) + [subject(copy_pk, question_id) for copy_pk, question_id in
                                 Answer.objects.filter(copy_id__in=list(copy_ids)).values_list("copy_id", "question_id")]
        held = [key for key, lease in leases.get_many(keys).items() if lease["user"] == username]
        return sum(bool(leases.release(key, "user", username)) for key in held)
    except Exception:  # noqa: BLE001 - a lease lasts LEASE_TTL_SECONDS without a heartbeat anyway
        log.warning("Viatique: the leases of a retired user could not be ended (the cache does not answer); "
                    "they expire by themselves", exc_info=True)
        return 0
