"""WSGI entry point of the demo host (gunicorn demo_host.wsgi)."""
import fcntl
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_host.settings")
application = get_wsgi_application()

# The workbench loads its scenarios (and so learns their usage ids) the first time a process shows a
# page; a handler call reaching a web worker that never showed one would answer 404. Load them now,
# so every gunicorn worker answers handler calls from its first request. Loading writes the blocks'
# state rows with get_or_create, which is not safe when three workers start at once (two rows, then
# MultipleObjectsReturned): the workers take turns, through a lock file.
from workbench.scenarios import get_scenarios  # noqa: E402

os.makedirs(settings.VAR_DIR, exist_ok=True)
with open(os.path.join(settings.VAR_DIR, ".scenarios.lock"), "w") as _lock:
    fcntl.flock(_lock, fcntl.LOCK_EX)
    try:
        get_scenarios()
    finally:
        fcntl.flock(_lock, fcntl.LOCK_UN)

# Ready this worker for Viatique's handlers now rather than on its first graders' requests (the
# Redis client, Celery's producer, the connections), then keep everything loaded so far out of
# the garbage collector's full collections (see viatique_xblock/platform/warmup.py).
import sys  # noqa: E402

from viatique_xblock.platform.warmup import freeze_startup_objects, warm_up  # noqa: E402

_warmed = warm_up()
_frozen = freeze_startup_objects()
print(f"viatique warm-up pid={os.getpid()} {_warmed} frozen_objects={_frozen}", file=sys.stderr, flush=True)
