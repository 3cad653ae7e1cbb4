"""axe-core in the browser tests: ``assert_accessible(page, scope)`` fails on any WCAG 2.1 A or AA violation.

axe-core comes from the npm registry, installed by ``make test`` (the Makefile's ``$(AXE)`` step) into
``.venv/node/node_modules/axe-core`` (``VIATIQUE_AXE`` names another ``axe.min.js``); nothing of it is
committed. The script is injected into the page as it is, then ``axe.run`` checks the element
``scope`` (the block by default) with the rules tagged wcag2a, wcag2aa, wcag21a and wcag21aa.
"""
import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
AXE_SCRIPT = Path(os.environ.get("VIATIQUE_AXE")
                  or REPO_DIR / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

RUN = """async ([scope, tags]) => {
  const result = await axe.run(document.querySelector(scope), {runOnly: {type: 'tag', values: tags},
                                                             resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n').join(' '))}));
}"""


def violations(page, scope=".viatique-block"):
    """The WCAG 2.1 A/AA violations axe-core finds under ``scope``, as dicts (id, impact, help, nodes)."""
    assert AXE_SCRIPT.exists(), f"axe-core is not installed at {AXE_SCRIPT}: run `make test-venv`"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    return page.evaluate(RUN, [scope, WCAG_TAGS])


def assert_accessible(page, scope=".viatique-block", state=""):
    """Fail with the list of violations when axe-core finds any WCAG 2.1 A or AA violation under ``scope``."""
    found = violations(page, scope)
    assert not found, f"axe-core: WCAG 2.1 A/AA violations {state}:\n" + "\n".join(
        f"- {item['id']} ({item['impact']}): {item['help']}\n    " + "\n    ".join(item["nodes"]) for item in found)
