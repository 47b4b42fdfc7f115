"""sObject Rows and sObject Rows by External ID over HTTP: every status and error shape (issue 16 item 1)."""

from __future__ import annotations

import base64

import pytest

from migrator.localorg.ids import make_id
from tests.integration.conftest import unique

from .support import base, query

NEVER_ACCOUNT, NEVER_CONTACT = make_id("001", 10**12), make_id("003", 10**12)  # well-formed, never issued


def _errors(response) -> tuple[int, list[dict]]:
    return response.status_code, response.json()


def _create(http, org, object_name: str, body: dict) -> str:
    response = http.post(f"{base(org)}/sobjects/{object_name}", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_create_answers_201_with_the_id_and_a_location(http, local_org):
    key = unique("RC")
    response = http.post(f"{base(local_org)}/sobjects/Account", json={"Name": "Created", "Legacy_Id__c": key,
                                                                      "Region__c": "North", "Score__c": 12.5,
                                                                      "Active__c": True, "Founded__c": "2020-02-29"})
    body = response.json()
    assert response.status_code == 201 and body == {"id": body["id"], "success": True, "errors": []}
    assert body["id"].startswith("001") and len(body["id"]) == 18
    assert response.headers["Location"] == f"/services/data/v62.0/sobjects/Account/{body['id']}"
    [stored] = query(http, local_org, f"SELECT Name, Region__c, Score__c, Active__c, Founded__c FROM Account "
                                      f"WHERE Legacy_Id__c = '{key}'")
    assert (stored["Name"], stored["Region__c"], stored["Score__c"], stored["Active__c"], stored["Founded__c"]) == \
        ("Created", "North", 12.5, True, "2020-02-29")


@pytest.mark.parametrize(("body", "code", "message", "fields"), [
    ({"Legacy_Id__c": "x"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"]),
    ({"Name": ""}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"]),
    ({"Name": "x" * 256}, "STRING_TOO_LONG", f"Account Name: data value too large: {'x' * 256} (max length=255)",
     ["Name"]),
    ({"Name": "P", "Region__c": "Middle"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
     "Region: bad value for restricted picklist field: Middle", ["Region__c"]),
    ({"Name": "D", "Founded__c": "31/12/2020"}, "INVALID_TYPE_ON_FIELD_IN_RECORD",
     "Founded: value not of required type: 31/12/2020", ["Founded__c"]),
    ({"Name": "E", "Contact_Email__c": "not-an-email"}, "INVALID_EMAIL_ADDRESS",
     "Contact Email: invalid email address: not-an-email", ["Contact_Email__c"]),
    ({"Name": "I", "Id": "001000000000000AAA"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
     "cannot specify Id in an insert call", ["Id"]),
])
def test_create_errors_are_the_bulk_row_errors_as_rest_shapes(http, local_org, body, code, message, fields):
    response = http.post(f"{base(local_org)}/sobjects/Account", json=body)
    assert _errors(response) == (400, [{"errorCode": code, "message": message, "fields": fields}])


@pytest.mark.parametrize(("body", "code", "fragment"), [
    ({"Name": "x", "Bogus__c": 1}, "INVALID_FIELD", "No such column 'Bogus__c' on sobject of type Account"),
    ({"Name": ["a"]}, "JSON_PARSER_ERROR", "Failed to deserialize field Name"),
    ([{"Name": "array"}], "JSON_PARSER_ERROR", "must be a JSON object"),
    ({"Name": "x", "Parent": {"Name": "not a key"}}, "INVALID_FIELD", "does not match an External ID"),
])
def test_create_refuses_bodies_it_cannot_map(http, local_org, body, code, fragment):
    response = http.post(f"{base(local_org)}/sobjects/Account", json=body)
    [error] = response.json()
    assert response.status_code == 400 and error["errorCode"] == code and fragment in error["message"], error


def test_unreadable_json_and_unknown_objects(http, local_org):
    broken = http.post(f"{base(local_org)}/sobjects/Account", data=b"{nope", headers={"Content-Type":
                                                                                        "application/json"})
    assert broken.status_code == 400 and broken.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    nowhere = http.post(f"{base(local_org)}/sobjects/Nope__c", json={"Name": "x"})
    assert _errors(nowhere) == (404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    organization = http.post(f"{base(local_org)}/sobjects/Organization", json={"Name": "x"})
    assert _errors(organization) == (400, [{"errorCode": "INVALID_TYPE_FOR_OPERATION",
                                            "message": "entity type cannot be inserted: Organization"}])


def test_parents_by_external_id_in_the_body(http, local_org):
    key = unique("RP")
    account = _create(http, local_org, "Account", {"Name": "Parent", "Legacy_Id__c": key})
    contact = _create(http, local_org, "Contact", {"LastName": "Child", "Account": {"Legacy_Id__c": key.lower()}})
    assert http.get(f"{base(local_org)}/sobjects/Contact/{contact}").json()["AccountId"] == account
    task = _create(http, local_org, "Task", {"Subject": "Call", "What": {"attributes": {"type": "Account"},
                                                                         "Legacy_Id__c": key}})
    assert http.get(f"{base(local_org)}/sobjects/Task/{task}", params={"fields": "WhatId"}).json()["WhatId"] == account
    missing = http.post(f"{base(local_org)}/sobjects/Contact", json={"LastName": "Orphan",
                                                                      "Account": {"Legacy_Id__c": f"{key}-none"}})
    assert _errors(missing) == (400, [{"errorCode": "INVALID_FIELD", "fields": [], "message":
                                       f"Foreign key external ID: {key}-none not found for field Legacy_Id__c in "
                                       f"entity Account"}])


def test_update_and_delete_answer_204_and_404_as_salesforce(http, local_org):
    key = unique("RU")
    record = _create(http, local_org, "Account", {"Name": "Before", "Legacy_Id__c": key, "Region__c": "East"})
    assert http.patch(f"{base(local_org)}/sobjects/Account/{record}", json={"Name": "After"}).status_code == 204
    cleared = http.patch(f"{base(local_org)}/sobjects/Account/{record[:15]}", json={"Region__c": None})
    assert cleared.status_code == 204 and cleared.content == b""
    after = http.get(f"{base(local_org)}/sobjects/Account/{record}", params={"fields": "Name,Region__c"}).json()
    assert (after["Name"], after["Region__c"]) == ("After", None)
    bad = http.patch(f"{base(local_org)}/sobjects/Account/{record}", json={"Region__c": "Middle"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with_id = http.patch(f"{base(local_org)}/sobjects/Account/{record}", json={"Id": record, "Name": "x"})
    assert _errors(with_id) == (400, [{"errorCode": "INVALID_FIELD",
                                       "message": "The Id field should not be specified in the sobject data."}])
    required = http.patch(f"{base(local_org)}/sobjects/Account/{record}", json={"Name": None})
    assert required.status_code == 400 and required.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert http.delete(f"{base(local_org)}/sobjects/Account/{record}").status_code == 204
    gone = [{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]
    assert _errors(http.delete(f"{base(local_org)}/sobjects/Account/{record}")) == (404, gone)
    assert _errors(http.patch(f"{base(local_org)}/sobjects/Account/{record}", json={"Name": "x"})) == (404, gone)
    assert query(http, local_org, f"SELECT IsDeleted FROM Account WHERE Id = '{record}'")[0]["IsDeleted"] is True
    never = NEVER_ACCOUNT
    for response in (http.patch(f"{base(local_org)}/sobjects/Account/{never}", json={"Name": "x"}),
                     http.delete(f"{base(local_org)}/sobjects/Account/{never}"),
                     http.get(f"{base(local_org)}/sobjects/Account/{never}"),
                     http.delete(f"{base(local_org)}/sobjects/Contact/{record}")):
        assert _errors(response) == (404, [{"errorCode": "NOT_FOUND",
                                            "message": "The requested resource does not exist"}])


def test_upsert_by_external_id_creates_updates_and_reports_several_matches(http, local_org):
    key = unique("RX")
    url = f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}"
    created = http.patch(url, json={"Name": "Upserted"})
    body = created.json()
    assert created.status_code == 201 and body == {"id": body["id"], "success": True, "errors": [], "created": True}
    assert created.headers["Location"].endswith(f"/sobjects/Account/{body['id']}")
    updated = http.patch(url.replace(key, key.lower()), json={"Name": "Upserted again"})  # keys match ignoring case
    assert (updated.status_code, updated.json()) == (200, {"id": body["id"], "success": True, "errors": [],
                                                           "created": False})
    old_api = http.patch(url.replace("v62.0", "v45.0"), json={"Name": "Before v46"})
    assert old_api.status_code == 204 and old_api.content == b""
    posted = http.post(url, json={"Name": "By POST"})
    assert (posted.status_code, posted.json()["created"]) == (200, False)
    same_key = http.patch(url, json={"Legacy_Id__c": key, "Name": "Same key in body"})
    assert same_key.status_code == 200
    other_key = http.patch(url, json={"Legacy_Id__c": key + "-other", "Name": "x"})
    assert other_key.status_code == 400 and other_key.json()[0]["errorCode"] == "INVALID_FIELD"

    partner = unique("PC")  # Partner_Code__c is an external id without a unique index: several records may share it
    first = _create(http, local_org, "Account", {"Name": "Twin 1", "Partner_Code__c": partner})
    second = _create(http, local_org, "Account", {"Name": "Twin 2", "Partner_Code__c": partner})
    several = http.patch(f"{base(local_org)}/sobjects/Account/Partner_Code__c/{partner}", json={"Name": "Which?"})
    assert several.status_code == 300
    assert several.json() == sorted([f"/services/data/v62.0/sobjects/Account/{first}",
                                     f"/services/data/v62.0/sobjects/Account/{second}"])
    assert http.get(f"{base(local_org)}/sobjects/Account/Partner_Code__c/{partner}").status_code == 300
    assert {r["Name"] for r in query(http, local_org, f"SELECT Name FROM Account WHERE Partner_Code__c = "
                                                      f"'{partner}'")} == {"Twin 1", "Twin 2"}, "nothing written"


def test_upsert_errors(http, local_org):
    not_a_key = http.patch(f"{base(local_org)}/sobjects/Account/Name/Acme", json={"Site": "x"})
    assert _errors(not_a_key) == (404, [{"errorCode": "NOT_FOUND", "message": "Provided external ID field does not "
                                                                              "exist or is not accessible: Name"}])
    key = unique("RE")
    failing = http.patch(f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}", json={"Region__c": "North"})
    assert _errors(failing) == (400, [{"errorCode": "REQUIRED_FIELD_MISSING",
                                       "message": "Required fields are missing: [Name]", "fields": ["Name"]}])
    with_id = http.patch(f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}", json={"Name": "x",
                                                                                        "Id": "001000000000000AAA"})
    assert with_id.status_code == 400 and with_id.json()[0]["errorCode"] == "INVALID_FIELD"
    by_id_create = http.post(f"{base(local_org)}/sobjects/Account/Id", json={"Name": f"Created by Id {key}"})
    assert by_id_create.status_code == 201 and by_id_create.json()["created"] is True
    record = by_id_create.json()["id"]
    by_id_update = http.patch(f"{base(local_org)}/sobjects/Account/Id/{record}", json={"Site": "Updated by Id"})
    assert (by_id_update.status_code, by_id_update.json()["created"]) == (200, False)
    assert http.post(f"{base(local_org)}/sobjects/Account/Legacy_Id__c", json={"Name": "x"}).status_code == 404


def test_get_and_delete_by_external_id(http, local_org):
    key = unique("RG")
    record = _create(http, local_org, "Account", {"Name": "Keyed", "Legacy_Id__c": key})
    found = http.get(f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}", params={"fields": "Name"})
    assert found.status_code == 200 and found.json() == {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{record}"}, "Name": "Keyed"}
    missing = http.get(f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}-none")
    assert _errors(missing) == (404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    assert http.get(f"{base(local_org)}/sobjects/Account/Nope__c/{key}").status_code == 404
    assert http.delete(f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}").status_code == 204
    assert http.get(f"{base(local_org)}/sobjects/Account/Legacy_Id__c/{key}").status_code == 404


def test_binary_fields_go_in_as_base64_and_come_back_as_bytes(http, local_org):
    parent = _create(http, local_org, "Account", {"Name": f"Files {unique('RB')}"})
    content = bytes(range(256)) * 3
    attachment = _create(http, local_org, "Attachment", {"Name": "blob.bin", "ParentId": parent,
                                                         "Body": base64.b64encode(content).decode()})
    blob = http.get(f"{base(local_org)}/sobjects/Attachment/{attachment}/Body")
    assert blob.status_code == 200 and blob.content == content
    length = http.get(f"{base(local_org)}/sobjects/Attachment/{attachment}", params={"fields": "BodyLength"}).json()
    assert length["BodyLength"] == len(content)
    bad = http.post(f"{base(local_org)}/sobjects/Attachment", json={"Name": "x", "ParentId": parent, "Body": "%%%"})
    assert _errors(bad) == (400, [{"errorCode": "INVALID_TYPE_ON_FIELD_IN_RECORD",
                                   "message": "value not of required type: base64", "fields": ["Body"]}])


def test_every_served_version_and_none_other(http, local_org):
    for version in ("v31.0", "v62.0", "v68.0"):
        assert http.post(f"{local_org.instance_url}/services/data/{version}/sobjects/Account",
                         json={"Name": f"Version {version}"}).status_code == 201
    too_new = http.post(f"{local_org.instance_url}/services/data/v69.0/sobjects/Account", json={"Name": "x"})
    assert _errors(too_new) == (404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    retired = http.post(f"{local_org.instance_url}/services/data/v30.0/sobjects/Account", json={"Name": "x"})
    assert retired.status_code == 410 and retired.json()[0]["errorCode"] == "GONE"
    assert http.post(f"{base(local_org)}/sobjects/Account", json={"Name": "x"},
                     headers={"Authorization": "Bearer nope"}).status_code == 401
