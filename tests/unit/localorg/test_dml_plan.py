"""Job checks at creation and header planning (fields, relationship columns, polymorphic types)."""

from __future__ import annotations

import pytest

from migrator.localorg.dml_plan import HeaderError, JobRequestError, check_job_request, plan_columns
from migrator.localorg.orgschema import load_schema, merge_schema

SCHEMA = merge_schema(load_schema(), {"objects": {
    "Account": {"fields": {"Ext__c": {"type": "text", "external_id": True}}},
    "Thing__c": {"createable": False, "fields": {"Parent__c": {"type": "lookup", "to": "Thing__c"},
                                                   "Code__c": {"type": "text", "external_id": True}}},
}}, "test")


def test_job_requests():
    obj, key = check_job_request(SCHEMA, "account", "upsert", "ext__c")
    assert (obj.name, key.name) == ("Account", "Ext__c")
    assert check_job_request(SCHEMA, "Account", "upsert", "Id")[1].name == "Id"
    assert check_job_request(SCHEMA, "Account", "insert", "Ext__c")[1] is None, "ignored unless upserting"
    for args, message in [(("Account", "INSERT", None), "Invalid operation: INSERT"),
                          (("Nope", "insert", None), "Unable to find object: Nope"),
                          (("Account", "upsert", None), "External ID was blank for Account"),
                          (("Account", "upsert", "Name"), "Field name provided, Name does not match"),
                          (("Account", "upsert", "Missing__c"), "Field name provided, Missing__c"),
                          (("Thing__c", "insert", None), "insert operation is not allowed on Thing__c")]:
        with pytest.raises(JobRequestError, match=message) as caught:
            check_job_request(SCHEMA, *args)
        assert caught.value.code == "INVALIDJOB"


def test_header_planning():
    account = SCHEMA.get("Account")
    plan = plan_columns(SCHEMA, account, "insert", ["NAME", "Parent.Ext__c", "OwnerId", "Owner.Username", "Id"])
    assert [c.field.name for c in plan.fields] == ["Name", "OwnerId"]
    assert [(r.field.name, r.target.name, r.key.name) for r in plan.relationships] == \
        [("ParentId", "Account", "Ext__c"), ("OwnerId", "User", "Username")]
    assert plan.id_column == 4 and {f.name for f in plan.lookup_fields} == {"ParentId", "OwnerId"}
    task = plan_columns(SCHEMA, SCHEMA.get("Task"), "insert",
                        ["Account:What.Ext__c", "opportunity:what.Id", "Lead:Who.Email"])
    assert [(r.field.name, r.target.name) for r in task.relationships] == \
        [("WhatId", "Account"), ("WhatId", "Opportunity"), ("WhoId", "Lead")]
    custom = plan_columns(SCHEMA, SCHEMA.get("Thing__c"), "insert", ["Parent__r.Code__c"])
    assert custom.relationships[0].field.name == "Parent__c"
    deleting = plan_columns(SCHEMA, account, "delete", ["Id", "Whatever", "Not.A.Field"])
    assert deleting.id_column == 0 and deleting.fields == () and deleting.relationships == ()


@pytest.mark.parametrize(("object_name", "header", "message"), [
    ("Account", "Nope__c", "Field name not found : Nope__c"),
    ("Account", "Parent.Nope__c", "Field name not found : Parent.Nope__c"),
    ("Account", "Name.Ext__c", "Field name not found : Name.Ext__c"),
    ("Account", "Account:Parent.Ext__c", "Field name not found : Account:Parent.Ext__c"),
    ("Account", "Parent.Name", "Field name provided, Name does not match an External ID"),
    ("Task", "What.Ext__c", "WhatId is polymorphic"),
    ("Task", "Contact:What.Ext__c", "Field name not found : Contact:What.Ext__c"),
    ("Account", "a.b.c", "Field name not found : a.b.c"),
])
def test_header_errors(object_name, header, message):
    with pytest.raises(HeaderError, match=message) as caught:
        plan_columns(SCHEMA, SCHEMA.get(object_name), "insert", ["Name", header] if object_name == "Account"
                     else [header])
    assert caught.value.message.startswith("InvalidBatch : ")
