"""Who may download what: graded PDFs and learners' own page images, and signed download links.

- staff of the block (instructors and graders; graders see every copy placed in the exam, as
  for page images) get the graded PDF of any copy of the exam that has one;
- a learner gets the graded PDF and the page images of their own copy only (the copy's
  ``learner_anonymous_id`` is theirs), and only once results are released and the copy graded.

Copies and pages are named by their public ids (:mod:`viatique_xblock.public_ids`), in URLs and in
signed links alike. A copy or page that is not in this exam, or not the learner's, is :class:`~.errors.ObjectNotFound`
(the two are not told apart, and both count towards the lockout). A learner's own copy before
release is a plain refusal that does not count. Every graded PDF download is audited
(``download.graded_pdf``). Graders of an anonymous exam never get the learner's identity: not in
download names, and their graded PDF has the cover's name area painted over (the scan pages keep
the name the learner wrote).
"""
from django.utils.text import slugify

from viatique_xblock import audit, public_ids
from viatique_xblock.errors import InvalidRequest, NotFound, ObjectNotFound, PermissionDenied
from viatique_xblock.i18n import N_
from viatique_xblock.identity import anonymity
from viatique_xblock.models import Copy, Page
from viatique_xblock.platform import conf, storage
from viatique_xblock.results import signed_urls
from viatique_xblock.scanning import batches
from viatique_xblock.states import Grading

GRADED_PDF = "graded_pdf"
KINDS = (GRADED_PDF,)


class NotReleased(PermissionDenied):
    """The learner's own copy, before results are released (not a probe: does not count)."""

    code = "not_released"


class NoGradedPdf(NotFound):
    """The copy exists and may be seen, but has no graded PDF (yet)."""

    code = "no_graded_pdf"


class SignedUrlsDisabled(NotFound):
    code = "signed_urls_disabled"


def _as_id(raw):
    """The public id in ``raw`` (a URL suffix or a JSON value), or None."""
    return public_ids.parse(raw.strip("/") if isinstance(raw, str) else raw)


def _check_released(exam):
    if not exam.released_at:
        raise NotReleased(N_("Results are not released yet."))


def copy_for(exam, user, copy_id):
    """A copy of ``exam`` that ``user`` may download from, or :class:`ObjectNotFound`."""
    key = _as_id(copy_id)
    copy = None
    if key is not None and (user.is_staff or user.anonymous_id):
        queryset = Copy.objects.filter(exam=exam, public_id=key)
        if not user.is_staff:
            queryset = queryset.filter(learner_anonymous_id=user.anonymous_id)
        copy = queryset.first()
    if copy is None:
        raise ObjectNotFound(N_("This copy does not exist."))
    if not user.is_staff:
        _check_released(exam)
    return copy


def graded_pdf_copy(exam, user, copy_id):
    """The copy whose graded PDF ``user`` may download now, or a typed refusal."""
    copy = copy_for(exam, user, copy_id)
    if not user.is_staff and copy.published_result is not None:
        if not copy.published_result.get("pdf"):
            raise NoGradedPdf(N_("This copy has no graded PDF yet."))
        return copy
    if not copy.graded_pdf_name or (not user.is_staff and copy.grading_state != Grading.GRADED):
        raise NoGradedPdf(N_("This copy has no graded PDF yet."))
    return copy


def pdf_name_for(user, copy):
    """The stored graded PDF ``user`` gets of ``copy``: staff the latest render; a learner the one of the
    copy's published state (the score the gradebook holds), else (published before it was kept) the latest."""
    if not user.is_staff and copy.published_result is not None:
        return copy.published_result["pdf"]
    return copy.graded_pdf_name


def download_name(exam, user, copy):
    """``<exam>-<code>.pdf``; instructors also get the learner's username (graders and learners never do)."""
    parts = [slugify(exam.title) or "exam", slugify(copy.anonymous_code) or copy.public_id]
    if user.is_instructor and copy.learner_username:
        parts.append(slugify(copy.learner_username))
    return "-".join(part for part in parts if part) + ".pdf"


def hides_identity(exam, user):
    """Graders of an anonymous exam (learners see their own copy as it is; instructors see everything)."""
    return user.is_staff and anonymity.hides_identity(exam, user)


def _has_cover(copy):
    return Page.objects.filter(copy=copy, position=1, discarded=False).exists()


def graded_pdf(exam, user, copy_id, signature=None, client_ip=None, publish=None):
    """Check and audit a graded PDF download; returns ``(stored name, download name)``.

    Graders of an anonymous exam get the PDF with the cover's name area painted over: a copy made
    for them once per render and name area, and kept (:func:`masked_pdf_name`). ``signature``: the
    ``sig`` of a signed link (checked against this user and copy when signed links are enabled;
    ignored otherwise, since the permission check alone decides)."""
    signed = bool(signature) and conf.get("SIGNED_URLS_ENABLED")
    if signed:
        signed_urls.verify(signature, user, exam, _as_id(copy_id), GRADED_PDF)
    copy = graded_pdf_copy(exam, user, copy_id)
    name = pdf_name_for(user, copy)
    if hides_identity(exam, user) and _has_cover(copy):
        name = masked_pdf_name(exam, copy)
    audit.record(exam, "download.graded_pdf", actor=user, copy=copy, client_ip=client_ip, publish=publish,
                 details={"signed": signed})
    return name, download_name(exam, user, copy)


def masked_pdf_name(exam, copy):
    """The stored name of the graded PDF with the name area of its first page (the cover: scan pages
    come first, in order) painted over, made on the first request and kept.

    The name says what it holds: the render it comes from (the copy's ``graded_at``, so a copy
    graded again gets a new one) and the height of the name area (a taller area, a new one). It is
    written once (:func:`storage.write_once`): never replaced under a reader. Older ones stay in the
    storage, one per render and area."""
    store = storage.get_storage()
    if not store.exists(copy.graded_pdf_name):
        raise NoGradedPdf(N_("This copy has no graded PDF yet."))
    rendered = copy.graded_at or copy.updated_at
    stamp = rendered.strftime("%Y%m%dT%H%M%S%f") if rendered else "0"
    name = storage.file_name("graded", copy.exam_id, f"{copy.pk}-{stamp}-{anonymity.masked_kind(exam)}.pdf")
    if not store.exists(name):
        from viatique_xblock.pdf.redact import redact_area

        with store.open(copy.graded_pdf_name, "rb") as handle:
            storage.write_once(name, redact_area(handle.read(), 0, exam.name_area))
    return name


def sign_download(exam, user, copy_id, kind):
    """A signed link token for a download ``user`` may make now: ``(copy, token, expires_at)``."""
    if not conf.get("SIGNED_URLS_ENABLED"):
        raise SignedUrlsDisabled(N_("Signed download links are turned off on this platform."))
    if kind not in KINDS:
        raise InvalidRequest(N_("Unknown kind of download: {kind}."), kind=str(kind)[:40])
    copy = graded_pdf_copy(exam, user, copy_id)
    token, expires_at = signed_urls.sign(user, exam, copy.public_id, kind)
    return copy, token, expires_at


def learner_page(exam, user, page_id):
    """A page of the learner's own copy, after release (staff: what :func:`anonymity.page_for` allows)."""
    if user.is_staff:
        return anonymity.page_for(exam, user, page_id)
    page = None
    if _as_id(page_id) is not None and user.anonymous_id:
        page = (Page.objects.filter(exam=exam, public_id=_as_id(page_id), discarded=False,
                                    copy__learner_anonymous_id=user.anonymous_id).first())
    if page is None:
        raise ObjectNotFound(N_("This page does not exist."))
    _check_released(exam)
    return page


def page_image_name(exam, user, page, thumbnail=False):
    """The image of ``page`` for ``user``: learners get their own pages as scanned, staff what
    :func:`anonymity.image_name` gives them (the cover masked for graders of an anonymous exam)."""
    if user.is_staff:
        return anonymity.image_name(exam, user, page, thumbnail=thumbnail)
    return batches.thumbnail_name(page) if thumbnail else page.image_name
