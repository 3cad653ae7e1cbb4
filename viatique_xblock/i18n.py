"""Translations shipped in ``translations/<lang>/LC_MESSAGES``, used in the LMS and the workbench alike.

The catalogue follows Django's active language (``get_language()``), so the
platform's language negotiation (user preference, ``Accept-Language``) applies,
without requiring the platform to add our folder to ``LOCALE_PATHS``.

- ``django.mo``: server strings (Python and templates).
- ``djangojs.mo``: JavaScript strings, handed to the client by :func:`js_catalog` (plurals too).
- :func:`number`: a number written in the active language ("20,75" in French).

Mark strings with ``gettext``/``_`` where they are used, ``gettext_lazy`` at import
time, and ``N_`` where the string is translated later (error templates).
"""
import functools
import gettext as gettext_module
import os

from django.utils import translation
from django.utils.functional import lazy

TRANSLATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")
LANGUAGES = ("en", "fr")


def language():
    """Short code of the active language that we have a catalogue for ("en" otherwise)."""
    active = (translation.get_language() or "en").lower().replace("_", "-")
    short = active.split("-")[0]
    return short if short in LANGUAGES else "en"


@functools.lru_cache(maxsize=16)
def _catalogue(lang, domain="django"):
    return gettext_module.translation(
        domain, localedir=TRANSLATIONS_DIR, languages=[lang], fallback=True
    )


def gettext(message):
    return _catalogue(language()).gettext(message)


def ngettext(singular, plural, number):
    return _catalogue(language()).ngettext(singular, plural, number)


def N_(message):  # noqa: N802 - the conventional name of the no-op marker
    """Mark a string for extraction; it is translated where it is shown."""
    return message


gettext_lazy = lazy(gettext, str)
_ = gettext


def template_catalogue():
    """The server catalogue of the active language, for ``ResourceLoader.render_django_template``."""
    return _catalogue(language())


def js_catalog(lang=None):
    """The JavaScript catalogue of a language as ``{msgid: msgstr}``, plural entries as ``{singular:
    [form, form, ...]}`` (``ViatiqueCommon.makeNgettext`` picks one); empty for English."""
    catalogue = _catalogue(lang or language(), "djangojs")
    messages = getattr(catalogue, "_catalog", {}) or {}
    result = {key: value for key, value in messages.items() if isinstance(key, str) and key}
    plurals = {}
    for key, value in messages.items():
        if isinstance(key, tuple) and key[0]:
            plurals.setdefault(key[0], {})[key[1]] = value
    for singular, forms in plurals.items():
        result[singular] = [forms[index] for index in sorted(forms)]
    return result


def number(value):
    """A number (Decimal, int, float or a decimal string) written as the active language writes it,
    by Django's formats: "20,75" in French, "20.75" in English; None and "" as "—"."""
    from decimal import Decimal, InvalidOperation

    from django.utils import formats

    if value is None or value == "":
        return "—"
    try:
        decimal = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not decimal.is_finite():
        return str(value)
    # the plain digits (never an exponent: 100, not 1E+2), then the language's separators
    return formats.number_format(f"{decimal.normalize():f}", use_l10n=True)
