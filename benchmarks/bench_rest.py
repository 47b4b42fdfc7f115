"""Local org REST speed: inserts through sObject Collections (200 records a call) and composite/tree.

Not a test: it prints figures. The org runs in a process of its own (as `migrator serve` does), the
clients in this one over HTTPS on loopback, each client a thread with its own keep-alive connection,
as tools that load through collections send their calls. Printed per figure: records per second of
wall time, and the server's CPU milliseconds per call (from /proc, so a busy machine can be told
from a slow server). Baselines measured in the same run: the same records as one Bulk API 2.0
ingest job, and as single-record ``POST /sobjects/Account`` calls.

    python benchmarks/bench_localorg.py --rest [--rows 20000] [--clients 1,4]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

BATCH = 200
TREE_ACCOUNTS = 100  # + one contact each: 200 records per tree request


def _serve(folder: str, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from migrator.localorg.server import LocalOrgServer

    with LocalOrgServer(Path(folder) / "org.db") as org:
        ready.put((org.instance_url, org.access_token, str(org.ca_file), os.getpid()))
        stop.wait()


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clients:
    def __init__(self, instance_url: str, token: str, ca_file: str):
        self.base = f"{instance_url}/services/data/v62.0"
        self.token, self.ca_file = token, ca_file
        self._local = threading.local()

    def http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.verify = self.ca_file
            session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
            session.headers["Authorization"] = f"Bearer {self.token}"
            session.headers["Content-Type"] = "application/json"
        return session

    def post(self, path: str, body: str) -> dict | list:
        response = self.http().post(f"{self.base}/{path}", data=body)
        response.raise_for_status()
        return response.json()


def _accounts(start: int, count: int, tag: str) -> list[dict]:
    return [{"attributes": {"type": "Account"}, "Name": f"{tag} {n}", "AccountNumber": f"{tag}-{n:08d}",
             "Industry": ("Technology", "Banking", "Energy")[n % 3], "AnnualRevenue": n * 1000.5,
             "NumberOfEmployees": n % 5000, "BillingCity": f"City {n % 997}", "Phone": f"+1 555 {n % 10000:04d}"}
            for n in range(start, start + count)]


def _tree(start: int, tag: str) -> str:
    records = []
    for account in _accounts(start, TREE_ACCOUNTS, tag):
        n = account["AccountNumber"]
        account["attributes"] = {"type": "Account", "referenceId": f"a{n}".replace("-", "")}
        account["Contacts"] = {"records": [{"attributes": {"type": "Contact", "referenceId": f"c{n}".replace("-", "")},
                                            "LastName": f"Person {n}", "Email": f"p{n}@example.com".lower()}]}
        records.append(account)
    return json.dumps({"records": records})


def _timed(label: str, records: int, calls: list[Callable[[], object]], clients: int, pid: int) -> float:
    cpu, started = _server_cpu(pid), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for outcome in pool.map(lambda call: call(), calls):
            assert outcome is not None
    seconds = time.perf_counter() - started
    server_ms = (_server_cpu(pid) - cpu) * 1000 / max(1, len(calls))
    rate = records / seconds
    print(f"{label:<46} {records:>7,} records  {seconds:6.2f} s  {rate:>8,.0f} records/s  "
          f"server CPU {server_ms:5.1f} ms/call")
    return rate


def _bulk(client: Clients, rows: int, pid: int) -> float:
    lines = ["Name,AccountNumber,Industry,AnnualRevenue,NumberOfEmployees,BillingCity,Phone"]
    lines += [",".join(str(r[k]) for k in ("Name", "AccountNumber", "Industry", "AnnualRevenue", "NumberOfEmployees",
                                           "BillingCity", "Phone")) for r in _accounts(0, rows, "Bulk")]
    data = ("\n".join(lines) + "\n").encode()
    http = client.http()
    cpu, started = _server_cpu(pid), time.perf_counter()
    job = http.post(f"{client.base}/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    http.put(f"{client.base}/jobs/ingest/{job['id']}/batches", data=data,
             headers={"Content-Type": "text/csv"}).raise_for_status()
    http.patch(f"{client.base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).raise_for_status()
    while http.get(f"{client.base}/jobs/ingest/{job['id']}").json()["state"] not in ("JobComplete", "Failed"):
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    print(f"{'baseline: one Bulk API 2.0 insert job':<46} {rows:>7,} records  {seconds:6.2f} s  "
          f"{rows / seconds:>8,.0f} records/s  server CPU {(_server_cpu(pid) - cpu) * 1000:7.1f} ms in all")
    return rows / seconds


def main(rows: int, client_counts: list[int]) -> None:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as folder:
        ready, stop = context.Queue(), context.Event()
        server = context.Process(target=_serve, args=(folder, ready, stop), daemon=True)
        server.start()
        instance_url, token, ca_file, pid = ready.get(timeout=120)
        client = Clients(instance_url, token, ca_file)
        try:
            client.post("composite/sobjects", json.dumps({"records": _accounts(0, BATCH, "Warm")}))
            bulk = _bulk(client, rows, pid)
            singles = min(1000, rows)
            single_bodies = [json.dumps({k: v for k, v in r.items() if k != "attributes"})
                             for r in _accounts(0, singles, "One")]
            single = _timed("baseline: single-record POST /sobjects", singles,
                            [lambda b=b: client.post("sobjects/Account", b) for b in single_bodies], 1, pid)
            best = 0.0
            for clients in client_counts:
                bodies = [json.dumps({"records": _accounts(start, BATCH, f"C{clients}")})
                          for start in range(0, rows, BATCH)]
                best = max(best, _timed(f"composite/sobjects, {BATCH} a call, {clients} client(s)", rows,
                                        [lambda b=b: client.post("composite/sobjects", b) for b in bodies], clients,
                                        pid))
            for clients in client_counts:
                trees = [_tree(start, f"T{clients}") for start in range(0, rows // 2, TREE_ACCOUNTS)]
                _timed(f"composite/tree, {2 * TREE_ACCOUNTS} a call, {clients} client(s)",
                       2 * TREE_ACCOUNTS * len(trees),
                       [lambda t=t: client.post("composite/tree/Account", t) for t in trees], clients, pid)
            print(f"collections (best) / single-record calls: {best / single:.1f}x; "
                  f"collections (best) / Bulk API 2.0: {best / bulk:.2f}x")
        finally:
            stop.set()
            server.join(timeout=30)
