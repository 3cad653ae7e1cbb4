"""Course export and import (OLX) of the block, in both forms the platform uses.

Inline: every setting is an attribute of the element in the unit,
``<viatique url_name="exam1" display_name="..." marking_scheme="{...}"/>``.
Pointer: the unit holds ``<viatique url_name="exam1"/>`` and the settings are in
``viatique/exam1.xml`` of the course directory, the form the platform's course
export uses for problems and html, and that course authors write by hand.

XBlock's own ``parse_xml`` never reads a pointer's file, so a pointer used to
import with default settings. :class:`OlxMixin` reads the file (the pointer's
``url_name`` kept), lets XBlock set the fields from it, applies the course
policy (``policy.json``) as the platform does for its own blocks, and checks the
result with the Studio editor's validation: a marking scheme or a setting the editor
would refuse is not imported; it is logged as an error naming the block, the file and
the field, and that setting keeps its default while the rest is imported. Nothing
here raises: the platform's course import (``load_error_blocks=False`` in Teak's
``cms import`` and Studio's import task) drops a block whose ``parse_xml`` raises,
which would take the exam out of its unit. A pointer whose file is missing or
unreadable is logged and keeps its defaults. On export, when the
platform's exporter gives the runtime an ``export_fs``, the settings go to the
definition file and the unit keeps only the pointer; otherwise they are inline.
"""
import copy
import json
import logging
import posixpath
from decimal import Decimal, InvalidOperation

from lxml import etree
from xblock.fields import Boolean, Integer

from viatique_xblock import exams

log = logging.getLogger(__name__)

#: what YAML, which XBlock reads typed attributes with, takes for a boolean
BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def is_pointer_tag(node):
    """The platform's rule (``xmodule.xml_block.is_pointer_tag``): no children, no text, only ``url_name``."""
    has_text = bool(node.text and node.text.strip())
    return len(node) == 0 and set(node.attrib) == {"url_name"} and not has_text


def definition_path(tag, url_name):
    """Where a pointer's definition is in the course directory: ``{tag}/{url_name, ':' as '/'}.xml``."""
    return f"{tag}/{url_name.replace(':', '/')}.xml"


class OlxMixin:
    """Import and export of both OLX forms. Put it before ``XBlock`` in the block's bases."""

    # ------------------------------------------------------------------ import

    @classmethod
    def parse_xml(cls, node, runtime, keys, *args, **kwargs):
        """Read the block from ``node``, or from the file it points to; then policy, then validation."""
        definition, where = cls._olx_definition(node, runtime)
        # the runtime made the usage's ids from url_name already; XBlock would log it as an unknown field
        definition.attrib.pop("url_name", None)
        # XBlock would read the scheme as YAML, which splits characters outside the BMP written
        # as JSON escapes (XBlock's own export writes them so) into lone surrogates: read it as JSON
        scheme_text = definition.attrib.pop("marking_scheme", None)
        cls._olx_drop_invalid_attributes(definition, where)
        block = super().parse_xml(definition, runtime, keys, *args, **kwargs)
        if scheme_text is not None:
            scheme = _scheme_from_json(scheme_text, where)
            if scheme is not None:
                block.marking_scheme = scheme
        cls._olx_apply_policy(block, runtime, where)
        _olx_validate(block, where)
        return block

    @classmethod
    def _olx_definition(cls, node, runtime):
        """The element to read the fields from (a copy: the caller's node is left alone), and its name
        for messages."""
        url_name = node.get("url_name")
        where = f'{node.tag} "{url_name}"' if url_name else f"{node.tag} without url_name"
        if not is_pointer_tag(node):
            return copy.deepcopy(node), where
        path = definition_path(node.tag, url_name)
        resources = getattr(runtime, "resources_fs", None)
        if resources is None:
            # Studio's paste and the learning-core runtime have no course directory: a bare
            # <viatique url_name="..."/> there is a block with default settings
            log.info("%s: no course directory to read %s from; the block keeps its defaults", where, path)
            return copy.deepcopy(node), where
        try:
            exists = resources.exists(path)
        except ValueError:  # fs refuses a path leaving the course directory (IllegalBackReference)
            exists = False
        if not exists:
            log.warning("%s points to %s, which is not in the course: the block is imported with its "
                        "default settings", where, path)
            return copy.deepcopy(node), where
        where = f"{where} ({path})"
        parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
        try:
            with resources.open(path, "rb") as file:
                root = etree.parse(file, parser).getroot()
        except (etree.XMLSyntaxError, OSError, ValueError) as exc:
            log.error("%s: the definition file cannot be read (%s): the block is imported with its default "
                      "settings", where, exc)
            return copy.deepcopy(node), where
        if root.tag != node.tag:
            log.warning("%s: the definition file's root is <%s>; read as <%s>", where, root.tag, node.tag)
            root.tag = node.tag
        root.attrib.pop("xblock-family", None)
        root.set("url_name", url_name)  # the pointer's, as the platform's XmlMixin does
        return root, where

    @classmethod
    def _olx_drop_invalid_attributes(cls, definition, where):
        """Leave out, logged as an error naming the field, an attribute that XBlock would fail on, or
        that it would silently misread for a setting of the Studio editor (``"ture"`` read as false,
        ``"2.5"`` as 2): that setting keeps its default."""
        for name, text in list(definition.attrib.items()):
            problem = cls._olx_attribute_problem(name, text)
            if problem:
                log.error("%s: %s=%r %s: that setting is not imported (it keeps its default)",
                          where, name, text, problem)
                del definition.attrib[name]

    @classmethod
    def _olx_attribute_problem(cls, name, text):
        field = cls.fields.get(name)
        if field is None:
            return None  # XBlock logs attributes that are not fields
        try:
            value = field.from_string(text)
        except Exception as exc:  # noqa: BLE001 - XBlock's readers raise ValueError, TypeError or YAML errors
            return f"is not a valid {type(field).__name__} ({exc})"
        if name not in cls.editable_fields:
            return None  # the platform's own fields (due, visible_to_staff_only...) are read as XBlock reads them
        if isinstance(field, Boolean) and text.strip().lower() not in BOOLEAN_WORDS:
            return "is not a boolean (true or false)"
        if isinstance(field, Integer) and value is not None and _decimal(text) != value:
            return "is not a whole number"
        return None

    @classmethod
    def _olx_apply_policy(cls, block, runtime, where):
        """Apply the course policy of this usage (``policy.json``), when the runtime has one, over the OLX."""
        get_policy = getattr(runtime, "get_policy", None)
        if not callable(get_policy):
            return
        for name, value in (get_policy(block.scope_ids.usage_id) or {}).items():
            field = block.fields.get(name)
            if field is None:
                log.info("%s: the policy sets %s, which is not a field of the block; ignored", where, name)
                continue
            try:
                setattr(block, name, field.from_json(value))
            except (TypeError, ValueError) as exc:
                log.error("%s: the course policy's %s=%r is not valid (%s): it is not applied", where, name, value, exc)

    # ------------------------------------------------------------------ export

    def export_to_file(self):
        """Whether an export with an ``export_fs`` writes the definition file (the platform's
        ``XmlMixin`` API). Studio's OLX serializer (clipboard, libraries) sets it to
        ``lambda: False`` on the block to get one inline element: that is honoured."""
        return True

    def add_xml_to_node(self, node):
        """Write the block to ``node``: a pointer plus its definition file when the runtime has an
        ``export_fs`` (the platform's course export), else inline attributes (XBlock's own export)."""
        export_fs = getattr(self.runtime, "export_fs", None)
        url_name = node.get("url_name") or self._olx_url_name()
        if export_fs is None or not url_name or not self.export_to_file():
            super().add_xml_to_node(node)
            return
        tag = self.scope_ids.block_type
        definition = etree.Element(tag)
        super().add_xml_to_node(definition)  # XBlock's own: every explicitly set field as an attribute
        definition.attrib.pop("xblock-family", None)
        definition.attrib.pop("url_name", None)
        path = definition_path(tag, url_name)
        export_fs.makedirs(posixpath.dirname(path), recreate=True)
        with export_fs.open(path, "wb") as file:
            etree.ElementTree(definition).write(file, pretty_print=True, encoding="utf-8")
        node.tag = tag
        node.text = None
        for child in list(node):
            node.remove(child)
        node.attrib.clear()
        node.set("url_name", url_name)

    def _olx_url_name(self):
        """The usage's url_name: the platform's ``url_name`` (its XModuleMixin), else the usage key's block id."""
        return getattr(self, "url_name", None) or getattr(self.scope_ids.usage_id, "block_id", None)


def _decimal(text):
    try:
        return Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None


def _scheme_from_json(text, where):
    """The scheme written in the OLX, or None (logged as an error) when it is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        log.error("%s: marking_scheme is not valid JSON (%s): the scheme is not imported (it keeps its default)",
                  where, exc)
        return None
    if not isinstance(value, dict):
        log.error('%s: marking_scheme must be a JSON object {"questions": [...], "next_id": n}: the scheme is '
                  'not imported (it keeps its default)', where)
        return None
    return value


def _olx_validate(block, where):
    """Check the settings with the Studio editor's validation; store the scheme as the editor would."""
    values = {name: getattr(block, name) for name in block.editable_fields}
    try:
        checked = exams.validate_settings(values)
    except exams.InvalidSettings as exc:
        # the settings the editor refuses keep their defaults; the others are imported
        refused = sorted({problem["path"].split(".")[0] for problem in exc.problems} & set(block.editable_fields))
        problems = "; ".join(f"{problem['path']}: {problem['message']}" for problem in exc.problems)
        log.error("%s: %s; not imported (they keep their defaults): %s", where, problems, ", ".join(refused))
        for name in refused:
            block.fields[name].delete_from(block)
        values = {name: getattr(block, name) for name in block.editable_fields}
        checked = exams.validate_settings(values)
    scheme_field = block.fields["marking_scheme"]
    if scheme_field.is_set_on(block) and checked["marking_scheme"] != block.marking_scheme:
        block.marking_scheme = checked["marking_scheme"]  # normalised: numbers, ids for questions without one
