"""check's reading of the org-schema format agrees with the local org's (two independent readings of
one documented format), and snapshots are written sorted, stable and without implied attributes."""

from __future__ import annotations

import pytest
import yaml

from migrator.check.schema import FieldInfo, ObjectInfo, TargetSchema
from migrator.check.snapshot import bundled_schema, load_schema_files, merge_document, snapshot_text
from migrator.errors import SchemaFileError
from migrator.localorg.orgschema import load_schema

ATTRIBUTES = ("type", "length", "precision", "scale", "nillable", "createable", "updateable", "defaulted_on_create",
              "external_id", "id_lookup", "unique", "case_sensitive", "reference_to", "relationship_name",
              "required_on_create")


def test_check_reads_the_bundled_objects_as_the_local_org_does():
    ours, theirs = bundled_schema(), load_schema()
    assert set(ours.objects) == set(theirs.objects)
    for name, obj in theirs.objects.items():
        mine = ours.get(name)
        for field_name, field in obj.fields.items():
            info = mine.field(field_name)
            assert info is not None, (name, field_name)
            for attribute in ATTRIBUTES:
                assert getattr(info, attribute) == getattr(field, attribute), (name, field_name, attribute)
            assert [p.value for p in info.picklist] == [p.value for p in field.picklist_values]
            assert info.restricted == field.restricted_picklist
    assert ours.get("Contact").field("Name").createable is False  # the compound name describe lists


def test_schema_files_extend_and_complete_documents_replace(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("objects:\n  Account:\n    fields:\n      Code__c: {type: text, length: 9, external_id: true}\n"
                     "  Thing__c:\n    record_types: {A_1: First, B: {label: Second, active: false}}\n", "utf-8")
    schema = load_schema_files([extra])
    account = schema.get("account")
    assert account.field("code__c").id_lookup and account.field("Name").required_on_create
    thing = schema.get("Thing__c")
    assert [(rt.developer_name, rt.label, rt.active) for rt in thing.record_types] == [("A_1", "First", True),
                                                                                     ("B", "Second", False)]
    assert thing.field("RecordTypeId").reference_to == ("RecordType",) and thing.field("Id") is not None
    replaced = merge_document(schema, {"complete": True, "objects": {"Account": {"fields": {
        "Name": {"type": "string", "required": True}}}}}, "snap.yaml")
    assert set(replaced.get("Account").fields) == {"Id", "IsDeleted", "CreatedDate", "CreatedById",
                                                   "LastModifiedDate", "LastModifiedById", "SystemModstamp", "Name"}


@pytest.mark.parametrize(("document", "message"), [
    ({"objects": {"X__c": {"fields": {"Y__c": {"type": "hologram"}}}}}, "x.yaml: object X__c: field Y__c: unknown"),
    ({"objects": {"X__c": {"fields": {"Y__c": {"type": "lookup"}}}}}, "field Y__c: a reference needs `to`"),
    ({"objects": {"X__c": {"record_types": ["A"]}}}, "record_types: expected a mapping"),
    (["no"], "x.yaml: expected a mapping with an `objects` key"),
])
def test_bad_documents_name_the_file_object_and_field(document, message):
    with pytest.raises(SchemaFileError, match=message.replace("`", ".")):
        merge_document(TargetSchema(objects={}), document, "x.yaml")


def test_snapshots_are_sorted_stable_and_leave_out_what_the_format_implies():
    fields = {"Zeta__c": FieldInfo("Zeta__c", "string", "Zeta", length=255),
              "Alpha__c": FieldInfo("Alpha__c", "currency", "Amount", precision=16, scale=2, nillable=False),
              "Ref__c": FieldInfo("Ref__c", "reference", "Ref", length=18, reference_to=("Account", "Contact"),
                                  relationship_name="Ref__r")}
    schema = TargetSchema(objects={"B__c": ObjectInfo("B__c", fields, label="B", label_plural="Bs"),
                                   "A__c": ObjectInfo("A__c", {}, label="Aa", label_plural="Aas", key_prefix="a07")})
    text = snapshot_text(schema)
    assert text == snapshot_text(schema)
    data = yaml.safe_load(text)
    assert list(data["objects"]) == ["A__c", "B__c"]
    assert data["objects"]["A__c"] == {"label": "Aa", "key_prefix": "a07", "fields": {}}
    assert data["objects"]["B__c"]["fields"] == {
        "Alpha__c": {"type": "currency", "label": "Amount", "precision": 16, "required": True},
        "Ref__c": {"type": "reference", "to": ["Account", "Contact"]},
        "Zeta__c": {"type": "string"}}
    assert "migrator describe" in text.splitlines()[0] and "20" not in text.splitlines()[0]  # no timestamp
