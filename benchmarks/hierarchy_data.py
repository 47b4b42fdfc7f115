"""Synthetic CRM sources with deep hierarchies, shared by bench_levels.py and bench_paced.py.

Accounts form a forest `account_levels` deep (each level larger than the one above, every child's
parent one level up); contacts belong to accounts with a skewed distribution (a few big customers
have hundreds of contacts, most accounts one or two) and report to a manager in the same account,
in a binary tree `contact_levels` deep; opportunities belong to accounts with the same skew. Every
file is written in "input order": sorted by its own id, which says nothing about the parent, as a
legacy export would be. Everything is numpy-vectorised and seeded, so the same arguments give the
same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PLAN = """\
version: 1
name: {name}
sources: {{dir: data}}
defaults: {{operation: upsert, external_id: Legacy_Id__c}}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: name
      Industry: {{from: sector, map: {{T: Technology, F: Finance, M: Manufacturing}}, default: Other}}
    lookups:
      ParentId: {{from: parent, to: Account}}
  - object: Contact
    source: contacts.csv
    fields:
      Legacy_Id__c: id
      LastName: last
      Email: email
    lookups:
      AccountId: {{from: account, to: Account}}
      ReportsToId: {{from: manager, to: Contact}}
  - object: Opportunity
    source: opportunities.csv
    fields:
      Legacy_Id__c: id
      Name: name
      StageName: {{from: stage, map: {{P: Prospecting, N: Negotiation/Review, W: Closed Won}}}}
      CloseDate: close
      Amount: amount
    lookups:
      AccountId: {{from: account, to: Account}}
"""

SCHEMA = """\
objects:
  Account: {fields: {Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}}}
  Contact: {fields: {Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}}}
  Opportunity: {fields: {Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}}}
"""


@dataclass(frozen=True)
class Shape:
    accounts: int
    contacts: int
    opportunities: int
    account_levels: int = 4
    contact_levels: int = 6

    @property
    def rows(self) -> int:
        return self.accounts + self.contacts + self.opportunities


def _ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    return prefix + pd.Series(numbers).astype(str).str.zfill(7)


def _skewed(rng: np.random.Generator, size: int, population: int) -> np.ndarray:
    """Indexes into a population, a few heavy (index ~ population * u^2): big customers."""
    return np.minimum((population * rng.random(size) ** 2).astype(np.int64), population - 1)


def _account_parents(rng: np.random.Generator, count: int, levels: int) -> np.ndarray:
    """Parent position of each account (-1 for roots): level k is k+1 shares of the rows."""
    weights = np.arange(1, levels + 1, dtype=float)
    bounds = np.concatenate(([0], np.cumsum(np.floor(count * weights / weights.sum())).astype(np.int64)))
    bounds[-1] = count
    parents = np.full(count, -1, dtype=np.int64)
    for level in range(1, levels):
        lo, hi = bounds[level], bounds[level + 1]
        above_lo, above_hi = bounds[level - 1], bounds[level]
        parents[lo:hi] = rng.integers(above_lo, above_hi, hi - lo)
    return parents


def _managers(rng: np.random.Generator, accounts: np.ndarray, levels: int) -> np.ndarray:
    """Manager position of each contact (-1 for none): a binary tree inside each account, `levels` deep."""
    order = np.argsort(accounts, kind="stable")
    grouped = accounts[order]
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    sizes = np.diff(np.concatenate((starts, [grouped.size])))
    first = np.repeat(starts, sizes)
    position = np.arange(grouped.size) - first
    depth = np.floor(np.log2(position + 1)).astype(np.int64)
    manager = np.where(position > 0, (position - 1) // 2, -1)
    too_deep = depth >= levels  # attach under a random contact one level above the last
    lo, hi = 2 ** (levels - 2) - 1, 2 ** (levels - 1) - 1
    manager[too_deep] = rng.integers(lo, hi, int(too_deep.sum()))
    managers = np.full(accounts.size, -1, dtype=np.int64)
    managers[order] = np.where(manager >= 0, order[np.minimum(first + manager, grouped.size - 1)], -1)
    return managers


def generate(directory: Path, shape: Shape, *, name: str = "hierarchy", seed: int = 17) -> Path:
    """Write data/accounts.csv, contacts.csv, opportunities.csv, plan.yaml and schema.yaml; return the plan."""
    rng = np.random.default_rng(seed)
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    # accounts: positions are hierarchy order; ids are a shuffle of them, and the file is sorted by id
    parents = _account_parents(rng, shape.accounts, shape.account_levels)
    account_number = rng.permutation(shape.accounts)
    account_ids = _ids("A", account_number)
    accounts = pd.DataFrame({
        "id": account_ids,
        "name": "Account " + account_ids + ", Inc.",
        "sector": rng.choice(np.array(["T", "F", "M", "X"]), shape.accounts),
        "parent": np.where(parents < 0, "", account_ids.to_numpy()[np.maximum(parents, 0)]),
    }).iloc[np.argsort(account_number)]
    accounts.to_csv(data / "accounts.csv", index=False, lineterminator="\n")

    contact_account = _skewed(rng, shape.contacts, shape.accounts)
    managers = _managers(rng, contact_account, shape.contact_levels)
    contact_number = rng.permutation(shape.contacts)
    contact_ids = _ids("C", contact_number)
    contacts = pd.DataFrame({
        "id": contact_ids,
        "last": "Name" + contact_ids,
        "email": contact_ids.str.lower() + "@example.com",
        "account": account_ids.to_numpy()[contact_account],
        "manager": np.where(managers < 0, "", contact_ids.to_numpy()[np.maximum(managers, 0)]),
    }).iloc[np.argsort(contact_number)]
    contacts.to_csv(data / "contacts.csv", index=False, lineterminator="\n")

    days = pd.date_range("2025-01-01", "2027-12-31").strftime("%Y-%m-%d").to_numpy()
    opportunity_ids = _ids("O", np.arange(shape.opportunities))
    pd.DataFrame({
        "id": opportunity_ids,
        "name": "Deal " + opportunity_ids,
        "stage": rng.choice(np.array(["P", "N", "W"]), shape.opportunities),
        "close": days[rng.integers(0, days.size, shape.opportunities)],
        "amount": rng.integers(100, 2_000_000, shape.opportunities).astype(str),
        "account": account_ids.to_numpy()[_skewed(rng, shape.opportunities, shape.accounts)],
    }).to_csv(data / "opportunities.csv", index=False, lineterminator="\n")
    (directory / "schema.yaml").write_text(SCHEMA)
    plan = directory / "plan.yaml"
    plan.write_text(PLAN.format(name=name))
    return plan
