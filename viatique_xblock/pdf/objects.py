"""Writing PDF streams quickly with PyMuPDF's low-level MuPDF bindings.

Public API:

- ``store_deflated(doc, xref, data)``: ``data`` becomes the stream of object ``xref``, deflated
  by zlib at its default level (MuPDF's own deflate, used by ``update_stream(compress=True)``,
  is several times slower), with ``/Filter /FlateDecode``.
- ``new_stream(doc, dictionary, data, deflate=True) -> xref``: a new stream object.
"""
import zlib

import pymupdf
from pymupdf import mupdf


def store_deflated(doc, xref, data):
    pdf = pymupdf._as_pdf_document(doc)
    obj = mupdf.pdf_new_indirect(pdf, xref, 0)
    mupdf.pdf_dict_dels(obj, "DecodeParms")
    mupdf.pdf_dict_puts(obj, "Filter", mupdf.pdf_new_name("FlateDecode"))
    mupdf.pdf_update_stream(pdf, obj, mupdf.fz_new_buffer_from_copied_data(zlib.compress(data)), 1)


def new_stream(doc, dictionary, data, deflate=True):
    xref = doc.get_new_xref()
    doc.update_object(xref, dictionary)
    if deflate:
        store_deflated(doc, xref, data)
    else:
        doc.update_stream(xref, data, compress=False)
    return xref
