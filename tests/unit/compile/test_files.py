"""Binary fields from files: paths checked and measured before sending, ZIP batches packed within
their limits, and REST records built from a part's row."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from migrator.client.bulk1_batches import plan_zip_batches
from migrator.client.rest_files import entity_json
from migrator.compile.binary_files import FileResolver, goes_by_rest, size_summary
from migrator.compile.cache import cacheable
from migrator.compile.manifest import SourceSummary
from migrator.errors import LimitExceededError, PlanError
from migrator.plan.loader import load_plan


def test_paths_are_resolved_in_the_files_folder_only(tmp_path):
    folder = tmp_path / "files"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "a.pdf").write_bytes(b"%PDF" * 10)
    (tmp_path / "secret.txt").write_text("x")
    resolver = FileResolver(folder, (tmp_path,), shown="files")
    checked = resolver.check(pd.Series(["docs/a.pdf", " docs\\a.pdf ", "", "/etc/passwd", "../secret.txt",
                                        "docs", "docs/b.pdf"]))
    assert checked.references.tolist()[:2] == ["#docs/a.pdf", "#docs/a.pdf"]
    assert checked.sizes.tolist() == [40, 40, 0, 0, 0, 0, 0]
    assert checked.errors.tolist() == [
        "", "", "no file: the path is blank",
        "the path '/etc/passwd' is absolute; name files relative to the files folder",
        "the path '../secret.txt' leads outside the files folder 'files'",
        "docs is a folder, not a file", "file not found: docs/b.pdf (in the files folder files)"]
    assert resolver.size_of(pd.Series(["#docs/a.pdf"])).tolist() == [40]
    assert goes_by_rest([9_500_000, 9_500_001]).tolist() == [False, True]


def test_the_size_summary_says_what_will_be_sent():
    summary = SourceSummary(step="Files", object="ContentVersion", files=(), source_rows=3, filtered=0, rejected=0,
                            rows=3, missing_parents={}, deferred_rows=0, levels=1,
                            binary_files={"files": 3, "bytes": 15_000_000, "largest": 12_000_000, "rest": 1})
    assert size_summary([summary]) == ["Files of Files: 3 file(s), 14.3 MB in all, the largest 11.4 MB; 1 bigger "
                                       "than a ZIP batch go through REST"]


def test_zip_batches_hold_at_most_their_bytes_and_files(tmp_path):
    for i in range(5):
        (tmp_path / f"f{i}.bin").write_bytes(b"x" * 400)
    part = tmp_path / "part.csv"
    part.write_text("Title,VersionData\n" + "".join(f"T{i},#f{i}.bin\n" for i in range(5)) + "T5,#f0.bin\n")
    header, batches = plan_zip_batches(part, ("VersionData",), tmp_path, max_bytes=1000, max_files=3)
    assert header == ["Title", "VersionData"]
    assert [(len(b.records), sorted(b.files), b.bytes) for b in batches] == [
        (2, ["f0.bin", "f1.bin"], 800), (2, ["f2.bin", "f3.bin"], 800), (2, ["f0.bin", "f4.bin"], 800)]
    with pytest.raises(LimitExceededError, match="line 2: 400 bytes of files do not fit in a ZIP batch of 100"):
        plan_zip_batches(part, ("VersionData",), tmp_path, max_bytes=100)


def test_a_rest_record_nests_parent_references():
    header = ["Title", "Description", "VersionData", "Account:FirstPublishLocation.Legacy_Id__c", "Owner.Alias"]
    assert entity_json(header, ["T", "#N/A", "#a.pdf", "A1", ""], {"VersionData"}) == {
        "Title": "T", "Description": None,
        "FirstPublishLocation": {"attributes": {"type": "Account"}, "Legacy_Id__c": "A1"}}


def _plan(tmp_path: Path, body: str) -> Path:
    (tmp_path / "f.csv").write_text("id,path\n1,a.pdf\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nname: f\nobjects:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return plan


def test_a_file_goes_only_into_a_binary_field_and_by_itself(tmp_path):
    plan = _plan(tmp_path, """\
        - object: Account
          operation: insert
          source: f.csv
          fields: {Description: {file: path}}
        - object: ContentVersion
          operation: insert
          api: bulk2
          source: f.csv
          fields: {Title: id, VersionData: {file: path, map: {a: b}}}
        """)
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    messages = sorted(p.message for p in caught.value.problems)
    assert messages == [
        "Account.Description does not hold a file's bytes; file: fills a binary field (ContentVersion.VersionData, "
        "Attachment.Body, Document.Body)",
        "a file is sent as it is: map does not go with file",
        "files are sent in Bulk API 1.0 ZIP batches (Bulk API 2.0 takes no binary data): use api: bulk1, or leave "
        "api unset on this step"]


def test_a_file_step_is_a_bulk1_step_and_its_folder_lies_in_the_project(tmp_path):
    plan = _plan(tmp_path, """\
        - object: ContentVersion
          operation: insert
          source: f.csv
          fields: {Title: id, VersionData: {file: path}}
        """)
    loaded = load_plan(plan)
    assert loaded.objects[0].api == "bulk1" and loaded.objects[0].fields[1].file
    assert loaded.files_dir == tmp_path.resolve()
    text = plan.read_text().replace("name: f\n", "name: f\nsources: {files: ../elsewhere}\n")
    plan.write_text(text)
    with pytest.raises(PlanError, match=r"the files folder .* is outside the plan's project"):
        load_plan(plan)


def test_a_plan_with_files_is_never_compiled_from_the_cache(tmp_path):
    """The files' sizes decide how rows are batched and are not part of the cache's key."""
    plan = _plan(tmp_path, """\
        - object: ContentVersion
          operation: insert
          source: f.csv
          fields: {Title: id, VersionData: {file: path}}
        """)
    assert not cacheable(load_plan(plan))
    plan.write_text(plan.read_text().replace("VersionData: {file: path}", "Description: path"))
    assert cacheable(load_plan(plan))
