"""WSGI entry point of the demo host (gunicorn demo_host.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_host.settings")
application = get_wsgi_application()

# The workbench loads its scenarios (and so learns their usage ids) the first time a process shows a
# page; a handler call reaching a web worker that never showed one would answer 404. Load them now,
# so every gunicorn worker answers handler calls from its first request.
from workbench.scenarios import get_scenarios  # noqa: E402

get_scenarios()
