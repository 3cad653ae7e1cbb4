"""What a learner sees of their own results (the ``my_results`` handler).

The copy is looked up by the requesting learner's anonymous id only, in this exam
only: no parameter names a copy, so nobody can ask for someone else's. Before
release (or while the copy is not graded) only the state of the copy in plain
words is given; after release: the total (and on the block's grade scale), points,
rubric items applied, adjustment and comment per question, the general comment, the pages with their annotations,
whether a graded PDF exists, and the regrade requests with the window. Graders'
identities only when the course shows them (``SHOW_GRADER_IDENTITY``).
"""
from decimal import Decimal

from viatique_xblock import scheme as scheme_module
from viatique_xblock.i18n import N_, gettext as _
from viatique_xblock.models import Copy
from viatique_xblock.pdf import layout
from viatique_xblock.platform import conf
from viatique_xblock.results import regrades
from viatique_xblock.states import Grading

#: learner-facing status of a copy, before results are released
LEARNER_STATUS = {
    "no_copy": N_("No copy of yours has been received for this exam yet."),
    "received": N_("Your copy has been received and is waiting to be graded."),
    "grading": N_("Your copy is being graded."),
    "awaiting_release": N_("Your copy has been graded. Results will be shown when your instructor releases them."),
    "released": N_("Your results are available."),
}


def learner_status(exam, anonymous_id):
    """``(code, message)`` describing a learner's own copy, and nothing about anyone else's."""
    copy = None
    if exam is not None and anonymous_id:
        copy = Copy.objects.filter(exam=exam, learner_anonymous_id=anonymous_id).first()
    if copy is None:
        code = "no_copy"
    elif exam.released_at and (copy.published_result is not None or copy.grading_state == Grading.GRADED):
        # a published score is shown as published, whatever the copy's grading since
        code = "released"
    elif copy.grading_state == Grading.GRADED:
        code = "awaiting_release"
    elif copy.grading_state == Grading.READY:
        code = "received"
    else:
        code = "grading"
    return code, _(LEARNER_STATUS[code])


def _text(number):
    return None if number is None else str(scheme_module.plain_number(number))


def on_scale(total, maximum, scale):
    """``total`` out of ``maximum`` brought to ``scale`` (e.g. 20), to 2 decimals; None without a scale."""
    if not scale or not maximum or total is None:
        return None
    return _text(round(Decimal(total) * Decimal(str(scale)) / Decimal(maximum), 2))


def _annotation(item, pages, sizes):
    body = {"uid": str(item.uid), "page_id": pages[item.page_id], "kind": item.kind, "x": item.x, "y": item.y,
            "width": item.width, "height": item.height, "text": item.text, "question_id": item.question_id,
            "points": _text(item.points)}
    if item.kind in ("comment", "text") and (item.text or "").strip():
        # the lines and place the graded PDF gives this text (pdf.layout), drawn as they are on screen
        body["layout"] = layout.text_box(item.text, item.x, item.y, item.width, item.height, *sizes[item.page_id],
                                         boxed=item.kind == "comment").as_fractions()
    return body


def _graders(copy, rows):
    """Who graded the copy: its grader; graded by question, a copy is nobody's: the graders of its questions."""
    return copy.grader or ", ".join(sorted({row.grader for row in rows if row.grader}))


def breakdown(exam, copy, scale=None, grader=None):
    """What a learner sees of a graded copy, computed now from its points and the exam's scheme:
    ``{"copy", "questions", "pages", "annotations"}`` (JSON); ``grader``: whether to name the graders (None:
    as the course's ``SHOW_GRADER_IDENTITY`` says). Stored as :attr:`Copy.published_result`
    when the copy's score is published (:func:`viatique_xblock.results.release.publish_copy`), so that the
    learner goes on seeing what the gradebook holds whatever changes afterwards, until it is published again."""
    # the grading domain's view of the scheme (questions with their groups' labels) and the rubric items applied
    from viatique_xblock.grading import rubrics, workspace

    maximum = scheme_module.total(exam.scheme)
    given = {row.question_id: row for row in copy.points.all()}
    applied = rubrics.applied_details(copy=copy)
    questions = []
    for question in workspace.questions(exam):
        row = given.get(question["id"])
        items = applied.get((copy.pk, question["id"]), [])
        question.pop("layout", None)  # where answers are is for graders
        questions.append({**question, "max": _text(Decimal(str(question["max"]))),
                          "points": _text(row.points) if row else None, "comment": row.comment if row else "",
                          # the rubric items applied (``{text, points}``, points signed), then the adjustment
                          "items": items, "adjustment": rubrics.shown_adjustment(row, items),
                          # the grader marked it "no answer" (0 points): the view says so
                          "no_answer": bool(row and row.no_answer)})
    pages = copy.pages.filter(discarded=False).order_by("position", "id")
    page_ids = {page.pk: page.public_id for page in pages}  # pages are named by their public ids
    sizes = {page.pk: layout.page_size(page.width_pt, page.height_pt, page.rotation) for page in pages}
    info = {"id": copy.public_id, "code": copy.anonymous_code, "total": _text(copy.total_points), "max": _text(maximum),
            "scale": _text(Decimal(str(scale))) if scale else None,
            "scale_total": on_scale(copy.total_points, maximum, scale),
            "general_comment": copy.general_comment, "graded_pdf": bool(copy.graded_pdf_name)}
    if conf.get("SHOW_GRADER_IDENTITY") if grader is None else grader:
        info["grader"] = _graders(copy, given.values())
    return {
        "copy": info,
        "questions": questions,
        "pages": [{"id": page.public_id, "position": page.position, "width_pt": page.width_pt,
                   "height_pt": page.height_pt} for page in pages],
        "annotations": [_annotation(item, page_ids, sizes)
                        for item in copy.annotations.filter(page_id__in=list(page_ids))
                        .order_by("page__position", "y", "x", "id")],
    }


def snapshot(exam, copy, scale=None):
    """The :func:`breakdown` to store when ``copy``'s score is published, with ``pdf``: the stored name of the
    graded PDF rendered for that state (the one the learner downloads until the next publication)."""
    # no grader's name is kept in it (a retired user's name is erased where it is: the copy's rows)
    return {**breakdown(exam, copy, scale, grader=False), "pdf": copy.graded_pdf_name or ""}


def results(exam, learner, scale=None, window_days=0):
    """The learner's own results as JSON (see the module docstring). A copy whose score is published is shown
    as it was published (:attr:`Copy.published_result`): the score the gradebook holds, even while the copy
    is being graded again after a change of the marking scheme."""
    code, message = learner_status(exam, learner.anonymous_id)
    body = {"status": code, "message": message, "released": code == "released"}
    if code != "released":
        return body
    copy = Copy.objects.get(exam=exam, learner_anonymous_id=learner.anonymous_id)
    if copy.published_result is None:  # published before snapshots were kept (or on no gradebook): as it is
        shown = breakdown(exam, copy, scale)
    else:
        shown = {key: value for key, value in copy.published_result.items() if key != "pdf"}
        # the grade scale is the block's way of writing the total: applied to the published total and maximum
        info = dict(shown["copy"], scale=_text(Decimal(str(scale))) if scale else None)
        info["scale_total"] = on_scale(info["total"], info["max"], scale)
        if conf.get("SHOW_GRADER_IDENTITY"):
            info["grader"] = _graders(copy, copy.points.all())
        shown["copy"] = info
    end = regrades.window_end(exam, window_days)
    requests = regrades.learner_requests(copy)
    waiting = regrades.waits_for_new_grade(exam, copy)
    body.update({
        **shown,
        "regrade": {"open": regrades.is_open(exam, window_days) and not waiting,
                    "waits_for_new_grade": waiting and regrades.is_open(exam, window_days),
                    "closes_at": end.isoformat() if end else None,
                    "open_questions": sorted({item["question_id"] for item in requests if item["state"] == "open"}),
                    "requests": requests},
    })
    return body
