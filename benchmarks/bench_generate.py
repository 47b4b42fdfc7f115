"""Benchmark generated sources and masks against reading the same rows from CSV (not a test; prints figures).

    python benchmarks/bench_generate.py                 # 1M generated rows, 1M masked emails
    python benchmarks/bench_generate.py --rows 200000   # a quicker look

Generation: a plan that generates accounts (a fifth of the rows: Faker company and city, weighted
industry, revenue, founding date) with 2 to 6 contacts each (Faker first and last names, an email
template, a weighted title, a birth date), against the very same plan reading those rows from CSV
files written beforehand. Both plan the same rows into the same parts, so the ratio is what
generating costs over reading. Masking: a 1M-row contact file (names, a mapped salutation, a birth
date, the email, a title, an account lookup: the Contact step of bench_plan.py) planned with and
without `mask: email` on its Email field.

Each plan runs in a fresh process and is timed from the call of `api.plan` (loading and checking
the plan, Faker pools, compiling; not the interpreter's imports), the two sides of a ratio
alternate, and each side's best of --repeat runs is kept: the machine is shared and noisy. Prints
seconds, rows/s, peak RSS and the ratios the issue sets: generated <= 1.2x CSV, masking adds <= 20%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

GENERATED = """\
version: 1
name: bench-generate
variables: {today: "2026-12-01"}
defaults: {operation: upsert, external_id: Legacy_Id__c, seed: 7}
objects:
  - object: Account
    source: ACCOUNT_SOURCE
    fields:
      Legacy_Id__c: key
      Name: name
      Industry: industry
      AnnualRevenue: {from: revenue, type: number}
      Founded__c: {from: founded, type: date}
      BillingCity: city
  - object: Contact
    source: CONTACT_SOURCE
    fields:
      Legacy_Id__c: key
      FirstName: first
      LastName: last
      Email: {from: email, type: email}
      Title: title
      Birthdate: {from: birthdate, type: date}
    lookups:
      AccountId: {from: account, to: Account}
"""
ACCOUNT_COLUMNS = """
      generate:
        count: ACCOUNTS
        columns:
          key: {seq: "B-ACC-{:07d}"}
          name: company
          industry: {choice: {Technology: 4, Finance: 3, Healthcare: 2, Retail: 2, Manufacturing: 1}}
          revenue: {number: {min: 50000, max: 25000000, decimals: 2}}
          founded: {date: {from: -40y, to: -1y}}
          city: city"""
CONTACT_COLUMNS = """
      generate:
        per: Account
        count: 2..6
        columns:
          key: {seq: "B-CON-{:08d}"}
          account: {parent: key}
          first: first_name
          last: last_name
          email: {template: "{{ first | lower }}.{{ last | lower }}.{{ key | lower }}@example.com"}
          title: {choice: {Buyer: 3, Engineer: 3, Manager: 2, Director: 1, VP: 1}}
          birthdate: {date: {from: -65y, to: -20y}}"""

MASKING = """\
version: 1
name: bench-mask
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Contact
    source: people.csv
    fields:
      Legacy_Id__c: key
      FirstName: first
      LastName: last
      Salutation: {from: sal, map: {m: Mr., f: Ms., d: Dr.}}
      Birthdate: {from: born, type: date, format: "%d/%m/%Y"}
      Email: {from: email, type: email MASK}
      Title: title
    lookups:
      AccountId: {from: account, to: Account, existing: true, key: Legacy_Id__c}
"""

PLANNER = textwrap.dedent("""
    import sys, resource, time
    from pathlib import Path
    from migrator import api
    from migrator.fake import masks

    spent = [0.0]  # CPU seconds inside the masks (made and applied), measured within the same run

    def timing(method):
        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - start
        return timed

    masks.Masker.__init__ = timing(masks.Masker.__init__)
    masks.Masker.__call__ = timing(masks.Masker.__call__)
    start, cpu = time.perf_counter(), time.process_time()
    result = api.plan(Path(sys.argv[1]), out_dir=Path(sys.argv[2]))
    print(time.perf_counter() - start, time.process_time() - cpu, spent[0], sum(s.rows for s in result.manifest.steps),
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")
SECRET = "benchmark-mask-secret-0123456789abcdef"


def write_plans(work: Path, rows: int) -> dict[str, Path]:
    """The generated plan, the same plan over CSV files of its rows, and the two masking plans."""
    from migrator.fake.generate import Generation
    from migrator.plan.loader import load_plan

    accounts = max(1, rows // 5)
    generated = GENERATED.replace("ACCOUNT_SOURCE", ACCOUNT_COLUMNS.replace("ACCOUNTS", str(accounts))) \
        .replace("CONTACT_SOURCE", CONTACT_COLUMNS)
    (work / "generated.yaml").write_text(generated, encoding="utf-8")
    plan = load_plan(work / "generated.yaml")
    generation = Generation([s.source.generate for s in plan.objects if s.source.generate],
                            variables=plan.variables)
    data = work / "data"
    data.mkdir(exist_ok=True)
    for step, name in (("Account", "accounts.csv"), ("Contact", "contacts.csv")):
        with (data / name).open("w", encoding="utf-8", newline="") as out:
            for number, (frame, _) in enumerate(generation.chunks(step, 200_000)):
                frame.to_csv(out, index=False, header=number == 0, lineterminator="\n")
    csv_plan = GENERATED.replace("version: 1\n", "version: 1\nsources: {dir: data}\n") \
        .replace("ACCOUNT_SOURCE", "accounts.csv").replace("CONTACT_SOURCE", "contacts.csv")
    (work / "from-csv.yaml").write_text(csv_plan, encoding="utf-8")
    with (data / "people.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("key,first,last,sal,born,email,title,account\n")
        for start in range(0, rows, 200_000):
            ids = range(start, min(start + 200_000, rows))
            out.writelines(f"P{i},First{i % 997},Last{i % 1009},{'mfd'[i % 3]},{i % 28 + 1:02d}/{i % 12 + 1:02d}/"
                           f"{1950 + i % 50},person{i}.x@mail{i % 113}.example.com,Buyer,A{i % 50_000}\n" for i in ids)
    (work / "plain.yaml").write_text(MASKING.replace(" MASK", ""), encoding="utf-8")
    (work / "masked.yaml").write_text(MASKING.replace(" MASK", ", mask: email"), encoding="utf-8")
    return {name: work / f"{name}.yaml" for name in ("generated", "from-csv", "plain", "masked")}


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds of `api.plan`, after the interpreter's imports
    cpu: float  # CPU seconds of the same (less disturbed than wall time by the other work of a shared machine)
    masking: float  # CPU seconds of it spent making and applying masks
    rows: int
    peak_mb: float


def timed(plan: Path, out: Path) -> Timing:
    """One `migrator plan` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PLANNER, str(plan), str(out)], check=True, capture_output=True,
                          text=True, env={**os.environ, "MIGRATOR_MASK_SECRET": SECRET})
    wall, cpu, masking, planned, peak = done.stdout.split()[-5:]
    return Timing(float(wall), float(cpu), float(masking), int(planned), int(peak) / 1024)


def alternate(plans: tuple[Path, Path], work: Path, repeat: int) -> list[list[Timing]]:
    """`repeat` runs of each plan, the two alternating so that the machine's load falls on both."""
    runs: list[list[Timing]] = [[], []]
    for _ in range(repeat):
        for side, plan in enumerate(plans):
            runs[side].append(timed(plan, work / f"out-{plan.stem}"))
    for plan, side in zip(plans, runs, strict=True):
        print(f"  {plan.stem:>9}: " + ", ".join(f"{t.wall:.1f}s ({t.cpu:.1f}s CPU)" for t in side))
    return runs


def fastest(runs: list[Timing]) -> Timing:
    return min(runs, key=lambda t: t.cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each comparison (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each plan; the fastest counts (default 3)")
    parser.add_argument("--keep", type=Path, help="keep the plans and data in this directory")
    parser.add_argument("--only", choices=["generate", "mask"], help="run one of the two comparisons")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="migrator-bench-generate-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    plans = write_plans(work, args.rows)
    print(f"wrote the plans and {sum(p.stat().st_size for p in (work / 'data').glob('*.csv')) / 1e6:,.0f} MB "
          f"of CSV in {time.perf_counter() - start:.1f}s")
    if args.only != "mask":
        compare_generated(plans, work, args.repeat)
    if args.only != "generate":
        compare_masked(plans, work, args.repeat)


def compare_generated(plans: dict[str, Path], work: Path, repeat: int) -> None:
    generated, from_csv = (fastest(r) for r in alternate((plans["generated"], plans["from-csv"]), work, repeat))
    manifests = [json.loads((work / f"out-{name}" / "manifest.json").read_text()) for name in ("generated", "from-csv")]
    same = [[p["sha256"] for s in m["steps"] for p in s["parts"]] for m in manifests]
    for label, t, extra in (("generated plan:", generated, f"({generated.rows:,} rows)"),
                            ("same plan, CSV:", from_csv, f"(parts identical: {same[0] == same[1]})")):
        print(f"{label:17} {t.wall:6.1f}s ({t.cpu:.1f}s CPU)  {t.rows / t.cpu:>10,.0f} rows per CPU second  "
              f"peak RSS {t.peak_mb:,.0f} MB {extra}")
    print(f"ratio generated / CSV: {generated.cpu / from_csv.cpu:.2f} CPU, {generated.wall / from_csv.wall:.2f} wall"
          "  (target <= 1.20)")


def compare_masked(plans: dict[str, Path], work: Path, repeat: int) -> None:
    plain_runs, masked_runs = alternate((plans["plain"], plans["masked"]), work, repeat)
    plain, masked = fastest(plain_runs), fastest(masked_runs)
    for label, t in ((f"plan {plain.rows:,} rows:", plain), ("masking emails:", masked)):
        print(f"{label:17} {t.wall:6.1f}s ({t.cpu:.1f}s CPU)  {t.rows / t.cpu:>10,.0f} rows per CPU second  "
              f"peak RSS {t.peak_mb:,.0f} MB")
    # Within one run, the masks' own CPU time against the rest of that run's: what the load of a shared
    # machine does to one number it does to the other.
    within = statistics.median(t.masking / (t.cpu - t.masking) for t in masked_runs)
    paired = statistics.median(m.cpu / p.cpu for p, m in zip(plain_runs, masked_runs, strict=True))
    print(f"masking adds {100 * within:.0f}% to planning time, measured within each run (median); "
          f"{100 * (paired - 1):.0f}% CPU between neighbouring runs (median), "
          f"{100 * (masked.cpu / plain.cpu - 1):.0f}% between the best runs  (target <= 20%)")


if __name__ == "__main__":
    main()
