"""A ContentDocumentLink step shares loaded files with more accounts, end to end against the local
org: plans/file-links.yaml names each file by its ContentVersion's key, the run swaps in the
ContentDocumentId Salesforce assigned, and each linked account sees the file; a link to a version
the target does not hold is skipped naming it, a link the file already has fails as Salesforce says."""

from __future__ import annotations

import csv
import io

from .conftest import Org

PLAN = "file-links.yaml"


def _titles_seen_by(org: Org, account_id: str) -> dict[str, str]:
    """Title -> ShareType of every file shared with one account."""
    documents = {d["Id"]: d["Title"] for d in org.query("SELECT Id, Title FROM ContentDocument")}
    links = org.query(f"SELECT ContentDocumentId, ShareType FROM ContentDocumentLink "
                      f"WHERE LinkedEntityId = '{account_id}'")
    return {documents[link["ContentDocumentId"]]: link["ShareType"] for link in links}


def test_each_linked_account_sees_the_shared_file(org: Org):
    result = org.run(org.project / "plans" / PLAN)
    assert result.exit_code == 0, result.results
    links = next(s for s in result.results["steps"] if s["id"] == "Links")
    assert (links["rows"], links["created"], links["failed"], links["skipped"]) == (4, 4, 0, 0)
    accounts = {a["Legacy_Id__c"]: a["Id"] for a in org.query("SELECT Id, Legacy_Id__c FROM Account")}
    # each account sees its own files (published to it: inferred) and the ones links.csv shares with it
    assert _titles_seen_by(org, accounts["ACC-1"]) == {
        "Acme MSA": "I", "Acme SOW 2024": "I", "Acme logo": "I", "Globex NDA": "C"}
    assert _titles_seen_by(org, accounts["ACC-2"]) == {"Globex NDA": "I", "Globex logo": "I", "Acme MSA": "V"}
    assert _titles_seen_by(org, accounts["ACC-3"]) == {
        "Initech renewal": "I", "Initech logo": "I", "Acme MSA": "V", "Globex NDA": "V"}
    visibility = org.query(f"SELECT Visibility FROM ContentDocumentLink WHERE LinkedEntityId = '{accounts['ACC-1']}' "
                           f"AND ShareType = 'C'")
    assert [v["Visibility"] for v in visibility] == ["InternalUsers"]


def test_a_link_to_an_unknown_version_is_skipped_and_a_repeated_link_fails(org: Org):
    links = org.project / "plans" / "data" / "file-links" / "links.csv"
    links.write_text("doc_id,account,share_type,visibility\n"
                     "DOC-2,ACC-2,V,AllUsers\n"       # shared: loads
                     "DOC-8,ACC-2,V,AllUsers\n"       # DOC-8 is filtered out of the Files step: no such version
                     "DOC-1,ACC-1,V,AllUsers\n"       # DOC-1 is published to ACC-1 already
                     "DOC-5,ACC-1,V,AllUsers\n"
                     "DOC-5,ACC-1,V,AllUsers\n",      # the same link twice in one job
                     encoding="utf-8")
    result = org.run(org.project / "plans" / PLAN)
    assert result.exit_code == 1, result.results
    step = next(s for s in result.results["steps"] if s["id"] == "Links")
    assert (step["rows"], step["created"], step["failed"], step["skipped"]) == (5, 2, 2, 1)
    assert step["error_codes"] == {"DUPLICATE_VALUE": 2}
    totals = result.results["totals"]
    assert totals["source_rows"] == totals["filtered"] + totals["rejected"] + totals["succeeded"] + \
        totals["failed"] + totals["skipped"]
    skipped = list(csv.DictReader(io.StringIO((result.paths.root / step["files"]["skipped"]).read_text())))
    assert [(s["parent_object"], s["parent_key"]) for s in skipped] == [("ContentVersion", "DOC-8")]
    assert "not in the target" in skipped[0]["reason"]
    failed = (result.paths.root / step["files"]["failed"]).read_text()
    assert "is already linked with the entity with ID" in failed
    accounts = {a["Legacy_Id__c"]: a["Id"] for a in org.query("SELECT Id, Legacy_Id__c FROM Account")}
    assert _titles_seen_by(org, accounts["ACC-2"]) == {"Globex NDA": "I", "Globex logo": "I", "Acme SOW 2024": "V"}
    assert "Globex logo" in _titles_seen_by(org, accounts["ACC-1"])
