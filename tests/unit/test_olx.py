"""Course export and import (OLX): both forms, through the XBlock runtime's own XML import and export.

The runtime is built like the LMS's course import and export system: a usage's id comes from
its ``url_name`` (``xblock_from_node``), the course directory is ``resources_fs``, the course
policy comes from ``get_policy``, and the exporter gives ``export_fs`` and writes each child as
``<tag url_name="..."/>`` before asking the block to fill it (``add_block_as_child_node``).
Field data is a key-value store, as in the platform, so the unit and the exam keep their own.
"""
import itertools
import json
import logging

import pytest
from fs.memoryfs import MemoryFS
from fs.osfs import OSFS
from lxml import etree
from opaque_keys.edx.keys import CourseKey
from xblock.core import XBlock
from xblock.field_data import DictFieldData
from xblock.fields import Scope, ScopeIds, String
from xblock.runtime import DictKeyValueStore, IdGenerator, IdReader, KvsFieldData, MemoryIdManager

from tests.harness import LmsLikeRuntime, LmsLikeUserService
from viatique_xblock import scheme
from viatique_xblock.block import ViatiqueXBlock

COURSE = CourseKey.from_string("course-v1:Viatique+T101+2026")

SCHEME = {
    "questions": [
        {"id": "ex1", "label": "Exercice 1 \U0001F600", "children": [
            {"id": "q7", "label": "1. a)", "max": 2.5, "step": 0.5},
            {"id": "q3", "label": "1. b)", "max": 3, "step": 0.25,
             # where the answer is (issue 14): carried with the question's id
             "layout": {"pages": [2, 3], "box": {"page": 3, "x0": 0.05, "y0": 0.1, "x1": 0.95, "y1": 0.45}}},
        ]},
        {"id": "q2", "label": "Exercice 2 — “dérivées” <&> \"x\"", "max": 14, "step": 1},
    ],
    "next_id": 9,
}

#: a value different from the default for every settings and content field of the block
SETTINGS = {
    "display_name": "Bac blanc — épreuve 2 \U0001F4DD",
    "marking_scheme": SCHEME,
    "pages_per_copy": 6,
    "grade_scale": 20.0,
    "weight": 2.5,
    "anonymous_grading": False,
    "regrade_window_days": 14,
    "name_area_height": 20,
    "grading_mode": "by_copy",
    "rubric_editors": "nobody_after_grading",
    "name": "bac-blanc-2",
    "tags": ["midterm", "paper"],
}


class Unit(XBlock):
    """The unit (``vertical``) around the exam: a container that exports its children as the LMS does."""

    has_children = True
    display_name = String(scope=Scope.settings, default="Unit")


class CourseIds(IdReader, IdGenerator):
    """The LMS's ids for a course import: the usage key of ``url_name`` in the course, used as definition too."""

    def __init__(self):
        self.unnamed = itertools.count(1)

    def create_definition(self, block_type, slug=None):
        return COURSE.make_usage_key(block_type, slug or f"{block_type}_{next(self.unnamed)}")

    def create_usage(self, def_id):
        return def_id

    def create_aside(self, definition_id, usage_id, aside_type):
        raise NotImplementedError

    def get_definition_id(self, usage_id):
        return usage_id

    def get_block_type(self, def_id):
        return def_id.block_type

    def get_usage_id_from_aside(self, aside_id):
        raise NotImplementedError

    def get_definition_id_from_aside(self, aside_id):
        raise NotImplementedError

    def get_aside_type_from_usage(self, aside_id):
        raise NotImplementedError

    def get_aside_type_from_definition(self, aside_id):
        raise NotImplementedError


class CourseRuntime(LmsLikeRuntime):
    """The LMS's XML import system and course exporter, for the unit and the exam."""

    BLOCKS = {"vertical": Unit, "viatique": ViatiqueXBlock}

    def __init__(self, resources_fs=None, export_fs=None, policy=None):
        ids = CourseIds()
        super().__init__(LmsLikeUserService("instructor_1", "instructor"), KvsFieldData(DictKeyValueStore()),
                         id_reader=ids, id_generator=ids)
        self.resources_fs = resources_fs
        if export_fs is not None:
            self.export_fs = export_fs
        self.policy = policy or {}

    def load_block_type(self, block_type):
        return self.BLOCKS[block_type]

    def get_policy(self, usage_id):
        """policy.json's entry ``"<type>/<url_name>"``, as the LMS's import system reads it."""
        return self.policy.get(f"{usage_id.block_type}/{usage_id.block_id}", {})

    def _usage_id_from_node(self, node, parent_id):
        """The LMS's ``xblock_from_node``: ids from ``url_name``, the element handed to parse_xml as it is."""
        block_type = node.tag
        node.attrib.pop("xblock-family", None)
        def_id = self.id_generator.create_definition(block_type, node.get("url_name"))
        usage_id = self.id_generator.create_usage(def_id)
        block_class = self.mixologist.mix(self.load_block_type(block_type))
        block = block_class.parse_xml(node, self, ScopeIds(None, block_type, def_id, usage_id))
        block.parent = parent_id
        block.save()
        return usage_id

    def add_block_as_child_node(self, block, node):
        """The LMS's exporter: ``<category url_name="..."/>``, then the block fills it."""
        child = etree.SubElement(node, block.scope_ids.block_type)
        child.set("url_name", block.scope_ids.usage_id.block_id)
        block.add_xml_to_node(child)



def read_bytes(filesystem, path):
    with filesystem.open(path, "rb") as file:
        return file.read()


def import_unit(olx, **runtime_args):
    """Import a unit's OLX; return the runtime and the exam block in it."""
    runtime = CourseRuntime(**runtime_args)
    unit = runtime.get_block(runtime.parse_xml_string(olx))
    (exam_id,) = unit.children
    return runtime, runtime.get_block(exam_id)


def export_unit(runtime, exam):
    """Export the unit holding ``exam`` the way the course exporter does; return its OLX."""
    root = etree.Element("vertical")
    runtime.get_block(exam.parent).add_xml_to_node(root)
    return etree.tostring(root, encoding="unicode")


def attributes(values):
    """OLX attributes for field values: strings as they are, anything else as JSON."""
    return " ".join(
        f'{name}="{_escape(value if isinstance(value, str) else json.dumps(value))}"' for name, value in values.items()
    )


def _escape(text):
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def definition_fs(url_name="exam1", values=None, root=None):
    """A course directory holding ``viatique/<url_name>.xml`` with ``values`` (or the raw ``root`` text)."""
    resources = MemoryFS()
    path = f"viatique/{url_name.replace(':', '/')}.xml"
    resources.makedirs(path.rsplit("/", 1)[0])
    # open() rather than writetext(): the fs 2.0 line that Teak pins has no writetext/readbytes
    with resources.open(path, "w", encoding="utf-8") as file:
        file.write(root if root is not None else f"<viatique {attributes(values or SETTINGS)}/>")
    return resources


def assert_every_setting(block, expected=SETTINGS):
    for name, value in expected.items():
        assert getattr(block, name) == value, name
        assert block.fields[name].is_set_on(block), name
    questions = block.marking_scheme["questions"]
    assert [q["id"] for q in questions] == ["ex1", "q2"]
    assert [q["id"] for q in questions[0]["children"]] == ["q7", "q3"]
    assert [(leaf["label"], leaf["max"], leaf["step"]) for leaf in scheme.leaves(block.marking_scheme)] == [
        ("1. a)", 2.5, 0.5), ("1. b)", 3, 0.25), ("Exercice 2 — “dérivées” <&> \"x\"", 14, 1)]
    assert block.marking_scheme["next_id"] == 9
    assert block.max_score() == 19.5


def test_the_round_trips_cover_every_settings_and_content_field_with_a_value_other_than_its_default():
    fields = {name for name, field in ViatiqueXBlock.fields.items() if field.scope in (Scope.settings, Scope.content)}
    assert set(ViatiqueXBlock.editable_fields) <= fields
    assert set(SETTINGS) == fields, "give the new field a non-default value in SETTINGS"
    for name, value in SETTINGS.items():
        assert value != ViatiqueXBlock.fields[name].default, name
    assert scheme.validate(SCHEME) == SCHEME


def test_inline_form_imports_every_setting():
    runtime, exam = import_unit(f'<vertical url_name="unit1"><viatique url_name="exam1" {attributes(SETTINGS)}/>'
                                "</vertical>")
    assert exam.scope_ids.usage_id == COURSE.make_usage_key("viatique", "exam1")
    assert_every_setting(exam)


def test_attributes_that_are_not_fields_are_left_to_xblock_which_ignores_them():
    """Studio's paste marks nodes ``x-is-pointer-node="no"``; old courses carry ``filename``."""
    _, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1" display_name="Quiz" '
                          'x-is-pointer-node="no" filename="old/exam1"/></vertical>')
    assert exam.display_name == "Quiz"


def test_pointer_form_imports_every_setting_from_the_definition_file():
    runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                                resources_fs=definition_fs())
    assert exam.scope_ids.usage_id.block_id == "exam1"
    assert_every_setting(exam)


def test_pointer_form_reads_a_hand_written_file_from_the_course_directory_with_url_name_as_path(tmp_path):
    (tmp_path / "viatique" / "finals").mkdir(parents=True)
    (tmp_path / "viatique" / "finals" / "exam1.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<viatique display_name="Final exam" pages_per_copy="2" anonymous_grading="false"\n'
        '          marking_scheme=\'{"questions": [{"id": "q1", "label": "Proof", "max": 5, "step": 0.5},\n'
        '                                         {"label": "Bonus", "max": 1}]}\'/>\n',
        encoding="utf-8")
    with OSFS(str(tmp_path)) as course_dir:
        _, exam = import_unit('<vertical url_name="unit1"><viatique url_name="finals:exam1"/></vertical>',
                              resources_fs=course_dir)
    assert exam.scope_ids.usage_id.block_id == "finals:exam1"
    assert (exam.display_name, exam.pages_per_copy, exam.anonymous_grading) == ("Final exam", 2, False)
    # the editor's normalisation: the question without an id gets a fresh one, never reused
    assert exam.marking_scheme == {"questions": [
        {"id": "q1", "label": "Proof", "max": 5, "step": 0.5},
        {"id": "q2", "label": "Bonus", "max": 1, "step": 1},
    ], "next_id": 3}
    assert not exam.fields["weight"].is_set_on(exam)


def test_inline_round_trip_without_export_fs_keeps_every_setting():
    runtime, exam = import_unit(f'<vertical url_name="unit1"><viatique url_name="exam1" {attributes(SETTINGS)}/>'
                                "</vertical>")
    olx = export_unit(runtime, exam)
    element = etree.fromstring(olx).find("viatique")
    assert element.get("url_name") == "exam1"
    assert set(SETTINGS) <= set(element.attrib), "inline: the settings are attributes"
    _, again = import_unit(olx)
    assert again.scope_ids.usage_id == exam.scope_ids.usage_id
    assert_every_setting(again)


def test_round_trip_with_export_fs_writes_the_definition_file_and_leaves_only_the_pointer():
    runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                                resources_fs=definition_fs())
    runtime.export_fs = exported = MemoryFS()
    olx = export_unit(runtime, exam)

    (pointer,) = etree.fromstring(olx)
    assert (pointer.tag, dict(pointer.attrib), pointer.text, len(pointer)) == ("viatique", {"url_name": "exam1"},
                                                                              None, 0)
    definition = etree.fromstring(read_bytes(exported, "viatique/exam1.xml"))
    assert definition.tag == "viatique"
    assert "url_name" not in definition.attrib and "xblock-family" not in definition.attrib
    assert set(definition.attrib) == set(SETTINGS)
    assert json.loads(definition.get("marking_scheme")) == SCHEME

    # the export directory is the next import's course directory
    _, again = import_unit(olx, resources_fs=exported)
    assert again.scope_ids.usage_id == exam.scope_ids.usage_id
    assert_every_setting(again)


def test_inline_import_then_export_with_export_fs_then_import_keeps_every_setting(tmp_path):
    runtime, exam = import_unit(f'<vertical url_name="unit1"><viatique url_name="finals:exam1" '
                                f'{attributes(SETTINGS)}/></vertical>')
    with OSFS(str(tmp_path)) as export_dir:
        runtime.export_fs = export_dir
        olx = export_unit(runtime, exam)
        assert (tmp_path / "viatique" / "finals" / "exam1.xml").is_file()
        _, again = import_unit(olx, resources_fs=export_dir)
    assert again.scope_ids.usage_id.block_id == "finals:exam1"
    assert_every_setting(again)


def test_only_explicitly_set_settings_go_to_the_definition_file():
    runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1" display_name="Quiz"/>'
                                "</vertical>")
    runtime.export_fs = exported = MemoryFS()
    export_unit(runtime, exam)
    definition = etree.fromstring(read_bytes(exported, "viatique/exam1.xml"))
    assert dict(definition.attrib) == {"display_name": "Quiz"}
    _, again = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                           resources_fs=exported)
    assert again.display_name == "Quiz"
    assert again.marking_scheme == scheme.default_scheme()
    assert not again.fields["marking_scheme"].is_set_on(again)


def test_studios_olx_serializer_turning_export_to_file_off_gets_one_inline_element():
    """Studio's clipboard and libraries serialize with an export_fs and ``block.export_to_file = lambda: False``
    (``xblock_serializer.utils.override_export_fs``): the settings must then be inline."""
    runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                                resources_fs=definition_fs())
    runtime.export_fs = exported = MemoryFS()
    exam.export_to_file = lambda: False
    node = etree.Element("root")
    exam.add_xml_to_node(node)
    assert node.tag == "viatique"
    assert set(SETTINGS) <= set(node.attrib)
    assert not exported.exists("viatique")
    _, again = import_unit(f'<vertical url_name="unit1">{etree.tostring(node, encoding="unicode")}</vertical>')
    assert_every_setting(again)


def test_pointer_whose_file_is_missing_imports_with_the_defaults_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="viatique_xblock.olx"):
        _, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam9"/></vertical>',
                              resources_fs=definition_fs("exam1"))
    assert exam.scope_ids.usage_id.block_id == "exam9"
    for name in SETTINGS:
        assert not exam.fields[name].is_set_on(exam), name
    assert exam.display_name == "Paper exam"
    assert exam.marking_scheme == scheme.default_scheme()
    (record,) = [r for r in caplog.records if r.name == "viatique_xblock.olx"]
    assert record.levelno == logging.WARNING
    assert 'viatique "exam9"' in record.getMessage() and "viatique/exam9.xml" in record.getMessage()


def test_runtime_without_course_directory_or_policy_reads_the_inline_form_and_keeps_a_bare_pointer_default():
    """A runtime like XBlock's own (the workbench, Studio's paste): no resources_fs, no get_policy."""
    ids = MemoryIdManager()
    runtime = LmsLikeRuntime(LmsLikeUserService("instructor_1", "instructor"), DictFieldData({}),
                             id_reader=ids, id_generator=ids)
    assert not hasattr(runtime, "resources_fs") and not hasattr(runtime, "get_policy")
    exam = runtime.get_block(runtime.parse_xml_string(f'<viatique url_name="exam1" {attributes(SETTINGS)}/>'))
    assert_every_setting(exam)

    runtime = LmsLikeRuntime(LmsLikeUserService("instructor_1", "instructor"), DictFieldData({}),
                             id_reader=ids, id_generator=ids)
    bare = runtime.get_block(runtime.parse_xml_string('<viatique url_name="exam2"/>'))
    assert bare.display_name == "Paper exam" and not bare.fields["display_name"].is_set_on(bare)


def test_course_policy_is_applied_over_the_definition_file():
    policy_scheme = {"questions": [{"id": "q1", "label": "Only question", "max": 4, "step": 1}], "next_id": 2}
    policy = {"viatique/exam1": {"display_name": "From policy.json", "pages_per_copy": 8, "weight": 3,
                                 "marking_scheme": policy_scheme, "not_a_field": "ignored"},
              "viatique/other": {"display_name": "Not this block"}}
    _, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                          resources_fs=definition_fs(), policy=policy)
    assert exam.display_name == "From policy.json"
    assert exam.pages_per_copy == 8
    assert exam.weight == 3.0
    assert exam.marking_scheme == policy_scheme
    # what the policy does not set comes from the file
    assert exam.grade_scale == 20.0 and exam.anonymous_grading is False and exam.tags == ["midterm", "paper"]


@pytest.mark.parametrize("value, message", [
    ("{not json", "marking_scheme is not valid JSON"),
    ("[1, 2]", "marking_scheme must be a JSON object"),
    ('{"questions": [{"id": "q1", "label": "Q1", "max": 0}]}', "marking_scheme.1: Question “Q1” has a maximum of 0"),
    ('{"questions": [{"id": "q1", "label": "A", "max": 2}, {"id": "q1", "label": "B", "max": 2}]}',
     "marking_scheme.2: Two questions have the id “q1”"),
    ('{"questions": [{"id": "q1", "label": "A", "max": 2, "layout": {"pages": [7]}}]}',
     "marking_scheme.1: Question “A”: Page 7 is not a page of the copy: pages go from 1 to 6."),
    ('{"questions": [{"id": "q1", "label": "A", "max": 2, "layout": {"pages": [2], "box": '
     '{"page": 2, "x0": 0.5, "y0": 0, "x1": 1.5, "y1": 1}}}]}', "marking_scheme.1: Question “A”: The box goes outside"),
])
def test_a_malformed_marking_scheme_is_logged_naming_the_field_and_the_file_and_the_rest_is_imported(
        value, message, caplog):
    root = f"<viatique display_name=\"Exam\" pages_per_copy=\"6\" marking_scheme='{value}'/>"
    _runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                       resources_fs=definition_fs(root=root))
    assert exam.display_name == "Exam" and exam.pages_per_copy == 6  # the rest of the file is imported
    assert not exam.fields["marking_scheme"].is_set_on(exam), "the refused scheme keeps its default"
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any(text.startswith('viatique "exam1" (viatique/exam1.xml): ') and message in text for text in errors), errors


def test_a_malformed_marking_scheme_in_the_policy_is_logged_and_not_applied(caplog):
    _runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1" display_name="Exam"/></vertical>',
                       policy={"viatique/exam1": {"marking_scheme": {"questions": []}}})
    assert exam.display_name == "Exam"
    assert not exam.fields["marking_scheme"].is_set_on(exam)
    assert any('viatique "exam1"' in record.getMessage() and "marking_scheme" in record.getMessage()
               for record in caplog.records if record.levelname == "ERROR")


@pytest.mark.parametrize("attribute, message, field", [
    ('pages_per_copy="lots"', "pages_per_copy='lots' is not a valid Integer", "pages_per_copy"),
    ('pages_per_copy="2.5"', "pages_per_copy='2.5' is not a whole number", "pages_per_copy"),
    ('anonymous_grading="ture"', "anonymous_grading='ture' is not a boolean", "anonymous_grading"),
    ('grade_scale="twenty"', "grade_scale='twenty' is not a valid Float", "grade_scale"),
    ('regrade_window_days="400"', "regrade_window_days: The regrade window must be", "regrade_window_days"),
    ('display_name="  "', "display_name: The title cannot be empty.", "display_name"),
])
def test_a_setting_the_studio_editor_would_refuse_is_logged_naming_the_field_and_keeps_its_default(
        attribute, message, field, caplog):
    _runtime, exam = import_unit(f'<vertical url_name="unit1"><viatique url_name="exam1" weight="2.5" {attribute}/></vertical>')
    assert exam.weight == 2.5  # the other settings are imported
    assert getattr(exam, field) == exam.fields[field].default
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any(text.startswith('viatique "exam1": ') and message in text for text in errors), errors


def test_a_definition_file_that_is_not_xml_or_uses_external_entities_is_logged_and_imported_with_defaults(caplog):
    for root in ("<viatique display_name='unclosed'", '<!DOCTYPE viatique [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
                                                      '<viatique display_name="&x;"/>'):
        caplog.clear()
        _runtime, exam = import_unit('<vertical url_name="unit1"><viatique url_name="exam1"/></vertical>',
                           resources_fs=definition_fs(root=root))
        assert exam.display_name == exam.fields["display_name"].default
        assert any("viatique/exam1.xml): the definition file cannot be read" in record.getMessage()
                   for record in caplog.records if record.levelname == "ERROR")


def test_url_name_is_not_read_as_a_field(caplog):
    """The runtime makes the usage's ids from url_name; XBlock would otherwise log it as a missing field on
    every import (seen in a Teak LMS: 'does not contain field url_name')."""
    import_unit('<vertical url_name="unit1"><viatique url_name="exam1" display_name="Exam"/></vertical>')
    logged = [record.getMessage() for record in caplog.records]
    assert not any("url_name" in text and "Viatique" in text for text in logged), logged
