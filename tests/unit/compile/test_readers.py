"""The file readers: every kind yields text columns with row references of its own kind, and a
file that is not of its kind is refused with a message naming it."""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from migrator.compile.readers import ReadContext, open_readers
from migrator.compile.readers.base import where
from migrator.compile.readers.text import column_text
from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec


def read_all(folder: Path, spec: SourceSpec) -> tuple[pd.DataFrame, list, list]:
    (reader,) = open_readers(spec, ReadContext(sources_dir=folder, block_bytes=64))
    frames, refs, invalid = [], [], []
    for chunk in reader.chunks():
        frames.append(chunk.frame)
        refs += [str(r) for r in chunk.lines]
        invalid += list(chunk.invalid)
    return pd.concat(frames, ignore_index=True), refs, invalid


def test_typed_values_read_as_the_text_a_csv_export_holds():
    values = {
        "int": pa.array([1, None, -3]),
        "float": pa.array([1.0, 2.5, 123456789012.0]),
        "decimal": pa.array([decimal.Decimal("1200.50"), None, decimal.Decimal("0.10")], pa.decimal128(8, 2)),
        "bool": pa.array([True, False, None]),
        "date": pa.array([datetime.date(2024, 2, 29), None, datetime.date(1999, 1, 1)]),
        "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime(2024, 1, 2, 3, 4, 5, 250000), None]),
        "tz": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))]
                       * 3, pa.timestamp("ms", tz="Europe/Paris")),
        "list": pa.array([[1, 2], None, []]),
    }
    text = {name: column_text(array).to_pylist() for name, array in values.items()}
    assert text == {
        "int": ["1", None, "-3"], "float": ["1", "2.5", "123456789012"], "decimal": ["1200.50", None, "0.10"],
        "bool": ["true", "false", None], "date": ["2024-02-29", None, "1999-01-01"],
        "ts": ["2024-01-02T03:04:05", "2024-01-02T03:04:05.25", None],
        "tz": ["2024-01-02T02:04:05Z"] * 3, "list": ["[1,2]", None, "[]"],
    }


def test_parquet_is_read_a_row_group_at_a_time_with_columns_pushed_down(tmp_path):
    table = pa.table({"id": [f"A{i}" for i in range(7)], "n": list(range(7)),
                      "address": [{"city": f"C{i}", "zip": i} for i in range(7)], "unused": ["x"] * 7})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=3)
    frame, refs, _ = read_all(tmp_path, SourceSpec("a.parquet", columns=("id", "address")))
    assert list(frame.columns) == ["id", "address.city", "address.zip"]
    assert frame["address.zip"].tolist() == [str(i) for i in range(7)]
    assert refs[:4] == ["row group 1, row 1", "row group 1, row 2", "row group 1, row 3", "row group 2, row 1"]
    assert refs[-1] == "row group 3, row 1"
    assert where("a.parquet", refs[3]) == "a.parquet, row group 2, row 1"
    with pytest.raises(SourceDataError, match="has no column 'nope'"):
        read_all(tmp_path, SourceSpec("a.parquet", columns=("nope",)))


def test_json_lines_keep_physical_lines_and_a_bad_line_is_a_reject(tmp_path):
    lines = ['{"id": "A1", "n": 1, "a": {"b": "x"}}', "", '{"id": "A2", "n": 2.5, "a": {"b": "y"}}',
             '{"id": "A3", oops}', '["not", "an", "object"]', '{"id": "A4", "n": "seven"}']
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    frame, refs, invalid = read_all(tmp_path, SourceSpec("a.jsonl"))
    assert frame.to_dict("records") == [{"id": "A1", "n": "1", "a.b": "x"}, {"id": "A2", "n": "2.5", "a.b": "y"},
                                        {"id": "A4", "n": "seven", "a.b": ""}]
    assert refs == ["1", "3", "6"]
    assert [(r.line, r.reason.split(" (")[0]) for r in invalid] == [
        (4, "not valid JSON"), (5, "a JSON list where a JSON object is expected")]


def test_json_arrays_are_read_item_by_item_and_named_by_index(tmp_path):
    items = [{"id": f"A{i}", "tags": ["t", i], "nested": {"deep": {"x": i}}} for i in range(5)] + [7]
    (tmp_path / "a.json").write_text(json.dumps(items, indent=2))
    frame, refs, invalid = read_all(tmp_path, SourceSpec("a.json"))
    assert list(frame.columns) == ["id", "tags", "nested.deep.x"]
    assert frame.iloc[4].tolist() == ["A4", '["t",4]', "4"]
    assert refs == ["[0]", "[1]", "[2]", "[3]", "[4]"] and where("a.json", refs[2]) == "a.json[2]"
    assert [(r.line, r.reason) for r in invalid] == [("[5]", "a JSON int where a JSON object is expected")]
    (tmp_path / "b.json").write_text('[{"id": 1}, {"id": 2}')
    with pytest.raises(SourceDataError, match=r"b.json: ends before the JSON array is closed"):
        read_all(tmp_path, SourceSpec("b.json"))


def test_excel_reads_a_sheet_below_its_header_row(tmp_path):
    book = Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Accounts")
    sheet.append(["Export of 2024-05-01"])
    sheet.append(["id", "name", "founded", "employees", "active"])
    sheet.append(["A1", "Acme", datetime.datetime(2001, 2, 3), 120, True])
    sheet.append([None, None, None, None, None])
    sheet.append(["A2", "Beta", datetime.datetime(1999, 1, 1, 12, 30), 7.5, False])
    book.save(tmp_path / "a.xlsx")
    frame, refs, _ = read_all(tmp_path, SourceSpec("a.xlsx", sheet="Accounts", header_row=2))
    assert frame.to_dict("records") == [
        {"id": "A1", "name": "Acme", "founded": "2001-02-03", "employees": "120", "active": "true"},
        {"id": "A2", "name": "Beta", "founded": "1999-01-01T12:30:00", "employees": "7.5", "active": "false"}]
    assert refs == ["sheet Accounts, row 3", "sheet Accounts, row 5"]
    with pytest.raises(SourceDataError, match=r"has no sheet 'Acounts' \(sheets: Notes, Accounts\)"):
        read_all(tmp_path, SourceSpec("a.xlsx", sheet="Acounts"))


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.csv", b"PAR1\x00\x00garbage",
     "a.csv: is read as CSV text but its content is a Parquet file; set kind: parquet"),
    ("a.parquet", b"id,name\n1,x\n", "a.parquet: is read as a Parquet file but its content is CSV text; set kind: csv"),
    ("a.xlsx", b"id,name\n1,x\n", "a.xlsx: is read as an Excel workbook (.xlsx) but its content is CSV text"),
    ("a.jsonl", b"id,name\n1,x\n", "a.jsonl: is read as JSON Lines but its content is CSV text"),
    ("a.xlsx", b"\xd0\xcf\x11\xe0rest", "an Excel 97-2003 workbook (.xls); save it as .xlsx"),
])
def test_a_file_that_is_not_of_its_kind_is_refused_by_name(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    (reader,) = open_readers(SourceSpec(name), ReadContext(sources_dir=tmp_path))
    with pytest.raises(SourceDataError) as caught:
        reader.columns()
    assert message in str(caught.value)
    assert "decode" not in str(caught.value) and "UTF-8" not in str(caught.value)


def test_kind_overrides_the_extension_and_one_step_reads_one_kind(tmp_path):
    pq.write_table(pa.table({"id": ["A1"]}), tmp_path / "export.dat")
    frame, _, _ = read_all(tmp_path, SourceSpec("export.dat", kind="parquet"))
    assert frame["id"].tolist() == ["A1"]
    pq.write_table(pa.table({"id": ["A1"]}), tmp_path / "export.parquet")
    (tmp_path / "export.csv").write_text("id\nA2\n")
    with pytest.raises(SourceDataError, match=r"matches files of different kinds \(csv, parquet\)"):
        open_readers(SourceSpec("export.*"), ReadContext(sources_dir=tmp_path))
