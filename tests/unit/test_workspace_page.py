"""The full-window workspace: the ``workspace`` handler's page (block.workspace_page), its URLs, its access."""
import json
import re

import pytest
from webob import Request

from tests.harness import make_block
from viatique_xblock.platform import compat

pytestmark = pytest.mark.django_db


def get_page(block, query=""):
    request = Request.blank("/handler/workspace/" + (f"?{query}" if query else ""))
    request.method = "GET"
    response = block.handle("workspace", request, "")
    return response


def startup(html):
    match = re.search(r'<script data-viatique-startup type="application/json"[^>]*>(.*?)</script>', html, re.S)
    assert match, html[:500]
    return json.loads(match.group(1))


def test_a_grader_gets_a_whole_page_with_the_block_s_resources_and_its_handlers_url_template():
    block = make_block("staff_1", "staff")
    response = get_page(block, "copy=abcdefghijklmnop")
    assert response.status_code == 200
    assert response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "private, no-store"
    html = response.body.decode()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en' in html
    for script in ("viatique_common.js", "viatique_announce.js", "viatique_keys.js", "viatique_prefetch.js",
                   "viatique_grading.js", "viatique_question_grading.js", "viatique_workspace.js"):
        assert f'<script src="/xblock/resource/viatique/static/js/{script}"></script>' in html
    assert '<link rel="stylesheet" href="/xblock/resource/viatique/static/css/viatique_workspace.css">' in html
    data = startup(html)
    assert data["mode"] == "page" and data["role"] == "grader"
    assert data["target"] == {"copy_id": "abcdefghijklmnop"}
    assert data["grading_mode"] == "by_copy"
    # the runtime's own handler URL, with the handler's name and suffix as placeholders
    assert data["handler_url"] == (f"/courses/handler/{block.scope_ids.usage_id}/{compat.HANDLER_PLACEHOLDER}/"
                                   f"{compat.SUFFIX_PLACEHOLDER}")
    assert data["placeholders"] == [compat.HANDLER_PLACEHOLDER, compat.SUFFIX_PLACEHOLDER]


def test_a_question_is_a_target_only_when_it_is_a_leaf_of_the_scheme():
    block = make_block("staff_1", "staff", fields={"grading_mode": "by_question"})
    leaf = next(node["id"] for node in block.marking_scheme["questions"] if "children" not in node)
    assert startup(get_page(block, f"question={leaf}").body.decode())["target"] == {"question_id": leaf}
    assert startup(get_page(block, "question=nope").body.decode())["target"] == {}
    assert startup(get_page(block, "copy=1").body.decode())["target"] == {}  # not a public id


def test_learners_are_refused_the_workspace():
    response = get_page(make_block("learner_1", "learner"))
    assert response.status_code == 403
    assert json.loads(response.body)["error"] == "forbidden"


def test_the_exam_s_title_cannot_end_the_startup_element():
    block = make_block("staff_1", "staff", fields={"display_name": "</script><script>alert(1)</script>"})
    html = get_page(block).body.decode()
    assert "<script>alert(1)" not in html
    assert startup(html)["target"] == {}


def test_the_handler_url_template_keeps_the_runtime_s_query():
    class Runtime:
        def handler_url(self, block, name, suffix="", query="", thirdparty=False):
            return f"/handler/usage.0/{name}/{suffix}?student=staff_1"

    class Block:
        runtime = Runtime()

    assert compat.handler_url_template(Block()) == (
        f"/handler/usage.0/{compat.HANDLER_PLACEHOLDER}/{compat.SUFFIX_PLACEHOLDER}?student=staff_1")
