"""SOQL through REST /query as tools send it: subqueries, GROUP BY, TYPEOF, FOR clauses, paging (issue 16 item 5)."""

from __future__ import annotations

from tests.integration.conftest import unique

from .bulk1_support import Bulk1, session_for
from .support import base, run_job


def _query(http, org, soql: str, resource: str = "query", **headers: str) -> dict:
    response = http.get(f"{base(org)}/{resource}", params={"q": soql}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_parent_to_child_subqueries_page_with_their_parents(http, local_org):
    tag = unique("SQ")
    accounts = "".join(f"{tag} {n:03d},{tag}-{n:03d}\n" for n in range(250))
    run_job(http, local_org, "Account", "insert", "Name,Legacy_Id__c\n" + accounts)
    contacts = "".join(f"C{n}-{k},{tag}-{n:03d}\n" for n in range(0, 250, 2) for k in range(2))
    run_job(http, local_org, "Contact", "insert", "LastName,Account.Legacy_Id__c\n" + contacts)
    soql = (f"SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account "
            f"WHERE Legacy_Id__c LIKE '{tag}-%' ORDER BY Name")
    page = _query(http, local_org, soql, **{"Sforce-Query-Options": "batchSize=200"})
    records = page["records"]
    assert page["totalSize"] == 250 and not page["done"] and len(records) == 200
    while not page["done"]:
        page = http.get(local_org.instance_url + page["nextRecordsUrl"]).json()
        records += page["records"]
    assert len(records) == 250
    assert records[0]["Contacts"] == {"totalSize": 2, "done": True, "records": [
        {"attributes": records[0]["Contacts"]["records"][0]["attributes"], "LastName": "C0-0"},
        {"attributes": records[0]["Contacts"]["records"][1]["attributes"], "LastName": "C0-1"}]}
    assert records[1]["Contacts"] is None
    assert [c["LastName"] for c in records[248]["Contacts"]["records"]] == ["C248-0", "C248-1"]


def test_group_by_aggregates_over_rest(http, local_org):
    tag = unique("SG")
    rows = "".join(f"{tag} {n},{tag}-{n},{region},{score}\n" for n, (region, score) in
                   enumerate([("North", 1.5), ("North", 2.5), ("South", 4.0)]))
    run_job(http, local_org, "Account", "insert", "Name,Legacy_Id__c,Region__c,Score__c\n" + rows)
    body = _query(http, local_org, f"SELECT Region__c, COUNT(Id) n, SUM(Score__c) total, MIN(Name), MAX(Score__c) "
                                   f"FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' GROUP BY Region__c "
                                   f"ORDER BY Region__c")
    assert body["totalSize"] == 2 and body["done"] is True
    assert body["records"] == [
        {"attributes": {"type": "AggregateResult"}, "Region__c": "North", "n": 2, "total": 4.0,
         "expr0": f"{tag} 0", "expr1": 2.5},
        {"attributes": {"type": "AggregateResult"}, "Region__c": "South", "n": 1, "total": 4.0,
         "expr0": f"{tag} 2", "expr1": 4.0}]
    having = _query(http, local_org, f"SELECT Region__c FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' "
                                     f"GROUP BY Region__c HAVING COUNT(Id) > 1")
    assert [r["Region__c"] for r in having["records"]] == ["North"]


def test_aggregates_answer_in_one_page_or_refuse(http, local_org):
    tag = unique("SA")
    run_job(http, local_org, "Account", "insert",
            "Name,Legacy_Id__c\n" + "".join(f"{tag} {n:04d},{tag}-{n:04d}\n" for n in range(2001)))
    soql = f"SELECT Name, COUNT(Id) FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' GROUP BY Name"
    response = http.get(f"{base(local_org)}/query", params={"q": soql})
    assert (response.status_code, response.json()) == (400, [{
        "errorCode": "EXCEEDED_ID_LIMIT", "message": "Aggregate query does not support queryMore(), use LIMIT to "
                                                     "restrict the results to a single batch"}])
    one_page = _query(http, local_org, soql + " LIMIT 2000", **{"Sforce-Query-Options": "batchSize=200"})
    assert one_page["done"] and len(one_page["records"]) == 2000


def test_typeof_and_for_clauses_over_rest(http, local_org):
    tag = unique("ST")
    account = http.post(f"{base(local_org)}/sobjects/Account", json={"Name": f"{tag} A"}).json()["id"]
    http.post(f"{base(local_org)}/sobjects/Task", json={"Subject": tag, "WhatId": account})
    body = _query(http, local_org, f"SELECT Subject, TYPEOF What WHEN Account THEN Name WHEN Opportunity THEN "
                                   f"StageName END FROM Task WHERE Subject = '{tag}' FOR VIEW")
    assert body["records"][0]["What"] == {"attributes": {"type": "Account", "url":
                                                         f"/services/data/v62.0/sobjects/Account/{account}"},
                                          "Name": f"{tag} A"}
    locked = _query(http, local_org, f"SELECT Id FROM Account WHERE Id = '{account}' FOR UPDATE")
    assert locked["totalSize"] == 1
    refused = http.get(f"{base(local_org)}/query", params={"q": "SELECT Id FROM Account ORDER BY Name FOR UPDATE"})
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_query_all_sees_deleted_records_and_children(http, local_org):
    tag = unique("SD")
    account = http.post(f"{base(local_org)}/sobjects/Account", json={"Name": f"{tag} A"}).json()["id"]
    contact = http.post(f"{base(local_org)}/sobjects/Contact", json={"LastName": tag, "AccountId": account}).json()
    assert http.delete(f"{base(local_org)}/sobjects/Contact/{contact['id']}").status_code == 204
    soql = f"SELECT Name, (SELECT LastName, IsDeleted FROM Contacts) FROM Account WHERE Id = '{account}'"
    assert _query(http, local_org, soql)["records"][0]["Contacts"] is None
    every = _query(http, local_org, soql, resource="queryAll")["records"][0]["Contacts"]
    assert every["records"][0]["IsDeleted"] is True


def test_bulk1_refuses_relationship_queries(local_org):
    bulk = Bulk1(local_org, session_for(local_org))
    job = bulk.create("query", "Account")
    batch = bulk.wait(job, bulk.add(job, "SELECT Id, (SELECT Id FROM Contacts) FROM Account"))
    assert (batch["state"], batch["stateMessage"]) == (
        "Failed", "FeatureNotEnabled : Aggregate Relationships not supported in Bulk Query with CSV content type")
