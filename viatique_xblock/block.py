"""The Viatique XBlock: fields, views, and the handlers of each stage mixed in.

Each stage of an exam's life (:mod:`~viatique_xblock.scanning`, :mod:`~viatique_xblock.identity`,
:mod:`~viatique_xblock.grading`, :mod:`~viatique_xblock.results`, :mod:`~viatique_xblock.reports`)
has a handlers mixin that checks permission and delegates to its domain API; platform access
lives in :mod:`viatique_xblock.platform.compat`. This class holds the fields and the views, and
wires them to the runtime (docs/architecture.md).
"""
import functools

from django.utils.safestring import mark_safe
from django.utils.text import slugify
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.fields import Boolean, Dict, Float, Integer, Scope, String
from xblock.utils.resources import ResourceLoader

from viatique_xblock import exams, i18n, permissions, scheme
from viatique_xblock.grading.answer_handlers import QuestionGradingHandlers
from viatique_xblock.grading.handlers import GradingHandlers
from viatique_xblock.grading.layout_handlers import LayoutHandlers
from viatique_xblock.grading.rubric_handlers import RubricHandlers
from viatique_xblock.i18n import gettext_lazy
from viatique_xblock.identity.handlers import IdentityHandlers
from viatique_xblock.jsonapi import api_handler
from viatique_xblock.olx import OlxMixin
from viatique_xblock.platform import compat
from viatique_xblock.states import GradingMode
from viatique_xblock.reports.handlers import ReportsHandlers
from viatique_xblock.results import scheme_changes
from viatique_xblock.results.handlers import DownloadHandlers, ResultsHandlers
from viatique_xblock.scanning.handlers import ScanningHandlers
from viatique_xblock.startup import STARTUP_ATTRIBUTE, startup_script  # noqa: F401  (block.startup_script)

loader = ResourceLoader(__name__)

CSS = "static/css/viatique.css"
JS_COMMON = "static/js/viatique_common.js"
#: the staff dashboard's sections, each a script of its own (built in the order listed)
STAFF_SCRIPTS = ["static/js/viatique_staff.js", "static/js/viatique_scans.js", "static/js/viatique_identify.js",
                 "static/js/viatique_dispatch.js", "static/js/viatique_announce.js",
                 "static/js/viatique_keys.js", "static/js/viatique_prefetch.js", "static/js/viatique_rubric.js",
                 "static/js/viatique_grading.js", "static/js/viatique_rubric_editor.js",
                 "static/js/viatique_results.js", "static/js/viatique_reports.js", "static/js/viatique_lockouts.js",
                 "static/js/viatique_layout.js"]
STAFF_CSS = ["static/css/viatique_grading.css", "static/css/viatique_results.css",
             "static/css/viatique_reports.css"]
#: the full-window workspace's scripts, after viatique_common.js (docs/grading.md, "The full-window workspace")
WORKSPACE_SCRIPTS = ["static/js/viatique_announce.js", "static/js/viatique_keys.js", "static/js/viatique_prefetch.js",
                     "static/js/viatique_rubric.js", "static/js/viatique_grading.js", "static/js/viatique_question_grading.js",
                     "static/js/viatique_workspace.js"]
WORKSPACE_CSS = ["static/css/viatique_grading.css", "static/css/viatique_workspace.css"]


@XBlock.needs("user")
@XBlock.wants("i18n")
@XBlock.wants(compat.ROSTER_SERVICE)
class ViatiqueXBlock(OlxMixin, ScanningHandlers, IdentityHandlers, GradingHandlers, QuestionGradingHandlers,
                     LayoutHandlers, RubricHandlers, ResultsHandlers, ReportsHandlers, DownloadHandlers, XBlock):
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

    grading_mode = String(
        display_name=gettext_lazy("Grading mode"),
        help=gettext_lazy("By question: each grader takes a question and grades its answer in every copy, one "
                          "after the other. By copy: each grader grades whole copies."),
        default=GradingMode.DEFAULT,
        values=[{"display_name": gettext_lazy("By question"), "value": GradingMode.BY_QUESTION},
                {"display_name": gettext_lazy("By copy"), "value": GradingMode.BY_COPY}],
        scope=Scope.settings,
    )

    rubric_editors = String(
        display_name=gettext_lazy("Who may change rubrics"),
        help=gettext_lazy("Who may edit, delete and reorder rubric items (a change re-scores every copy the item "
                          "is applied to): the instructors, all course staff, or nobody once grading started. "
                          "Any grader may add an item while grading."),
        default="instructors",
        values=[{"display_name": gettext_lazy("Instructors"), "value": "instructors"},
                {"display_name": gettext_lazy("All course staff"), "value": "staff"},
                {"display_name": gettext_lazy("Nobody once grading started"), "value": "nobody_after_grading"}],
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
                       "anonymous_grading", "regrade_window_days", "name_area_height", "grading_mode",
                       "rubric_editors")

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
        return exams.exam_row(compat.usage_key(self)) or self.sync_exam()

    def sync_exam(self):
        """The exam row of this usage, created or brought up to date with the settings."""
        return exams.sync_exam(
            compat.usage_key(self), compat.course_key(self), self.display_name,
            self.marking_scheme, self.pages_per_copy, self.anonymous_grading, self.name_area_height, self.weight,
            grading_mode=self.grading_mode if self.fields["grading_mode"].is_set_on(self) else None,
        )

    def _publish(self, name, data):
        compat.publish_event(self, name, data)

    def _render(self, template, context):
        context = dict(context, block=self, lang=i18n.language())
        return loader.render_django_template(
            f"templates/{template}", context, i18n_service=i18n.template_catalogue()
        )

    def _fragment(self, template, context, js_class=None, js_args=None, scripts=(), css=()):
        """The view's HTML, styles and scripts; ``js_args`` (with the translations) reach ``js_class`` as its
        startup data, written into the HTML by :func:`startup_script`, never as the runtime's init arguments."""
        html = self._render(template, context)
        if js_class:
            html += startup_script({"i18n": i18n.js_catalog(), "lang": i18n.language(), **(js_args or {})})
        frag = Fragment(html)
        for sheet in [CSS, *css]:
            frag.add_css_url(self.runtime.local_resource_url(self, sheet))
        if js_class:
            frag.add_javascript_url(self.runtime.local_resource_url(self, JS_COMMON))
            for script in scripts:
                frag.add_javascript_url(self.runtime.local_resource_url(self, script))
            frag.initialize_js(js_class)
        return frag

    def _scheme_rows(self):
        """The scheme flattened for display: label, depth, maximum, step."""
        rows = []

        def walk(nodes, depth):
            for node in nodes:
                rows.append({"id": node.get("id"), "label": node.get("label"), "depth": depth,
                             "max": i18n.number(node.get("max")), "step": i18n.number(node.get("step")),
                             "group": "children" in node})
                walk(node.get("children") or [], depth + 1)

        walk(self.marking_scheme.get("questions") or [], 0)
        return rows

    def _settings_context(self):
        total = scheme.total(self.marking_scheme)
        table = self._render("scheme_table.html", {
            "scheme_rows": self._scheme_rows(),
            "total": i18n.number(total),
            "scale": i18n.number(self.grade_scale) if self.grade_scale else None,
        })
        # rendered by our own template, where every value was escaped
        return {"scheme_table": mark_safe(table)}

    # ------------------------------------------------------------------- views

    def student_view(self, context=None):
        """Staff get the dashboard; learners get the state of their own copy."""
        user = compat.current_user(self)
        exam = self.sync_exam()
        if user.is_staff:
            progress = exams.progress(exam)
            return self._fragment(
                "staff_dashboard.html",
                {"user": user, "progress": progress, **self._settings_context()},
                js_class="ViatiqueStaffDashboard",
                js_args={"role": user.role, "username": user.username, "anonymous": self.anonymous_grading,
                         "pages_per_copy": self.pages_per_copy, "copies": progress["total"],
                         "grading_mode": exam.grading_mode},
                scripts=STAFF_SCRIPTS, css=STAFF_CSS,
            )
        return self.learner_fragment(user, exam)

    def workspace_page(self, user, target):
        """The full-window grading workspace as a whole HTML page (the ``workspace`` handler's answer):
        the block's styles and scripts by the runtime's resource URLs, the handlers' URL template (the page
        has no XBlock runtime of its own), and ``target`` (``{"copy_id"}`` or ``{"question_id"}``): what to
        open first."""
        exam = self.sync_exam()
        prefix = "viatique-" + slugify(str(self.scope_ids.usage_id))
        args = {"i18n": i18n.js_catalog(), "lang": i18n.language(), "role": user.role, "username": user.username,
                "anonymous": self.anonymous_grading, "mode": "page", "target": target,
                "handler_url": compat.handler_url_template(self),
                "placeholders": [compat.HANDLER_PLACEHOLDER, compat.SUFFIX_PLACEHOLDER],
                "dashboard_url": compat.dashboard_url(self), "grading_mode": exam.grading_mode}
        resource = functools.partial(self.runtime.local_resource_url, self)
        return self._render("workspace.html", {
            "user": user, "prefix": prefix, "mode": exam.grading_mode,
            "page_title": f"{i18n.gettext('Grading')} · {self.display_name}",
            "dashboard_url": args["dashboard_url"], "startup": startup_script(args),
            "stylesheets": [resource(sheet) for sheet in [CSS, *WORKSPACE_CSS]],
            "scripts": [resource(script) for script in [JS_COMMON, *WORKSPACE_SCRIPTS]],
        })

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
            # the exam's mode as it is (an exam graded before grading by question stays by copy)
            "grading_mode": self.get_exam().grading_mode,
            "rubric_editors": self.rubric_editors,
        }
        return self._fragment(
            "studio.html", {"settings": settings},
            js_class="ViatiqueStudioEditor",
            js_args={"settings": settings},
            scripts=["static/js/viatique_layout.js", "static/js/viatique_studio.js"],
        )

    # ---------------------------------------------------------------- handlers

    @api_handler(permission=permissions.author)
    def studio_submit(self, request, user, data, suffix=""):
        """Validate and store the settings sent by the Studio editor. A change of the marking scheme that
        touches graded copies carries ``scheme_change_token``, the token of the impact the author confirmed
        (``scheme_change_impact``); else 409 ``scheme_change_unconfirmed`` with the impact."""
        values = scheme_changes.save_settings(
            data, compat.usage_key(self), compat.course_key(self), actor=user,
            publish=self._publish, previous_scheme=self.marking_scheme, token=data.get("scheme_change_token"),
        )
        for name, value in values.items():
            setattr(self, name, value)
        return {"result": "success", "settings": values, "max_score": self.max_score()}

    # ------------------------------------------------------------- shared by the handlers

    def _audit_context(self, request):
        return {"client_ip": compat.client_ip(request), "publish": self._publish}

    # --------------------------------------------------------------- workbench

    @staticmethod
    def workbench_scenarios():
        """The workbench host's exams: the demo exam (``/scenario/viatique.0/``) and an empty exam of
        another "course" (``/scenario/viatique.1/``), where an exam archive of the first can be imported.

        The XML sets no field: the workbench writes a scenario's attributes over the
        stored settings each time a process loads it, which would undo every Studio
        edit. ``manage.py viatique_demo_seed`` configures the demo exam once instead.
        """
        return [("Viatique paper exam", "<viatique/>"),
                ("Viatique paper exam: an empty exam, to import an archive into", "<viatique/>")]
