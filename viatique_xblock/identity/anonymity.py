"""What a grader may see of a copy: never the learner's identity when grading is anonymous.

Names and usernames are left out of grader responses by the stages' JSON; this module
covers the pixels: the cover page's name area is painted over in the images a
grader receives (made once, when first asked for), while instructors and the
learner get the original. Pages are named by their random public ids
(:mod:`viatique_xblock.public_ids`), never by database keys, which follow the scan's
order. The booklet number printed on every page stays visible: it is drawn at random
when the booklets are printed (:mod:`viatique_xblock.scanning.booklets`), so it tells
a grader nothing that the copy's anonymous code does not.
"""
from django.db.models import Q

from viatique_xblock import public_ids
from viatique_xblock.errors import NotFound, ObjectNotFound, ViatiqueError
from viatique_xblock.i18n import N_
from viatique_xblock.models import Page
from viatique_xblock.platform import conf, storage
from viatique_xblock.scanning import batches


class ImageNotReady(ViatiqueError):
    """A page whose image the scan pipeline has not made yet (its batch is still processing)."""

    code = "image_not_ready"
    status = 409


def _require_image(page):
    if not page.image_name:
        raise ImageNotReady(N_("This page's image is not ready yet: its scan is still being processed. "
                               "Try again in a moment."))


def hides_identity(exam, viewer):
    """True when ``viewer`` must not learn who wrote the copies of ``exam``."""
    return exam.anonymous_grading and not viewer.is_instructor


def page_for(exam, viewer, page_id):
    """A page the viewer may see, by its public id: instructors any page of the exam; graders only
    pages placed in copies."""
    queryset = Page.objects.filter(exam=exam)
    if not viewer.is_instructor:
        queryset = queryset.filter(Q(copy__isnull=False))
    key = public_ids.parse(page_id)
    page = queryset.filter(public_id=key).first() if key else None
    if page is None:
        raise ObjectNotFound(N_("This page does not exist."))
    return page


def _is_cover(page):
    return page.copy_id is not None and page.position == 1


def masked_kind(exam):
    """The stored name's tag of what is masked with the exam's name area (covers, graders' graded
    PDFs): made again when the instructor changes the area's height (a taller area must hide what
    the old one left visible)."""
    return f"masked{exam.name_area_height}"


def masked_image_name(exam, page):
    """The cover image with its name area painted over, made the first time it is asked for
    (and again once the name area's height changed)."""
    kind = masked_kind(exam)
    if page.masked_image_name and f"-{kind}." in page.masked_image_name:
        return page.masked_image_name
    from viatique_xblock.pdf import images as pdf_images

    store = storage.get_storage()
    with store.open(page.image_name, "rb") as handle:
        masked = pdf_images.mask_area(handle.read(), exam.name_area)
    name = batches.put_page_file(page, kind, masked)
    Page.objects.filter(pk=page.pk).update(masked_image_name=name)
    page.masked_image_name = name
    return name


def image_name(exam, viewer, page, thumbnail=False):
    """The stored image (or thumbnail) of ``page`` that ``viewer`` may receive."""
    _require_image(page)
    if hides_identity(exam, viewer) and _is_cover(page):
        if thumbnail:
            return batches.thumbnail_name(page, source=masked_image_name(exam, page),
                                        kind=f"{masked_kind(exam)}thumb")
        return masked_image_name(exam, page)
    return batches.thumbnail_name(page) if thumbnail else page.image_name


def name_crop(exam, copy):
    """The name area of a copy's cover, for the identification desk (instructors only)."""
    from viatique_xblock.pdf import images as pdf_images

    cover = Page.objects.filter(copy=copy, position=1).first()
    if cover is None:
        raise NotFound(N_("This copy has no cover page."))
    _require_image(cover)
    with storage.get_storage().open(cover.image_name, "rb") as handle:
        return pdf_images.crop_area(handle.read(), exam.name_area, width=conf.get("NAME_CROP_WIDTH"))
