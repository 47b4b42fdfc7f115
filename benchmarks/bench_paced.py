"""Loading 1M rows into a local org paced like a production Salesforce org (not a test; prints figures).

    python benchmarks/bench_paced.py                 # 1M rows: 200k accounts (4 levels), 500k contacts
                                                     # (ReportsTo), 300k opportunities; speed 5
    python benchmarks/bench_paced.py --scale 0.1     # a tenth of that, for a quick look
    python benchmarks/bench_paced.py --speed 10      # the org's clock 10x faster than real time

Every variant loads the same sources into a fresh local org (``migrator serve`` in a process of its
own, as a real org is) paced with the ``production`` preset
(docs/local-org.md: 10,000-record chunks at 1,000 records/s per job, 5 jobs at once, 2-3 s before a
job starts, a 10 s lock wait), run `--speed` times faster than real time so a round takes minutes,
not an hour (the org's own times are printed scaled back as "org time"):

1. `migrator run` (rows grouped by parent, parts naming the same parents never at once, adaptive
   concurrency and polling);
2. `migrator run --input-order` (the same without lock-aware ordering and scheduling);
3. a hand-written script: the same rows, level by level in dependency order, in input order, each
   level's CSV split into pieces of 10,000 records uploaded with simple-salesforce's ``bulk2.upsert``
   by as many threads as migrator's concurrency (``upsert`` takes no concurrency of its own), with
   its default polling scaled to the org's clock, and no retries.

For each it prints wall time, org time, rows loaded and failed, lock failures (rows the org failed
with ``UNABLE_TO_LOCK_ROW``, every attempt counted), rows retried, jobs and API calls (both counted
by the org), then migrator's time over the script's (the issue's target: at most 0.5) and its lock
failures as a share of the rows (target: under 0.1%).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hierarchy_data import Shape, generate
from served_org import ServedOrg

from migrator import api
from migrator.compile.csvio import read_table, write_table
from migrator.compile.manifest import read_manifest
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.plan.loader import load_plan
from migrator.run.executor import Clock


@dataclass
class Figures:
    label: str
    wall: float
    loaded: int
    failed: int
    lock_failures: int
    retried: int
    jobs: int
    api_calls: int


def run_migrator(work: Path, plan: Path, pace: str, label: str, *, input_order: bool, concurrency: int) -> Figures:
    with ServedOrg(work, label, pace) as org:
        (work / "migrator.toml").write_text(
            f'[targets.bench]\nauth = "token"\ninstance_url = "{org.instance_url}"\naccess_token_env = "BENCH_TOKEN"\n'
            f'verify = "{org.ca_file}"\n')
        _, _, calls_before = org.counts()
        start = time.perf_counter()
        result = api.run(plan, target="bench", home=work / ".migrator", project_dir=work,
                         env={"BENCH_TOKEN": org.access_token}, clock=Clock(), concurrency=concurrency,
                         input_order=input_order)
        wall = time.perf_counter() - start
        locks, jobs, calls = org.counts()
    totals = result.results["totals"]
    return Figures(label, wall, totals["succeeded"], totals["failed"], locks, totals["retried"], jobs,
                   calls - calls_before - 1)


def level_files(work: Path, plan: Path, piece_rows: int) -> list[tuple[str, str | None, list[Path]]]:
    """The plan's steps in dependency order, each as CSV files of `piece_rows` rows in input order:
    what a script has after splitting each level's CSV for its threads."""
    out = work / "script-input"
    compile_plan(load_plan(plan), PlanOptions(out_dir=out, lock_order=False, parallel_parts=1))
    manifest = read_manifest(out)
    files = []
    for step in sorted(manifest.steps, key=lambda s: s.wave):
        frame = pd.concat([read_table(out / p.path) for p in step.parts], ignore_index=True)
        pieces = []
        for number, start in enumerate(range(0, len(frame), piece_rows), start=1):
            path = work / "script-csv" / f"{step.id.replace(':', '.')}-{number:03d}.csv"
            write_table(path, frame.iloc[start:start + piece_rows])
            pieces.append(path)
        files.append((step.object, step.external_id, pieces))
    return files


def run_script(work: Path, files: list[tuple[str, str | None, list[Path]]], pace: str, speed: float,
               concurrency: int) -> Figures:
    """simple-salesforce's bulk2 `upsert` takes no concurrency, so the script runs pieces in its own threads."""
    from simple_salesforce import Salesforce

    with ServedOrg(work, "script", pace) as org:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE must not replace the local CA
        session.verify = org.ca_file
        session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency * 2))
        sf = Salesforce(instance_url=org.instance_url, session_id=org.access_token, session=session,
                        version="62.0")
        _, _, calls_before = org.counts()
        wait = max(0.05, 5 / speed)  # simple-salesforce's default 5 s between checks, on the org's clock

        def load(object_name: str, external_id: str | None, path: Path) -> tuple[int, int]:
            handler = getattr(sf.bulk2, object_name)
            loaded = failed = 0
            for job in handler.upsert(str(path), external_id_field=external_id, wait=wait):
                handler.get_successful_records(job["job_id"])
                handler.get_failed_records(job["job_id"])
                loaded += int(job["numberRecordsProcessed"]) - int(job["numberRecordsFailed"])
                failed += int(job["numberRecordsFailed"])
            return loaded, failed

        loaded = failed = 0
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for object_name, external_id, pieces in files:  # level by level, pieces of a level in parallel
                for ok, bad in pool.map(lambda path, o=object_name, e=external_id: load(o, e, path), pieces):
                    loaded, failed = loaded + ok, failed + bad
        wall = time.perf_counter() - start
        locks, jobs, calls = org.counts()
    return Figures("simple-salesforce bulk2 script", wall, loaded, failed, locks, 0, jobs, calls - calls_before - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 1M rows (default 1)")
    parser.add_argument("--speed", type=float, default=5.0, help="the paced org's clock against real time")
    parser.add_argument("--concurrency", type=int, default=5,
                        help="jobs in flight at most, for both clients (default: the jobs the preset runs at once)")
    parser.add_argument("--skip", action="append", default=[], choices=["input-order", "script"],
                        help="leave a variant out")
    args = parser.parse_args()
    shape = Shape(int(200_000 * args.scale), int(500_000 * args.scale), int(300_000 * args.scale))
    pace = f"production,speed={args.speed:g}"
    work = Path(tempfile.mkdtemp(prefix="migrator-bench-paced-"))
    plan = generate(work, shape, name="paced")
    print(f"{shape.rows:,} rows ({shape.accounts:,} accounts in 4 levels, {shape.contacts:,} contacts with "
          f"ReportsTo, {shape.opportunities:,} opportunities); org paced '{pace}'; concurrency {args.concurrency}")
    print("(each variant's figures are printed as it ends, then all of them together)", flush=True)
    figures = [run_migrator(work, plan, pace, "migrator", input_order=False, concurrency=args.concurrency)]
    print(figures[-1], flush=True)
    figures[-1].label = "migrator run"
    if "input-order" not in args.skip:
        figures.append(run_migrator(work, plan, pace, "migrator-input-order", input_order=True,
                                    concurrency=args.concurrency))
        figures[-1].label = "migrator run --input-order"
        print(figures[-1], flush=True)
    if "script" not in args.skip:
        figures.append(run_script(work, level_files(work, plan, 10_000), pace, args.speed, args.concurrency))
    print(f"{'':32} {'wall':>8} {'org time':>9} {'loaded':>10} {'failed':>8} {'lock fails':>10} {'retried':>8} "
          f"{'jobs':>6} {'API calls':>9}")
    for f in figures:
        print(f"{f.label:32} {f.wall:7.1f}s {f.wall * args.speed:8.0f}s {f.loaded:>10,} {f.failed:>8,} "
              f"{f.lock_failures:>10,} {f.retried:>8,} {f.jobs:>6,} {f.api_calls:>9,}")
    ours = figures[0]
    script = next((f for f in figures if f.label.startswith("simple")), None)
    if script is not None:
        print(f"migrator / script wall time: {ours.wall / script.wall:.2f} (target at most 0.5)")
    print(f"migrator rows failing on locks: {ours.lock_failures / shape.rows:.3%} of {shape.rows:,} "
          f"(target under 0.1%)")


if __name__ == "__main__":
    main()
