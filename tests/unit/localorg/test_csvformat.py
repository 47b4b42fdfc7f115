"""Bulk CSV in and out: delimiters, line endings, BOM, strictness, all-quoted output."""

from __future__ import annotations

import pytest

from migrator.localorg.csvformat import CsvInputError, _check_utf8, parse_csv, quote_all, quoted_rows


def test_parse_keeps_text_quotes_and_newlines_and_the_raw_header():
    parsed = parse_csv(b'\xef\xbb\xbfName|"Code"\n"a|b"|007\n"multi\nline"|""\n', "PIPE", "LF")
    assert parsed.header_line == 'Name|"Code"' and parsed.headers == ["Name", "Code"]
    assert parsed.table.to_pylist() == [{"c0": "a|b", "c1": "007"}, {"c0": "multi\nline", "c1": ""}]
    assert parsed.rows(1, 2).column(0).to_pylist() == ["multi\nline"]


@pytest.mark.parametrize(("data", "ending", "message"), [
    (b"A\r\n1\r\n", "LF", "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"),
    (b"A\n1\n", "CRLF", "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF"),
    (b"A,B\n1,2\n3\n", "LF", "ClientInputError : line 3 has 1 values but the header has 2 columns (1 such row(s))"),
    (b"A\n\xff\n", "LF", "ClientInputError : the data is not valid UTF-8"),
    (b"\xffA\n1\n", "LF", "ClientInputError : the data is not valid UTF-8"),
])
def test_structural_problems_are_client_input_errors(data, ending, message):
    with pytest.raises(CsvInputError) as caught:
        parse_csv(data, "COMMA", ending)
    assert caught.value.message == message


def test_empty_and_header_only_uploads():
    assert parse_csv(b"").headers == [] and parse_csv(b"  \n").row_count == 0
    header_only = parse_csv(b"Name,Site\n")
    assert header_only.headers == ["Name", "Site"] and header_only.row_count == 0
    assert parse_csv(b"Name,Site").headers == ["Name", "Site"]


def test_crlf_files_parse_when_the_job_says_crlf():
    parsed = parse_csv(b"A;B\r\n1;2\r\n", "SEMICOLON", "CRLF")
    assert parsed.header_line == "A;B" and parsed.table.to_pylist() == [{"c0": "1", "c1": "2"}]


def test_output_is_all_quoted_in_the_job_format():
    data = quoted_rows([["a", 'q"uote'], ["", "x\ny"]], "TAB", "CRLF")
    assert data == b'"a"\t""\r\n"q""uote"\t"x\ny"\r\n'
    assert quoted_rows([[]], "COMMA", "LF") == b""
    assert quote_all(["sf__Id", 'we"ird'], "CARET") == '"sf__Id"^"we""ird"'


def test_bytes_that_are_not_utf8_are_refused_even_in_a_malformed_row(recwarn):
    with pytest.raises(CsvInputError, match="not valid UTF-8"):
        parse_csv(b"Name,Phone\nok,1\n\x89PNG,2,extra\n")
    assert not [w for w in recwarn if "Unraisable" in type(w.message).__name__]


def test_utf8_checked_in_chunks_accepts_a_character_split_across_chunks():
    data = "é".encode() * 5  # 2 bytes each: a chunk of 3 bytes cuts every other character
    _check_utf8(data, chunk=3)
    with pytest.raises(CsvInputError):
        _check_utf8(data[:-1], chunk=3)


@pytest.mark.parametrize(("data", "reason"), [
    (b"Na\rme\nx\n", "a carriage return inside an unquoted name"),  # a fuzzed Bulk 1.0 batch once crashed on it
    (b'"Name\nx\n', "a quote is not closed"),
    (b'Name,"Id"x\n1,2\n', "',' expected after '\"'"),
])
def test_an_unreadable_header_is_a_client_input_error_not_a_crash(data, reason):
    with pytest.raises(CsvInputError) as caught:
        parse_csv(data)
    assert caught.value.message == f"ClientInputError : the header row cannot be read: {reason}"
