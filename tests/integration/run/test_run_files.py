"""Files in plans, end to end against the local org over HTTPS: plans/files.yaml loads every file, and
each file's bytes read back through REST (`.../VersionData`, `.../Body`) equal the source file's; a
file too big for a ZIP batch goes through the REST multipart insert; a missing file is a reject."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from .conftest import ROOT, Org

FILES = ROOT / "plans" / "data" / "files" / "files"


def _blob(org: Org, obj: str, record_id: str, field: str) -> bytes:
    response = org.session().get(f"{org.server.instance_url}/services/data/v62.0/sobjects/{obj}/{record_id}/{field}")
    response.raise_for_status()
    return response.content


def test_the_files_example_loads_and_every_file_reads_back_byte_for_byte(org: Org):
    result = org.run(org.project / "plans" / "files.yaml")
    assert result.exit_code == 0, result.results
    totals = result.results["totals"]
    assert (totals["source_rows"], totals["rejected"], totals["succeeded"]) == (13, 1, 12)
    versions = org.query("SELECT Id, Title, PathOnClient, ContentSize, ContentDocumentId, FirstPublishLocationId "
                         "FROM ContentVersion")
    assert len(versions) == 7
    accounts = {a["Id"]: a["Legacy_Id__c"] for a in org.query("SELECT Id, Legacy_Id__c FROM Account")}
    for version in versions:
        source = (FILES / version["PathOnClient"]).read_bytes()
        assert _blob(org, "ContentVersion", version["Id"], "VersionData") == source, version["PathOnClient"]
        assert version["ContentSize"] == len(source)
        assert accounts[version["FirstPublishLocationId"]] in ("ACC-1", "ACC-2", "ACC-3")
    links = org.query("SELECT ContentDocumentId, LinkedEntityId, ShareType FROM ContentDocumentLink")
    assert sorted((link["ContentDocumentId"], link["LinkedEntityId"]) for link in links) == sorted(
        (v["ContentDocumentId"], v["FirstPublishLocationId"]) for v in versions)
    attachments = org.query("SELECT Id, Name, ParentId, BodyLength FROM Attachment")
    assert len(attachments) == 2
    for attachment in attachments:
        source = (FILES / attachment["Name"]).read_bytes()
        assert _blob(org, "Attachment", attachment["Id"], "Body") == source
        assert attachment["BodyLength"] == len(source)
    rejects = (result.paths.root / "plan" / "rejects.csv").read_text()
    assert "contracts/initech-2019.pdf" in rejects and "file not found" in rejects


def test_files_are_split_across_zip_batches_and_a_big_one_goes_through_rest(org: Org, tmp_path: Path):
    """Eleven 1 MB files need two ZIP batches (9.5 MB of files each at most); a 12 MB file fits in
    none and is inserted through REST; all read back as they were."""
    rng = random.Random(5)
    folder = org.project / "plans" / "data" / "files" / "files" / "scans"
    folder.mkdir()
    sizes = {f"scan-{i:02d}.bin": 1_000_000 for i in range(11)} | {"huge.bin": 12_000_000}
    digests = {}
    for name, size in sizes.items():
        data = rng.randbytes(size)
        (folder / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    rows = "\n".join(f"S{i},{name},scans/{name},ACC-1," for i, name in enumerate(sizes))
    documents = org.project / "plans" / "data" / "files" / "documents.csv"
    documents.write_text("doc_id,title,path,account,description\n" + rows + "\n")
    result = org.run(org.project / "plans" / "files.yaml", select=("Account", "Files"))
    assert result.exit_code == 0, result.results
    manifest = (result.paths.root / "plan" / "manifest.json").read_text()
    assert '"transport": "rest"' in manifest
    versions = org.query("SELECT Id, Title FROM ContentVersion")
    assert sorted(v["Title"] for v in versions) == sorted(sizes)
    for version in versions:
        content = _blob(org, "ContentVersion", version["Id"], "VersionData")
        assert hashlib.sha256(content).hexdigest() == digests[version["Title"]], version["Title"]
    assert _zip_batches(org, result.paths.root) == [2]  # one Bulk 1.0 job, two ZIP batches


def _zip_batches(org: Org, run_dir: Path) -> list[int]:
    """The batches of each Bulk 1.0 job the Files step ran (job ids from the run's checkpoint)."""
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    jobs = [job["job_id"] for part in checkpoint["steps"]["Files"]["parts"].values() for job in part["jobs"]
            if str(job.get("job_id") or "").startswith("750")]
    http = org.session()
    counts = []
    for job_id in jobs:
        listing = http.get(f"{org.server.instance_url}/services/async/62.0/job/{job_id}/batch",
                           headers={"X-SFDC-Session": org.server.access_token})
        listing.raise_for_status()
        counts.append(listing.text.count("<batchInfo>"))
    return counts


@pytest.mark.parametrize("content", [b"%PDF-1.4 tiny"])
def test_the_rest_multipart_insert_takes_a_file_and_serves_it_back(org: Org, content: bytes):
    """`POST /sobjects/ContentVersion` as multipart/form-data: entity_content JSON, then VersionData."""
    http = org.session()
    base = f"{org.server.instance_url}/services/data/v62.0/sobjects/ContentVersion"
    files = {"entity_content": (None, '{"Title": "Tiny", "PathOnClient": "tiny.pdf"}', "application/json"),
             "VersionData": ("tiny.pdf", content, "application/pdf")}
    created = http.post(base, files=files)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    served = http.get(f"{base}/{record_id}/VersionData")
    assert served.content == content and served.headers["Content-Type"] == "application/pdf"
    no_json = http.post(base, files={"VersionData": ("tiny.pdf", content, "application/pdf")})
    assert no_json.status_code == 400 and no_json.json()[0]["errorCode"] == "INVALID_MULTIPART_REQUEST"
    no_file = http.post(base, files={"entity_content": (None, '{"Title": "x"}', "application/json")})
    assert no_file.status_code == 400 and "binary part named VersionData" in no_file.json()[0]["message"]
