"""The org's Id from userinfo, and SOQL over REST, against the real local org."""

from migrator.client.auth import AccessTokenCredentials
from migrator.client.http import ApiSession
from migrator.client.identity import fetch_identity
from migrator.client.rest_query import query_records


def test_userinfo_names_the_org_and_the_user_whatever_the_credentials(org, api, http):
    by_password = fetch_identity(api)
    by_token = fetch_identity(ApiSession(http, AccessTokenCredentials(org.instance_url, org.access_token)))
    assert by_password == by_token
    assert by_password.org_id.startswith("00D") and len(by_password.org_id) == 15
    assert by_password.username == org.username


def test_rest_query_follows_next_records_url(org, api, bulk, clock):
    rows = "".join(f"Q{i:04d},Query {i}\n" for i in range(2500)).encode()
    job = bulk.create_ingest_job("Account", "insert")
    bulk.upload_job_data(job.id, b"Legacy_Id__c,Name\n" + rows)
    bulk.close_job(job.id)
    assert bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=120).state == "JobComplete"
    records = query_records(api, "SELECT Legacy_Id__c FROM Account ORDER BY Legacy_Id__c")
    assert len(records) == 2500 and records[0] == {"Legacy_Id__c": "Q0000"} and records[-1]["Legacy_Id__c"] == "Q2499"
