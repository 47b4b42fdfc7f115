"""The REST resources around Bulk: versions, resources, limits, describe, records, query paging (§8)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import unique

from .support import base, run_job

EXPECTED_PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006", "Case": "500",
                     "User": "005", "Task": "00T", "Event": "00U", "Campaign": "701", "CampaignMember": "00v",
                     "Product2": "01t", "Pricebook2": "01s", "PricebookEntry": "01u", "RecordType": "012",
                     "Group": "00G"}


def _error(response) -> tuple[int, str, str]:
    [body] = response.json()
    return response.status_code, body["errorCode"], body["message"]


def test_versions_need_no_token_and_carry_no_usage_header(local_org):
    import requests

    response = requests.get(f"{local_org.instance_url}/services/data", verify=str(local_org.ca_file))
    versions = response.json()
    assert response.status_code == 200 and "Sforce-Limit-Info" not in response.headers
    assert versions[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert versions[-1] == {"label": "Winter '27", "url": "/services/data/v68.0", "version": "68.0"}
    assert {"label": "Summer '26", "url": "/services/data/v67.0", "version": "67.0"} in versions
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"


def test_every_api_response_meters_usage(http, local_org):
    first = http.get(f"{base(local_org)}/")
    second = http.get(f"{base(local_org)}/jobs/ingest/750000000000000AAA")  # errors are metered too
    used = [int(r.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0]) for r in (first, second)]
    assert used[1] == used[0] + 1
    assert first.json()["sobjects"] == "/services/data/v62.0/sobjects"
    assert first.json()["identity"].endswith(f"/id/{local_org.org.identity.org_id}/{local_org.org.identity.user_id}")
    limits = http.get(f"{base(local_org)}/limits").json()
    assert limits["DailyApiRequests"]["Remaining"] < limits["DailyApiRequests"]["Max"]
    assert {"DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB"} <= set(limits)


def test_versions_in_paths(http, local_org):
    assert _error(http.get(f"{local_org.instance_url}/services/data/v30.0/limits"))[:2] == (410, "GONE")
    assert _error(http.get(f"{local_org.instance_url}/services/data/v7.0/limits"))[:2] == (404, "NOT_FOUND")
    assert _error(http.get(f"{local_org.instance_url}/services/data/v99.0/limits"))[:2] == (404, "NOT_FOUND")
    assert _error(http.get(f"{local_org.instance_url}/services/data/vx/limits"))[:2] == (404, "NOT_FOUND")
    assert http.get(f"{local_org.instance_url}/services/data/v31.0/limits").status_code == 200


def test_unknown_paths_and_methods(http, local_org):
    assert _error(http.get(f"{base(local_org)}/no/such/thing")) == \
        (404, "NOT_FOUND", "The requested resource does not exist")
    assert _error(http.get(f"{local_org.instance_url}/favicon.ico"))[:2] == (404, "NOT_FOUND")
    status, code, message = _error(http.delete(f"{base(local_org)}/jobs/ingest"))
    assert (status, code) == (405, "METHOD_NOT_ALLOWED") and message.endswith("Allowed are GET,POST")


def test_global_describe_has_the_real_key_prefixes(http, local_org):
    body = http.get(f"{base(local_org)}/sobjects").json()
    prefixes = {o["name"]: o["keyPrefix"] for o in body["sobjects"]}
    assert {name: prefixes[name] for name in EXPECTED_PREFIXES} == EXPECTED_PREFIXES
    assert body["encoding"] == "UTF-8" and body["maxBatchSize"] == 200
    project = next(o for o in body["sobjects"] if o["name"] == "Project__c")
    assert project["custom"] is True and project["keyPrefix"].startswith("a")


def test_object_describe(http, local_org):
    describe = http.get(f"{base(local_org)}/sobjects/task/describe").json()
    for key in ("name", "label", "labelPlural", "keyPrefix", "custom", "createable", "updateable", "deletable",
                "queryable", "fields", "childRelationships", "recordTypeInfos", "urls"):
        assert key in describe
    fields = {f["name"]: f for f in describe["fields"]}
    what = fields["WhatId"]
    assert (what["type"], what["relationshipName"], what["polymorphicForeignKey"]) == ("reference", "What", True)
    assert {"Account", "Opportunity"} <= set(what["referenceTo"])
    status = fields["Status"]
    assert status["restrictedPicklist"] and not status["nillable"] and status["defaultedOnCreate"]
    assert [p["value"] for p in status["picklistValues"]][:2] == ["Not Started", "In Progress"]
    for key in ("label", "length", "precision", "scale", "createable", "updateable", "externalId", "idLookup",
                "unique", "caseSensitive", "calculated", "autoNumber", "soapType"):
        assert key in status
    assert fields["Id"]["soapType"] == "tns:ID" and fields["ActivityDate"]["soapType"] == "xsd:date"
    assert describe["recordTypeInfos"][0]["master"] is True

    account = http.get(f"{base(local_org)}/sobjects/Account/describe").json()
    legacy = next(f for f in account["fields"] if f["name"] == "Legacy_Id__c")
    assert (legacy["externalId"], legacy["idLookup"], legacy["unique"], legacy["custom"]) == (True, True, True, True)
    children = {(c["childSObject"], c["field"]): c["relationshipName"] for c in account["childRelationships"]}
    assert children[("Contact", "AccountId")] == "Contacts"
    assert children[("Task", "WhatId")] == "Tasks"
    contact = http.get(f"{base(local_org)}/sobjects/Contact/describe").json()
    name = next(f for f in contact["fields"] if f["name"] == "Name")
    assert not name["createable"] and name["nameField"]


def test_record_types_appear_in_describe(http, local_org):
    tag = unique("RT")
    run_job(http, local_org, "RecordType", "insert",
            f"Name,DeveloperName,SobjectType\nPartner {tag},Partner_{tag},Campaign\n")
    infos = http.get(f"{base(local_org)}/sobjects/Campaign/describe").json()["recordTypeInfos"]
    assert any(i["developerName"] == f"Partner_{tag}" and i["recordTypeId"].startswith("012") for i in infos)


def test_unknown_object(http, local_org):
    assert _error(http.get(f"{base(local_org)}/sobjects/Nope__c/describe"))[:2] == (404, "NOT_FOUND")
    assert _error(http.get(f"{base(local_org)}/sobjects/Nope__c"))[:2] == (404, "NOT_FOUND")
    assert http.get(f"{base(local_org)}/sobjects/Account").json()["objectDescribe"]["keyPrefix"] == "001"


def test_record_by_id(http, local_org):
    tag = unique("REC")
    account = run_job(http, local_org, "Account", "insert", f"Name,Legacy_Id__c,Active__c\nRecord,{tag},true\n").ids[0]
    record = http.get(f"{base(local_org)}/sobjects/Account/{account[:15]}").json()
    assert record["attributes"] == {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{account}"}
    assert (record["Id"], record["Name"], record["Active__c"]) == (account, "Record", True)
    picked = http.get(f"{base(local_org)}/sobjects/Account/{account}", params={"fields": "Name,Legacy_Id__c"}).json()
    assert set(picked) == {"attributes", "Name", "Legacy_Id__c"}
    assert _error(http.get(f"{base(local_org)}/sobjects/Account/{account}", params={"fields": "Nope"}))[:2] == \
        (400, "INVALID_FIELD")
    assert _error(http.get(f"{base(local_org)}/sobjects/Contact/{account}"))[:2] == (404, "NOT_FOUND")
    assert _error(http.get(f"{base(local_org)}/sobjects/Account/{account[:9]}zzzzzz"))[:2] == (404, "NOT_FOUND")
    assert _error(http.get(f"{base(local_org)}/sobjects/Account/garbage"))[:2] == (404, "NOT_FOUND")
    person = run_job(http, local_org, "Contact", "insert", "FirstName,LastName\nAda,Lovelace\n").ids[0]
    assert http.get(f"{base(local_org)}/sobjects/Contact/{person}").json()["Name"] == "Ada Lovelace"


def test_query_pages_with_next_records_url(http, local_org):
    tag = unique("RQ")
    run_job(http, local_org, "Account", "insert",
            "Name,Legacy_Id__c\n" + "".join(f"R {n:03d},{tag}-{n:03d}\n" for n in range(450)))
    soql = f"SELECT Name FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' ORDER BY Name"
    first = http.get(f"{base(local_org)}/query", params={"q": soql}, headers={"Sforce-Query-Options": "batchSize=200"})
    body = first.json()
    assert (body["totalSize"], body["done"], len(body["records"])) == (450, False, 200)
    next_url = body["nextRecordsUrl"]
    assert next_url.startswith("/services/data/v62.0/query/01g") and next_url.endswith("-200")
    names = [r["Name"] for r in body["records"]]
    while not body["done"]:
        body = http.get(local_org.instance_url + body["nextRecordsUrl"]).json()
        names += [r["Name"] for r in body["records"]]
    assert names == [f"R {n:03d}" for n in range(450)]
    stale = http.get(local_org.instance_url + first.json()["nextRecordsUrl"])
    assert _error(stale)[:2] == (400, "INVALID_QUERY_LOCATOR")


def test_query_count_and_query_all(http, local_org):
    tag = unique("QC")
    ids = run_job(http, local_org, "Account", "insert", f"Name,Legacy_Id__c\nA,{tag}-1\nB,{tag}-2\n").ids
    run_job(http, local_org, "Account", "delete", f"Id\n{ids[0]}\n")
    count = http.get(f"{base(local_org)}/query",
                     params={"q": f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{tag}-%'"}).json()
    assert count == {"totalSize": 1, "done": True, "records": []}
    every = http.get(f"{base(local_org)}/queryAll/",
                     params={"q": f"SELECT Id FROM Account WHERE Legacy_Id__c LIKE '{tag}-%'"}).json()
    assert every["totalSize"] == 2


@pytest.mark.parametrize(("params", "code"), [
    ({}, "MALFORMED_QUERY"),
    ({"q": "  "}, "MALFORMED_QUERY"),
    ({"q": "SELECT Id FROM Nope__c"}, "INVALID_TYPE"),
    ({"q": "SELECT Nope FROM Account"}, "INVALID_FIELD"),
    ({"q": "DELETE FROM Account"}, "MALFORMED_QUERY"),
])
def test_query_errors(http, local_org, params, code):
    assert _error(http.get(f"{base(local_org)}/query", params=params))[:2] == (400, code)


def test_unknown_query_locator(http, local_org):
    assert _error(http.get(f"{base(local_org)}/query/01gnope-2000"))[:2] == (400, "INVALID_QUERY_LOCATOR")
    assert _error(http.get(f"{base(local_org)}/queryAll/whatever"))[:2] == (400, "INVALID_QUERY_LOCATOR")
