"""Print the VIATIQUE settings as a Markdown table, or rewrite it in README.md (--write).

The table sits between ``<!-- settings-table -->`` markers; tests/unit/test_docs.py
checks it matches viatique_xblock/platform/conf.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from viatique_xblock.platform.conf import SETTINGS  # noqa: E402

START, END = "<!-- settings-table -->", "<!-- /settings-table -->"
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def table():
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for name, (default, doc) in SETTINGS.items():
        lines.append(f"| `{name}` | `{default!r}` | {doc} |")
    return "\n".join(lines)


def rewrite(text):
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    return f"{before}{START}\n{table()}\n{END}{after}"


if __name__ == "__main__":
    if "--write" in sys.argv:
        with open(README, encoding="utf-8") as handle:
            text = handle.read()
        with open(README, "w", encoding="utf-8") as handle:
            handle.write(rewrite(text))
    else:
        print(table())
