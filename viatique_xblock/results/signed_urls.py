"""Short-lived signed download links, bound to one user, one exam and one file.

A link is the download handler's own URL with ``?sig=<token>``: the handler still runs as the
logged-in user and checks permission as always; the signature adds a lifetime
(``SIGNED_URL_SECONDS``) and binds the link to the user it was made for, so a link copied into
another account, edited to point at another copy, or kept past its lifetime is refused
(:class:`~.errors.BadSignature`, :class:`~.errors.ExpiredLink`, both counted by the lockout).
Tokens are made by Django's :class:`~django.core.signing.TimestampSigner` (the platform's
SECRET_KEY) with a salt of their own.
"""
import datetime

from django.core import signing
from django.utils import timezone

from viatique_xblock.errors import BadSignature, ExpiredLink
from viatique_xblock.i18n import N_
from viatique_xblock.platform import conf

SALT = "viatique.signed-download"


def _signer():
    return signing.TimestampSigner(salt=SALT)


def _claims(user, exam, object_id, kind):
    return {"u": user.username, "e": exam.pk, "o": str(object_id), "k": kind}


def sign(user, exam, object_id, kind):
    """A token for ``user`` to download ``kind`` of ``object_id`` in ``exam``, and when it expires."""
    token = _signer().sign_object(_claims(user, exam, object_id, kind), compress=False)
    expires_at = timezone.now() + datetime.timedelta(seconds=conf.get("SIGNED_URL_SECONDS"))
    return token, expires_at


def verify(token, user, exam, object_id, kind):
    """Raise unless ``token`` was made for exactly this user, exam, object and kind, and is still fresh."""
    try:
        claims = _signer().unsign_object(str(token), max_age=conf.get("SIGNED_URL_SECONDS"))
    except signing.SignatureExpired as exc:
        raise ExpiredLink(N_("This download link has expired. Ask for a new one.")) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadSignature(N_("This download link is not valid.")) from exc
    if claims != _claims(user, exam, object_id, kind):
        raise BadSignature(N_("This download link is not valid."))
