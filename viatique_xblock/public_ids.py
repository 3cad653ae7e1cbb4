"""Public identifiers of copies and pages: the only ids of them that leave the server.

Database keys follow the order rows were made in: copies and pages in the order the scan was
read, which is often the class list's order (prenamed booklets printed and stacked
alphabetically, copies collected by seat). A grader holding the class list could match the
copies to learners from such numbers. So every copy and page carries a random ``public_id``
(:func:`new`: 16 characters of ``a-z2-7``, 80 random bits from the system's CSPRNG) and every
handler, JSON answer, URL and file name uses it; primary keys stay inside the server (Celery
task arguments, the audit log's references).

Lower case only, because MariaDB and MySQL compare text without case by default: an id is
the same whichever way it is typed, and two ids never differ only by case.
"""
import base64
import re
import secrets

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
LENGTH = 16
_FORM = re.compile(r"[a-z2-7]{%d}" % LENGTH)


def new():
    """A new random public id: 80 bits of the CSPRNG (one call to it, not one per character: every page of
    a scan gets one) written in base 32, whose alphabet in lower case is :data:`ALPHABET`."""
    return base64.b32encode(secrets.token_bytes(LENGTH * 5 // 8)).decode("ascii").lower()


def parse(raw):
    """The public id in ``raw`` (text, surrounding blanks and case ignored), or None when ``raw`` is not
    one: anything else (a number, an old numeric id, a list) is a malformed request, not a lookup."""
    if not isinstance(raw, str):
        return None
    value = raw.strip().lower()
    return value if _FORM.fullmatch(value) else None
