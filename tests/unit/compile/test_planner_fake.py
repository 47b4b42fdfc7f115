"""The planner on generated sources and masked fields: the same bytes for the same seed (in any
process), other bytes for another seed, rejects that name generated rows, masks in the transform."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.compile.csvio import read_table
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.errors import UsageError
from migrator.fake.masks import MaskKey
from migrator.plan.loader import load_plan

SECRET = "planner-test-secret-0123456789"

# Only migrator's own generators (no Faker): its bytes are fixed by this repository alone.
GENERATED = """\
version: 1
name: golden
variables: {today: "2026-01-15"}
defaults: {operation: upsert, external_id: Legacy_Id__c, seed: SEED}
objects:
  - object: Account
    source:
      generate:
        count: 300
        columns:
          key: {seq: "G{seed}-A-{:04d}"}
          rating: {choice: {Hot: 1, Warm: 3, Cold: 6}}
          revenue: {number: {min: 1000, max: 90000, decimals: 2}}
          founded: {date: {from: -30y, to: -1y}}
          audited: {datetime: {from: -90d, to: now}}
          name: {template: "Account {{ key }} ({{ rating }})"}
          city: {choice: [Paris, Lyon, Lille], blank: 0.2}
    fields:
      Legacy_Id__c: key
      Name: {from: name, required: true}
      Rating: rating
      AnnualRevenue: {from: revenue, type: number}
      Founded__c: {from: founded, type: date}
      BillingCity: {from: city, required: true}
  - object: Contact
    source:
      generate:
        per: Account
        count: {1: 2, 2: 5, 3: 3}
        columns:
          key: {seq: "G{seed}-C-{:05d}"}
          account: {parent: key}
          buddy: {ref: Account.name}
          email: {template: "{{ key | lower }}@example.com"}
    fields:
      Legacy_Id__c: key
      LastName: {from: key, required: true}
      Description: buddy
      Email: {from: email, type: email}
    lookups:
      AccountId: {from: account, to: Account}
"""
# sha256 over the parts the plan compiles to; it changes only if generated values change, which
# would make every generated sandbox change with it: update it only for a deliberate change.
GOLDEN_DIGEST = "6fc6891d55a8e240d66dc1aa497c2a82b467a25c7f973016140a2c24a57c3905"


def compiled(tmp_path: Path, seed: int = 5, name: str = "out", **options) -> tuple[Path, dict]:
    plan = tmp_path / f"plan-{seed}.yaml"
    plan.write_text(GENERATED.replace("SEED", str(seed)), encoding="utf-8")
    out = tmp_path / name
    manifest = compile_plan(load_plan(plan), PlanOptions(out_dir=out, **options))
    return out, manifest.to_json()


def digest(folder: Path) -> str:
    """Of the parts: the CSVs a run sends and their source indexes (not of the reports beside them)."""
    total = hashlib.sha256()
    for path in sorted(folder.rglob("part-*.csv")):
        total.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return total.hexdigest()


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(tmp_path):
    out, manifest = compiled(tmp_path)
    assert digest(out) == GOLDEN_DIGEST
    again, _ = compiled(tmp_path, name="again")
    assert digest(again) == digest(out)
    other, _ = compiled(tmp_path, seed=6, name="other")
    assert digest(other) != digest(out)
    sources = {s["step"]: s for s in manifest["sources"]}
    assert sources["Account"]["generated"] == {"rows": 300, "seed": 5, "locale": "en_US", "count": 300}
    assert sources["Contact"]["generated"]["per"] == "Account" and sources["Contact"]["generated"]["children"] == \
        "1: 2, 2: 5, 3: 3"
    assert manifest["fake"]["scale"] == 1 and manifest["fake"]["faker"]


def test_another_process_makes_the_same_bytes_faker_columns_included(tmp_path):
    text = GENERATED.replace("SEED", "5").replace("city: {choice: [Paris, Lyon, Lille], blank: 0.2}",
                                                  "city: {fake: city, blank: 0.2}")
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"out-{hash_seed}"
        code = ("import sys; from pathlib import Path; from migrator.plan.loader import load_plan; "
                "from migrator.compile.planner import PlanOptions, compile_plan; "
                "compile_plan(load_plan(sys.argv[1]), PlanOptions(out_dir=Path(sys.argv[2])))")
        subprocess.run([sys.executable, "-c", code, str(plan), str(out)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=120)
        outputs.append(digest(out))
    assert outputs[0] == outputs[1]


def test_rejects_of_generated_rows_name_the_generated_row(tmp_path):
    out, manifest = compiled(tmp_path)
    rejects = read_table(out / "rejects.csv")
    assert set(rejects["source_file"]) == {"generate:Account"}
    assert set(rejects["reason"]) == {"required value is missing"} and set(rejects["field"]) == {"BillingCity"}
    assert 30 < len(rejects) < 90  # blank: 0.2 of 300 rows
    assert manifest["totals"]["rejected"] == len(rejects)
    index = read_table(out / "Account" / "part-0001.source.csv")
    assert index["source_file"].iloc[0] == "generate:Account"
    assert set(index["source_row"]).isdisjoint(rejects["source_row"])
    assert len(index) + len(rejects) == 300
    orphans = read_table(out / "missing_parents.csv")  # children of a rejected account say which row it was
    first = orphans.iloc[0]
    assert first["source_file"] == "generate:Contact" and first["why"] == (
        f"rejected (generate:Account#{int(first['parent_key'].rsplit('-', 1)[1])}, BillingCity: required value "
        "is missing)")


def test_scale_multiplies_the_counts_and_keeps_the_first_rows(tmp_path):
    out, _ = compiled(tmp_path)
    scaled, manifest = compiled(tmp_path, name="scaled", scale=4)
    assert {s["step"]: s["generated"]["rows"] for s in manifest["sources"]}["Account"] == 1200
    first = (out / "Account" / "part-0001.csv").read_bytes().splitlines()
    more = (scaled / "Account" / "part-0001.csv").read_bytes().splitlines()
    assert more[:len(first)] == first


MASKED = """\
version: 1
name: masked
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Contact
    source: people.csv
    fields:
      Legacy_Id__c: id
      LastName: {from: last, mask: last_name, truncate: 3}
      Email: {from: email, type: email, mask: email}
      Description: {from: notes, mask: redact, null: clear}
"""
PEOPLE = "id,last,email,notes\nP1,Lee,Ann.Lee@Acme.com,secret\nP2,Stone,not-an-email,\nP3,#N/A,,x\n"


def masked_plan(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.csv").write_text(PEOPLE, encoding="utf-8")
    plan = tmp_path / "masked.yaml"
    plan.write_text(MASKED, encoding="utf-8")
    return plan


def test_masks_apply_after_conversion_and_rejects_never_show_the_value(tmp_path):
    plan = masked_plan(tmp_path)
    out = tmp_path / "out"
    manifest = compile_plan(load_plan(plan), PlanOptions(out_dir=out, mask_key=MaskKey.from_text(SECRET, "T")))
    rows = read_table(out / "Contact" / "part-0001.csv")
    assert list(rows["Legacy_Id__c"]) == ["P1", "P3"]
    p1, p3 = rows.iloc[0], rows.iloc[1]
    assert len(p1["LastName"]) <= 3 and p1["LastName"] != "Lee"  # masked, then truncated
    assert p1["Email"].endswith("@acme.com") and not p1["Email"].startswith("ann.lee")
    assert p1["Description"] == "REDACTED" and p3["Description"] == "REDACTED"
    assert p3["LastName"] == "#N/A" and p3["Email"] == ""  # clearing and blanks are not values to mask
    rejects = read_table(out / "rejects.csv")
    assert rejects[["key", "field", "value"]].values.tolist() == [["P2", "Email", "(masked)"]]
    files = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert SECRET.encode() not in files and b"Ann.Lee" not in files and b"not-an-email" not in files
    assert json.loads((out / "manifest.json").read_text())["sources"][0]["masked"] == {
        "LastName": "last_name", "Email": "email (domain kept)", "Description": "redact"}
    assert manifest.fake["mask_key_id"] == MaskKey.from_text(SECRET, "T").key_id


def test_a_plan_that_masks_needs_the_secret(tmp_path):
    with pytest.raises(UsageError, match=r"the plan masks Contact.LastName, Contact.Email, Contact.Description.*"
                                         r"MIGRATOR_MASK_SECRET"):
        compile_plan(load_plan(masked_plan(tmp_path)), PlanOptions(out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()
