"""`migrator delete` and `copy --clean`: a dry run first, then exactly the plan's records (and what
`delete_where` selects) deleted, children first, every deleted record in the run's results."""

from __future__ import annotations

import json

from click.testing import CliRunner

from migrator import api
from migrator.cli import cli
from migrator.compile.csvio import read_table

from .conftest import Orgs
from .test_copy import CRM_COUNTS, _create


def _extras(org) -> dict[str, list[str]]:
    """Records that are not the plan's: no key, or a key its sources do not hold."""
    ids = _create(org, [
        {"attributes": {"type": "Account"}, "Name": "Not in the plan"},
        {"attributes": {"type": "Account"}, "Name": "Keyed elsewhere", "Legacy_Id__c": "OTHER-1"},
    ])
    contacts = _create(org, [{"attributes": {"type": "Contact"}, "LastName": "Temp", "AccountId": ids[0]},
                             {"attributes": {"type": "Contact"}, "LastName": "Keeper", "AccountId": ids[1]}])
    return {"Account": ids, "Contact": contacts}


def _live(org, object_name: str) -> set[str]:
    return {r["Id"] for r in org.query(f"SELECT Id FROM {object_name}")}


def test_delete_removes_exactly_the_plans_records_children_first(orgs: Orgs):
    orgs.load_a()
    extras = _extras(orgs.a)
    before = {name: _live(orgs.a, name) for name in CRM_COUNTS}

    dry = api.delete(orgs.plan(), target="A", **orgs.kw())
    assert dry.dry_run and dry.run is None and dry.records == sum(CRM_COUNTS.values())
    assert {name: _live(orgs.a, name) for name in CRM_COUNTS} == before  # nothing deleted
    listed = read_table(dry.list_dir / "Account.csv")
    assert len(listed) == CRM_COUNTS["Account"] and set(listed["found_by"]) == {"key"}
    assert [s.step for s in dry.found] == ["Task", "Project__c", "Opportunity", "Contact", "Account"]

    done = api.delete(orgs.plan(), target="A", yes=True, **orgs.kw())
    assert done.exit_code == 0 and done.run is not None
    assert done.run.results["totals"]["deleted"] == sum(CRM_COUNTS.values())
    assert _live(orgs.a, "Account") == set(extras["Account"]) and _live(orgs.a, "Contact") == set(extras["Contact"])
    assert _live(orgs.a, "Task") == set() and _live(orgs.a, "Opportunity") == set()
    waves = {s["step"]: s["wave"] for s in done.run.results["steps"]}
    assert waves["Task"] < waves["Opportunity"] < waves["Account"] and waves["Contact"] < waves["Account"]
    assert {s["operation"] for s in done.run.results["steps"]} == {"delete"}
    for step in done.run.results["steps"]:  # every deleted record, by Id, in the run's results
        success = read_table(done.run.paths.root / step["files"]["success"])
        assert set(success["key"]) == set(read_table(done.list_dir / f"{step['step']}.csv")["Id"]), step["id"]
    deleted = {r["Id"] for r in orgs.a.session().get(
        f"{orgs.a.server.instance_url}/services/data/v62.0/queryAll",
        params={"q": "SELECT Id FROM Account WHERE IsDeleted = true"}).json()["records"]}
    assert deleted == before["Account"] - set(extras["Account"])  # soft-deleted: hardDelete only when asked

    nothing = api.delete(orgs.plan(), target="A", yes=True, **orgs.kw())
    assert nothing.records == 0 and nothing.run is None and nothing.exit_code == 0


def test_delete_where_clears_what_a_step_owns_and_hard_delete_when_asked(orgs: Orgs):
    orgs.load_a()
    extras = _extras(orgs.a)
    text = orgs.plan().read_text(encoding="utf-8").replace(
        "  - object: Contact\n    source: contacts.csv\n",
        "  - object: Contact\n    source: contacts.csv\n    delete_where: \"LastName = 'Temp'\"\n")
    plan = orgs.project / "plans" / "owned.yaml"
    plan.write_text(text, encoding="utf-8")
    result = api.delete(plan, target="A", select=("Contact",), yes=True, hard_delete=True, **orgs.kw())
    contact = next(s for s in result.found if s.step == "Contact")
    assert (contact.by_key, contact.by_where) == (CRM_COUNTS["Contact"], 1)
    assert [s.step for s in result.found] == ["Contact"]
    assert _live(orgs.a, "Contact") == {extras["Contact"][1]}  # Keeper stays
    assert len(_live(orgs.a, "Account")) == CRM_COUNTS["Account"] + 2  # other steps untouched
    assert {s["operation"] for s in result.run.results["steps"]} == {"hardDelete"}
    gone = orgs.a.session().get(f"{orgs.a.server.instance_url}/services/data/v62.0/queryAll",
                                params={"q": "SELECT Id FROM Contact WHERE IsDeleted = true"}).json()["records"]
    assert gone == []  # hardDelete leaves nothing in the recycle bin


def test_delete_from_the_command_line_is_a_dry_run_without_yes(orgs: Orgs, monkeypatch):
    orgs.load_a()
    monkeypatch.chdir(orgs.project)
    for name, value in orgs.env.items():
        monkeypatch.setenv(name, value)
    dry = CliRunner().invoke(cli, ["delete", "plans/crm.yaml", "--target", "A", "--format", "json"])
    assert dry.exit_code == 0, dry.output
    document = json.loads(dry.output)
    assert document["dry_run"] is True and document["records"] == sum(CRM_COUNTS.values())
    assert orgs.a.count("Account") == CRM_COUNTS["Account"]
    shown = CliRunner().invoke(cli, ["delete", "plans/crm.yaml", "--target", "A", "--select", "Task"])
    assert shown.exit_code == 0 and "dry run" in shown.output and "--yes" in shown.output
    done = CliRunner().invoke(cli, ["delete", "plans/crm.yaml", "--target", "A", "--select", "Task", "--yes",
                                    "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["run"]["totals"]["deleted"] == CRM_COUNTS["Task"]
    assert orgs.a.count("Task") == 0 and orgs.a.count("Account") == CRM_COUNTS["Account"]


def test_copy_clean_deletes_the_subsets_records_in_the_target_before_loading(orgs: Orgs):
    orgs.load_a()
    where = ("Account=Industry = 'Technology'",)
    first = orgs.copy(where=where)
    assert first.exit_code == 0
    b_extras = _extras(orgs.b)
    tech_before = _live(orgs.b, "Account") - set(b_extras["Account"])

    dry = orgs.copy(where=where, clean=True)
    assert dry.run is None and dry.clean.dry_run and dry.clean.records == first.extract.rows
    assert _live(orgs.b, "Account") - set(b_extras["Account"]) == tech_before  # nothing deleted, nothing loaded

    clean = orgs.copy(where=where, clean=True, yes=True)
    assert clean.exit_code == 0, clean.to_json()
    assert clean.clean.run.results["totals"]["deleted"] == first.extract.rows
    assert clean.run.results["totals"]["created"] == first.extract.rows  # loaded afresh
    after = _live(orgs.b, "Account")
    assert not after & tech_before and set(b_extras["Account"]) <= after  # B's other records untouched
    section = json.loads((clean.run_dir / "run_results.json").read_text(encoding="utf-8"))["copy"]["clean"]
    assert section["records"] == first.extract.rows and section["operation"] == "delete"
    assert all((clean.run_dir / s["files"]["success"]).exists() for s in section["steps"] if s["deleted"])
    report = (clean.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Cleanup before loading" in report
