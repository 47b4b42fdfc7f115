"""Plain-HTTP helpers for driving the local org's Bulk API 2.0 in tests (no client library involved)."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import IO, Any

import requests

from migrator.localorg.server import LocalOrgServer

API = "v62.0"


def env_lines(stdout: IO[str], timeout: float = 60.0) -> dict[str, str]:
    """The ``KEY=value`` lines `migrator serve --print-env` prints, read until the last one (SSL_CERT_FILE)."""
    lines: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while "SSL_CERT_FILE" not in lines and time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            break
        key, _, value = line.strip().partition("=")
        lines[key] = value.strip("'")
    return lines


def base(org: LocalOrgServer, version: str = API) -> str:
    return f"{org.instance_url}/services/data/{version}"


@dataclass
class JobOutcome:
    info: dict[str, Any]
    successful: list[dict[str, str]]
    failed: list[dict[str, str]]
    unprocessed: list[dict[str, str]]
    raw: dict[str, str]

    @property
    def ids(self) -> list[str]:
        return [row["sf__Id"] for row in self.successful]

    def error_of(self, column: str, value: str) -> str:
        return next(row["sf__Error"] for row in self.failed if row[column] == value)


def parse(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def wait(http: requests.Session, url: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info = http.get(url).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted") or time.monotonic() > deadline:
            return info
        time.sleep(0.02)


def create_job(http: requests.Session, org: LocalOrgServer, object_name: str, operation: str,
               **options: Any) -> dict[str, Any]:
    response = http.post(f"{base(org)}/jobs/ingest", json={"object": object_name, "operation": operation, **options})
    assert response.status_code == 200, response.text
    return response.json()


def run_job(http: requests.Session, org: LocalOrgServer, object_name: str, operation: str, data: str | bytes,
            delimiter: str = ",", **options: Any) -> JobOutcome:
    """Create, upload, close, wait and fetch all three results of one ingest job."""
    job = create_job(http, org, object_name, operation, **options)
    body = data.encode() if isinstance(data, str) else data
    upload = http.put(f"{base(org)}/jobs/ingest/{job['id']}/batches", data=body,
                      headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201, upload.text
    closed = http.patch(f"{base(org)}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert closed.status_code == 200, closed.text
    info = wait(http, f"{base(org)}/jobs/ingest/{job['id']}")
    raw = {kind: http.get(f"{base(org)}/jobs/ingest/{job['id']}/{kind}").text
           for kind in ("successfulResults", "failedResults", "unprocessedrecords")}
    return JobOutcome(info, parse(raw["successfulResults"], delimiter), parse(raw["failedResults"], delimiter),
                      parse(raw["unprocessedrecords"], delimiter), raw)


def query(http: requests.Session, org: LocalOrgServer, soql: str) -> list[dict[str, Any]]:
    """Every record of a REST query, following nextRecordsUrl."""
    body = http.get(f"{base(org)}/queryAll", params={"q": soql}).json()
    records = list(body["records"])
    while not body["done"]:
        body = http.get(org.instance_url + body["nextRecordsUrl"]).json()
        records += body["records"]
    return records


def live(http: requests.Session, org: LocalOrgServer, soql: str) -> list[dict[str, Any]]:
    response = http.get(f"{base(org)}/query", params={"q": soql})
    assert response.status_code == 200, response.text
    return response.json()["records"]
