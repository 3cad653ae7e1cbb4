"""No input gives a 500 (issue 13, finding 3).

Every handler of the block is sent hostile and generated input (bodies, query strings and suffixes)
as an instructor, a grader and a learner, the way the LMS hands a request to the block (a Django
request wrapped by XBlock's ``django_to_webob_request``), on MariaDB and the real Redis. Each answer
must be a 2xx, or a 4xx (409, 413 and 429 included) with a stable ``error`` code: never a 5xx.

The first tests replay the inputs that made 500s before the strict input layer of
:mod:`viatique_xblock.jsonapi`; the property tests (Hypothesis) then send generated input to every
handler. The number of inputs they sent is printed at the end of the module's run.
"""
import json
import re
import string
import urllib.parse

import pytest
from django.core.cache import caches
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xblock.django.request import django_to_webob_request

from tests.unit import grading_helpers, results_helpers
from tests.unit.downloads_support import jpeg
from tests.unit.test_identification import Roster
from viatique_xblock.block import ViatiqueXBlock
from viatique_xblock.models import Copy, Draft, Page, QuestionPoints, RegradeRequest, RubricItem, ScanBatch
from viatique_xblock.platform import conf, lockout, storage
from viatique_xblock.scanning import uploads
from viatique_xblock.states import Grading

pytestmark = pytest.mark.django_db

#: every handler of the block: the methods carrying XBlock's handler marker
HANDLERS = sorted(name for name in dir(ViatiqueXBlock)
                  if getattr(getattr(ViatiqueXBlock, name), "_is_xblock_handler", False))
ROLES = {"instructor": ("instructor_1", "instructor"), "grader": ("staff_1", "staff"),
         "learner": ("learner_1", "learner")}
CODE = re.compile(r"^[a-z][a-z_]*[a-z]$")
ADDRESS = "192.0.2.44"
FACTORY = RequestFactory()

#: how many inputs the tests of this module sent to a handler (printed at the end of the module)
SENT = {"examples": 0, "property": 0, "sweep": 0, "setup": 0}
#: answers to the property tests' inputs by status class ("2xx", "4xx")
ANSWERS = {}


def lms_request(handler, method="POST", suffix="", query="", body=b"", content_type="application/json"):
    """A request as the LMS gives it to the block: Django's, wrapped by XBlock's webob adapter."""
    path = ("/courses/course-v1:Viatique+T101+2026/xblock/exam1/handler/"
            f"{handler}/{urllib.parse.quote(suffix, errors='surrogatepass')}")
    if query:
        path += "?" + query
    if method == "GET":
        django_request = FACTORY.generic("GET", path, REMOTE_ADDR=ADDRESS)
    else:
        django_request = FACTORY.generic(method, path, data=body, content_type=content_type, REMOTE_ADDR=ADDRESS)
    return django_to_webob_request(django_request)


def send(block, handler, method="POST", suffix="", query="", body=b"", content_type="application/json",
         counter="examples"):
    """Send one input; return ``(status, json body or None, response)``."""
    SENT[counter] += 1
    response = block.handle(handler, lms_request(handler, method, suffix, query, body, content_type), suffix)
    if counter in ("property", "sweep"):
        status_class = f"{response.status_code // 100}xx"
        ANSWERS[status_class] = ANSWERS.get(status_class, 0) + 1
    answer = None
    if response.content_type == "application/json":
        answer = json.loads(response.body)
    return response.status_code, answer, response


def assert_no_server_error(status, answer, response, sent):
    assert status < 500, (sent, status, response.body[:500])
    assert 200 <= status < 300 or 400 <= status < 500, (sent, status)
    if status >= 400:
        assert isinstance(answer, dict), (sent, status, response.body[:200])
        assert isinstance(answer.get("error"), str) and CODE.match(answer["error"]), (sent, answer)
        assert answer["error"] != "server_error", (sent, answer)
        assert isinstance(answer.get("message"), str) and answer["message"], (sent, answer)


def api_id(row):
    """The id of a copy or page as handlers name it (its public id where the model has one)."""
    return getattr(row, "public_id", None) or row.pk


def forget_lockouts():
    """Denials of one input never lock the next one out (the property is about 500s): the counters and
    locks of the three users and of the test's address go."""
    cache = caches[conf.get("CACHE_ALIAS")]
    keys = [key for username, _kind in ROLES.values() for key in lockout._keys(lockout.USER, username)]
    cache.delete_many(keys + list(lockout._keys(lockout.ADDRESS, ADDRESS)))


#: handlers after which the grading copy's lease must be taken again
LEASE_BREAKERS = {"release_lease", "force_release_lease", "finalize", "reopen_copy", "retry_render",
                  "assign_copy", "dispatch", "rebalance", "answer_regrade", "acquire_lease", "unidentify",
                  "identify", "studio_submit"}


# ------------------------------------------------------------------ a world to send requests to


class World:
    """A released exam with graded copies (learner_1 may ask for a regrade), a copy dealt to staff_1
    whose lease staff_1 holds, an open upload and an open regrade request."""

    def __init__(self):
        self.blocks = {role: results_helpers.block(username, kind) for role, (username, kind) in ROLES.items()}
        for block in self.blocks.values():  # the LMS's enrollments and course staff
            block.runtime._services["viatique_roster"] = Roster()
        self.exam = self.blocks["instructor"].get_exam()
        self.copies = results_helpers.classroom(self.exam)
        for batch in ScanBatch.objects.filter(exam=self.exam, file_name=""):  # the scans and graded PDFs, stored
            name = storage.overwrite(storage.file_name("scans", self.exam.pk, f"{batch.sha256}.pdf"),
                                     grading_helpers.scan_pdf(batch.page_count))
            ScanBatch.objects.filter(pk=batch.pk).update(file_name=name)
        self.work = grading_helpers.make_copy(self.exam, "EEE5", grader="staff_1", state=Grading.READY,
                                              username="learner_5")
        for page in Page.objects.filter(exam=self.exam, image_name=""):  # as ingestion leaves them
            name = storage.overwrite(storage.file_name("pages", self.exam.pk, f"{page.pk}.jpg"), jpeg())
            Page.objects.filter(pk=page.pk).update(image_name=name)
        for copy in Copy.objects.filter(exam=self.exam).exclude(graded_pdf_name=""):
            name = storage.overwrite(storage.file_name("graded", self.exam.pk, f"{copy.pk}.pdf"),
                                     grading_helpers.scan_pdf(2))
            Copy.objects.filter(pk=copy.pk).update(graded_pdf_name=name)
        assert results_helpers.release(self.blocks["instructor"])[0] == 200
        self.hold_lease("grader")
        status, answer = self.call("learner", "request_regrade", {"question_id": "q3", "message": "Look again"})
        assert status == 200, answer
        self.regrade = RegradeRequest.objects.get()
        self.upload = uploads.start(self.exam, grading_helpers.INSTRUCTOR, "scan.pdf", 1000)
        self.copy_ids = [api_id(row) for row in Copy.objects.filter(exam=self.exam).order_by("pk")]
        self.page_ids = [api_id(row) for row in Page.objects.filter(exam=self.exam).order_by("pk")]

    def hold_lease(self, role):
        """The lease of the grading copy for ``role`` (the same one again while it holds it)."""
        Copy.objects.filter(pk=self.work.pk, grading_state__in=(Grading.SUBMITTED, Grading.GRADED,
                                                                Grading.RENDER_FAILED)).update(
            grading_state=Grading.IN_PROGRESS)
        status, lease = self.call(role, "acquire_lease", {"copy_id": api_id(self.work)}, counter="setup")
        if status == 200:
            self.fencing, self.token = lease["fencing"], lease["token"]
        return status

    def call(self, role, handler, data=None, method="POST", suffix="", query="", counter="examples"):
        body = json.dumps(data if data is not None else {}).encode() if method == "POST" else b""
        status, answer, _response = send(self.blocks[role], handler, method, suffix, query, body, counter=counter)
        return status, answer

    def cleanup(self):
        store = storage.get_storage()
        names = list(ScanBatch.objects.filter(exam=self.exam).values_list("file_name", flat=True))
        names += list(Copy.objects.filter(exam=self.exam).values_list("graded_pdf_name", flat=True))
        names += [name for row in Page.objects.filter(exam=self.exam).values_list(
            "image_name", "masked_image_name", "thumbnail_name") for name in row]
        for name in names:
            if name and store.exists(name):
                store.delete(name)


@pytest.fixture
def world():
    made = World()
    yield made
    made.cleanup()


class _Summary:
    """Prints, at the end of the run, how many inputs this module sent (a pytest plugin object)."""

    def pytest_terminal_summary(self, terminalreporter):
        if not SENT["property"] + SENT["sweep"]:
            return
        answers = ", ".join(f"{count} answered {status}" for status, count in sorted(ANSWERS.items()))
        terminalreporter.write_line(
            f"test_handler_inputs: the property tests sent {SENT['property'] + SENT['sweep']} inputs to the "
            f"{len(HANDLERS)} handlers ({SENT['property']} generated by Hypothesis, {SENT['sweep']} by the "
            f"field-by-field sweep; {answers}); the explicit tests sent {SENT['examples']}")


@pytest.fixture(scope="module", autouse=True)
def _report_inputs_sent(request):
    if not request.config.pluginmanager.has_plugin("viatique-inputs-summary"):
        request.config.pluginmanager.register(_Summary(), "viatique-inputs-summary")
    yield


def test_the_handlers_are_enumerated_from_the_block_class():
    assert len(HANDLERS) >= 50
    assert {"studio_submit", "request_regrade", "save_comment", "upload_start", "open_copy"} <= set(HANDLERS)


# ------------------------------------------------------------------ the findings, replayed

SURROGATE = "\ud800"


def test_a_lone_surrogate_in_a_regrade_message_is_a_400_naming_the_field(world):
    RegradeRequest.objects.all().delete()
    status, answer = world.call("learner", "request_regrade", {"question_id": "q3", "message": "Look " + SURROGATE})
    assert (status, answer["error"], answer["field"]) == (400, "invalid_text", "message")
    assert not RegradeRequest.objects.exists()


@pytest.mark.parametrize("text", [SURROGATE, "a\udfffb", "nul\x00byte"])
@pytest.mark.parametrize("handler,field,data", [
    ("save_comment", "general_comment", lambda world, text: {"general_comment": text}),
    ("save_points", "comment", lambda world, text: {"question_id": "q3", "points": "1", "comment": text}),
    ("save_annotation", "annotation.text", lambda world, text: {"annotation": grading_helpers.annotation(
        world.page_ids[-1], text=text)}),
    ("save_draft", "payload.general_comment", lambda world, text: {"version": 0, "payload": {
        "annotations": [], "points": {}, "general_comment": text}}),
])
def test_text_a_database_cannot_store_in_a_graders_comment_is_a_400_naming_the_field(world, handler, field, data,
                                                                                     text):
    sent = {"copy_id": api_id(world.work), "fencing": world.fencing, **data(world, text)}
    status, answer = world.call("grader", handler, sent)
    assert (status, answer["error"], answer["field"]) == (400, "invalid_text", field)
    work = Copy.objects.get(pk=world.work.pk)
    assert work.general_comment == "" and not QuestionPoints.objects.filter(copy=work).exists()
    assert not Draft.objects.filter(copy=work).exists()


def test_a_surrogate_in_an_answer_to_a_regrade_request_is_a_400(world):
    status, answer = world.call("grader", "answer_regrade", {"id": world.regrade.pk, "answer": SURROGATE})
    assert (status, answer["error"], answer["field"]) == (400, "invalid_text", "answer")


@pytest.mark.parametrize("copy_id", ["²", "①", "٣", "𝟙", "1²", "+1", "-1", "0x1", "1_0", "1e3", "٠", True, 1.5,
                                     10 ** 30, [1], {"id": 1}])
@pytest.mark.parametrize("handler", ["acquire_lease", "save_comment", "finalize", "retry_render"])
def test_copy_ids_that_isdigit_accepts_but_are_no_id_are_a_400(world, handler, copy_id):
    """``"²".isdigit()`` is True and ``int("²")`` raises: ids are parsed by one strict rule."""
    status, answer = world.call("grader", handler, {"copy_id": copy_id, "fencing": world.fencing,
                                                    "general_comment": "x"})
    assert (status, answer["error"]) in ((400, "invalid_request"), (400, "invalid_number")), answer


@pytest.mark.parametrize("request_id", ["²", "①", "٣", "1²", "-1", "0", 0, "9" * 30, True, [1], 1.5])
def test_regrade_request_ids_are_ascii_digits_only(world, request_id):
    status, answer = world.call("grader", "answer_regrade", {"id": request_id, "answer": "Seen"})
    assert (status, answer["error"]) == (404, "not_found"), answer
    status, answer = world.call("grader", "answer_regrade", {"id": 10 ** 30, "answer": "Seen"})
    assert (status, answer["error"], answer["field"]) == (400, "invalid_number", "id"), answer
    status, answer = world.call("grader", "answer_regrade", {"id": str(world.regrade.pk), "answer": "Seen"})
    assert status == 200, answer


@pytest.mark.parametrize("copy_id", ["²", "①", "1²", "99999999999999999999999999"])
def test_copy_ids_in_queries_and_suffixes_that_are_no_id_are_refused_not_a_server_error(world, copy_id):
    status, answer = world.call("grader", "open_copy", method="GET", query=urllib.parse.urlencode({"copy_id": copy_id}))
    assert (status, answer["error"]) == (400, "invalid_request")
    for handler in ("graded_pdf", "page_image", "learner_page_image", "name_area"):
        for role in ("instructor", "grader", "learner"):
            status, answer = world.call(role, handler, method="GET", suffix=copy_id)
            assert status in (400, 403, 404) and CODE.match(answer["error"]), (handler, role, answer)


@pytest.mark.parametrize("next_id", ["abc", 1e400, [1], {"a": 1}, "1e400", -5, "²", 10 ** 30, True])
def test_studio_submit_with_a_bad_next_id_is_a_400(world, next_id):
    scheme = {"questions": [{"id": "q1", "label": "One", "max": 2, "step": 1}], "next_id": next_id}
    body = json.dumps({"marking_scheme": scheme, "display_name": "Exam"}).replace("Infinity", "1e400").encode()
    status, answer, _response = send(world.blocks["instructor"], "studio_submit", body=body)
    assert status == 400 and answer["error"] in ("invalid_request", "invalid_number", "invalid_settings"), answer


@pytest.mark.parametrize("size", ["1e309", "-1e309", "1e400", "NaN", "Infinity", "-Infinity"])
def test_an_upload_size_that_is_no_finite_number_is_a_400_naming_the_field(world, size):
    body = ('{"file_name": "scan.pdf", "size": %s}' % size).encode()
    status, answer, _response = send(world.blocks["instructor"], "upload_start", body=body)
    assert (status, answer["error"], answer["field"]) == (400, "invalid_number", "size")


@pytest.mark.parametrize("size", [[1], {"a": 1}, "²", "①", True, 1.5, "12.5", "1e3", None])
def test_an_upload_size_that_is_no_whole_number_is_a_400(world, size):
    status, answer = world.call("instructor", "upload_start", {"file_name": "scan.pdf", "size": size})
    assert (status, answer["error"], answer["field"]) == (400, "invalid_request", "size"), answer


def test_an_upload_size_too_large_to_store_is_a_400_and_one_over_the_limit_a_413(world):
    status, answer = world.call("instructor", "upload_start", {"file_name": "scan.pdf", "size": 10 ** 40})
    assert (status, answer["error"], answer["field"]) == (400, "invalid_number", "size"), answer
    status, answer = world.call("instructor", "upload_start", {"file_name": "scan.pdf", "size": "9" * 40})
    assert (status, answer["error"]) == (413, "file_too_large"), answer


@pytest.mark.parametrize("role", list(ROLES))
def test_json_nested_100000_deep_is_a_400_for_everyone(world, role):
    body = ('{"message": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    for handler in ("request_regrade", "save_comment", "studio_submit"):
        status, answer, _response = send(world.blocks[role], handler, body=body)
        assert (status, answer["error"]) in ((400, "invalid_request"), (403, "forbidden")), (handler, answer)
    status, answer, _response = send(world.blocks["learner"], "request_regrade", body=body)
    assert (status, answer["error"]) == (400, "invalid_request")


def test_json_up_to_64_deep_is_read_and_deeper_is_refused(world):
    def nested(depth):
        return ('{"question_id": "q2", "message": "Again", "x": ' + "[" * (depth - 1) + "]" * (depth - 1)
                + "}").encode()
    RegradeRequest.objects.all().delete()
    status, _answer, _response = send(world.blocks["learner"], "request_regrade", body=nested(64))
    assert status == 200
    status, answer, _response = send(world.blocks["learner"], "request_regrade", body=nested(65))
    assert (status, answer["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("role", list(ROLES))
def test_a_body_over_the_platforms_limit_is_a_413_before_it_is_read(world, role, settings):
    body = json.dumps({"question_id": "q3", "message": "x" * (3 * 1024 * 1024)}).encode()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    for handler in ("request_regrade", "save_comment", "upload_start", "studio_submit"):
        status, answer, response = send(world.blocks[role], handler, body=body)
        if (status, answer["error"]) == (403, "forbidden"):  # a role refusal comes first
            continue
        assert (status, answer["error"]) == (413, "request_too_large"), (handler, answer)
        assert answer["limit"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    status, answer, response = send(world.blocks["learner"], "request_regrade", body=body)
    assert (status, answer["error"]) == (413, "request_too_large")


def test_a_body_over_the_limit_without_a_length_is_a_413(world):
    request = lms_request("request_regrade", body=b'{"message": "' + b"x" * (3 * 1024 * 1024) + b'"}')
    del request.environ["CONTENT_LENGTH"]
    request._request.META.pop("CONTENT_LENGTH", None)
    response = world.blocks["learner"].handle("request_regrade", request, "")
    assert (response.status_code, response.json["error"]) == (413, "request_too_large")


@pytest.mark.parametrize("body", [b"NaN", b'{"question_id": "q3", "message": "m", "n": NaN}',
                                  b'{"question_id": "q3", "message": "m", "n": -Infinity}',
                                  b'{"question_id": "q3", "message": "m", "n": 1e999}'])
def test_numbers_that_are_not_finite_are_refused(world, body):
    status, answer, _response = send(world.blocks["learner"], "request_regrade", body=body)
    assert status == 400 and answer["error"] in ("invalid_number", "invalid_request"), answer


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"a": "\xed\xa0\x80"}', b"[1]", b'"x"', b"{", b"\x00",
                                  b'{"\\ud800": 1}', b'{"message\\u0000": 1}'])
def test_bodies_that_are_no_json_object_the_database_can_store_are_a_400(world, body):
    status, answer, _response = send(world.blocks["learner"], "request_regrade", body=body)
    assert status == 400 and answer["error"] in ("invalid_request", "invalid_text"), answer


@pytest.mark.parametrize("query", ["q=%00", "copy_id=1%00", "separator=%ED%A0%80", "q=%ff%fe", "copy_id=%C2%B2",
                                   "offset=1e400&limit=nan", "id=%00"])
@pytest.mark.parametrize("handler", ["roster_search", "open_copy", "grades_csv", "audit_log", "export_status",
                                     "list_copies"])
def test_hostile_query_strings_are_no_server_error(world, handler, query):
    status, answer, response = send(world.blocks["instructor"], handler, method="GET", query=query)
    assert_no_server_error(status, answer, response, (handler, query))


@pytest.mark.parametrize("suffix", ["\x00", SURROGATE, "1\x00", "²", "①/thumb", "1/thumb\x00", "../../etc/passwd",
                                    "x" * 5000])
@pytest.mark.parametrize("handler", ["page_image", "learner_page_image", "graded_pdf", "name_area", "upload_status",
                                     "upload_chunk", "export_download", "archive_download"])
def test_hostile_suffixes_are_no_server_error(world, handler, suffix):
    for role in ROLES:
        forget_lockouts()
        method = "POST" if handler == "upload_chunk" else "GET"
        status, answer, response = send(world.blocks[role], handler, method, suffix=suffix, body=b"x")
        assert_no_server_error(status, answer, response, (handler, role, suffix))


# ------------------------------------------------------------------ generated input for every handler

#: every key a handler reads from a body or a query
KEYS = sorted({
    "copy_id", "page_id", "id", "fencing", "version", "payload", "token", "question_id", "points", "comment",
    "message", "annotation", "uid", "general_comment", "text", "username", "swap", "graders", "grader", "naming",
    "file_name", "size", "split_mode", "upload_id", "sha256", "action", "position", "source_copy_id",
    "target_copy_id", "kind", "answer", "reopen", "marking_scheme", "display_name", "pages_per_copy",
    "grade_scale", "weight", "anonymous_grading", "regrade_window_days", "name_area_height", "identity", "offset",
    "limit", "q", "separator", "copy", "actor", "date_from", "date_to", "sig", "inline", "copies", "blank_pages",
    "prenamed", "next_id", "questions", "label", "max", "step", "children", "annotations", "x", "y", "width",
    "height",
})
HOSTILE_TEXT = ["\ud800", "\udfff", "\x00", "²", "①", "٣", "𝟙", "1²", "\u202e", "\ufeff1", "ǅ", "𝔘", "NaN",
                "Infinity", "1e400", "-1", "0", "99999999999999999999999", "", " ", "q3", "q2", "graded_pdf",
                "assign", "discard", "username", "code", "semicolon", "x" * 300, "é" * 3000, "<script>",
                "' OR 1=1 --", "%s%s", "{0}", "{message}", "/thumb", "1/thumb", "2026-13-45", "2026-01-01"]
HOSTILE_NUMBERS = [0, -1, 1, 2, 2 ** 31, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, 1e308, -1e308, 0.5, -0.0, 1e-300,
                   float("inf"), float("-inf"), float("nan")]

text = st.one_of(st.text(alphabet=st.characters(exclude_categories=()), max_size=40),
                 st.sampled_from(HOSTILE_TEXT))
numbers = st.one_of(st.integers(), st.floats(), st.sampled_from(HOSTILE_NUMBERS))
#: the values most likely to break a handler: text the database refuses, digits int() refuses, numbers too large
hostile = st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS + [True, False, None, [], {}, [1], {"id": 1}, ["q3"]])
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(KEYS), text), inner, max_size=4)),
    max_leaves=12)


@st.composite
def ids(draw, world):
    """An id as a client might send it: a real one (number or text), or anything."""
    real = st.sampled_from(world.copy_ids + world.page_ids + [world.regrade.pk, str(world.upload.public_id)])
    return draw(st.one_of(real, real.map(str), json_values))


def templates(world, username):
    """A well-formed request to each handler (``(method, body or query dict, suffix)``), which the
    generated inputs then bend: most of a request right and one field wrong reaches deeper than noise."""
    work, page, copy = api_id(world.work), world.page_ids[-1], world.copy_ids[0]
    draft = Draft.objects.filter(copy=world.work, grader=username).first()
    write = {"copy_id": work, "fencing": world.fencing}
    note = grading_helpers.annotation(page, text="Bien", question_id="q3", points="0.5")
    item = RubricItem.objects.filter(exam_id=world.work.exam_id).order_by("pk").first() or \
        RubricItem.objects.create(exam_id=world.work.exam_id, question_id="q3", text="Méthode", points="-0.5")
    scheme = {"questions": [{"id": "q1", "label": "Exercice 1", "children": [
        {"id": "q2", "label": "1. a)", "max": 4, "step": 0.5}]}, {"id": "q3", "label": "Exercice 2", "max": 6,
                                                                   "step": 0.25}], "next_id": 4}
    filters = {"copy": "AAA1", "actor": "staff_1", "action": "regrade", "date_from": "2026-01-01",
               "date_to": "2036-01-01", "offset": "0", "limit": "20"}
    return {
        "acquire_lease": ("POST", {"copy_id": work}, ""),
        "renew_lease": ("POST", {"copy_id": work, "token": world.token}, ""),
        "release_lease": ("POST", {"copy_id": work, "token": world.token}, ""),
        "force_release_lease": ("POST", {"copy_id": work}, ""),
        "save_draft": ("POST", {**write, "version": draft.version if draft else 0, "payload": {
            "annotations": [note], "points": {"q3": {"points": "1.25", "comment": "Bien"}},
            "general_comment": "Good"}}, ""),
        "save_points": ("POST", {**write, "question_id": "q3", "points": "1.25", "comment": "Bien"}, ""),
        "save_annotation": ("POST", {**write, "annotation": note}, ""),
        "delete_annotation": ("POST", {**write, "uid": note["uid"]}, ""),
        "save_comment": ("POST", {**write, "general_comment": "Good work"}, ""),
        "finalize": ("POST", dict(write), ""),
        "reopen_copy": ("POST", {"copy_id": work}, ""),
        "retry_render": ("POST", {"copy_id": work}, ""),
        "question_progress": ("GET", {}, ""),
        "next_answer": ("POST", {"question_id": "q3"}, ""),
        "open_answer": ("POST", {"copy_id": work, "question_id": "q3", "take_lease": False}, ""),
        "renew_answer_lease": ("POST", {"copy_id": work, "question_id": "q3", "token": world.token}, ""),
        "release_answer_lease": ("POST", {"copy_id": work, "question_id": "q3", "token": world.token}, ""),
        "force_release_answer_lease": ("POST", {"copy_id": work, "question_id": "q3"}, ""),
        "save_answer": ("POST", {**write, "question_id": "q3", "version": 0, "points": "1.25", "comment": "Bien",
                                 "annotations": [note], "general_comment": "Good", "done": False}, ""),
        "mark_no_answer": ("POST", {**write, "question_id": "q3", "version": 0}, ""),
        "skip_answer": ("POST", {"copy_id": work, "question_id": "q3", "token": world.token}, ""),
        "reopen_question": ("POST", {"copy_id": work, "question_id": "q3"}, ""),
        "dispatch_questions": ("POST", {"assignments": {"q3": ["staff_1", "staff_2"]}}, ""),
        "comment_bank": ("GET", {}, ""),
        "rubric": ("GET", {"question_id": "q3"}, ""),
        "apply_rubric_item": ("POST", {**write, "question_id": "q3", "item_id": item.public_id, "applied": True}, ""),
        "save_adjustment": ("POST", {**write, "question_id": "q3", "adjustment": "-0.25", "comment": "Bien"}, ""),
        "create_rubric_item": ("POST", {"question_id": "q3", "text": "Unités", "points": "0.5"}, ""),
        "edit_rubric_item": ("POST", {"item_id": item.public_id, "version": item.version, "points": "-1",
                                      "text": "Méthode !"}, ""),
        "rubric_item_usage": ("GET", {"item_id": item.public_id}, ""),
        "delete_rubric_item": ("POST", {"item_id": item.public_id, "copies": 1}, ""),
        "save_rubric_group": ("POST", {"question_id": "q3", "label": "Résultat", "pick_one": True}, ""),
        "delete_rubric_group": ("POST", {"group_id": "abcdefghijklmnop"}, ""),
        "rescore_progress": ("GET", {"id": "00000000-0000-0000-0000-000000000000"}, ""),
        "add_bank_comment": ("POST", {"text": "Revoir le cours", "question_id": "q3", "points": "0.5"}, ""),
        "list_copies": ("GET", {"offset": "0", "limit": "10", "identity": "identified"}, ""),
        "open_copy": ("GET", {"copy_id": work}, ""),
        "workspace": ("GET", {"copy": work, "question": "q3"}, ""),
        "page_image": ("GET", {}, f"{page}/thumb"),
        "question_region": ("GET", {"page": "1"}, f"{copy}/q3"),
        "question_layout": ("GET", {"page": "2"}, ""),
        "save_question_layout": ("POST", {"layouts": {"q3": {"pages": [1, 2], "box": {
            "page": 1, "x0": 0.1, "y0": 0.2, "x1": 0.6, "y1": 0.5}}}, "page": 1}, ""),
        "upload_roster": ("RAW", b"username,name\nlearner_1,Chlo\xc3\xa9 Dubois\n", ""),
        "roster_search": ("GET", {"q": "dubois"}, ""),
        "name_area": ("GET", {}, str(copy)),
        "identify": ("POST", {"copy_id": copy, "username": "learner_2", "swap": True}, ""),
        "unidentify": ("POST", {"copy_id": copy}, ""),
        "reveal_identity": ("POST", {"copy_id": copy}, ""),
        "graders": ("GET", {}, ""),
        "dispatch": ("POST", {"graders": ["staff_1", "staff_2"]}, ""),
        "assign_copy": ("POST", {"copy_id": copy, "grader": "staff_2"}, ""),
        "rebalance": ("POST", {"graders": ["staff_1", "staff_2"]}, ""),
        "my_results": ("GET", {}, ""),
        "request_regrade": ("POST", {"question_id": "q2", "message": "Please look again"}, ""),
        "regrade_requests": ("GET", {}, ""),
        "answer_regrade": ("POST", {"id": world.regrade.pk, "answer": "Seen", "reopen": False}, ""),
        "release_summary": ("GET", {}, ""),
        "release_results": ("POST", {}, ""),
        "unrelease_results": ("POST", {}, ""),
        "graded_pdf": ("GET", {"inline": "1"}, str(copy)),
        "download_url": ("POST", {"copy_id": copy, "kind": "graded_pdf"}, ""),
        "learner_page_image": ("GET", {}, str(page)),
        "lockouts": ("GET", {}, ""),
        "lift_lockout": ("POST", {"id": 1}, ""),
        "grades_csv": ("GET", {"separator": "semicolon"}, ""),
        "export_zip": ("POST", {"naming": "username"}, ""),
        "export_status": ("GET", {"id": str(world.upload.public_id)}, ""),
        "export_download": ("GET", {}, str(world.upload.public_id)),
        "archive_export": ("POST", {}, ""),
        "archive_status": ("GET", {"id": str(world.upload.public_id)}, ""),
        "archive_download": ("GET", {}, str(world.upload.public_id)),
        "archive_import": ("RAW", b"PK\x05\x06" + b"\x00" * 18, ""),
        "statistics": ("GET", {}, ""),
        "audit_log": ("GET", dict(filters), ""),
        "audit_log_csv": ("GET", {**filters, "separator": "comma"}, ""),
        "upload_start": ("POST", {"file_name": "scan.pdf", "size": 2048, "split_mode": "auto"}, ""),
        "upload_chunk": ("RAW", b"%PDF-1.4 chunk", f"{world.upload.public_id}/0"),
        "upload_status": ("GET", {}, str(world.upload.public_id)),
        "upload_finish": ("POST", {"upload_id": str(world.upload.public_id), "sha256": "0" * 64}, ""),
        "scan_progress": ("GET", {}, ""),
        "anomaly_queue": ("GET", {}, ""),
        "fix_page": ("POST", {"page_id": page, "action": "assign", "copy_id": copy, "position": 3}, ""),
        "merge_copies": ("POST", {"source_copy_id": world.copy_ids[1], "target_copy_id": copy}, ""),
        "copy_pages": ("GET", {}, str(copy)),
        "accept_missing": ("POST", {"copy_id": copy, "accepted": True}, ""),
        "desk_queue": ("GET", {}, ""),
        "desk_skip": ("POST", {"copy_id": copy}, ""),
        "hold_copy": ("POST", {"copy_id": copy, "note": "not enrolled"}, ""),
        "release_hold": ("POST", {"copy_id": copy}, ""),
        "print_booklets": ("RAW", b"", "?copies=1&blank_pages=1"),
        "booklet_subject": ("RAW", b"%PDF-1.4 not a whole file", "?name=exam.pdf"),
        "booklet_print": ("POST", {"prenamed": False, "copies": 1, "pages": 1, "extra_pages": 1, "subject": False}, ""),
        "booklet_status": ("GET", {}, ""),
        "booklet_download": ("GET", {}, "00000000-0000-0000-0000-000000000000"),
        "studio_submit": ("POST", {"display_name": "Bac blanc", "marking_scheme": scheme, "pages_per_copy": 2,
                                   "grade_scale": 20, "weight": "", "anonymous_grading": True,
                                   "regrade_window_days": 7, "name_area_height": 12}, ""),
    }


def paths(tree, prefix=()):
    """Every path to a value inside a JSON tree, containers included."""
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found.extend(paths(value, prefix + (key,)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found.extend(paths(value, prefix + (index,)))
    return found


def replaced(tree, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {**tree, head: replaced(tree[head], rest, value)}
    return [replaced(item, rest, value) if index == head else item for index, item in enumerate(tree)]


@st.composite
def bent(draw, world, template):
    """``template`` with a few values replaced by generated ones (anywhere in it), keys added or removed."""
    tree = template
    if paths(tree)[1:] and draw(st.booleans()):  # one value replaced by a hostile one: the likeliest 500
        return replaced(tree, draw(st.sampled_from(paths(tree)[1:])), draw(hostile))
    for _change in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["replace", "replace", "replace", "add", "drop"]))
        if kind == "add" or not isinstance(tree, dict) or not tree:
            if isinstance(tree, dict):
                tree = {**tree, draw(st.one_of(st.sampled_from(KEYS), text)): draw(json_values)}
            continue
        if kind == "drop":
            key = draw(st.sampled_from(sorted(tree, key=str)))
            tree = {name: value for name, value in tree.items() if name != key}
            continue
        path = draw(st.sampled_from(paths(tree)[1:] or [()]))
        tree = replaced(tree, path, draw(st.one_of(hostile, hostile, hostile, json_values, ids(world))))
    return tree


@st.composite
def raw_bodies(draw):
    """Bytes that are no well-formed request: noise, cut JSON, deep nesting, bad UTF-8."""
    kind = draw(st.sampled_from(["bytes", "deep", "cut", "value"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "deep":
        depth = draw(st.integers(60, 3000))
        return ("{\"copy_id\": " + "[" * depth + "]" * depth + "}").encode()
    if kind == "cut":
        return draw(st.sampled_from([b'{"copy_id": ', b'{"a": "\\ud800"', b"\xef\xbb\xbf{}", b'{"a": 1} x']))
    return json.dumps(draw(json_values)).encode()


def query_string(data):
    return "&".join(urllib.parse.quote(str(key), errors="surrogatepass") + "=" +
                    urllib.parse.quote(value if isinstance(value, str) else json.dumps(value), errors="surrogatepass")
                    for key, value in data.items())


@st.composite
def requests(draw, world, username, handler):
    """One request to ``handler``: its template bent, or noise, with the right method most of the time."""
    method, template, suffix = templates(world, username)[handler]
    content_type = "application/json"
    query = ""
    if method == "RAW":
        method, body = "POST", template if draw(st.booleans()) else draw(st.binary(max_size=256))
        content_type = "application/octet-stream"
        if suffix.startswith("?"):
            query, suffix = suffix[1:], ""
    elif method == "GET":
        tree = draw(bent(world, template))
        body, query = b"", query_string(tree if isinstance(tree, dict) else {"q": tree})
    else:
        body = draw(st.one_of(bent(world, template).map(lambda tree: json.dumps(tree).encode()),
                              bent(world, template).map(lambda tree: json.dumps(tree).encode()), raw_bodies()))
    if draw(st.integers(0, 7)) == 0:  # the wrong method, the wrong content type
        method = draw(st.sampled_from(["GET", "POST", "PUT"]))
        content_type = draw(st.sampled_from(["text/plain", "application/x-www-form-urlencoded"]))
    if draw(st.integers(0, 3)) == 0:
        suffix = draw(st.one_of(st.just(""), text, hostile.map(str), ids(world).map(str),
                                st.sampled_from(world.page_ids).map(lambda pk: f"{pk}/thumb")))
    if draw(st.integers(0, 4)) == 0:
        query += ("&" if query else "") + draw(st.text(alphabet=string.printable, max_size=20))
    return method, suffix, query, body, content_type


#: what every field of every handler's well-formed request is replaced with, one at a time
SWEEP = ["\ud800", "x\x00y", "²", "①", 10 ** 30, float("inf"), float("nan"), [1], {"a": 1}, None, True,
         "x" * 3000]


def sweep(world, role, handler):
    """Each field of the handler's well-formed request (nested ones included), replaced in turn by each
    :data:`SWEEP` value: the known ways to a 500, sent to every field rather than left to chance."""
    block, username = world.blocks[role], ROLES[role][0]
    method, template, suffix = templates(world, username)[handler]
    if method == "RAW":
        variants = [("POST", template, value, "") for value in ("\ud800", "\x00", "²", "x" * 3000)]
        if suffix.startswith("?"):
            variants = [("POST", template, "", f"copies={quoted}&blank_pages={quoted}")
                        for quoted in ("%ED%A0%80", "%00", "%C2%B2", "1e400", "9" * 30)]
    else:
        variants = [(method, replaced(template, path, value), suffix, "")
                    for path in paths(template)[1:] for value in SWEEP]
        variants += [(method, template, value, "") for value in ("\ud800", "\x00", "²", "9" * 30)]
    for method, tree, suffix, query in variants:
        forget_lockouts()
        if role != "learner" and handler in LEASE_BREAKERS:
            world.hold_lease(role)
        if method == "GET":
            body, query = b"", query or query_string(tree)
        else:
            body = tree if isinstance(tree, bytes) else json.dumps(tree).encode()
        status, answer, response = send(block, handler, method, str(suffix), query, body, counter="sweep")
        assert_no_server_error(status, answer, response, (role, handler, method, suffix, query, body[:300]))


#: examples per handler and role: 56 handlers, three roles (no deadline: nothing here is timed)
EXAMPLES = 25
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("role", list(ROLES))
def test_no_generated_input_to_any_handler_is_a_server_error(world, role, handler):
    block, username = world.blocks[role], ROLES[role][0]
    for method in ("GET", "POST"):  # first with nothing at all
        status, answer, response = send(block, handler, method, counter="property")
        assert_no_server_error(status, answer, response, (role, handler, method))

    if (send(block, handler, counter="setup")[1] or {}).get("error") != "forbidden" or role == "instructor":
        sweep(world, role, handler)

    @PROPERTY
    @given(st.data())
    def check(data):
        forget_lockouts()
        if role != "learner" and handler in LEASE_BREAKERS:  # the lease again (released? copy finalized?)
            world.hold_lease(role)
        method, suffix, query, body, content_type = data.draw(requests(world, username, handler))
        status, answer, response = send(block, handler, method, suffix, query, body, content_type,
                                        counter="property")
        assert_no_server_error(status, answer, response, (role, handler, method, suffix, query, body[:300]))

    check()
