"""Benchmark `migrator run` end to end on the local org (not a test; prints figures).

    python benchmarks/bench_run.py               # 100k rows: 20k accounts, 40k contacts, 40k opportunities
    python benchmarks/bench_run.py --rows 20000

It generates a 3-object plan (upserts by external id, contacts and opportunities looking up their
account), starts a local org in this process, and measures:

1. `migrator run` of the plan, from the YAML to the last job's results (compile, upload, process,
   result download and joining, run files and report);
2. simple-salesforce's `bulk2` upserting the very same prepared CSV parts to the same server, in
   the same dependency order, with result downloads (what a hand-written script would do);

and prints wall time, rows/s and the ratio of the two. Both load into fresh databases of the same
server build, so the difference is the client's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import generate

from migrator import api
from migrator.compile.manifest import read_manifest
from migrator.localorg.server import LocalOrgServer
from migrator.run.executor import Clock

SCHEMA = """objects:
  Account: {fields: {Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}}}
  Contact: {fields: {Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}}}
  Opportunity: {fields: {Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}}}
"""


def write_project(work: Path, rows: int) -> Path:
    generate(work, rows)
    plan = (work / "plan.yaml").read_text()
    # the benchmark plan loads accounts without a hierarchy and gives opportunities a required close date
    plan = plan.replace("    lookups:\n      ParentId: {from: parent, to: Account}\n", "")
    (work / "plan.yaml").write_text(plan)
    (work / "schema.yaml").write_text(SCHEMA)
    return work / "plan.yaml"


def run_migrator(work: Path, plan: Path) -> tuple[float, dict]:
    with LocalOrgServer(work / "migrator-org.db", schema_files=(work / "schema.yaml",), port=0) as org:
        (work / "migrator.toml").write_text(
            f'[targets.bench]\nauth = "token"\ninstance_url = "{org.instance_url}"\naccess_token_env = "BENCH_TOKEN"\n'
            f'verify = "{org.ca_file}"\n')
        start = time.perf_counter()
        result = api.run(plan, target="bench", home=work / ".migrator", project_dir=work,
                         env={"BENCH_TOKEN": org.access_token}, clock=Clock())
        elapsed = time.perf_counter() - start
    return elapsed, result.results


def run_simple_salesforce(work: Path, plan_dir: Path) -> tuple[float, int]:
    from simple_salesforce import Salesforce

    manifest = read_manifest(plan_dir)
    with LocalOrgServer(work / "baseline-org.db", schema_files=(work / "schema.yaml",), port=0) as org:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE must not replace the local CA
        session.verify = str(org.ca_file)
        sf = Salesforce(instance_url=org.instance_url, session_id=org.access_token, session=session,
                        version="62.0")
        loaded = 0
        start = time.perf_counter()
        for wave in sorted({s.wave for s in manifest.steps}):
            for step in (s for s in manifest.steps if s.wave == wave):
                for part in step.parts:
                    handler = getattr(sf.bulk2, step.object)
                    results = handler.upsert(str(plan_dir / part.path), external_id_field=step.external_id,
                                             batch_size=100_000, wait=0.5)
                    for job in results:
                        handler.get_successful_records(job["job_id"])
                        handler.get_failed_records(job["job_id"])
                        loaded += int(job["numberRecordsProcessed"]) - int(job["numberRecordsFailed"])
        elapsed = time.perf_counter() - start
    return elapsed, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="migrator-bench-run-"))
    plan = write_project(work, args.rows)
    ours, results = run_migrator(work, plan)
    totals = results["totals"]
    run_dir = work / ".migrator" / "runs" / results["run_id"]
    theirs, loaded = run_simple_salesforce(work, run_dir / "plan")
    print(f"rows: {args.rows:,} (accounts, contacts, opportunities); jobs: {totals['jobs']}")
    print(f"migrator run (plan + load + results + report): {ours:6.2f}s  {args.rows / ours:>9,.0f} rows/s  "
          f"succeeded {totals['succeeded']:,} failed {totals['failed']}")
    print(f"simple-salesforce bulk2 (same parts, same server): {theirs:6.2f}s  {args.rows / theirs:>9,.0f} rows/s  "
          f"loaded {loaded:,}")
    print(f"ratio migrator / simple-salesforce: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
