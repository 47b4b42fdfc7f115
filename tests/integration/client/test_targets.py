"""open_target for the local org, and proof that secrets never leak into logs, errors or reprs."""

from __future__ import annotations

import logging

import pytest
import requests

from migrator.client.bulk2 import Bulk2Client
from migrator.client.ingest import Bulk2Ingest, JobRequest, wait_for_status
from migrator.config import open_target, resolve_target
from migrator.errors import AuthError, ConfigError, NotFoundError, TransientApiError


def test_open_target_local_with_no_configuration(tmp_path, clock):
    target = resolve_target(None, cli_overrides={}, env={}, project_dir=tmp_path)
    data_dir = tmp_path / ".migrator"
    source = tmp_path / "accounts.csv"
    source.write_text("Name\nAcme\nGlobex\n", encoding="utf-8")
    with open_target(target, data_dir=data_dir) as api:
        assert api.instance_url.startswith("https://127.0.0.1:")
        ingest = Bulk2Ingest(Bulk2Client(api))
        job_id = ingest.submit(JobRequest("Account", "insert", None, source))
        status = wait_for_status(ingest, job_id, clock=clock, sleep=clock.sleep, timeout=60)
        assert (status.state, status.records_processed) == ("JobComplete", 2)
        instance_url = api.instance_url
    assert (data_dir / "local-org.db").is_file()

    # The server is gone after the block, and its data persisted: a second start sees the job.
    with pytest.raises(requests.ConnectionError):
        requests.get(instance_url + "/services/data", timeout=2, verify=False)
    with open_target(target, data_dir=data_dir) as api:
        assert job_id in {info.id for info in Bulk2Client(api).list_ingest_jobs()}


def test_open_target_local_with_configured_db_and_schema(tmp_path, schema_file):
    (tmp_path / "migrator.toml").write_text(
        f'[targets.scratch]\nauth = "local"\ndb = "dbs/scratch.db"\nschema = ["{schema_file.name}"]\n')
    target = resolve_target("scratch", cli_overrides={}, env={}, project_dir=tmp_path)
    with open_target(target, data_dir=tmp_path / ".migrator") as api:
        job = Bulk2Client(api).create_ingest_job("Account", "upsert", external_id_field="Legacy_Id__c")
        assert job.external_id_field_name == "Legacy_Id__c"
    assert (tmp_path / "dbs" / "scratch.db").is_file()
    assert not (tmp_path / ".migrator" / "local-org.db").exists()


def test_secrets_never_reach_logs_errors_or_reprs(org, http, credentials, bulk, clock, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, including urllib3's connection pool
    org.set_faults({"expire_token_after": 2})
    source = tmp_path / "a.csv"
    source.write_text("Name\nAcme\n", encoding="utf-8")
    ingest = Bulk2Ingest(bulk)
    job_id = ingest.submit(JobRequest("Account", "insert", None, source))
    wait_for_status(ingest, job_id, clock=clock, sleep=clock.sleep, timeout=60)
    ingest.results(job_id, tmp_path / "results")
    tokens_seen = set(credentials.issued)

    texts = [caplog.text, repr(credentials), repr(bulk.api), repr(bulk.api.token)]
    with pytest.raises(NotFoundError) as not_found:
        bulk.get_ingest_job("750000000000000AAA")
    texts.append(str(not_found.value))
    bad = type(credentials)(org.instance_url, org.client_id, org.client_secret, org.username, "not-" + org.password)
    with pytest.raises(AuthError) as refused:
        bad.authenticate(http)
    texts += [str(refused.value), repr(bad), str(refused.value.as_dict())]
    org.set_faults({"upload_503": 1})
    with pytest.raises(TransientApiError) as transient:
        ingest.submit(JobRequest("Account", "insert", None, source))
    texts.append(str(transient.value))
    texts += [p.read_text() for p in (tmp_path / "results").iterdir()]

    assert len(tokens_seen) >= 2  # the session was renewed at least once
    secrets = {org.password, "not-" + org.password, org.access_token, org.client_secret, *tokens_seen}
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "POST" in caplog.text or "PUT" in caplog.text  # the log did record the calls


def test_salesforce_kind_target_trusts_its_ca_file_despite_env_bundle(org, tmp_path, monkeypatch):
    """verify = "<ca>" must win over REQUESTS_CA_BUNDLE (requests lets the env override the session)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", requests.certs.where())
    (tmp_path / "migrator.toml").write_text(
        f'[targets.dev]\nauth = "password"\nlogin_url = "{org.instance_url}"\nclient_id = "{org.client_id}"\n'
        f'username = "{org.username}"\nverify = "{org.ca_file}"\n', encoding="utf-8")
    env = {"SF_PASSWORD": org.password, "SF_CLIENT_SECRET": org.client_secret}
    target = resolve_target("dev", cli_overrides={}, env=env, project_dir=tmp_path)
    with open_target(target, data_dir=tmp_path / ".migrator") as api:
        assert Bulk2Client(api).create_ingest_job("Account", "insert").state == "Open"
    untrusted = resolve_target("dev", cli_overrides={"verify": True}, env=env, project_dir=tmp_path)
    with pytest.raises(ConfigError, match="not trusted"), open_target(untrusted, data_dir=tmp_path):
        pass
