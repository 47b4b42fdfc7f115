"""Local org ingest speed: a 1M-row Account upsert and a 1M-row Contact upsert with a relationship column.

Not a test: it prints figures. Each job is timed from the start of the upload (PUT) to JobComplete,
over HTTPS on loopback, the way a client sees it; the server runs in this process, so the peak RSS
printed covers both sides (the CSV text is built in memory first). A bulk insert's secondary indexes
are rebuilt after its JobComplete, queued in the writer behind it: that work overlaps the next job
and is counted in its time, except after the last job.

    python benchmarks/bench_localorg.py [--rows 1000000] [--keep DIR] [--results]
    python benchmarks/bench_localorg.py --rest [--rows 20000] [--clients 1,4]

``--rest`` times the REST API instead (bench_rest.py): inserts through sObject Collections in
200-record calls and through composite/tree, against a server in a process of its own, as a tool
would reach `migrator serve`.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import bench_rest
import requests

from migrator.localorg.server import LocalOrgServer

SCHEMA = """\
objects:
  Account:
    fields:
      Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true, label: Legacy ID}
  Contact:
    fields:
      Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true, label: Legacy ID}
"""
INDUSTRIES = ("Technology", "Banking", "Energy", "Retail", "Healthcare")


def account_csv(rows: int) -> bytes:
    lines = ["Name,Legacy_Id__c,Industry,AnnualRevenue,NumberOfEmployees,BillingCity,Phone"]
    lines += [f"Company {n},ACC-{n:08d},{INDUSTRIES[n % 5]},{n * 1000.5:.2f},{n % 5000},City {n % 997},"
              f"+1 555 {n % 10000:04d}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def contact_csv(rows: int, accounts: int) -> bytes:
    lines = ["LastName,FirstName,Email,Legacy_Id__c,Account.Legacy_Id__c,Birthdate"]
    lines += [f"Last{n},First{n % 1000},person{n}@example.com,CON-{n:08d},ACC-{n % accounts:08d},"
              f"19{50 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def run_job(http: requests.Session, base: str, object_name: str, data: bytes) -> tuple[float, float, dict]:
    """(seconds from upload start to JobComplete, seconds of the upload alone, final job info)."""
    job = http.post(f"{base}/jobs/ingest", json={"object": object_name, "operation": "upsert",
                                                 "externalIdFieldName": "Legacy_Id__c"}).json()
    started = time.perf_counter()
    upload = http.put(f"{base}/jobs/ingest/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"})
    upload.raise_for_status()
    uploaded = time.perf_counter() - started
    http.patch(f"{base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).raise_for_status()
    while True:
        info = http.get(f"{base}/jobs/ingest/{job['id']}").json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return time.perf_counter() - started, uploaded, info
        time.sleep(0.05)


def report(label: str, rows: int, result: tuple[float, float, dict]) -> None:
    seconds, uploaded, info = result
    rate = rows / seconds if seconds else float("inf")
    print(f"{label:<38} {rows:>9,} rows  {seconds:6.2f} s (upload {uploaded:4.2f} s)  {rate:>9,.0f} records/s  "
          f"{info['state']}, {info['numberRecordsFailed']} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="records per job (default 1,000,000; with --rest 20,000)")
    parser.add_argument("--keep", type=Path, help="keep the database in this directory")
    parser.add_argument("--results", action="store_true", help="also time downloading the success results")
    parser.add_argument("--rest", action="store_true", help="time the REST API (collections, tree) instead")
    parser.add_argument("--clients", default="1,4", help="with --rest: concurrent clients to try (comma-separated)")
    args = parser.parse_args()
    if args.rest:
        bench_rest.main(args.rows or 20_000, [int(c) for c in args.clients.split(",")])
        return
    args.rows = args.rows or 1_000_000
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        bench(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-localorg-") as folder:
            bench(args, Path(folder))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (client + server in one process): {peak_mb:,.0f} MB")


def bench(args: argparse.Namespace, folder: Path) -> None:
    (folder / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    with LocalOrgServer(folder / "org.db", schema_files=[folder / "schema.yaml"]) as org:
        http = requests.Session()
        http.verify = str(org.ca_file)
        http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
        http.headers["Authorization"] = f"Bearer {org.access_token}"
        base = f"{org.instance_url}/services/data/v62.0"
        accounts = account_csv(args.rows)
        print(f"Account CSV {len(accounts) / 1e6:.1f} MB")
        result = run_job(http, base, "Account", accounts)
        report("Account upsert (all inserts)", args.rows, result)
        account_job = result[2]["id"]
        del accounts
        contacts = contact_csv(args.rows, args.rows)
        print(f"Contact CSV {len(contacts) / 1e6:.1f} MB")
        report("Contact upsert + Account.Legacy_Id__c", args.rows, run_job(http, base, "Contact", contacts))
        report("Contact re-upsert (all updates)", args.rows, run_job(http, base, "Contact", contacts))
        if args.results:
            started = time.perf_counter()
            size = len(http.get(f"{base}/jobs/ingest/{account_job}/successfulResults").content)
            print(f"successfulResults download: {size / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
