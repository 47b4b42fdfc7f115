"""Benchmark the target-aware check and changed-only loads on the local org (not a test; prints figures).

    python benchmarks/bench_check.py               # 1M rows: 200k accounts, 400k contacts, 400k opportunities
    python benchmarks/bench_check.py --rows 100000

It generates the 3-object plan of bench_run.py (upserts by external id; contacts and opportunities
look up their account), loads it once into a local org (the first load, timed), and measures:

1. the prediction: the target's records for the plan's 1M keys read with Bulk API 2.0 queries and
   every row classified created / updated / unchanged, against a bare Bulk API 2.0 query of the same
   key fields (`SELECT Legacy_Id__c FROM <object>` for the three objects, every page read) in the same
   run: keys/s and the ratio of the two (the compile of the sources is timed apart);
2. a changed-only re-run of the unchanged plan (`run --changed-only`: compile, compare, send nothing)
   against the first load: seconds, ratio and records sent.

Both are measured twice: with no state (nothing kept from an earlier comparison with this org, so
every value is read) and with the state a comparison keeps (`check/record_cache.py`: keys and
SystemModstamp are read, then values only for records modified since; the re-runs also copy the
compile the first load cached, `compile/cache.py`).

The local org runs in a process of its own, as a real org is remote: its work does not contend with
the measured client for the GIL. The bare key query is run just before and just after each
prediction and their mean is the baseline, so a busy machine weighs on both sides alike.
`--profile DIR` writes cProfile stats of the prediction and the re-run with the kept state.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_run import write_project

from migrator import api
from migrator.check.check_command import load_checked
from migrator.check.current import CurrentRecords, read_page
from migrator.check.describe import LiveDescribe
from migrator.check.predict import forecast
from migrator.check.record_cache import org_cache
from migrator.check.rules import step_rules
from migrator.check.targetdiff import diff_steps
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming, run_query
from migrator.client.rest import RestClient
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.config import open_target, resolve_target
from migrator.run.executor import Clock

OBJECTS = ("Account", "Contact", "Opportunity")


def _serve(folder: str, ready, stop) -> None:
    """The local org in a process of its own, as a real org is remote: the server's work does not
    contend with the measured client for the GIL, for the baseline and the measured paths alike."""
    from migrator.localorg.server import LocalOrgServer

    folder_path = Path(folder)
    with LocalOrgServer(folder_path / "org.db", schema_files=(folder_path / "schema.yaml",), port=0) as org:
        ready.put((org.instance_url, org.access_token, str(org.ca_file)))
        stop.wait()


def timing() -> QueryTiming:
    return QueryTiming(clock=time.monotonic, sleep=time.sleep)


def bare_key_query(bulk: Bulk2Client) -> tuple[float, int]:
    """The baseline: every object's external ids, read with Bulk API 2.0 and parsed, nothing else."""
    start = time.perf_counter()
    rows = 0
    for name in OBJECTS:
        for data in run_query(bulk, f"SELECT Legacy_Id__c FROM {name}", timing()):
            rows += len(read_page(data))
    return time.perf_counter() - start, rows


def prediction(session, plan_path: Path, work: Path, home: Path | None = None) -> tuple[float, float, dict]:
    """(compile seconds, prediction seconds, counts): the check's compile, then its prediction alone;
    with `home`, through the records kept there from earlier comparisons (and keeping what it reads)."""
    rest = RestClient(session)
    live = LiveDescribe(rest, "bench")
    start = time.perf_counter()
    plan, target_check = load_checked(plan_path, live, {}, sources=True)
    manifest = compile_plan(plan, PlanOptions(out_dir=work / "check", rules=step_rules(plan, target_check.schema)))
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    records = CurrentRecords(Bulk2Client(session), rest, timing(),
                             kept=org_cache(session, home) if home is not None else None)
    diffs = diff_steps(manifest, work / "check", target_check.schema, records, [s.id for s in manifest.steps])
    steps = forecast(manifest, diffs)
    records.save()
    predicted = time.perf_counter() - start
    counts = {key: sum(getattr(f, key) for f in steps) for key in ("created", "updated", "unchanged")}
    return compiled, predicted, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the runs with the kept state here")
    args = parser.parse_args()

    def profiled(name: str, call):
        if args.profile is None:
            return call()
        args.profile.mkdir(parents=True, exist_ok=True)
        profile = cProfile.Profile()
        try:
            return profile.runcall(call)
        finally:
            profile.dump_stats(args.profile / f"{name}.prof")

    work = Path(tempfile.mkdtemp(prefix="migrator-bench-check-"))
    plan = write_project(work, args.rows)
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(str(work), ready, stop), daemon=True)
    server.start()
    try:
        instance_url, access_token, ca_file = ready.get(timeout=300)
        (work / "migrator.toml").write_text(
            f'[targets.bench]\nauth = "token"\ninstance_url = "{instance_url}"\naccess_token_env = "BENCH_TOKEN"\n'
            f'verify = "{ca_file}"\n')
        env = {"BENCH_TOKEN": access_token}

        def run(**options):
            start = time.perf_counter()
            result = api.run(plan, target="bench", home=work / ".migrator", project_dir=work, env=env, clock=Clock(),
                             **options)
            return time.perf_counter() - start, result.results["totals"]

        first, first_totals = run()
        target = resolve_target("bench", cli_overrides={}, env=env, project_dir=work)
        with open_target(target, data_dir=work / ".migrator") as session:
            before, bare_rows = bare_key_query(Bulk2Client(session))
            compiled, predicted, counts = prediction(session, plan, work)
            after, _ = bare_key_query(Bulk2Client(session))
            bare = (before + after) / 2
        again, totals = run(changed_only=True)  # no state yet: reads every value (and keeps them)
        warm, warm_totals = profiled("rerun-kept", lambda: run(changed_only=True))
        with open_target(target, data_dir=work / ".migrator") as session:
            before_warm, _ = bare_key_query(Bulk2Client(session))
            _, predicted_warm, counts_warm = profiled(
                "prediction-kept", lambda: prediction(session, plan, work, home=work / ".migrator"))
            after_warm, _ = bare_key_query(Bulk2Client(session))
            bare_warm = (before_warm + after_warm) / 2
    finally:
        stop.set()
        server.join(timeout=60)
    keys = sum(counts.values())
    assert counts_warm == counts, (counts, counts_warm)
    print(f"rows: {args.rows:,} (accounts, contacts, opportunities), first load {first:.2f} s "
          f"({first_totals['succeeded']:,} succeeded)")
    print(f"prediction of {keys:,} keys, no state: {predicted:.2f} s, {keys / predicted:,.0f} keys/s "
          f"(created {counts['created']:,}, updated {counts['updated']:,}, unchanged {counts['unchanged']:,}); "
          f"the check's compile of the sources {compiled:.2f} s apart")
    print(f"bare Bulk API 2.0 query of the same key fields: {bare:.2f} s for {bare_rows:,} rows "
          f"(mean of {before:.2f} s just before and {after:.2f} s just after); "
          f"ratio prediction / bare key query: {predicted / bare:.2f}")
    print(f"prediction with the kept state: {predicted_warm:.2f} s, {keys / predicted_warm:,.0f} keys/s; "
          f"bare key query {bare_warm:.2f} s ({before_warm:.2f} before, {after_warm:.2f} after); "
          f"ratio: {predicted_warm / bare_warm:.2f}")
    print(f"changed-only re-run, no state: {again:.2f} s = {again / first:.0%} of the first load; "
          f"sent {totals['sent']:,}, unchanged {totals['unchanged']:,}")
    print(f"changed-only re-run with the kept state: {warm:.2f} s = {warm / first:.0%} of the first load; "
          f"sent {warm_totals['sent']:,}, unchanged {warm_totals['unchanged']:,}")


if __name__ == "__main__":
    main()
