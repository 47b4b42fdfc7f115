"""Shared fixtures for integration tests: a real local org over loopback HTTPS, and sessions trusting it.

- `local_org`: one org per test session (its own temporary database), with `LEGACY_SCHEMA` loaded;
  tests share it, so they use their own record keys (see `unique`).
- `fresh_org`: a new org for one test (fault injection, token expiry, restarts).
- `org_session(org)`: a requests.Session that trusts the org's CA and sends its Bearer token.
- `legacy_schema_file`: the schema file itself, for suites that start their own org.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from migrator.localorg.server import LocalOrgServer

LEGACY_SCHEMA = """\
objects:
  Account:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true, label: Legacy ID}
      Region__c: {type: picklist, values: [North, South, East, West], restricted: true, label: Region}
      Tags__c: {type: multipicklist, values: [Red, Green, Blue], restricted: true, label: Tags}
      Score__c: {type: number, precision: 5, scale: 2, label: Score}
      Founded__c: {type: date, label: Founded}
      Audited_At__c: {type: datetime, label: Audited At}
      Active__c: {type: checkbox, label: Active}
      Contact_Email__c: {type: email, label: Contact Email}
      Partner_Code__c: {type: text, length: 20, external_id: true, label: Partner Code}
  Contact:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true, label: Legacy ID}
  Opportunity:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true, label: Legacy ID}
  Task:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true, label: Legacy ID}
  Project__c:
    label: Project
    fields:
      Name: {type: text, length: 80, required: true, label: Project Name}
      Code__c: {type: text, length: 20, external_id: true, unique: true, label: Code}
      Account__c: {type: lookup, to: Account, label: Account}
      Parent_Project__c: {type: lookup, to: Project__c, label: Parent Project}
      Budget__c: {type: currency, precision: 16, scale: 2, label: Budget}
"""
_counter = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _loopback_trusts_only_the_org_ca() -> Iterator[None]:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override ``Session.verify``; these tests
    pin the org's own CA per session, so the variables are set aside for the test session."""
    saved = {name: os.environ.pop(name) for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if name in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def legacy_schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "legacy.yaml"
    path.write_text(LEGACY_SCHEMA, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def local_org(tmp_path_factory: pytest.TempPathFactory, legacy_schema_file: Path) -> Iterator[LocalOrgServer]:
    folder = tmp_path_factory.mktemp("local-org")
    with LocalOrgServer(folder / "org.db", schema_files=[legacy_schema_file]) as org:
        yield org


@pytest.fixture
def fresh_org(tmp_path: Path, legacy_schema_file: Path) -> Iterator[LocalOrgServer]:
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file]) as org:
        yield org


def org_session(org: LocalOrgServer, token: str | None = None) -> requests.Session:
    """A session that trusts the org's CA (or plain HTTP) and authenticates with its token."""
    session = requests.Session()
    session.verify = str(org.ca_file) if org.ca_file else True
    session.headers["Authorization"] = f"Bearer {token or org.access_token}"
    return session


@pytest.fixture
def http(local_org: LocalOrgServer) -> Iterator[requests.Session]:
    session = org_session(local_org)
    yield session
    session.close()


def unique(prefix: str = "K") -> str:
    """A key no other test of the session uses (tests share `local_org`)."""
    return f"{prefix}{next(_counter):06d}"
