"""One small legacy data set written as every kind of source: CSV text as exported, and typed
Parquet, JSON Lines and SQL tables holding the same values (ints, decimals, dates, NULLs)."""

from __future__ import annotations

import datetime
import decimal
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PLAN = """\
version: 1
name: same-parts
sources: {{dir: data}}
defaults: {{operation: upsert, external_id: Legacy_Id__c}}
objects:
  - object: Account
    source: {accounts}
    fields:
      Legacy_Id__c: id
      Name: name
      Industry: {{from: sector, map: {{T: Technology, F: Finance}}, default: Other}}
      AnnualRevenue: {{from: revenue, type: number}}
    lookups:
      ParentId: {{from: parent, to: Account}}
  - object: Contact
    source: {contacts}
    fields:
      Legacy_Id__c: id
      LastName: last
      Salutation: {{from: sal, map: {{m: Mr., f: Ms.}}}}
      Birthdate: {{from: born, type: date, format: "%d/%m/%Y"}}
    lookups:
      AccountId: {{from: account, to: Account}}
  - object: Opportunity
    source: {opportunities}
    fields:
      Legacy_Id__c: id
      Name: name
      StageName: {{from: stage, map: {{P: Prospecting, W: Closed Won}}}}
      CloseDate: {{from: close, type: date}}
      Amount: {{from: amount, type: number}}
    lookups:
      AccountId: {{from: account, to: Account}}
"""
TABLES = ("accounts", "contacts", "opportunities")


def legacy_data(rows: int = 300, seed: int = 11) -> dict[str, pd.DataFrame]:
    """Typed frames (Python values, None for NULL): accounts in a hierarchy, contacts, opportunities."""
    rng = np.random.default_rng(seed)
    n_accounts, n_contacts = rows // 5, rows * 2 // 5
    n_opps = rows - n_accounts - n_contacts
    ids = np.arange(n_accounts)
    parents = np.where(ids < 5, -1, rng.integers(0, np.maximum(ids // 2, 1)))
    days = [datetime.date(1950, 1, 1) + datetime.timedelta(days=int(d)) for d in rng.integers(0, 20000, n_contacts)]
    closes = [datetime.date(2024, 1, 1) + datetime.timedelta(days=int(d)) for d in rng.integers(0, 1400, n_opps)]
    accounts = pd.DataFrame({
        "id": [f"A{i}" for i in ids], "name": [f"Account {i}, \"Inc.\"" for i in ids],
        "sector": rng.choice(["T", "F", "X"], n_accounts).tolist(),
        "revenue": [int(v) for v in rng.integers(1_000, 9_000_000, n_accounts)],
        "parent": [None if p < 0 else f"A{p}" for p in parents]})
    contacts = pd.DataFrame({
        "id": [f"C{i}" for i in range(n_contacts)], "last": [f"Name{i}" for i in range(n_contacts)],
        "sal": [None if s == "" else s for s in rng.choice(["m", "f", ""], n_contacts)], "born": days,
        "account": [f"A{a}" for a in rng.integers(0, n_accounts, n_contacts)]})
    opportunities = pd.DataFrame({
        "id": [f"O{i}" for i in range(n_opps)], "name": [f"Deal {i}" for i in range(n_opps)],
        "stage": rng.choice(["P", "W"], n_opps).tolist(), "close": closes,
        "amount": [decimal.Decimal(int(v)).scaleb(-2) for v in rng.integers(10_000, 200_000_000, n_opps)],
        "account": [f"A{a}" for a in rng.integers(0, n_accounts, n_opps)]})
    return {"accounts": accounts, "contacts": contacts, "opportunities": opportunities}


def _csv_text(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a legacy CSV export writes it: thousands separators, day/month/year dates."""
    text = frame.astype(object).where(frame.notna(), "")
    if name == "accounts":
        text["revenue"] = frame["revenue"].map("{:,}".format)
    if name == "contacts":
        text["born"] = frame["born"].map(lambda d: d.strftime("%d/%m/%Y"))
    if name == "opportunities":
        text["amount"] = frame["amount"].map(lambda d: f"{d:,.2f}")
    return text


def write_csv(data: dict[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in data.items():
        _csv_text(name, frame).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return {name: f"{name}.csv" for name in data}


def _arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    types = {"revenue": pa.int64(), "born": pa.date32(), "close": pa.date32(), "amount": pa.decimal128(12, 2)}
    return pa.table({c: pa.array(_values(frame[c]), types.get(c, pa.string())) for c in frame.columns})


def _values(column: pd.Series) -> list[object]:
    """A column's Python values, None for a missing one (pandas may hold it as NaN)."""
    return column.astype(object).where(column.notna(), None).tolist()


def write_parquet(data: dict[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in data.items():
        pq.write_table(_arrow(name, frame), folder / f"{name}.parquet", row_group_size=50)
    return {name: f"{name}.parquet" for name in data}


def write_jsonl(data: dict[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    """Numbers as JSON numbers where they are whole, decimals as strings (as exports keep their
    precision), dates in ISO 8601, NULLs as null."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in data.items():
        with (folder / f"{name}.jsonl").open("w") as out:
            for record in frame.astype(object).where(frame.notna(), None).to_dict("records"):
                out.write(json.dumps(record, default=str) + "\n")
    return {name: f"{name}.jsonl" for name in data}


DDL = {
    "accounts": "CREATE TABLE accounts (seq integer PRIMARY KEY, id text UNIQUE, name text NOT NULL, sector text, "
                "revenue bigint, parent text)",
    "contacts": "CREATE TABLE contacts (seq integer PRIMARY KEY, id text UNIQUE, last text, sal text, born date, "
                "account text)",
    "opportunities": "CREATE TABLE opportunities (seq integer PRIMARY KEY, id text UNIQUE, name text, stage text, "
                     "close date, amount numeric(12, 2), account text)",
}


def load_sql(data: dict[str, pd.DataFrame], execute, placeholder: str = "%s",  # type: ignore[no-untyped-def]
             decimal_type: str = "numeric(12, 2)", cascade: str = " CASCADE") -> None:
    """Create the legacy tables (an integer primary key `seq`, from 1, in the export's order) and
    insert the rows in a shuffled order: a table is read in key order whatever the insertion order."""
    for name, frame in data.items():
        execute(f"DROP TABLE IF EXISTS {name}{cascade}", None)
        execute(DDL[name].replace("numeric(12, 2)", decimal_type), None)
        marks = ", ".join([placeholder] * (len(frame.columns) + 1))
        rows = [(i + 1, *r) for i, r in enumerate(frame.astype(object).where(frame.notna(), None)
                                                   .itertuples(index=False))]
        order = np.random.default_rng(3).permutation(len(rows))
        execute(f"INSERT INTO {name} (seq, {', '.join(frame.columns)}) VALUES ({marks})", [rows[i] for i in order])


def write_sqlite(data: dict[str, pd.DataFrame], file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(file)

    def execute(sql: str, rows: list | None) -> None:
        if rows is None:
            connection.execute(sql)
        else:
            typed = [tuple(str(v) if isinstance(v, decimal.Decimal | datetime.date) else v for v in r) for r in rows]
            connection.executemany(sql, typed)

    load_sql(data, execute, "?", decimal_type="text", cascade="")  # SQLite has no exact decimals: money is kept as text
    connection.commit()
    connection.close()


def write_plan(folder: Path, sources: dict[str, str], name: str = "plan.yaml") -> Path:
    plan = folder / name
    plan.write_text(PLAN.format(**sources))
    return plan


def part_bytes(out: Path) -> dict[str, bytes]:
    """Every CSV part of a compiled plan (not the source indexes, whose row references differ by kind)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("part-*.csv"))
            if not p.name.endswith(".source.csv")}
