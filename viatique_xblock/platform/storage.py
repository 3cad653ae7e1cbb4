"""Where Viatique keeps files: Django's storage API, a named storage if configured.

Files are never served from the storage's public URL: handlers stream them
after a permission check, or redirect to a short-lived signed URL (``STORAGE_REDIRECTS``).
Code that needs a file on this machine (PyMuPDF, zipfile) gets a copy (:func:`local_file`),
never ``storage.path()``: the worker may not see the web server's disk (S3). Names are built
here so every file of the plugin lives under ``VIATIQUE['STORAGE_PREFIX']``.
"""
import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage, storages

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


def signs_urls(store):
    """Whether ``store.url(name, expire=...)`` is a signed, expiring URL: django-storages' S3 storage
    with query-string authentication, on the bucket's own host or behind a signing CloudFront.
    A file system storage's URL is public (or nothing at all): never redirect there."""
    if not getattr(store, "querystring_auth", False):
        return False
    return not getattr(store, "custom_domain", None) or getattr(store, "cloudfront_signer", None) is not None


def health_file_name(nonce):
    return file_name("health", f"{nonce}.txt")


def overwrite(name, data):
    """Write ``data`` under exactly ``name``, replacing what was there (a redelivered task or a
    re-sent chunk writes the same name again); returns the name.

    A storage that replaces a file in place (django-storages' S3 with ``file_overwrite``, its
    default: a PUT replaces the object whole) is written in one request, without asking first."""
    store = get_storage()
    if getattr(store, "file_overwrite", False):
        store.save(name, ContentFile(data))
        return name
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


# ------------------------------------------------------------------ files read on this machine
#
# PyMuPDF and zipfile need a file they can seek in. The storage may be remote (S3: the Celery worker
# never sees the web server's disk), so a stored file is never read at ``storage.path()``: it is
# copied, streamed from the storage, into a folder of this machine (or, when the storage is a folder
# of the same file system, hard-linked there: the storage replaces a file with a new one, never
# rewrites it, so the link keeps the version it was made of, as a copy would). Scans are read
# by every range task and every render of their copies, so the copy is kept there, under a name
# made of the stored file's name, size and modification time (a file rewritten in place, as
# retirement does to a scan, is copied again), in at most ``LOCAL_CACHE_BYTES``.

COPY_CHUNK = 1024 * 1024


def cache_dir():
    """This machine's folder for copies of stored files: ``LOCAL_CACHE_DIR``, else one per user in ``TMPDIR``."""
    return conf.get("LOCAL_CACHE_DIR") or os.path.join(tempfile.gettempdir(), f"viatique-cache-{os.getuid()}")


def _signature(store, name):
    """What tells one version of a stored file from another: size and modification time, or None
    when the storage cannot say (then no copy is kept)."""
    try:
        return store.size(name), store.get_modified_time(name).timestamp()
    except NotImplementedError:
        return None


def _download(store, name, target):
    """Put the stored file at ``target``: a hard link to it when the storage is a folder of this machine's
    file system that ``target`` shares (nothing is copied: a scan of 4,000 pages is 450 MB, which took
    0.8 s to copy), else streamed from the storage (S3, another file system)."""
    if isinstance(store, FileSystemStorage):  # only it says its files are this machine's (not S3's)
        try:
            os.link(store.path(name), target)
            return
        except OSError:  # another file system, links not allowed: copied
            pass
    with store.open(name, "rb") as source, open(target, "wb") as handle:
        shutil.copyfileobj(source, handle, COPY_CHUNK)


@contextlib.contextmanager
def local_file(name, suffix=".pdf"):
    """A path on this machine holding the stored file ``name`` for the duration, read only.

    A copy kept in :func:`cache_dir` when ``LOCAL_CACHE_BYTES`` allows, else a temporary copy
    removed on exit. Never the storage's own path, which only a local file system has."""
    store = get_storage()
    budget = conf.get("LOCAL_CACHE_BYTES")
    signature = _signature(store, name) if budget else None
    if signature is None or signature[0] > budget:
        with tempfile.TemporaryDirectory(prefix="viatique-file-") as folder:
            target = os.path.join(folder, "file" + suffix)
            _download(store, name, target)
            yield target
        return
    folder = cache_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    key = hashlib.sha256(repr((_backend_id(store), name, signature)).encode()).hexdigest()
    cached = os.path.join(folder, key + suffix)
    # A private hard link: another process evicting the cached copy leaves ours whole.
    private = os.path.join(folder, f".{uuid.uuid4().hex}{suffix}")
    if not _link(cached, private):
        # one copy per machine: the worker processes that start on a new scan together wait for the first
        # one's copy instead of each making their own (a scan of 4,000 pages is 450 MB)
        with _copy_lock(folder, key):
            if not _link(cached, private):
                part = private + ".part"
                try:
                    _download(store, name, part)
                    os.replace(part, private)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(part)
                    raise
                with contextlib.suppress(FileExistsError):
                    os.link(private, cached)
                _evict(folder, budget)
    try:
        yield private
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(private)


def _link(cached, private):
    """Hard-link the cached copy to ``private`` (and mark it recently used); False when there is none."""
    try:
        os.link(cached, private)
    except FileNotFoundError:
        return False
    with contextlib.suppress(FileNotFoundError):
        os.utime(cached)
    return True


@contextlib.contextmanager
def _copy_lock(folder, key):
    """Hold this machine's lock on making the copy ``key`` (an advisory lock on a file of the cache folder,
    released when the process ends however it ends; the file is removed with the stale ones by :func:`_evict`)."""
    with open(os.path.join(folder, f".{key}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _backend_id(store):
    return type(store).__module__, type(store).__name__, getattr(store, "bucket_name", None) or getattr(
        store, "location", None)


def _evict(folder, budget):
    """Remove the least recently used copies until the folder holds at most ``budget`` bytes."""
    entries = []
    stale = time.time() - 2 * conf.get("TASK_TIME_LIMIT")
    for entry in os.scandir(folder):
        with contextlib.suppress(FileNotFoundError):
            stat = entry.stat()
            if not entry.name.startswith("."):
                entries.append((stat.st_mtime, stat.st_size, entry.path))
            elif stat.st_mtime < stale:  # left by a process killed while it used or wrote a copy
                os.unlink(entry.path)
    total = sum(size for _mtime, size, _path in entries)
    for _mtime, size, path in sorted(entries):
        if total <= budget:
            break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        total -= size


@contextlib.contextmanager
def local_files(names, suffix=".pdf"):
    """``{name: local path}`` for several stored files at once (see :func:`local_file`)."""
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(local_file(name, suffix)) for name in names}
