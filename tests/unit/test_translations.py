"""English and French, on the server and in JavaScript: catalogues complete and compiled."""
import gettext
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from tests.harness import call, make_block
from viatique_xblock import i18n

REPO = Path(__file__).resolve().parents[2]
CATALOGUES = REPO / "viatique_xblock" / "translations"


def po_entries(path):
    """msgid -> msgstr of a .po file (enough of the format for our catalogues)."""
    entries, key, current = {}, None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("msgid "):
            key, current = "msgid", [line[6:]]
            msgid_parts = current
        elif line.startswith("msgstr "):
            key, current = "msgstr", [line[7:]]
            msgstr_parts = current
        elif line.startswith('"') and current is not None:
            current.append(line)
        elif not line.strip() and key == "msgstr":
            join = lambda parts: "".join(part.strip()[1:-1] for part in parts).encode().decode("unicode_escape")
            entries[join(msgid_parts).encode("latin-1").decode("utf-8")] = \
                join(msgstr_parts).encode("latin-1").decode("utf-8")
            key, current = None, None
    entries.pop("", None)
    return entries


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_french_string_is_translated_and_compiled(domain):
    po = po_entries(CATALOGUES / "fr" / "LC_MESSAGES" / f"{domain}.po")
    assert po, "empty catalogue"
    untranslated = [msgid for msgid, msgstr in po.items() if not msgstr]
    assert untranslated == []
    with open(CATALOGUES / "fr" / "LC_MESSAGES" / f"{domain}.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, msgstr in po.items() if compiled.gettext(msgid) != msgstr]
    assert stale == [], "run `make translations`"


def test_catalogues_hold_every_string_of_the_code(tmp_path):
    """Extracting again finds no string missing from the French catalogue (run `make extract-translations`)."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "viatique_xblock", copy / "viatique_xblock", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "scripts", copy / "scripts")
    shutil.copytree(REPO / "demo", copy / "demo", ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    subprocess.run(["sh", str(copy / "scripts" / "translations.sh"), "extract"], check=True, capture_output=True,
                   env={"PY": sys.executable, "PATH": "/usr/bin:/bin"}, cwd=copy)
    for domain in ("django", "djangojs"):
        fresh = po_entries(copy / "viatique_xblock" / "translations" / "fr" / "LC_MESSAGES" / f"{domain}.po")
        known = po_entries(CATALOGUES / "fr" / "LC_MESSAGES" / f"{domain}.po")
        assert sorted(set(fresh) - set(known)) == [], f"{domain}: strings not in the catalogue"


@pytest.mark.django_db
def test_errors_and_views_follow_the_active_language():
    with translation.override("fr"):
        status, body = call(make_block("learner_1", "learner"), "studio_submit", {})
        assert status == 403
        assert body["message"] == "Seule l'équipe du cours peut modifier les réglages de l'examen."
        content = make_block().student_view().content
        assert "Tableau de bord enseignant" in content and "Avancement" in content
    with translation.override("en-us"):
        assert "Instructor dashboard" in make_block().student_view().content


def test_javascript_catalogue_is_handed_to_the_client():
    french = i18n.js_catalog("fr")
    assert french and all(value and (isinstance(value, str) or all(isinstance(form, str) and form for form in value))
                          for value in french.values())
    # plural entries: the forms of the language, singular first (ViatiqueCommon.makeNgettext picks one)
    assert french["{count} comment"] == ["{count} commentaire", "{count} commentaires"]
    assert i18n.js_catalog("en") == {}


def test_numbers_are_written_in_the_active_language():
    with translation.override("fr"):
        assert [i18n.number(value) for value in ("20.75", Decimal("0.50"), 4, None)] == ["20,75", "0,5", "4", "—"]
        assert i18n.number(100) == "100" and i18n.number("1e400") == "1" + "0" * 400  # never an exponent
        assert i18n.number("abc") == "abc" and i18n.number("NaN") == "NaN"
    with translation.override("en"):
        assert [i18n.number(value) for value in ("20.75", Decimal("0.50"), 4)] == ["20.75", "0.5", "4"]
    with translation.override("fr-ca"):
        assert i18n.language() == "fr"
    with translation.override("de"):
        assert i18n.language() == "en"


def test_the_marking_scheme_table_writes_numbers_in_the_active_language():
    fields = {"marking_scheme": {"questions": [{"id": "q1", "label": "Exercice 1", "max": 2.5, "step": 0.25}],
                                 "next_id": 2}, "grade_scale": 20}
    with translation.override("fr"):
        french = make_block(fields=fields).author_view().content
    with translation.override("en"):
        english = make_block(fields=fields).author_view().content
    assert "<td>2,5</td>" in french and "<td>0,25</td>" in french and "2.5" not in french
    assert "<td>2.5</td>" in english and "<td>0.25</td>" in english
