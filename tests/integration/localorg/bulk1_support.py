"""Plain-HTTP helpers for driving the local org's Bulk API 1.0 in tests (no client library involved)."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import requests

from migrator.localorg.server import LocalOrgServer

VERSION = "62.0"
NS = "http://www.force.com/2009/06/asyncapi/dataload"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BODY_TYPES = {"CSV": "text/csv", "XML": "application/xml", "JSON": "application/json", "ZIP_CSV": "zip/csv",
              "ZIP_XML": "zip/xml", "ZIP_JSON": "zip/json"}


def async_base(org: LocalOrgServer, version: str = VERSION) -> str:
    return f"{org.instance_url}/services/async/{version}"


def session_for(org: LocalOrgServer, token: str | None = None) -> requests.Session:
    """A session trusting the org's CA that authenticates the Bulk 1.0 way (X-SFDC-Session only)."""
    http = requests.Session()
    http.verify = str(org.ca_file) if org.ca_file else True
    http.headers["X-SFDC-Session"] = token or org.access_token
    return http


def xml_fields(text: str | bytes) -> dict[str, str]:
    """The children of a jobInfo / batchInfo document, namespace stripped."""
    root = ElementTree.fromstring(text)
    return {child.tag.split("}")[-1]: child.text or "" for child in root}


def xml_order(text: str | bytes) -> list[str]:
    return [child.tag.split("}")[-1] for child in ElementTree.fromstring(text)]


def job_xml(**fields: str) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{NS}">{inner}</jobInfo>'


def error_of(response: requests.Response) -> tuple[str, str]:
    """(exceptionCode, exceptionMessage) of a Bulk 1.0 error in either format."""
    if response.headers["Content-Type"] == "application/json":
        body = response.json()
        return body["exceptionCode"], body["exceptionMessage"]
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{{{NS}}}error", response.text
    return root.findtext(f"{{{NS}}}exceptionCode") or "", root.findtext(f"{{{NS}}}exceptionMessage") or ""


@dataclass
class Bulk1:
    """A thin driver over raw HTTP for one org: create jobs, add batches, wait, read results."""

    org: LocalOrgServer
    http: requests.Session

    @property
    def base(self) -> str:
        return async_base(self.org)

    def create(self, operation: str, object_name: str, content_type: str = "CSV", headers: dict | None = None,
               **options: str) -> dict[str, Any]:
        fields = {"operation": operation, "object": object_name, **options, "contentType": content_type}
        if content_type in ("JSON", "ZIP_JSON"):
            response = self.http.post(f"{self.base}/job", json=fields,
                                      headers={"Content-Type": "application/json", **(headers or {})})
            assert response.status_code == 201, response.text
            return response.json()
        response = self.http.post(f"{self.base}/job", data=job_xml(**fields),
                                  headers={"Content-Type": "application/xml; charset=UTF-8", **(headers or {})})
        assert response.status_code == 201, response.text
        return xml_fields(response.content)

    def add(self, job: dict[str, Any], body: str | bytes, content_type: str | None = None) -> dict[str, Any]:
        data = body.encode() if isinstance(body, str) else body
        kind = content_type or BODY_TYPES[job["contentType"]]
        response = self.http.post(f"{self.base}/job/{job['id']}/batch", data=data, headers={"Content-Type": kind})
        assert response.status_code == 201, response.text
        return self.parse(job, response)

    def parse(self, job: dict[str, Any], response: requests.Response) -> dict[str, Any]:
        if job["contentType"] in ("JSON", "ZIP_JSON"):
            assert response.headers["Content-Type"] == "application/json"
            return response.json()
        assert response.headers["Content-Type"] == "application/xml"
        return xml_fields(response.content)

    def batch(self, job: dict[str, Any], batch_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.base}/job/{job['id']}/batch/{batch_id}")
        assert response.status_code == 200, response.text
        return self.parse(job, response)

    def wait(self, job: dict[str, Any], batch: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            info = self.batch(job, batch["id"])
            if info["state"] in ("Completed", "Failed", "NotProcessed") or time.monotonic() > deadline:
                return info
            time.sleep(0.01)

    def batches(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.base}/job/{job['id']}/batch")
        assert response.status_code == 200, response.text
        if job["contentType"] in ("JSON", "ZIP_JSON"):
            return response.json()["batchInfo"]
        root = ElementTree.fromstring(response.content)
        return [{c.tag.split("}")[-1]: c.text or "" for c in b} for b in root]

    def job(self, job: dict[str, Any]) -> dict[str, Any]:
        response = self.http.get(f"{self.base}/job/{job['id']}")
        assert response.status_code == 200, response.text
        return self.parse(job, response)

    def set_state(self, job: dict[str, Any], state: str) -> requests.Response:
        return self.http.post(f"{self.base}/job/{job['id']}", data=job_xml(state=state),
                              headers={"Content-Type": "application/xml"})

    def result(self, job: dict[str, Any], batch: dict[str, Any]) -> requests.Response:
        return self.http.get(f"{self.base}/job/{job['id']}/batch/{batch['id']}/result")

    def csv_results(self, job: dict[str, Any], batch: dict[str, Any]) -> list[dict[str, str]]:
        response = self.result(job, batch)
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv", response.text
        return list(csv.DictReader(io.StringIO(response.text, newline="")))

    def load(self, operation: str, object_name: str, body: str | bytes, content_type: str = "CSV",
             **options: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Create a job, add one batch, wait for it, close the job: (job, final batchInfo)."""
        job = self.create(operation, object_name, content_type, **options)
        batch = self.wait(job, self.add(job, body))
        assert self.set_state(job, "Closed").status_code == 200
        return job, batch

    def query_rows(self, job: dict[str, Any], batch: dict[str, Any]) -> list[Any]:
        """Every row of a completed query batch, over all its result sets (CSV: dicts; JSON: records)."""
        response = self.result(job, batch)
        assert response.status_code == 200, response.text
        if job["contentType"] == "JSON":
            result_ids = response.json()
        else:
            result_ids = [r.text for r in ElementTree.fromstring(response.content)]
        rows: list[Any] = []
        for result_id in result_ids:
            data = self.http.get(f"{self.base}/job/{job['id']}/batch/{batch['id']}/result/{result_id}")
            assert data.status_code == 200, data.text
            if job["contentType"] == "JSON":
                rows += json.loads(data.content)
            elif data.text != "Records not found for this query":
                rows += list(csv.DictReader(io.StringIO(data.text, newline="")))
        return rows
