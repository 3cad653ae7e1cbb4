"""A task that reports what a worker sees, so operators can check that workers
share the web process's database, cache and storage (``manage.py viatique_doctor``)."""
import platform
import socket

from celery import shared_task
from django.core.cache import caches
from django.db import connection

from viatique_xblock.platform import conf, monitoring, storage


@shared_task(name="viatique.health_report", ignore_result=False)
def health_report(nonce):
    """Read back what the web process wrote for ``nonce`` and describe this worker."""
    with monitoring.transaction(task=health_report.name):
        return _report(nonce)


def _report(nonce):
    cache = caches[conf.get("CACHE_ALIAS")]
    store = storage.get_storage()
    name = storage.health_file_name(nonce)
    return {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "database": {"vendor": connection.vendor, "name": str(connection.settings_dict.get("NAME"))},
        "cache_backend": type(cache).__module__ + "." + type(cache).__name__,
        "cache_seen": cache.get(f"viatique:health:{nonce}") == nonce,
        "storage_backend": type(store).__module__ + "." + type(store).__name__,
        "storage_seen": store.exists(name) and store.open(name).read().decode() == nonce,
    }
