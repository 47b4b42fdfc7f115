"""Generated sources and masks end to end against the real local org: a generated seed run twice
creates nothing the second time, --scale keeps the first rows, masks match across objects and runs,
and neither the secret nor the real values reach any file of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from migrator import api
from migrator.compile.csvio import read_table
from migrator.errors import ConfigError
from migrator.fake.masks import MaskKey

SECRET = "integration-test-mask-secret-7f3a9c"

GENERATED = """\
version: 1
name: generated
variables: {today: "2026-06-30"}
defaults: {operation: upsert, external_id: Legacy_Id__c, seed: 11}
objects:
  - object: Account
    source:
      generate:
        count: 40
        columns:
          key: {seq: "T{seed}-A-{:04d}"}
          name: company
          industry: {choice: {Technology: 3, Finance: 1}}
          founded: {date: {from: -20y, to: -1y}}
    fields:
      Legacy_Id__c: key
      Name: name
      Industry: industry
      Founded__c: {from: founded, type: date}
  - object: Contact
    source:
      generate:
        per: Account
        count: {1: 1, 2: 2, 3: 1}
        columns:
          key: {seq: "T{seed}-C-{:05d}"}
          account: {parent: key}
          last: last_name
          email: {template: "{{ last | lower }}.{{ key | lower }}@example.com"}
    fields:
      Legacy_Id__c: key
      LastName: last
      Email: {from: email, type: email}
    lookups:
      AccountId: {from: account, to: Account, missing: reject}
"""


def _generated_plan(org) -> Path:
    path = org.project / "plans" / "generated.yaml"
    path.write_text(GENERATED, encoding="utf-8")
    return path


def _files(run_dir: Path) -> list[Path]:
    return [p for p in Path(run_dir).rglob("*") if p.is_file()]


def test_generated_seed_twice_creates_nothing_and_scale_keeps_the_first_rows(org):
    plan = _generated_plan(org)
    first = org.run(plan)
    assert first.exit_code == 0, first.results
    sources = {s["step"]: s for s in first.results["sources"]}
    accounts, contacts = sources["Account"]["sent"], sources["Contact"]["sent"]
    assert accounts == 40 and 40 <= contacts <= 120
    assert first.results["totals"]["created"] == accounts + contacts
    assert org.count("Account") == accounts and org.count("Contact") == contacts
    linked = org.query("SELECT Legacy_Id__c, Account.Legacy_Id__c FROM Contact")
    assert all(r["Account"]["Legacy_Id__c"].startswith("T11-A-") for r in linked)
    before = {r["Legacy_Id__c"]: r["Name"] for r in org.query("SELECT Legacy_Id__c, Name FROM Account")}

    second = org.run(plan)
    assert second.exit_code == 0
    assert second.results["totals"]["created"] == 0
    assert second.results["totals"]["updated"] == accounts + contacts
    changed_only = org.run(plan, changed_only=True)  # the same seed makes the same values: nothing to send
    assert changed_only.results["totals"]["sent"] == 0
    assert changed_only.results["totals"]["unchanged"] == accounts + contacts

    scaled = org.run(plan, scale=2)
    assert scaled.exit_code == 0
    scaled_sources = {s["step"]: s for s in scaled.results["sources"]}
    assert scaled_sources["Account"]["sent"] == 80
    new_rows = scaled_sources["Account"]["sent"] + scaled_sources["Contact"]["sent"] - accounts - contacts
    assert scaled.results["totals"]["created"] == new_rows  # the first rows are the unscaled run's rows
    assert scaled.results["totals"]["updated"] == accounts + contacts
    after = {r["Legacy_Id__c"]: r["Name"] for r in org.query("SELECT Legacy_Id__c, Name FROM Account")}
    assert {k: after[k] for k in before} == before
    assert json.loads((scaled.paths.plan_dir / "manifest.json").read_text())["fake"]["scale"] == 2


def _emails(org, object_name: str) -> dict[str, str]:
    return {r["Legacy_Id__c"]: r["Email"] for r in org.query(f"SELECT Legacy_Id__c, Email FROM {object_name}")}


def test_masked_copy_is_consistent_across_objects_and_runs_and_leaves_no_secret(org):
    org.env["MIGRATOR_MASK_SECRET"] = SECRET
    plan = org.project / "plans" / "copy-masked.yaml"
    result = org.run(plan)
    assert result.results["status"] == "succeeded", result.results
    contacts, leads = _emails(org, "Contact"), _emails(org, "Lead")
    real_contacts = read_table(org.project / "plans" / "data" / "prod" / "contacts.csv")
    real_leads = read_table(org.project / "plans" / "data" / "prod" / "leads.csv")
    real = dict(zip(real_contacts["id"], real_contacts["email"], strict=True))
    shared = 0
    for lead_id, lead_email in zip(real_leads["id"], real_leads["email"], strict=True):
        person = next((cid for cid, email in real.items() if email.lower() == lead_email.lower()), None)
        masked = leads[lead_id]
        assert masked.split("@")[1] == lead_email.lower().split("@")[1]  # the domain is kept
        assert masked.split("@")[0] != lead_email.split("@")[0].lower()
        if person is not None and person in contacts:
            assert contacts[person] == masked  # the same person, the same fake address, in Lead and Contact
            shared += 1
    assert shared >= 6

    rejects = read_table(result.paths.plan_dir / "rejects.csv")
    assert list(rejects["value"]) == ["(masked)"]  # the broken address is refused, and not written out
    secret_text = SECRET.encode()
    originals = {e.lower().encode() for e in list(real.values()) + list(real_leads["email"])}
    for path in _files(result.paths.root):
        data = path.read_bytes()
        assert secret_text not in data, path
        assert not any(original in data.lower() for original in originals), path

    masked = {s["step"]: s.get("masked", {}) for s in result.results["sources"]}
    assert masked["Contact"]["Email"] == "email (domain kept)" and masked["Lead"]["Company"] == "fake: company"
    key_id = result.results["fake"]["mask_key_id"]
    report = (result.paths.root / "report.html").read_text(encoding="utf-8")
    assert "Generated and masked data" in report and key_id in report and "email (domain kept)" in report

    again = org.run(plan)
    assert again.results["totals"]["created"] == 0
    assert _emails(org, "Contact") == contacts and _emails(org, "Lead") == leads
    # the target-aware dry run masks the same way: every loaded row is predicted unchanged
    checked = api.check(plan, target="test", home=org.project / ".migrator", project_dir=org.project, env=org.env)
    assert {f.step: (f.created, f.updated, f.unchanged) for f in checked.forecast} == {
        "Account": (0, 0, 6), "Contact": (0, 0, 19), "Lead": (0, 0, 10)}


def test_the_target_names_where_its_masking_secret_is(org):
    config = org.project / "migrator.toml"
    config.write_text(config.read_text(encoding="utf-8") + 'mask_secret_env = "SANDBOX_MASK"\n', encoding="utf-8")
    plan = org.project / "plans" / "copy-masked.yaml"
    with pytest.raises(ConfigError, match="SANDBOX_MASK, which is not set"):
        org.run(plan)
    assert not (org.project / ".migrator" / "runs").exists() or not any((org.project / ".migrator" / "runs").iterdir())
    org.env["SANDBOX_MASK"] = SECRET
    org.env["MIGRATOR_MASK_SECRET"] = "another-secret-that-must-not-be-used"
    first = org.run(plan)
    assert first.exit_code == 0
    assert first.results["fake"]["mask_secret_from"] == "SANDBOX_MASK"
    by_target = _emails(org, "Contact")
    config.write_text(textwrap.dedent(config.read_text(encoding="utf-8")).replace(
        'mask_secret_env = "SANDBOX_MASK"\n', ""), encoding="utf-8")
    org.env["MIGRATOR_MASK_SECRET"] = SECRET  # the same secret from the default variable: the same masks
    second = org.run(plan)
    assert second.results["totals"]["created"] == 0
    assert _emails(org, "Contact") == by_target
    assert second.results["fake"]["mask_key_id"] == first.results["fake"]["mask_key_id"]


KILL_WHILE_COMPILING = """
import os, sys
from pathlib import Path
from migrator import api

def kill(kind, data):
    if kind == "chunk":  # the planner is writing parts: die as SIGKILL would
        os._exit(9)

api.run(sys.argv[1], target="test", home=Path(".migrator"), project_dir=Path("."), scale=2, on_event=kill)
"""


def test_resume_recompiles_a_killed_run_at_its_scale_and_with_its_masks(org):
    plan = org.project / "plans" / "generated.yaml"
    plan.write_text(GENERATED.replace("      Email: {from: email, type: email}",
                                      "      Email: {from: email, type: email, mask: email}"), encoding="utf-8")
    org.env["MIGRATOR_MASK_SECRET"] = SECRET
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_COMPILING, str(plan)], cwd=org.project,
                            env={**os.environ, **org.env}, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr
    [run_dir] = list((org.project / ".migrator" / "runs").iterdir())
    resumed = org.run(None, resume=run_dir.name)
    assert resumed.exit_code == 0, resumed.results
    assert {s["step"]: s["sent"] for s in resumed.results["sources"]}["Account"] == 80
    assert resumed.results["fake"]["mask_key_id"] == MaskKey.from_text(SECRET, "x").key_id
    masked = _emails(org, "Contact")
    assert all(email.endswith("@example.com") and not email.startswith("t11-c-") for email in masked.values())
    again = org.run(plan, scale=2)  # a run that was never interrupted makes the same rows
    assert again.results["totals"]["created"] == 0 and _emails(org, "Contact") == masked
