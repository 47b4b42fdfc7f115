"""Cutting a CSV into Bulk API 1.0 batches: record boundaries, limits, header repeated, clear errors."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.client.bulk1_batches import plan_csv_batches, zip_batch
from migrator.errors import InvalidRequestError, LimitExceededError


def _csv(rows: list[list[str]], eol: str = "\n", quote_all: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=eol, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
               ).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _records(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "part.csv"
    path.write_bytes(data)
    return path


def test_each_batch_repeats_the_header_and_holds_at_most_max_records(tmp_path):
    rows = [["Name", "Description"]] + [[f"n{i}", f"line one\nline two {i}"] for i in range(25)]
    plan = plan_csv_batches(_write(tmp_path, _csv(rows)), max_records=10)
    assert [b.records for b in plan.batches] == [10, 10, 5] and plan.records == 25
    bodies = list(plan.bodies())
    assert all(body.startswith(b"Name,Description\n") for body in bodies)
    joined = [row for body in bodies for row in _records(body)[1:]]
    assert joined == rows[1:]
    assert [b.first_line for b in plan.batches] == [2, 22, 42]  # two lines per record


def test_byte_limit_counts_the_header_too(tmp_path):
    rows = [["Name"]] + [["x" * 98] for _ in range(10)]  # header 5 bytes, each record 99 bytes
    plan = plan_csv_batches(_write(tmp_path, _csv(rows)), max_bytes=5 + 3 * 99)
    assert [b.records for b in plan.batches] == [3, 3, 3, 1]
    assert all(len(body) <= 5 + 3 * 99 for body in plan.bodies())


def test_a_record_larger_than_a_batch_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path, _csv([["Name"], ["ok"], ["y" * 500]]))
    with pytest.raises(LimitExceededError, match=r"part\.csv, line 3: a record of 501 bytes"):
        plan_csv_batches(path, max_bytes=200)


def test_bom_is_dropped_crlf_kept_and_missing_final_newline_added(tmp_path):
    data = b"\xef\xbb\xbf" + _csv([["Name", "Notes"], ["a", 'say "hi"\r\nbye'], ["b", "c"]], eol="\r\n")
    plan = plan_csv_batches(_write(tmp_path, data.removesuffix(b"\r\n")), max_records=1)
    bodies = list(plan.bodies())
    assert bodies == [b'Name,Notes\r\na,"say ""hi""\r\nbye"\r\n', b"Name,Notes\r\nb,c\r\n"]


def test_blank_lines_are_left_out(tmp_path):
    plan = plan_csv_batches(_write(tmp_path, b"Name\n\na\n\nb\nc\n\n\n"), max_records=5)
    assert [row for body in plan.bodies() for row in _records(body)[1:]] == [["a"], ["b"], ["c"]]
    assert plan.records == 3


def test_header_only_file_has_no_batches(tmp_path):
    assert plan_csv_batches(_write(tmp_path, b"Name,Industry\n")).batches == ()


@pytest.mark.parametrize(("data", "message"), [
    (b"", r"the file is empty"),
    (b"Name,Desc\nok,1\nbad\n", r"line 3: 1 values but the header has 2 columns"),
    (b'Name,Desc\nok,1\nok,"never closed\n2,3\n', r"line 3: malformed CSV \(unexpected end of data\)"),
    (b'Name,Desc\nok,"x"y\n', r"line 2: malformed CSV"),
    (b"Name,Desc\nok,caf\xe9\n", r"line 2: not valid UTF-8"),
])
def test_malformed_files_name_file_and_line(tmp_path, data, message):
    with pytest.raises(InvalidRequestError, match=message) as info:
        plan_csv_batches(_write(tmp_path, data))
    assert "part.csv" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidRequestError, match="cannot read"):
        plan_csv_batches(tmp_path / "nope.csv")


values = st.text(alphabet=st.sampled_from(list('ab,"\n\r é')), max_size=12)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(values, min_size=2, max_size=2), max_size=30),
       max_records=st.integers(1, 7), max_bytes=st.integers(60, 400))
def test_batches_reassemble_the_file_exactly(tmp_path_factory, rows, max_records, max_bytes):
    data = _csv([["A", "B"], *rows], quote_all=True)  # minimal quoting leaves a lone CR unquoted
    path = _write(tmp_path_factory.mktemp("h"), data)
    try:
        plan = plan_csv_batches(path, max_records=max_records, max_bytes=max_bytes)
    except LimitExceededError:
        assert any(len(_csv([r], quote_all=True)) + len(b'"A","B"\n') > max_bytes for r in rows)
        return
    bodies = list(plan.bodies())
    assert all(len(body) <= max_bytes for body in bodies)
    assert all(1 <= batch.records <= max_records for batch in plan.batches)
    header = b'"A","B"\n'
    assert all(body.startswith(header) for body in bodies)
    assert b"".join(body.removeprefix(header) for body in bodies) == data.removeprefix(header)


def test_zip_batch_has_manifest_at_root_and_files_by_relative_path(tmp_path):
    picture = tmp_path / "logo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    manifest = b"Name,ParentId,Body\nnotes.txt,001x,#docs/notes.txt\nlogo.png,001x,#logo.png\n"
    data = zip_batch(manifest, {"docs/notes.txt": b"hello", "#logo.png": picture})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["docs/notes.txt", "logo.png", "request.txt"]
        assert archive.read("request.txt") == manifest and archive.read("logo.png") == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidRequestError, match="must be relative"):
        zip_batch(manifest, {"../etc/passwd": b"x"})
