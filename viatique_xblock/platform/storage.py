"""Where Viatique keeps files: Django's storage API, a named storage if configured.

Files are never served from the storage's public URL: handlers stream them
after a permission check. Names are built here so every file of the plugin
lives under ``VIATIQUE['STORAGE_PREFIX']``.
"""
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages

from viatique_xblock.platform import conf


def get_storage():
    """The configured storage (``VIATIQUE['STORAGE']`` in ``STORAGES``), else the default one."""
    name = conf.get("STORAGE")
    if name:
        return storages[name]
    return default_storage


def file_name(*parts):
    """A storage name under the plugin's prefix: ``viatique/<part>/<part>``."""
    return "/".join([conf.get("STORAGE_PREFIX").strip("/")] + [str(part).strip("/") for part in parts])


def health_file_name(nonce):
    return file_name("health", f"{nonce}.txt")


def overwrite(name, data):
    """Write ``data`` under exactly ``name``, replacing what was there (a redelivered task or a
    re-sent chunk writes the same name again); returns the name."""
    store = get_storage()
    if store.exists(name):
        store.delete(name)
    saved = store.save(name, ContentFile(data))
    if saved != name:  # a concurrent writer of the same content took the name first
        store.delete(saved)
    return name


def write_once(name, data):
    """Write ``data`` under ``name`` unless a file is there already; returns the name.

    For images derived on request (thumbnails, masked covers), whose name says what they hold:
    two requests making the same one at once must not delete the file the other is streaming,
    which :func:`overwrite` would do."""
    store = get_storage()
    if store.exists(name):
        return name
    saved = store.save(name, ContentFile(data))
    if saved != name:  # another request stored it first: keep theirs
        store.delete(saved)
    return name
