"""The CRM example through Bulk API 1.0 (serial mode) gives the same results as through Bulk API 2.0."""

from __future__ import annotations

from tests.integration.run.test_run_crm import EXPECTED


def bulk1_plan(org) -> str:
    plan = org.project / "plans" / "crm.yaml"
    text = plan.read_text(encoding="utf-8")
    text = text.replace("defaults:\n  operation: upsert\n", "defaults:\n  operation: upsert\n  api: bulk1\n"
                        "  concurrency: serial\n")
    target = org.project / "plans" / "crm-bulk1.yaml"
    target.write_text(text, encoding="utf-8")
    return target


def test_crm_example_loads_the_same_through_bulk_api_1(org):
    result = org.run(bulk1_plan(org))
    assert result.exit_code == 0, result.results["top_errors"]
    assert {s["api"] for s in result.results["steps"]} == {"bulk1"}
    for object_name, expected in EXPECTED.items():
        assert org.count(object_name) == expected, object_name
    totals = result.results["totals"]
    assert (totals["succeeded"], totals["rejected"], totals["failed"]) == (sum(EXPECTED.values()), 12, 0)
    parents = {r["Legacy_Id__c"]: (r["Parent"] or {}).get("Legacy_Id__c")
               for r in org.query("SELECT Legacy_Id__c, Parent.Legacy_Id__c FROM Account")}
    assert parents["ACC-0004"] == "ACC-0003"
    again = org.run(bulk1_plan(org))
    assert again.results["totals"]["created"] == 0 and again.results["totals"]["updated"] == totals["succeeded"]


def test_lock_errors_through_bulk_api_1_are_retried_to_zero(org):
    org.faults({"lock_rate": 0.2, "seed": 11})
    result = org.run(bulk1_plan(org), max_retries=6)
    assert result.exit_code == 0, result.results["top_errors"]
    assert result.results["totals"]["retried"] > 0
    assert org.count("Task") == EXPECTED["Task"]
