"""Lock-aware parts: rows grouped by parent, parts cut where a parent's rows end, key ranges recorded."""

from pathlib import Path

import numpy as np
import pyarrow as pa

from migrator.compile.csvio import read_table
from migrator.compile.lockparts import MIN_PART_ROWS, aligned_bounds, part_bounds, rows_per_part
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.plan.loader import load_plan


def test_part_bounds_end_where_a_parents_rows_end():
    # parents of 10 sorted rows: a a a b b c c c c d; then 2 rows naming none
    starts = np.array([0, 3, 5, 9])
    assert part_bounds(starts, 12, 10, 4, 100) == [(0, 5), (5, 9), (9, 12)]
    # a parent bigger than the limit is split at the limit (the one case where parts share a parent)
    assert part_bounds(np.array([0]), 10, 10, 3, 4) == [(0, 4), (4, 8), (8, 10)]
    # rows naming no parent are cut anywhere; a small last part joins the one before
    assert part_bounds(np.zeros(0, np.int64), 10, 0, 4, 100) == [(0, 4), (4, 8), (8, 10)]
    assert part_bounds(np.zeros(0, np.int64), 17, 0, 8, 100) == [(0, 8), (8, 17)]


def test_aligned_bounds_cut_at_another_steps_parent_keys():
    keys = pa.array(sorted(f"p{n:05d}" for n in range(3 * MIN_PART_ROWS)))
    starts = np.arange(len(keys))
    cuts = aligned_bounds(keys, starts, len(keys), len(keys), ["p02000", "p04000"], 2000, 100_000)
    assert cuts == [(0, 2000), (2000, 4000), (4000, 6000)]
    # a piece under MIN_PART_ROWS joins the next one
    cuts = aligned_bounds(keys, starts, len(keys), len(keys), ["p00010", "p04000"], 2000, 100_000)
    assert cuts == [(0, 4000), (4000, 6000)]


def test_rows_per_part_spreads_a_step_over_the_concurrency():
    assert rows_per_part(100_000, 4, 100_000) == 25_000
    assert rows_per_part(3_000, 4, 100_000) == MIN_PART_ROWS
    assert rows_per_part(1_000_000, 4, 100_000) == 100_000


PLAN = """version: 1
name: locks
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: name}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: last}
    lookups:
      AccountId: {from: account, to: Account}
  - object: Opportunity
    source: opportunities.csv
    fields: {Legacy_Id__c: id, Name: name, StageName: {value: Prospecting}, CloseDate: {value: "2026-01-01"}}
    lookups:
      AccountId: {from: account, to: Account}
"""


def write_project(tmp_path: Path, contacts: int = 12_000, accounts: int = 600) -> Path:
    rng = np.random.default_rng(5)
    data = tmp_path / "data"
    data.mkdir()
    (data / "accounts.csv").write_text("id,name\n" + "".join(f"A{n:04d},Acct {n}\n" for n in range(accounts)))
    owners = rng.integers(0, accounts, contacts)
    (data / "contacts.csv").write_text("id,last,account\n" + "".join(
        f"C{n:05d},Last {n},{'' if n % 50 == 0 else f'A{owners[n]:04d}'}\n" for n in range(contacts)))
    deals = rng.integers(0, accounts, contacts // 2)
    (data / "opportunities.csv").write_text("id,name,account\n" + "".join(
        f"O{n:05d},Deal {n},A{deals[n]:04d}\n" for n in range(contacts // 2)))
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    return plan


def parts_of(out: Path, manifest, step_id: str):
    step = manifest.step(step_id)
    return step, [read_table(out / part.path) for part in step.parts]


def test_no_two_parts_of_a_step_share_a_parent_and_each_parent_is_contiguous(tmp_path: Path):
    out = tmp_path / "out"
    manifest = compile_plan(load_plan(write_project(tmp_path)), PlanOptions(out_dir=out, parallel_parts=4))
    step, frames = parts_of(out, manifest, "Contact")
    assert 3 <= len(frames) <= 5 and sum(len(f) for f in frames) == 12_000
    parents = [set(f["Account.Legacy_Id__c"]) - {""} for f in frames]
    for i in range(len(parents)):
        for j in range(i + 1, len(parents)):
            assert not parents[i] & parents[j]
            assert not step.parts[i].shares_parents(step.parts[j])
    for frame, part in zip(frames, step.parts, strict=True):
        named = frame["Account.Legacy_Id__c"]
        keys = named[named != ""].str.lower()
        assert keys.is_monotonic_increasing  # ordered by parent: each parent's rows together
        assert (named == "").sum() == 0 or (named[named != ""].index.max() < named[named == ""].index.min())
        assert [(r.space, r.field, r.lo, r.hi) for r in part.locks] == (
            [("Account.Legacy_Id__c", "AccountId", keys.iloc[0], keys.iloc[-1])] if len(keys) else [])
    # input order is kept within a parent (source rows rise within each parent's run)
    index = read_table(out / step.parts[0].source_index)
    frame = frames[0].assign(row=index["source_row"].astype(int))
    assert all(group["row"].is_monotonic_increasing for _, group in frame.groupby("Account.Legacy_Id__c"))


def test_steps_naming_the_same_parents_are_cut_alike(tmp_path: Path):
    out = tmp_path / "out"
    manifest = compile_plan(load_plan(write_project(tmp_path)), PlanOptions(out_dir=out, parallel_parts=4))
    contacts, opportunities = manifest.step("Contact"), manifest.step("Opportunity")
    meets = [[c.shares_parents(o) for o in opportunities.parts] for c in contacts.parts]
    # each contact part meets at most the opportunity part cut at the same keys, and its neighbour
    assert all(sum(row) <= 2 for row in meets)
    assert any(not cell for row in meets for cell in row)


def test_input_order_keeps_the_source_order_and_still_cuts_parts(tmp_path: Path):
    out = tmp_path / "out"
    manifest = compile_plan(load_plan(write_project(tmp_path)),
                            PlanOptions(out_dir=out, parallel_parts=3, lock_order=False))
    step, frames = parts_of(out, manifest, "Contact")
    assert len(frames) == 3 and all(not part.locks for part in step.parts)
    ids = [value for frame in frames for value in frame["Legacy_Id__c"]]
    assert ids == [f"C{n:05d}" for n in range(12_000)]
