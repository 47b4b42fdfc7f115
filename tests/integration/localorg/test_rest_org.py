"""Org facts over HTTP: the Organization record, /limits with live counters, /limits/recordCount, API versions,
and describe's If-Modified-Since (issue 16 items 4 and 6)."""

from __future__ import annotations

import time
from email.utils import format_datetime, parsedate_to_datetime

from migrator.localorg.server import LocalOrgServer
from tests.integration.conftest import org_session, unique

from .bulk1_support import Bulk1, async_base, session_for
from .support import base, query, run_job


def test_the_organization_record_by_id_and_by_soql(http, local_org):
    org_id = local_org.org.identity.org_id
    record = http.get(f"{base(local_org)}/sobjects/Organization/{org_id}").json()
    assert record["Id"] == org_id and record["attributes"]["type"] == "Organization"
    assert (record["OrganizationType"], record["IsSandbox"], record["InstanceName"], record["NamespacePrefix"],
            record["TrialExpirationDate"]) == ("Developer Edition", False, "LOCAL", None, None)
    [queried] = query(http, local_org, "SELECT Id, Name, OrganizationType, IsSandbox, InstanceName, NamespacePrefix, "
                                       "TrialExpirationDate FROM Organization")
    assert queried["Id"] == org_id and queried["Name"] == "Local Org"
    assert http.patch(f"{base(local_org)}/sobjects/Organization/{org_id}", json={"Name": "x"}).status_code == 400
    assert http.get(f"{base(local_org)}/sobjects/Organization/describe").json()["createable"] is False


def test_limits_have_salesforce_keys_and_count_down_as_the_org_is_used(fresh_org):
    http = org_session(fresh_org)
    before = http.get(f"{base(fresh_org)}/limits").json()
    for key in ("DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB",
                "DataStorageMB", "FileStorageMB", "DailyAsyncApexExecutions", "SingleEmail"):
        assert set(before[key]) == {"Max", "Remaining"}, key
    run_job(http, fresh_org, "Account", "insert", "Name\n" + "".join(f"L{n}\n" for n in range(30)))
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    job = bulk.create("insert", "Account")
    bulk.wait(job, bulk.add(job, "Name\nOne more\n"))
    created = http.post(f"{base(fresh_org)}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"})
    assert created.status_code == 200
    after = http.get(f"{base(fresh_org)}/limits").json()
    used = {key: before[key]["Remaining"] - after[key]["Remaining"] for key in before}
    assert used["DailyBulkApiBatches"] == 2, "one Bulk 2.0 batch of 10,000 records, one Bulk 1.0 batch"
    assert used["DailyBulkV2QueryJobs"] == 1
    assert used["DailyApiRequests"] >= 8  # every call in between was metered, including the first /limits
    assert used["DataStorageMB"] >= 0 and after["DataStorageMB"]["Max"] == before["DataStorageMB"]["Max"]
    assert after["DailyApiRequests"]["Max"] == fresh_org.org.settings.daily_api_requests


def test_api_usage_survives_a_restart_on_the_same_day(tmp_path):
    db = tmp_path / "org.db"
    with LocalOrgServer(db) as org:
        http = org_session(org)
        for _ in range(5):
            http.get(f"{base(org)}/limits")
        used = org.org.api_usage
    with LocalOrgServer(db) as org:
        remaining = org_session(org).get(f"{base(org)}/limits").json()["DailyApiRequests"]["Remaining"]
        assert remaining == org.org.settings.daily_api_requests - used - 1


def test_record_count(http, local_org):
    tag = unique("RCN")
    run_job(http, local_org, "Project__c", "insert", f"Name,Code__c\nP1,{tag}-1\nP2,{tag}-2\n")
    counts = http.get(f"{base(local_org)}/limits/recordCount", params={"sObjects": "project__c,Organization,Nope"})
    assert counts.status_code == 200
    body = counts.json()["sObjects"]
    assert [e["name"] for e in body] == ["Project__c", "Organization"]
    assert body[1]["count"] == 1 and body[0]["count"] >= 2
    assert body[0]["count"] == http.get(f"{base(local_org)}/query", params={"q": "SELECT COUNT() FROM Project__c"}
                                        ).json()["totalSize"]
    every = http.get(f"{base(local_org)}/limits/recordCount").json()["sObjects"]
    assert {"Organization", "User", "Project__c"} <= {e["name"] for e in every}
    assert all(e["count"] > 0 for e in every)


def test_versions_up_to_the_current_release_on_rest_and_bulk1(http, local_org):
    versions = [v["version"] for v in http.get(f"{local_org.instance_url}/services/data").json()]
    assert versions[-3:] == ["66.0", "67.0", "68.0"]
    for version in ("67.0", "68.0"):
        assert http.get(f"{local_org.instance_url}/services/data/v{version}/limits").status_code == 200
        bulk = Bulk1(local_org, session_for(local_org))
        response = bulk.http.post(f"{async_base(local_org, version)}/job",
                                  data='<jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
                                       "<operation>insert</operation><object>Account</object>"
                                       "<contentType>CSV</contentType></jobInfo>",
                                  headers={"Content-Type": "application/xml"})
        assert response.status_code == 201, response.text
    assert http.get(f"{local_org.instance_url}/services/data/v69.0/limits").status_code == 404
    invalid = Bulk1(local_org, session_for(local_org)).http.get(f"{async_base(local_org, '69.0')}/job/x")
    assert invalid.status_code == 400 and b"InvalidVersion" in invalid.content


def test_describe_answers_304_when_unchanged_since(http, local_org):
    url = f"{base(local_org)}/sobjects/Campaign/describe"
    first = http.get(url)
    modified = first.headers["Last-Modified"]
    assert first.status_code == 200 and parsedate_to_datetime(modified)
    unchanged = http.get(url, headers={"If-Modified-Since": modified})
    assert unchanged.status_code == 304 and unchanged.content == b""
    earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2020), usegmt=True)
    assert http.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert http.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200
    global_url = f"{base(local_org)}/sobjects"
    assert http.get(global_url, headers={"If-Modified-Since": http.get(global_url).headers["Last-Modified"]}
                    ).status_code == 304
    time.sleep(1.1)  # HTTP dates have whole seconds: a record type saved a second later changes the describe
    tag = unique("IMS")
    run_job(http, local_org, "RecordType", "insert", f"Name,DeveloperName,SobjectType\nRT {tag},RT_{tag},Campaign\n")
    changed = http.get(url, headers={"If-Modified-Since": modified})
    assert changed.status_code == 200 and any(i["developerName"] == f"RT_{tag}" for i in
                                              changed.json()["recordTypeInfos"])
