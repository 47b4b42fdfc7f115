"""Bulk API 1.0 pieces: the PK chunking header, ZIP batches, result rendering, Id-range successor keys."""

from __future__ import annotations

import io
import json
import zipfile
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrator.localorg.bulk1_errors import Bulk1Error
from migrator.localorg.bulk1_jobs import PkChunking, parse_pk_chunking
from migrator.localorg.bulk1_query import next_key
from migrator.localorg.bulk1_records import BatchInputError
from migrator.localorg.bulk1_results import ingest_results_json, ingest_results_xml
from migrator.localorg.bulk1_zip import MissingBinary, ZipBatch, ZipLimits
from migrator.localorg.ids import BASE62
from migrator.localorg.orgschema import load_schema
from migrator.localorg.rowerrors import row_error, split_error

SCHEMA = load_schema()
NS = "http://www.force.com/2009/06/asyncapi/dataload"


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("FALSE", None), ("false", None),
    ("TRUE", PkChunking()), ("true", PkChunking()),
    ("chunkSize=1000;", PkChunking(1000)), (" CHUNKSIZE = 50 ; parent = account ;", PkChunking(50, "Account")),
    ("TRUE; startRow=001Lo0000000001", PkChunking(startRow="001Lo0000000001IAA")),
    ("chunkSize=250000", PkChunking(250_000)),
])
def test_pk_chunking_header(header, expected):
    assert parse_pk_chunking(header, SCHEMA) == expected


@pytest.mark.parametrize("header", ["chunkSize=0", "chunkSize=250001", "chunkSize=ten", "chunkSize", "parent=Nope",
                                    "startRow=001", "size=5"])
def test_bad_pk_chunking_header(header):
    with pytest.raises(Bulk1Error) as caught:
        parse_pk_chunking(header, SCHEMA)
    assert caught.value.code == "InvalidJob"


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of `files`, byte-identical on every call (a fixed timestamp: some are built at collection,
    where differing bytes would give pytest-xdist workers different test lists)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return archive.getvalue()


def test_zip_batches_resolve_references_by_relative_path():
    batch = ZipBatch(_zip({"request.txt": b"Name,Body\n", "docs/a.pdf": b"A", "b.txt": b"B"}), ZipLimits())
    assert batch.request == b"Name,Body\n"
    assert batch.binary("#docs/a.pdf") == b"A" == batch.binary("#./docs\\a.pdf") == batch.binary("#/docs/a.pdf")
    for reference in ("docs/a.pdf", "#nope", "#request.txt", "#", "#../b.txt/.."):
        with pytest.raises(MissingBinary):
            batch.binary(reference)


def test_zip_limits_hold_even_when_the_zip_lies_about_sizes():
    with pytest.raises(BatchInputError, match="unzips to more than 100,000 bytes"):
        ZipBatch(_zip({"request.txt": b"x", "big.bin": b"\0" * 200_000}), ZipLimits(max_unzipped_bytes=100_000))
    # declare 10 bytes for a 200,000-byte member: it passes the declared-size check, but reading it does
    # not unpack more than declared; the CRC check then fails the batch
    data = bytearray(_zip({"request.txt": b"x", "big.bin": b"\0" * 200_000}))
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)  # the second entry: big.bin
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    batch = ZipBatch(bytes(data), ZipLimits(max_unzipped_bytes=100_000))
    with pytest.raises(BatchInputError, match=r"Failed to read big\.bin"):
        batch.binary("#big.bin")
    twice = ZipBatch(_zip({"request.txt": b"x", "a": b"1" * 600}), ZipLimits(max_unzipped_bytes=1_000))
    assert twice.binary("#a") == twice.binary("#a")  # the second read is not counted again


@pytest.mark.parametrize(("data", "fragment"), [
    (b"not a zip", "Failed to read the zip file"),
    (_zip({"folder/request.txt": b"x"}), "no request.txt at its root"),
    (_zip({f"f{n}": b"" for n in range(5)} | {"request.txt": b""}), "at most 5"),
], ids=["not-a-zip", "request-in-folder", "too-many-files"])
def test_broken_zips(data, fragment):
    with pytest.raises(BatchInputError, match=fragment):
        ZipBatch(data, ZipLimits(max_entries=5))


@pytest.mark.parametrize(("code", "message", "fields"), [
    ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name, Phone]", ["Name", "Phone"]),
    ("INVALID_FIELD", "Foreign key external ID: a:b not found for field X in entity Account", []),
    ("DUPLICATE_VALUE", "duplicate value found: Code__c duplicates value on record with id: 001x", []),
    ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", []),
])
def test_error_texts_split_back_into_their_parts(code, message, fields):
    assert split_error(row_error(code, message, fields)) == {"statusCode": code, "message": message,
                                                            "fields": fields}


def test_ingest_results_as_json_and_xml():
    data = (b'"Id","Success","Created","Error"\n"001a","true","true",""\n'
            b'"001b","false","false","STRING_TOO_LONG:Name: data value too large:Name --"\n')
    assert json.loads(ingest_results_json(data)) == [
        {"success": True, "created": True, "id": "001a", "errors": []},
        {"success": False, "created": False, "id": "001b",
         "errors": [{"statusCode": "STRING_TOO_LONG", "message": "Name: data value too large", "fields": ["Name"]}]}]
    root = ElementTree.fromstring(ingest_results_xml(data))
    assert root.tag == f"{{{NS}}}results"
    assert [c.tag.split("}")[1] for c in root[1]] == ["errors", "id", "success", "created"]


@given(st.text(alphabet=BASE62, min_size=15, max_size=15))
def test_next_key_is_the_successor_in_id_order(head):
    following = next_key(head)
    assert len(following) == 15
    if head != BASE62[-1] * 15:
        assert following > head
        position = max(i for i, ch in enumerate(head) if ch != BASE62[-1])
        assert following[:position] == head[:position]
        assert following[position] == BASE62[BASE62.index(head[position]) + 1]
        assert set(following[position + 1:]) <= {"0"}
