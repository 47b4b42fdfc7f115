"""`migrator run` end to end against the real local org over loopback HTTPS."""

from __future__ import annotations

import json
from pathlib import Path

from migrator.compile.csvio import read_table

EXPECTED = {"Account": 18, "Contact": 20, "Opportunity": 10, "Project__c": 6, "Task": 12}


def test_crm_example_loads_with_exact_counts_and_linked_parents(org):
    result = org.run(org.project / "plans" / "crm.yaml")
    results = result.results
    assert results["status"] == "succeeded", results
    assert result.exit_code == 0
    for object_name, expected in EXPECTED.items():
        assert org.count(object_name) == expected, object_name
    totals = results["totals"]
    assert totals["rejected"] == 12 and totals["filtered"] == 1
    assert totals["succeeded"] == sum(EXPECTED.values())
    assert totals["failed"] == totals["skipped"] == 0
    assert totals["source_rows"] == totals["filtered"] + totals["rejected"] + totals["to_send"]
    assert totals["to_send"] == totals["sent"] + totals["skipped"] + totals["not_sent"]
    assert totals["sent"] == totals["succeeded"] + totals["failed"] + totals["in_flight"]
    assert totals["not_sent"] == totals["in_flight"] == 0
    for source in results["sources"]:
        assert source["to_send"] == source["sent"] + source["skipped"] + source["not_sent"]
        assert source["sent"] == source["succeeded"] + source["failed"] + source["in_flight"]

    parents = {r["Legacy_Id__c"]: (r["Parent"] or {}).get("Legacy_Id__c")
               for r in org.query("SELECT Legacy_Id__c, Parent.Legacy_Id__c FROM Account")}
    assert parents["ACC-0004"] == "ACC-0003" and parents["ACC-0003"] == "ACC-0002"
    assert parents["ACC-0002"] == "ACC-0001" and parents["ACC-0001"] is None
    assert parents["ACC-0019"] is None  # its parent was never exported: `missing: blank`
    bosses = {r["Legacy_Id__c"]: (r["ReportsTo"] or {}).get("Legacy_Id__c")
              for r in org.query("SELECT Legacy_Id__c, ReportsTo.Legacy_Id__c FROM Contact")}
    assert bosses["CON-0004"] == "CON-0002" and bosses["CON-0007"] == "CON-0006"
    tasks = {r["Legacy_Id__c"]: r for r in org.query("SELECT Legacy_Id__c, Who.Name, What.Name, Status FROM Task")}
    assert tasks["ACT-0007"]["What"]["Name"] == "Fleet telematics"       # a Project__c
    assert tasks["ACT-0001"]["What"]["Name"] == "Globex - Treasury platform"  # an Opportunity
    assert tasks["ACT-0004"]["Status"] == "In Progress"
    project = org.query("SELECT Name, Account__r.Name, Summary__c FROM Project__c WHERE Project_Code__c = 'PRJ-100'")
    assert project[0]["Account__r"]["Name"] == "Globex Holdings"
    assert project[0]["Summary__c"] == "Phase 1: EMEA,\nPhase 2: Americas"

    run_dir = result.paths.root
    assert (run_dir / "report.html").exists()
    saved = json.loads((run_dir / "run_results.json").read_text())
    assert saved["run_results_version"] == 2 and saved["totals"] == totals


def test_second_run_changes_nothing(org):
    first = org.run(org.project / "plans" / "crm.yaml")
    counts = {name: org.count(name) for name in EXPECTED}
    second = org.run(org.project / "plans" / "crm.yaml")
    assert second.exit_code == 0
    assert {name: org.count(name) for name in EXPECTED} == counts
    assert second.results["totals"]["created"] == 0
    assert second.results["totals"]["updated"] == first.results["totals"]["succeeded"]
    for step in second.results["steps"]:
        success = read_table(second.paths.root / step["files"]["success"])
        assert set(success["created"]) <= {"false"}, step["id"]


def test_seed_plan_is_repeatable(org):
    runs = [org.run(org.project / "plans" / "seed.yaml") for _ in range(2)]
    for result in runs:
        assert result.exit_code == 0, result.results
    generated = {s["step"]: s["sent"] for s in runs[0].results["sources"] if s["step"].startswith("Generated")}
    assert generated["GeneratedAccount"] == 1000 and 2000 <= generated["GeneratedContact"] <= 5000
    assert org.count("Case") == 3 and org.count("Lead") == 5
    assert org.count("Contact") == 3 + generated["GeneratedContact"]
    assert org.count("Account") == 3 + 1000 and org.count("Opportunity") == generated["GeneratedOpportunity"]
    assert runs[1].results["totals"]["created"] == 0  # the generated keys are the same: nothing new
    assert runs[1].results["totals"]["updated"] == runs[0].results["totals"]["created"]


def test_secrets_never_reach_run_files(org):
    result = org.run(org.project / "plans" / "crm.yaml")
    token = org.server.access_token
    secret = token.split("!", 1)[1]
    for path in Path(result.paths.root).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data, path
            assert org.server.password.encode() not in data, path
