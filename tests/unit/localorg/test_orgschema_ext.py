"""The org schema: the bundled standard objects, user extensions, aliases and generated key prefixes."""

from __future__ import annotations

import pytest

from migrator.localorg.orgschema import OrgSchema, SchemaError, load_schema, merge_schema


def test_standard_objects_have_salesforce_key_prefixes_and_realistic_fields():
    schema = load_schema()
    prefixes = {name: schema.get(name).key_prefix for name in (
        "Account", "Contact", "Lead", "Opportunity", "Case", "User", "Task", "Event", "Campaign", "CampaignMember",
        "Product2", "Pricebook2", "PricebookEntry", "RecordType", "Group")}
    assert prefixes == {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006", "Case": "500",
                        "User": "005", "Task": "00T", "Event": "00U", "Campaign": "701", "CampaignMember": "00v",
                        "Product2": "01t", "Pricebook2": "01s", "PricebookEntry": "01u", "RecordType": "012",
                        "Group": "00G"}
    task = schema.get("task")
    assert task.field("whoid").polymorphic and task.field("WhatId").relationship_name == "What"
    assert task.field("Status").restricted_picklist and task.field("Status").default_value == "Not Started"
    assert schema.get("Opportunity").field("StageName").required_on_create
    assert not schema.get("Account").field("OwnerId").required_on_create
    assert schema.get("Contact").field("Email").id_lookup
    assert schema.get("Case").field("CaseNumber").auto_number
    assert schema.get("Lead").field("OwnerId").reference_to == ("User", "Group")
    assert schema.by_key_prefix("003").name == "Contact" and schema.by_key_prefix("zzz") is None
    assert ("Contact", "AccountId") in {(o.name, f.name) for o, f in schema.child_relationships("Account")}


def test_user_files_add_objects_fields_and_use_friendly_types():
    document = {"objects": {
        "Account": {"fields": {"Code__c": {"type": "text", "length": 12, "external_id": True},
                               "Size__c": {"type": "number", "precision": 6, "scale": 1},
                               "Ok__c": {"type": "checkbox"}}},
        "Widget__c": {"fields": {"Name": {"type": "text", "required": True},
                                 "Account__c": {"type": "lookup", "to": "Account"}}},
        "Gadget__c": {"label": "Gadget"},
        "Fixed__c": {"key_prefix": "a99"},
    }}
    schema = merge_schema(load_schema(), document, "custom.yaml")
    account = schema.get("Account")
    assert account.field("code__c").external_id and account.field("Code__c").id_lookup
    assert (account.field("Size__c").type, account.field("Ok__c").type) == ("double", "boolean")
    assert account.field("Name").required_on_create, "existing fields are kept"
    widget, gadget = schema.get("Widget__c"), schema.get("Gadget__c")
    assert (widget.key_prefix, gadget.key_prefix, schema.get("Fixed__c").key_prefix) == ("a01", "a02", "a99")
    assert widget.custom and widget.field("Account__c").relationship_name == "Account__r"
    assert widget.field("Account__c").type == "reference" and "Id" in widget.fields


@pytest.mark.parametrize(("document", "message"), [
    ({"objects": {"X__c": {"fields": {"Y__c": {"type": "hologram"}}}}}, "unknown type 'hologram'"),
    ({"objects": {"X__c": {"fields": {"Y__c": {"type": "lookup"}}}}}, "a reference needs `to`"),
    ({"objects": {"X__c": {"fields": {"Y__c": {"type": "lookup", "to": "Nope"}}}}}, "unknown object Nope"),
    ({"objects": {"X__c": {"key_prefix": "001"}}}, "already used by Account"),
    ({"objects": {"X__c": {"key_prefix": "toolong"}}}, "3 characters"),
    ({"objects": {"X__c": {"fields": {"Y__c": "text"}}}}, "expected a mapping of attributes"),
    ({"objects": {"X__c": ["not", "a", "mapping"]}}, "expected a mapping"),
    (["not a mapping"], "expected a mapping with an `objects` key"),
])
def test_schema_errors_name_the_file_object_and_field(document, message):
    with pytest.raises(SchemaError, match=message) as caught:
        merge_schema(load_schema(), document, "bad.yaml")
    assert str(caught.value).startswith("bad.yaml")


def test_schema_can_be_built_directly():
    base = load_schema()
    rebuilt = OrgSchema(objects=dict(base.objects))
    assert rebuilt.get("ACCOUNT").name == "Account" and rebuilt.by_key_prefix("001").name == "Account"
