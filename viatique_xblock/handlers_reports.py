"""XBlock handlers of exports (grades CSV, ZIP of graded PDFs), statistics and the audit log viewer (issue 6).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module.
"""


class ReportsHandlers:
    """Handlers mixed into the block."""
