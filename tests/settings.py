"""Test settings: the demo host's settings on the machine's real services.

- database: MariaDB (``DATABASE_URL``, default ``mysql://root@127.0.0.1:3306/test``);
  pytest-django creates ``test_test`` and drops it at the end of the run.
- cache: Redis (``REDIS_URL``, default db 14) under a key prefix unique to the run,
  deleted at the end of the run by ``tests/conftest.py``.
- files: a temporary folder removed at the end of the run.
"""
import os
import tempfile
import uuid

RUN_ID = uuid.uuid4().hex[:10]
os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ["CACHE_KEY_PREFIX"] = f"viatique-test-{RUN_ID}"
if not os.environ.get("VIATIQUE_VAR_DIR"):
    os.environ["VIATIQUE_VAR_DIR"] = tempfile.mkdtemp(prefix="viatique-test-")
os.environ.setdefault("DEBUG", "0")
# the demo host refuses its published key with DEBUG off; subprocesses (workers, manage.py) inherit this one
os.environ.setdefault("SECRET_KEY", f"viatique-tests-{uuid.uuid4().hex}")
os.environ.pop("CELERY_BROKER_URL", None)  # tasks run eagerly unless a test starts a worker

from demo_host.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A database of its own per run, so concurrent runs on one machine never share one;
# pytest-django drops it at the end of the run.
DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_viatique_{RUN_ID}"
