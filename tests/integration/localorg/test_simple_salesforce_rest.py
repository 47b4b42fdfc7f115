"""simple-salesforce's REST calls, unmodified, against the local org (issue 16 item 7), and the issue's
"done when" tool run against a `migrator serve` process: 150 records through composite/sobjects, the
Organization record, records fetched by Id through collections, a tree of accounts with contacts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from tests.integration.conftest import unique

from .support import env_lines

REPO = Path(__file__).resolve().parents[3]


def _client(instance_url: str, token: str, ca_file: str, version: str = "62.0") -> Salesforce:
    session = requests.Session()
    session.verify = ca_file
    return Salesforce(instance_url=instance_url, session_id=token, session=session, version=version)


@pytest.fixture
def sf(local_org) -> Salesforce:
    return _client(local_org.instance_url, local_org.access_token, str(local_org.ca_file))


def test_sobject_create_get_update_upsert_delete(sf):
    key = unique("SR")
    created = sf.Account.create({"Name": "Simple", "Legacy_Id__c": key, "Region__c": "West"})
    assert created["success"] is True and created["id"].startswith("001")
    assert sf.Account.get(created["id"])["Region__c"] == "West"
    assert sf.Account.update(created["id"], {"Name": "Simple 2"}) == 204
    assert sf.Account.get_by_custom_id("Legacy_Id__c", key)["Name"] == "Simple 2"
    assert sf.Account.upsert(f"Legacy_Id__c/{key}", {"Name": "Simple 3"}) == 200
    assert sf.Account.upsert(f"Legacy_Id__c/{key}-new", {"Name": "Brand new"}) == 201
    contact = sf.Contact.create({"LastName": "Kid", "Account": {"Legacy_Id__c": key}})
    assert sf.Contact.get(contact["id"])["AccountId"] == created["id"]
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get_by_custom_id("Legacy_Id__c", key)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.create({"Site": "no name"})
    assert refused.value.content == [{"errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"],
                                      "message": "Required fields are missing: [Name]"}]


def test_several_matches_raise_more_than_one_record(sf):
    partner = unique("SP")
    for n in range(2):
        sf.Account.create({"Name": f"Twin {n}", "Partner_Code__c": partner})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert(f"Partner_Code__c/{partner}", {"Name": "which one?"})


def test_query_all_with_subqueries_and_aggregates(sf):
    tag = unique("SQA")
    parent = sf.Account.create({"Name": f"{tag} parent", "Legacy_Id__c": tag})["id"]
    for name in ("A", "B"):
        sf.Contact.create({"LastName": f"{tag} {name}", "AccountId": parent})
    result = sf.query_all(f"SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account "
                          f"WHERE Id = '{parent}'")
    assert [c["LastName"] for c in result["records"][0]["Contacts"]["records"]] == [f"{tag} A", f"{tag} B"]
    grouped = sf.query(f"SELECT AccountId, COUNT(Id) FROM Contact WHERE AccountId = '{parent}' GROUP BY AccountId")
    assert grouped["records"][0]["expr0"] == 2
    organization = sf.query("SELECT Id, OrganizationType, IsSandbox, InstanceName, NamespacePrefix, "
                            "TrialExpirationDate FROM Organization")["records"][0]
    assert (organization["OrganizationType"], organization["IsSandbox"]) == ("Developer Edition", False)


def test_restful_composite_calls(sf):
    tag = unique("SC")
    records = [{"attributes": {"type": "Account"}, "Name": f"{tag} {n}"} for n in range(3)]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    ids = [r["id"] for r in results]
    fetched = sf.restful("composite/sobjects/Account", params={"ids": ",".join(ids), "fields": "Name"})
    assert [r["Name"] for r in fetched] == [f"{tag} {n}" for n in range(3)]
    composite = sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "GET", "url": f"/services/data/v62.0/sobjects/Account/{ids[0]}?fields=Name", "referenceId": "a"},
        {"method": "PATCH", "url": f"/services/data/v62.0/sobjects/Account/{ids[0]}", "referenceId": "b",
         "body": {"Site": "@{a.Name}"}}]})
    assert [r["httpStatusCode"] for r in composite["compositeResponse"]] == [200, 204]
    assert sf.Account.get(ids[0])["Site"] == f"{tag} 0"
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})
    assert all(r["success"] for r in deleted)
    assert "DailyApiRequests" in sf.limits()
    assert sf.restful("limits/recordCount", params={"sObjects": "Organization"}) == {
        "sObjects": [{"count": 1, "name": "Organization"}]}


@pytest.fixture
def served(tmp_path) -> Iterator[dict[str, str]]:
    """`migrator serve` as a separate process, its --print-env lines parsed."""
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "migrator", "serve", "--db", str(tmp_path / "org.db"), "--port", "0",
               "--print-env"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=tmp_path)
    try:
        lines = env_lines(process.stdout)
        assert "SF_INSTANCE_URL" in lines, process.stderr.read() if process.poll() is not None else "no env lines"
        yield lines
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_a_tool_runs_unmodified_against_migrator_serve(served):
    sf = _client(served["SF_INSTANCE_URL"], served["SF_ACCESS_TOKEN"], served["REQUESTS_CA_BUNDLE"], "67.0")
    records = [{"attributes": {"type": "Account"}, "Name": f"Tool {n:03d}", "AccountNumber": f"T{n:03d}"}
               for n in range(150)]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert len(results) == 150 and all(r["success"] for r in results)
    ids = [r["id"] for r in results]

    organization = sf.query("SELECT Id, Name, OrganizationType, IsSandbox, InstanceName, NamespacePrefix, "
                            "TrialExpirationDate FROM Organization")["records"][0]
    by_id = sf.restful(f"sobjects/Organization/{organization['Id']}")
    assert by_id["Id"] == organization["Id"] and by_id["IsSandbox"] is False

    fetched = sf.restful("composite/sobjects/Account", method="POST", json={"ids": ids, "fields": ["Id", "Name"]})
    assert [r["Id"] for r in fetched] == ids and fetched[149]["Name"] == "Tool 149"

    tree = {"records": [{"attributes": {"type": "Account", "referenceId": f"acc{n}"}, "Name": f"Tree {n}",
                         "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": f"con{n}-{k}"},
                                                   "LastName": f"Person {n}-{k}"} for k in range(2)]}}
                        for n in range(3)]}
    imported = sf.restful("composite/tree/Account", method="POST", json=tree)
    assert imported["hasErrors"] is False and len(imported["results"]) == 9
    contacts = sf.query_all("SELECT Account.Name, LastName FROM Contact WHERE LastName LIKE 'Person %' "
                            "ORDER BY LastName")["records"]
    assert [(c["Account"]["Name"], c["LastName"]) for c in contacts][:2] == [("Tree 0", "Person 0-0"),
                                                                           ("Tree 0", "Person 0-1")]
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Remaining"] < limits["DailyApiRequests"]["Max"]
