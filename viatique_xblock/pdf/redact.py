"""Painting over an area of a PDF page for good: the text, drawings and image pixels under it are removed
from the file, not only hidden (a grader of an anonymous exam gets the graded PDF without the name
written on the cover)."""
import pymupdf

GREY = (0.5, 0.5, 0.5)


def redact_area(data, page_number, area, fill=GREY):
    """``data`` (a PDF) with the normalised ``area`` ``(x0, y0, x1, y1)`` of page ``page_number`` painted
    over; the area is taken on the page as it is shown (rotation applied), origin top-left, like the
    name area of a cover. A PDF without that page comes back unchanged."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        if not 0 <= page_number < doc.page_count:
            return data
        page = doc[page_number]
        shown = page.rect
        x0, y0, x1, y1 = area
        visible = pymupdf.Rect(shown.x0 + x0 * shown.width, shown.y0 + y0 * shown.height,
                               shown.x0 + x1 * shown.width, shown.y0 + y1 * shown.height)
        page.add_redact_annot(visible * page.derotation_matrix, fill=fill)
        page.apply_redactions(images=pymupdf.PDF_REDACT_IMAGE_PIXELS)
        return doc.tobytes(garbage=3, deflate=True)
