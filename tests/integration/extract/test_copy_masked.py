"""`migrator copy` of a plan that masks: production (A) keeps its real values, the sandbox (B) gets
the masks `run` would send, keyed by B's secret, the same person masked alike in Contact and Lead."""

from __future__ import annotations

import pytest
import yaml

from migrator import api
from migrator.errors import UsageError

from .conftest import Orgs

SECRET = "copy-test-secret-0123456789abcdef"
PEOPLE = "SELECT Legacy_Id__c, FirstName, LastName, Email, Birthdate, Account.Legacy_Id__c FROM Contact"


def _unmasked(orgs: Orgs) -> str:
    """plans/copy-masked.yaml without its masks: how production got its real data."""
    plan = yaml.safe_load(orgs.plan("copy-masked.yaml").read_text(encoding="utf-8"))
    for step in plan["objects"]:
        for spec in step["fields"].values():
            if isinstance(spec, dict):
                spec.pop("mask", None)
    plan["name"] = "prod"
    path = orgs.plan("prod.yaml")
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path.name


def _by_key(org, soql: str) -> dict[str, dict]:
    return {r["Legacy_Id__c"]: r for r in org.query(soql)}


def test_a_masked_copy_masks_in_the_target_only_and_copying_again_changes_nothing(orgs: Orgs):
    loaded = api.run(orgs.plan(_unmasked(orgs)), target="A", **orgs.kw())  # one row is a reject: a bad email
    assert loaded.results["totals"]["created"] > 0
    real = _by_key(orgs.a, PEOPLE)
    real_leads = _by_key(orgs.a, "SELECT Legacy_Id__c, Email, Company FROM Lead")

    orgs.env["MIGRATOR_MASK_SECRET"] = SECRET
    result = orgs.copy("copy-masked.yaml")
    assert result.run is not None and result.run.results["status"] == "succeeded", result.to_json()
    assert result.run.results["totals"]["created"] == len(real) + len(real_leads) + orgs.a.count("Account")

    assert _by_key(orgs.a, PEOPLE) == real  # the source org is only read
    masked = _by_key(orgs.b, PEOPLE)
    assert set(masked) == set(real)
    for key, person in real.items():
        copy = masked[key]
        assert copy["Account"]["Legacy_Id__c"] == person["Account"]["Legacy_Id__c"]  # links travel unmasked
        assert copy["Email"].split("@")[1] == person["Email"].split("@")[1]  # the domain is kept
        assert copy["Email"].split("@")[0] != person["Email"].split("@")[0].lower()
        assert copy["LastName"] != person["LastName"] and copy["Birthdate"] is None
    leads = _by_key(orgs.b, "SELECT Legacy_Id__c, Email, Company FROM Lead")
    shared = {person["Email"].lower(): key for key, person in real.items()}
    same_person = [(lead, shared[row["Email"].lower()]) for lead, row in real_leads.items()
                   if row["Email"].lower() in shared]
    assert len(same_person) >= 6
    for lead, contact in same_person:  # masked alike across objects, as `run` masks them
        assert leads[lead]["Email"] == masked[contact]["Email"]
    assert all(leads[k]["Company"] != v["Company"] for k, v in real_leads.items())
    assert result.run.results["fake"]["mask_secret_from"] == "MIGRATOR_MASK_SECRET"
    for part in (result.run_dir / "plan").rglob("*.csv"):  # what was sent holds no real address
        data = part.read_bytes().lower()
        assert not any(p["Email"].lower().encode() in data for p in real.values()), part

    again = orgs.copy("copy-masked.yaml")
    assert again.run.results["totals"]["created"] == 0, again.run.results["totals"]
    assert _by_key(orgs.b, PEOPLE) == masked

    cleaned = orgs.copy("copy-masked.yaml", clean=True, yes=True)  # keys found as the masked run sent them
    assert cleaned.clean.records == len(real) + len(real_leads) + orgs.a.count("Account")
    assert cleaned.run.results["totals"]["created"] == cleaned.clean.records
    gone = api.delete(orgs.plan("copy-masked.yaml"), target="B", yes=True, **orgs.kw())
    assert gone.exit_code == 0 and gone.records == cleaned.clean.records
    assert orgs.b.count("Contact") == orgs.b.count("Lead") == orgs.b.count("Account") == 0
    assert _by_key(orgs.a, PEOPLE) == real


def test_a_masked_copy_without_the_secret_stops_before_reading(orgs: Orgs):
    api.run(orgs.plan(_unmasked(orgs)), target="A", **orgs.kw())
    runs = set((orgs.home / "runs").iterdir())
    orgs.env.pop("MIGRATOR_MASK_SECRET", None)
    with pytest.raises(UsageError, match="MIGRATOR_MASK_SECRET"):
        orgs.copy("copy-masked.yaml")
    assert set((orgs.home / "runs").iterdir()) == runs  # a copy that cannot start leaves nothing behind
    assert orgs.b.count("Contact") == 0
