"""Transient failures are retried until they pass; permanent ones are reported with their children skipped."""

from __future__ import annotations

from pathlib import Path

from migrator.compile.csvio import read_table

PLAN = """version: 1
name: faults
sources: {{dir: data}}
defaults: {{operation: upsert, external_id: Legacy_Id__c, part_rows: {part_rows}}}
objects:
  - object: Account
    source: accounts.csv
    fields: {{Legacy_Id__c: id, Name: name, NumberOfEmployees: employees}}
  - object: Contact
    source: contacts.csv
    fields: {{Legacy_Id__c: id, LastName: last}}
    lookups:
      AccountId: {{from: account, to: Account}}
"""


def write_plan(root: Path, accounts: int = 200, contacts_per_account: int = 2, part_rows: int = 100,
               bad_employees_for: str | None = None) -> Path:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    lines = ["id,name,employees"]
    for i in range(accounts):
        employees = "a dozen" if f"A{i}" == bad_employees_for else str(10 + i)
        lines.append(f"A{i},Account {i},{employees}")
    (data / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = ["id,last,account"]
    for i in range(accounts):
        for j in range(contacts_per_account):
            lines.append(f"C{i}-{j},Person {i}-{j},A{i}")
    (data / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = root / "faults.yaml"
    plan.write_text(PLAN.format(part_rows=part_rows), encoding="utf-8")
    return plan


def test_lock_errors_converge_to_zero_failures(org):
    plan = write_plan(org.project)
    org.faults({"lock_rate": 0.1, "seed": 7})
    result = org.run(plan, max_retries=6)
    totals = result.results["totals"]
    assert result.exit_code == 0, result.results["top_errors"]
    assert totals["failed"] == 0 and totals["succeeded"] == 600
    assert totals["retried"] > 0  # some rows really did fail with UNABLE_TO_LOCK_ROW first
    assert org.count("Account") == 200 and org.count("Contact") == 400


def test_upload_503_and_job_failed_midway_are_recovered(org):
    plan = write_plan(org.project)
    org.faults({"upload_503": 2, "fail_job_after": 30, "seed": 3})
    result = org.run(plan, max_retries=5)
    assert result.exit_code == 0, result.results
    assert result.results["totals"]["succeeded"] == 600
    assert org.count("Account") == 200 and org.count("Contact") == 400


def test_token_expiry_is_recovered_by_signing_in_again(org):
    plan = write_plan(org.project, accounts=50)
    (org.project / "migrator.toml").write_text(
        f'[targets.test]\nauth = "password"\nlogin_url = "{org.server.instance_url}"\n'
        f'client_id = "{org.server.client_id}"\n'
        f'username = "{org.server.username}"\npassword_env = "TEST_PASSWORD"\nclient_secret_env = "TEST_SECRET"\n'
        f'verify = "{org.server.ca_file}"\n', encoding="utf-8")
    org.env = {"TEST_PASSWORD": org.server.password, "TEST_SECRET": org.server.client_secret}
    org.faults({"expire_token_after": 5})
    result = org.run(plan)
    assert result.exit_code == 0, result.results
    assert org.count("Account") == 50 and org.count("Contact") == 100


def test_permanent_failure_goes_to_failed_csv_and_children_are_skipped(org):
    plan = write_plan(org.project, accounts=10, bad_employees_for="A3")
    result = org.run(plan, check=False)  # the server, not the checks before sending, refuses the row here
    assert result.exit_code == 1
    totals = result.results["totals"]
    assert (totals["succeeded"], totals["failed"], totals["skipped"]) == (9 + 18, 1, 2)
    steps = {s["id"]: s for s in result.results["steps"]}
    failed = read_table(result.paths.root / steps["Account"]["files"]["failed"])
    assert failed[["key", "error_code", "source_row"]].values.tolist() == [
        ["A3", "INVALID_TYPE_ON_FIELD_IN_RECORD", "5"]]
    assert "a dozen" in failed["message"].iloc[0]
    skipped = read_table(result.paths.root / steps["Contact"]["files"]["skipped"])
    assert sorted(skipped["key"]) == ["C3-0", "C3-1"]
    assert set(skipped["reason"]) == {"parent Account A3 failed to load"} and set(skipped["parent_key"]) == {"A3"}
    assert org.count("Contact") == 18
    assert result.results["top_errors"][0]["code"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"


def test_retry_after_fixing_the_bad_row_loads_it_and_its_children(org):
    plan = write_plan(org.project, accounts=10, bad_employees_for="A3")
    first = org.run(plan)
    assert first.exit_code == 1
    source = org.project / "data" / "accounts.csv"
    source.write_text(source.read_text().replace("a dozen", "12"), encoding="utf-8")
    second = org.retry(first.paths.run_id)
    assert second.exit_code == 0, second.results
    totals = second.results["totals"]
    assert (totals["sent"], totals["succeeded"], totals["created"]) == (3, 3, 3)  # A3 and its two contacts
    assert org.count("Account") == 10 and org.count("Contact") == 20
    fixed = org.query("SELECT NumberOfEmployees FROM Account WHERE Legacy_Id__c = 'A3'")
    assert fixed[0]["NumberOfEmployees"] == 12
