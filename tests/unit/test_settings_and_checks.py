"""The VIATIQUE settings dict and the system checks that protect a multi-worker deployment."""
from django.core import checks as django_checks
from django.test import override_settings

from viatique_xblock.platform import checks, conf

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/14"}}


def ids(errors):
    return [error.id for error in errors]


def test_defaults_are_documented_and_returned():
    assert conf.get("LEASE_TTL_SECONDS") == 600
    assert conf.get("LOCKOUT_USER_FAILURES") == 5
    assert conf.get("LOCKOUT_ADDRESS_FAILURES") == 100
    assert conf.get("MAX_UPLOAD_BYTES") == 1024 ** 3
    assert conf.get("MAX_PAGES") == 5000
    assert all(doc for _default, doc in conf.SETTINGS.values())


def test_settings_are_read_lazily_from_the_platform():
    with override_settings(VIATIQUE={"LEASE_TTL_SECONDS": 30}):
        assert conf.get("LEASE_TTL_SECONDS") == 30
        assert conf.get("LOCKOUT_SECONDS") == 900
    assert conf.get("LEASE_TTL_SECONDS") == 600


def test_unknown_setting_name_is_an_error_in_code_and_a_warning_in_settings():
    import pytest
    with pytest.raises(KeyError):
        conf.get("LEASE_TTL")
    with override_settings(VIATIQUE={"LEASE_TTL": 30}):
        warnings = checks.check_settings_keys()
    assert ids(warnings) == ["viatique.W001"]
    assert "LEASE_TTL" in warnings[0].msg


@override_settings(DEBUG=False, CACHES=LOCMEM)
def test_e001_per_process_cache_outside_debug():
    errors = checks.check_shared_cache()
    assert ids(errors) == ["viatique.E001"]
    assert errors[0].level == django_checks.ERROR
    assert "LocMemCache" in errors[0].msg


@override_settings(DEBUG=False, CACHES=DUMMY)
def test_e001_dummy_cache_outside_debug():
    assert ids(checks.check_shared_cache()) == ["viatique.E001"]


@override_settings(DEBUG=True, CACHES=LOCMEM)
def test_no_error_with_locmem_in_debug():
    assert checks.check_shared_cache() == []


@override_settings(DEBUG=False, CACHES=REDIS)
def test_no_error_with_redis():
    assert checks.check_shared_cache() == []


@override_settings(DEBUG=False, CACHES=dict(REDIS, local=LOCMEM["default"]), VIATIQUE={"CACHE_ALIAS": "local"})
def test_the_check_follows_the_configured_cache_alias():
    assert ids(checks.check_shared_cache()) == ["viatique.E001"]


@override_settings(VIATIQUE={"CACHE_ALIAS": "missing"})
def test_e002_when_the_alias_does_not_exist():
    assert ids(checks.check_shared_cache()) == ["viatique.E002"]


def test_checks_are_registered_with_django():
    with override_settings(DEBUG=False, CACHES=LOCMEM):
        found = django_checks.run_checks(tags=[django_checks.Tags.caches])
    assert "viatique.E001" in ids(found)
