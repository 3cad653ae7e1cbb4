"""XBlock handlers of downloads (graded PDFs, learners' page images, signed URLs) and the lockout viewer (issue 6).

A mixin of :class:`~viatique_xblock.block.ViatiqueXBlock`: each handler checks
permission (through :func:`~viatique_xblock.jsonapi.api_handler`) and delegates
to a domain module.
"""


class DownloadHandlers:
    """Handlers mixed into the block."""
