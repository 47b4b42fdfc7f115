"""The overhead of loading hierarchies level by level, on the unpaced local org (not a test; prints figures).

    python benchmarks/bench_levels.py                # 120k rows: 30k accounts (4 levels), 60k contacts
                                                     # (ReportsTo, 6 levels), 30k opportunities
    python benchmarks/bench_levels.py --repeat 3     # several rounds, back to back

Each round measures, on fresh databases of the same server build (`migrator serve` in a process of
its own, as a real org is):

1. `migrator run` of the plan end to end (compile, every level's jobs, results, run files, report);
2. the same rows ingested by the same server as ONE flat job per object (the compiled parts of each
   object concatenated, levels in order, self-lookups left out), objects one after another, each
   timed from the start of its upload to JobComplete, polled every 20 ms: the time the server needs
   for the data, with no level structure at all.

and prints both and their ratio (the issue's target: at most 1.5).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hierarchy_data import Shape, generate
from served_org import ServedOrg

from migrator import api
from migrator.compile.csvio import read_table, write_table
from migrator.compile.manifest import read_manifest
from migrator.run.executor import Clock


def run_migrator(work: Path, plan: Path, label: str, concurrency: int) -> tuple[float, dict]:
    with ServedOrg(work, label) as org:
        (work / "migrator.toml").write_text(
            f'[targets.bench]\nauth = "token"\ninstance_url = "{org.instance_url}"\naccess_token_env = "BENCH_TOKEN"\n'
            f'verify = "{org.ca_file}"\n')
        start = time.perf_counter()
        result = api.run(plan, target="bench", home=work / ".migrator", project_dir=work,
                         env={"BENCH_TOKEN": org.access_token}, clock=Clock(), concurrency=concurrency)
        return time.perf_counter() - start, result.results


def flat_files(plan_dir: Path, out: Path) -> list[tuple[str, str | None, Path]]:
    """One CSV per plan step: its parts (every level, in order) concatenated, without the self-lookup
    columns (a flat job has no hierarchy to follow; with them, rows whose parent is in the same
    10,000-row batch would fail, and failing is cheaper than loading)."""
    manifest = read_manifest(plan_dir)
    files: list[tuple[str, str | None, Path]] = []
    for name in dict.fromkeys(s.step for s in manifest.steps if s.pass_no == 1):
        steps = [s for s in manifest.steps if s.step == name and s.pass_no == 1]
        summary = manifest.summary(name)
        self_headers = {h for lk in summary.lookups if lk.mode == "levels" for h in lk.headers}
        frame = pd.concat([read_table(plan_dir / p.path) for s in steps for p in s.parts], ignore_index=True)
        target = out / f"{name}.csv"
        write_table(target, frame.drop(columns=[c for c in frame.columns if c in self_headers]))
        files.append((steps[0].object, steps[0].external_id, target))
    return files


def run_flat(work: Path, files: list[tuple[str, str | None, Path]], label: str) -> tuple[float, int]:
    with ServedOrg(work, label) as org:
        http = org.http
        base = f"{org.instance_url}/services/data/v62.0/jobs/ingest"
        total, failed = 0.0, 0
        for object_name, external_id, path in files:
            job = http.post(base, json={"object": object_name, "operation": "upsert",
                                        "externalIdFieldName": external_id}).json()
            started = time.perf_counter()
            http.put(f"{base}/{job['id']}/batches", data=path.read_bytes(),
                     headers={"Content-Type": "text/csv"}).raise_for_status()
            http.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}).raise_for_status()
            while (info := http.get(f"{base}/{job['id']}").json())["state"] not in ("JobComplete", "Failed"):
                time.sleep(0.02)
            total += time.perf_counter() - started
            failed += int(info["numberRecordsFailed"])
        return total, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=30_000)
    parser.add_argument("--contacts", type=int, default=60_000)
    parser.add_argument("--opportunities", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    shape = Shape(args.accounts, args.contacts, args.opportunities)
    work = Path(tempfile.mkdtemp(prefix="migrator-bench-levels-"))
    plan = generate(work, shape, name="levels")
    ratios = []
    for round_no in range(1, args.repeat + 1):
        ours, results = run_migrator(work, plan, f"migrator-{round_no}", args.concurrency)
        plan_dir = work / ".migrator" / "runs" / results["run_id"] / "plan"
        flat_dir = work / f"flat-{round_no}"
        flat_dir.mkdir()
        flat, flat_failed = run_flat(work, flat_files(plan_dir, flat_dir), f"flat-{round_no}")
        totals = results["totals"]
        steps = len(results["steps"])
        ratios.append(ours / flat)
        print(f"round {round_no}: {shape.rows:,} rows, {steps} steps, {totals['jobs']} jobs")
        print(f"  migrator run, level by level (end to end): {ours:6.2f}s  succeeded {totals['succeeded']:,}  "
              f"failed {totals['failed']}")
        timing = results.get("timing") or {}
        print(f"    of which before loading (compile, checks): {timing.get('before_loading_seconds', 0):.2f}s, "
              f"loading: {timing.get('loading_seconds', 0):.2f}s")
        print(f"  one flat job per object (server ingest):   {flat:6.2f}s  failed {flat_failed}")
        print(f"  ratio migrator / flat: {ours / flat:.2f}  (loading only: "
              f"{timing.get('loading_seconds', 0) / flat:.2f})")
    if len(ratios) > 1:
        print(f"ratio range over {len(ratios)} rounds: {min(ratios):.2f}-{max(ratios):.2f}")


if __name__ == "__main__":
    main()
