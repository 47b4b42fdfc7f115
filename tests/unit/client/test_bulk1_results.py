"""Bulk 1.0 results paired with request rows and written in the Bulk 2.0 layout; query CSVs joined."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.client.bulk1_results import (
    Bulk2LayoutWriter,
    CsvConcatenator,
    RecordCounter,
    count_records,
    parse_batch_results,
    parse_request_csv,
    split_batch,
)
from migrator.client.ingest import result_paths
from migrator.compile.csvio import read_table
from migrator.errors import InvalidRequestError

REQUEST = (b'Name,Legacy_Id__c,Description\n'
           b'Acme,A-1,"two\nlines"\n'
           b',A-2,no name\n'
           b'"Globex, Inc",A-3,"say ""hi"""\n')
RESULT_CSV = (b'"Id","Success","Created","Error"\n'
              b'"001x00000000001AAA","true","true",""\n'
              b'"","false","false","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"\n'
              b'"001x00000000003AAA","true","false",""\n')


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_request_csv_keeps_header_verbatim_and_values_as_text():
    request = parse_request_csv(b"\xef\xbb\xbf" + REQUEST.replace(b"A-1", b"007"))
    assert request.header_line == "Name,Legacy_Id__c,Description" and request.rows == 3
    assert request.columns[1].to_pylist() == ["007", "A-2", "A-3"]
    assert request.columns[2].to_pylist() == ["two\nlines", "no name", 'say "hi"']


def test_csv_results_by_name_case_insensitive_and_positional():
    results = parse_batch_results(RESULT_CSV, "text/csv")
    assert results.ids.to_pylist() == ["001x00000000001AAA", "", "001x00000000003AAA"]
    assert results.success.to_pylist() == [True, False, True]
    assert results.created.to_pylist() == ["true", "false", "false"]
    reordered = b'ERROR,ID,CREATED,SUCCESS\n"x:y:--","","FALSE","FALSE"\n'
    flipped = parse_batch_results(reordered, "text/csv")
    assert (flipped.ids.to_pylist(), flipped.success.to_pylist(), flipped.errors.to_pylist()) == (
        [""], [False], ["x:y:--"])
    positional = parse_batch_results(b'a,b,c,d\n"001A","true","true",""\n', "text/csv")
    assert positional.ids.to_pylist() == ["001A"] and positional.success.to_pylist() == [True]
    with pytest.raises(InvalidRequestError, match="expected"):
        parse_batch_results(b"x\n1\n", "text/csv")


def test_json_and_xml_results_become_the_same_columns():
    payload = [{"success": True, "created": False, "id": "001A", "errors": []},
               {"success": False, "created": False, "id": None,
                "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "duplicate", "fields": []}]}]
    results = parse_batch_results(json.dumps(payload).encode(), "application/json")
    assert results.created.to_pylist() == ["false", "false"]
    assert results.errors.to_pylist() == ["", "DUPLICATE_VALUE:duplicate:--"]


def test_split_pairs_rows_by_position():
    split = split_batch(parse_request_csv(REQUEST), parse_batch_results(RESULT_CSV, "text/csv"))
    assert _rows(split.success) == [["001x00000000001AAA", "true", "Acme", "A-1", "two\nlines"],
                                    ["001x00000000003AAA", "false", "Globex, Inc", "A-3", 'say "hi"']]
    assert _rows(split.failed) == [["", "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", "",
                                    "A-2", "no name"]]
    assert split.unprocessed == b""
    assert split.success.startswith(b'"001x00000000001AAA","true","Acme","A-1","two\nlines"\n')


def test_rows_beyond_the_results_and_batches_without_results_are_unprocessed():
    request = parse_request_csv(REQUEST)
    partial = parse_batch_results(b'"Id","Success","Created","Error"\n"001A","true","true",""\n', "text/csv")
    split = split_batch(request, partial)
    assert [r[3] for r in _rows(split.success)] == ["A-1"] and split.failed == b""
    assert _rows(split.unprocessed) == [["", "A-2", "no name"], ["Globex, Inc", "A-3", 'say "hi"']]
    never = split_batch(request, None)
    assert (never.success, never.failed) == (b"", b"") and len(_rows(never.unprocessed)) == 3
    too_many = parse_batch_results(RESULT_CSV + b'"001D","true","true",""\n', "text/csv")
    with pytest.raises(InvalidRequestError, match="4 results for 3 request rows"):
        split_batch(request, too_many)


def test_writer_produces_exactly_the_bulk2_layout(tmp_path):
    paths = result_paths("750J", tmp_path / "results")
    writer = Bulk2LayoutWriter(paths.success_csv, paths.failed_csv, paths.unprocessed_csv)
    request = parse_request_csv(REQUEST)
    writer.add(split_batch(request, parse_batch_results(RESULT_CSV, "text/csv")))
    writer.add(split_batch(parse_request_csv(b"Name,Legacy_Id__c,Description\nInitech,A-4,x\n"), None))
    writer.close()
    assert paths.success_csv.read_bytes() == (
        b'"sf__Id","sf__Created",Name,Legacy_Id__c,Description\n'
        b'"001x00000000001AAA","true","Acme","A-1","two\nlines"\n'
        b'"001x00000000003AAA","false","Globex, Inc","A-3","say ""hi"""\n')
    assert paths.failed_csv.read_bytes() == (
        b'"sf__Id","sf__Error",Name,Legacy_Id__c,Description\n'
        b'"","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --","","A-2","no name"\n')
    assert paths.unprocessed_csv.read_bytes() == b'Name,Legacy_Id__c,Description\n"Initech","A-4","x"\n'
    assert writer.counts == [2, 1, 1]
    assert not list((tmp_path / "results").glob("*.part"))
    # what the executor reads back
    assert read_table(paths.success_csv)["Description"].tolist() == ["two\nlines", 'say "hi"']
    assert read_table(paths.unprocessed_csv).columns.tolist() == ["Name", "Legacy_Id__c", "Description"]


def test_writer_refuses_batches_with_different_headers_and_discards(tmp_path):
    paths = result_paths("750J", tmp_path)
    writer = Bulk2LayoutWriter(paths.success_csv, paths.failed_csv, paths.unprocessed_csv)
    writer.add(split_batch(parse_request_csv(b"Name\na\n"), None))
    with pytest.raises(InvalidRequestError, match="different header rows"):
        writer.add(split_batch(parse_request_csv(b"Id\n001\n"), None))
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_empty_header_only_batches_still_write_headers(tmp_path):
    paths = result_paths("750K", tmp_path)
    writer = Bulk2LayoutWriter(paths.success_csv, paths.failed_csv, paths.unprocessed_csv)
    writer.add(split_batch(parse_request_csv(b"Name\n"), None))
    writer.close()
    assert paths.success_csv.read_bytes() == b'"sf__Id","sf__Created",Name\n'
    assert read_table(paths.failed_csv).columns.tolist() == ["sf__Id", "sf__Error", "Name"]


@pytest.mark.parametrize(("data", "expected"), [
    (b"", 0), (b"a\n", 1), (b"a", 1), (b'"x\ny",z\r\nb\n', 2), (b'"a""\n"\n', 1), (b"a\n\n", 1),
])
def test_count_records(data, expected):
    assert count_records(data) == expected


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(st.text(alphabet=st.sampled_from(list('a,"\n\r')), max_size=6), min_size=1,
                              max_size=3), max_size=20),
       cuts=st.lists(st.integers(0, 400), max_size=6))
def test_record_counter_is_independent_of_chunking(rows, cuts):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    data = buffer.getvalue().encode()
    counter = RecordCounter()
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        counter.feed(data[start:end])
    assert counter.finish() == len(rows)


def _chunks(data: bytes, size: int = 7):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_concatenator_keeps_one_header_and_skips_empty_result_sets():
    out = io.BytesIO()
    joined = CsvConcatenator(out)
    assert joined.add(_chunks(b'"Id","Name"\n"001A","Acme"\n"001B","two\nlines"\n')) == 2
    assert joined.add([b"Records not found for this query"]) == 0
    assert joined.add(_chunks(b'"Id","Name"\r\n"001C","Globex"', 3)) == 1
    assert joined.add([b""]) == 0
    assert out.getvalue() == b'"Id","Name"\n"001A","Acme"\n"001B","two\nlines"\n"001C","Globex"\n'
    assert (joined.records, joined.result_sets) == (3, 2)
    with pytest.raises(InvalidRequestError, match="different headers"):
        joined.add([b'"Id"\n"001D"\n'])


def test_concatenator_with_only_empty_sets_writes_nothing():
    out = io.BytesIO()
    joined = CsvConcatenator(out)
    joined.add([b"Records not found for this query\n"])
    assert out.getvalue() == b"" and joined.records == 0 and joined.header is None


def test_pyarrow_columns_of_results_are_typed():
    results = parse_batch_results(RESULT_CSV, "text/csv; charset=UTF-8")
    assert results.success.type == pa.bool_() and len(results) == 3


def test_writer_creates_missing_folder(tmp_path: Path):
    paths = result_paths("750L", tmp_path / "a" / "b")
    writer = Bulk2LayoutWriter(paths.success_csv, paths.failed_csv, paths.unprocessed_csv)
    writer.close()
    assert paths.success_csv.exists()


@pytest.mark.parametrize("cut", range(0, 12))
def test_blank_lines_are_not_records_wherever_the_chunks_split(cut):
    data = b'a\r\n\r\n"x\n\ny"\n\nb'
    counter = RecordCounter()
    counter.feed(data[:cut])
    counter.feed(data[cut:])
    assert counter.finish() == 3
