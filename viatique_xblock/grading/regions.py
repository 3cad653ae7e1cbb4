"""The image of a question's answer on a copy: the box of its layout cut from the stored page image.

Public API: :func:`region_image_name` (the stored image a viewer may receive for one question of
one copy), :func:`reference_page` (the page an instructor draws boxes on). Errors:
:class:`QuestionPageMissing` (``question_page_missing``), and the layout's
:class:`~viatique_xblock.question_layout.UnknownQuestion`.

The region is cut from the image the viewer may see of the page (:mod:`..identity.anonymity`):
for a grader of an anonymous exam, the cover with its name area already painted over, so a box
that overlaps the name area shows it painted over too. The stored page image is upright once its
Exif orientation is applied (the rotation found at scanning), which is how the box's coordinates
are meant. Each region is stored once, named for the box and the source it was cut from
(a moved box, a taller name area: a new name), next to the page's other derived images.
"""
import hashlib

from viatique_xblock.errors import NotFound, ObjectNotFound
from viatique_xblock import question_layout as layout_module
from viatique_xblock.i18n import N_
from viatique_xblock.identity import anonymity
from viatique_xblock.models import Copy, Page, ScanBatch
from viatique_xblock.platform import storage
from viatique_xblock.scanning import batches


class QuestionPageMissing(NotFound):
    """The copy has no page at the question's page number (a page missing from the scan)."""

    code = "question_page_missing"

    def extra(self):
        return {"page": self.params.get("page")}


def _copy(exam, copy_id):
    from viatique_xblock.grading.workspace import copy_key  # noqa: PLC0415 - the workspace imports much more

    copy = Copy.objects.filter(exam=exam, public_id=copy_key(copy_id)).only("pk", "exam_id").first()
    if copy is None:
        raise ObjectNotFound(N_("This copy does not exist."))
    return copy


def _page(copy, number):
    page = Page.objects.filter(copy=copy, position=number, discarded=False).order_by("pk").first()
    if page is None:
        raise QuestionPageMissing(N_("Page {page} of this copy is missing: it was not in the scans."), page=number)
    return page


def region_kind(source, box):
    """The stored name's tag of the region ``box`` cut from the stored image ``source``."""
    text = "|".join([source, *(repr(float(box[key])) for key in layout_module.BOX_KEYS)])
    return "region-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def region_image_name(exam, viewer, copy_id, question_id, page_number=None):
    """The stored image of question ``question_id`` on copy ``copy_id`` (public id) for ``viewer``.

    Without ``page_number``: the question's box when it has one (cut from its page), else the first
    page of its layout (the copy's first page when it has no layout). With ``page_number`` (one of
    the question's pages): that page, as the box's page when it is the box's. The page image is the
    one :func:`~viatique_xblock.identity.anonymity.image_name` gives the viewer (masked cover)."""
    layout = layout_module.effective(layout_module.layout_of(exam.scheme, question_id), exam.pages_per_copy)
    box = layout["box"]
    number = page_number or (box["page"] if box else layout["pages"][0])
    if number not in layout["pages"]:
        raise layout_module.PageOutOfRange(N_("Page {page} is not one of this question's pages."), page=number)
    page = _page(_copy(exam, copy_id), number)
    source = anonymity.image_name(exam, viewer, page)
    if not box or box["page"] != number:
        return source
    from viatique_xblock.pdf import images as pdf_images  # noqa: PLC0415

    kind = region_kind(source, box)
    name = batches.image_name(ScanBatch(pk=page.batch_id, exam_id=page.exam_id), page.source_index, kind, "jpg")
    store = storage.get_storage()
    if store.exists(name):
        return name
    with store.open(source, "rb") as handle:
        region = pdf_images.crop_area(handle.read(), [box[key] for key in layout_module.BOX_KEYS], width=None)
    return batches.put_page_file(page, kind, region)


def reference_page(exam, viewer, number):
    """The page ``number`` of the exam's first copy that has it (by anonymous code), for drawing the
    questions' boxes on: its public id, or None when no copy has such a page yet."""
    page = (Page.objects.filter(exam=exam, copy__isnull=False, position=number, discarded=False)
            .exclude(image_name="").order_by("copy__anonymous_code", "pk").only("public_id").first())
    return page.public_id if page else None
