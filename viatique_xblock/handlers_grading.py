"""XBlock handlers of the grading workspace: copies, leases, drafts, points, annotations, comment bank, finalize (issue 5).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module.
"""


class GradingHandlers:
    """Handlers mixed into the block."""
