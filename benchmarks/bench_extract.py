"""Benchmark `migrator extract` and `migrator copy` against local orgs (not a test; prints figures).

    python benchmarks/bench_extract.py                  # 1M records: 200k accounts, 400k contacts, 400k opportunities
    python benchmarks/bench_extract.py --rows 100000 --subset 10000

It generates the 3-object plan of bench_run.py, loads it into a local org running in a process of its
own (as `migrator serve` does), and measures, each client in a fresh interpreter so that its peak
memory (VmHWM) is its own:

1. `migrator extract` of the plan: Bulk API 2.0 queries of the three objects, pages downloaded side by
   side, turned into the plan's source files sorted by key, and the manifest: rows/s and peak RSS;
2. simple-salesforce's `bulk2` downloading the very same SOQL (the extract's own queries) into CSV
   files, object after object, in the same run (first poll after 0.1 s instead of its default 5 s,
   so that the comparison is of the downloads): seconds, peak RSS, and the ratio of the two;
3. `migrator copy` of a subset (`--limit N` accounts, their contacts and opportunities: about 5N
   records) into a second local org (its own process): seconds and records/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_run import write_project

from migrator import api
from migrator.run.executor import Clock

# VmHWM is this process's own peak (ru_maxrss would carry the launcher's over the exec)
REPORT_PEAK = ("\nfrom pathlib import Path\nprint('PEAK', next(int(line.split()[1]) for line in "
               "Path('/proc/self/status').read_text().splitlines() if line.startswith('VmHWM')))\n")

EXTRACT = """
import sys
import time
from pathlib import Path
from migrator import api
work = Path(sys.argv[1])
start = time.perf_counter()
result = api.extract(work / "plan.yaml", source="A", out_dir=work / "extracted", home=work / ".migrator",
                     project_dir=work, env={"TOKEN_A": sys.argv[2]}, workers=4)
print("ROWS", result.rows)
print("STATE", result.state_dir)
print("INSIDE", time.perf_counter() - start)
"""

SIMPLE_SALESFORCE = """
import json, sys
from pathlib import Path
import requests
from simple_salesforce import Salesforce
instance_url, token, ca_file, out = sys.argv[1:5]
queries = json.loads(sys.argv[5])
session = requests.Session()
session.trust_env = False
session.verify = ca_file
sf = Salesforce(instance_url=instance_url, session_id=token, session=session, version="62.0")
rows = 0
for object_name, soql in queries:
    folder = Path(out) / object_name
    folder.mkdir(parents=True, exist_ok=True)
    # wait: seconds before the first poll (simple-salesforce's default is 5; 0.1 is closer to ours)
    for result in getattr(sf.bulk2, object_name).download(soql, str(folder), max_records=100_000, wait=0.1):
        rows += int(result["number_of_records"])
print("ROWS", rows)
"""


def _serve(db: str, schema: str, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from migrator.localorg.server import LocalOrgServer

    with LocalOrgServer(Path(db), schema_files=(Path(schema),), port=0) as org:
        ready.put((org.instance_url, org.access_token, str(org.ca_file), os.getpid()))
        stop.wait()


class Server:
    """A local org in a process of its own."""

    def __init__(self, db: Path, schema: Path):
        context = multiprocessing.get_context("spawn")
        self.ready, self.stop = context.Queue(), context.Event()
        self.process = context.Process(target=_serve, args=(str(db), str(schema), self.ready, self.stop), daemon=True)

    def __enter__(self) -> Server:
        self.process.start()
        self.instance_url, self.token, self.ca_file, self.pid = self.ready.get(timeout=300)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.process.join(timeout=60)

    def target(self, name: str) -> str:
        return (f'[targets.{name}]\nauth = "token"\ninstance_url = "{self.instance_url}"\n'
                f'access_token_env = "TOKEN_{name}"\nverify = "{self.ca_file}"\n')


def measured(code: str, *args: str) -> tuple[float, float, dict[str, str]]:
    """Wall seconds, peak RSS (MB) and the KEY value lines printed by `code` in a fresh interpreter."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code + REPORT_PEAK, *args], capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    return elapsed, int(lines.pop("PEAK")) / 1024, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subset", type=int, default=20_000, help="accounts of the copied subset (~5x records)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="migrator-bench-extract-"))
    plan = write_project(work, args.rows)
    with Server(work / "a.db", work / "schema.yaml") as a, Server(work / "b.db", work / "schema.yaml") as b:
        (work / "migrator.toml").write_text(a.target("A") + b.target("B"), encoding="utf-8")
        env = {"TOKEN_A": a.token, "TOKEN_B": b.token}
        start = time.perf_counter()
        loaded = api.run(plan, target="A", home=work / ".migrator", project_dir=work, env=env, clock=Clock())
        print(f"loaded {loaded.results['totals']['succeeded']:,} records into A in {time.perf_counter() - start:.1f} s")

        ours, ours_peak, out = measured(EXTRACT, str(work), a.token)
        state = json.loads((Path(out["STATE"]) / "state.json").read_text(encoding="utf-8"))
        queries = [(unit["soql"].split(" FROM ")[1].split()[0], unit["soql"]) for unit in state["units"]]
        theirs, theirs_peak, baseline = measured(SIMPLE_SALESFORCE, a.instance_url, a.token, a.ca_file,
                                                 str(work / "simple-salesforce"), json.dumps(queries))
        rows = int(out["ROWS"])
        print(f"migrator extract (3 objects, sorted source files + manifest): {ours:6.2f} s  "
              f"{rows / ours:>9,.0f} rows/s  peak RSS {ours_peak:,.0f} MB  ({rows:,} rows; "
              f"{float(out['INSIDE']):.2f} s of it in api.extract, the rest starting Python and importing)")
        print(f"simple-salesforce bulk2 download of the same queries:       {theirs:6.2f} s  "
              f"{int(baseline['ROWS']) / theirs:>9,.0f} rows/s  peak RSS {theirs_peak:,.0f} MB")
        print(f"ratio migrator / simple-salesforce: {ours / theirs:.2f}")

        start = time.perf_counter()
        copied = api.copy(plan, source="A", target="B", limit=args.subset, home=work / ".migrator",
                          project_dir=work, env=env, clock=Clock())
        seconds = time.perf_counter() - start
        records = copied.extract.rows
        print(f"migrator copy of a subset ({args.subset:,} accounts with their contacts and opportunities) A -> B: "
              f"{seconds:6.2f} s for {records:,} records ({records / seconds:,.0f} records/s), "
              f"{copied.run.results['totals']['created']:,} created in B")


if __name__ == "__main__":
    main()
