"""Source files: resolving names and globs, reading headers, spotting wrong encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.compile.sources import check_encoding, read_header, resolve_source
from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    data = tmp_path / "data [2024]"  # glob characters in the directory name stay literal
    (data / "exports").mkdir(parents=True)
    (data / "accounts.csv").write_text("id,name\n1,a\n")
    for name in ("acc-2.csv", "acc-10.csv", "acc-1.csv"):
        (data / "exports" / name).write_text("id,name\n")
    (data / "exports" / "acc-dir.csv").mkdir()
    (tmp_path / "shared.csv").write_text("id\n")
    return data


def test_plain_names_and_missing_files(tree: Path):
    assert resolve_source(tree, SourceSpec("accounts.csv")) == [(tree / "accounts.csv").resolve()]
    assert resolve_source(tree, SourceSpec("nope.csv")) == []
    assert resolve_source(tree, SourceSpec("exports")) == []  # a directory is not a source


def test_globs_are_sorted_and_skip_directories(tree: Path):
    found = resolve_source(tree, SourceSpec("exports/acc-*.csv"))
    assert [p.name for p in found] == ["acc-1.csv", "acc-10.csv", "acc-2.csv"]
    assert all(p.is_absolute() for p in found)
    assert [p.name for p in resolve_source(tree, SourceSpec("**/acc-1*.csv"))] == ["acc-1.csv", "acc-10.csv"]


def test_parent_directories_and_absolute_patterns_are_resolved(tree: Path):
    shared = (tree.parent / "shared.csv").resolve()
    assert resolve_source(tree, SourceSpec("../shared.csv")) == [shared]
    assert resolve_source(tree, SourceSpec("../sh*.csv")) == [shared]
    assert resolve_source(tree, SourceSpec(str(shared))) == [shared]


def test_header_with_quotes_bom_and_delimiters(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'\xef\xbb\xbf"first; name";"a ""quoted"" col";plain\r\n1;2;3\r\n')
    assert read_header(path, "utf-8", ";") == ["first; name", 'a "quoted" col', "plain"]
    path.write_text('"multi\nline",b\n1,2\n', encoding="utf-8")
    assert read_header(path, "UTF8", ",") == ["multi\nline", "b"]


def test_header_in_other_encodings(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_bytes("société,année\n".encode("cp1252"))
    assert read_header(path, "cp1252", ",") == ["société", "année"]
    path.write_bytes("société,année\n".encode("utf-16"))
    assert read_header(path, "utf-16", ",") == ["société", "année"]


def test_undecodable_files_name_the_file_and_line(tmp_path: Path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,name\n1,ok\n2,Soci\xe9t\xe9\n")
    assert read_header(path, "latin-1", ",") == ["id", "name"]
    with pytest.raises(SourceDataError) as info:
        check_encoding(path, "utf-8")
    assert info.value.file == str(path) and "line 3" in str(info.value)
    path.write_bytes(b"n\xe9,x\n")
    with pytest.raises(SourceDataError, match="line 1") as info:
        read_header(path, "utf-8", ",")
    assert str(path) in str(info.value)


def test_empty_files_and_unknown_encodings(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(SourceDataError, match="empty") as info:
        read_header(path, "utf-8", ",")
    assert info.value.file == str(path)
    path.write_text("a,b\n")
    with pytest.raises(SourceDataError, match="unknown encoding"):
        read_header(path, "klingon-8", ",")


def test_encoding_check_reads_only_a_sample(tmp_path: Path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a\n" + b"x\n" * 1000 + b"\xff\n")
    check_encoding(path, "utf-8", sample_bytes=100)  # the bad byte is beyond the sample
    with pytest.raises(SourceDataError, match="line 1002"):
        check_encoding(path, "utf-8")
