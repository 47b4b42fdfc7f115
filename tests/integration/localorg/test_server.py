"""LocalOrgServer and `serve`: TLS, plain HTTP, several orgs at once, persistence, restarts, the CLI."""

from __future__ import annotations

import os
import signal
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
from click.testing import CliRunner

from migrator.localorg.serve_command import serve
from migrator.localorg.server import InsecureBindError, LocalOrgServer, is_loopback
from tests.integration.conftest import org_session

from .bulk1_support import Bulk1, session_for
from .support import base, create_job, env_lines, run_job, wait


def test_https_with_a_ca_clients_can_trust(fresh_org):
    assert fresh_org.instance_url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(fresh_org.ca_file))
    for host in ("127.0.0.1", "localhost"):
        import socket

        with socket.create_connection((host, fresh_org.port)) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.version() is not None  # the handshake verified the certificate for this host
    try:
        requests.get(f"{fresh_org.instance_url}/services/data", verify=True, timeout=5)
    except requests.exceptions.SSLError:
        pass
    else:  # pragma: no cover - only if the system trusts our private CA
        raise AssertionError("the private CA should not be trusted by default")


def test_plain_http_and_several_orgs_at_once(tmp_path):
    with LocalOrgServer(tmp_path / "one.db", https=False) as one, LocalOrgServer(tmp_path / "two.db") as two:
        assert one.instance_url.startswith("http://") and one.ca_file is None
        assert one.org.identity.org_id != two.org.identity.org_id
        for org in (one, two):
            http = org_session(org)
            outcome = run_job(http, org, "Account", "insert", f"Name\nOnly in {org.db_path.stem}\n")
            assert outcome.info["numberRecordsProcessed"] == 1
        names = {org.db_path.stem: [r["Name"] for r in org_session(org).get(
            f"{base(org)}/query", params={"q": "SELECT Name FROM Account"}).json()["records"]] for org in (one, two)}
        assert names == {"one": ["Only in one"], "two": ["Only in two"]}


def test_data_and_tokens_persist_across_restarts(tmp_path):
    db = tmp_path / "org.db"
    with LocalOrgServer(db) as org:
        http = org_session(org)
        run_job(http, org, "Account", "insert", "Name\nKept\n")
        startup_token, username, password = org.access_token, org.username, org.password
        issued = requests.post(f"{org.instance_url}/services/oauth2/token", verify=str(org.ca_file),
                               data={"grant_type": "password", "username": username, "password": password,
                                     "client_id": org.client_id, "client_secret": org.client_secret}).json()
        pending = create_job(http, org, "Account", "insert")
        http.put(f"{base(org)}/jobs/ingest/{pending['id']}/batches", data=b"Name\nAfter restart\n")
        ca = org.ca_file.read_bytes()
    with sqlite3.connect(db) as conn:  # as if the server had stopped right after the client closed the job
        conn.execute("UPDATE _jobs SET state = 'UploadComplete' WHERE id = ?", (pending["id"],))
    with LocalOrgServer(db) as org:
        assert (org.access_token, org.username, org.password) == (startup_token, username, password)
        assert org.ca_file.read_bytes() == ca, "clients keep trusting the same CA"
        http = org_session(org)
        assert wait(http, f"{base(org)}/jobs/ingest/{pending['id']}")["state"] == "JobComplete"
        for token in (startup_token, issued["access_token"]):
            names = org_session(org, token).get(f"{base(org)}/query", params={"q": "SELECT Name FROM Account"})
            assert sorted(r["Name"] for r in names.json()["records"]) == ["After restart", "Kept"]
    with sqlite3.connect(db) as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM _tokens") for v in row)
    assert issued["access_token"] not in stored and startup_token not in stored, "only token hashes are stored"


def test_a_job_interrupted_in_progress_fails_on_restart(tmp_path):
    db = tmp_path / "org.db"
    with LocalOrgServer(db) as org:
        http = org_session(org)
        job = create_job(http, org, "Account", "insert")
        http.put(f"{base(org)}/jobs/ingest/{job['id']}/batches", data=b"Name\nA\nB\n")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE _jobs SET state = 'InProgress' WHERE id = ?", (job["id"],))
    with LocalOrgServer(db) as org:
        http = org_session(org)
        info = http.get(f"{base(org)}/jobs/ingest/{job['id']}").json()
        assert info["state"] == "Failed" and "stopped while the job was in progress" in info["errorMessage"]
        assert http.get(f"{base(org)}/jobs/ingest/{job['id']}/unprocessedrecords").text.splitlines() == \
            ["Name", '"A"', '"B"']


def test_a_new_database_never_reuses_the_job_ids_of_files_left_beside_it(tmp_path):
    """Issue 10 item 28: with only the .db deleted, old job folders stay; new jobs, batches and result
    sets must get Ids no file on disk uses, so an old job's results never mix into a new job's."""
    db = tmp_path / "org.db"
    with LocalOrgServer(db) as org:
        old2 = run_job(org_session(org), org, "Account", "insert", "Name\n" + "".join(f"Old {n}\n" for n in range(5)))
        bulk = Bulk1(org, session_for(org))
        old1 = bulk.create("insert", "Account")
        old_batch = bulk.wait(old1, bulk.add(old1, "Name\nOld A\nOld B\nOld C\n"))
        query_job = bulk.create("query", "Account")
        old_query = bulk.wait(query_job, bulk.add(query_job, "SELECT Id FROM Account"))
        old_ids = {old2.info["id"], old1["id"], old_batch["id"], query_job["id"],
                   *result_set_ids(bulk, query_job, old_query)}
    for leftover in tmp_path.glob("org.db*"):
        leftover.unlink()
    assert any((tmp_path / "org-jobs").iterdir()), "the job files outlived the database"
    with LocalOrgServer(db) as org:
        new2 = run_job(org_session(org), org, "Account", "insert", "Name\nNew\n")
        assert new2.info["id"] not in old_ids and [r["Name"] for r in new2.successful] == ["New"]
        bulk = Bulk1(org, session_for(org))
        new1 = bulk.create("insert", "Account")
        new_batch = bulk.wait(new1, bulk.add(new1, "Name\nNew A\n"))
        assert {new1["id"], new_batch["id"]}.isdisjoint(old_ids)
        assert len(bulk.csv_results(new1, new_batch)) == 1
        query_job = bulk.create("query", "Account")
        new_query = bulk.wait(query_job, bulk.add(query_job, "SELECT Name FROM Account"))
        assert set(result_set_ids(bulk, query_job, new_query)).isdisjoint(old_ids)
        assert sorted(row["Name"] for row in bulk.query_rows(query_job, new_query)) == ["New", "New A"]


def result_set_ids(bulk: Bulk1, job: dict, batch: dict) -> list[str]:
    """The result-set ids of a completed Bulk 1.0 query batch."""
    return [element.text for element in ElementTree.fromstring(bulk.result(job, batch).content)]


def test_plain_http_only_on_loopback(tmp_path):
    """Issue 10 item 27: no clear-text tokens on a reachable interface; HTTPS anywhere, HTTP on loopback."""
    for host in ("0.0.0.0", "::", "192.168.1.20", "org.example.com"):
        with pytest.raises(InsecureBindError, match=f"refusing to serve plain HTTP on {host}"):
            LocalOrgServer(tmp_path / "org.db", host=host, https=False)
    assert not (tmp_path / "org.db").exists(), "refused before anything is created"
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host), host
    with LocalOrgServer(tmp_path / "org.db", host="0.0.0.0") as reachable:  # HTTPS is fine on any interface
        assert reachable.instance_url.startswith("https://127.0.0.1:")


def test_fixed_token(tmp_path):
    with LocalOrgServer(tmp_path / "org.db", token="00D000000000001AAA!fixed") as org:
        assert org.access_token == "00D000000000001AAA!fixed"
        assert org_session(org).get(f"{base(org)}/limits").status_code == 200


def test_serve_command_prints_env_lines_and_stops_on_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    command = [sys.executable, "-c", "from migrator.localorg.serve_command import serve; serve()",
               "--db", str(tmp_path / "org.db"), "--port", "0", "--print-env", "--faults", "slow_ms=1",
               "--pace", "production,speed=5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = env_lines(process.stdout)
        assert set(lines) == {"SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_USERNAME", "SF_PASSWORD", "SF_CLIENT_ID",
                              "SF_CLIENT_SECRET", "SF_JWT_KEY_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}
        response = requests.get(f"{lines['SF_INSTANCE_URL']}/services/data/v62.0/limits",
                                headers={"Authorization": f"Bearer {lines['SF_ACCESS_TOKEN']}"},
                                verify=lines["REQUESTS_CA_BUNDLE"])
        assert response.status_code == 200
        login = requests.post(f"{lines['SF_INSTANCE_URL']}/services/oauth2/token", verify=lines["REQUESTS_CA_BUNDLE"],
                              data={"grant_type": "password", "username": lines["SF_USERNAME"],
                                    "password": lines["SF_PASSWORD"], "client_id": lines["SF_CLIENT_ID"],
                                    "client_secret": lines["SF_CLIENT_SECRET"]})
        assert login.status_code == 200, "the printed connected app signs in"
        assert Path(lines["SF_JWT_KEY_FILE"]).read_text().startswith("-----BEGIN PRIVATE KEY-----")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Local org running at https://127.0.0.1:" in err and "local org stopped" in err
    assert "paced          rate=1000.0, chunk=10000, max_jobs=5" in err and "speed=5.0" in err


def test_serve_refuses_bad_options(tmp_path):
    runner = CliRunner()
    clear_text = runner.invoke(serve, ["--db", str(tmp_path / "c.db"), "--host", "0.0.0.0", "--http"])
    assert clear_text.exit_code == 2 and "refusing to serve plain HTTP on 0.0.0.0" in clear_text.output
    not_pem = tmp_path / "cert.pem"
    not_pem.write_text("hello", encoding="utf-8")
    bad_cert = runner.invoke(serve, ["--db", str(tmp_path / "d.db"), "--jwt-cert", str(not_pem)])
    assert bad_cert.exit_code == 2 and "is not a PEM certificate or public key" in bad_cert.output
    bad_faults = runner.invoke(serve, ["--db", str(tmp_path / "a.db"), "--faults", "lock_rate=7"])
    assert bad_faults.exit_code == 2 and "lock_rate must be between 0 and 1" in bad_faults.output
    schema = tmp_path / "bad.yaml"
    schema.write_text("objects:\n  Thing__c:\n    fields:\n      X__c: {type: hologram}\n", encoding="utf-8")
    bad_schema = runner.invoke(serve, ["--db", str(tmp_path / "b.db"), "--schema", str(schema)])
    assert bad_schema.exit_code == 1 and "unknown type 'hologram'" in bad_schema.output
