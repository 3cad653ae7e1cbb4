"""Benchmark of the PDF operations: booklet printing, and the per-page work of scan ingestion.

Usage: ``python benchmarks/pdf_ops.py [--copies 200] [--pages 8] [--scan-copies 25] [--dpi 150]
[--speckles 0.002]``

Prints, for printing, booklets per second and the time for ``copies`` x ``pages``; for a
synthetic scanner-style scan (one JPEG per page, one page in 17 upside down), pages per
second of validation, code reading, page images (pass-through, or rendered when turned)
and thumbnails, each alone and together, and of a bare render of every page at 150 dpi
(the baseline), with the ratios to it. Single process, so pages per second per core.
The last line is one JSON object with every figure.
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pymupdf  # noqa: E402

from viatique_xblock.pdf import synthetic  # noqa: E402
from viatique_xblock.pdf.booklets import make_booklets  # noqa: E402
from viatique_xblock.pdf.decode import read_page_code  # noqa: E402
from viatique_xblock.pdf.images import page_image, thumbnail  # noqa: E402
from viatique_xblock.pdf.validate import Limits, validate_pdf  # noqa: E402

LIMITS = Limits(max_bytes=1 << 30, max_pages=5000, max_page_side_points=3370, max_page_pixels=60_000_000, dpi=150)


def subject(pages):
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page()
        page.insert_text((60, 60), f"Exercise {number}", fontsize=18)
        for line in range(30):
            page.insert_text((60, 100 + 22 * line), "Explain, justify and conclude. " * 3, fontsize=10)
    return doc.tobytes()


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def bench_booklets(copies, pages):
    blank = subject(pages)
    seconds, data = timed(lambda: make_booklets(blank, copies=copies, exam_ref="BENCH1"))
    return {
        "booklet_copies": copies,
        "booklet_pages": pages,
        "booklets_seconds": round(seconds, 3),
        "booklets_per_second": round(copies / seconds, 1),
        "booklet_pages_per_second": round(copies * pages / seconds),
        "booklets_mb": round(len(data) / 1e6, 2),
    }, data


def per_page(doc, action):
    """Pages per second of ``action`` over every page, keeping no result (flat memory)."""
    pymupdf.TOOLS.store_shrink(100)

    def run():
        for index in range(doc.page_count):
            action(doc, index)

    seconds, _ = timed(run)
    return round(doc.page_count / seconds, 1)


def ingest_page(doc, index, thumbnails=False):
    code = read_page_code(doc, index)
    rotation = code.rotation if code else 0
    page_image(doc, index, dpi=150, max_pixels=LIMITS.max_page_pixels, rotate=rotation)
    if thumbnails:
        thumbnail(doc, index, rotate=rotation)


def bench_ingestion(booklet, pages, scan_copies, dpi, speckles):
    wanted = scan_copies * pages
    upside_down = set(range(3, wanted, 17))
    scan = synthetic.scan(booklet, dpi=dpi, skew=1.5, upside_down=upside_down, order=range(wanted), seed=1,
                          speckles=speckles)
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(scan)
        handle.flush()
        validate_seconds, info = timed(lambda: validate_pdf(handle.name, LIMITS))
        doc = pymupdf.open(handle.name)
        figures = {
            "scan_pages": info.pages,
            "scan_dpi": dpi,
            "scan_mb": round(len(scan) / 1e6, 1),
            "validate_pages_per_second": round(info.pages / validate_seconds, 1),
            "read_code_pages_per_second": per_page(doc, read_page_code),
            "page_image_pages_per_second": per_page(doc, lambda d, i: page_image(d, i, max_pixels=60_000_000)),
            "thumbnail_pages_per_second": per_page(doc, thumbnail),
            "code_and_image_pages_per_second": per_page(doc, ingest_page),
            "code_image_thumbnail_pages_per_second": per_page(doc, lambda d, i: ingest_page(d, i, thumbnails=True)),
            "bare_render_150dpi_pages_per_second": per_page(doc, lambda d, i: d[i].get_pixmap(dpi=150)),
        }
        unread = sum(read_page_code(doc, i) is None for i in range(doc.page_count))
        figures["unread_codes"] = unread
    for name in ("code_and_image", "code_image_thumbnail"):
        together = 1 / (1 / figures["validate_pages_per_second"] + 1 / figures[f"{name}_pages_per_second"])
        figures[f"validate_{name}_pages_per_second"] = round(together, 1)
        figures[f"validate_{name}_ratio_to_bare_render"] = round(
            together / figures["bare_render_150dpi_pages_per_second"], 2)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--scan-copies", type=int, default=25)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--speckles", type=float, default=0.002, help="share of pixels turned into dark specks")
    args = parser.parse_args()

    figures, booklet = bench_booklets(args.copies, args.pages)
    print(f"booklets: {args.copies} x {args.pages} pages in {figures['booklets_seconds']} s "
          f"({figures['booklets_per_second']} booklets/s, {figures['booklet_pages_per_second']} pages/s, "
          f"{figures['booklets_mb']} MB)")
    ingestion = bench_ingestion(booklet, args.pages, args.scan_copies, args.dpi, args.speckles)
    figures.update(ingestion)
    print(f"scan of {ingestion['scan_pages']} pages at {args.dpi} dpi ({ingestion['scan_mb']} MB), pages/s:")
    for key, value in ingestion.items():
        if key.endswith("per_second"):
            print(f"  {key.replace('_pages_per_second', '').replace('_', ' '):<28} {value:>8}")
    print(f"  ratio to the bare 150-dpi render: {ingestion['validate_code_and_image_ratio_to_bare_render']}, "
          f"with thumbnails {ingestion['validate_code_image_thumbnail_ratio_to_bare_render']}"
          f"  (codes not read: {ingestion['unread_codes']})")
    figures["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
