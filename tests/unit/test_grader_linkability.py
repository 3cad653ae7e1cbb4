"""A grader holding the class list cannot link what they receive to the learners (issue 13).

The exam: sixteen learners, prenamed booklets printed in the roster's (alphabetical) order and
scanned in that order (the usual stack of paper), or a scan without codes in roster order whose
copies the instructor identifies at the desk in that order. The grader grades a few copies, results
are released and a learner asks for a regrade. Then the grader's crawl: every handler of the block,
every copy of the list, every page image and thumbnail, every graded PDF (as a download, inline and
through a signed link), with every body, header, URL and file name they receive.

The attacker's side of the test tries to link the crawl to the roster: it sorts the copies by each
identifier the grader sees (list position, copy id, anonymous code, page ids, the booklet number
printed in the QR code of the page images) and compares with the roster's order. None of them may
reproduce it (or its reverse) or correlate with it (Spearman's rho of a random order of sixteen
reaches 0.95 with a chance well under one in a million), and no database key (copies and pages are
made in scan order) may appear anywhere: the anonymous code and random ids are all a grader gets.
"""
import base64
import io
import json
import re
from urllib.parse import parse_qs, urlparse

import pymupdf
import pytest
import zxingcpp
from django.test import override_settings
from PIL import Image
from webob import Request

from tests.harness import make_block
from tests.unit import grading_helpers
from tests.unit.pdf import builders
from viatique_xblock.identity import desk
from viatique_xblock.models import Copy, Page
from viatique_xblock.pdf import qr, synthetic
from viatique_xblock.platform.compat import Learner
from viatique_xblock.scanning import batches, booklets
from viatique_xblock.states import Identity

pytestmark = pytest.mark.django_db

FIRST = ["Amélie", "Bruno", "Chloé", "David", "Emma", "Fabien", "Gaëlle", "Hugo", "Inès", "Jules", "Karim",
         "Léa", "Mathis", "Nora", "Oscar", "Paula"]
#: the class list, in its (alphabetical) order: what the grader holds
ROSTER = [Learner(f"learner_{index + 1:02d}", f"{first} {chr(ord('A') + index)}{'abcdefghijklmnop'[index]}ert",
                  f"anon-{index + 1:02d}-{first.lower()}") for index, first in enumerate(FIRST)]
PAGES = 2
GRADED = 3
#: the question 1. a) has its answer in a box over the cover's name area (issue 14: the region stays masked)
SCHEME = {**grading_helpers.SCHEME, "questions": [
    {**grading_helpers.SCHEME["questions"][0], "children": [{
        **grading_helpers.SCHEME["questions"][0]["children"][0],
        "layout": {"pages": [1], "box": {"page": 1, "x0": 0.0, "y0": 0.0, "x1": 1.0, "y1": 0.5}}}]},
    *grading_helpers.SCHEME["questions"][1:]]}
FIELDS = {**grading_helpers.FIELDS, "marking_scheme": SCHEME, "pages_per_copy": PAGES, "regrade_window_days": 7}
GRADER = "staff_1"


def block(username="instructor_1", role="instructor", **kwargs):
    return make_block(username, role, fields=FIELDS, **kwargs)


def ingest(exam, data, name):
    info = batches.validate_bytes(data)
    batch = batches.create_batch(exam, name, info.sha256, info, io.BytesIO(data), send=batches.run_locally)
    batches.process_batch(batch.pk, send=batches.run_locally)


def prenamed_exam(exam):
    """Prenamed booklets printed in roster order, filled in and scanned in that order: identified by the pipeline."""
    pdf, numbers = booklets.print_booklets(exam, blank_pages=PAGES, learners=ROSTER)
    ingest(exam, synthetic.scan(pdf, seed=3), "class.pdf")
    return numbers


def uncoded_exam(exam):
    """A scan without codes in roster order, its copies identified at the desk in that order."""
    pages = [builders.jpeg(text=f"copy {index // PAGES + 1} page {index % PAGES + 1}") for index in
             range(len(ROSTER) * PAGES)]
    ingest(exam, builders.image_pdf(pages), "class.pdf")
    for copy, learner in zip(Copy.objects.filter(exam=exam).order_by("pk"), ROSTER):
        desk.match(exam, copy.public_id, learner)
    return None


class Crawl:
    """Every request the grader makes and every answer they get."""

    def __init__(self, handler_block):
        self.block = handler_block
        self.seen = []  # (url, response)

    def get(self, handler, suffix="", query=""):
        suffix = str(suffix)
        request = Request.blank(f"/{handler}/{suffix}" + (f"?{query}" if query else ""), method="GET")
        return self._send(handler, suffix, request)

    def post(self, handler, data, suffix=""):
        request = Request.blank(f"/{handler}/{suffix}", method="POST")
        request.body = json.dumps(data).encode()
        request.content_type = "application/json"
        return self._send(handler, suffix, request)

    def _send(self, handler, suffix, request):
        response = self.block.handle(handler, request, suffix)
        self.seen.append((request.url, response))
        return response

    @staticmethod
    def json(response):
        assert response.content_type == "application/json", response
        return json.loads(response.body)


def grade(crawl, copy_id):
    """The grader grades a copy through the handlers (lease, draft, finalize: the PDF is rendered)."""
    lease = Crawl.json(crawl.post("acquire_lease", {"copy_id": copy_id}))
    opened = Crawl.json(crawl.get("open_copy", query=f"copy_id={copy_id}"))
    payload = {"annotations": [grading_helpers.annotation(opened["pages"][1]["id"], text="Bien vu")],
               "points": {"q2": {"points": "3.5", "comment": "Bien"}, "q3": {"points": "4", "comment": ""}},
               "general_comment": "Travail sérieux"}
    assert crawl.post("save_draft", {"copy_id": copy_id, "fencing": lease["fencing"], "version": 0,
                                     "payload": payload}).status_code == 200
    assert crawl.post("finalize", {"copy_id": copy_id, "fencing": lease["fencing"]}).status_code == 200


def booklet_number(image_bytes):
    """The booklet number in the QR code of a page image, as anyone reading the image gets it."""
    with Image.open(io.BytesIO(image_bytes)) as image:
        found = [item.text for item in zxingcpp.read_barcodes(image.convert("L")) if item.text.startswith("VQ1:")]
    return qr.decode(found[0]).copy if found else None


def grade_some(crawl, django_capture_on_commit_callbacks):
    """The grader's first steps: the copy list, and a few copies graded (their PDFs rendered)."""
    listing = Crawl.json(crawl.get("list_copies", query="limit=200"))
    with django_capture_on_commit_callbacks(execute=True):
        for row in listing["copies"][:GRADED]:
            grade(crawl, row["id"])
    return listing


def read_everything(crawl):
    """Everything a grader can read once copies are graded and results released; per copy, what they saw."""
    listing = Crawl.json(crawl.get("list_copies", query="limit=200"))
    seen = {}
    for position, row in enumerate(listing["copies"]):
        opened = Crawl.json(crawl.get("open_copy", query=f"copy_id={row['id']}"))
        numbers = []
        for page in opened["pages"]:
            image = crawl.get("page_image", page["id"])
            assert image.status_code == 200
            numbers.append(booklet_number(image.body))
            crawl.get("page_image", f"{page['id']}/thumb")
            crawl.get("learner_page_image", page["id"])
        for question in opened["questions"]:  # each question's image: a box, or its first page
            assert crawl.get("question_region", f"{row['id']}/{question['id']}").status_code == 200
        if opened["copy"]["graded_pdf"]:
            assert crawl.get("graded_pdf", row["id"]).status_code == 200
            crawl.get("graded_pdf", row["id"], query="inline=1")
            link = Crawl.json(crawl.post("download_url", {"copy_id": row["id"], "kind": "graded_pdf"}))
            url = urlparse(link["url"])
            assert crawl.get("graded_pdf", url.path.rstrip("/").rsplit("/", 1)[1], query=url.query).status_code == 200
        seen[row["id"]] = {"position": position, "id": row["id"], "code": row["code"],
                           "pages": [page["id"] for page in opened["pages"]],
                           "booklet": next((number for number in numbers if number), None)}
    # and every other handler of the block, with the ids the grader has
    some_copy, some_page = listing["copies"][0]["id"], seen[listing["copies"][0]["id"]]["pages"][0]
    handlers = sorted(name for name in dir(type(crawl.block))
                      if getattr(getattr(type(crawl.block), name), "_is_xblock_handler", False))
    for name in handlers:
        crawl.get(name, query=f"copy_id={some_copy}&page_id={some_page}&limit=200")
        crawl.post(name, {"copy_id": some_copy, "page_id": some_page, "kind": "graded_pdf"})
        crawl.get(name, some_copy)
        crawl.get(name, some_page)
    return seen


def spearman(ranks):
    """Spearman's rank correlation of ``ranks`` (a permutation of 0..n-1) with 0..n-1."""
    n = len(ranks)
    return 1 - 6 * sum((rank - index) ** 2 for index, rank in enumerate(ranks)) / (n * (n * n - 1))


def walk(value, key=None, parent=None):
    """Every ``(key, value, the object holding it)`` of a JSON document, nested ones included."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from walk(item, name, value)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key, parent)
    else:
        yield key, value, parent


def names_a_copy_or_page(key, parent):
    """Whether the JSON value at ``key`` of ``parent`` is the id of a copy or a page (the ``id`` of a
    question, a bank comment, a regrade request or a scan batch is not)."""
    if key in ("copy_id", "page_id", "previous", "next"):
        return True
    if key != "id" or parent is None:
        return False
    # a regrade request (its ``copy_id`` is checked), a bank comment, a scan batch, a question, a lockout
    return not any(name in parent for name in ("question_id", "text", "pages_done", "label", "kind", "subject"))


def signed_claims(url):
    """The claims a signed link carries (readable by whoever holds it: signed, not encrypted)."""
    token = parse_qs(urlparse(url).query)["sig"][0]
    payload = token.split(":")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("scan", ["prenamed_booklets", "scan_without_codes"])
# the walk tries every handler, most of them refused: far more denials than would lock the grader out
@override_settings(VIATIQUE={"LOCKOUT_USER_FAILURES": 10 ** 6, "LOCKOUT_ADDRESS_FAILURES": 10 ** 6})
def test_nothing_a_grader_receives_links_copies_to_the_roster(scan, django_capture_on_commit_callbacks):
    instructor = block()
    exam = instructor.get_exam()
    printed = prenamed_exam(exam) if scan == "prenamed_booklets" else uncoded_exam(exam)
    copies = {copy.public_id: copy for copy in Copy.objects.filter(exam=exam)}
    assert len(copies) == len(ROSTER)
    assert all(copy.identity_state == Identity.IDENTIFIED for copy in copies.values())
    roster_rank = {learner.anonymous_id: rank for rank, learner in enumerate(ROSTER)}
    rank_of = {public_id: roster_rank[copy.learner_anonymous_id] for public_id, copy in copies.items()}
    if printed:  # the booklets were printed in roster order: their numbers must not follow it
        assert sorted(printed) != printed
    # the database's own order follows the scan, hence the roster: what must never reach the grader
    pages = list(Page.objects.filter(exam=exam).order_by("pk"))
    assert [rank_of[page.copy.public_id] for page in pages] == sorted(rank_of[page.copy.public_id] for page in pages)
    keys = {copy.pk for copy in copies.values()} | {page.pk for page in pages}

    crawl = Crawl(block(GRADER, "staff"))
    listing = grade_some(crawl, django_capture_on_commit_callbacks)
    graded = [row["id"] for row in listing["copies"][:GRADED]]
    assert set(Copy.objects.filter(public_id__in=graded).values_list("grading_state", flat=True)) == {"graded"}
    # results released; the learner of a graded copy asks for a regrade (the grader then lists it)
    assert crawl_json(instructor, "release_results", {})["released"]
    learner = copies[graded[0]]
    learner_block = make_block(learner.learner_username, "learner", fields=FIELDS,
                               anonymous_id=learner.learner_anonymous_id)
    assert crawl_json(learner_block, "request_regrade", {"question_id": "q3", "message": "Relire"})["status"]
    seen = read_everything(crawl)
    assert Crawl.json(crawl.get("regrade_requests"))["requests"][0]["copy_id"] == graded[0]
    assert len(seen) == len(ROSTER)

    # 1. nothing names a learner: bodies, headers, URLs, file names, PDF text and metadata
    secrets = [text for learner in ROSTER for text in (learner.username, learner.name, learner.anonymous_id,
                                                        *learner.name.split()) if len(text) > 3]
    for url, response in crawl.seen:
        texts = [url, response.body.decode("utf-8", "replace"), *map(str, response.headers.items())]
        if response.content_type == "application/pdf":
            with pymupdf.open(stream=response.body, filetype="pdf") as doc:
                texts += ["".join(page.get_text() for page in doc), json.dumps(doc.metadata)]
        for secret in secrets:
            assert not any(secret in text for text in texts), (url, secret)

    # 2. no database key: ids are random text, never numbers; URLs and file names carry none
    ids = []
    for url, response in crawl.seen:
        assert not any(segment.isdigit() for segment in urlparse(url).path.split("/")), url
        disposition = response.headers.get("Content-Disposition")
        if disposition:
            name = re.search(r'filename="([^"]+)"', disposition)[1]
            assert re.fullmatch(r"bac-blanc-[a-z0-9]+\.pdf", name), name
            assert name[len("bac-blanc-"):-4] in {copy.anonymous_code.lower() for copy in copies.values()}
        if response.content_type != "application/json":
            continue
        for key, value, parent in walk(json.loads(response.body)):
            if names_a_copy_or_page(key, parent) and value is not None:
                ids.append(value)
            if key in ("url",) and isinstance(value, str) and "graded_pdf" in value:
                claims = signed_claims(value)  # the user, the exam, the copy (by its public id), the kind
                assert set(claims) == {"u", "e", "o", "k"} and claims["o"] in copies, claims
    named = set(copies) | {page.public_id for page in pages}
    copy_and_page_ids = [value for value in ids if value in named]
    assert set(copy_and_page_ids) == named, "the crawl saw every copy and page, by its public id"
    for value in ids:
        assert isinstance(value, str) and not value.isdigit(), value
        assert value not in {str(key) for key in keys}

    # 3. no identifier the grader sees, nor the order of their list, follows the roster
    identifiers = {
        "position in the copy list": lambda item: item["position"],
        "copy id": lambda item: item["id"],
        "anonymous code": lambda item: item["code"],
        "first page id": lambda item: item["pages"][0],
        "smallest page id": lambda item: min(item["pages"]),
    }
    if printed:
        identifiers["booklet number on the page images"] = lambda item: item["booklet"]
        assert sorted(item["booklet"] for item in seen.values()) == sorted(printed)
    for label, identifier in identifiers.items():
        order = [rank_of[public_id] for public_id in sorted(seen, key=lambda key: identifier(seen[key]))]
        assert order not in (sorted(order), sorted(order, reverse=True)), label
        assert abs(spearman(order)) < 0.95, (label, order)


def crawl_json(handler_block, handler, data):
    request = Request.blank(f"/{handler}/", method="POST")
    request.body = json.dumps(data).encode()
    request.content_type = "application/json"
    response = handler_block.handle(handler, request, "")
    assert response.status_code == 200, response.body
    return json.loads(response.body)
