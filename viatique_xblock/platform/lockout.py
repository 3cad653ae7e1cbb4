"""The lockout: repeated denied requests lock the requester out of every handler of the block for a while.

Policy (SPEC section 5; numbers from :mod:`.conf`):

- a *denial* is an error raised by a handler whose class has ``counts_for_lockout``
  (:class:`~.errors.ObjectNotFound`, :class:`~.errors.AccessDenied`, :class:`~.errors.BadSignature`,
  :class:`~.errors.ExpiredLink`): a copy, page or file that is not the requester's or does not
  exist, a bad or expired signed link. Validation errors and role refusals never count;
- each denial counts one failure for the user (``LOCKOUT_USER_FAILURES``, default 5) and one for
  the client address (``LOCKOUT_ADDRESS_FAILURES``, default 100, since a whole school may share one
  NAT address) within ``LOCKOUT_WINDOW_SECONDS`` (a window opened by the first failure);
- reaching the threshold locks that user, or that address, for ``LOCKOUT_SECONDS``: every
  handler answers 429 ``locked_out`` with ``retry_after`` until the lock expires or an instructor
  lifts it. A lock is platform-wide (it is the requester who is locked, not one exam);
- counting and deciding are one atomic step: a denial past the threshold (one of a burst that passed
  the lock check together, before the lock started) is answered 429 ``locked_out`` instead of its own
  error (:func:`refuse`), so that however many denials arrive at once, exactly the threshold's number
  are answered with their own refusal;
- instructors of the block see every copy and page of its exam, so a miss of theirs cannot reveal
  anything: their denials do not count and an address lock does not apply to them (so they can
  still lift lockouts from a school's shared address).

Counters and locks live in the Django cache ``VIATIQUE['CACHE_ALIAS']``. On django-redis they are
updated atomically in Redis (one Lua script: INCR, EXPIRE on the first failure, SET NX EX of the
lock at the threshold, the count kept as long as the lock), so the policy holds across every web
worker and every host. Other caches (LocMem, in DEBUG and some unit tests) get the same policy with
the cache API's ``add``/``incr``. Keys hold a hash of the username or address, never the value itself.
When the cache cannot be reached the lockout is skipped (logged): permission checks still apply to
every request.

Each lock that starts leaves a :class:`~.models.LockoutRecord` (what instructors list and lift),
an audit event ``lockout.started`` and its tracking event. Operators list and lift lockouts of
every course with ``manage.py viatique_lockouts`` (:func:`in_force`, :func:`lift_subject`).
"""
import datetime
import hashlib
import logging
import math
import time

from django.core.cache import caches
from django.utils import timezone

from viatique_xblock import audit, inputs
from viatique_xblock.errors import LockedOut, NotFound
from viatique_xblock.i18n import N_
from viatique_xblock.models import Exam, LockoutRecord
from viatique_xblock.platform import conf, monitoring, redis_client

log = logging.getLogger(__name__)

USER = "user"
ADDRESS = "address"
KEY_ROOT = "viatique:lockout"

#: KEYS: failure counter, lock; ARGV: window seconds, threshold, lock seconds, lock value.
#: Returns {failures, 1 if this failure started the lock else 0}: the count of this failure, over the
#: threshold when the subject is locked already (the caller then answers 429). The threshold's failure
#: starts the lock and keeps the count as long as the lock; a count left over a lock that ended (lifted,
#: expired) starts again from 1.
FAIL_SCRIPT = """
local window, threshold, seconds = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], window) end
if count > threshold then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {count, 0} end
  redis.call('SET', KEYS[1], 1, 'EX', window)
  count = 1
end
if count == threshold then
  redis.call('EXPIRE', KEYS[1], seconds)
  if redis.call('SET', KEYS[2], ARGV[4], 'NX', 'EX', seconds) then return {count, 1} end
end
return {count, 0}
"""


def _cache():
    return caches[conf.get("CACHE_ALIAS")]


def _keys(kind, subject):
    """Cache keys (before the cache's prefix) of the failure counter and the lock of one subject."""
    digest = hashlib.sha256(f"{kind}:{subject}".encode("utf-8")).hexdigest()[:32]
    return f"{KEY_ROOT}:fail:{kind}:{digest}", f"{KEY_ROOT}:lock:{kind}:{digest}"


def subjects(user, address, checking=False):
    """``[(kind, subject, threshold)]`` the lockout applies to for this requester.

    ``checking``: for the lock check (an address lock then still applies to learners and graders
    only); otherwise for counting a failure (nothing for instructors).
    """
    if user is not None and user.is_instructor and not checking:
        return []
    found = []
    if user is not None and user.is_authenticated and user.username:
        found.append((USER, user.username, conf.get("LOCKOUT_USER_FAILURES")))
    if address and not (user is not None and user.is_instructor):
        found.append((ADDRESS, address, conf.get("LOCKOUT_ADDRESS_FAILURES")))
    return found


# ------------------------------------------------------------------ the cache side


def _remaining(cache, pairs):
    """Seconds left on the longest lock among ``pairs`` ((kind, subject)); 0 when none."""
    lock_keys = [_keys(kind, subject)[1] for kind, subject in pairs]
    client = redis_client.raw_client(cache)
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for key in lock_keys:
            pipe.pttl(cache.make_key(key))
        millis = max([value for value in pipe.execute() if value and value > 0], default=0)
        return math.ceil(millis / 1000)
    now = time.time()
    ends = [cache.get(key) for key in lock_keys]
    return max([math.ceil(end - now) for end in ends if end and end > now], default=0)


def _fail(cache, kind, subject, threshold):
    """Count one failure; returns ``(failures, started)``, ``started`` True when it started the lock.

    ``failures`` over ``threshold`` means the subject was locked already when this failure came."""
    fail_key, lock_key = _keys(kind, subject)
    window, seconds = conf.get("LOCKOUT_WINDOW_SECONDS"), conf.get("LOCKOUT_SECONDS")
    until = time.time() + seconds
    client = redis_client.raw_client(cache)
    if client is not None:
        script = client.register_script(FAIL_SCRIPT)
        count, started = script(keys=[cache.make_key(fail_key), cache.make_key(lock_key)],
                                args=[window, threshold, seconds, f"{until:.3f}"])
        return int(count), bool(started)
    # the same steps with the cache API (a per-process cache: one process, so no burst across workers)
    cache.add(fail_key, 0, window)
    try:
        count = cache.incr(fail_key)
    except ValueError:  # expired between add and incr
        cache.set(fail_key, 1, window)
        count = 1
    if count > threshold:
        end = cache.get(lock_key)
        if end and end > time.time():
            return count, False
        cache.set(fail_key, 1, window)
        count = 1
    if count == threshold:
        cache.touch(fail_key, seconds)
        return count, bool(cache.add(lock_key, until, seconds))
    return count, False


def _clear(cache, kind, subject):
    cache.delete_many(list(_keys(kind, subject)))


# ------------------------------------------------------------------ the policy


def check(user, address):
    """Raise :class:`LockedOut` when the user or the address is locked out."""
    pairs = [(kind, subject) for kind, subject, _threshold in subjects(user, address, checking=True)]
    if not pairs:
        return
    try:
        remaining = _remaining(_cache(), pairs)
    except Exception:  # noqa: BLE001 - a cache outage must not take the block down with it
        log.warning("Viatique lockout: the cache could not be read; lockout not checked", exc_info=True)
        return
    if remaining > 0:
        raise _locked_out(remaining)


def _locked_out(remaining):
    """The 429 answering a locked-out requester (counted: ``viatique.lockout_refusals``)."""
    monitoring.increment("lockout_refusals")
    return LockedOut(N_("Too many refused requests: access is blocked for {minutes} min. Try again later."),
                     retry_after=remaining, minutes=math.ceil(remaining / 60))


def count_failure(user, address, course_key, exam=None, publish=None, reason=""):
    """Count one denied request of ``user`` from ``address``; start locks that reach their threshold.

    ``exam`` is a callable giving the exam to audit a lock under (called only when one starts).
    Returns the :class:`LockoutRecord` rows of the locks this failure started.
    """
    return _count(user, address, course_key, exam, publish, reason)[0]


def refuse(user, address, course_key, exam=None, publish=None, reason=""):
    """Count one denied request (as :func:`count_failure`) and decide how it is answered, in the same
    atomic step: :class:`LockedOut` (429, to answer instead of the denial's own error) when its count
    is over a threshold, the subject being locked already; None when the denial is answered as itself.

    Of any number of denials arriving at once from one user (say 60, which all passed :func:`check`
    before the lock started), exactly ``LOCKOUT_USER_FAILURES`` get their own answer; the others 429.
    """
    started, locked = _count(user, address, course_key, exam, publish, reason)
    if not locked:
        return None
    try:
        remaining = _remaining(_cache(), locked)
    except Exception:  # noqa: BLE001 - see check()
        remaining = 0
    return _locked_out(remaining or conf.get("LOCKOUT_SECONDS"))


def _count(user, address, course_key, exam, publish, reason):
    """``(records of the locks started, [(kind, subject)] already locked)`` after counting one failure."""
    started, locked = [], []
    cache = _cache()
    for kind, subject, threshold in subjects(user, address):
        try:
            failures, new_lock = _fail(cache, kind, subject, threshold)
        except Exception:  # noqa: BLE001 - see check()
            log.warning("Viatique lockout: the cache could not be written; failure not counted", exc_info=True)
            return started, locked
        if new_lock:
            started.append(_lock_started(kind, subject, failures, user, address, course_key, exam, publish, reason))
        elif failures > threshold:
            locked.append((kind, subject))
    return started, locked


def _lock_started(kind, subject, failures, user, address, course_key, exam, publish, reason):
    seconds = conf.get("LOCKOUT_SECONDS")
    record = LockoutRecord.objects.create(
        course_key=course_key, kind=kind, subject=subject,
        locked_until=timezone.now() + datetime.timedelta(seconds=seconds),
    )
    log.warning("Viatique lockout: %s %s locked out for %s s after %s denied requests", kind, subject, seconds,
                failures)
    if exam is not None:
        audit.record(exam() if callable(exam) else exam, "lockout.started", actor=user, client_ip=address,
                     details={"lockout_id": record.pk, "kind": kind, "subject": subject, "failures": failures,
                              "seconds": seconds, "reason": reason},
                     publish=publish)
    return record


def current(course_key):
    """Lockouts started in this course and still in force, newest first."""
    return in_force(course_key)


def as_json(record, now=None):
    now = now or timezone.now()
    return {"id": record.pk, "kind": record.kind, "subject": record.subject,
            "created_at": record.created_at, "locked_until": record.locked_until,
            "retry_after": max(0, math.ceil((record.locked_until - now).total_seconds()))}


def lift(course_key, record_id, exam, actor=None, client_ip=None, publish=None):
    """End a lockout of this course at once: its lock and failure counters go, the record says who lifted it.

    A record no longer in force (lifted, or expired) changes nothing: a lock the same subject got
    since then has a record of its own, maybe in another course."""
    try:
        record = LockoutRecord.objects.get(course_key=course_key, pk=inputs.parse_id(record_id))
    except LockoutRecord.DoesNotExist as exc:
        raise NotFound(N_("This lockout does not exist.")) from exc
    was_active = record.lifted_at is None and record.locked_until > timezone.now()
    if was_active:
        _clear(_cache(), record.kind, record.subject)
        record.lifted_at = timezone.now()
        record.lifted_by = getattr(actor, "username", "") or ""
        record.save(update_fields=["lifted_at", "lifted_by"])
    audit.record(exam, "lockout.lifted", actor=actor, client_ip=client_ip, publish=publish,
                 details={"lockout_id": record.pk, "kind": record.kind, "subject": record.subject,
                          "was_active": was_active})
    return record


# ------------------------------------------------------------------ operators

#: ``lifted_by`` of the records an operator lifts from the command line
OPERATOR = "operator"


def in_force(course_key=None):
    """Lockouts still in force in every course (or one), newest first: what an operator lists."""
    queryset = LockoutRecord.objects.filter(lifted_at__isnull=True, locked_until__gt=timezone.now())
    if course_key is not None:
        queryset = queryset.filter(course_key=course_key)
    return queryset.order_by("-created_at", "-id")


def lift_subject(kind, subject, by=OPERATOR):
    """End the lock and failure counters of one user or address at once, wherever it started (an
    operator's move: a lock is platform-wide), and mark its records still in force lifted.

    Returns the records lifted (there may be none: failure counters with no lock yet are cleared
    all the same). Each one is audited ``lockout.lifted`` under the
    newest exam of its course, when the course has one."""
    if kind not in (USER, ADDRESS):
        raise ValueError(f"kind must be {USER!r} or {ADDRESS!r}")
    _clear(_cache(), kind, subject)
    records = list(in_force().filter(kind=kind, subject=subject))
    now = timezone.now()
    for record in records:
        record.lifted_at, record.lifted_by = now, by
        record.save(update_fields=["lifted_at", "lifted_by"])
        exam = Exam.objects.filter(course_key=record.course_key).order_by("-id").first()
        if exam is not None:
            audit.record(exam, "lockout.lifted", details={"lockout_id": record.pk, "kind": kind, "subject": subject,
                                                          "was_active": True, "by": by})
    return records
