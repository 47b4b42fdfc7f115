"""A local org served by `migrator serve` in its own process, for the benchmarks (not a test helper)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests


class ServedOrg:
    """`migrator serve` in a process of its own (a real org is not in the client's process, and sharing one
    would make the clients compete with the server's DML for the interpreter lock)."""

    def __init__(self, work: Path, label: str, pace: str | None = None):
        env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "migrator", "serve", "--db", str(work / f"{label}.db"), "--schema",
             str(work / "schema.yaml"), "--port", "0", "--print-env", *(["--pace", pace] if pace else [])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        lines: dict[str, str] = {}
        while "SSL_CERT_FILE" not in lines:
            line = self.process.stdout.readline() if self.process.stdout else ""
            if not line:
                raise RuntimeError("the local org did not start")
            key, _, value = line.strip().partition("=")
            lines[key] = value.strip("'")
        self.instance_url, self.access_token = lines["SF_INSTANCE_URL"], lines["SF_ACCESS_TOKEN"]
        self.ca_file = lines["REQUESTS_CA_BUNDLE"]
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = self.ca_file
        self.http.headers["Authorization"] = f"Bearer {self.access_token}"

    def counts(self) -> tuple[int, int, int]:
        """(lock failures, jobs, API calls so far) as the org counts them; this call itself not included."""
        stats = self.http.get(f"{self.instance_url}/__admin/pace").json()["stats"]  # not an API call
        limits = self.http.get(f"{self.instance_url}/services/data/v62.0/limits")  # an API call, counted
        used = int(limits.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
        return int(stats["lock_failures"]), int(stats["jobs_started"]), used - 1

    def __enter__(self) -> ServedOrg:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
