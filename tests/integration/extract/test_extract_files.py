"""`extract` downloads the files of a plan's `{file: COLUMN}` fields back into the files folder:
plans/files.yaml loaded into org A, extracted, and loaded from the extract into org B gives B the
same files, byte for byte; an extract into the same folder again downloads only what is missing."""

from __future__ import annotations

import pandas as pd

from migrator import api
from migrator.extract.binaries import FilePaths
from tests.integration.run.conftest import ROOT, Org

from .conftest import Orgs

FILES = ROOT / "plans" / "data" / "files" / "files"


def _bytes_by_name(org: Org) -> dict[str, bytes]:
    """PathOnClient (files) or Name (attachments) -> the bytes the org serves through REST."""
    http = org.session()
    base = f"{org.server.instance_url}/services/data/v62.0/sobjects"
    found = {}
    for obj, name, field in (("ContentVersion", "PathOnClient", "VersionData"), ("Attachment", "Name", "Body")):
        for record in org.query(f"SELECT Id, {name} FROM {obj}"):
            response = http.get(f"{base}/{obj}/{record['Id']}/{field}")
            response.raise_for_status()
            found[f"{obj}:{record[name]}"] = response.content
    return found


def test_files_extracted_from_one_org_load_the_same_bytes_into_another(orgs: Orgs):
    loaded = api.run(orgs.plan("files.yaml"), target="A", **orgs.kw())
    assert loaded.results["totals"]["succeeded"] == 12, loaded.results
    out = orgs.project / "out"
    events: list[tuple[str, dict]] = []
    result = api.extract(orgs.plan("files.yaml"), source="A", out_dir=out,
                         on_event=lambda kind, data: events.append((kind, dict(data))), **orgs.kw())
    assert result.exit_code == 0
    downloads = {d["step"]: d for kind, d in events if kind == "extract_files"}
    assert (downloads["Files"]["downloaded"], downloads["Attachment"]["downloaded"] +
            downloads["Attachment"]["kept"]) == (7, 2)
    # the files folder lies in the extract as it lies in the plan's sources (data/files/files -> out/files)
    for path in (out / "documents.csv").read_text().splitlines()[1:]:
        relative = path.split('","')[1]
        assert (out / "files" / relative).read_bytes() == (FILES / relative).read_bytes(), relative
    assert not list((out / "files").rglob("*.part"))

    again = api.run(orgs.plan("files.yaml"), target="B", sources_dir=out, **orgs.kw())
    assert again.exit_code == 0, again.results
    assert (again.results["totals"]["succeeded"], again.results["totals"]["rejected"]) == (12, 0)
    in_a, in_b = _bytes_by_name(orgs.a), _bytes_by_name(orgs.b)
    assert len(in_a) == 9 and in_b == in_a
    assert all(content == (FILES / name.split(":", 1)[1]).read_bytes() for name, content in in_b.items())


def test_an_extract_again_into_the_same_folder_downloads_only_the_missing_files(orgs: Orgs):
    api.run(orgs.plan("files.yaml"), target="A", select=("Account", "Files"), **orgs.kw())
    out = orgs.project / "out"
    api.extract(orgs.plan("files.yaml"), source="A", out_dir=out, select=("Files",), **orgs.kw())
    lost = out / "files" / "contracts" / "acme-msa.pdf"
    kept = out / "files" / "logos" / "acme.png"
    lost.unlink()
    kept_stamp = kept.stat().st_mtime_ns
    events: list[tuple[str, dict]] = []
    api.extract(orgs.plan("files.yaml"), source="A", out_dir=out, select=("Files",),
                on_event=lambda kind, data: events.append((kind, dict(data))), **orgs.kw())
    downloads = [d for kind, d in events if kind == "extract_files"]
    assert [(d["downloaded"], d["kept"]) for d in downloads] == [(1, 6)]
    assert lost.read_bytes() == (FILES / "contracts" / "acme-msa.pdf").read_bytes()
    assert kept.stat().st_mtime_ns == kept_stamp


def test_a_record_whose_path_is_unsafe_or_taken_gets_a_path_of_its_own():
    paths = FilePaths("Files", (("path", "VersionData"),))
    frame = pd.DataFrame({"path": ["a/x.pdf", "a/x.pdf", "../etc/passwd", "/abs.pdf", ""],
                          "__id": ["068A", "068B", "068C", "068D", "068E"]})
    fixed = paths.fix(frame, "__id")
    assert fixed["path"].tolist() == ["a/x.pdf", "Files/068B/x.pdf", "Files/068C/passwd", "Files/068D/abs.pdf",
                                      "Files/068E"]
    later = paths.fix(pd.DataFrame({"path": ["a/x.pdf"], "__id": ["068F"]}), "__id")
    assert later["path"].tolist() == ["Files/068F/x.pdf"]
    assert [w[2] for w in paths.wanted][-1] == "Files/068F/x.pdf"
