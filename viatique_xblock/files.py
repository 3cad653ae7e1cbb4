"""Stored files to the browser after a permission check (never by public URL): streamed, or with
``STORAGE_REDIRECTS`` a redirect to the storage's short-lived signed URL (S3's presigned URLs)."""
import mimetypes
import re
import unicodedata
from urllib.parse import quote

from webob import Response

from viatique_xblock.errors import NotFound
from viatique_xblock.i18n import N_
from viatique_xblock.jsonapi import NO_STORE
from viatique_xblock.platform import conf, storage


def stored_file_response(name, download_name=None, inline=False):
    """A response streaming the stored file ``name``, private and not sniffable.

    With ``download_name`` the browser saves it under that name (``inline``: shows it, e.g. a PDF
    in a new tab, and uses the name when saved)."""
    store = storage.get_storage()
    if not name or not store.exists(name):
        raise NotFound(N_("This file does not exist."))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if conf.get("STORAGE_REDIRECTS") and storage.signs_urls(store):
        return _redirect(store, name, content_type, download_name, inline)
    handle = store.open(name, "rb")
    response = Response(content_type=content_type, app_iter=_chunks(handle))
    response.content_length = store.size(name)
    return _private(response, download_name, inline)


def _redirect(store, name, content_type, download_name, inline):
    """A redirect to the storage's signed URL of ``name``, valid ``SIGNED_URL_SECONDS``; the storage
    answers with this response's type and disposition (signed into the URL) and no caching."""
    parameters = {"ResponseContentType": content_type, "ResponseCacheControl": NO_STORE["Cache-Control"]}
    if download_name:
        parameters["ResponseContentDisposition"] = content_disposition(download_name, inline)
    url = store.url(name, parameters=parameters, expire=conf.get("SIGNED_URL_SECONDS"))
    response = Response(status=302, location=url)
    return _private(response, None)


def _chunks(handle, size=256 * 1024):
    try:
        for block in iter(lambda: handle.read(size), b""):
            yield block
    finally:
        handle.close()


def bytes_response(data, content_type, download_name=None, inline=False):
    """Bytes made on the fly (booklets, a name crop, a masked PDF), private and not sniffable."""
    return _private(Response(body=data, content_type=content_type), download_name, inline)


def _private(response, download_name, inline=False):
    for header, value in NO_STORE.items():
        response.headers[header] = value
    if download_name:
        response.headers["Content-Disposition"] = content_disposition(download_name, inline)
    return response


def content_disposition(download_name, inline=False):
    """A Content-Disposition header value safe for any name (RFC 6266): an ASCII fallback without
    accents, quotes, backslashes or control characters ("mathematiques"), and, when it differs, the
    exact name in RFC 5987 form (``filename*=UTF-8''math%C3%A9matiques``)."""
    unaccented = "".join(char for char in unicodedata.normalize("NFKD", download_name)
                         if not unicodedata.combining(char))
    fallback = re.sub(r'[^A-Za-z0-9._ -]+', "_", unaccented).strip() or "download"
    value = f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\""
    if fallback != download_name:
        value += f"; filename*=UTF-8''{quote(download_name, safe='')}"
    return value
