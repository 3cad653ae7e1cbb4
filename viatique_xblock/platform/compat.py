"""Everything Viatique needs from the platform, in one place.

The block and the domain code call these functions only; they read the
platform's XBlock services under the LMS's own attribute names, so the same
code runs in the LMS, in Studio and in the xblock-sdk workbench (where the demo
host provides a user service with the same attributes). Scores reach the LMS's
gradebook through the platform's grade signal (:func:`publish_grade`); outside
the LMS there is no gradebook and nothing is sent.
"""
import functools
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Attribute names of the LMS user service (DjangoXBlockUserService.opt_attrs).
ATTR_USER_ID = "edx-platform.user_id"
ATTR_USERNAME = "edx-platform.username"
ATTR_USER_IS_STAFF = "edx-platform.user_is_staff"
ATTR_USER_ROLE = "edx-platform.user_role"
ATTR_ANONYMOUS_USER_ID = "edx-platform.anonymous_user_id"
ATTR_IS_AUTHENTICATED = "edx-platform.is_authenticated"

INSTRUCTOR = "instructor"
GRADER = "grader"
LEARNER = "learner"

#: course key used when the runtime has no course (the workbench)
WORKBENCH_COURSE_KEY = "course-v1:Viatique+Workbench+Demo"


@dataclass(frozen=True)
class ViatiqueUser:
    """The requesting user as Viatique sees them."""

    user_id: object
    username: str
    full_name: str
    anonymous_id: str
    role: str
    is_authenticated: bool = True

    @property
    def is_instructor(self):
        return self.role == INSTRUCTOR

    @property
    def is_staff(self):
        """Instructor or grader: course staff of some kind."""
        return self.role in (INSTRUCTOR, GRADER)


def role_from_platform(platform_role, is_staff):
    """Map the LMS's course role ('instructor', 'staff', 'student') to Viatique's roles."""
    if platform_role == "instructor":
        return INSTRUCTOR
    if platform_role == "staff" or (is_staff and platform_role in (None, "")):
        return GRADER
    return LEARNER


def current_user(block):
    """The requesting user, from the runtime's ``user`` service."""
    service = block.runtime.service(block, "user")
    user = service.get_current_user() if service else None
    attrs = getattr(user, "opt_attrs", {}) or {}
    username = attrs.get(ATTR_USERNAME) or ""
    return ViatiqueUser(
        user_id=attrs.get(ATTR_USER_ID),
        username=username,
        full_name=getattr(user, "full_name", "") or username,
        anonymous_id=attrs.get(ATTR_ANONYMOUS_USER_ID) or "",
        role=role_from_platform(attrs.get(ATTR_USER_ROLE), bool(attrs.get(ATTR_USER_IS_STAFF))),
        is_authenticated=bool(attrs.get(ATTR_IS_AUTHENTICATED, bool(username))),
    )


@dataclass(frozen=True)
class Learner:
    """An enrolled learner of the block's course."""

    username: str
    name: str
    anonymous_id: str
    email: str = ""


#: name of the optional runtime service a host may provide instead of the LMS's enrollments
ROSTER_SERVICE = "viatique_roster"


def roster(block):
    """The course's enrolled learners, sorted by name.

    A host may provide a ``viatique_roster`` service (the workbench demo host does);
    in the LMS the enrollments and the per-course anonymous ids come from the
    platform's student app.
    """
    service = block.runtime.service(block, ROSTER_SERVICE)
    if service is not None:
        learners = service.enrolled(course_key(block))
    else:
        learners = _lms_roster(course_key(block))
    return sorted(learners, key=lambda learner: (learner.name.casefold(), learner.username))


def course_staff(block):
    """The course's staff and instructors who may grade: ``[(username, full name), ...]``."""
    service = block.runtime.service(block, ROSTER_SERVICE)
    if service is not None:
        return service.staff(course_key(block))
    from common.djangoapps.student.roles import CourseInstructorRole, CourseStaffRole
    from opaque_keys.edx.keys import CourseKey

    course = CourseKey.from_string(course_key(block))
    users = {user.username: user for role in (CourseInstructorRole, CourseStaffRole)
             for user in role(course).users_with_role()}
    return sorted(((name, user.get_full_name() or name) for name, user in users.items()), key=lambda pair: pair[0])


def _lms_roster(key):
    from common.djangoapps.student.models import CourseEnrollment, anonymous_id_for_user
    from opaque_keys.edx.keys import CourseKey

    course = CourseKey.from_string(key)
    users = CourseEnrollment.objects.users_enrolled_in(course).select_related("profile")
    return [
        Learner(
            username=user.username,
            name=(getattr(getattr(user, "profile", None), "name", "") or user.get_full_name() or user.username),
            anonymous_id=anonymous_id_for_user(user, course),
            email=user.email,
        )
        for user in users
    ]


def usage_key(block):
    """The block's usage key as a string (an opaque key in the LMS, a scenario id in the workbench)."""
    return str(block.scope_ids.usage_id)


def course_key(block):
    """The block's course key as a string."""
    usage = block.scope_ids.usage_id
    context = getattr(usage, "context_key", None) or getattr(usage, "course_key", None)
    if context is not None:
        return str(context)
    course_id = getattr(block.runtime, "course_id", None)
    if course_id:
        return str(course_id)
    return WORKBENCH_COURSE_KEY


def is_studio(block):
    """True when the block is rendered or edited in Studio (the author's runtime)."""
    return bool(getattr(block.runtime, "is_author_mode", False))


def publish_event(block, name, data):
    """Send a tracking event through the runtime (the LMS routes it to event tracking)."""
    block.runtime.publish(block, name, data)


def emit_server_event(name, data):
    """Send a tracking event where there is no block runtime (a Celery task, a command): through the
    platform's event tracker (the ``event-tracking`` package's ``tracker.emit``, as the LMS's own
    djangoapps do). Returns whether a tracker took it: False outside the LMS (the workbench), where the
    audit trail alone keeps the event."""
    try:
        from eventtracking import tracker
    except ImportError:
        return False
    tracker.emit(name, data)
    return True


@functools.lru_cache(maxsize=None)
def _platform_client_ip():
    """edx-django-utils' ``get_safest_client_ip``, or None outside the LMS. Looked up once: Python
    does not remember a failed import, which searched sys.path again on every handler call."""
    try:
        from edx_django_utils.ip import get_safest_client_ip
    except ImportError:
        return None
    return get_safest_client_ip


def client_ip(request):
    """The client address as the platform computes it (trusted proxies honoured).

    In the LMS this is edx-django-utils' ``get_safest_client_ip``, which only
    believes ``X-Forwarded-For`` hops behind the configured trusted proxies.
    Elsewhere it is ``REMOTE_ADDR``: a forged header never changes it.
    ``request`` is the webob request of an XBlock handler or a Django request.
    """
    django_request = getattr(request, "_request", request)
    get_safest_client_ip = _platform_client_ip()
    if get_safest_client_ip is not None and hasattr(django_request, "META"):
        return get_safest_client_ip(django_request)
    meta = getattr(django_request, "META", None) or getattr(request, "environ", {}) or {}
    return meta.get("REMOTE_ADDR") or None


# ------------------------------------------------------------------ the gradebook


@dataclass(frozen=True)
class ScoredBlock:
    """What the LMS's ``score_published_handler`` reads of a block: its ``location`` (an opaque-keys
    usage key) and its ``weight``. Stands for the exam's block where no bound block exists (a signal
    receiver, a Celery task, a management command)."""

    location: object
    weight: object = None


@dataclass(frozen=True)
class _Gradebook:
    score_published: object
    user_by_anonymous_id: object
    usage_key_from_string: object


@functools.lru_cache(maxsize=None)
def _platform_gradebook():
    """The LMS's grade signal and user lookup, or None outside the LMS (the workbench). Looked up once,
    like :func:`_platform_client_ip`."""
    try:
        from common.djangoapps.student.models import user_by_anonymous_id
        from lms.djangoapps.grades.signals.signals import SCORE_PUBLISHED
        from opaque_keys.edx.keys import UsageKey
    except ImportError:
        return None
    return _Gradebook(SCORE_PUBLISHED, user_by_anonymous_id, UsageKey.from_string)


def _send_score(usage_key, weight, anonymous_id, earned, possible, deleted):
    gradebook = _platform_gradebook()
    if gradebook is None:
        log.debug("No gradebook here (not the LMS): score of %s for %s not sent", anonymous_id, usage_key)
        return False
    user = gradebook.user_by_anonymous_id(anonymous_id) if anonymous_id else None
    if user is None:
        log.warning("No platform user has the anonymous id %r: the score for %s was not sent to the gradebook",
                    anonymous_id, usage_key)
        return False
    block = ScoredBlock(gradebook.usage_key_from_string(usage_key), weight)
    gradebook.score_published.send(
        sender=None, block=block, user=user, raw_earned=earned, raw_possible=possible,
        only_if_higher=False, score_deleted=deleted,
    )
    return True


def publish_grade(usage_key, weight, anonymous_id, earned, possible):
    """Send a learner's raw score for a block to the LMS's gradebook, as a problem does.

    The platform's grade signal (``SCORE_PUBLISHED``, what ``runtime.publish(block, 'grade', ...)``
    sends for the requesting user) is sent for the learner whose anonymous id is given: the LMS
    stores ``earned`` / ``possible`` (floats) on the learner's courseware StudentModule and weights
    them with ``weight`` (the block's; None: not weighted) when it computes the subsection grade.
    Returns whether a gradebook received it: False outside the LMS (logged at debug) and for an
    anonymous id no user has (logged as a warning), never an exception for either.
    """
    return _send_score(usage_key, weight, anonymous_id, float(earned), float(possible), False)


def withdraw_grade(usage_key, weight, anonymous_id):
    """Take a learner's score for a block out of the gradebook: the StudentModule keeps no total, and
    the LMS counts the block as an unattempted problem (0 of its maximum, weighted). Returns as
    :func:`publish_grade`."""
    return _send_score(usage_key, weight, anonymous_id, None, None, True)


# ------------------------------------------------------------------ user retirement

#: the platform's retirement signals (edx-platform ``openedx.core.djangoapps.user_api.accounts.signals``),
#: each sent with ``user`` (the Django user being retired, still under their original username)
RETIREMENT_SIGNALS = ("USER_RETIRE_LMS_CRITICAL", "USER_RETIRE_LMS_MISC")


def connect_retirement(receiver):
    """Connect ``receiver(sender, user, **kwargs)`` to the platform's retirement signals; returns whether
    they exist here (the LMS), False elsewhere (the workbench), where nothing is connected.

    The LMS sends ``USER_RETIRE_LMS_MISC`` from its ``retire_misc`` step and ``USER_RETIRE_LMS_CRITICAL``
    from its ``retire`` step, just before it renames the user to their retired username; an exception
    of the receiver fails that step, which the retirement pipeline then retries."""
    try:
        from openedx.core.djangoapps.user_api.accounts import signals as account_signals
    except ImportError:
        return False
    for name in RETIREMENT_SIGNALS:
        getattr(account_signals, name).connect(receiver, dispatch_uid=f"viatique.retirement.{name}", weak=False)
    return True


@dataclass(frozen=True)
class RetiringUser:
    """A user the platform retires: their original username, the retired username the platform gives
    them, and the names and addresses it knew them by (to find them in what Viatique stored)."""

    username: str
    retired_username: str
    names: tuple = ()
    emails: tuple = ()


def _retirement_status(user):
    """The LMS's ``UserRetirementStatus`` of ``user`` (original username, name and email, retired
    username), or None (not the LMS, or no retirement under way)."""
    try:
        from openedx.core.djangoapps.user_api.models import UserRetirementStatus
    except ImportError:
        return None
    return UserRetirementStatus.objects.filter(user=user).first()


def retiring_user(user):
    """The :class:`RetiringUser` of the Django ``user`` a retirement signal names.

    The retired username is the platform's (``get_retired_username_by_username``, which reads the
    retirement's status); the names are the profile's and the user's own, and the original name and
    email the retirement recorded (by the ``retire`` step the profile's name is already cleared)."""
    from common.djangoapps.student.models import get_retired_username_by_username

    status = _retirement_status(user)
    username = getattr(status, "original_username", "") or user.username
    retired = getattr(status, "retired_username", "") or get_retired_username_by_username(username)
    profile = getattr(user, "profile", None)
    names = [getattr(status, "original_name", ""), getattr(profile, "name", ""), user.get_full_name()]
    emails = [getattr(status, "original_email", ""), user.email]
    return RetiringUser(username=username, retired_username=retired,
                        names=tuple(dict.fromkeys(name for name in names if name)),
                        emails=tuple(dict.fromkeys(email for email in emails if email)))


def platform_user_details(username):
    """``(names, emails)`` the platform knows ``username`` by (the LMS's user and profile), or ``((), ())``
    where there is no such user or no platform users at all (the workbench)."""
    try:
        from common.djangoapps.student.models import get_retired_username_by_username  # noqa: F401  (the LMS)
    except ImportError:
        return (), ()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return (), ()
    profile = getattr(user, "profile", None)
    names = [getattr(profile, "name", ""), user.get_full_name()]
    return tuple(dict.fromkeys(name for name in names if name)), tuple(email for email in [user.email] if email)


# ------------------------------------------------------------------ users and blocks, without a block (commands)


def _host_roster_service():
    """The ``viatique_roster`` service a host names in its settings (the workbench host:
    ``WORKBENCH["services"]``), for code that runs without a block (an operator's command); None elsewhere."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = ((getattr(settings, "WORKBENCH", None) or {}).get("services") or {}).get(ROSTER_SERVICE)
    return import_string(path)() if path else None


def learners_by_username(course_key, usernames):
    """``{username: Learner}`` of the users among ``usernames`` that the platform knows, with their
    anonymous id in the course ``course_key`` (the LMS: its users, enrolled or not; the workbench: its
    roster service's learners). Users it does not know are left out."""
    wanted = set(usernames)
    if not wanted:
        return {}
    try:
        from common.djangoapps.student.models import anonymous_id_for_user
        from opaque_keys.edx.keys import CourseKey
    except ImportError:
        service = _host_roster_service()
        learners = service.enrolled(course_key) if service is not None else []
        return {learner.username: learner for learner in learners if learner.username in wanted}
    from django.contrib.auth import get_user_model

    course = CourseKey.from_string(course_key)
    users = get_user_model().objects.filter(username__in=wanted).select_related("profile")
    return {user.username: Learner(
        username=user.username,
        name=(getattr(getattr(user, "profile", None), "name", "") or user.get_full_name() or user.username),
        anonymous_id=anonymous_id_for_user(user, course), email=user.email) for user in users}


def known_usernames(course_key, usernames):
    """The usernames among ``usernames`` that the platform has a user for (the workbench: its roster's
    learners and staff), or None where it cannot tell."""
    wanted = set(usernames)
    try:
        from common.djangoapps.student.models import anonymous_id_for_user  # noqa: F401  (the LMS)
    except ImportError:
        service = _host_roster_service()
        if service is None:
            return None
        known = {learner.username for learner in service.enrolled(course_key)}
        known |= {username for username, _name in service.staff(course_key)}
        return wanted & known
    from django.contrib.auth import get_user_model

    return set(get_user_model().objects.filter(username__in=wanted).values_list("username", flat=True))


def _modulestore():
    """``(modulestore, ModuleStoreEnum)`` in the LMS and Studio, else None."""
    try:
        from xmodule.modulestore import ModuleStoreEnum
        from xmodule.modulestore.django import modulestore
    except ImportError:
        return None
    return modulestore(), ModuleStoreEnum


#: the user a command's writes to course content are made as, in the workbench
WORKBENCH_COMMAND_USER = "viatique-command"


def _workbench_block(usage_key):
    """The workbench's block of ``usage_key`` (one of its scenarios), or None (not the workbench, or no such
    block)."""
    try:
        from workbench.runtime import WorkbenchRuntime
        from workbench.scenarios import get_scenarios
    except ImportError:
        return None
    if usage_key not in {scenario.usage_id for scenario in get_scenarios().values()}:
        return None
    return WorkbenchRuntime(WORKBENCH_COMMAND_USER).get_block(usage_key)


def block_settings(usage_key, names):
    """``{name: value}`` of the settings fields ``names`` of the block ``usage_key`` as the course's content
    holds them (the LMS's modulestore, the workbench's scenarios), or None where they cannot be read."""
    found = _modulestore()
    if found is not None:
        from opaque_keys.edx.keys import UsageKey

        store, enum = found
        key = UsageKey.from_string(usage_key)
        with store.branch_setting(enum.Branch.draft_preferred, key.course_key):
            block = store.get_item(key)
    else:
        block = _workbench_block(usage_key)
        if block is None:
            return None
    return {name: getattr(block, name) for name in names}


def write_block_settings(usage_key, values):
    """Set the block's settings fields to ``values`` in the course's content (the LMS and Studio: the
    modulestore's draft, published again when the block was published; the workbench: its scenario's
    block). Returns whether they were written (False where the host has no course content to write to)."""
    found = _modulestore()
    if found is not None:
        from opaque_keys.edx.keys import UsageKey

        store, enum = found
        key = UsageKey.from_string(usage_key)
        with store.branch_setting(enum.Branch.draft_preferred, key.course_key):
            block = store.get_item(key)
            for name, value in values.items():
                setattr(block, name, value)
            store.update_item(block, enum.UserID.mgmt_command)
            if store.has_published_version(block):
                store.publish(block.location, enum.UserID.mgmt_command)
        return True
    block = _workbench_block(usage_key)
    if block is None:
        return False
    for name, value in values.items():
        setattr(block, name, value)
    block.save()
    return True


# ------------------------------------------------------------------ the full-window workspace's URLs

#: placeholders of :func:`handler_url_template`, replaced by the page's scripts (viatique_workspace.js)
HANDLER_PLACEHOLDER = "__viatique_handler__"
SUFFIX_PLACEHOLDER = "__viatique_suffix__"


def handler_url_template(block, handler_name="workspace"):
    """The URL of the block's handler ``handler_name`` with the handler's name and the suffix replaced by
    :data:`HANDLER_PLACEHOLDER` and :data:`SUFFIX_PLACEHOLDER`: the full-window workspace, a page of its own
    with no XBlock runtime in it, builds every handler URL from it as the runtime's ``handlerUrl`` would.

    The runtime makes the URL (the LMS: ``/courses/<course>/xblock/<usage>/handler/<name>/<suffix>``; the
    workbench: ``/handler/<usage>/<name>/<suffix>?student=<id>``), so its login and its way of naming the
    user stay the platform's; only the handler's name and suffix change in it.
    """
    url = block.runtime.handler_url(block, handler_name, SUFFIX_PLACEHOLDER)
    path, mark, query = url.partition("?")
    head, found, _tail = path.rpartition(f"/{handler_name}/{SUFFIX_PLACEHOLDER}")
    if not found:
        raise ValueError(f"unexpected handler URL {url!r}")
    return f"{head}/{HANDLER_PLACEHOLDER}/{SUFFIX_PLACEHOLDER}{mark}{query}"


def dashboard_url(block):
    """Where the block's staff dashboard is, for the workspace's "Back to the dashboard": the LMS's
    ``jump_to`` of the block (the courseware page of its unit), or the workbench's scenario page for the
    same ``?student=``; None when the host has neither."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("jump_to", kwargs={"course_id": course_key(block), "location": usage_key(block)})
    except NoReverseMatch:
        pass
    try:
        from workbench.scenarios import get_scenarios
    except ImportError:
        return None
    for name, scenario in get_scenarios().items():
        if str(scenario.usage_id) == usage_key(block):
            try:
                path = reverse("workbench_show_scenario", kwargs={"scenario_id": name})
            except NoReverseMatch:
                return None
            return f"{path}?student={block.scope_ids.user_id}"
    return None


def ensure_csrf_cookie(request):
    """Have the response to ``request`` (an XBlock handler's webob request, or a Django request) set the
    CSRF cookie, as a platform page does: the workspace page may be the first page of the session that its
    writes come from."""
    from django.middleware.csrf import get_token

    django_request = getattr(request, "_request", None)
    if django_request is not None:
        get_token(django_request)
