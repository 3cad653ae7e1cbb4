"""An LMS-like harness for the block: a runtime whose services carry the LMS's attribute names.

Only the LMS itself is simulated: the user service exposes exactly the
``edx-platform.*`` attributes of ``DjangoXBlockUserService``, and the runtime
records ``publish`` calls as the LMS's event tracking would receive them.
Everything else (database, cache, Celery, storage) is real.
"""
import json

from opaque_keys.edx.keys import UsageKey
from webob import Request
from xblock.field_data import DictFieldData
from xblock.fields import ScopeIds
from xblock.reference.user_service import UserService, XBlockUser
from xblock.runtime import Runtime

from viatique_xblock.block import ViatiqueXBlock
from viatique_xblock.platform import compat

USAGE = "block-v1:Viatique+T101+2026+type@viatique+block@exam1"
ROLES = {"instructor": "instructor", "staff": "staff", "learner": "student"}


class LmsLikeUserService(UserService):
    def __init__(self, username, role, anonymous_id=None):
        super().__init__()
        self.username = username
        self.role = role
        self.anonymous_id = anonymous_id or f"anon-{username}"

    def get_current_user(self):
        user = XBlockUser(is_current_user=True, emails=[f"{self.username}@example.com"],
                          full_name=self.username.title())
        user.opt_attrs.update({
            compat.ATTR_USER_ID: abs(hash(self.username)) % 10 ** 6,
            compat.ATTR_USERNAME: self.username,
            compat.ATTR_USER_ROLE: ROLES[self.role],
            compat.ATTR_USER_IS_STAFF: self.role != "learner",
            compat.ATTR_ANONYMOUS_USER_ID: self.anonymous_id,
            compat.ATTR_IS_AUTHENTICATED: True,
        })
        return user


class LmsLikeRuntime(Runtime):
    """A runtime with the LMS's user-service attributes and a recorded event stream."""

    def __init__(self, user_service, field_data, **kwargs):
        super().__init__(services={"user": user_service, "field-data": field_data}, **kwargs)
        self.events = []

    def handler_url(self, block, handler_name, suffix="", query="", thirdparty=False):
        return f"/courses/handler/{block.scope_ids.usage_id}/{handler_name}/{suffix}" + (f"?{query}" if query else "")

    def local_resource_url(self, block, uri):
        return f"/xblock/resource/viatique/{uri}"

    def resource_url(self, resource):
        return f"/static/{resource}"

    def publish(self, block, event_type, event_data):
        self.events.append((event_type, event_data))


def make_block(username="instructor_1", role="instructor", usage=USAGE, fields=None, anonymous_id=None):
    """A ViatiqueXBlock under ``usage`` seen by ``username`` with ``role`` (instructor/staff/learner).

    Its ``grading_mode`` is ``by_copy`` unless ``fields`` say otherwise (``None``: not set, the default of
    a new block): the tests written before grading by question grade whole copies."""
    fields = {"grading_mode": "by_copy", **(fields or {})}
    if fields["grading_mode"] is None:
        del fields["grading_mode"]
    runtime = LmsLikeRuntime(LmsLikeUserService(username, role, anonymous_id), DictFieldData(fields),
                             id_reader=None, id_generator=None)
    usage_key = UsageKey.from_string(usage)
    scope_ids = ScopeIds(username, "viatique", usage_key, usage_key)
    return ViatiqueXBlock(runtime, scope_ids=scope_ids)


def call(block, handler, data=None, method="POST", suffix="", query=""):
    """Call a handler like the LMS does; return ``(status, json body)``."""
    request = Request.blank(f"/handler/{handler}/{suffix}" + (f"?{query}" if query else ""))
    request.method = method
    if method == "POST":
        request.body = json.dumps(data or {}).encode()
        request.content_type = "application/json"
    response = block.handle(handler, request, suffix)
    return response.status_code, json.loads(response.body or b"null")


def upload_in_chunks(exam, block, data, file_name="class.pdf"):
    """Upload the scan ``data`` as the browser does (resumable chunks, then the whole file's SHA-256) as
    ``block``'s user; returns the upload session."""
    import hashlib

    from viatique_xblock.scanning import uploads

    transfer = uploads.start(exam, compat.current_user(block), file_name, len(data))
    for index in range(transfer.chunk_count):
        part = data[index * transfer.chunk_bytes:(index + 1) * transfer.chunk_bytes]
        uploads.put_chunk(transfer, index, part, hashlib.sha256(part).hexdigest())
    uploads.finish(transfer, hashlib.sha256(data).hexdigest())
    return transfer


def startup_data(frag):
    """The startup data a view handed its script (the block's ``<script type="application/json"
    data-viatique-startup>`` element, see ``block.startup_script``), as the browser's JSON.parse reads it."""
    from html.parser import HTMLParser

    class Finder(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.inside = [], False

        def handle_starttag(self, tag, attrs):
            self.inside = tag == "script" and "data-viatique-startup" in dict(attrs)

        def handle_data(self, data):
            if self.inside:
                self.found.append(data)

        def handle_endtag(self, tag):
            self.inside = False

    finder = Finder()
    finder.feed(frag.content)
    assert len(finder.found) == 1, f"{len(finder.found)} startup elements in the view"
    return json.loads(finder.found[0])
