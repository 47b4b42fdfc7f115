"""Pages to source columns (numbers, inverted maps, polymorphic keys) and sorted, stable files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.client.bulk2_query import SOQL_MAX_CHARS
from migrator.compile.csvio import read_table
from migrator.errors import SourceDataError
from migrator.extract import soql
from migrator.extract.chunks import count_rows, read_chunk
from migrator.extract.readback import (
    FieldColumn,
    IdColumn,
    PolymorphicColumn,
    StepReadBack,
    TypeColumn,
    ValueMap,
)
from migrator.extract.shape import ID_COLUMN, IdKeys, ShapeStats, plain_numbers, shape
from migrator.extract.write import write_sorted


def readback(columns, select=("Id",)) -> StepReadBack:
    return StepReadBack(step="S", object="Account", file="s.csv", pattern="s.csv", encoding="utf-8", delimiter=",",
                        columns=tuple(columns), select=tuple(select), key_column=columns[0].column,
                        key_field="Legacy_Id__c", key_fallback_id=False, computed=(), links=(), where=None)


def table(**columns) -> pa.Table:
    return pa.table({k.lower(): pa.array(v, pa.string()) for k, v in columns.items()})


@pytest.mark.parametrize(("text", "plain"), [
    ("1250000000.0", "1250000000"), ("35500.50", "35500.5"), ("-0.0", "0"), ("10", "10"), ("0.125", "0.125"),
    ("1.25E9", "1250000000"), ("2.5e-3", "0.0025"), ("", ""), ("-12.000", "-12"),
])
def test_numbers_lose_the_orgs_trailing_zeros(text, plain):
    assert plain_numbers(pd.Series([text], dtype="str")).tolist() == [plain]


@settings(derandomize=True, max_examples=200)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**12, max_value=10**12))
def test_a_plain_number_is_the_same_number(number):
    from decimal import Decimal

    text = plain_numbers(pd.Series([f"{number:f}"], dtype="str")).iloc[0]
    assert Decimal(text) == number and (("." not in text) or not text.endswith("0"))


def test_maps_are_inverted_and_what_a_map_cannot_restore_is_counted():
    values = ValueMap(inverse={"Technology": "TECH", "Finance": "FIN"}, keys=frozenset({"TECH", "FIN"}),
                      ignore_case=False, default="Other")
    back = readback([FieldColumn("id", "Legacy_Id__c", "Legacy_Id__c"),
                     FieldColumn("sector", "Industry", "Industry", values=values, default="Other")])
    stats = ShapeStats()
    page = table(Id=["001A", "001B", "001C", "001D"], Legacy_Id__c=["k1", "k2", "k3", "k4"],
                 Industry=["Technology", "Other", "Agriculture", ""])
    frame = shape(page, back, IdKeys(), stats)
    assert frame["sector"].tolist() == ["TECH", "Other", "Agriculture", ""]
    assert frame[ID_COLUMN].tolist() == ["001A", "001B", "001C", "001D"]
    column = stats.columns["sector"]
    assert column.unrestorable == 1 and list(column.examples) == ["Agriculture"]  # would load back as Other
    assert column.as_default == 1  # the blank loads back as Other


def test_polymorphic_parents_become_their_steps_keys():
    keys = IdKeys()
    keys.add("Account", "Legacy_Id__c", ["001A", "001B"], ["ACC-1", "ACC-2"])
    keys.add("Opportunity", "Legacy_Id__c", ["006A"], ["OPP-1"])
    what = PolymorphicColumn("what", "WhatId", "What.Type", {"Account": "Legacy_Id__c",
                                                             "Opportunity": "Legacy_Id__c"})
    back = readback([IdColumn("id"), what, TypeColumn("kind", "what", "What.Type", {"Account": "ACC",
                                                                                    "Opportunity": "OPP"})])
    page = table(Id=["00T1", "00T2", "00T3", "00T4", "00T5"], WhatId=["001B", "006A", "500X", "", "001Z"],
                 **{"What.Type": ["Account", "Opportunity", "Case", "", "Account"]})
    stats = ShapeStats()
    frame = shape(page, back, keys, stats)
    assert frame["what"].tolist() == ["ACC-2", "OPP-1", "", "", ""]
    assert frame["kind"].tolist() == ["ACC", "OPP", "", "", ""]
    assert stats.columns["what"].outside_plan == 1 and stats.columns["what"].unresolved == 1


def test_source_ids_fill_blank_keys():
    back = readback([FieldColumn("id", "Source_Id__c", "Source_Id__c", fallback_id=True)])
    frame = shape(table(Id=["001A", "001B"], Source_Id__c=["", "001ORIGIN"]), back, IdKeys(), ShapeStats())
    assert frame["id"].tolist() == ["001A", "001ORIGIN"]


def _frames(rows: int, pages: int, seed: int = 7):
    import random

    rng = random.Random(seed)
    keys = [f"K{rng.randrange(10**6):06d}" for _ in range(rows)]
    size = -(-rows // pages)
    for start in range(0, rows, size):
        chunk = keys[start:start + size]
        yield pd.DataFrame({"key": chunk, "value": [f"v,{k}\n\"x\"" for k in chunk],
                            ID_COLUMN: [f"id{i}" for i in range(start, start + len(chunk))]}, dtype="str")


def test_big_steps_are_sorted_in_key_ranges_to_the_same_bytes(tmp_path: Path):
    small = write_sorted(_frames(2000, 7), tmp_path / "memory.csv", ["key", "value"], "key", encoding="utf-8",
                         delimiter=",", scratch=tmp_path / "s1")
    spilled = write_sorted(_frames(2000, 7), tmp_path / "ranges.csv", ["key", "value"], "key", encoding="utf-8",
                           delimiter=",", scratch=tmp_path / "s2", memory_rows=300)
    assert (tmp_path / "memory.csv").read_bytes() == (tmp_path / "ranges.csv").read_bytes()
    assert small.sha256 == spilled.sha256 and small.rows == spilled.rows == 2000
    written = read_table(tmp_path / "ranges.csv")
    assert written["key"].tolist() == sorted(written["key"].tolist())
    assert not (tmp_path / "s2").exists()  # the sorted runs are removed


def test_files_are_written_in_the_plans_encoding_and_delimiter(tmp_path: Path):
    frame = pd.DataFrame({"k": ["b", "a"], "name": ["Zoë", "Ørsted;A/S"], ID_COLUMN: ["1", "2"]}, dtype="str")
    write_sorted([frame], tmp_path / "out.csv", ["k", "name"], "k", encoding="latin-1", delimiter=";",
                 scratch=tmp_path / "s")
    assert (tmp_path / "out.csv").read_bytes() == 'k;name\n"a";"Ørsted;A/S"\n"b";"Zoë"\n'.encode("latin-1")
    with pytest.raises(SourceDataError, match="cannot be written in the plan's source encoding ascii"):
        write_sorted([frame], tmp_path / "ascii.csv", ["k", "name"], "k", encoding="ascii", delimiter=",",
                     scratch=tmp_path / "s")
    assert not (tmp_path / "ascii.csv").exists() and not list(tmp_path.glob(".ascii.csv.*"))


def test_pages_are_read_as_text_by_lower_case_path(tmp_path: Path):
    page = tmp_path / "p.csv"
    page.write_text('"Id","Account.Legacy_Id__c","Amount"\n"001A","00123","1.0"\n"001B","","x\ny"\n', encoding="utf-8")
    read = read_chunk(page, ["id", "account.legacy_id__c", "missing"])
    assert read.to_pydict() == {"id": ["001A", "001B"], "account.legacy_id__c": ["00123", ""], "missing": ["", ""]}
    assert count_rows(page) == 2
    empty = tmp_path / "none.csv"
    empty.write_text("Records not found for this query", encoding="utf-8")
    assert count_rows(empty) == 0 and read_chunk(empty, ["id"]).num_rows == 0


def test_in_lists_stay_within_the_soql_length_limit():
    back = readback([IdColumn("id")], select=("Id", "Name"))
    ids = [f"001{n:015d}" for n in range(20_000)]
    statements = list(soql.in_statements(back, "AccountId", ids, ["Name != null"]))
    assert len(statements) > 1 and all(len(s) <= SOQL_MAX_CHARS for s in statements)
    assert statements[0].startswith("SELECT Id, Name FROM Account WHERE (Name != null) AND AccountId IN ('001")
    found = {i.strip("'") for s in statements for i in s.split(" IN (")[1].rstrip(")").split(",")}
    assert found == set(ids)
    assert soql.statement(back, [], limit=5) == "SELECT Id, Name FROM Account ORDER BY Id LIMIT 5"
    assert soql.id_range("001A", None) == "Id >= '001A'"
