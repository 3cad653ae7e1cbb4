"""XBlock handlers of release to the gradebook, the learner's view of their results, regrade requests (issue 6).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module.
"""
from . import api


class ResultsHandlers:
    """Handlers mixed into the block."""

    def learner_fragment(self, user, exam):
        """The learner's part of ``student_view``: the state of their own copy."""
        code, message = api.learner_status(exam, user.anonymous_id)
        return self._fragment("learner.html", {"status_code": code, "status_message": message})
