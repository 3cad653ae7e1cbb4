"""Database models of Viatique.

Everything staff query across learners lives here, not in XBlock user state:
exams, scan batches, copies, pages, annotations, points, drafts, rubric items
and the append-only audit log. Every row hangs off an :class:`Exam`, which is
keyed by the block's usage key and course key, and every lookup filters by it.
"""
import uuid

from django.db import models

from viatique_xblock import public_ids
from viatique_xblock.states import BatchState, Grading, Identity, UploadState

POINTS = {"max_digits": 9, "decimal_places": 3}


class Exam(models.Model):
    """One paper exam: the Django side of one Viatique block usage in a course."""

    course_key = models.CharField(max_length=255, db_index=True)
    usage_key = models.CharField(max_length=255, unique=True)
    title = models.CharField(max_length=255, blank=True)
    #: snapshot of the block's marking scheme, kept in sync when the block is saved or shown,
    #: so Celery tasks and staff queries do not need the modulestore
    scheme = models.JSONField(default=dict, blank=True)
    pages_per_copy = models.PositiveIntegerField(default=4)
    anonymous_grading = models.BooleanField(default=True)
    #: names from an uploaded roster CSV, by username or lowercased email (display details only)
    roster_details = models.JSONField(default=dict, blank=True)
    #: height of the cover's top band holding the learner's name, in % of the page:
    #: masked in the images graders get, shown alone at the identification desk
    #: (12 %: a booklet's printed band and the name written in it, with room for skew)
    name_area_height = models.PositiveSmallIntegerField(default=12)
    #: the block's ``weight``: the points the exam contributes to its subsection (None: the scheme's
    #: maximum, unweighted), sent with every score so the gradebook's events carry it
    weight = models.FloatField(null=True, blank=True)
    #: how its copies are graded: ``by_copy`` (a grader grades whole copies) or ``by_question`` (the unit of
    #: work is one question of one copy, :class:`Answer`). Rows that existed before grading by question keep
    #: ``by_copy`` (the migration's default); a new exam's row takes the block's setting (``by_question``
    #: unless an author chose otherwise: :func:`viatique_xblock.exams.sync_exam`)
    grading_mode = models.CharField(max_length=16, default="by_copy")
    #: the blank exam the print screen prints booklets on (:mod:`viatique_xblock.scanning.subjects`):
    #: ``{file, sha256, pages, size, name, uploaded_by, uploaded_at}``, or empty
    subject = models.JSONField(default=dict, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.title or 'Exam'} ({self.usage_key})"

    @property
    def name_area(self):
        """The name area of a cover page, normalised ``(x0, y0, x1, y1)``."""
        return (0.0, 0.0, 1.0, self.name_area_height / 100)


class ScanBatch(models.Model):
    """One uploaded scan file and the progress of its processing."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="batches")
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    page_count = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=512, blank=True, help_text="Name of the scan in the storage.")
    state = models.CharField(max_length=16, choices=BatchState.CHOICES, default=BatchState.UPLOADING)
    #: "auto" (codes when present, else every pages_per_copy pages) or "per_file" (the file is one copy)
    split_mode = models.CharField(max_length=16, default="auto")
    #: pages per copy for a scan without codes, when the import chose one (else the exam's)
    pages_per_copy = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    uploaded_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "scan batches"
        constraints = [models.UniqueConstraint(fields=["exam", "sha256"], name="viatique_batch_unique_file")]

    def __str__(self):
        return f"{self.original_name} ({self.state})"


class Booklet(models.Model):
    """A printed booklet number, and the learner it was printed for in prenamed mode.

    Numbers are drawn at random among those the exam never used (:mod:`viatique_xblock.scanning.booklets`),
    so a second print run never reuses a number and a number says nothing of its learner;
    when a scanned copy carries a prenamed booklet's number, it is identified at once.
    """

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="booklets")
    number = models.PositiveIntegerField()
    learner_anonymous_id = models.CharField(max_length=128, null=True, blank=True)
    learner_username = models.CharField(max_length=150, blank=True)
    learner_name = models.CharField(max_length=255, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exam", "number"], name="viatique_booklet_unique_number")]

    def __str__(self):
        return f"Booklet {self.number}"


class UploadSession(models.Model):
    """A resumable upload of one scan file, chunk by chunk, before it becomes a batch.

    Chunks are kept in the storage (so any web worker can take the next one) and
    recorded in :class:`UploadChunk`; the file is assembled, hashed and validated by
    a Celery task. A refused upload leaves this row (with its reason) and nothing else.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.CharField(max_length=150, blank=True)
    file_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    chunk_bytes = models.PositiveIntegerField()
    declared_sha256 = models.CharField(max_length=64, blank=True)
    split_mode = models.CharField(max_length=16, default="auto")
    state = models.CharField(max_length=16, choices=UploadState.CHOICES, default=UploadState.OPEN)
    error_code = models.CharField(max_length=64, blank=True)
    #: untranslated message template and its parameters: shown in each reader's language
    error_template = models.TextField(blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey(ScanBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Upload {self.file_name} ({self.state})"

    @property
    def chunk_count(self):
        return max(1, -(-self.size_bytes // self.chunk_bytes))


class UploadChunk(models.Model):
    """One received chunk of an upload; the unique index makes a re-sent chunk harmless."""

    upload = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "index"], name="viatique_chunk_unique_index")]


class Copy(models.Model):
    """One learner's paper copy: its identity, its grading state and its result."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="copies")
    #: the copy's id outside the server (handlers, JSON, URLs): random, so that it says nothing of the
    #: order copies were scanned in (:mod:`viatique_xblock.public_ids`); the primary key never leaves
    public_id = models.CharField(max_length=public_ids.LENGTH, unique=True, default=public_ids.new, editable=False)
    #: short code shown to graders instead of the learner's identity
    anonymous_code = models.CharField(max_length=16)
    #: booklet number printed in the QR codes, when the paper had them (drawn at random when printed,
    #: so the page images graders see show nothing of the learner; never sent in JSON to graders)
    booklet_number = models.PositiveIntegerField(null=True, blank=True)
    #: for copies cut from a scan without codes: the scan and the copy's rank in it
    source_batch = models.ForeignKey("ScanBatch", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    source_group = models.PositiveIntegerField(null=True, blank=True)
    identity_state = models.CharField(max_length=16, choices=Identity.CHOICES, default=Identity.UNIDENTIFIED)
    learner_anonymous_id = models.CharField(max_length=128, null=True, blank=True)
    learner_username = models.CharField(max_length=150, blank=True)
    learner_name = models.CharField(max_length=255, blank=True)
    grading_state = models.CharField(max_length=16, choices=Grading.CHOICES, default=Grading.READY)
    grader = models.CharField(max_length=150, blank=True, help_text="Username of the assigned grader.")
    #: last fencing number handed out for this copy's grading lease; writes must carry it
    lease_fencing = models.BigIntegerField(default=0)
    total_points = models.DecimalField(null=True, blank=True, **POINTS)
    general_comment = models.TextField(blank=True)
    render_error = models.TextField(blank=True)
    graded_pdf_name = models.CharField(max_length=512, blank=True)
    #: a submission an earlier version created in edx-submissions for this copy's learner (its score
    #: there would take priority over the grade signal's in the LMS: it is reset and this cleared the
    #: next time the copy's score is published or withdrawn); empty for every copy since
    submission_uuid = models.CharField(max_length=64, blank=True)
    #: the copy's total released to the gradebook, the raw points sent (None when no score is published)
    published_points = models.DecimalField(null=True, blank=True, **POINTS)
    finalized_at = models.DateTimeField(null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    #: an instructor accepted the copy as it is although pages are missing (a learner who left a sheet
    #: out): it leaves the list of copies with missing pages (:mod:`viatique_xblock.scanning.anomalies`)
    missing_accepted = models.BooleanField(default=False)
    #: put aside at the identification desk: the name on the cover is not on the course's roster
    #: (:mod:`viatique_xblock.identity.desk`); the instructor resolves it from the hold list
    on_hold = models.BooleanField(default=False)
    hold_note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "copies"
        constraints = [
            models.UniqueConstraint(fields=["exam", "anonymous_code"], name="viatique_copy_unique_code"),
            # NULL (unidentified) never collides, on SQLite, MySQL/MariaDB and PostgreSQL alike.
            models.UniqueConstraint(
                fields=["exam", "learner_anonymous_id"], name="viatique_copy_one_per_learner"
            ),
            models.UniqueConstraint(fields=["exam", "booklet_number"], name="viatique_copy_unique_booklet"),
            # a redelivered assembly finds the copies it cut instead of cutting them again
            models.UniqueConstraint(fields=["source_batch", "source_group"], name="viatique_copy_unique_group"),
        ]
        indexes = [models.Index(fields=["exam", "grading_state"]), models.Index(fields=["exam", "grader"])]

    def __str__(self):
        return f"Copy {self.anonymous_code}"


class Page(models.Model):
    """One scanned page: where it came from, where it belongs, and its images."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="pages")
    #: the page's id outside the server (image URLs, annotations): random, like :attr:`Copy.public_id`
    public_id = models.CharField(max_length=public_ids.LENGTH, unique=True, default=public_ids.new, editable=False)
    batch = models.ForeignKey(ScanBatch, on_delete=models.CASCADE, related_name="pages")
    #: None while the page waits in the anomaly queue
    copy = models.ForeignKey(Copy, null=True, blank=True, on_delete=models.SET_NULL, related_name="pages")
    source_index = models.PositiveIntegerField(help_text="0-based index of the page in its scan file.")
    position = models.PositiveIntegerField(null=True, blank=True, help_text="1-based page number in the copy.")
    rotation = models.PositiveSmallIntegerField(default=0)
    width_pt = models.FloatField(default=0)
    height_pt = models.FloatField(default=0)
    qr_payload = models.CharField(max_length=255, blank=True)
    anomaly = models.CharField(max_length=32, blank=True)
    discarded = models.BooleanField(default=False)
    image_name = models.CharField(max_length=512, blank=True)
    masked_image_name = models.CharField(max_length=512, blank=True)
    thumbnail_name = models.CharField(max_length=512, blank=True)

    class Meta:
        constraints = [
            # a redelivered processing task finds the row instead of creating a second one
            models.UniqueConstraint(fields=["batch", "source_index"], name="viatique_page_unique_source"),
        ]
        indexes = [models.Index(fields=["copy", "position"])]

    def __str__(self):
        return f"Page {self.source_index} of batch {self.batch_id}"


class DeskSkip(models.Model):
    """A copy one instructor skipped at the identification desk: it comes after the others for them
    until the next scan is uploaded (:func:`viatique_xblock.identity.desk.queue`)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="+")
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="desk_skips")
    username = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["copy", "username"], name="viatique_skip_unique_user")]

    def __str__(self):
        return f"{self.username} skipped {self.copy_id}"


class QuestionPoints(models.Model):
    """Points given to one question of one copy, keyed by the question's stable id."""

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="points")
    question_id = models.CharField(max_length=64)
    points = models.DecimalField(**POINTS)
    comment = models.TextField(blank=True)
    grader = models.CharField(max_length=150, blank=True)
    #: the grader marked the question "no answer" (nothing written, or its page never scanned): 0 points,
    #: and the learner's view and graded PDF say so
    no_answer = models.BooleanField(default=False)
    #: the grader's free adjustment, added to the question's base and its applied rubric items
    #: (:func:`viatique_xblock.scheme.score`); points typed directly are stored as this adjustment
    adjustment = models.DecimalField(default=0, **POINTS)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "question points"
        constraints = [
            models.UniqueConstraint(fields=["copy", "question_id"], name="viatique_points_unique_question")
        ]

    def __str__(self):
        return f"{self.question_id}: {self.points}"


class Answer(models.Model):
    """One question of one copy: the unit of work when the exam is graded by question
    (:mod:`viatique_xblock.grading.answers`). Created when the answer is dealt to a grader or first leased.

    Its grading lease (Redis, per copy and question) carries :attr:`lease_fencing`, the number writes
    must carry, as :attr:`Copy.lease_fencing` does for a copy's lease."""

    OPEN = "open"
    GRADED = "graded"
    STATES = [(OPEN, "open"), (GRADED, "graded")]

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="answers")
    question_id = models.CharField(max_length=64)
    #: the grader it was dealt to ("" for nobody: any grader of the question may take it)
    grader = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=16, choices=STATES, default=OPEN)
    lease_fencing = models.BigIntegerField(default=0)
    graded_by = models.CharField(max_length=150, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    #: the last grader who skipped it: their ``next_answer`` gives it after the others
    skipped_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["copy", "question_id"], name="viatique_answer_unique_question")]
        indexes = [models.Index(fields=["question_id", "grader", "state"])]

    def __str__(self):
        return f"Answer {self.question_id} of {self.copy_id} ({self.state})"


class Annotation(models.Model):
    """A mark on a page, in coordinates normalised to the page ([0,1], origin top-left)."""

    KINDS = [
        ("comment", "comment box"),
        ("tick", "tick"),
        ("cross", "cross"),
        ("highlight", "highlight"),
        ("text", "free text"),
    ]

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="annotations")
    #: id chosen by the client, so a re-sent save updates the annotation instead of adding a second one
    uid = models.UUIDField(default=uuid.uuid4)
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="annotations")
    kind = models.CharField(max_length=16, choices=KINDS)
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField(default=0)
    height = models.FloatField(default=0)
    text = models.TextField(blank=True)
    question_id = models.CharField(max_length=64, blank=True)
    points = models.DecimalField(null=True, blank=True, **POINTS)
    author = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["copy", "uid"], name="viatique_annotation_unique_uid")]

    def __str__(self):
        return f"{self.kind} on {self.page_id}"


class Draft(models.Model):
    """Autosaved work in progress of one grader on one copy, versioned against lost updates."""

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="drafts")
    grader = models.CharField(max_length=150)
    version = models.PositiveIntegerField(default=0)
    payload = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["copy", "grader"], name="viatique_draft_unique_grader")]

    def __str__(self):
        return f"Draft v{self.version} of {self.copy_id} by {self.grader}"


class RubricGroup(models.Model):
    """A group of rubric items of one question (:mod:`viatique_xblock.grading.rubrics`); a "pick one" group
    allows one applied item of the group per copy's question."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="rubric_groups")
    public_id = models.CharField(max_length=public_ids.LENGTH, unique=True, default=public_ids.new, editable=False)
    question_id = models.CharField(max_length=64)
    label = models.CharField(max_length=255, blank=True)
    pick_one = models.BooleanField(default=False)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Group {self.label or self.public_id} of {self.question_id}"


class RubricItem(models.Model):
    """One rubric item, shared by the graders of an exam: a text shown to the learner and signed points
    (a gain or a deduction; None: a comment without points). Items are *living*: editing one re-scores
    every copy it is applied to (:func:`viatique_xblock.grading.rubrics.edit_item`). The comment bank
    of earlier versions is these items (migration 0015)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="rubric_items")
    public_id = models.CharField(max_length=public_ids.LENGTH, unique=True, default=public_ids.new, editable=False)
    #: a leaf question's id; "" for an exam-wide comment usable on any question
    question_id = models.CharField(max_length=64, blank=True)
    group = models.ForeignKey(RubricGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    text = models.TextField()
    points = models.DecimalField(null=True, blank=True, **POINTS)
    position = models.IntegerField(default=0)
    created_by = models.CharField(max_length=150, blank=True)
    #: moved on by every edit: an edit sent from an older version is refused (``stale_item``)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["exam", "question_id"])]

    def __str__(self):
        return self.text[:40]


class AppliedItem(models.Model):
    """A rubric item applied to one question of one copy."""

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="applied_items")
    question_id = models.CharField(max_length=64)
    item = models.ForeignKey(RubricItem, on_delete=models.CASCADE, related_name="applications")
    applied_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["copy", "question_id", "item"],
                                               name="viatique_applied_unique_item")]

    def __str__(self):
        return f"{self.item_id} on {self.question_id} of {self.copy_id}"


class RubricRescore(models.Model):
    """The progress of a living edit (or deletion) of a rubric item: the copies re-scored, then the released
    scores published again and the graded PDFs rendered again by Celery tasks."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="rubric_rescores")
    #: the copies whose points changed (ids of the database, never sent out)
    copy_ids = models.JSONField(default=list, blank=True)
    copies = models.PositiveIntegerField(default=0)
    #: released copies whose score is to be published again, and those done
    released = models.PositiveIntegerField(default=0)
    republished = models.PositiveIntegerField(default=0)
    #: graded copies whose PDF is to be rendered again, and those done
    to_render = models.PositiveIntegerField(default=0)
    rendered = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Rescore {self.public_id} ({self.republished}/{self.released}, {self.rendered}/{self.to_render})"


class RegradeRequest(models.Model):
    """A learner's request to regrade one question of their copy, and the staff's answer."""

    OPEN = "open"
    ANSWERED = "answered"
    STATES = [(OPEN, "open"), (ANSWERED, "answered")]

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="regrade_requests")
    question_id = models.CharField(max_length=64)
    #: the question id while the request is open, NULL once answered: one open request per question
    #: (a unique index on a nullable column, which MySQL/MariaDB enforce like PostgreSQL and SQLite)
    open_question = models.CharField(max_length=64, null=True, blank=True)
    message = models.TextField()
    state = models.CharField(max_length=16, choices=STATES, default=OPEN)
    answer = models.TextField(blank=True)
    answered_by = models.CharField(max_length=150, blank=True)
    points_before = models.DecimalField(null=True, blank=True, **POINTS)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["copy", "open_question"], name="viatique_regrade_one_open"),
        ]

    def __str__(self):
        return f"Regrade {self.question_id} of {self.copy_id} ({self.state})"


class ExportJob(models.Model):
    """A file built or read by a Celery task, with its progress: a ZIP of graded PDFs (``kind`` "zip"),
    an exam archive being exported ("archive") or an uploaded archive being imported ("archive_import")."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="exports")
    #: "zip", "archive" or "archive_import" (see :mod:`viatique_xblock.reports.archive_jobs`)
    kind = models.CharField(max_length=16, default="zip")
    #: "username" or "code": how the PDFs inside are named
    naming = models.CharField(max_length=16, default="code")
    state = models.CharField(max_length=16, default="queued")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=512, blank=True)
    error_message = models.TextField(blank=True)
    #: an archive job's outcome: the import's report, or a refusal's ``{"code", "template", "params"}``
    details = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Export {self.public_id} ({self.kind}, {self.state})"


class LockoutRecord(models.Model):
    """A lockout that happened (the counters and the lock itself live in the Redis cache):
    what instructors list and lift."""

    course_key = models.CharField(max_length=255, db_index=True)
    #: "user" (a username) or "address" (a client IP)
    kind = models.CharField(max_length=16)
    subject = models.CharField(max_length=255)
    locked_until = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Lockout of {self.kind} {self.subject} until {self.locked_until}"


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One state-changing action or download: who, when, from where, what. Append-only."""

    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="audit_events")
    #: plain ids, not foreign keys: the log outlives what it talks about
    copy_id_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    actor = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=16, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"
