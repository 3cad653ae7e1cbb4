"""Matching copies to enrolled learners (public API): the desk's queue, skips, the hold list, search, match,
swap, undo, reveal.

One learner, one copy per exam: matching a learner who already has a copy is
refused with the copy that holds them, unless the instructor asks to swap.
Every match and unmatch is audited; nothing changes once results are released.

A copy an instructor skips is remembered on the server for that instructor (:func:`skip`): it comes after
the others in their :func:`queue`, after a reload too, until the next scan is uploaded. A copy whose name is
not on the roster goes on the hold list (:func:`hold`): out of the desk's queue, listed for the instructors
until one resolves it (:func:`release_hold` puts it back on the desk; matching it takes it off the list).
"""
import difflib
import unicodedata

from django.db import transaction

from viatique_xblock import audit, public_ids
from viatique_xblock.errors import ObjectNotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.models import Copy, DeskSkip, ScanBatch
from viatique_xblock.states import Identity


class LearnerTaken(ViatiqueError):
    code = "learner_taken"
    status = 409

    def __init__(self, message, holder, **params):
        self.holder = holder
        super().__init__(message, **params)

    def extra(self):
        return {"holder": {"id": self.holder.public_id, "code": self.holder.anonymous_code}}


class ResultsReleased(ViatiqueError):
    code = "results_released"
    status = 409


class UnknownLearner(ViatiqueError):
    code = "unknown_learner"
    status = 400


class AlreadyIdentified(ViatiqueError):
    code = "already_identified"
    status = 409


#: how long a note on a held copy may be
HOLD_NOTE_LENGTH = 255


def fold(text):
    """Lower case without accents: "Élodie" and "elodie" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def _tokens(text):
    return [token for token in "".join(c if c.isalnum() else " " for c in fold(text)).split() if token]


def score(query, learner):
    """How well ``query`` names ``learner`` (0 to 1): word order, accents and case ignored."""
    wanted = _tokens(query)
    if not wanted:
        return 0.0
    words = _tokens(learner.name) + _tokens(learner.username)
    prefix_hits = sum(1 for token in wanted if any(word.startswith(token) for word in words))
    closeness = difflib.SequenceMatcher(None, " ".join(sorted(wanted)), " ".join(sorted(_tokens(learner.name)))).ratio()
    return round(0.7 * prefix_hits / len(wanted) + 0.3 * closeness, 4)


def search(roster, query, matched=None, limit=8):
    """The learners of ``roster`` best named by ``query``, best first, with the copy already matched to each."""
    matched = matched or {}
    ranked = sorted(((score(query, learner), learner) for learner in roster),
                    key=lambda pair: (-pair[0], fold(pair[1].name)))
    return [
        {"username": learner.username, "name": learner.name, "score": value,
         "copy": matched.get(learner.anonymous_id)}
        for value, learner in ranked[:limit] if value > 0.2
    ]


def matched_codes(exam):
    """anonymous id -> code of the copy matched to that learner."""
    return dict(Copy.objects.filter(exam=exam, learner_anonymous_id__isnull=False)
                .values_list("learner_anonymous_id", "anonymous_code"))


def _open(exam):
    if exam.released_at:
        raise ResultsReleased(N_("Results are released: identities can no longer change. Unrelease them first."))


def get_copy(exam, copy_id):
    """A copy of this exam by its public id, or :class:`ObjectNotFound` (which counts towards the lockout)."""
    return _copy(exam, copy_id, lock=False)


def _copy(exam, copy_id, lock=True):
    queryset = Copy.objects.select_for_update() if lock else Copy.objects
    try:
        return queryset.get(exam=exam, public_id=public_ids.parse(copy_id))
    except Copy.DoesNotExist as exc:
        raise ObjectNotFound(N_("This copy does not exist.")) from exc


def _set_identity(copy, learner):
    copy.learner_anonymous_id = learner.anonymous_id if learner else None
    copy.learner_username = learner.username if learner else ""
    copy.learner_name = learner.name if learner else ""
    copy.identity_state = Identity.IDENTIFIED if learner else Identity.UNIDENTIFIED
    copy.save(update_fields=["learner_anonymous_id", "learner_username", "learner_name", "identity_state",
                             "updated_at"])


def _learner(copy):
    from viatique_xblock.platform.compat import Learner
    if not copy.learner_anonymous_id:
        return None
    return Learner(copy.learner_username, copy.learner_name, copy.learner_anonymous_id)


def match(exam, copy_id, learner, actor=None, swap=False, client_ip=None, publish=None):
    """Match a copy to an enrolled learner (a :class:`~.compat.Learner`); returns the copy.

    When the learner already has another copy: refused with :class:`LearnerTaken`,
    or with ``swap`` the two copies exchange identities.
    """
    if learner is None:
        raise UnknownLearner(N_("This learner is not enrolled in the course."))
    _open(exam)
    with transaction.atomic():
        copy = _copy(exam, copy_id)
        holder = Copy.objects.select_for_update().filter(
            exam=exam, learner_anonymous_id=learner.anonymous_id).exclude(pk=copy.pk).first()
        previous = _learner(copy)
        if holder is not None and not swap:
            raise LearnerTaken(N_("{name} is already matched to copy {code}."), holder,
                               name=learner.name, code=holder.anonymous_code)
        if holder is not None:
            _set_identity(holder, None)  # free the learner first: one learner, one copy
        _set_identity(copy, learner)
        if copy.on_hold:  # matched from the hold list: resolved
            _set_hold(copy, False, "")
        if holder is not None:
            _set_identity(holder, previous)
            audit.record(exam, "copy.identity_swapped", actor=actor, copy=holder, client_ip=client_ip,
                         publish=publish, details={"with": copy.pk,
                                                   "username": previous.username if previous else None})
        audit.record(exam, "copy.identified", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                     details={"source": "desk", "username": learner.username,
                              "previous": previous.username if previous else None})
    return copy


def unmatch(exam, copy_id, actor=None, client_ip=None, publish=None):
    """Undo a match (until results are released)."""
    _open(exam)
    with transaction.atomic():
        copy = _copy(exam, copy_id)
        previous = _learner(copy)
        _set_identity(copy, None)
        audit.record(exam, "copy.unidentified", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                     details={"username": previous.username if previous else None})
    return copy


def reveal(exam, copy_id, actor=None, client_ip=None, publish=None):
    """The identity behind an anonymous copy, for an instructor; every reveal is audited."""
    copy = _copy(exam, copy_id, lock=False)
    audit.record(exam, "copy.identity_revealed", actor=actor, copy=copy, client_ip=client_ip, publish=publish)
    return {"id": copy.public_id, "code": copy.anonymous_code, "identity": copy.identity_state,
            "username": copy.learner_username, "name": copy.learner_name}


def progress(exam):
    total = Copy.objects.filter(exam=exam).count()
    identified = Copy.objects.filter(exam=exam, identity_state=Identity.IDENTIFIED).count()
    return {"identified": identified, "total": total}


# ----------------------------------------------------------------- the desk's queue, skips, hold list

def _skips(exam, username):
    """copy pk -> time of the skip, for the skips of ``username`` made since the latest scan was uploaded."""
    latest = ScanBatch.objects.filter(exam=exam).order_by("-created_at").values_list("created_at", flat=True).first()
    skips = DeskSkip.objects.filter(exam=exam, username=username)
    if latest is not None:
        skips = skips.filter(created_at__gte=latest)
    return dict(skips.values_list("copy_id", "created_at"))


def queue(exam, username, limit=50):
    """The copies the desk shows ``username``, in order: ``{"copies": [{"id", "code", "skipped"}], "count",
    "held"}``: unidentified copies not on hold, by code, those ``username`` skipped since the latest scan last
    (in the order they were skipped); ``count`` is how many are left in all; ``held`` the hold list
    (:func:`held`). A few queries, whatever the number of copies."""
    skips = _skips(exam, username)
    waiting = Copy.objects.filter(exam=exam, identity_state=Identity.UNIDENTIFIED, on_hold=False)
    count = waiting.count()
    first = list(waiting.exclude(pk__in=list(skips)).order_by("anonymous_code")
                 .values_list("pk", "public_id", "anonymous_code")[:limit])
    rows = [{"id": public_id, "code": code, "skipped": False} for _pk, public_id, code in first]
    if len(rows) < limit and skips:
        later = sorted(waiting.filter(pk__in=list(skips)).values_list("pk", "public_id", "anonymous_code"),
                       key=lambda row: (skips[row[0]], row[2]))
        rows += [{"id": public_id, "code": code, "skipped": True} for _pk, public_id, code in later]
    return {"copies": rows[:limit], "count": count, "held": held(exam)}


def skip(exam, copy_id, username):
    """Put a copy after the others in ``username``'s queue, until the next scan is uploaded (not audited: it
    changes nothing of the copy). Skipping it again puts it last again."""
    copy = _copy(exam, copy_id, lock=False)
    with transaction.atomic():
        DeskSkip.objects.filter(copy=copy, username=username).delete()
        DeskSkip.objects.create(exam=exam, copy=copy, username=username)
    return copy


def _set_hold(copy, on_hold, note):
    copy.on_hold, copy.hold_note = on_hold, note
    copy.save(update_fields=["on_hold", "hold_note", "updated_at"])


def hold(exam, copy_id, note="", actor=None, client_ip=None, publish=None):
    """Put an unidentified copy on the hold list: the name on its cover is not on the roster (a learner not
    enrolled yet, a name that cannot be read). ``note`` (optional) says why. Audited as ``copy.held``."""
    _open(exam)
    note = (note or "").strip()[:HOLD_NOTE_LENGTH]
    with transaction.atomic():
        copy = _copy(exam, copy_id)
        if copy.identity_state == Identity.IDENTIFIED:
            raise AlreadyIdentified(N_("Copy {code} is already identified."), code=copy.anonymous_code)
        _set_hold(copy, True, note)
        audit.record(exam, "copy.held", actor=actor, copy=copy, client_ip=client_ip, publish=publish,
                     details={"note": note})
    return copy


def release_hold(exam, copy_id, actor=None, client_ip=None, publish=None):
    """Take a copy off the hold list, back to the desk (once its learner is enrolled, say). Audited as
    ``copy.hold_released``."""
    with transaction.atomic():
        copy = _copy(exam, copy_id)
        _set_hold(copy, False, "")
        audit.record(exam, "copy.hold_released", actor=actor, copy=copy, client_ip=client_ip, publish=publish)
    return copy


def held(exam):
    """The hold list: ``[{"id", "code", "note"}]`` of the copies put on hold, by code."""
    return [{"id": public_id, "code": code, "note": note}
            for public_id, code, note in Copy.objects.filter(exam=exam, on_hold=True).order_by("anonymous_code")
            .values_list("public_id", "anonymous_code", "hold_note")]
