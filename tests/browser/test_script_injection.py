"""Text people type (the exam's title, the marking scheme's labels, the workbench's ``?student=`` username)
never runs as script in the demo host, and shows as typed.

The xblock-sdk workbench writes a block's init arguments into a ``<script>`` element without escaping
them, so the block hands its scripts nothing through them: its startup data is a JSON element of its
own HTML, escaped by Django's ``json_script`` (block.py ``startup_script``, read by
``ViatiqueCommon.startupArgs``). Each payload below ended that ``<script>`` before, and its image's
``onerror`` (or an ``alert``) ran.
"""
import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TITLE = 'Bac blanc </script><img src=x onerror="window.__xss=1"> & <!-- co'
GROUP_LABEL = "Exercice 1 </script><script>window.__xss=2;alert(2)</script>"
LEAF_LABEL = "1. b) </SCRIPT ><svg onload=\"window.__xss=3\"></svg> <b>gras</b>"
USERNAME_TAIL = '</script><img src=x onerror="window.__xss=4;alert(4)">'


class Watch:
    """The dialogs a page opened (none may), and ``window.__xss`` (must stay undefined)."""

    def __init__(self, page):
        self.page = page
        self.dialogs = []
        page.on("dialog", self.on_dialog)

    def on_dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_nothing_ran(self):
        assert self.page.evaluate("() => typeof window.__xss") == "undefined"
        assert self.dialogs == []
        # the only images of the block are the ones it builds itself (never an injected <img src=x>)
        assert self.page.locator(".xblock img[src='x'], .xblock svg[onload]").count() == 0


def startup_data(page):
    """The startup data of the page's block, as its scripts read it."""
    return json.loads(page.locator("script[data-viatique-startup]").text_content())


def label_input(page, number):
    return page.get_by_role("textbox", name=f"Question {number}", exact=True)


def test_title_labels_and_username_show_as_typed_and_never_run(page, fresh_demo_host):
    host = fresh_demo_host
    watch = Watch(page)

    # the author types them in the Studio editor
    page.goto(host.url("studio_view/", student="instructor_1"))
    expect(page.locator(".viatique-question-row")).to_have_count(6)
    page.get_by_role("textbox", name="Title", exact=True).fill(TITLE)
    label_input(page, "1").fill(GROUP_LABEL)
    label_input(page, "1.2").fill(LEAF_LABEL)
    with page.expect_response(re.compile(r"/studio_submit/")) as response_info:
        page.get_by_role("button", name="Save", exact=True).click()
    assert response_info.value.ok, response_info.value.text()
    expect(page.locator("[data-saved]")).to_have_count(1)

    # the Studio editor again: its startup data now holds them
    page.goto(host.url("studio_view/", student="instructor_1"))
    expect(page.locator(".viatique-question-row")).to_have_count(6)
    expect(page.get_by_role("textbox", name="Title", exact=True)).to_have_value(TITLE)
    expect(label_input(page, "1")).to_have_value(GROUP_LABEL)
    expect(label_input(page, "1.2")).to_have_value(LEAF_LABEL)
    # a row's buttons are named after its label, as typed
    expect(page.get_by_role("button", name=f"Remove “{LEAF_LABEL}”", exact=True)).to_have_count(1)
    assert startup_data(page)["settings"]["display_name"] == TITLE
    watch.assert_nothing_ran()

    # the instructor's dashboard: the title and the scheme's labels as text
    with page.expect_response(re.compile(r"/list_copies/")):
        page.goto(host.url(student="instructor_1"))
    expect(page.locator(".viatique-title")).to_have_text(TITLE)
    scheme = page.locator(".viatique-scheme")
    expect(scheme.locator("[data-question-id='q1']")).to_have_text(GROUP_LABEL)
    expect(scheme.locator("[data-question-id='q3']")).to_have_text(LEAF_LABEL)
    expect(page.locator("[data-region='copies'] tbody tr").first).to_be_visible()
    watch.assert_nothing_ran()

    # a grader and a learner whose workbench id (?student=) carries a payload
    for username, ready in (("staff_" + USERNAME_TAIL, "[data-region='copies-status']"),
                            ("learner_" + USERNAME_TAIL, ".viatique-learner-status")):
        page.goto(host.url(student=quote(username, safe="")))
        expect(page.locator(".viatique-title")).to_have_text(TITLE)
        expect(page.locator(ready)).not_to_be_empty()
        assert startup_data(page).get("username", username) == username
        watch.assert_nothing_ran()
