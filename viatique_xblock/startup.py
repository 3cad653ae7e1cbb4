"""The startup data of the block's scripts, written into the HTML they start from (a view's fragment,
the full-window workspace page)."""
from django.utils.html import json_script
from django.utils.safestring import mark_safe

#: marks the block's startup data element (read by ViatiqueCommon.startupArgs in viatique_common.js)
STARTUP_ATTRIBUTE = "data-viatique-startup"


def startup_script(data):
    """``data`` as a ``<script type="application/json" data-viatique-startup>`` element for the block's HTML.

    The exam's title, the scheme's labels and the username are text anyone may have typed. Passed as the
    runtime's init arguments, they are written by the host into a ``<script>`` element, unescaped by some
    (the xblock-sdk workbench): a title holding ``</script>`` ended that element and the rest ran as HTML.
    Django's ``json_script`` writes ``<``, ``>`` and ``&`` as ``\\u`` escapes, so nothing in the data can end
    or comment out this element whatever host renders it, and ``JSON.parse`` gives the text back as it was.
    """
    element = json_script(data)  # '<script type="application/json">...</script>', the data escaped
    return mark_safe(element.replace("<script ", f"<script {STARTUP_ATTRIBUTE} ", 1))
