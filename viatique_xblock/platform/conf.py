"""The ``VIATIQUE`` settings dict: documented defaults, read lazily.

Every key below can be overridden in the platform's Django settings::

    VIATIQUE = {"MAX_UPLOAD_BYTES": 512 * 1024 * 1024, "CELERY_QUEUE": "edx.lms.core.default"}

Values are read from ``django.conf.settings`` on every call (no import-time
snapshot), so ``override_settings`` in tests and late platform configuration
(Tutor plugins patching settings after import) both take effect.
"""
from django.conf import settings as django_settings

GIB = 1024 ** 3

#: name -> (default, documentation). docs/settings.md is generated from this table.
SETTINGS = {
    "MAX_UPLOAD_BYTES": (GIB, "Largest scan PDF accepted, in bytes."),
    "MAX_PAGES": (5000, "Largest number of pages in one scan PDF."),
    "MAX_SUBJECT_BYTES": (
        50 * 1024 * 1024,
        "Largest blank exam PDF (the subject the print screen prints booklets on) accepted, in bytes.",
    ),
    "MAX_PAGE_SIDE_POINTS": (
        3370,
        "Largest page side in PDF points (1/72 in); 3370 is an A0 side. Larger pages are refused.",
    ),
    "MAX_PAGE_PIXELS": (
        60_000_000,
        "Pixel budget of one page at the page-image DPI, or of one embedded image; "
        "pages over it are refused (decompression bombs).",
    ),
    "PAGE_IMAGE_DPI": (150, "Resolution of the page images shown to graders when a page must be rendered."),
    "THUMBNAIL_WIDTH": (180, "Width in pixels of page thumbnails."),
    "NAME_CROP_WIDTH": (600, "Width in pixels of the name area shown at the identification desk."),
    "PAGES_PER_TASK": (
        100,
        "Pages processed by one Celery task; a large scan is spread over several tasks (and workers). In a scan of "
        "more than two tasks, its last PAGES_PER_TASK pages go in tasks of a quarter of that, so that the workers "
        "finish together.",
    ),
    "UPLOAD_CHUNK_BYTES": (
        2 * 1024 * 1024,
        "Size of one chunk of a resumable upload (kept under Django's DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB "
        "by default, in case the platform reads request bodies before the block does).",
    ),
    "LEASE_TTL_SECONDS": (600, "A grading lease expires after this many seconds without a heartbeat."),
    "LEASE_HEARTBEAT_SECONDS": (30, "How often the grading client renews its lease."),
    "DRAFT_AUTOSAVE_SECONDS": (2, "Delay after the last change before the grading client autosaves."),
    "LOCKOUT_USER_FAILURES": (5, "Denied requests by one user, within the window, that lock that user out."),
    "LOCKOUT_ADDRESS_FAILURES": (
        100,
        "Denied requests from one client address, within the window, that lock the address out "
        "(high, because a whole school often shares one NAT address).",
    ),
    "LOCKOUT_WINDOW_SECONDS": (900, "Window over which denied requests are counted."),
    "LOCKOUT_SECONDS": (900, "How long a lockout lasts."),
    "SIGNED_URL_SECONDS": (300, "Lifetime of signed download URLs."),
    "EXPORT_RETENTION_DAYS": (
        7,
        "ZIP exports of graded PDFs, exam archives and booklet PDFs built from the dashboard older than this many "
        "days are deleted by the viatique_purge_exports command (run it daily); 0 keeps them.",
    ),
    "ARCHIVE_IMPORT_MAX_BYTES": (
        GIB,
        "Largest exam archive an instructor may upload from the dashboard to import, in bytes (the upload is "
        "held in the web worker's memory while it is stored; larger archives: viatique_import_exam).",
    ),
    "SIGNED_URLS_ENABLED": (
        True,
        "Whether the download_url handler hands out short-lived signed links to graded PDFs (for a new tab "
        "or a PDF viewer). Off: it refuses, and a link's signature is no longer checked (the handler's "
        "permission check alone decides, as for every download).",
    ),
    "CACHE_ALIAS": (
        "default",
        "Django cache holding leases and lockout counters. It must be shared by every web worker "
        "(django-redis in production); system check viatique.E001 refuses a per-process cache.",
    ),
    "STORAGE": (
        None,
        "Name of a storage in Django's STORAGES for scans, page images and graded PDFs; "
        "None uses the default storage.",
    ),
    "STORAGE_PREFIX": ("viatique", "Folder, inside the storage, under which every file of the plugin is kept."),
    "LOCAL_CACHE_BYTES": (
        2 * GIB,
        "Room, in each machine's temporary folder (TMPDIR), for copies of the stored scans that PDF work reads "
        "(page images, graded PDFs, retirement): the storage may be remote (S3), so a scan is copied once per "
        "machine and version, not once per task; least recently used copies go beyond it. 0: a temporary copy "
        "per task.",
    ),
    "LOCAL_CACHE_DIR": (
        None,
        "Folder, on each machine, for those copies (made if missing, mode 700); None: viatique-cache-<uid> in the "
        "temporary folder (TMPDIR).",
    ),
    "STORAGE_REDIRECTS": (
        False,
        "Whether downloads (graded PDFs, page images, ZIP exports, archives) are answered, after the permission "
        "check, with a redirect to the storage's own signed URL valid SIGNED_URL_SECONDS (S3: a presigned URL) "
        "instead of being streamed through the web worker. Only a storage whose URLs are signed is redirected to "
        "(django-storages' S3 with querystring_auth, no unsigned custom_domain); others are still streamed, and "
        "system check viatique.W002 says so.",
    ),
    "CELERY_QUEUE": (
        None,
        "Celery queue for PDF work; None sends tasks to the platform's default queue.",
    ),
    "TASK_SOFT_TIME_LIMIT": (600, "Soft time limit, in seconds, of one PDF task."),
    "TASK_TIME_LIMIT": (900, "Hard time limit, in seconds, of one PDF task."),
    "RECOVER_AFTER_SECONDS": (
        3600,
        "Work still unfinished this many seconds after its last step is queued again by the viatique_recover "
        "command and the periodic task viatique.recover: an upload being assembled, a scan batch whose tasks "
        "stopped, a copy waiting for its graded PDF, a ZIP export queued or running (a running one no sooner "
        "than TASK_TIME_LIMIT after its task started). Keep it above TASK_TIME_LIMIT.",
    ),
    "ABANDONED_UPLOAD_SECONDS": (
        86400,
        "An upload whose chunks stopped arriving this many seconds ago is removed, with its chunks, by "
        "viatique_recover and viatique.recover (choosing the file again then starts a new upload).",
    ),
    "SHOW_GRADER_IDENTITY": (False, "Whether learners see who graded their copy (course policy)."),
    "HIDE_GRADER_IDENTITIES": (
        False,
        "Whether graders see another grader holding a copy's lease, or given a copy, as an anonymous label "
        "(\"Grader 3\", stable within the exam) instead of their name; instructors always see names.",
    ),
}

DEFAULTS = {name: default for name, (default, _doc) in SETTINGS.items()}


def overrides():
    """The ``VIATIQUE`` dict of the platform's settings (empty when not set)."""
    value = getattr(django_settings, "VIATIQUE", None) or {}
    if not isinstance(value, dict):
        return {}
    return value


def get(name):
    """The current value of one setting: the platform's override, else the default."""
    if name not in DEFAULTS:
        raise KeyError(f"Unknown Viatique setting {name!r}")
    return overrides().get(name, DEFAULTS[name])


def unknown_keys():
    """Keys of the platform's ``VIATIQUE`` dict that this version does not know (typos)."""
    return sorted(set(overrides()) - set(DEFAULTS))
