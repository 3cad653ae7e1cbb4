"""The compat module reads the platform's user service under the LMS's own attribute names."""
import pytest

from tests.harness import make_block
from viatique_xblock.platform import compat


@pytest.mark.parametrize("platform_role, is_staff, expected", [
    ("instructor", True, compat.INSTRUCTOR),
    ("staff", True, compat.GRADER),
    ("student", False, compat.LEARNER),
    (None, True, compat.GRADER),
    (None, False, compat.LEARNER),
    ("student", True, compat.LEARNER),  # staff masquerading as a learner sees the learner view
])
def test_role_mapping(platform_role, is_staff, expected):
    assert compat.role_from_platform(platform_role, is_staff) == expected


def test_current_user_from_lms_like_service():
    user = compat.current_user(make_block("staff_7", "staff", anonymous_id="abc123"))
    assert user.username == "staff_7"
    assert user.role == compat.GRADER and user.is_staff and not user.is_instructor
    assert user.anonymous_id == "abc123"


def test_keys_of_an_lms_usage():
    block = make_block()
    assert compat.usage_key(block) == "block-v1:Viatique+T101+2026+type@viatique+block@exam1"
    assert compat.course_key(block) == "course-v1:Viatique+T101+2026"
    assert compat.is_studio(block) is False


def test_client_ip_ignores_forged_forwarded_header_without_the_platform():
    from webob import Request
    request = Request.blank("/", environ={"REMOTE_ADDR": "10.1.2.3"}, headers={"X-Forwarded-For": "6.6.6.6"})
    assert compat.client_ip(request) == "10.1.2.3"
