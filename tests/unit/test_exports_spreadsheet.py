"""The grades CSV opened by a real spreadsheet: LibreOffice Calc converts it (its CSV import, as a
user opening the file gets) to an .xlsx that openpyxl reads back, cell by cell, with its type.

A cell LibreOffice takes for a formula comes back with type ``f``: a raw ``=1+1`` written next to
the export shows the check catches one; the export's own cells never are.
"""
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest

from tests.unit.test_exports import add_copy, download, graded_exam  # noqa: F401  (fixture)
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

SOFFICE = "/usr/bin/soffice"
#: LibreOffice's CSV import options: field separator, text delimiter ("), UTF-8 (76), from line 1
FILTERS = {",": "CSV:44,34,76,1", ";": "CSV:59,34,76,1"}


def open_in_calc(data, delimiter, folder):
    """The CSV bytes as LibreOffice Calc reads them: ``[[(value, type), ...], ...]``."""
    source = folder / ("grades-semicolon.csv" if delimiter == ";" else "grades.csv")
    source.write_bytes(data)
    profile = folder / "profile"  # a profile of its own: runs never share LibreOffice's lock
    result = subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "xlsx",
         f"--infilter={FILTERS[delimiter]}", "--outdir", str(folder), str(source)],
        capture_output=True, text=True, timeout=180)
    converted = source.with_suffix(".xlsx")
    assert converted.exists(), result.stdout + result.stderr
    sheet = openpyxl.load_workbook(converted).active
    return [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]


def test_calc_shows_injected_formulas_as_text_and_keeps_accents(graded_exam):  # noqa: F811
    block, exam = graded_exam
    add_copy(exam, "EEEEE", "+33 6 12", "@SUM(A1)", Grading.GRADED, "=cmd|' /C calc'!A0", {"q1": 0})
    with tempfile.TemporaryDirectory(prefix="viatique-calc-") as name:
        folder = Path(name)
        for query, delimiter in (("", ","), ("separator=semicolon", ";")):
            data = download(block, "grades_csv", query).body
            # the control: the same file with one raw formula appended is read with a formula cell
            control = open_in_calc(data + f"ZZZZZ{delimiter}=1+1\r\n".encode(), delimiter, folder)
            assert ("=1+1", "f") in control[-1]
            cells = [cell for row in open_in_calc(data, delimiter, folder) for cell in row]
            assert not [cell for cell in cells if cell[1] == "f"], cells
            texts = {value for value, _type in cells if isinstance(value, str)}
            assert "Chloé Dubois" in texts
            assert any("Exercice 1 — dérivées" in text for text in texts)
            for hostile in ("=HYPERLINK(\"http://evil\")", "+33 6 12", "=cmd|' /C calc'!A0", "-learner_2"):
                assert "'" + hostile in texts, (hostile, texts)
