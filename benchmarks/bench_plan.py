"""Benchmark `migrator plan` on a synthetic 3-object source set (not a test; prints figures).

    python benchmarks/bench_plan.py                 # 1M rows in all
    python benchmarks/bench_plan.py --rows 10000000 # 10M rows, to check that memory stays flat

Accounts (20% of the rows, a hierarchy three levels deep), contacts (40%, with an account lookup, a
birth date in day/month/year and a value-mapped salutation) and opportunities (40%, with an account
lookup, a close date, a mapped stage and an amount with thousands separators). It prints the plan's
rows/s and peak memory, and the ratio of its wall time to a bare `pandas.read_csv` + `to_csv` of
the same files measured in the same run. Each side runs in its own process so that peak memory
(ru_maxrss) belongs to it alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="total source rows (default 1M)")
    parser.add_argument("--keep", type=Path, help="keep the generated data in this directory")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
