"""Where the history lives: the org (default), a committed file, and an org with neither set up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.errors import HistoryError
from migrator.history.org_store import OBJECT
from migrator.localorg.orgschema import OrgSchema, load_schema
from migrator.localorg.server import LocalOrgServer

from .conftest import SCHEMA, make_project


def test_a_history_file_chosen_explicitly_holds_the_history_instead_of_the_org(project):
    result = project.migrate(history="file")
    assert len(result.applied) == 4 and result.history.startswith("file ")
    path = project.migrations / "history" / f"{result.org_id}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert [e["script"] for e in document["entries"]] == [
        "V001__accounts.yaml", "V002__contacts.yaml", "V003__opportunities.yaml", "R__reference_data.yaml"]
    assert not list(path.parent.glob("*.lock"))
    assert project.query(f"SELECT Id FROM {OBJECT}") == []
    assert [row.state for row in project.info(history="file").rows] == ["success"] * 4
    assert project.migrate(history="file").up_to_date


@pytest.fixture
def bare_org(tmp_path: Path):
    """A sandbox where nobody deployed the history object."""
    full = load_schema([SCHEMA])
    schema = OrgSchema(objects={name: obj for name, obj in full.objects.items() if name != OBJECT})
    with LocalOrgServer(tmp_path / "bare.db", schema=schema) as server:
        yield make_project(tmp_path / "project", server)


def test_an_org_without_the_history_object_gets_both_ways_out(bare_org):
    with pytest.raises(HistoryError) as caught:
        bare_org.migrate()
    message = str(caught.value)
    assert f"has no {OBJECT} object" in message
    assert "sf project deploy start --source-dir salesforce" in message
    assert 'history = "file"' in message and "--history file" in message
    assert bare_org.query("SELECT Id FROM Account") == []
    assert len(bare_org.migrate(history="file").applied) == 4
