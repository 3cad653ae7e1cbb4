"""The dashboard's rubric editor loses nothing typed: drafts survive the Grading screen shown again.

Showing the Grading screen again reads the rubric again (so another instructor's saves appear), and used to
build the editor again from it, dropping what was typed and not saved. Now what is typed (an item's text,
points or group, a new item, a new group) stays as typed, marked "Not saved", across screens and questions,
while items without a draft show the server's version; a draft whose item someone else changed or deleted is
kept and said in the status region (aria-live); leaving the page with drafts asks first (beforeunload). The
changes of "someone else" are made through the rubrics API (grading/rubrics.py), as instructor_2. When the
block's setting no longer lets the user change the rubric, the drafts are listed as text and said.
"""
import contextlib
import re

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import new_page
from .test_question_workspace import VIEWPORT, shell
from .test_rubrics import EXAM, make_rubric, setup_exam

pytestmark = pytest.mark.browser

#: another instructor changes or deletes an item through the rubrics API (grading/rubrics.py)
OTHER_INSTRUCTOR = """
from viatique_xblock.grading import rubrics
from viatique_xblock.models import Exam, RubricItem
from viatique_xblock.platform import compat
exam = Exam.objects.get(usage_key=%(usage)r)
user = compat.ViatiqueUser(user_id="instructor_2", username="instructor_2", full_name="Instructor Two",
                           anonymous_id="", role="instructor")
item = RubricItem.objects.get(exam=exam, text=%(item)r)
if %(delete)r:
    rubrics.delete_item(exam, user, item.public_id)
else:
    rubrics.edit_item(exam, user, item.public_id, item.version, **%(change)r)
print("null")
"""

#: another instructor deletes a group
DELETE_GROUP = """
from viatique_xblock.grading import rubrics
from viatique_xblock.models import Exam, RubricGroup
from viatique_xblock.platform import compat
exam = Exam.objects.get(usage_key=%(usage)r)
group = RubricGroup.objects.get(exam=exam, label=%(label)r)
rubrics.delete_group(exam, compat.ViatiqueUser(user_id="instructor_2", username="instructor_2",
                     full_name="Instructor Two", anonymous_id="", role="instructor"), group.public_id)
print("null")
"""

#: question 1's items (text, points, group) and the groups, as stored
STORED = """
import json
from viatique_xblock.models import RubricGroup, RubricItem
from viatique_xblock.scheme import plain_number
items = RubricItem.objects.filter(exam__usage_key=%(usage)r, question_id="q1").select_related("group")
print(json.dumps({"items": [[item.text, str(plain_number(item.points)), item.group.label if item.group else None]
                            for item in items.order_by("position", "id")],
                  "groups": sorted(RubricGroup.objects.filter(exam__usage_key=%(usage)r).values_list("label", flat=True))}))
"""

#: whether a beforeunload now would ask (the page's handlers cancel the event)
ASKS_BEFORE_LEAVING = "() => !window.dispatchEvent(new Event('beforeunload', {cancelable: true}))"


def other_instructor(host, usage, item, delete=False, **change):
    """Another instructor deletes the item whose text is ``item``, or changes it (``change``: text, points...)."""
    shell(host, OTHER_INSTRUCTOR % {"usage": usage, "item": item, "delete": delete, "change": change})


def stored(host, usage):
    return shell(host, STORED % {"usage": usage})


def screen_link(page, name):
    return page.get_by_role("navigation", name="Dashboard screens").get_by_role("link", name=name, exact=True)


def away_and_back(page, editor):
    """To the Results screen, then back to Grading (the rubric read again)."""
    screen_link(page, "Results").click()
    expect(editor).to_be_hidden()
    with page.expect_response(re.compile(r"/rubric/")):
        screen_link(page, "Grading").click()
    expect(editor).to_be_visible()


def open_editor(page, host, usage):
    with page.expect_response(re.compile(r"/rubric/")):
        page.goto(host.url(student="instructor_1", screen="grading", scenario=EXAM))
    editor = page.locator("[data-region='rubrics']")
    editor.get_by_label("Question", exact=True).select_option("q1")
    return editor, editor.get_by_role("table", name="Rubric items of Question 1")


@contextlib.contextmanager
def rubric_editor(host, chromium, browser_errors, rubric, script=None):
    """An exam of two copies with ``rubric`` (see make_rubric) and, when given, the shell ``script`` run on its
    usage key; its rubric editor open on question 1 in a new page: ``(page, usage, editor, items table)``."""
    usage = setup_exam(host, 2, {"max": 3, "step": 0.5})["usage"]
    make_rubric(host, usage, rubric)
    if script:
        shell(host, script % usage)
    context, page = new_page(chromium, browser_errors, VIEWPORT, timeout_ms=15_000)
    try:
        yield (page, usage, *open_editor(page, host, usage))
    finally:
        context.close()


def test_typed_rubric_edits_stay_when_the_grading_screen_is_shown_again(fresh_demo_host, chromium, browser_errors):
    host = fresh_demo_host
    rubric = [{"question_id": "q1", "items": [["Method", "1"], ["Units", "0.5"], ["Figure", "0.5"]]},
              {"question_id": "q1", "group": "Result", "items": [["Exact", "1"]]}]
    with rubric_editor(host, chromium, browser_errors, rubric) as (page, usage, editor, table):
        said = editor.locator("[data-region='rubric-editor-status']")
        text_1 = table.get_by_role("textbox", name="Text of item 1")
        expect(text_1).to_have_value("Method")
        assert page.evaluate(ASKS_BEFORE_LEAVING) is False  # nothing typed: leaving asks nothing

        # typed, not saved: an item's text, another's points and group, a new item, a new group
        text_1.fill("Method, explained")
        table.get_by_role("textbox", name="Points of item 2").fill("0.25")
        table.get_by_role("combobox", name="Group of item 2").select_option(label="Result")
        new_item = editor.get_by_role("group", name="New item")
        new_item.get_by_role("textbox", name="Text (shown to the learner)").fill("Sign error")
        new_item.get_by_role("textbox", name="Points (+ or −)").fill("-0.5")
        groups = editor.get_by_role("group", name="Groups")
        groups.get_by_label("New group").fill("Presentation")

        # meanwhile another instructor saves "Figure" (an item without a draft)
        other_instructor(host, usage, "Figure", text="Figure, labelled", points="1")

        away_and_back(page, editor)
        # their save shows...
        expect(table.get_by_role("textbox", name="Text of item 3")).to_have_value("Figure, labelled")
        expect(table.get_by_role("textbox", name="Points of item 3")).to_have_value("1")
        expect(table.locator("tr", has=page.get_by_role("textbox", name="Text of item 3"))
               .locator("[data-region='rubric-unsaved']")).to_have_count(0)
        # ... and what was typed is still there, still not saved
        expect(text_1).to_have_value("Method, explained")
        expect(table.get_by_role("textbox", name="Points of item 2")).to_have_value("0.25")
        assert table.get_by_role("combobox", name="Group of item 2").evaluate(
            "el => el.selectedOptions[0].textContent") == "Result"
        expect(new_item.get_by_role("textbox", name="Text (shown to the learner)")).to_have_value("Sign error")
        expect(new_item.get_by_role("textbox", name="Points (+ or −)")).to_have_value("-0.5")
        expect(groups.get_by_label("New group")).to_have_value("Presentation")
        # the two rows with drafts say "Not saved"
        unsaved = table.locator("[data-region='rubric-unsaved']")
        expect(unsaved).to_have_count(2)
        expect(table.locator("tr[data-unsaved='true']")).to_have_count(2)
        expect(said).to_have_text("")  # nothing of theirs clashed with a draft: nothing to say
        assert stored(host, usage) == {"items": [["Method", "1", None], ["Units", "0.5", None],
                                                 ["Figure, labelled", "1", None], ["Exact", "1", "Result"]],
                                       "groups": ["Result"]}
        assert page.evaluate(ASKS_BEFORE_LEAVING) is True
        assert_accessible(page, ".viatique-block", "(the rubric editor with drafts)")

        # another question and back: the same
        editor.get_by_label("Question", exact=True).select_option("q2")
        editor.get_by_label("Question", exact=True).select_option("q1")
        expect(text_1).to_have_value("Method, explained")
        expect(new_item.get_by_role("textbox", name="Text (shown to the learner)")).to_have_value("Sign error")

        # saving one item reads the rubric again: the other drafts stay
        table.get_by_role("button", name="Save item 1").click()
        expect(said).to_have_text("Item saved.")
        expect(unsaved).to_have_count(1)
        expect(table.get_by_role("textbox", name="Points of item 2")).to_have_value("0.25")
        expect(groups.get_by_label("New group")).to_have_value("Presentation")

        # the browser asks before leaving the page while drafts are there
        with page.expect_event("dialog") as asked:
            page.close(run_before_unload=True)
        assert asked.value.type == "beforeunload"
        asked.value.dismiss()
        expect(text_1).to_have_value("Method, explained")

        # undone or emptied, nothing is left to ask about
        table.get_by_role("button", name="Undo the changes to item 2").click()
        expect(table.get_by_role("textbox", name="Points of item 2")).to_have_value("0.5")
        new_item.get_by_role("textbox", name="Text (shown to the learner)").fill("")
        new_item.get_by_role("textbox", name="Points (+ or −)").fill("")
        groups.get_by_label("New group").fill("")
        expect(unsaved).to_have_count(0)
        assert page.evaluate(ASKS_BEFORE_LEAVING) is False
    assert stored(host, usage)["items"][0] == ["Method, explained", "1", None]


def test_a_draft_whose_item_someone_else_changed_or_deleted_is_kept_and_said(fresh_demo_host, chromium,
                                                                              browser_errors):
    host = fresh_demo_host
    rubric = [{"question_id": "q1", "items": [["Method", "1"], ["Units", "0.5"], ["Figure", "0.5"]]}]
    with rubric_editor(host, chromium, browser_errors, rubric) as (page, usage, editor, table):
        said = editor.locator("[data-region='rubric-editor-status']")
        table.get_by_role("textbox", name="Points of item 1").fill("1.5")
        table.get_by_role("textbox", name="Points of item 2").fill("1")
        other_instructor(host, usage, "Method", points="2")
        other_instructor(host, usage, "Units", delete=True)

        away_and_back(page, editor)
        expect(said).to_contain_text('"Method" was saved by someone else meanwhile. What you typed in it is kept, '
                                     'not saved: their version is shown beside it.')
        expect(said).to_contain_text('"Units" was deleted by someone else meanwhile. What you typed in it is kept '
                                     'at the end of its list: add it again or discard it.')
        expect(said).to_have_attribute("aria-live", "polite")
        # changed: what was typed stays, theirs beside it
        row = table.locator("tr[data-item]").first
        expect(row.get_by_role("textbox", name="Points of item 1")).to_have_value("1.5")
        expect(row.locator("[data-region='rubric-theirs']")).to_have_text('Saved by someone else as: "Method" (+2).')
        # deleted: kept at the end, to add again or discard
        gone = table.locator("tr[data-gone-item]")
        expect(gone).to_have_count(1)
        expect(gone.get_by_role("textbox", name="Text of deleted item 1")).to_have_value("Units")
        expect(gone.get_by_role("textbox", name="Points of deleted item 1")).to_have_value("1")
        expect(table.locator("tr[data-item]")).to_have_count(2)
        assert_accessible(page, ".viatique-block", "(drafts of items changed and deleted by someone else)")

        # once more: nothing new to say, the drafts as they were
        away_and_back(page, editor)
        expect(gone.get_by_role("textbox", name="Points of deleted item 1")).to_have_value("1")
        expect(row.get_by_role("textbox", name="Points of item 1")).to_have_value("1.5")

        gone.get_by_role("button", name="Add it again (deleted item 1)").click()
        expect(said).to_have_text("Item added: Units (+1).")
        expect(gone).to_have_count(0)
        table.get_by_role("button", name="Save item 1").click()
        expect(said).to_have_text("Item saved.")
        expect(table.locator("[data-region='rubric-unsaved']")).to_have_count(0)
        assert page.evaluate(ASKS_BEFORE_LEAVING) is False
    assert stored(host, usage)["items"] == [["Method", "1.5", None], ["Figure", "0.5", None], ["Units", "1", None]]


def test_typed_group_labels_stay_and_saving_renames_the_group_or_adds_a_deleted_one_again(fresh_demo_host, chromium, browser_errors):
    host = fresh_demo_host
    rubric = [{"question_id": "q1", "group": "Result", "items": [["Exact", "1"]]},
              {"question_id": "q1", "group": "Style", "items": [["Neat", "0.5"]]}]
    with rubric_editor(host, chromium, browser_errors, rubric) as (page, usage, editor, _table):
        said = editor.locator("[data-region='rubric-editor-status']")
        groups = editor.get_by_role("group", name="Groups")
        label = groups.get_by_role("textbox", name="Label of group 1")
        expect(label).to_have_value("Result")
        label.fill("Result (one of them)")
        groups.get_by_role("textbox", name="Label of group 2").fill("Style, layout")
        shell(host, DELETE_GROUP % {"usage": usage, "label": "Style"})  # another instructor

        away_and_back(page, editor)
        expect(label).to_have_value("Result (one of them)")
        expect(groups.locator("li[data-unsaved='true'] [data-region='rubric-unsaved']")).to_have_text(
            ["Not saved", "Deleted by someone else, not saved"])
        expect(said).to_have_text('The group "Style" was deleted by someone else meanwhile. What you typed in it is '
                                  'kept at the end of the groups: add it again or discard it.')
        expect(groups.get_by_role("textbox", name="Label of deleted group 1")).to_have_value("Style, layout")
        assert page.evaluate(ASKS_BEFORE_LEAVING) is True

        # saved: the group itself is renamed (no second group)
        groups.get_by_role("button", name="Save group 1").click()
        expect(said).to_have_text("Group saved: Result (one of them).")
        expect(groups.get_by_role("textbox", name="Label of group 2")).to_have_count(0)
        # the deleted one added again, as typed
        groups.get_by_role("button", name="Add it again (deleted group 1)").click()
        expect(said).to_have_text("Group saved: Style, layout.")
        expect(groups.get_by_role("textbox", name="Label of group 2")).to_have_value("Style, layout")
        expect(groups.locator("[data-region='rubric-unsaved']")).to_have_count(0)
        assert page.evaluate(ASKS_BEFORE_LEAVING) is False
    assert stored(host, usage) == {"items": [["Exact", "1", "Result (one of them)"], ["Neat", "0.5", None]],
                                   "groups": ["Result (one of them)", "Style, layout"]}


#: the block's "Who may change rubric items": instructors until grading started
NOBODY_AFTER_GRADING = """
from viatique_xblock.platform import compat
compat.write_block_settings(%r, {"rubric_editors": "nobody_after_grading"})
print("null")
"""


def test_drafts_left_when_the_rubric_can_no_longer_be_changed_are_listed_and_said(fresh_demo_host, chromium,
                                                                                   browser_errors):
    from .test_rubrics import APPLY_SCRIPT

    host = fresh_demo_host
    rubric = [{"question_id": "q1", "items": [["Method", "1"]]}]
    with rubric_editor(host, chromium, browser_errors, rubric, script=NOBODY_AFTER_GRADING) as (
            page, usage, editor, table):
        table.get_by_role("textbox", name="Text of item 1").fill("Method, explained")
        new_item = editor.get_by_role("group", name="New item")
        new_item.get_by_role("textbox", name="Text (shown to the learner)").fill("Sign error")
        new_item.get_by_role("textbox", name="Points (+ or −)").fill("-0.5")
        # grading starts (an item applied to a copy): the setting now keeps everyone from changing the rubric
        shell(host, APPLY_SCRIPT % {"usage": usage, "text": "Method", "codes": ["Q0000"]})

        away_and_back(page, editor)
        said = editor.locator("[data-region='rubric-editor-status']")
        expect(said).to_have_text("You can no longer change this rubric, so what you typed could not be saved. "
                                  "It is listed here: copy what you need before leaving the page.")
        typed = editor.locator("[data-region='rubric-unsaved-list'] li")
        expect(typed).to_have_text(['Item "Method, explained" (1)', 'New item of Question 1: "Sign error" (-0.5)'])
        expect(editor.get_by_role("table")).to_have_count(0)
        assert page.evaluate(ASKS_BEFORE_LEAVING) is True
        assert_accessible(page, ".viatique-block", "(drafts listed, the rubric locked)")
