"""Reading sources: all text, every record located by its physical line, quoting mistakes caught."""

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.compile.csvread import arrow_message, read_source, scan_source
from migrator.errors import SourceDataError


def write(tmp_path: Path, data: bytes | str, name: str = "src.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def located(path: Path, **options) -> tuple[list[tuple[int, int]], list[tuple[int, int, str]]]:
    """([(record number, line)] of rows, [(record number, line, reason)] of invalid records)."""
    chunks = list(read_source(path, path.name, **options))
    rows = [(int(n), int(line)) for c in chunks for n, line in zip(c.rows, c.lines, strict=True)]
    invalid = [(r.row, r.line, r.reason) for c in chunks for r in c.invalid]
    return rows, invalid


def test_source_rows_numbered_like_a_spreadsheet_and_bad_rows_reported(tmp_path: Path):
    path = write(tmp_path, "\ufeffid,name\n1,\"multi\nline\"\n2,too,many\n3,ok\n")
    chunks = list(read_source(path, "src.csv"))
    frame = pd.concat([c.frame for c in chunks])
    assert frame.columns.tolist() == ["id", "name"]
    assert frame["name"].tolist() == ["multi\nline", "ok"]
    assert [int(r) for c in chunks for r in c.rows] == [2, 4]
    assert [int(r) for c in chunks for r in c.lines] == [2, 5]
    (bad,) = [r for c in chunks for r in c.invalid]
    assert (bad.file, bad.row, bad.line, bad.text, bad.reason) == (
        "src.csv", 3, 4, "2,too,many", "expected 2 fields, found 3")


def test_lines_count_quoted_line_breaks_and_skipped_blank_lines(tmp_path: Path):
    """Issue 10 item 16: the record number is not the line once values span lines or blank lines
    are skipped; rows and rejects must name the line an editor shows."""
    path = write(tmp_path, 'a,b,c\n1,"x\ny\nz",3\n\n2,2\n3,3,3\n\n\n4,"4\n\n4",4\n5,5\n6,6,6\n')
    rows, invalid = located(path)
    assert rows == [(2, 2), (4, 7), (5, 10), (7, 14)]
    assert [(n, line) for n, line, _ in invalid] == [(3, 6), (6, 13)]


def test_lines_with_crlf_lone_cr_and_a_bom(tmp_path: Path):
    path = write(tmp_path, b'\xef\xbb\xbfa,b\r\n1,"x\r\ny"\r\n\r\n2,z\r\n3,"p\rq"\r\n4,w\r\n')
    rows, _ = located(path)
    assert rows == [(2, 2), (3, 5), (4, 6), (5, 8)]


def test_lines_of_a_utf16_source(tmp_path: Path):
    path = write(tmp_path, 'a,b\n1,"x\ny"\n\n2,z\n'.encode("utf-16"))
    rows, _ = located(path, encoding="utf-16")
    assert rows == [(2, 2), (3, 5)]


def test_lines_across_many_small_blocks(tmp_path: Path):
    body = "".join(f'{i},"v\n{i}"\n\n' if i % 3 == 0 else f"{i},v\n" for i in range(3000))
    rows, _ = located(write(tmp_path, "a,b\n" + body), block_bytes=4096)
    assert len(rows) == 3000
    assert rows[:4] == [(2, 2), (3, 5), (4, 6), (5, 7)]
    expected, line = [], 2
    for i in range(3000):
        expected.append(line)
        line += 3 if i % 3 == 0 else 1
    assert [line for _, line in rows] == expected


def _reference_lines(text: str) -> list[int]:
    """The first line of every non-empty record, as Python's csv module reads the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    starts, line = [], reader.line_num
    for record in reader:
        if record:
            starts.append(line + 1 + _leading_blank(text, line))
        line = reader.line_num
    return starts


def _leading_blank(text: str, after_line: int) -> int:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blank = 0
    while after_line + blank < len(lines) and lines[after_line + blank] == "":
        blank += 1
    return blank


value = st.lists(st.sampled_from([*'ab ,"\n', "\r\n", "é"]), max_size=8).map("".join)
record = st.tuples(value, value)


@settings(max_examples=80, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(record, st.integers(0, 2)), min_size=1, max_size=25),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_lines_agree_with_pythons_csv_module(tmp_path: Path, records, newline):
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=newline)
    writer.writerow(["a", "b"])
    for (a, b), blank_lines in records:
        writer.writerow([a, b])
        out.write(newline * blank_lines)
    text = out.getvalue()
    rows, invalid = located(write(tmp_path, text, "prop.csv"), block_bytes=64)
    assert invalid == []
    assert [line for _, line in rows] == _reference_lines(text)


@pytest.mark.parametrize(("data", "line"), [
    ('a,b,c\n1,x,y\n2,x,"oops\n3,y,z\n4,w,v\n', 3),   # in the last column: one value swallows the rest
    ('a,b,c\n1,"oops,z\n2,y,z\n3,w,v\n', 2),          # earlier: the record ends up short
    ('a,b,c\n1,x,y\n2,"multi\nline",z\n3,y,"z', 5),   # no final newline, after a legitimate multi-line value
    ('a,b,"c\n', 1),                                   # in the header
])
def test_an_unclosed_quote_at_the_end_of_the_file_names_the_line_it_opened(tmp_path: Path, data, line):
    """Issue 10 item 5: a stray quote merged every following record into one value, silently."""
    path = write(tmp_path, data)
    with pytest.raises(SourceDataError, match=rf"^src\.csv:{line}: unclosed quote: the quoted value opened on "
                                              rf"line {line} is never closed") as caught:
        list(read_source(path, "src.csv"))
    assert caught.value.row == line
    with pytest.raises(SourceDataError, match="unclosed quote"):
        scan_source(path, "src.csv")


def test_closed_quotes_and_literal_quotes_are_not_unclosed(tmp_path: Path):
    path = write(tmp_path, 'a,b,c\n1,5" screen,z\n2,"say ""hi""",z\n3,"ab"cd,z\n4,"x\n')
    with pytest.raises(SourceDataError, match=":5: unclosed quote"):
        list(read_source(path, "src.csv"))
    rows, invalid = located(write(tmp_path, 'a,b,c\n1,5" screen,z\n2,"say ""hi""",z\n3,"ab"cd,z\n', "ok.csv"))
    assert rows == [(2, 2), (3, 3), (4, 4)] and invalid == []


def test_a_multi_line_value_holding_whole_records_is_a_warning_with_its_line(tmp_path: Path):
    """Issue 10 item 5: a stray quote closed by another one later merges the records between them."""
    path = write(tmp_path, 'id,name,city\n1,Ann,Oslo\n2,"Bob,Rome\n3,Cy,Paris\n4,Di,Bonn",x\n5,Ed,Riga\n')
    chunks = list(read_source(path, "src.csv"))
    warnings = [w for c in chunks for w in c.warnings]
    assert [(w.file, w.line) for w in warnings] == [("src.csv", 3)]
    assert "column 'name' runs over lines 3-5, and its line 4 holds as many delimiters as a whole record" \
        in warnings[0].message
    assert "Cy" not in warnings[0].message  # never the file's contents
    assert [str(w) for w in scan_source(path, "src.csv")] == [str(warnings[0])]


def test_a_legitimate_multi_line_value_is_no_warning(tmp_path: Path):
    path = write(tmp_path, 'id,address,city\n1,"12 Main St,\nSpringfield",Oslo\n2,"a\n\nb",Rome\n')
    assert [w for c in read_source(path, "src.csv") for w in c.warnings] == []


def test_a_short_record_running_over_lines_says_a_quote_may_be_missing(tmp_path: Path):
    path = write(tmp_path, 'a,b,c\n1,"x\ny"\n3,"z",w\n')
    _, invalid = located(path)
    assert invalid == [(2, 2, 'expected 3 fields, found 2; the record runs over lines 2-3: a value may be '
                              'missing its closing quote')]


def test_a_field_bigger_than_a_block_is_read_and_the_rest_of_the_file_too(tmp_path: Path):
    """Issue 10 item 6: a 4 MB field failed with Arrow's 'straddles two block boundaries'."""
    big = "x" * (4 * 1024 * 1024 + 17)
    body = "".join(f"{i},small\n" for i in range(2000))
    data = f'a,b\n{body}\n1,2,3\n1,"{big}"\n2,"after\nit"\n\n3,ok\n'
    chunks = list(read_source(write(tmp_path, data), "src.csv", block_bytes=8192))
    frame = pd.concat([c.frame for c in chunks])
    assert len(frame) == 2003 and frame["b"].str.len().max() == len(big)
    lines = [int(line) for c in chunks for line in c.lines]
    assert lines[-3:] == [2004, 2005, 2008]
    assert [(r.line, r.text) for c in chunks for r in c.invalid] == [(2003, "1,2,3")]


def test_nul_bytes_are_read_as_they_are(tmp_path: Path):
    """The reader keeps NUL bytes (the transform rejects a value holding one, with the reason)."""
    (chunk,) = read_source(write(tmp_path, b"a,b\n1,x\x00y\n"), "src.csv")
    assert chunk.frame["b"].tolist() == ["x\x00y"]


def test_values_stay_text(tmp_path: Path):
    path = write(tmp_path, "code,flag,empty\n00123,NA,\n1e5,true,\n")
    frame = next(read_source(path, "src.csv")).frame
    assert frame.values.tolist() == [["00123", "NA", ""], ["1e5", "true", ""]]


def test_other_encodings_and_undecodable_files(tmp_path: Path):
    path = write(tmp_path, "id,name\n1,Müller\n".encode("latin-1"), "latin.csv")
    frame = next(read_source(path, "latin.csv", encoding="latin-1")).frame
    assert frame["name"].tolist() == ["Müller"]
    with pytest.raises(SourceDataError, match=r"latin\.csv"):
        list(read_source(path, "latin.csv"))


def test_semicolon_sources(tmp_path: Path):
    path = write(tmp_path, "a;b\n1,5;x\n", "semi.csv")
    assert next(read_source(path, "semi.csv", delimiter=";")).frame.values.tolist() == [["1,5", "x"]]


def test_duplicate_header_is_an_error(tmp_path: Path):
    path = write(tmp_path, "a,a\n1,2\n", "dup.csv")
    with pytest.raises(SourceDataError, match="repeats column"):
        list(read_source(path, "dup.csv"))


def test_arrow_errors_never_quote_the_row():
    error = pa.ArrowInvalid("CSV parse error: Expected 3 columns, got 4: secret,row,text,here")
    assert arrow_message(error) == "CSV parse error: Expected 3 columns, got 4"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_a_crlf_inside_a_value_survives_any_block_boundary(tmp_path: Path, encoding):
    """Arrow's streaming reader drops the LF of a quoted CRLF cut by a block boundary; ours does not."""
    value = "x" * 20 + "a\r\nb\r\n\nc"
    path = write(tmp_path, f'h,k\n"{value}",1\n"z",2\n'.encode(encoding))
    for block in range(48, 80):
        chunks = list(read_source(path, "src.csv", encoding=encoding, block_bytes=block))
        assert pd.concat([c.frame for c in chunks])["h"].tolist() == [value, "z"], block
        assert [int(line) for c in chunks for line in c.lines] == [2, 6], block


def test_the_fast_check_for_line_breaks_looks_only_at_the_values_of_a_slice():
    from migrator.compile.linemap import breaks_in, may_hold

    array = pa.array(["a\nb", "plain", "x\r\ny", "z"])
    assert breaks_in(array).tolist() == [1, 0, 1, 0]
    assert not may_hold(array.slice(1, 1), b"\n") and may_hold(array.slice(2, 1), b"\n")
    assert breaks_in(array.slice(3, 1)).tolist() == [0]
    assert not may_hold(pa.array([], pa.string()), b"\n")
