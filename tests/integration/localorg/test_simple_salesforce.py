"""simple-salesforce, unmodified, against the local org over HTTPS (its bulk2 API hard-codes https://)."""

from __future__ import annotations

import csv
import io

import pytest
import requests
from simple_salesforce import Salesforce

from tests.integration.conftest import unique

WAIT = 0.05  # simple-salesforce sleeps this long before polling (its default is 5 s)


@pytest.fixture
def sf(local_org) -> Salesforce:
    session = requests.Session()
    session.verify = str(local_org.ca_file)
    return Salesforce(instance_url=local_org.instance_url, session_id=local_org.access_token, session=session)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_account_and_contact_upserts_with_relationship_and_orphan(sf):
    tag = unique("SS")
    accounts = [{"Name": f"Acme {n}", "Legacy_Id__c": f"{tag}-A{n}", "Industry": "Technology"} for n in range(12)]
    [result] = sf.bulk2.Account.upsert(records=accounts, external_id_field="Legacy_Id__c", wait=WAIT)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (12, 0)
    first = {r["Legacy_Id__c"]: r for r in _rows(sf.bulk2.Account.get_successful_records(result["job_id"]))}
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("001") for r in first.values())

    contacts = [{"LastName": f"Doe {n}", "Legacy_Id__c": f"{tag}-C{n}", "Account.Legacy_Id__c": f"{tag}-A{n}"}
                for n in range(5)]
    contacts.append({"LastName": "Orphan", "Legacy_Id__c": f"{tag}-C-orphan", "Account.Legacy_Id__c": f"{tag}-NONE"})
    [result] = sf.bulk2.Contact.upsert(records=contacts, external_id_field="Legacy_Id__c", wait=WAIT)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (6, 1)
    [failed] = _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert failed["LastName"] == "Orphan" and failed["sf__Id"] == ""
    assert failed["sf__Error"] == (f"INVALID_FIELD:Foreign key external ID: {tag}-NONE not found for field "
                                   f"Legacy_Id__c in entity Account:--")
    [header] = sf.bulk2.Contact.get_unprocessed_records(result["job_id"]).splitlines()
    assert set(header.split(",")) == {"LastName", "Legacy_Id__c", "Account.Legacy_Id__c"}
    linked = sf.query(f"SELECT Account.Legacy_Id__c FROM Contact WHERE Legacy_Id__c = '{tag}-C3'")["records"]
    assert linked[0]["Account"]["Legacy_Id__c"] == f"{tag}-A3"

    [again] = sf.bulk2.Account.upsert(records=accounts, external_id_field="Legacy_Id__c", wait=WAIT)
    second = {r["Legacy_Id__c"]: r for r in _rows(sf.bulk2.Account.get_successful_records(again["job_id"]))}
    assert {k: r["sf__Id"] for k, r in second.items()} == {k: r["sf__Id"] for k, r in first.items()}
    assert {r["sf__Created"] for r in second.values()} == {"false"}


def test_query_pages_with_small_max_records(sf):
    tag = unique("SQ")
    records = [{"Name": f"Paged {n:02d}", "Legacy_Id__c": f"{tag}-{n:02d}"} for n in range(23)]
    sf.bulk2.Account.insert(records=records, wait=WAIT)
    pages = list(sf.bulk2.Account.query(f"SELECT Id, Name FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' "
                                        f"ORDER BY Name", max_records=10, wait=WAIT))
    assert len(pages) == 3
    rows = [row for page in pages for row in _rows(page)]
    assert [r["Name"] for r in rows] == [f"Paged {n:02d}" for n in range(23)]
    assert all(page.startswith('"Id","Name"') for page in pages)


def test_bulk2_delete_and_query_all(sf):
    tag = unique("SD")
    [created] = sf.bulk2.Account.insert(records=[{"Name": "Gone", "Legacy_Id__c": tag}], wait=WAIT)
    [row] = _rows(sf.bulk2.Account.get_successful_records(created["job_id"]))
    [deleted] = sf.bulk2.Account.delete(records=[{"Id": row["sf__Id"]}], wait=WAIT)
    assert deleted["numberRecordsFailed"] == 0
    assert sf.query(f"SELECT Id FROM Account WHERE Legacy_Id__c = '{tag}'")["totalSize"] == 0
    [gone] = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Legacy_Id__c = '{tag}'",
                          include_deleted=True)["records"]
    assert gone["IsDeleted"] is True


def test_describe_and_limits_through_the_rest_client(sf):
    describe = sf.Contact.describe()
    assert describe["keyPrefix"] == "003"
    assert {"LastName", "AccountId", "Legacy_Id__c"} <= {f["name"] for f in describe["fields"]}
    assert sf.limits()["DailyApiRequests"]["Max"] > 0
