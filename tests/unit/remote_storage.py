"""Storages that behave as an object store does for the code (S3): files by name, none on this machine.

``storage.path()`` called from outside the storage is recorded and raises, so a test proves that no code path asks for a local file
(the record catches a call that a broad ``except`` would swallow). Opens are counted per name.
:class:`SigningRemoteStorage` also signs its URLs as django-storages' S3 storage does.
"""
import collections
import sys
from urllib.parse import quote, urlencode

import pytest
from django.core.files.storage import InMemoryStorage

PATH_CALLS = []


class RemoteOnlyStorage(InMemoryStorage):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.opened = collections.Counter()

    def path(self, name):
        if sys._getframe(1).f_globals.get("__name__", "").startswith("django.core.files.storage"):
            return super().path(name)  # InMemoryStorage keys its files by path, inside itself
        PATH_CALLS.append(name)
        raise AssertionError(f"storage.path({name!r}) was called: the file may be on another machine (S3)")

    def open(self, name, mode="rb"):
        self.opened[name] += 1
        return super().open(name, mode)


class OverwritingRemoteStorage(RemoteOnlyStorage):
    """Saves replace a file in place, as django-storages' S3 storage does with ``file_overwrite``; counts
    the questions asked before writing."""

    file_overwrite = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.asked = 0

    def exists(self, name):
        if not sys._getframe(1).f_globals.get("__name__", "").startswith("django.core.files.storage"):
            self.asked += 1
        return super().exists(name)

    def get_available_name(self, name, max_length=None):
        return name


class SigningRemoteStorage(RemoteOnlyStorage):
    """What django-storages' S3 storage answers for ``url(name, parameters, expire)``."""

    querystring_auth = True
    custom_domain = None

    def url(self, name, parameters=None, expire=None):
        query = urlencode({**(parameters or {}), "X-Amz-Expires": expire, "X-Amz-Signature": "signed"})
        return f"https://objects.example/bucket/{quote(name)}?{query}"


@pytest.fixture
def remote_storage(settings, tmp_path, monkeypatch):
    """The plugin's storage is a fresh :class:`RemoteOnlyStorage`; this machine's temporary folder and
    copies of stored files in folders of the test's own. Fails the test if anything called ``path()``."""
    import tempfile

    from viatique_xblock.platform import storage

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings.STORAGES = {**settings.STORAGES, "viatique-remote": {"BACKEND": f"{__name__}.RemoteOnlyStorage"}}
    settings.VIATIQUE = {**settings.VIATIQUE, "STORAGE": "viatique-remote", "LOCAL_CACHE_DIR": str(tmp_path / "cache")}
    del PATH_CALLS[:]
    yield storage.get_storage()
    assert not PATH_CALLS, f"storage.path() was called for {PATH_CALLS}"


@pytest.fixture
def signing_storage(settings, remote_storage):
    settings.STORAGES = {**settings.STORAGES, "viatique-remote": {"BACKEND": f"{__name__}.SigningRemoteStorage"}}
    from viatique_xblock.platform import storage

    return storage.get_storage()
