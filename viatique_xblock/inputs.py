"""The strict rules every value sent to a handler is read by (issue 13): ids, whole numbers, text.

:mod:`viatique_xblock.jsonapi` applies the rules that hold for every value of every request before a
handler runs (JSON depth, size, text the database can store, finite numbers: :func:`check_tree`);
the domain modules read each field with the helpers below, so that a value the rules refuse is a
400 with a stable code naming the field, never a ``ValueError``, ``OverflowError`` or database
error deep in a handler (a 500). No Django, no webob: any stage may import it.

- **ids** (:func:`parse_id`): a JSON whole number, or its ASCII digits as text (``"42"``), from 1
  to the largest 64-bit id. ``str.isdigit()`` accepts ``"²"`` and ``"①"``, which ``int()`` refuses,
  and ``int()`` accepts ``" 4_2 "``, ``"٤٢"`` and ``True``: neither is used on request data.
- **whole numbers** (:func:`whole_number`): the same, with a range and a default.
- **text** (:func:`check_text`): no lone surrogate (MariaDB's utf8mb4 cannot encode one) and no NUL.
"""
import math
import re

from viatique_xblock.errors import InvalidNumber, InvalidRequest, InvalidText
from viatique_xblock.i18n import N_

#: the largest id of a ``BigAutoField`` (and the largest whole number a JSON body may hold)
MAX_ID = 2 ** 63 - 1
#: JSON nested deeper than this is refused (a legitimate body is 4 or 5 levels deep)
MAX_DEPTH = 64

_DIGITS = re.compile(r"[0-9]{1,19}\Z")  # ASCII digits only: [0-9], not \d (which matches "٣")
#: a lone surrogate (U+D800 to U+DFFF) or a NUL character
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def field_error(error_class, message, field, **params):
    """An error of ``error_class`` whose answer carries ``field`` (the path of the faulty value)."""
    error = error_class(message, field=field, **params)
    error.field = field
    return error


def printable_field(path):
    """A field path fit for an answer: a faulty key is shown with its bad characters escaped."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", path)


def parse_id(raw):
    """The id in ``raw`` (a JSON whole number or ASCII digits), or None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _DIGITS.match(raw):
        value = int(raw)
    else:
        return None
    return value if 1 <= value <= MAX_ID else None


def whole_number(raw, default=None, low=None, high=None, clamp=False):
    """A whole number from a JSON number or ASCII digits (an optional leading ``-``).

    None (missing, unreadable, or out of ``[low, high]`` without ``clamp``) gives ``default``; with
    ``clamp`` a number out of range is brought back into it. A float that is whole (``2.0``) counts.
    """
    value = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and math.isfinite(raw) and raw == int(raw):
        value = int(raw)
    elif isinstance(raw, str):
        text = raw.strip(" ")
        negative = text.startswith("-")
        digits = text[1:] if negative else text
        if re.fullmatch(r"[0-9]{1,40}", digits):
            value = -int(digits) if negative else int(digits)
    if value is None:
        return default
    if clamp:
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        return value
    if (low is not None and value < low) or (high is not None and value > high):
        return default
    return value


def unstorable(text):
    """True when ``text`` holds a character the database cannot store (a lone surrogate, a NUL)."""
    return bool(_UNSTORABLE.search(text))


def check_text(text, field):
    """``text`` itself, or :class:`InvalidText` naming ``field``."""
    if unstorable(text):
        raise field_error(InvalidText, N_("“{field}” holds a character that cannot be stored (a lone "
                                          "surrogate or a NUL character)."), printable_field(field))
    return text


def check_tree(value, root=""):
    """Check every value of a parsed JSON body (or a query): text the database can store, numbers
    finite and within 64 bits, nesting at most :data:`MAX_DEPTH` deep. Iterative (no recursion)."""
    stack = [(value, root, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path or "body")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_ID <= item <= MAX_ID:
                raise field_error(InvalidNumber, N_("“{field}” is a number too large to store."),
                                  printable_field(path or "body"))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise field_error(InvalidNumber, N_("“{field}” must be a finite number."),
                                  printable_field(path or "body"))
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InvalidRequest(N_("The request is nested more than {depth} levels deep."), depth=MAX_DEPTH)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                key = str(key)
                child_path = f"{path}.{key}" if path else key
                check_text(key, child_path)
                stack.append((child, child_path, depth + 1))
    return value
