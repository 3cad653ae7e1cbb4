"""The README stays true: its settings table is the one in viatique_xblock/platform/conf.py."""
from pathlib import Path

from scripts import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_the_code():
    text = README.read_text(encoding="utf-8")
    assert settings_table.rewrite(text) == text, "run `python scripts/settings_table.py --write`"


def test_readme_shows_the_developer_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text and "make serve" in text
