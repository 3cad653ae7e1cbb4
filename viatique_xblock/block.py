"""The Viatique XBlock: fields, views and handlers that check permission and delegate.

Domain logic lives in :mod:`viatique_xblock.api`; platform access in
:mod:`viatique_xblock.compat`; this class only wires them to the runtime.
"""
from django.utils.safestring import mark_safe
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.fields import Boolean, Dict, Float, Integer, Scope, String
from xblock.utils.resources import ResourceLoader

from . import (anomalies, anonymity, api, audit, compat, conf, dispatch_copies, files, i18n, identification,
               permissions, printing, roster_csv, scans, scheme, uploads)
from .handlers_downloads import DownloadHandlers
from .handlers_grading import GradingHandlers
from .handlers_reports import ReportsHandlers
from .handlers_results import ResultsHandlers
from .jsonapi import api_handler
from .olx import OlxMixin
from .i18n import gettext_lazy

loader = ResourceLoader(__name__)

CSS = "static/css/viatique.css"
JS_COMMON = "static/js/viatique_common.js"
#: the staff dashboard's sections, each a script of its own (built in the order listed)
STAFF_SCRIPTS = ["static/js/viatique_staff.js", "static/js/viatique_scans.js", "static/js/viatique_identify.js",
                 "static/js/viatique_dispatch.js", "static/js/viatique_grading.js", "static/js/viatique_results.js",
                 "static/js/viatique_reports.js", "static/js/viatique_lockouts.js"]
STAFF_CSS = ["static/css/viatique_grading.css", "static/css/viatique_results.css",
             "static/css/viatique_reports.css"]


@XBlock.needs("user")
@XBlock.wants("i18n")
@XBlock.wants(compat.ROSTER_SERVICE)
class ViatiqueXBlock(OlxMixin, GradingHandlers, ResultsHandlers, ReportsHandlers, DownloadHandlers, XBlock):
    """A paper exam graded inside the course."""

    display_name = String(
        display_name=gettext_lazy("Title"),
        help=gettext_lazy("The exam's name, shown to learners and staff."),
        default="Paper exam",
        scope=Scope.settings,
    )
    marking_scheme = Dict(
        display_name=gettext_lazy("Marking scheme"),
        help=gettext_lazy("Questions with their stable ids, labels, maximum and step."),
        default=scheme.default_scheme(),
        scope=Scope.settings,
    )
    pages_per_copy = Integer(
        display_name=gettext_lazy("Pages per copy"),
        help=gettext_lazy("How many pages one copy has, used to split scans without QR codes."),
        default=4,
        scope=Scope.settings,
    )
    grade_scale = Float(
        display_name=gettext_lazy("Grade scale"),
        help=gettext_lazy("Report totals on this scale as well (for example 20); 0 for none."),
        default=0,
        scope=Scope.settings,
    )
    weight = Float(
        display_name=gettext_lazy("Weight"),
        help=gettext_lazy("The points this exam contributes to its subsection's grade (the learner's share of "
                          "the marking scheme's total, times this weight). Empty: the marking scheme's total."),
        # None, as CAPA problems: the LMS then counts the raw points (the scheme's total as possible)
        default=None,
        scope=Scope.settings,
    )
    anonymous_grading = Boolean(
        display_name=gettext_lazy("Anonymous grading"),
        help=gettext_lazy("Graders see copies by code only, never the learner's identity."),
        default=True,
        scope=Scope.settings,
    )
    regrade_window_days = Integer(
        display_name=gettext_lazy("Regrade window (days)"),
        help=gettext_lazy("Days after release during which learners may ask for a regrade; 0 for none."),
        default=7,
        scope=Scope.settings,
    )

    name_area_height = Integer(
        display_name=gettext_lazy("Name area (% of the cover's height)"),
        help=gettext_lazy("Top part of the cover page where learners write their name: hidden from graders "
                          "when grading is anonymous, shown at the identification desk."),
        default=12,
        scope=Scope.settings,
    )

    has_score = True
    icon_class = "problem"
    #: static files are served from the package's static/ folder
    public_dir = "static"
    editable_fields = ("display_name", "marking_scheme", "pages_per_copy", "grade_scale", "weight",
                       "anonymous_grading", "regrade_window_days", "name_area_height")

    # ----------------------------------------------------------------- scoring

    def max_score(self):
        """The scheme's total: the raw points possible, which the LMS weights with :attr:`weight`."""
        return float(scheme.total(self.marking_scheme))

    # ----------------------------------------------------------------- helpers

    def get_exam(self):
        """The exam row of this usage, for handlers: one query by usage key.

        The row follows the block's settings through :meth:`sync_exam`, which runs when the
        block is shown (every dashboard, workspace and learner page starts there) and when
        Studio saves the settings; a handler reached before either creates it here. Reading
        every settings field on each handler call costs a query per field in some runtimes
        (the workbench), which the grading handlers' latency cannot afford.
        """
        return api.exam_row(compat.usage_key(self)) or self.sync_exam()

    def sync_exam(self):
        """The exam row of this usage, created or brought up to date with the settings."""
        return api.sync_exam(
            compat.usage_key(self), compat.course_key(self), self.display_name,
            self.marking_scheme, self.pages_per_copy, self.anonymous_grading, self.name_area_height, self.weight,
        )

    def _publish(self, name, data):
        compat.publish_event(self, name, data)

    def _render(self, template, context):
        context = dict(context, block=self, lang=i18n.language())
        return loader.render_django_template(
            f"templates/{template}", context, i18n_service=i18n.template_catalogue()
        )

    def _fragment(self, template, context, js_class=None, js_args=None, scripts=(), css=()):
        frag = Fragment(self._render(template, context))
        for sheet in [CSS, *css]:
            frag.add_css_url(self.runtime.local_resource_url(self, sheet))
        if js_class:
            frag.add_javascript_url(self.runtime.local_resource_url(self, JS_COMMON))
            for script in scripts:
                frag.add_javascript_url(self.runtime.local_resource_url(self, script))
            args = {"i18n": i18n.js_catalog(), **(js_args or {})}
            frag.initialize_js(js_class, args)
        return frag

    def _scheme_rows(self):
        """The scheme flattened for display: label, depth, maximum, step."""
        rows = []

        def walk(nodes, depth):
            for node in nodes:
                rows.append({"id": node.get("id"), "label": node.get("label"), "depth": depth,
                             "max": node.get("max"), "step": node.get("step"),
                             "group": "children" in node})
                walk(node.get("children") or [], depth + 1)

        walk(self.marking_scheme.get("questions") or [], 0)
        return rows

    def _settings_context(self):
        total = scheme.total(self.marking_scheme)
        table = self._render("scheme_table.html", {
            "scheme_rows": self._scheme_rows(),
            "total": scheme.plain_number(total),
            "scale": scheme.plain_number(self.grade_scale) if self.grade_scale else None,
        })
        # rendered by our own template, where every value was escaped
        return {"scheme_table": mark_safe(table)}

    # ------------------------------------------------------------------- views

    def student_view(self, context=None):
        """Staff get the dashboard; learners get the state of their own copy."""
        user = compat.current_user(self)
        exam = self.sync_exam()
        if user.is_staff:
            return self._fragment(
                "staff_dashboard.html",
                {"user": user, "progress": api.progress(exam), **self._settings_context()},
                js_class="ViatiqueStaffDashboard",
                js_args={"role": user.role, "username": user.username, "anonymous": self.anonymous_grading,
                         "pages_per_copy": self.pages_per_copy},
                scripts=STAFF_SCRIPTS, css=STAFF_CSS,
            )
        return self.learner_fragment(user, exam)

    def author_view(self, context=None):
        """What authors see in Studio's unit page: the configuration at a glance."""
        return self._fragment("author.html", self._settings_context())

    def studio_view(self, context=None):
        """The settings editor, with the marking-scheme editor."""
        settings = {
            "display_name": self.display_name,
            "marking_scheme": self.marking_scheme,
            "pages_per_copy": self.pages_per_copy,
            "grade_scale": self.grade_scale,
            "weight": self.weight,
            "anonymous_grading": self.anonymous_grading,
            "regrade_window_days": self.regrade_window_days,
            "name_area_height": self.name_area_height,
        }
        return self._fragment(
            "studio.html", {"settings": settings},
            js_class="ViatiqueStudioEditor",
            js_args={"settings": settings},
            scripts=["static/js/viatique_studio.js"],
        )

    # ---------------------------------------------------------------- handlers

    @api_handler(permission=permissions.author)
    def studio_submit(self, request, user, data, suffix=""):
        """Validate and store the settings sent by the Studio editor."""
        values = api.save_settings(
            data, compat.usage_key(self), compat.course_key(self), actor=user,
            publish=self._publish, previous_scheme=self.marking_scheme,
        )
        for name, value in values.items():
            setattr(self, name, value)
        return {"result": "success", "settings": values, "max_score": self.max_score()}

    @api_handler(permission=permissions.staff, methods=("GET", "POST"))
    def list_copies(self, request, user, data, suffix=""):
        """One page of this exam's copies, as the caller may see them (``identity`` filters them)."""
        offset = _bounded_int(data.get("offset"), 0, 0, 10 ** 9)
        limit = _bounded_int(data.get("limit"), 50, 1, 200)
        return api.list_copies(self.get_exam(), user, offset=offset, limit=limit, identity=data.get("identity"))

    # ------------------------------------------------------------ scans (instructors)

    def _audit_context(self, request):
        return {"client_ip": compat.client_ip(request), "publish": self._publish}

    @api_handler(permission=permissions.instructor)
    def upload_start(self, request, user, data, suffix=""):
        """Open a resumable upload: ``{"file_name", "size", "split_mode"}``."""
        upload = uploads.start(self.get_exam(), user, data.get("file_name"), data.get("size"),
                               data.get("split_mode") or "auto")
        return uploads.status(upload)

    @api_handler(permission=permissions.instructor, raw_body=lambda: conf.get("UPLOAD_CHUNK_BYTES"))
    def upload_chunk(self, request, user, data, suffix=""):
        """One chunk as the raw body; suffix ``<upload_id>/<index>``; header ``X-Chunk-SHA256``."""
        upload_id, _, index = suffix.partition("/")
        upload = uploads.get(self.get_exam(), upload_id)
        return uploads.put_chunk(upload, index, data, request.headers.get("X-Chunk-SHA256"))

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def upload_status(self, request, user, data, suffix=""):
        """Which chunks arrived and the upload's state (suffix: the upload id)."""
        return uploads.status(uploads.get(self.get_exam(), suffix))

    @api_handler(permission=permissions.instructor)
    def upload_finish(self, request, user, data, suffix=""):
        """All chunks sent: ``{"upload_id", "sha256"}``; assembly and validation run in Celery."""
        upload = uploads.get(self.get_exam(), data.get("upload_id"))
        return uploads.finish(upload, data.get("sha256"))

    @api_handler(permission=permissions.staff, methods=("GET",))
    def scan_progress(self, request, user, data, suffix=""):
        """Batches with pages done / total, and the latest uploads with their outcome."""
        exam = self.get_exam()
        return {"batches": scans.progress(exam, show_file_names=user.is_instructor),
                "uploads": uploads.recent(exam) if user.is_instructor else [],
                "progress": api.progress(exam)}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def anomaly_queue(self, request, user, data, suffix=""):
        """Pages waiting to be placed, and copies missing pages."""
        return anomalies.queue(self.get_exam())

    @api_handler(permission=permissions.instructor)
    def fix_page(self, request, user, data, suffix=""):
        """``{"page_id", "action": "assign"|"discard", "copy_id", "position"}``."""
        exam = self.get_exam()
        context = self._audit_context(request)
        if data.get("action") == "discard":
            anomalies.discard_page(exam, data.get("page_id"), actor=user, **context)
        else:
            anomalies.assign_page(exam, data.get("page_id"), data.get("copy_id"), data.get("position"),
                                  actor=user, **context)
        return anomalies.queue(exam)

    @api_handler(permission=permissions.instructor)
    def merge_copies(self, request, user, data, suffix=""):
        """``{"source_copy_id", "target_copy_id"}``: two partial copies of one learner become one."""
        exam = self.get_exam()
        anomalies.merge_copies(exam, data.get("source_copy_id"), data.get("target_copy_id"), actor=user,
                               **self._audit_context(request))
        return anomalies.queue(exam)

    @api_handler(permission=permissions.instructor, raw_body=lambda: conf.get("MAX_UPLOAD_BYTES"))
    def print_booklets(self, request, user, data, suffix=""):
        """The printable booklets as a PDF download. Body: the blank exam PDF (or nothing for blank
        pages); query: ``copies``, ``blank_pages``, ``prenamed=1`` (one booklet per enrolled learner)."""
        query = request.GET
        learners = compat.roster(self) if query.get("prenamed") in ("1", "true") else None
        pdf, first = printing.print_booklets(
            self.get_exam(), copies=query.get("copies"), subject=data or None,
            blank_pages=query.get("blank_pages"), learners=learners, actor=user, **self._audit_context(request))
        return files.bytes_response(pdf, "application/pdf", f"booklets-{first}.pdf")

    @api_handler(permission=permissions.staff, methods=("GET",))
    def page_image(self, request, user, data, suffix=""):
        """A page image (suffix ``<page_id>``) or its thumbnail (``<page_id>/thumb``), for staff.

        Graders get only pages placed in copies, and, when grading is anonymous, the
        cover with its name area painted over."""
        page_id, _, kind = suffix.partition("/")
        exam = self.get_exam()
        page = anonymity.page_for(exam, user, page_id)
        return files.stored_file_response(anonymity.image_name(exam, user, page, thumbnail=kind == "thumb"))

    # ------------------------------------------------------- identification (instructors)

    def _roster(self):
        """The enrolled learners, with the names of the instructor's roster CSV when one was uploaded."""
        return roster_csv.apply(compat.roster(self), self.get_exam().roster_details)

    def _learner(self, username):
        return next((learner for learner in self._roster() if learner.username == username), None)

    @api_handler(permission=permissions.instructor, raw_body=lambda: roster_csv.MAX_BYTES)
    def upload_roster(self, request, user, data, suffix=""):
        """A roster CSV as the body (username or email, name): names shown at the identification desk."""
        exam = self.get_exam()
        learners = compat.roster(self)
        details, unknown = roster_csv.details_from(roster_csv.parse(data), learners)
        exam.roster_details = details
        exam.save(update_fields=["roster_details", "updated_at"])
        audit.record(exam, "roster.uploaded", actor=user, details={"matched": len(details), "unknown": len(unknown)},
                     **self._audit_context(request))
        return {"matched": len(details), "unknown": unknown[:50]}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def roster_search(self, request, user, data, suffix=""):
        """Enrolled learners best named by ``q`` (accents, case and word order ignored)."""
        exam = self.get_exam()
        return {"results": identification.search(self._roster(), data.get("q") or "",
                                                  identification.matched_codes(exam)),
                "progress": identification.progress(exam)}

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def name_area(self, request, user, data, suffix=""):
        """The name area of a copy's cover (suffix: the copy id), as a JPEG."""
        exam = self.get_exam()
        copy = identification.get_copy(exam, suffix)
        image = anonymity.name_crop(exam, copy)
        return files.bytes_response(image.data, image.mime)

    @api_handler(permission=permissions.instructor)
    def identify(self, request, user, data, suffix=""):
        """``{"copy_id", "username", "swap"}``: match a copy to an enrolled learner."""
        exam = self.get_exam()
        copy = identification.match(exam, data.get("copy_id"), self._learner(data.get("username")), actor=user,
                                    swap=bool(data.get("swap")), **self._audit_context(request))
        return {"copy": {"id": copy.pk, "code": copy.anonymous_code, "username": copy.learner_username,
                         "name": copy.learner_name}, "progress": identification.progress(exam)}

    @api_handler(permission=permissions.instructor)
    def unidentify(self, request, user, data, suffix=""):
        """``{"copy_id"}``: undo a match (until results are released)."""
        exam = self.get_exam()
        identification.unmatch(exam, data.get("copy_id"), actor=user, **self._audit_context(request))
        return {"progress": identification.progress(exam)}

    @api_handler(permission=permissions.instructor)
    def reveal_identity(self, request, user, data, suffix=""):
        """``{"copy_id"}``: who wrote an anonymous copy (audited)."""
        return identification.reveal(self.get_exam(), data.get("copy_id"), actor=user,
                                     **self._audit_context(request))

    # --------------------------------------------------------------- dispatch (instructors)

    def _staff_usernames(self):
        return [username for username, _name in compat.course_staff(self)]

    @api_handler(permission=permissions.instructor, methods=("GET",))
    def graders(self, request, user, data, suffix=""):
        """Course staff who may grade, with the number of copies each has in this exam."""
        staff = compat.course_staff(self)
        load = dispatch_copies.load(self.get_exam(), [username for username, _ in staff])
        return {"graders": [{"username": username, "name": name, "copies": load[username]}
                            for username, name in staff]}

    @api_handler(permission=permissions.instructor)
    def dispatch(self, request, user, data, suffix=""):
        """``{"graders": [usernames]}``: deal the unassigned copies nobody started, balanced."""
        return dispatch_copies.deal(self.get_exam(), data.get("graders"), self._staff_usernames(), actor=user,
                                    **self._audit_context(request))

    @api_handler(permission=permissions.instructor)
    def assign_copy(self, request, user, data, suffix=""):
        """``{"copy_id", "grader"}``: give one copy to a grader ("" for nobody)."""
        copy = dispatch_copies.assign(self.get_exam(), data.get("copy_id"), data.get("grader") or "",
                                      self._staff_usernames(), actor=user, **self._audit_context(request))
        return {"copy": {"id": copy.pk, "grader": copy.grader}}

    @api_handler(permission=permissions.instructor)
    def rebalance(self, request, user, data, suffix=""):
        """``{"graders": [usernames]}``: even out copies nobody started."""
        return dispatch_copies.rebalance(self.get_exam(), data.get("graders"), self._staff_usernames(),
                                         actor=user, **self._audit_context(request))

    # --------------------------------------------------------------- workbench

    @staticmethod
    def workbench_scenarios():
        """The demo exam of the workbench host (``/scenario/viatique.0/``).

        The XML sets no field: the workbench writes a scenario's attributes over the
        stored settings each time a process loads it, which would undo every Studio
        edit. ``manage.py viatique_demo_seed`` configures the demo exam once instead.
        """
        return [("Viatique paper exam", "<viatique/>")]


def _bounded_int(raw, default, low, high):
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return min(max(value, low), high)
