"""XBlock handlers of the question layout: where each question's answer is on a copy.

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks permission
(through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates to
:mod:`viatique_xblock.question_layout`, :mod:`viatique_xblock.grading.regions` and
:func:`viatique_xblock.exams.save_question_layouts`. The contract is docs/handlers.md
("Question layout").
"""
from viatique_xblock import exams, files, inputs, permissions, question_layout as layout
from viatique_xblock.errors import InvalidRequest
from viatique_xblock.grading import regions, workspace
from viatique_xblock.i18n import N_
from viatique_xblock.jsonapi import api_handler
from viatique_xblock.platform import compat


def _page_number(raw, required=False):
    if raw in (None, "") and not required:
        return None
    number = inputs.whole_number(raw, None, 1, layout.MAX_PAGES)
    if number is None:
        raise InvalidRequest(N_("The page must be a whole number from 1 to {max}."), max=layout.MAX_PAGES)
    return number


class LayoutHandlers:
    """Handlers mixed into the block."""

    @api_handler(permission=permissions.staff, methods=("GET",))
    def question_region(self, request, user, data, suffix=""):
        """The image of a question's answer on a copy (suffix ``<copy_id>/<question_id>``, ``?page=``
        optional): the question's box cut from its page, else the page itself; as ``page_image``,
        graders get the cover with its name area painted over."""
        copy_id, _, question_id = suffix.partition("/")
        exam = self.get_exam()
        name = regions.region_image_name(exam, user, copy_id, question_id, _page_number(data.get("page")))
        return files.stored_file_response(name)

    def _layout_answer(self, exam, user, page):
        number = _page_number(page) or 1
        return {
            "pages_per_copy": exam.pages_per_copy,
            "questions": workspace.questions(exam),
            "reference": {"page": number, "page_id": regions.reference_page(exam, user, number)},
        }

    @api_handler(permission=permissions.staff, methods=("GET",))
    def question_layout(self, request, user, data, suffix=""):
        """The layout of every leaf question, and the reference page ``?page=`` (1 by default) to draw on."""
        return self._layout_answer(self.get_exam(), user, data.get("page"))

    @api_handler(permission=permissions.author)
    def save_question_layout(self, request, user, data, suffix=""):
        """``{layouts: {question_id: layout or null}}``: set those questions' layouts (instructors, Studio
        authors); the block's scheme and the exam row both get them. Answers as ``question_layout``."""
        exam = self.get_exam()

        def write_block(new_scheme):
            if not compat.write_block_settings(compat.usage_key(self), {"marking_scheme": new_scheme}):
                self.marking_scheme = new_scheme

        exams.save_question_layouts(exam, data.get("layouts"), actor=user, publish=self._publish,
                                    write_block=write_block)
        return self._layout_answer(exam, user, data.get("page"))
