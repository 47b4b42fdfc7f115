"""`migrate`, `info`, `baseline` and `repair` against a real local org: the history lives in the org."""

from __future__ import annotations

import pytest

from migrator.errors import DriftError, HistoryError

EVERYTHING = [("V001 accounts", "success"), ("V002 contacts", "success"), ("V003 opportunities", "success"),
              ("R reference data", "success")]


def test_pending_migrations_apply_in_order_and_a_second_migrate_applies_nothing(project):
    first = project.migrate(to="2")
    assert [a.migration.file.label for a in first.applied] == ["V001 accounts", "V002 contacts", "R reference data"]
    assert first.exit_code == 0 and all(a.entry.outcome == "success" for a in first.applied)
    assert project.states() == [("V001 accounts", "success"), ("V002 contacts", "success"),
                                ("R reference data", "success"), ("V003 opportunities", "pending")]

    second = project.migrate()
    assert [a.migration.file.label for a in second.applied] == ["V003 opportunities"]
    third = project.migrate()
    assert third.applied == () and third.up_to_date and third.exit_code == 0

    records = project.query("SELECT Key__c, Version__c, Outcome__c, Run_Id__c, Rows_Created__c, Applied_By__c, "
                            "Checksum__c FROM Migrator_Migration__c ORDER BY Installed_Rank__c")
    assert [(r["Key__c"], r["Version__c"], r["Outcome__c"]) for r in records] == [
        ("000001", "001", "success"), ("000002", "002", "success"), ("000003", None, "success"),
        ("000004", "003", "success")]
    assert [r["Rows_Created__c"] for r in records] == [6, 5, 4, 4]
    assert all(r["Applied_By__c"] == project.server.username and len(r["Checksum__c"]) == 64 for r in records)
    run_ids = [a.entry.run_id for a in (*first.applied, *second.applied)]
    assert [r["Run_Id__c"] for r in records] == run_ids
    assert all((project.home / "runs" / run_id / "report.html").is_file() for run_id in run_ids)
    assert len(project.query("SELECT Id FROM Account")) == 6
    assert len(project.query("SELECT Id FROM Migrator_Migration__c WHERE Key__c = 'LOCK'")) == 0


def test_the_report_links_each_run_report_and_shows_history_before_and_after(project):
    result = project.migrate(to="1")
    html = result.paths.report.read_text(encoding="utf-8")
    run_id = result.applied[0].entry.run_id
    assert f'href="../../runs/{run_id}/report.html"' in html
    assert (result.paths.root / f"../../runs/{run_id}/report.html").resolve().is_file()
    before, after = html.split("History before")[1].split("History after")
    assert f'href="../../runs/{run_id}/report.html">{run_id}</a>' in after
    assert before.count(">Pending<") == 4 and ">Success<" not in before
    assert after.count(">Success<") == 2 and after.count(">Pending<") == 2  # V001 and R__ (--to limits versions)
    assert result.paths.results.is_file()


def test_changed_data_of_an_applied_migration_is_drift_until_repair_accepts_it(project):
    project.migrate()
    applied = {row.label: row.entry.checksum for row in project.info().rows}
    project.edit("data/accounts.csv", "Northwind Retail,", "Northwind Retail Ltd,")
    with pytest.raises(DriftError) as caught:
        project.migrate()
    message = str(caught.value)
    [problem] = caught.value.problems
    assert problem["state"] == "changed" and problem["migration"] == "V001 accounts"
    assert applied["V001 accounts"] in message and problem["current_checksum"] in message
    assert "migrator repair" in message and "(changed: accounts.csv)" in message
    assert project.query("SELECT Name FROM Account WHERE Legacy_Id__c = 'NW-110'")[0]["Name"] == "Northwind Retail"
    assert ("V001 accounts", "changed") in project.states()

    repaired = project.repair()
    assert [(a.migration, a.action) for a in repaired.actions] == [("V001 accounts", "accepted checksum")]
    rows = {row.label: row for row in project.info().rows}
    assert rows["V001 accounts"].state == "success"
    assert rows["V001 accounts"].entry.previous_checksum == applied["V001 accounts"]
    assert project.migrate().up_to_date
    assert project.repair().actions == ()


def test_a_failing_migration_stops_the_sequence_and_the_next_migrate_resumes_it(project):
    project.edit("data/contacts.csv", "NWC-2,NW-110", "NWC-2,NW-999")
    failed = project.migrate()
    assert [(a.migration.file.label, a.entry.outcome) for a in failed.applied] == [
        ("V001 accounts", "success"), ("V002 contacts", "failed")]
    assert failed.exit_code == 1
    entry = failed.applied[1].entry
    assert entry.counts.failed == 1 and entry.counts.created == 4 and "1 failed" in entry.message
    assert "NW-999 not found" in entry.message and "data/contacts.csv:3" in entry.message
    assert project.states() == [("V001 accounts", "success"), ("V002 contacts", "failed"),
                                ("V003 opportunities", "pending"), ("R reference data", "pending")]
    assert project.query("SELECT Id FROM Opportunity") == []

    project.edit("data/contacts.csv", "NWC-2,NW-999", "NWC-2,NW-110")
    resumed = project.migrate()
    assert [(a.migration.file.label, a.entry.outcome) for a in resumed.applied] == [
        ("V002 contacts", "success"), ("V003 opportunities", "success"), ("R reference data", "success")]
    assert project.states() == [("V001 accounts", "success"), ("V002 contacts", "superseded"),
                                ("V002 contacts", "success"), ("V003 opportunities", "success"),
                                ("R reference data", "success")]
    assert len(project.query("SELECT Id FROM Contact")) == 5


def test_repair_clears_a_failed_entry(project):
    project.edit("V001__accounts.yaml", "Name: {from: company, required: true}",
                 "Name: {from: company, required: true}\n      NumberOfEmployees: {value: lots}")
    failed = project.migrate(to="1")
    assert failed.applied[0].entry.outcome == "failed"
    repaired = project.repair()
    assert [a.action for a in repaired.actions] == ["cleared failed entry"]
    assert project.states()[:2] == [("V001 accounts", "cleared"), ("V001 accounts", "pending")]


def test_two_target_names_for_one_org_share_one_history(project):
    project.migrate(target="test")
    by_alias = project.info(target="alias")
    assert by_alias.org_id == project.info(target="test").org_id
    assert [(row.label, row.state) for row in by_alias.rows] == EVERYTHING
    assert project.migrate(target="alias").up_to_date


def test_a_repeatable_migration_runs_again_when_its_checksum_changes(project):
    project.migrate()
    project.edit("data/products.csv", "MIG-GROWTH,Growth plan", "MIG-GROWTH,Growth plan 2027")
    assert ("R reference data", "outdated") in project.states()
    again = project.migrate()
    assert [a.migration.file.label for a in again.applied] == ["R reference data"]
    assert project.query("SELECT Name FROM Product2 WHERE Legacy_Id__c = 'MIG-GROWTH'")[0]["Name"] == "Growth plan 2027"
    assert project.states()[-2:] == [("R reference data", "superseded"), ("R reference data", "success")]


def test_a_baseline_marks_what_was_loaded_before_as_applied(project):
    from migrator import api

    for script in ("V001__accounts.yaml", "V002__contacts.yaml"):  # loaded before migrations were used
        assert api.run(project.migrations / script, target="test", home=project.home, project_dir=project.root,
                       env=project.env).exit_code == 0
    result = project.baseline("2")
    assert result.below == ("V001 accounts", "V002 contacts")
    assert project.states() == [("baseline at V2", "baseline"), ("V001 accounts", "below_baseline"),
                                ("V002 contacts", "below_baseline"), ("V003 opportunities", "pending"),
                                ("R reference data", "pending")]
    applied = project.migrate()
    assert [a.migration.file.label for a in applied.applied] == ["V003 opportunities", "R reference data"]
    assert len(project.query("SELECT Id FROM Opportunity")) == 4
    with pytest.raises(HistoryError, match="baseline starts the history of an org that has none"):
        project.baseline("3")


def test_a_dry_run_checks_pending_migrations_and_writes_nothing(project):
    result = project.migrate(dry_run=True)
    assert result.dry_run and result.applied == ()
    assert [(c.script, c.ok, c.rows) for c in result.checks] == [
        ("V001__accounts.yaml", True, 6), ("V002__contacts.yaml", True, 5), ("V003__opportunities.yaml", True, 4),
        ("R__reference_data.yaml", True, 4)]
    assert (result.checks[0].out_dir / "manifest.json").is_file()
    assert project.query("SELECT Id FROM Migrator_Migration__c") == []
    assert project.query("SELECT Id FROM Account") == []


def test_a_dry_run_checks_names_as_plan_does(project):
    """`migrate --dry-run` is `migrator plan` per migration: the same checks, names included."""
    project.edit("V002__contacts.yaml", "to: Account, key", "to: Acount, key")
    result = project.migrate(dry_run=True)
    checked = {c.script: c for c in result.checks}
    assert [s for s, c in checked.items() if not c.ok] == ["V002__contacts.yaml"]
    (text,) = checked["V002__contacts.yaml"].problems
    assert "lookups.AccountId.to: 'Acount' is not a standard object" in text and "did you mean 'Account'?" in text


def test_an_out_of_order_migration_is_refused_unless_asked_for(project):
    project.migrate()
    (project.migrations / "V002_5__contact_titles.yaml").write_text(
        (project.migrations / "V002__contacts.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DriftError, match="--out-of-order"):
        project.migrate()
    result = project.migrate(out_of_order=True)
    assert [a.migration.file.label for a in result.applied] == ["V002.5 contact titles"]


def test_a_vanished_migration_is_refused_until_repair_marks_it_deleted(project):
    project.migrate(to="2")
    (project.migrations / "V002__contacts.yaml").rename(project.root / "V002__contacts.yaml")
    with pytest.raises(DriftError, match="no longer in the migrations folder"):
        project.migrate()
    assert [a.action for a in project.repair().actions] == ["marked deleted"]
    result = project.migrate()
    assert [a.migration.file.label for a in result.applied] == ["V003 opportunities"]
