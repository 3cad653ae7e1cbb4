"""The exam: its row, its settings and the counts every stage shares (public API, typed errors).

One :class:`~viatique_xblock.models.Exam` row per block usage follows the block's settings
(:func:`sync_exam`); every stage's functions are keyed by that row, so a lookup can never
cross blocks or courses. The XBlock's handlers check permission and call these; management
commands and Celery tasks call them too.
"""
from django.db import transaction
from django.db.models import Count, Q

from viatique_xblock import audit, inputs, question_layout as layout_module, scheme as scheme_module
from viatique_xblock.errors import NotFound, ViatiqueError
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import Copy, Exam, QuestionPoints
from viatique_xblock.states import Grading, GradingMode, Identity


class GradingModeInUse(ViatiqueError):
    """The grading mode cannot change while copies are being graded."""

    code = "grading_mode_in_use"
    status = 409


class SchemeInUse(ViatiqueError):
    """An edit would delete questions that already hold points."""

    code = "scheme_question_in_use"
    status = 409


def sync_exam(usage_key, course_key, title, scheme, pages_per_copy, anonymous_grading, name_area_height=12,
              weight=None, grading_mode=None):
    """Create or update the exam row of a block usage from the block's settings.

    Called when the block is saved and when it is rendered, so the row follows
    edits made in Studio (or imported in an OLX course) without a separate step.
    Writes only when something changed. ``weight`` is the block's (None: not weighted).
    ``grading_mode``: the block's when an author set it; None (never set) keeps the row's, and a new row
    takes :attr:`GradingMode.DEFAULT` (``by_question``), so exams graded before grading by question existed
    (``by_copy``, the migration's value) go on as they were.
    """
    values = {
        "course_key": course_key,
        "title": title or "",
        "scheme": scheme or {},
        "pages_per_copy": pages_per_copy,
        "anonymous_grading": bool(anonymous_grading),
        "name_area_height": int(name_area_height),
        "weight": None if weight is None else float(weight),
    }
    if grading_mode in (GradingMode.BY_COPY, GradingMode.BY_QUESTION):
        values["grading_mode"] = grading_mode
    exam, created = Exam.objects.get_or_create(usage_key=usage_key,
                                               defaults={"grading_mode": GradingMode.DEFAULT, **values})
    if not created:
        changed = [name for name, value in values.items() if getattr(exam, name) != value]
        if changed:
            for name in changed:
                setattr(exam, name, values[name])
            exam.save(update_fields=changed + ["updated_at"])
    return exam


def exam_row(usage_key):
    """The exam row of a usage key as stored (None when the block was never shown or saved).

    The roster CSV's names (``roster_details``, which grows with the class) are left out: the
    identification handlers that need them load them when they read them."""
    return Exam.objects.filter(usage_key=usage_key).defer("roster_details").first()


def exam_for_usage(usage_key):
    """The exam of a usage id, created when needed (operators' commands, before the block is shown).

    The course key comes from the usage key when it is an Open edX key, else it is
    the workbench's course. The block brings the rest of the settings when shown.
    """
    exam = Exam.objects.filter(usage_key=usage_key).first()
    if exam is not None:
        return exam
    from opaque_keys import InvalidKeyError
    from opaque_keys.edx.keys import UsageKey

    from viatique_xblock.platform.compat import WORKBENCH_COURSE_KEY
    try:
        course_key = str(UsageKey.from_string(usage_key).context_key)
    except InvalidKeyError:
        course_key = WORKBENCH_COURSE_KEY
    exam, _created = Exam.objects.get_or_create(usage_key=usage_key, defaults={"course_key": course_key})
    return exam


def get_exam(usage_key):
    """The exam of a block usage, or :class:`NotFound`."""
    try:
        return Exam.objects.get(usage_key=usage_key)
    except Exam.DoesNotExist as exc:
        raise NotFound(N_("This exam has no data yet.")) from exc


def check_scheme_edit(usage_key, new_scheme):
    """Refuse a scheme that drops questions for which points were already given,
    or turns such a question into a group (points live on questions without sub-questions)."""
    kept = {leaf["id"] for leaf in scheme_module.leaves(new_scheme)}
    dropped = (
        QuestionPoints.objects.filter(copy__exam__usage_key=usage_key)
        .exclude(question_id__in=kept)
        .values_list("question_id", flat=True)
        .distinct()
    )
    dropped = sorted(set(dropped))
    if dropped:
        raise SchemeInUse(
            N_("Points were already given for question(s) {ids}: they cannot be removed."),
            ids=", ".join(dropped),
        )


def check_mode_change(usage_key, mode):
    """Refuse to change the grading mode while copies are being graded (``in_progress`` or ``reopened``):
    their work under way (leases, drafts) belongs to the mode it started in. Before grading starts, or once
    every copy is finished, the mode may change."""
    exam = Exam.objects.filter(usage_key=usage_key).first()
    if exam is None or exam.grading_mode == mode:
        return
    if Copy.objects.filter(exam=exam, grading_state__in=(Grading.IN_PROGRESS, Grading.REOPENED)).exists():
        raise GradingModeInUse(N_("Copies are being graded: the grading mode can change only before grading "
                                  "starts or once every copy is finalized."))


def save_settings(block_values, usage_key, course_key, actor=None, publish=None, previous_scheme=None):
    """Validate an author's edit of the block settings and return the values to store.

    ``block_values`` is what the Studio editor sent. Returns a dict of field
    values (scheme normalised, numbers parsed) or raises a :class:`ViatiqueError`
    subclass: :class:`~viatique_xblock.scheme.SchemeError` lists every problem.
    """
    values = validate_settings(block_values, previous_scheme)
    check_scheme_edit(usage_key, values["marking_scheme"])
    mode = values.pop("grading_mode", None)
    with transaction.atomic():
        if mode is not None:
            check_mode_change(usage_key, mode)
            values["grading_mode"] = mode
        exam = sync_exam(
            usage_key, course_key, values["display_name"], values["marking_scheme"],
            values["pages_per_copy"], values["anonymous_grading"], values["name_area_height"], values["weight"],
            grading_mode=mode,
        )
        audit.record(exam, "settings.saved", actor=actor, publish=publish,
                     details={"questions": len(scheme_module.leaves(values["marking_scheme"]))})
    return values


class InvalidSettings(ViatiqueError):
    code = "invalid_settings"
    status = 400

    def __init__(self, problems):
        self.problems = problems
        super().__init__(N_("Some settings are not valid."))

    def extra(self):
        return {"problems": self.problems}


def _int_in(raw, low, high):
    return inputs.whole_number(raw, None, low, high)


def _float_in(raw, low, high):
    try:
        value = float(str(raw).strip().replace(",", "."))
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


#: settings an older editor may not send, with the value they then keep
OPTIONAL_SETTINGS = {"name_area_height": 12}

#: settings that may be left empty (sent as "" or None, or not sent): they are then None
NULLABLE_SETTINGS = {"weight"}


#: the values of the block's ``rubric_editors`` (:mod:`viatique_xblock.grading.rubrics`, which cannot be
#: imported here: grading builds on this module)
RUBRIC_EDITORS = ("instructors", "staff", "nobody_after_grading")


def validate_settings(raw, previous_scheme=None):
    """Check every setting of the Studio editor; raise with all problems at once."""
    problems = []
    values = {}
    name = str(raw.get("display_name", "")).strip()
    if not name:
        problems.append({"path": "display_name", "message": _("The title cannot be empty.")})
    values["display_name"] = name[:255]
    checks = [
        ("pages_per_copy", _int_in, 1, 200, N_("Pages per copy must be a whole number from 1 to 200.")),
        ("grade_scale", _float_in, 0, 1000, N_("The grade scale must be a number from 0 (none) to 1000.")),
        ("weight", _float_in, 0, 1000,
         N_("The weight must be empty (the marking scheme's total) or a number from 0 to 1000.")),
        ("regrade_window_days", _int_in, 0, 365,
         N_("The regrade window must be a whole number of days from 0 (no regrades) to 365.")),
        ("name_area_height", _int_in, 5, 60,
         N_("The name area must be from 5 to 60 % of the cover page's height.")),
    ]
    for field, parse, low, high, message in checks:
        given = raw.get(field, OPTIONAL_SETTINGS.get(field))
        value = parse(given, low, high)
        empty = given is None or str(given).strip() == ""
        if value is None and not (field in NULLABLE_SETTINGS and empty):
            problems.append({"path": field, "message": _(message)})
        values[field] = value
    values["anonymous_grading"] = bool(raw.get("anonymous_grading", True))
    mode = raw.get("grading_mode")
    if mode not in (None, "") and mode not in (GradingMode.BY_COPY, GradingMode.BY_QUESTION):
        problems.append({"path": "grading_mode", "message": _("The grading mode must be by copy or by question.")})
    elif mode:
        values["grading_mode"] = mode
    editors = raw.get("rubric_editors")
    if editors not in (None, "") and editors not in RUBRIC_EDITORS:
        problems.append({"path": "rubric_editors", "message": _(
            "Who may change rubrics must be the instructors, all course staff, or nobody once grading started.")})
    elif editors:
        values["rubric_editors"] = editors
    try:
        # the questions' layouts name pages of the copy: bounded by the pages per copy sent with them
        values["marking_scheme"] = scheme_module.validate(raw.get("marking_scheme"), previous_scheme,
                                                          pages_per_copy=values["pages_per_copy"])
    except scheme_module.SchemeError as exc:
        problems.extend({"path": "marking_scheme." + p["path"] if p["path"] else "marking_scheme",
                         "message": p["message"], **{key: p[key] for key in ("field", "code") if key in p}}
                        for p in exc.problems)
    if problems:
        raise InvalidSettings(problems)
    return values


def progress(exam):
    """Counts of an exam's copies by state, in one query."""
    counts = Copy.objects.filter(exam=exam).aggregate(
        total=Count("id"),
        identified=Count("id", filter=Q(identity_state=Identity.IDENTIFIED)),
        assigned=Count("id", filter=~Q(grader="")),
        graded=Count("id", filter=Q(grading_state=Grading.GRADED)),
        in_progress=Count("id", filter=Q(grading_state__in=[Grading.IN_PROGRESS, Grading.REOPENED])),
        submitted=Count("id", filter=Q(grading_state=Grading.SUBMITTED)),
        render_failed=Count("id", filter=Q(grading_state=Grading.RENDER_FAILED)),
    )
    counts["released"] = exam.released_at is not None
    return counts


def save_question_layouts(exam, changes, actor=None, publish=None, write_block=None):
    """Set the layouts of some questions (``{question id: layout or None}``, see
    :mod:`viatique_xblock.question_layout`) and return the new scheme.

    Only the layouts change: labels, points, ids and every grade stay as they are (points are stored
    by question id). ``write_block`` (a callable taking the new scheme) stores it in the block's
    settings; the exam row is updated here. Raises a
    :class:`~viatique_xblock.question_layout.LayoutError` (``unknown_question``,
    ``layout_page_out_of_range``, ``layout_box_outside``, ``layout_box_empty``, ``invalid_layout``)."""
    new_scheme = layout_module.with_layouts(exam.scheme or {}, changes, exam.pages_per_copy)
    with transaction.atomic():
        if write_block is not None:
            write_block(new_scheme)
        exam.scheme = new_scheme
        exam.save(update_fields=["scheme", "updated_at"])
        audit.record(exam, "layout.saved", actor=actor, publish=publish,
                     details={"questions": sorted(changes)[:50]})
    return new_scheme
