"""A real PostgreSQL server for the SQL source tests: a throw-away cluster in a temporary folder.

The server binaries come from Debian's packages (`.ci/run` installs them), found under
/usr/lib/postgresql/*/bin. The cluster listens on 127.0.0.1 (a free port) and on a socket in its
own folder; it is made once per test session (per xdist worker) and removed afterwards. initdb
refuses to run as root, so under root it runs as the `postgres` user the package creates.

Host connections need a password (scram-sha-256): the tests log in as `erp` with the password
from the environment, as a user's migrator.toml would have them do.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PASSWORD = "erp-pass-7f3a9c"  # the erp role's password: tests pass it through the environment only


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        """The URL a plan or migrator.toml names: no password in it."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=self.database, autocommit=True)


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(re.sub(r"\D", "", p.parent.parent.name) or 0))
    if not found:
        raise RuntimeError("PostgreSQL's server binaries are not under /usr/lib/postgresql/*/bin: "
                           "run .ci/run (or apt-get install postgresql) first")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    bins = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="migrator-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    run(str(bins / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
        "--auth-local=trust", "--auth-host=scram-sha-256")
    run(str(bins / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(root / "server.log"), "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", "start")
    try:
        run(str(bins / "psql"), "-h", str(root), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c",
            f"CREATE ROLE erp LOGIN PASSWORD '{PASSWORD}'", "-c", "CREATE DATABASE erp OWNER erp")
        yield PgServer("127.0.0.1", port, "erp", PASSWORD, "erp")
    finally:
        subprocess.run([*as_user, str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
