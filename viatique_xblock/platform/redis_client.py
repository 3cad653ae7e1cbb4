"""The Redis client behind the platform's cache, for the atomic steps of leases and the lockout.

Grading leases and lockout counters live in the Django cache named by
``VIATIQUE["CACHE_ALIAS"]``. When that cache keeps its data in Redis, their
changes run as Lua scripts on the cache's own redis-py client, so that each is
one atomic step across every web worker. Two cache backends are understood:

- django-redis's ``django_redis.cache.RedisCache`` (what Tutor configures);
- Django's own ``django.core.cache.backends.redis.RedisCache`` (Django 4.0+), whose
  writes always go to its first server.

Any other cache gives ``None``, and callers fall back to plain cache calls
(per-process caches are refused outside DEBUG by the system check viatique.E001).
"""


def raw_client(cache):
    """The redis-py client that writes to ``cache``'s Redis, or None if the cache is not Redis."""
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
    except ImportError:  # django-redis is optional: the platform may use Django's own backend
        DjangoRedisCache = None
    if DjangoRedisCache is not None and isinstance(cache, DjangoRedisCache):
        return cache.client.get_client(write=True)
    from django.core.cache.backends.redis import RedisCache
    if isinstance(cache, RedisCache):
        # RedisCache keeps its client wrapper in ``_cache``; write=True is the first (primary) server
        return cache._cache.get_client(write=True)
    return None
