"""sObject Collections over HTTP: create, update, upsert, delete and retrieve, allOrNone (issue 16 item 2)."""

from __future__ import annotations

from migrator.localorg.ids import make_id
from tests.integration.conftest import unique

from .support import base, query

NEVER_ACCOUNT, NEVER_CONTACT = make_id("001", 10**12), make_id("003", 10**12)  # well-formed, never issued

ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "fields": [],
               "message": "Record rolled back because not all records were valid and the request was using AllOrNone "
                          "header"}


def _accounts(names: list[str], **extra) -> list[dict]:
    return [{"attributes": {"type": "Account"}, "Name": name, **extra} for name in names]


def test_create_answers_one_result_per_record_in_order(http, local_org):
    tag = unique("CC")
    records = _accounts([f"{tag} A", f"{tag} B"])
    records.insert(1, {"attributes": {"type": "Account"}, "Site": "no name"})
    records.append({"attributes": {"type": "Contact"}, "LastName": f"{tag} contact"})
    records.append({"Name": "no type"})
    records.append({"attributes": {"type": "Nope__c"}, "Name": "unknown type"})
    response = http.post(f"{base(local_org)}/composite/sobjects", json={"allOrNone": False, "records": records})
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, False, True, True, False, False]
    assert results[0]["id"].startswith("001") and results[3]["id"].startswith("003") and results[0]["errors"] == []
    assert results[1] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"],
                                                        "message": "Required fields are missing: [Name]"}]}
    assert results[4]["errors"][0]["statusCode"] == "INVALID_TYPE"
    assert results[4]["errors"][0]["message"] == "Must send a concrete entity type."
    assert results[5]["errors"][0]["statusCode"] == "INVALID_TYPE"
    names = {r["Name"] for r in query(http, local_org, f"SELECT Name FROM Account WHERE Name LIKE '{tag}%'")}
    assert names == {f"{tag} A", f"{tag} B"}


def test_all_or_none_rolls_back_every_record(http, local_org):
    tag = unique("CN")
    records = [*_accounts([f"{tag} 1", f"{tag} 2"]), {"attributes": {"type": "Account"}, "Region__c": "North"}]
    response = http.post(f"{base(local_org)}/composite/sobjects", json={"allOrNone": True, "records": records})
    results = response.json()
    assert response.status_code == 200
    assert results[:2] == [{"success": False, "errors": [ROLLED_BACK]}] * 2
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert query(http, local_org, f"SELECT Id FROM Account WHERE Name LIKE '{tag}%'") == []
    again = http.post(f"{base(local_org)}/composite/sobjects", json={"allOrNone": True, "records": records[:2]})
    assert [r["success"] for r in again.json()] == [True, True], "the rolled-back keys are free again"


def test_all_or_none_rollback_keeps_unique_keys_honest(http, local_org):
    """A rolled-back insert must not leave its keys behind in the engine's key indexes."""
    key = unique("CK")
    records = [{"attributes": {"type": "Account"}, "Name": "Keyed", "Legacy_Id__c": key},
               {"attributes": {"type": "Account"}, "Name": "x" * 300}]
    assert http.post(f"{base(local_org)}/composite/sobjects", json={"allOrNone": True, "records": records}).json()[0][
        "errors"] == [ROLLED_BACK]
    upsert = http.patch(f"{base(local_org)}/composite/sobjects/Account/Legacy_Id__c",
                        json={"records": [{"attributes": {"type": "Account"}, "Name": "Keyed", "Legacy_Id__c": key}]})
    assert upsert.json()[0]["created"] is True


def test_update_needs_ids_and_reports_each_record(http, local_org):
    tag = unique("CU")
    created = http.post(f"{base(local_org)}/composite/sobjects",
                        json={"records": _accounts([f"{tag} 1", f"{tag} 2"])}).json()
    first, second = (r["id"] for r in created)
    update = [{"attributes": {"type": "Account"}, "id": first, "Site": "Updated"},
              {"attributes": {"type": "Account"}, "id": second, "Region__c": "Middle"},
              {"attributes": {"type": "Account"}, "Site": "no id"},
              {"attributes": {"type": "Account"}, "id": NEVER_ACCOUNT, "Site": "nobody"}]
    results = http.patch(f"{base(local_org)}/composite/sobjects", json={"records": update}).json()
    assert results[0] == {"id": first, "success": True, "errors": []}
    assert results[1]["id"] == second and results[1]["errors"][0]["statusCode"] == \
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert results[2] == {"success": False, "errors": [{"statusCode": "MISSING_ARGUMENT", "fields": [],
                                                        "message": "Id not specified in an update call"}]}
    assert results[3]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    without_type = [{"id": first, "Site": "typed by its Id"}]
    assert http.patch(f"{base(local_org)}/composite/sobjects", json={"records": without_type}).json()[0]["success"]
    rolled = http.patch(f"{base(local_org)}/composite/sobjects", json={"allOrNone": True, "records": update[:2]}).json()
    assert rolled[0] == {"id": first, "success": False, "errors": [ROLLED_BACK]}
    assert query(http, local_org, f"SELECT Site FROM Account WHERE Id = '{first}'")[0]["Site"] == "typed by its Id"


def test_upsert_by_external_id(http, local_org):
    tag = unique("CX")
    url = f"{base(local_org)}/composite/sobjects/Account/Legacy_Id__c"
    records = [{"attributes": {"type": "Account"}, "Name": f"{tag} {n}", "Legacy_Id__c": f"{tag}-{n}"}
               for n in range(3)]
    first = http.patch(url, json={"allOrNone": False, "records": records}).json()
    assert [(r["success"], r["created"]) for r in first] == [(True, True)] * 3
    records[0]["Name"] = "renamed"
    records.append({"attributes": {"type": "Account"}, "Name": "keyless"})
    records.append({"attributes": {"type": "Contact"}, "LastName": "wrong type", "Legacy_Id__c": "x"})
    second = http.patch(url, json={"records": records}).json()
    assert [(r["success"], r["created"]) for r in second[:3]] == [(True, False)] * 3
    assert [r["id"] for r in second[:3]] == [r["id"] for r in first]
    assert second[3]["errors"][0] == {"statusCode": "MISSING_ARGUMENT", "message": "Legacy_Id__c not specified",
                                      "fields": []}
    assert second[4]["errors"][0]["statusCode"] == "INVALID_TYPE" and second[4]["created"] is False
    duplicates = http.patch(url, json={"records": [records[1], records[1]]}).json()
    assert [r["errors"][0]["statusCode"] for r in duplicates] == ["DUPLICATE_VALUE"] * 2
    not_a_key = http.patch(f"{base(local_org)}/composite/sobjects/Account/Name", json={"records": records[:1]})
    assert not_a_key.status_code == 404 and not_a_key.json()[0]["errorCode"] == "NOT_FOUND"
    assert http.patch(url.replace("v62.0", "v45.0"), json={"records": records[:1]}).status_code == 404, "v46.0+"


def test_delete_by_ids(http, local_org):
    tag = unique("CD")
    ids = [r["id"] for r in http.post(f"{base(local_org)}/composite/sobjects",
                                      json={"records": _accounts([f"{tag} 1", f"{tag} 2"])}).json()]
    response = http.delete(f"{base(local_org)}/composite/sobjects",
                           params={"ids": ",".join([ids[0], "garbage", ids[1][:15]]), "allOrNone": "false"})
    results = response.json()
    assert response.status_code == 200
    assert results[0] == {"id": ids[0], "success": True, "errors": []}
    assert results[1] == {"success": False, "errors": [{"statusCode": "MALFORMED_ID", "message": "malformed id garbage",
                                                        "fields": []}]}
    assert results[2] == {"id": ids[1], "success": True, "errors": []}
    again = http.delete(f"{base(local_org)}/composite/sobjects", params={"ids": ids[0]}).json()
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    live = [r["id"] for r in http.post(f"{base(local_org)}/composite/sobjects",
                                       json={"records": _accounts([f"{tag} 3"])}).json()]
    rolled = http.delete(f"{base(local_org)}/composite/sobjects",
                         params={"ids": f"{live[0]},{ids[0]}", "allOrNone": "true"}).json()
    assert rolled[0] == {"id": live[0], "success": False, "errors": [ROLLED_BACK]}
    assert query(http, local_org, f"SELECT Id FROM Account WHERE Id = '{live[0]}'") != []
    assert http.delete(f"{base(local_org)}/composite/sobjects").status_code == 400
    bad_flag = http.delete(f"{base(local_org)}/composite/sobjects", params={"ids": live[0], "allOrNone": "maybe"})
    assert bad_flag.status_code == 400


def test_retrieve_by_ids_in_order_with_nulls(http, local_org):
    tag = unique("CR")
    ids = [r["id"] for r in http.post(f"{base(local_org)}/composite/sobjects",
                                      json={"records": _accounts([f"{tag} 1", f"{tag} 2"], Site="S")}).json()]
    wanted = [ids[1], NEVER_ACCOUNT, ids[0][:15], NEVER_CONTACT]
    fetched = http.get(f"{base(local_org)}/composite/sobjects/Account",
                       params={"ids": ",".join(wanted), "fields": "Name,Site"})
    assert fetched.status_code == 200
    records = fetched.json()
    assert [r and r["Name"] for r in records] == [f"{tag} 2", None, f"{tag} 1", None]
    assert set(records[0]) == {"attributes", "Name", "Site"}
    posted = http.post(f"{base(local_org)}/composite/sobjects/Account", json={"ids": ids, "fields": ["Id", "Name"]})
    assert [r["Id"] for r in posted.json()] == ids
    assert http.get(f"{base(local_org)}/composite/sobjects/Account", params={"ids": ids[0]}).status_code == 400
    bad_field = http.get(f"{base(local_org)}/composite/sobjects/Account", params={"ids": ids[0], "fields": "Nope"})
    assert bad_field.status_code == 400 and bad_field.json()[0]["errorCode"] == "INVALID_FIELD"


def test_request_limits_and_shapes(http, local_org):
    too_many = http.post(f"{base(local_org)}/composite/sobjects", json={"records": _accounts(["x"] * 201)})
    assert (too_many.status_code, too_many.json()) == (400, [{
        "errorCode": "EXCEEDED_ID_LIMIT",
        "message": "record limit reached. cannot submit more than 200 records into this call"}])
    assert http.post(f"{base(local_org)}/composite/sobjects", json={"records": "no"}).status_code == 400
    assert http.post(f"{base(local_org)}/composite/sobjects", json={"allOrNone": "yes",
                                                                    "records": []}).status_code == 400
    unknown_field = http.post(f"{base(local_org)}/composite/sobjects", json={"records": _accounts(["x"], Bogus=1)})
    assert unknown_field.status_code == 400 and unknown_field.json()[0]["errorCode"] == "INVALID_FIELD"
    mixed = [{"attributes": {"type": t}, "LastName" if t == "Contact" else "Name": "x"}
             for t in ["Account", "Contact"] * 6]
    chunks = http.post(f"{base(local_org)}/composite/sobjects", json={"records": mixed})
    assert chunks.status_code == 400, "twelve chunks of one type each: Salesforce takes ten"
    assert http.post(f"{local_org.instance_url}/services/data/v41.0/composite/sobjects",
                     json={"records": []}).status_code == 404, "collections arrived in v42.0"
