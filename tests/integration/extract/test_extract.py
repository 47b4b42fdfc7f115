"""`migrator extract` against a local org: files in the plan's layout that `run` loads back into the
same org contents, byte-stable output, every way of reading big objects, and resuming a stopped
extract without downloading finished pages again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator import api
from migrator.cli import cli
from migrator.compile.csvio import read_table
from migrator.errors import CheckFailed, Interrupted

from .conftest import Orgs
from .test_copy import CRM_COUNTS, assert_same_crm_contents

FILES = ("accounts.csv", "contacts.csv", "opportunities.csv", "projects.csv", "tasks.csv")


def files_of(folder: Path) -> dict[str, object]:
    """The data files' bytes, and the manifest but for which org it names."""
    manifest = json.loads((folder / "extract_manifest.json").read_text(encoding="utf-8"))
    manifest.pop("source")
    return {**{name: (folder / name).read_bytes() for name in FILES}, "extract_manifest.json": manifest}


def test_extract_then_run_round_trips_to_identical_org_contents(orgs: Orgs, monkeypatch):
    orgs.load_a()
    out = orgs.project / "dataset"
    monkeypatch.chdir(orgs.project)
    env = {**orgs.env}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    extracted = CliRunner().invoke(cli, ["extract", "plans/crm.yaml", "--from", "A", "--out", str(out),
                                         "--format", "json"])
    assert extracted.exit_code == 0, extracted.output
    document = json.loads(extracted.output)
    assert document["rows"] == sum(CRM_COUNTS.values()) and document["warnings"] == []
    header = (out / "accounts.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",")[:3] == ["acct_id", "company_name", "industry_code"]  # the plan's own columns
    loaded = CliRunner().invoke(cli, ["run", "plans/crm.yaml", "--target", "B", "--sources-dir", str(out),
                                      "--format", "json"])
    assert loaded.exit_code == 0, loaded.output
    results = json.loads(loaded.output)
    assert results["totals"]["rejected"] == 0 and results["totals"]["filtered"] == 0
    assert results["totals"]["created"] == sum(CRM_COUNTS.values())
    assert_same_crm_contents(orgs, orgs.a, orgs.b)

    # extracting B gives the same bytes: the files depend on the data only
    again = api.extract(orgs.plan(), source="B", out_dir=orgs.project / "again", **orgs.kw())
    assert files_of(orgs.project / "again") == files_of(out)
    assert again.rows == sum(CRM_COUNTS.values())


def test_extract_writes_sorted_files_with_maps_inverted_and_lookups_as_keys(orgs: Orgs):
    orgs.load_a()
    result = api.extract(orgs.plan(), source="A", out_dir=orgs.project / "out", **orgs.kw())
    accounts = read_table(orgs.project / "out" / "accounts.csv")
    keys = accounts["acct_id"].tolist()
    assert keys == sorted(keys) and len(keys) == CRM_COUNTS["Account"]
    europe = accounts[accounts["acct_id"] == "ACC-0002"].iloc[0]
    assert (europe["industry_code"], europe["annual_rev"]) == ("FIN", "310500000")  # map inverted, number plain
    assert '"ACC-0002","Globex Europe","FIN","310500000"' in (orgs.project / "out" / "accounts.csv").read_text()
    tasks = (orgs.project / "out" / "tasks.csv").read_text(encoding="utf-8")
    assert '"ACT-0007"' in tasks and '"PRJ-' in tasks  # polymorphic What as its step's key ...
    assert ',"PRJ"' in tasks or '"PRJ"\n' in tasks  # ... with its type as the plan spells it
    steps = {s["step"]: s for s in result.manifest["steps"]}
    account_columns = {c["column"]: c for c in steps["Account"]["columns"]}
    assert account_columns["parent_acct"]["from"] == "Parent.Legacy_Id__c"
    assert account_columns["status"]["from"] is None and "where" in account_columns["status"]["blank"]
    assert steps["Task"]["sorted_by"] == "activity_id"
    assert result.manifest["totals"] == {"files": 5, "rows": sum(CRM_COUNTS.values())}


@pytest.mark.parametrize("how", [{"pk_chunking": 4}, {"id_ranges": 5}, {"page_rows": 3, "workers": 3}],
                         ids=["pk-chunking", "id-ranges", "parallel-pages"])
def test_every_way_of_reading_big_objects_writes_the_same_files(orgs: Orgs, how):
    orgs.load_a()
    plain = api.extract(orgs.plan(), source="A", out_dir=orgs.project / "plain", **orgs.kw())
    other = api.extract(orgs.plan(), source="A", out_dir=orgs.project / "other", **orgs.kw(), **how)
    assert files_of(orgs.project / "other") == files_of(orgs.project / "plain")
    assert other.rows == plain.rows == sum(CRM_COUNTS.values())
    state = json.loads((other.state_dir / "state.json").read_text(encoding="utf-8"))
    units = [u for u in state["units"] if u["step"] == "Account"]
    if "pk_chunking" in how:
        assert units[0]["api"] == "bulk1-pk" and len(units[0]["pages"]) >= CRM_COUNTS["Account"] // 4
    elif "id_ranges" in how:
        assert len(units) == -(-CRM_COUNTS["Account"] // 5)  # one Bulk job per range of 5 Ids
    else:
        assert len(units[0]["pages"]) == -(-CRM_COUNTS["Account"] // 3)


def test_an_interrupted_extract_resumes_without_downloading_finished_pages(orgs: Orgs):
    orgs.load_a()
    complete = api.extract(orgs.plan(), source="A", out_dir=orgs.project / "complete", page_rows=2, **orgs.kw())
    pages_in_all = sum(len(u["pages"]) for u in json.loads(
        (complete.state_dir / "state.json").read_text(encoding="utf-8"))["units"])
    seen: list[str] = []

    def stop_after_five(kind, data):
        if kind == "extract_rows" and "page" in data:
            seen.append(data["page"])
            if len(seen) == 5:
                raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="migrator extract --resume"):
        api.extract(orgs.plan(), source="A", out_dir=orgs.project / "resumed", page_rows=2, workers=1,
                    on_event=stop_after_five, **orgs.kw())
    stopped = max((orgs.home / "extracts").iterdir(), key=lambda p: p.name)
    assert stopped.name != complete.extract_id  # the newest extract is the stopped one, even within a second
    state = json.loads((stopped / "state.json").read_text(encoding="utf-8"))
    done = {f"{u['id']}/{name}" for u in state["units"] for name in u["pages"]}
    assert set(seen) <= done and 5 <= len(done) < pages_in_all
    before = {p: p.stat().st_mtime_ns for p in stopped.glob("chunks/*/*.csv")}
    assert not (orgs.project / "resumed" / "tasks.csv").exists()  # nothing written before the pages are in

    downloaded: list[str] = []
    result = api.extract(resume=stopped.name, on_event=lambda kind, data: downloaded.append(data["page"])
                         if kind == "extract_rows" and "page" in data else None, **orgs.kw())
    assert result.extract_id == stopped.name
    assert not set(downloaded) & done and len(downloaded) == pages_in_all - len(done)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in before.items())
    assert files_of(orgs.project / "resumed") == files_of(orgs.project / "complete")


KILLED_EXTRACT = """
import os, sys
from pathlib import Path
from migrator import api

pages = []

def kill(kind, data):
    if kind == "extract_rows" and "page" in data:
        pages.append(data["page"])
        if len(pages) == 4:  # die as SIGKILL would: no handler, no cleanup
            os._exit(9)

api.extract(sys.argv[1], source="A", out_dir=Path("killed"), page_rows=2, workers=1, home=Path(".migrator"),
            project_dir=Path("."), on_event=kill)
"""


def test_a_killed_extract_resumes_from_its_saved_pages(orgs: Orgs):
    orgs.load_a()
    complete = api.extract(orgs.plan(), source="A", out_dir=orgs.project / "complete", page_rows=2, **orgs.kw())
    killed = subprocess.run([sys.executable, "-c", KILLED_EXTRACT, str(orgs.plan())], cwd=orgs.project,
                            env={**os.environ, **orgs.env}, capture_output=True, text=True, timeout=180)
    assert killed.returncode == 9, killed.stderr
    stopped = max((orgs.home / "extracts").iterdir(), key=lambda p: p.name)
    assert stopped.name != complete.extract_id
    state = json.loads((stopped / "state.json").read_text(encoding="utf-8"))
    done = {f"{u['id']}/{name}" for u in state["units"] for name in u["pages"]}
    assert len(done) == 4  # each page is in the state (atomically written) before it is reported
    downloaded: list[str] = []
    result = api.extract(resume=stopped.name, on_event=lambda kind, data: downloaded.append(data["page"])
                         if kind == "extract_rows" and "page" in data else None, **orgs.kw())
    assert result.extract_id == stopped.name and not set(downloaded) & done
    assert files_of(orgs.project / "killed") == files_of(orgs.project / "complete")


def test_fields_the_source_org_lacks_are_reported_before_anything_is_read(orgs: Orgs, tmp_path):
    plan = orgs.plan().read_text(encoding="utf-8").replace("Phone: phone\n      Website",
                                                           "Fax__c: phone\n      Website")
    broken = orgs.project / "plans" / "broken.yaml"
    broken.write_text(plan, encoding="utf-8")
    with pytest.raises(CheckFailed) as error:
        api.extract(broken, source="A", out_dir=tmp_path / "never", **orgs.kw())
    assert "Account has no field 'Fax__c' in the source org" in str(error.value)
    assert error.value.problems[0].line is not None
    assert not (tmp_path / "never").exists() and not (orgs.home / "extracts").exists()


def test_progress_shows_the_rows_of_every_object(orgs: Orgs):
    import io

    from rich.console import Console

    from migrator.extract.progress import ExtractProgress

    orgs.load_a()
    screen = io.StringIO()
    with ExtractProgress(Console(file=screen, force_terminal=True, width=160), live=True) as bars:
        api.extract(orgs.plan(), source="A", out_dir=orgs.project / "live", page_rows=4, on_event=bars, **orgs.kw())
    assert {name: (s.rows, s.total, s.done) for name, s in bars.steps.items()} == {
        name: (count, count, True) for name, count in CRM_COUNTS.items()}
    shown = screen.getvalue()
    assert all(f"{count}/{count}" in shown for count in CRM_COUNTS.values()) and "Opportunity" in shown

    lines = io.StringIO()
    with ExtractProgress(Console(file=lines, width=160), live=False) as plain:
        api.extract(orgs.plan(), source="A", out_dir=orgs.project / "plain", on_event=plain, **orgs.kw())
    assert f"✓ Contact (Contact): 20 rows -> {orgs.project / 'plain' / 'contacts.csv'}\n" in lines.getvalue()
