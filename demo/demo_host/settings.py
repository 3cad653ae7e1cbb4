"""Settings of the demo host, from environment variables.

- ``DATABASE_URL``: ``mysql://root@127.0.0.1:3306/viatique``, ``postgres://...``; SQLite under var/ when unset.
- ``REDIS_URL``: the django-redis cache for leases and lockout; a per-process cache when unset (DEBUG only).
- ``CELERY_BROKER_URL``: the broker; tasks run eagerly in the web process when unset.
- ``DEBUG`` (default 1), ``VIATIQUE_VAR_DIR`` (default <repo>/var).
- ``S3_BUCKET``: files in that S3 bucket (django-storages' S3 storage, boto3) instead of ``<var>/media``;
  ``S3_ENDPOINT_URL`` (an S3-compatible server: MinIO, Ceph's radosgw), ``S3_ACCESS_KEY_ID``,
  ``S3_SECRET_ACCESS_KEY`` (else boto3's own lookup), ``S3_REGION`` (default us-east-1).
- ``SECRET_KEY``; when unset, the one kept in ``<VIATIQUE_VAR_DIR>/secret_key`` (``make serve`` creates it),
  else the published :data:`PUBLISHED_SECRET_KEY`, which is refused when DEBUG is off.
"""
import importlib.util
import json
import os

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured
from workbench.settings import *  # noqa: F401,F403  (the workbench's own settings are the base)
from workbench.settings import INSTALLED_APPS, MIDDLEWARE, TEMPLATES, WORKBENCH

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VAR_DIR = os.environ.get("VIATIQUE_VAR_DIR") or os.path.join(REPO_DIR, "var")
os.makedirs(VAR_DIR, exist_ok=True)


def env_flag(name, default):
    return os.environ.get(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


DEBUG = env_flag("DEBUG", True)
TEMPLATES[0]["OPTIONS"]["debug"] = DEBUG
#: the key of `make demo` (DEBUG on): it is in this file for all to read, so it signs nothing that matters
PUBLISHED_SECRET_KEY = "viatique-demo-host-not-secret"
SECRET_KEY_FILE = os.path.join(VAR_DIR, "secret_key")


def secret_key():
    """``SECRET_KEY`` from the environment, else the var dir's ``secret_key`` file, else the published one."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if not key and os.path.exists(SECRET_KEY_FILE):
        with open(SECRET_KEY_FILE) as handle:
            key = handle.read().strip()
    return key or PUBLISHED_SECRET_KEY


SECRET_KEY = secret_key()
if not DEBUG and SECRET_KEY == PUBLISHED_SECRET_KEY:
    # Signed download links, sessions and CSRF tokens would be forgeable by anyone who read this file.
    raise ImproperlyConfigured(
        f"The demo host refuses to run with DEBUG off and the published SECRET_KEY ({PUBLISHED_SECRET_KEY!r}): "
        "anyone could forge its signed download links. Set SECRET_KEY in the environment, or put a random key in "
        f"{SECRET_KEY_FILE} (`make serve` creates one there, mode 600)."
    )
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    host for host in os.environ.get("ALLOWED_HOSTS", "").split(",") if host
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(VAR_DIR, "workbench.db"),
        # persistent connections (checked before reuse), as a production platform runs: opening a
        # MariaDB connection for every request costs more than most grading handlers
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and django.VERSION >= (5, 1):
    # several graders at once (the full-window workspace saves, claims and fetches ahead in parallel): a
    # transaction takes the write lock when it starts, so none fails with "database is locked" when it
    # upgrades a read lock while another writes; it waits instead (Django 5.1+; Teak's 4.2 keeps SQLite's default)
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {})["charset"] = "utf8mb4"
    DATABASES["default"].setdefault("TEST", {})["CHARSET"] = "utf8mb4"
    DATABASES["default"]["TEST"]["COLLATION"] = "utf8mb4_unicode_ci"

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "viatique-demo"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (REDIS_URL if CELERY_BROKER_URL else None)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_DEFAULT_QUEUE", "viatique-demo")

INSTALLED_APPS = list(INSTALLED_APPS) + ["submissions", "viatique_xblock", "demo_host"]
MIDDLEWARE = list(MIDDLEWARE)
MIDDLEWARE.insert(0, "whitenoise.middleware.WhiteNoiseMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.common.CommonMiddleware"),
                  "django.middleware.locale.LocaleMiddleware")
ROOT_URLCONF = "demo_host.urls"
WSGI_APPLICATION = "demo_host.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"

STATIC_ROOT = os.path.join(VAR_DIR, "static")
MEDIA_ROOT = os.path.join(VAR_DIR, "media")

def s3_storage(bucket):
    """django-storages' S3 storage on ``bucket``: private objects, presigned URLs (the block hands them
    out only after its permission check, with STORAGE_REDIRECTS), objects read back through a spool
    that goes to disk past 16 MB (the default keeps a whole scan in memory)."""
    options = {
        "bucket_name": bucket,
        "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("S3_REGION") or "us-east-1",
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": True,  # a page image or ZIP written again replaces the object in one PUT
        "max_memory_size": 16 * 1024 * 1024,
        "signature_version": "s3v4",
        "addressing_style": "path",
    }
    if os.environ.get("S3_ACCESS_KEY_ID"):
        options.update(access_key=os.environ["S3_ACCESS_KEY_ID"], secret_key=os.environ.get("S3_SECRET_ACCESS_KEY", ""))
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    # Scans, page images and graded PDFs: never served by URL, only through the block's handlers.
    "default": s3_storage(os.environ["S3_BUCKET"]) if os.environ.get("S3_BUCKET") else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": "/no-public-media/"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Only the Viatique block on the workbench's index page.
EXCLUDED_XBLOCKS = {
    "allscopes_demo", "attempts_scoreboard_demo", "equality_demo", "filethumbs", "helloworld_demo",
    "html_demo", "problem_demo", "sidebar_demo", "slider_demo", "textinput_demo", "thumbs",
    "view_counter_demo",
}

WORKBENCH = dict(WORKBENCH)
# Several gunicorn workers load the scenarios; none may wipe what another stored.
WORKBENCH["reset_state_on_restart"] = False
WORKBENCH["services"] = dict(WORKBENCH.get("services", {}), user="demo_host.services.DemoUserService",
                             viatique_roster="demo_host.services.DemoRosterService")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING"},
        "viatique_xblock": {"handlers": ["console"], "level": "INFO"},
    },
}

#: the demo class: username -> full name. instructor_* are instructors, staff_* graders.
VIATIQUE_DEMO_ROSTER = [
    ("learner_1", "Chloé Dubois"), ("learner_2", "Léo Martin"), ("learner_3", "Inès Bernard"),
    ("learner_4", "Hugo Petit"), ("learner_5", "Zoé Lefèvre"), ("learner_6", "Noé Garnier"),
    ("learner_7", "Anaïs Roux"), ("learner_8", "Maël Fontaine"), ("learner_9", "Élodie Chevalier"),
    ("learner_10", "Jules Mercier"), ("learner_11", "Lina Faure"), ("learner_12", "Gabriel Bonnet"),
]
VIATIQUE_DEMO_STAFF = [("instructor_1", "Marie Curie"), ("staff_1", "Paul Langevin"), ("staff_2", "Irène Joliot")]

VIATIQUE = {
    "CELERY_QUEUE": os.environ.get("VIATIQUE_CELERY_QUEUE") or None,
    # copies of stored scans that PDF work reads, on this machine: in the var dir, with the rest
    "LOCAL_CACHE_DIR": os.path.join(VAR_DIR, "cache"),
    # any other setting as JSON, e.g. VIATIQUE_SETTINGS='{"PAGES_PER_TASK": 20}'
    **json.loads(os.environ.get("VIATIQUE_SETTINGS") or "{}"),
}

# With a Redis broker, a task whose worker died is delivered again once it has been unacknowledged
# longer than the visibility timeout (kombu's default: one hour; looked for when a worker starts, then
# every 100 s). Tasks are idempotent, so a redelivery is harmless, but a live task must never reach
# it: the default is the hard time limit of Viatique's tasks plus their longest retry countdown (60 s,
# workers/scanning.py) and a margin. CELERY_BROKER_TRANSPORT_OPTIONS (JSON, e.g.
# '{"visibility_timeout": 600}') sets these options instead. See docs/operations.md.
VISIBILITY_TIMEOUT_MARGIN = 90


def broker_transport_options():
    """CELERY_BROKER_TRANSPORT_OPTIONS from the environment, with a visibility timeout unless it sets one."""
    options = json.loads(os.environ.get("CELERY_BROKER_TRANSPORT_OPTIONS") or "{}")
    if "visibility_timeout" not in options:
        from viatique_xblock.platform.conf import SETTINGS  # reads no setting at import

        time_limit = VIATIQUE.get("TASK_TIME_LIMIT", SETTINGS["TASK_TIME_LIMIT"][0])
        options["visibility_timeout"] = int(time_limit) + VISIBILITY_TIMEOUT_MARGIN
    return options


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options()

# xblock-sdk 0.14 (the last release for Python 3.11, the platform's Python) ships its workbench's model
# without a migration, so `migrate` would never create its table: the demo host brings that migration.
if importlib.util.find_spec("workbench.migrations") is None:
    MIGRATION_MODULES = {"workbench": "demo_host.workbench_migrations"}
