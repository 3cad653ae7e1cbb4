"""PDF work of Viatique: pure Python on PyMuPDF, zxing-cpp and segno, no Django models or settings.

Modules and their public API (each module's docstring says more):

- :mod:`.validate`: ``Limits``, ``validate_pdf(path, limits) -> PdfInfo``, ``open_document``.
- :mod:`.qr`: ``encode``, ``short``, ``check``, ``decode -> QrPayload``.
- :mod:`.booklets`: ``make_booklets(...) -> bytes``, ``layout``.
- :mod:`.decode`: ``read_page_code(doc, index) -> PageCode | None``.
- :mod:`.images`: ``page_image``, ``thumbnail``, ``passthrough_jpeg``, ``encode_jpeg``.
- :mod:`.errors`: the typed refusals (``code``, ``status``, translated ``message``).
- :mod:`.graded`: ``render_graded_pdf(sources, pages, annotations, summary) -> bytes``.
- helpers: :mod:`.pages` (``scanner_image``), :mod:`.jpeg` (``info``, ``top_rows``, ``with_orientation``),
  :mod:`.fonts` (embedded Unicode fonts), :mod:`.overlay` (vector drawing over a page),
  :mod:`.objects` (fast stream writing),
  :mod:`.inline` (``inline_image_sizes``), :mod:`.synthetic` (``scan``: fake scans for
  demo data, tests and benchmarks).

Limits always come in as arguments; the Django side builds them with
``Limits.from_settings(viatique_xblock.platform.conf.get)``. Pillow is optional: when installed,
JPEG encoding of rendered page images and synthetic scans use it (much faster, and
baseline JPEGs like a scanner's).
"""
