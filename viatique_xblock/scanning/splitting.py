"""Deciding which scanned page belongs to which copy, and at which position (pure Python).

Input: the pages of an exam's scans in scan order, each with the code read on it
(or none). Output: a placement per page, and the anomalies that the instructor
resolves in the anomaly queue. Nothing is guessed: a page without a readable code
in a scan that has codes is an anomaly, not "probably the page after the last one".

Modes:

- ``qr``: pages are grouped by the copy number in their code and placed at the page
  number in their code, whatever the scan order and across several files. A second
  page with the same copy and page number is a ``duplicate``; a code of another exam
  is ``other_exam``; no readable code is ``no_code``.
- ``fixed``: a scan without any code is cut every ``pages_per_copy`` pages.
- ``per_file``: the whole file is one copy (one file per learner).
- ``loose``: loose pages (an extra sheet, a page rescanned because it was missing): pages with a code
  are placed by it as in ``qr``, every other page waits in the anomaly queue as ``loose``, to be
  attached to its copy by hand (:mod:`viatique_xblock.scanning.anomalies`).

Copies missing pages are reported by :func:`missing_pages`.
"""
from dataclasses import dataclass, field

NO_CODE = "no_code"
DUPLICATE = "duplicate"
OTHER_EXAM = "other_exam"
LOOSE = "loose"
ANOMALIES = (NO_CODE, DUPLICATE, OTHER_EXAM, LOOSE)


@dataclass(frozen=True)
class ScannedPage:
    """One page as read by the pipeline. ``code`` is ``(exam_ref, copy, page)`` or None."""

    key: object  # anything that identifies the page to the caller (a row id, an index)
    code: tuple = None


@dataclass
class Placement:
    """Where a page goes: a copy (by booklet number or batch-local sequence) and a position, or an anomaly."""

    key: object
    copy: int = None
    position: int = None
    anomaly: str = ""


@dataclass
class Split:
    placements: list = field(default_factory=list)

    @property
    def anomalies(self):
        return [p for p in self.placements if p.anomaly]

    @property
    def copies(self):
        return sorted({p.copy for p in self.placements if p.copy is not None})


def choose_mode(pages, per_file=False, loose=False):
    """``per_file`` when asked, ``qr`` when any page carries a code, else ``loose`` when asked, else ``fixed``."""
    if per_file:
        return "per_file"
    if any(page.code for page in pages):
        return "qr"
    return "loose" if loose else "fixed"


def split_loose(pages):
    """Every page to the anomaly queue, to be placed by hand."""
    return Split([Placement(page.key, anomaly=LOOSE) for page in pages])


def split_qr(pages, exam_ref, taken=()):
    """Place pages by their codes. ``taken`` holds ``(copy, position)`` already filled by earlier scans."""
    filled = set(taken)
    split = Split()
    for page in pages:
        if not page.code:
            split.placements.append(Placement(page.key, anomaly=NO_CODE))
            continue
        ref, copy, position = page.code
        if ref != exam_ref:
            split.placements.append(Placement(page.key, anomaly=OTHER_EXAM))
        elif (copy, position) in filled:
            split.placements.append(Placement(page.key, copy=copy, position=position, anomaly=DUPLICATE))
        else:
            filled.add((copy, position))
            split.placements.append(Placement(page.key, copy=copy, position=position))
    return split


def split_fixed(pages, pages_per_copy, first_copy=1):
    """Cut pages in scan order every ``pages_per_copy`` pages; copies numbered from ``first_copy``."""
    split = Split()
    for index, page in enumerate(pages):
        split.placements.append(Placement(page.key, copy=first_copy + index // pages_per_copy,
                                          position=index % pages_per_copy + 1))
    return split


def split_per_file(pages, copy):
    split = Split()
    for index, page in enumerate(pages):
        split.placements.append(Placement(page.key, copy=copy, position=index + 1))
    return split


def missing_pages(positions, pages_per_copy):
    """Page numbers of a copy that no page fills (1-based), given the positions it has."""
    have = set(positions)
    expected = max([pages_per_copy] + list(have))
    return [number for number in range(1, expected + 1) if number not in have]
