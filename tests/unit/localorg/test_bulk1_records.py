"""Bulk API 1.0 payloads (CSV, JSON, XML) as the DML engine's header and text columns."""

from __future__ import annotations

import pytest

from migrator.localorg.bulk1_records import BatchInputError, read_rows
from migrator.localorg.orgschema import load_schema

NS = "http://www.force.com/2009/06/asyncapi/dataload"
SCHEMA = load_schema()


def _table(rows) -> list[dict[str, str]]:
    return [dict(zip(rows.headers, values, strict=True))
            for values in zip(*(c.to_pylist() for c in rows.columns), strict=True)]


def test_json_records_follow_the_csv_conventions():
    data = (b'[{"Name": "A", "NumberOfEmployees": 12, "AnnualRevenue": 1.5, "IsPartner": true, "Phone": null,'
            b' "attributes": {"type": "Account"}}, {"Name": "B", "Owner": {"Username": "u@x"}}]')
    rows = read_rows(data, "JSON", SCHEMA.get("Account"))
    assert rows.row_count == 2
    assert _table(rows) == [
        {"Name": "A", "NumberOfEmployees": "12", "AnnualRevenue": "1.5", "IsPartner": "true", "Phone": "#N/A",
         "Owner.Username": ""},
        {"Name": "B", "NumberOfEmployees": "", "AnnualRevenue": "", "IsPartner": "", "Phone": "", "Owner.Username":
         "u@x"}]


def test_polymorphic_parents_get_their_type_prefix():
    task = SCHEMA.get("Task")
    json_rows = read_rows(b'[{"Who": {"attributes": {"type": "Lead"}, "Email": "a@b.c"}, '
                          b'"Owner": {"attributes": {"type": "User"}, "Username": "u"}}]', "JSON", task)
    assert json_rows.headers == ["Lead:Who.Email", "User:Owner.Username"]
    xml = (f'<sObjects xmlns="{NS}"><sObject><What><sObject><type>Account</type><Name>Acme</Name></sObject>'
           f"</What><Subject>Call</Subject></sObject></sObjects>").encode()
    assert read_rows(xml, "XML", task).headers == ["Account:What.Name", "Subject"]
    plain = read_rows(f'<sObjects xmlns="{NS}"><sObject><Account><Name>Acme</Name></Account></sObject>'
                      f"</sObjects>".encode(), "XML", SCHEMA.get("Contact"))
    assert plain.headers == ["Account.Name"]  # not polymorphic: a type would not be wanted


def test_xml_nil_and_empty_values():
    xml = (f'<sObjects xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><sObject>'
           f'<Name> spaced </Name><Phone xsi:nil="true"/><Fax/></sObject></sObjects>').encode()
    assert _table(read_rows(xml, "XML", SCHEMA.get("Account"))) == [{"Name": " spaced ", "Phone": "#N/A", "Fax": ""}]


def test_csv_takes_either_line_ending():
    crlf = read_rows(b"Name,Phone\r\nA,1\r\nB,2\r\n", "CSV", SCHEMA.get("Account"))
    assert _table(crlf) == [{"Name": "A", "Phone": "1"}, {"Name": "B", "Phone": "2"}]
    assert read_rows(b"Name\nA\n", "CSV", SCHEMA.get("Account")).row_count == 1


@pytest.mark.parametrize(("data", "kind", "fragment"), [
    (b'{"Name": "x"}', "JSON", "expected an array of records, found an object"),
    (b"[1]", "JSON", "record 1 is not an object"),
    (b'[{"Name": ["a"]}]', "JSON", "field Name of record 1"),
    (b'[{"Name": NaN}]', "JSON", "Failed to parse the JSON batch"),
    (b"\xff", "JSON", "Failed to parse the JSON batch"),
    (b"<sObjects><sObject><Name>x</sObject>", "XML", "Failed to parse the XML batch"),
    (b"<records/>", "XML", "sObjects root element"),
    (b"<sObjects><record/></sObjects>", "XML", "Unexpected element record"),
    (b"<sObjects><sObject><Account><Owner><Name>x</Name></Owner></Account></sObject></sObjects>", "XML",
     "one level"),
    (b"A,B\n1\n", "CSV", "ClientInputError"),
])
def test_unreadable_payloads(data, kind, fragment):
    with pytest.raises(BatchInputError) as caught:
        read_rows(data, kind, SCHEMA.get("Account"))
    assert fragment in caught.value.message


def test_take_selects_rows_in_order():
    rows = read_rows(b"Name\nA\nB\nC\n", "CSV", SCHEMA.get("Account"))
    assert _table(rows.take([2, 0])) == [{"Name": "C"}, {"Name": "A"}]
