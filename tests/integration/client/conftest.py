"""Fixtures for the client tests: a real local org over loopback HTTPS, an authenticated session."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from migrator.client.auth import AccessTokenCredentials, UsernamePasswordCredentials
from migrator.client.bulk2 import Bulk2Client
from migrator.client.http import ApiSession
from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings

SCHEMA = """\
objects:
  Account:
    fields:
      Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}
"""


class FastClock:
    """Fake time for polling: `sleep` advances it fully but really waits only a few milliseconds,
    enough for the server's worker thread to make progress."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        time.sleep(min(seconds, 0.01))


@dataclass(repr=False)
class CountingPassword(UsernamePasswordCredentials):
    """The real password flow, remembering every token it obtained."""

    issued: list[str] = field(default_factory=list, init=False)

    @property
    def logins(self) -> int:
        return len(self.issued)

    def authenticate(self, session):
        token = super().authenticate(session)
        self.issued.append(token.access_token)
        return token


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA, encoding="utf-8")
    return path


@pytest.fixture
def org(tmp_path: Path, schema_file: Path):
    with LocalOrgServer(tmp_path / "org.db", schema_files=(schema_file,), host="127.0.0.1", port=0,
                        https=True) as server:
        yield server


@pytest.fixture
def http(org):
    session = requests.Session()
    session.verify = str(org.ca_file)
    yield session
    session.close()


@pytest.fixture
def credentials(org) -> CountingPassword:
    return CountingPassword(org.instance_url, org.client_id, org.client_secret, org.username, org.password)


@pytest.fixture
def api(http, credentials) -> ApiSession:
    return ApiSession(http, credentials)


@pytest.fixture
def bulk(api) -> Bulk2Client:
    return Bulk2Client(api)


@pytest.fixture
def clock() -> FastClock:
    return FastClock()


@pytest.fixture
def tuned_bulk(tmp_path: Path) -> Iterator[Callable[..., Bulk2Client]]:
    """Factory of clients, each on a fresh local org with shrunk limits (`OrgSettings` keywords such
    as ``list_page_size=2``), so paging edges are reached with a handful of jobs or rows."""
    numbers = itertools.count()
    with ExitStack() as stack:
        def make(**settings: int) -> Bulk2Client:
            db = tmp_path / f"tuned-{next(numbers)}.db"
            server = stack.enter_context(LocalOrgServer(db, settings=OrgSettings(**settings)))
            http = stack.enter_context(requests.Session())
            http.verify = str(server.ca_file)
            return Bulk2Client(ApiSession(http, AccessTokenCredentials(server.instance_url, server.access_token)))

        yield make
