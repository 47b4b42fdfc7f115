"""Benchmark `migrator plan` on a synthetic 3-object source set (not a test; prints figures).

    python benchmarks/bench_plan.py                 # 1M rows in all
    python benchmarks/bench_plan.py --rows 10000000 # 10M rows, to check that memory stays flat
    python benchmarks/bench_plan.py --source parquet,jsonl,sql   # the same rows in other kinds

With `--source`, the same rows are also written as typed Parquet files (row groups of 100,000
rows), JSON Lines and PostgreSQL tables (a throw-away cluster in a temporary folder, from Debian's
server binaries under /usr/lib/postgresql/*/bin; loaded with COPY): revenues as integers, amounts
as numeric(14, 2), close dates as dates, the rest as text. The same plan, with only its `source:`
changed, is timed on each, and the figures are printed with the ratio to the CSV plan of the same
run (targets: <= 1.0 for Parquet, <= 1.5 for PostgreSQL); it checks that every kind gives
byte-identical parts.

Accounts (20% of the rows, a hierarchy three levels deep), contacts (40%, with an account lookup, a
birth date in day/month/year and a value-mapped salutation) and opportunities (40%, with an account
lookup, a close date, a mapped stage and an amount with thousands separators). It prints the plan's
rows/s and peak memory, and the ratio of its wall time to a bare `pandas.read_csv` + `to_csv` of
the same files measured in the same run. Each side runs in its own process so that peak memory
(ru_maxrss) belongs to it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

PLAN = """\
version: 1
name: bench
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: name
      Industry: {from: sector, map: {T: Technology, F: Finance, M: Manufacturing}, default: Other}
      AnnualRevenue: {from: revenue, type: number}
    lookups:
      ParentId: {from: parent, to: Account}
  - object: Contact
    source: contacts.csv
    fields:
      Legacy_Id__c: id
      LastName: last
      Salutation: {from: sal, map: {m: Mr., f: Ms., d: Dr.}}
      Birthdate: {from: born, type: date, format: "%d/%m/%Y"}
      Email: email
    lookups:
      AccountId: {from: account, to: Account}
  - object: Opportunity
    source: opportunities.csv
    fields:
      Legacy_Id__c: id
      Name: name
      StageName: {from: stage, map: {P: Prospecting, N: Negotiation/Review, W: Closed Won}}
      CloseDate: {from: close, type: date, format: "%Y-%m-%d"}
      Amount: {from: amount, type: number}
    lookups:
      AccountId: {from: account, to: Account}
"""


def generate(directory: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write the three source files in chunks (so that generating 10M rows stays cheap too)."""
    rng = np.random.default_rng(seed)
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    accounts, contacts = rows // 5, rows * 2 // 5
    opportunities = rows - accounts - contacts
    chunk = 500_000
    days = pd.date_range("1950-01-01", "2005-12-31")
    with (data / "accounts.csv").open("w") as out:
        out.write("id,name,sector,revenue,parent\n")
        for start in range(0, accounts, chunk):
            ids = np.arange(start, min(start + chunk, accounts))
            # the first 5% are roots; others point at an account with a smaller number (a forest)
            parents = np.where(ids < max(1, accounts // 20), -1, rng.integers(0, np.maximum(ids // 4, 1)))
            frame = pd.DataFrame({
                "id": "A" + pd.Series(ids).astype(str),
                "name": "Account " + pd.Series(ids).astype(str) + ", Inc.",
                "sector": rng.choice(["T", "F", "M", "X"], len(ids)),
                "revenue": pd.Series(rng.integers(1_000, 9_000_000, len(ids))).map("{:,}".format),
                "parent": np.where(parents < 0, "", "A" + pd.Series(parents).astype(str)),
            })
            frame.to_csv(out, header=False, index=False, lineterminator="\n")
    with (data / "contacts.csv").open("w") as out:
        out.write("id,last,sal,born,email,account\n")
        for start in range(0, contacts, chunk):
            ids = np.arange(start, min(start + chunk, contacts))
            frame = pd.DataFrame({
                "id": "C" + pd.Series(ids).astype(str),
                "last": "Name" + pd.Series(ids).astype(str),
                "sal": rng.choice(["m", "f", "d", ""], len(ids)),
                "born": days[rng.integers(0, len(days), len(ids))].strftime("%d/%m/%Y"),
                "email": "c" + pd.Series(ids).astype(str) + "@example.com",
                "account": "A" + pd.Series(rng.integers(0, accounts, len(ids))).astype(str),
            })
            frame.to_csv(out, header=False, index=False, lineterminator="\n")
    with (data / "opportunities.csv").open("w") as out:
        out.write("id,name,stage,close,amount,account\n")
        close_days = pd.date_range("2024-01-01", "2027-12-31")
        for start in range(0, opportunities, chunk):
            ids = np.arange(start, min(start + chunk, opportunities))
            frame = pd.DataFrame({
                "id": "O" + pd.Series(ids).astype(str),
                "name": "Deal " + pd.Series(ids).astype(str),
                "stage": rng.choice(["P", "N", "W"], len(ids)),
                "close": close_days[rng.integers(0, len(close_days), len(ids))].strftime("%Y-%m-%d"),
                "amount": pd.Series(rng.integers(100, 2_000_000, len(ids))).map("{:,}.00".format),
                "account": "A" + pd.Series(rng.integers(0, accounts, len(ids))).astype(str),
            })
            frame.to_csv(out, header=False, index=False, lineterminator="\n")
    (directory / "plan.yaml").write_text(PLAN)
    return {"accounts": accounts, "contacts": contacts, "opportunities": opportunities}


BASELINE = textwrap.dedent("""
    import sys, pandas as pd
    from pathlib import Path
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(exist_ok=True)
    for name in ("accounts.csv", "contacts.csv", "opportunities.csv"):
        with (out / name).open("w") as handle:
            first = True
            for chunk in pd.read_csv(data / name, dtype=str, keep_default_na=False, chunksize=200_000):
                chunk.to_csv(handle, index=False, header=first, lineterminator="\\n")
                first = False
""")

PLANNER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from migrator import api
    result = api.plan(Path(sys.argv[1]), out_dir=Path(sys.argv[2]))
    print(sum(s.rows for s in result.manifest.steps), file=sys.stderr)
""")


REPORT_PEAK = "\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"


def timed(code: str, *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `code` run in a fresh interpreter (it reports its own peak)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code + REPORT_PEAK, *args], check=True, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    return elapsed, int(done.stdout.split()[-1]) / 1024


TABLES = ("accounts", "contacts", "opportunities")
SQL_TYPES = {"revenue": "bigint", "amount": "numeric(14, 2)", "close": "date"}


def typed_tables(data: Path) -> Iterator[tuple[str, Iterator[pa.Table]]]:
    """Each source file as typed Arrow batches: revenue an integer, amount a decimal, close a date."""
    for name in TABLES:
        def batches(name: str = name) -> Iterator[pa.Table]:
            options = pacsv.ReadOptions(block_size=32 << 20)
            convert = pacsv.ConvertOptions(strings_can_be_null=False, column_types={
                c: pa.string() for c in ("id", "name", "sector", "revenue", "parent", "last", "sal", "born", "email",
                                         "account", "stage", "close", "amount")})
            with pacsv.open_csv(data / f"{name}.csv", read_options=options, convert_options=convert) as reader:
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    for column in table.column_names:
                        values = table[column]
                        if column in ("revenue", "amount"):
                            values = pc.replace_substring(values, ",", "")
                            values = values.cast(pa.int64() if column == "revenue" else pa.decimal128(14, 2))
                        elif column == "close":
                            values = values.cast(pa.date32())
                        elif column == "parent":
                            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
                        table = table.set_column(table.column_names.index(column), column, values)
                    yield table
        yield name, batches()


def write_parquet(data: Path, folder: Path) -> None:
    for name, batches in typed_tables(data):
        writer = None
        for table in batches:
            writer = writer or pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
            writer.write_table(table, row_group_size=100_000)
        assert writer is not None
        writer.close()


def write_jsonl(data: Path, folder: Path) -> None:
    """One object a line; decimals as strings (as exports keep their precision), nulls as null."""
    for name, batches in typed_tables(data):
        with (folder / f"{name}.jsonl").open("w") as out:
            for table in batches:
                frame = table.to_pandas().astype(object)
                frame = frame.where(frame.notna(), None)
                for column in ("amount", "close"):
                    if column in frame:
                        frame[column] = frame[column].map(str)
                out.write(frame.to_json(orient="records", lines=True, force_ascii=False))


@contextmanager
def postgres_cluster() -> Iterator[dict[str, str | int]]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (its own folder, removed afterwards)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL's server binaries are not under /usr/lib/postgresql/*/bin (run "
                         ".ci/install-postgres.sh)")
    bins, root = found[-1].parent, Path(tempfile.mkdtemp(prefix="migrator-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=300)

    run(str(bins / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
        "--auth=trust")
    run(str(bins / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "server.log"), "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", "start")
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "postgres"}
    finally:
        subprocess.run([*as_user, str(bins / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True,
                       timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def load_postgres(data: Path, server: dict[str, str | int]) -> None:
    """The tables with a `seq` key in the files' order (a table is read in key order), by COPY."""
    import psycopg

    with psycopg.connect(**server, autocommit=True) as conn:  # type: ignore[arg-type]
        for name, batches in typed_tables(data):
            first = True
            for table in batches:
                if first:
                    columns = ", ".join(f"{c} {SQL_TYPES.get(c, 'text')}" for c in table.column_names)
                    conn.execute(f"DROP TABLE IF EXISTS {name}")
                    conn.execute(f"CREATE TABLE {name} (seq bigserial PRIMARY KEY, {columns})")
                    first = False
                buffer = pa.BufferOutputStream()
                pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
                with conn.cursor().copy(f"COPY {name} ({', '.join(table.column_names)}) FROM STDIN "
                                        "(FORMAT csv)") as copy:
                    copy.write(buffer.getvalue().to_pybytes())
            conn.execute(f"ANALYZE {name}")


def plan_for(kind: str, server: dict[str, str | int] | None = None) -> str:
    """The benchmark plan with its sources in `kind`."""
    text = PLAN
    for name in TABLES:
        source = {"csv": f"{name}.csv", "parquet": f"{name}.parquet", "jsonl": f"{name}.jsonl",
                  "sql": f"{{url: 'postgresql://postgres@127.0.0.1:{server and server['port']}/postgres', "
                         f"table: {name}}}"}[kind]
        text = text.replace(f"source: {name}.csv", f"source: {source}")
    return text


def part_digest(out: Path) -> str:
    """One digest of every part's bytes (the source indexes differ by kind: they are left out)."""
    digest = hashlib.sha256()
    for part in sorted(out.rglob("part-*.csv")):
        if not part.name.endswith(".source.csv"):
            digest.update(part.relative_to(out).as_posix().encode() + b"\0" + part.read_bytes())
    return digest.hexdigest()


def other_kinds(work: Path, kinds: list[str], rows: int, csv_time: float, csv_digest: str) -> None:
    for kind in kinds:
        folder = work / kind
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "data").mkdir(parents=True)
        start = time.perf_counter()
        with contextlib.ExitStack() as stack:
            server = None
            if kind == "sql":
                server = stack.enter_context(postgres_cluster())
                load_postgres(work / "data", server)
            elif kind == "parquet":
                write_parquet(work / "data", folder / "data")
            else:
                write_jsonl(work / "data", folder / "data")
            size = sum(p.stat().st_size for p in (folder / "data").glob("*"))
            print(f"wrote the {kind} sources in {time.perf_counter() - start:.1f}s"
                  + (f" ({size / 1e6:,.0f} MB)" if size else ""))
            (folder / "plan.yaml").write_text(plan_for(kind, server))
            elapsed, peak = timed(PLANNER, str(folder / "plan.yaml"), str(folder / "out"))
        same = part_digest(folder / "out") == csv_digest
        print(f"migrator plan from {kind + ':':9}{elapsed:6.1f}s  {rows / elapsed:>10,.0f} rows/s  peak RSS "
              f"{peak:,.0f} MB  ratio to CSV {elapsed / csv_time:.2f}  parts {'byte-identical' if same else 'DIFFER'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="total source rows (default 1M)")
    parser.add_argument("--keep", type=Path, help="keep the generated data in this directory")
    parser.add_argument("--source", default="", help="other kinds to time against CSV: parquet,jsonl,sql")
    args = parser.parse_args()
    kinds = [k for k in args.source.split(",") if k]
    unknown = set(kinds) - {"parquet", "jsonl", "sql"}
    if unknown:
        parser.error(f"--source takes parquet, jsonl and sql, not {', '.join(sorted(unknown))}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="migrator-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    counts = generate(work, args.rows)
    size = sum(p.stat().st_size for p in (work / "data").glob("*.csv"))
    print(f"generated {args.rows:,} rows ({size / 1e6:,.0f} MB) in {time.perf_counter() - start:.1f}s: {counts}")
    # separate processes: the baseline first, so that its peak cannot hide the planner's
    base_time, base_peak = timed(BASELINE, str(work / "data"), str(work / "baseline"))
    plan_time, plan_peak = timed(PLANNER, str(work / "plan.yaml"), str(work / "out"))
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    totals = manifest["totals"]
    print(f"baseline read_csv+to_csv: {base_time:6.1f}s  {args.rows / base_time:>10,.0f} rows/s")
    print(f"migrator plan:            {plan_time:6.1f}s  {args.rows / plan_time:>10,.0f} rows/s  "
          f"peak RSS {plan_peak:,.0f} MB (baseline {base_peak:,.0f} MB)")
    print(f"ratio plan / baseline:    {plan_time / base_time:.2f}")
    print(f"steps {totals['steps']}, parts {totals['parts']}, rows {totals['rows']:,}, "
          f"rejected {totals['rejected']}, missing parents {totals['missing_parents']}")
    if kinds:
        other_kinds(work, kinds, args.rows, plan_time, part_digest(work / "out"))


if __name__ == "__main__":
    main()
