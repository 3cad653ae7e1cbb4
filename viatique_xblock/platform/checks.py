"""Django system checks for a safe Viatique deployment.

``viatique.E001``: the cache that holds grading leases and lockout counters is
per-process (LocMemCache) or a no-op (DummyCache) while DEBUG is off. With
several web workers each worker would then keep its own leases and counters:
two graders could edit one copy and the lockout would never trigger.

``viatique.W002``: ``STORAGE_REDIRECTS`` is on but the storage does not sign its URLs (a local
file system, a public custom domain): downloads are streamed instead of redirected.
"""
from django.conf import settings
from django.core import checks

from viatique_xblock.platform import conf

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "per-process",
    "django.core.cache.backends.dummy.DummyCache": "a no-op",
}


@checks.register(checks.Tags.caches, deploy=False)
def check_shared_cache(app_configs=None, **kwargs):
    """Refuse a per-process cache for leases and lockout outside DEBUG."""
    errors = []
    alias = conf.get("CACHE_ALIAS")
    caches = getattr(settings, "CACHES", {}) or {}
    if alias not in caches:
        errors.append(
            checks.Error(
                f"VIATIQUE['CACHE_ALIAS'] names the cache {alias!r}, which is not in CACHES.",
                hint="Point CACHE_ALIAS at a django-redis cache shared by every web worker.",
                id="viatique.E002",
            )
        )
        return errors
    backend = caches[alias].get("BACKEND", "")
    kind = PER_PROCESS_CACHES.get(backend)
    if kind and not settings.DEBUG:
        errors.append(
            checks.Error(
                f"The cache {alias!r} that holds Viatique's grading leases and lockout counters "
                f"is {kind} ({backend}).",
                hint=(
                    "Each web worker would keep its own leases and lockout counters, so two graders "
                    "could edit one copy and lockout would silently do nothing. Use a cache shared "
                    "by all workers (django-redis), or set VIATIQUE['CACHE_ALIAS'] to one."
                ),
                id="viatique.E001",
            )
        )
    return errors


@checks.register(deploy=False)
def check_settings_keys(app_configs=None, **kwargs):
    """Warn about keys of VIATIQUE that do not exist (a typo keeps the default silently)."""
    return [
        checks.Warning(
            f"VIATIQUE[{key!r}] is not a Viatique setting and is ignored.",
            hint="See docs/settings.md for the settings and their defaults.",
            id="viatique.W001",
        )
        for key in conf.unknown_keys()
    ]


@checks.register(deploy=False)
def check_storage_redirects(app_configs=None, **kwargs):
    """``STORAGE_REDIRECTS`` on a storage whose URLs are not signed: downloads are streamed instead."""
    if not conf.get("STORAGE_REDIRECTS"):
        return []
    from viatique_xblock.platform import storage

    store = storage.get_storage()
    if storage.signs_urls(store):
        return []
    backend = type(store).__module__ + "." + type(store).__name__
    return [checks.Warning(
        f"VIATIQUE['STORAGE_REDIRECTS'] is on, but the storage ({backend}) does not sign its URLs: "
        "downloads are streamed through the web workers.",
        hint="Use django-storages' S3 storage with querystring_auth (its default) and no unsigned custom_domain, "
             "or turn STORAGE_REDIRECTS off.",
        id="viatique.W002",
    )]
