"""Living rubrics in Chromium: a grader applies rubric items by key in the full-window workspace, and an
instructor changes an item applied to twenty copies in the dashboard's rubric editor.

1. Grading by question, question 1 (3 points, by gains) has a rubric: "Correct method" (+1.5), a "pick one"
   group "Result" ("Exact result" +1, "Rounded result" +0.5) and an exam-wide "Well presented" (no points).
   staff_1 grades by keyboard only: the number keys apply and remove items (the pick-one group keeps one),
   the points follow in the panel and in the points field, the live region says each change word for word,
   a key with no item is told, the adjustment and "Add an item" work from the keyboard, single keys turned
   off do nothing; axe-core finds no violation with nothing applied, items applied, and the list of keys.
   The answer graded, the database holds the items applied and the points the server computed.

   By copy (the demo exam), the number keys act on the first question without points, then on the question
   worked on (q: the next one); a rubric write saves the typed work first and takes the new draft version, so
   the autosave goes on.

   The dashboard's editor: hidden from a grader; an instructor reorders by keyboard, deletes an applied item
   behind a confirmation stating the number of copies (asked again with the new number when a grader applied
   it meanwhile: 409 confirmation_needed), adds a "pick one" group and puts an item in it, and an edit from an
   older view of an item is refused (409 stale_item), the rubric read again (axe-core in each state).

2. The issue's test, on MariaDB (the demo host on a database of its own): twenty copies graded with rubric
   items on question 1 (scored by deductions from 4), five of them identified and released. The instructor
   changes "No justification" from -1 to -0.5 in the dashboard's editor: the confirmation states the
   copies (20, 5 released), the twenty totals change in one step (one transaction, one audit event), the
   progress is shown until done; for every released learner the learner view, the score published again to
   the gradebook, the grades CSV and the text of the graded PDF rendered again all give the new total. (The
   gradebook's score is no longer an edx-submissions score: results/release.py publishes through the
   platform's grade signal, which reaches no LMS in the workbench; the score sent is Copy.published_points.)
"""
import csv
import io
import json
import re
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import DemoHost, new_page
from .test_question_workspace import SETUP_TEMPLATE, VIEWPORT, shell
from .test_workspace import HEARD_SCRIPT, heard

pytestmark = pytest.mark.browser

SCOPE = ".viatique-focus"
EXAM = "/scenario/viatique.1/"

#: the exam's rubric made through the rubrics API (grading/rubrics.py) as instructor_1; prints the items' ids
RUBRIC_SCRIPT = """
import json
from viatique_xblock.grading import rubrics
from viatique_xblock.models import Exam
from viatique_xblock.platform import compat
exam = Exam.objects.get(usage_key=%(usage)r)
user = compat.ViatiqueUser(user_id="instructor_1", username="instructor_1", full_name="Instructor One",
                           anonymous_id="", role="instructor")
ids = {}
for spec in %(items)r:
    group_id = None
    if spec.get("group"):
        group = rubrics.save_group(exam, user, spec["question_id"], label=spec["group"], pick_one=True)
        group_id = (group.get("group") or group)["id"] if isinstance(group, dict) else group
        ids.setdefault("groups", {})[spec["group"]] = group_id
    for text, points in spec["items"]:
        item = rubrics.create_item(exam, user, spec["question_id"], text, points, group_id=group_id)
        ids[text] = (item.get("item") or item)["id"]
print(json.dumps(ids))
"""

#: one copy's question 1 as stored: points, adjustment, the texts of the items applied
ANSWER_STATE = """
import json
from viatique_xblock.models import AppliedItem, Copy, QuestionPoints
from viatique_xblock.scheme import plain_number
copy = Copy.objects.get(exam__usage_key=%(usage)r, anonymous_code=%(code)r)
row = QuestionPoints.objects.get(copy=copy, question_id="q1")
print(json.dumps({"points": str(plain_number(row.points)), "adjustment": str(plain_number(row.adjustment)),
                  "items": sorted(AppliedItem.objects.filter(copy=copy, question_id="q1")
                                  .values_list("item__text", flat=True))}))
"""


def setup_exam(host, copies, question_1, question_2=None, learners=1):
    """SETUP_TEMPLATE's exam graded by question with ``copies`` copies, question 1 updated with ``question_1``
    (its max, step, scoring...) and question 2 with ``question_2``; the first ``learners`` copies identified
    as learner_1, learner_2..."""
    script = SETUP_TEMPLATE % {"copies": copies, "learner": "learner_1", "layout": repr(question_1)}
    if question_2:
        script = script.replace('scheme["questions"][0].update(',
                                f'scheme["questions"][1].update({question_2!r})\nscheme["questions"][0].update(')
    if learners > 1:  # the template identifies copy 0; the next ones as learner_2...
        script = script.replace("    if index == 0:", "    if index < %d:" % learners).replace(
            '"learner_1"', 'f"learner_{index + 1}"').replace(
            'learner_name="Learner One"', 'learner_name=f"Learner {index + 1}"')
    return shell(host, script)


def make_rubric(host, usage, items):
    return shell(host, RUBRIC_SCRIPT % {"usage": usage, "items": items})


def status(page):
    return page.locator("[data-region='announce-status']")


def item_button(panel, text):
    return panel.get_by_role("button", name=re.compile(re.escape(text)))


# ------------------------------------------------------------------------------------------ 1. by key

def test_a_grader_applies_rubric_items_by_key_and_hears_the_points(fresh_demo_host, chromium, browser_errors):
    host = fresh_demo_host
    setup = setup_exam(host, 2, {"max": 3, "step": 0.5})
    usage = setup["usage"]
    make_rubric(host, usage, [
        {"question_id": "q1", "items": [["Correct method", "1.5"]]},
        {"question_id": "q1", "group": "Result", "items": [["Exact result", "1"], ["Rounded result", "0.5"]]},
        {"question_id": "", "items": [["Well presented", None]]},
    ])
    context, page = new_page(chromium, browser_errors, VIEWPORT, timeout_ms=15_000, init_script=HEARD_SCRIPT)
    try:
        page.goto(f"{host.base_url}/handler/{usage}/workspace/?student=staff_1&question=q1")
        expect(page.get_by_role("heading", name="Question 1 — copy Q0000")).to_be_focused()
        panel = page.get_by_role("group", name="Rubric: Question 1")
        expect(panel).to_be_visible()
        buttons = panel.locator("[data-action='rubric-item']")
        expect(buttons).to_have_count(4)
        # in the order of the keys: the question's items without a group, the group's, the exam-wide ones
        expect(buttons.nth(0)).to_contain_text("1Correct method+1.5")
        expect(buttons.nth(1)).to_contain_text("2Exact result+1")
        expect(buttons.nth(2)).to_contain_text("3Rounded result+0.5")
        expect(buttons.nth(3)).to_contain_text("4Well presented")
        expect(buttons.nth(0)).to_have_attribute("aria-keyshortcuts", "1")
        expect(panel.get_by_role("group", name="Result (pick one)")).to_be_visible()
        expect(panel.get_by_role("group", name="For any question")).to_be_visible()
        expect(panel.locator("[data-region='rubric-points']")).to_have_text("Points: not given yet, out of 3")
        for index in range(4):
            expect(buttons.nth(index)).to_have_attribute("aria-pressed", "false")
        assert_accessible(page, SCOPE, "(rubric, nothing applied)")

        # the keys act on the focused page
        page.get_by_role("button", name="Skip to the page").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("application")).to_be_focused()
        page.evaluate("() => { window.__heard.length = 0; }")
        points = page.get_by_role("textbox", name="Question 1", exact=True)

        page.keyboard.press("1")
        expect(status(page)).to_have_text("Applied: Correct method (+1.5). Question 1: 1.5 / 3.")
        expect(buttons.nth(0)).to_have_attribute("aria-pressed", "true")
        expect(points).to_have_value("1.5")
        expect(panel.locator("[data-region='rubric-points']")).to_have_text("Points: 1.5 / 3")
        assert_accessible(page, SCOPE, "(one item applied)")

        page.keyboard.press("2")
        expect(status(page)).to_have_text("Applied: Exact result (+1). Question 1: 2.5 / 3.")
        page.keyboard.press("3")  # the same "pick one" group: replaces "Exact result"
        expect(status(page)).to_have_text("Applied: Rounded result (+0.5). Question 1: 2 / 3.")
        expect(buttons.nth(1)).to_have_attribute("aria-pressed", "false")
        expect(buttons.nth(2)).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("1")
        expect(status(page)).to_have_text("Removed: Correct method (+1.5). Question 1: 0.5 / 3.")
        expect(points).to_have_value("0.5")
        page.keyboard.press("4")  # an exam-wide comment: no points
        expect(status(page)).to_have_text("Applied: Well presented. Question 1: 0.5 / 3.")
        page.keyboard.press("9")
        expect(page.locator("[data-region='announce-alert']")).to_have_text("No rubric item 9 for Question 1.")
        assert_accessible(page, SCOPE, "(items applied, a key without an item)")
        assert heard(page) == [
            "Applied: Correct method (+1.5). Question 1: 1.5 / 3.",
            "Applied: Exact result (+1). Question 1: 2.5 / 3.",
            "Applied: Rounded result (+0.5). Question 1: 2 / 3.",
            "Removed: Correct method (+1.5). Question 1: 0.5 / 3.",
            "Applied: Well presented. Question 1: 0.5 / 3.",
            "No rubric item 9 for Question 1.",
        ], heard(page)
        # keys pressed quickly are all done, one after the other
        page.evaluate("() => { window.__heard.length = 0; }")
        page.keyboard.press("1")
        page.keyboard.press("1")
        expect(status(page)).to_have_text("Removed: Correct method (+1.5). Question 1: 0.5 / 3.")
        expect(buttons.nth(0)).to_have_attribute("aria-pressed", "false")
        assert heard(page) == ["Applied: Correct method (+1.5). Question 1: 2 / 3.",
                               "Removed: Correct method (+1.5). Question 1: 0.5 / 3."], heard(page)

        # the free adjustment, with the question's comment as its reason
        page.get_by_role("textbox", name=re.compile(r"^Comment on Question 1")).fill("Figure soignée")
        adjustment = panel.get_by_role("textbox", name="Adjustment (points, + or −)")
        adjustment.focus()
        page.keyboard.type("+1")
        page.keyboard.press("Enter")
        expect(status(page)).to_have_text("Adjustment saved: +1. Question 1: 1.5 / 3.")
        expect(points).to_have_value("1.5")

        # an item made while grading: then the rubric of every grader of the question
        opener = panel.get_by_role("button", name="Add an item to the rubric of Question 1")
        opener.focus()
        page.keyboard.press("Enter")
        expect(opener).to_have_attribute("aria-expanded", "true")
        expect(panel.get_by_role("textbox", name="Text (shown to the learner)")).to_be_focused()
        page.keyboard.type("Units given")
        page.keyboard.press("Tab")
        page.keyboard.type("0,5")
        page.keyboard.press("Enter")
        expect(status(page)).to_have_text("Item added to the rubric of Question 1: Units given (+0.5).")
        expect(item_button(panel, "Units given")).to_be_focused()
        expect(buttons).to_have_count(5)
        expect(opener).to_have_attribute("aria-expanded", "false")
        expect(panel.get_by_role("textbox", name="Text (shown to the learner)")).to_have_count(0)

        # the list of keys names the number keys; single keys turned off do nothing
        page.get_by_role("application").focus()
        page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(dialog).to_contain_text("Apply or remove the rubric item of that number (0: the tenth)")
        assert_accessible(page, SCOPE, "(list of keys)")
        page.keyboard.press("Escape")
        page.evaluate("() => window.localStorage.setItem('viatique-single-keys', 'off')")
        page.get_by_role("application").focus()
        page.keyboard.press("1")
        page.wait_for_timeout(300)
        expect(buttons.nth(0)).to_have_attribute("aria-pressed", "false")
        page.evaluate("() => window.localStorage.removeItem('viatique-single-keys')")

        # graded: what the server holds is what was shown
        page.keyboard.press("Control+Enter")
        expect(page.get_by_role("heading", name="Question 1 — copy Q0001")).to_be_focused()
        expect(panel.locator("[data-action='rubric-item'][aria-pressed='true']")).to_have_count(0)
        expect(panel.locator("[data-region='rubric-points']")).to_have_text("Points: not given yet, out of 3")
    finally:
        context.close()
    stored = shell(host, ANSWER_STATE % {"usage": usage, "code": "Q0000"})
    assert stored == {"points": "1.5", "adjustment": "1", "items": ["Rounded result", "Well presented"]}, stored


#: the demo exam's (graded by copy) usage id
DEMO_USAGE = """
import json
from workbench.scenarios import get_scenarios
print(json.dumps(str(get_scenarios()["viatique.0"].usage_id)))
"""

#: a copy of the demo exam as stored: its points per question, the items applied, its draft version
COPY_STATE = """
import json
from viatique_xblock.models import AppliedItem, Copy, QuestionPoints
from viatique_xblock.scheme import plain_number
copy = Copy.objects.get(exam__usage_key=%(usage)r, anonymous_code=%(code)r)
print(json.dumps({"points": {row.question_id: str(plain_number(row.points)) for row in QuestionPoints.objects.filter(copy=copy)},
                  "items": sorted(AppliedItem.objects.filter(copy=copy).values_list("question_id", "item__text")),
                  "total": None if copy.total_points is None else str(plain_number(copy.total_points))}))
"""


def test_by_copy_the_number_keys_follow_the_question_and_the_autosave_goes_on(fresh_demo_host, demo_facts,
                                                                                 chromium, browser_errors):
    """The full-window workspace of the demo exam (graded by copy): the number keys act on the first question
    without points, q moves them to the next one; a rubric write saves the typed work first and takes the new
    draft version, so the next autosave is not refused."""
    from .test_workspace import open_from_dashboard, handler_url

    host = fresh_demo_host
    usage = shell(host, DEMO_USAGE)
    make_rubric(host, usage, [{"question_id": "q2", "items": [["Conjecture stated", "1"]]},
                              {"question_id": "q3", "items": [["Initialisation", "1"], ["Heredity", "1.5"]]}])
    code = next(copy["code"] for copy in demo_facts.copies if copy["grader"] == "" and copy["state"] == "ready")
    context, page = new_page(chromium, browser_errors, {"width": 1366, "height": 768}, timeout_ms=15_000,
                             init_script=HEARD_SCRIPT)
    try:
        handler_url(page, host, "rubric")  # the dashboard's copy list, with its "Full window" links
        tab = open_from_dashboard(page, host, code)
        tab.on("console", browser_errors.on_console)
        tab.on("pageerror", browser_errors.on_page_error)
        focus = tab.locator(SCOPE)
        expect(focus.locator("[data-region='grading']")).to_have_attribute("data-editable", "true")
        first = focus.get_by_role("group", name=re.compile(r"^Rubric: .*1\. a\) Conjecture$"))
        second = focus.get_by_role("group", name=re.compile(r"^Rubric: .*1\. b\) Récurrence$"))
        expect(first).to_have_attribute("data-keyed", "true")
        expect(first).to_contain_text("Keys 1 to 9 and 0 apply these items.")
        assert_accessible(tab, SCOPE, "(by copy, the rubric panels)")

        sheet = tab.get_by_role("application")
        sheet.focus()
        tab.keyboard.press("1")
        expect(status(tab)).to_have_text(re.compile(r"^Applied: Conjecture stated \(\+1\)\. .*: 1 / 2\.$"))
        expect(focus.locator("[data-field='points'][data-question='q2']")).to_have_value("1")
        expect(focus.locator("[data-region='total']")).to_have_text("Total: 1 / 20")

        tab.keyboard.press("q")
        expect(status(tab)).to_have_text(re.compile(r"^Number keys: the rubric of .*1\. b\) Récurrence\.$"))
        expect(second).to_have_attribute("data-keyed", "true")
        expect(first).to_have_attribute("data-keyed", "false")
        # points typed on another question: the number keys follow the question worked on
        focus.locator("[data-field='points'][data-question='q5']").fill("4")
        expect(focus.get_by_role("group", name=re.compile(r"^Rubric: Exercice 3"))).to_have_attribute("data-keyed", "true")
        # back to question 1. b) (its points field), Esc to the page, then a key: the typed work (not saved yet)
        # is saved first, then the item applied
        focus.locator("[data-field='points'][data-question='q3']").focus()
        expect(second).to_have_attribute("data-keyed", "true")
        tab.keyboard.press("Escape")
        expect(sheet).to_be_focused()
        tab.keyboard.press("2")
        expect(status(tab)).to_have_text(re.compile(r"^Applied: Heredity \(\+1\.5\)\. .*: 1\.5 / 3\.$"))
        expect(focus.locator("[data-region='total']")).to_have_text("Total: 6.5 / 20")
        # the next autosave is taken (the draft version moved on with the rubric write)
        focus.locator("[data-field='points'][data-question='q6']").fill("2")
        expect(focus.locator("[data-region='save-status']")).to_have_text(re.compile(r"^Saved at "))
        expect(focus.locator("[data-region='grading-alert']")).to_have_text("")
        assert_accessible(tab, SCOPE, "(by copy, items applied)")
    finally:
        context.close()
    stored = shell(host, COPY_STATE % {"usage": usage, "code": code})
    assert stored == {"points": {"q2": "1", "q3": "1.5", "q5": "4", "q6": "2"},
                      "items": [["q2", "Conjecture stated"], ["q3", "Heredity"]], "total": "8.5"}, stored


#: the item ``text`` applied to question 1 of the copies ``codes``, and those copies re-scored
APPLY_SCRIPT = """
from django.db import transaction
from viatique_xblock.grading import rubrics
from viatique_xblock.models import AppliedItem, Copy, Exam, QuestionPoints, RubricItem
exam = Exam.objects.get(usage_key=%(usage)r)
item = RubricItem.objects.get(exam=exam, text=%(text)r)
copies = list(Copy.objects.filter(exam=exam, anonymous_code__in=%(codes)r))
with transaction.atomic():
    for copy in copies:
        QuestionPoints.objects.get_or_create(copy=copy, question_id="q1", defaults={"points": 0, "adjustment": 0})
        AppliedItem.objects.get_or_create(copy=copy, question_id="q1", item=item)
    rubrics.rescore_copies(exam, [copy.pk for copy in copies])
print("null")
"""

#: another instructor renames "Figure" (its version moves on)
STALE_SCRIPT = """
from viatique_xblock.grading import rubrics
from viatique_xblock.models import Exam, RubricItem
from viatique_xblock.platform import compat
exam = Exam.objects.get(usage_key=%(usage)r)
item = RubricItem.objects.get(exam=exam, text="Figure")
rubrics.edit_item(exam, compat.ViatiqueUser(user_id="instructor_2", username="instructor_2", full_name="Instructor Two",
                                            anonymous_id="", role="instructor"),
                  item.public_id, item.version, text="Figure, labelled")
print("null")
"""

RUBRIC_STATE = """
import json
from viatique_xblock.models import Copy, RubricGroup, RubricItem
from viatique_xblock.scheme import plain_number
items = RubricItem.objects.filter(exam__usage_key=%(usage)r, question_id="q1").select_related("group")
print(json.dumps({"items": [[item.text, item.group.label if item.group else None]
                            for item in items.order_by("position", "id")],
                  "points": [str(plain_number(item.points)) for item in items.order_by("position", "id")],
                  "groups": list(RubricGroup.objects.filter(exam__usage_key=%(usage)r)
                                 .values_list("label", "pick_one")),
                  "totals": {copy.anonymous_code: None if copy.total_points is None else str(plain_number(copy.total_points))
                             for copy in Copy.objects.filter(exam__usage_key=%(usage)r)}}))
"""


def test_the_instructor_reorders_groups_and_deletes_items_with_the_number_of_copies_stated(
        fresh_demo_host, chromium, browser_errors):
    host = fresh_demo_host
    browser_errors.allow_http(409, "/delete_rubric_item")  # the count changed meanwhile, on purpose
    browser_errors.allow_http(409, "/edit_rubric_item")  # an edit from an older view, on purpose
    setup = setup_exam(host, 3, {"max": 3, "step": 0.5})
    usage = setup["usage"]
    make_rubric(host, usage, [{"question_id": "q1", "items": [["Method", "1"], ["Units", "0.5"], ["Figure", "0.5"]]}])
    shell(host, APPLY_SCRIPT % {"usage": usage, "text": "Units", "codes": ["Q0000", "Q0001"]})
    context, page = new_page(chromium, browser_errors, VIEWPORT, timeout_ms=15_000)
    try:
        # a grader does not see the editor (rubric_editors: instructors)
        with page.expect_response(re.compile(r"/rubric/")):
            page.goto(host.url(student="staff_1", screen="grading", scenario=EXAM))
        expect(page.locator("[data-region='rubrics']")).to_be_hidden()
        expect(page.get_by_role("heading", name="Rubrics")).to_have_count(0)

        with page.expect_response(re.compile(r"/rubric/")):
            page.goto(host.url(student="instructor_1", screen="grading", scenario=EXAM))
        editor = page.locator("[data-region='rubrics']")
        said = editor.locator("[data-region='rubric-editor-status']")
        editor.get_by_label("Question", exact=True).select_option("q1")
        table = editor.get_by_role("table", name="Rubric items of Question 1")
        texts = table.locator("[data-field='rubric-item-text']")
        expect(texts).to_have_count(3)
        assert [texts.nth(i).input_value() for i in range(3)] == ["Method", "Units", "Figure"]
        assert_accessible(page, ".viatique-block", "(the rubric editor)")

        # reorder by keyboard: "Units" up
        table.get_by_role("button", name="Move item 2 up").focus()
        page.keyboard.press("Enter")
        expect(said).to_have_text("Moved up: Units.")
        expect(texts.nth(0)).to_have_value("Units")
        expect(texts.nth(1)).to_have_value("Method")

        # delete "Units": the confirmation states the copies; Esc cancels
        table.get_by_role("button", name="Delete item 1").focus()
        page.keyboard.press("Enter")
        dialog = editor.get_by_role("alertdialog")
        expect(dialog).to_contain_text('Delete "Units"? It is applied to 2 copies (0 released)')
        expect(dialog.get_by_role("button", name="Yes")).to_be_focused()
        assert_accessible(page, ".viatique-block", "(the deletion's confirmation)")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(said).to_have_text("Nothing was changed.")
        expect(table.get_by_role("button", name="Delete item 1")).to_be_focused()
        # asked again; meanwhile a grader applies it to a third copy: the count is asked again, with 3
        page.keyboard.press("Enter")
        expect(dialog).to_contain_text("It is applied to 2 copies (0 released)")
        shell(host, APPLY_SCRIPT % {"usage": usage, "text": "Units", "codes": ["Q0002"]})
        with page.expect_response(re.compile(r"/delete_rubric_item/")) as refused:
            page.keyboard.press("Enter")
        assert refused.value.status == 409
        expect(dialog).to_contain_text("It is applied to 3 copies (0 released)")
        with page.expect_response(re.compile(r"/delete_rubric_item/")) as deleted:
            page.keyboard.press("Enter")
        assert deleted.value.status == 200
        expect(said).to_have_text("Item deleted: Units.")
        expect(texts).to_have_count(2)

        # a "pick one" group, then an item put in it
        group_editor = editor.get_by_role("group", name="Groups")
        group_editor.get_by_label("New group").fill("Result")
        group_editor.get_by_role("checkbox", name="Pick one", exact=True).check()
        group_editor.get_by_role("button", name="Add the group").click()
        expect(said).to_have_text("Group saved: Result.")
        expect(group_editor.get_by_role("textbox", name="Label of group 1")).to_have_value("Result")
        table.get_by_role("combobox", name="Group of item 2").select_option(label="Result")
        table.get_by_role("button", name="Save item 2").click()
        expect(said).to_have_text("Item saved.")
        assert_accessible(page, ".viatique-block", "(the rubric editor with a group)")

        # an edit made from an older view of the item (another instructor changed it meanwhile): refused, the
        # rubric read again, what was typed kept (not saved) beside their version, and said; saved again
        shell(host, STALE_SCRIPT % {"usage": usage})
        table.get_by_role("textbox", name="Points of item 2").fill("1")
        with page.expect_response(re.compile(r"/edit_rubric_item/")) as stale:
            table.get_by_role("button", name="Save item 2").click()
        assert stale.value.status == 409
        expect(said).to_have_text('"Figure" was saved by someone else meanwhile. What you typed in it is kept, '
                                  'not saved: their version is shown beside it.')
        expect(table.get_by_role("textbox", name="Text of item 2")).to_have_value("Figure, labelled")
        expect(table.get_by_role("textbox", name="Points of item 2")).to_have_value("1")
        expect(table.locator("[data-region='rubric-theirs']")).to_have_text(
            'Saved by someone else as: "Figure, labelled" (+0.5).')
        with page.expect_response(re.compile(r"/edit_rubric_item/")) as again:
            table.get_by_role("button", name="Save item 2").click()
        assert again.value.status == 200
        expect(said).to_have_text("Item saved.")
        expect(table.locator("[data-region='rubric-unsaved']")).to_have_count(0)
    finally:
        context.close()
    state = shell(host, RUBRIC_STATE % {"usage": usage})
    assert state["items"] == [["Method", None], ["Figure, labelled", "Result"]], state
    assert state["points"] == ["1", "1"], state
    assert state["groups"] == [["Result", True]], state
    # the three copies lost "Units" (0.5): re-scored to 0
    assert state["totals"] == {"Q0000": "0", "Q0001": "0", "Q0002": "0"}, state


# ----------------------------------------------------------------------------- 2. a living edit

class MariaDBDemoHost(DemoHost):
    """The demo host on a MariaDB database of its own (``database_url``), instead of SQLite."""

    def __init__(self, var_dir, database_url):
        super().__init__(var_dir)
        self.database_url = database_url

    @property
    def env(self):
        env = super().env
        env["DATABASE_URL"] = self.database_url
        return env


@pytest.fixture
def mariadb_demo_host(browser_tmp_dir):
    """A seeded demo host on a new MariaDB database (the integration tests' temporary_database), dropped
    afterwards."""
    from tests.integration.conftest import temporary_database

    with temporary_database("mariadb", "browser_rubrics") as database_url:
        var_dir = Path(tempfile.mkdtemp(prefix="host-mariadb-", dir=browser_tmp_dir)) / "var"
        host = MariaDBDemoHost(var_dir, database_url)
        try:
            host.prepare()
            host.start()
            yield host
        finally:
            host.stop()
            shutil.rmtree(var_dir.parent, ignore_errors=True)


COPIES = 20
RELEASED = 5
#: graded with the rubric: every copy has "No justification" (-1) on question 1 (deductions from 4), every
#: third "Sign error" (-0.5) too; question 2 typed (2 points, stored as its adjustment); then rendered
GRADE_SCRIPT = """
import json
from decimal import Decimal
from django.db import transaction
from viatique_xblock.grading import rendering, rubrics
from viatique_xblock.models import AppliedItem, Copy, Exam, QuestionPoints, RubricItem
from viatique_xblock.states import Grading
exam = Exam.objects.get(usage_key=%(usage)r)
items = {item.text: item for item in RubricItem.objects.filter(exam=exam)}
copies = list(Copy.objects.filter(exam=exam).order_by("anonymous_code"))
with transaction.atomic():
    for index, copy in enumerate(copies):
        QuestionPoints.objects.create(copy=copy, question_id="q1", points=0, adjustment=0, grader="staff_1")
        QuestionPoints.objects.create(copy=copy, question_id="q2", points=0, adjustment=Decimal("2"), grader="staff_1")
        AppliedItem.objects.create(copy=copy, question_id="q1", item=items["No justification"], applied_by="staff_1")
        if index %% 3 == 0:
            AppliedItem.objects.create(copy=copy, question_id="q1", item=items["Sign error"], applied_by="staff_1")
    rubrics.rescore_copies(exam, [copy.pk for copy in copies])
states = {}
for copy in copies:
    copy.refresh_from_db()
    copy.grading_state = Grading.SUBMITTED
    copy.save()
    states[copy.anonymous_code] = rendering.render_copy(copy.pk)
print(json.dumps(states))
"""

RELEASE_SCRIPT = """
from viatique_xblock.models import Exam
from viatique_xblock.platform import compat
from viatique_xblock.results import release
exam = Exam.objects.get(usage_key=%r)
release.release(exam, compat.ViatiqueUser(user_id="instructor_1", username="instructor_1", full_name="Instructor",
                                          anonymous_id="", role="instructor"))
"""

#: every copy's total, and for the identified ones the score sent to the gradebook and the graded PDF's text
VIEWS_SCRIPT = """
import io, json
import pypdf
from viatique_xblock.models import AuditEvent, Copy, Exam, RubricRescore
from viatique_xblock.platform import storage
from viatique_xblock.scheme import plain_number
exam = Exam.objects.get(usage_key=%(usage)r)
out = {"totals": {}, "released": {}, "edits": list(AuditEvent.objects.filter(exam=exam, action="rubric.item_edited")
                                                   .values_list("details", flat=True)),
       "rescores": list(RubricRescore.objects.filter(exam=exam).values("copies", "released", "republished"))}
for copy in Copy.objects.filter(exam=exam).order_by("anonymous_code"):
    out["totals"][copy.anonymous_code] = str(plain_number(copy.total_points))
    if not copy.learner_username:
        continue
    with storage.get_storage().open(copy.graded_pdf_name, "rb") as handle:
        text = "\\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(handle.read())).pages)
    out["released"][copy.learner_username] = {
        "code": copy.anonymous_code, "state": copy.grading_state,
        "published": None if copy.published_points is None else str(plain_number(copy.published_points)),
        "pdf": text}
print(json.dumps(out, default=str))
"""


def views(host, usage):
    return shell(host, VIEWS_SCRIPT % {"usage": usage})


def expected_total(index, justification):
    """Copy ``index``'s total: question 1 by deductions from 4, question 2's 2 points."""
    q1 = Decimal(4) + justification + (Decimal("-0.5") if index % 3 == 0 else 0)
    return q1 + 2


def plain(value):
    text = format(Decimal(value).normalize(), "f")
    return text


def test_an_instructor_changes_an_applied_item_and_every_view_of_the_released_grades_follows(
        mariadb_demo_host, chromium, browser_errors):
    host = mariadb_demo_host
    setup = setup_exam(host, COPIES, {"max": 4, "step": 0.5, "scoring": "deductions"}, {"max": 2, "step": 0.5},
                       learners=RELEASED)
    assert setup["copies"] == COPIES
    usage = setup["usage"]
    make_rubric(host, usage, [{"question_id": "q1", "items": [["No justification", "-1"], ["Sign error", "-0.5"]]}])
    rendered = shell(host, GRADE_SCRIPT % {"usage": usage})
    assert set(rendered.values()) == {"graded"}, rendered
    host.manage("shell", "-v", "0", "-c", RELEASE_SCRIPT % usage)
    before = views(host, usage)
    codes = sorted(before["totals"])
    assert [before["totals"][code] for code in codes] == [plain(expected_total(i, Decimal(-1))) for i in range(COPIES)]
    assert len(before["released"]) == RELEASED

    context, page = new_page(chromium, browser_errors, VIEWPORT, timeout_ms=20_000)
    try:
        with page.expect_response(re.compile(r"/rubric/")):
            page.goto(host.url(student="instructor_1", screen="grading", scenario=EXAM))
        editor = page.locator("[data-region='rubrics']")
        expect(editor.get_by_role("heading", name="Rubrics")).to_be_visible()
        editor.get_by_label("Question", exact=True).select_option("q1")
        table = editor.get_by_role("table", name="Rubric items of Question 1")
        row = table.locator("tr", has_text="").filter(has=page.locator("input[value='No justification']"))
        points = row.get_by_role("textbox", name=re.compile(r"^Points of item \d+$"))
        expect(points).to_have_value("-1")
        points.fill("-0.5")
        with page.expect_response(re.compile(r"/rubric_item_usage/")):
            row.get_by_role("button", name=re.compile(r"^Save item \d+$")).click()
        dialog = editor.get_by_role("alertdialog")
        expect(dialog).to_contain_text(f"It re-scores {COPIES} copies ({RELEASED} released)")
        expect(dialog.get_by_role("button", name="Yes")).to_be_focused()
        assert_accessible(page, ".viatique-block", "(the rubric editor's confirmation)")
        with page.expect_response(re.compile(r"/edit_rubric_item/")):
            page.keyboard.press("Enter")
        progress = editor.locator("[data-region='rescore-progress']")
        expect(progress.locator("[data-region='rescore-line']")).to_have_attribute("data-done", "true")
        expect(editor.locator("[data-region='rubric-editor-status']")).to_have_text(
            f"Re-scoring done: {COPIES} copies ({RELEASED} released).")
        assert_accessible(page, ".viatique-block", "(the rubric editor after a living edit)")

        # the grades CSV, downloaded as an instructor does
        page.goto(host.url(student="instructor_1", screen="reports", scenario=EXAM))
        reports = page.locator("[data-region='reports']")
        with page.expect_download() as download_info:
            reports.get_by_role("link", name="Download the grades CSV").click()
        data = open(download_info.value.path(), "rb").read()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        header, body = rows[0], rows[1:]
        total_column = next(i for i, name in enumerate(header) if name.startswith("Total"))
        csv_totals = {line[0]: line[total_column] for line in body}
    finally:
        context.close()

    after = views(host, usage)
    # every total changed, in one step: one audited edit over the twenty copies
    assert [after["totals"][code] for code in codes] == [plain(expected_total(i, Decimal("-0.5")))
                                                         for i in range(COPIES)], after["totals"]
    assert len(after["edits"]) == 1, after["edits"]
    assert len(after["rescores"]) == 1 and after["rescores"][0]["copies"] == COPIES, after["rescores"]
    assert after["rescores"][0]["republished"] == RELEASED, after["rescores"]

    learner_context, learner_page = new_page(chromium, browser_errors, VIEWPORT)
    try:
        for username, seen in sorted(after["released"].items()):
            total = after["totals"][seen["code"]]
            # the gradebook's score: what was published again (results.release; in the workbench the grade
            # signal reaches no LMS, Copy.published_points is the score sent)
            assert seen["published"] is not None and Decimal(seen["published"]) == Decimal(total), (username, seen)
            # the grades CSV
            assert Decimal(csv_totals[seen["code"]].replace(",", ".")) == Decimal(total), (username, csv_totals)
            # the graded PDF rendered again: its total and the item's new points
            assert re.search(rf"{re.escape(total)}\s*/\s*6", seen["pdf"]), (username, total, seen["pdf"])
            assert "No justification" in seen["pdf"] and re.search(r"[-−]\s?0\.5", seen["pdf"]), seen["pdf"]
            assert not re.search(r"No justification\s*\(?[-−]\s?1\b(?!\.)", seen["pdf"]), seen["pdf"]
            # the learner's view
            learner_page.goto(host.url(student=username, scenario=EXAM))
            region = learner_page.locator("[data-region='learner-results']")
            expect(region.locator("[data-region='total']")).to_have_text(f"Total: {total} / 6")
            expect(region.locator("[data-region='rubric-items']").first).to_contain_text("No justification (-0.5)")
    finally:
        learner_context.close()
