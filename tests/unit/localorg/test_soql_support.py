"""Shared helpers for the SOQL tests: a small org schema and a SQLite store built by the storage
convention of ``orgschema.py`` (one table per object, one column per field, booleans 0/1, datetimes
as UTC text). Also tests the helpers themselves, since every other SOQL test leans on them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date
from itertools import count
from typing import Any

from migrator.localorg.orgschema import NUMBER_TYPES, OrgSchema, load_schema, merge_schema
from migrator.localorg.soql import CompiledQuery, compile_query
from migrator.localorg.soql.literals import normalize_id

TODAY = date(2024, 6, 15)  # a Saturday; the week (Sunday start) began 2024-06-09

EXTRA_OBJECTS = {
    "objects": {
        "Project__c": {
            "key_prefix": "a01",
            "fields": {
                "Name": {"type": "string"},
                "Parent_Account__c": {"type": "reference", "to": "Account"},
                "Budget__c": {"type": "currency"},
                "Score__c": {"type": "double"},
                "Tags__c": {"type": "multipicklist", "values": ["Red", "Green", "Blue"]},
                "Kickoff__c": {"type": "date"},
                "Active__c": {"type": "boolean"},
                "Logo__c": {"type": "base64"},
            },
        },
        "Task": {"fields": {"WhatId": {"type": "reference", "to": ["Account", "Project__c"],
                                       "relationship_name": "What"}}},
    }
}


def make_schema() -> OrgSchema:
    return merge_schema(load_schema(), EXTRA_OBJECTS, "test")


def create_store(schema: OrgSchema) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for obj in schema.objects.values():
        columns = []
        for f in obj.fields.values():
            sql_type = "INTEGER" if f.type in ("boolean", "int") else "REAL" if f.type in NUMBER_TYPES \
                else "TEXT"
            columns.append(f'"{f.name}" {sql_type}' + (" PRIMARY KEY" if f.name == "Id" else ""))
        conn.execute(f'CREATE TABLE "{obj.name}" ({", ".join(columns)})')
    return conn


class Store:
    """Inserts rows with generated Salesforce-shaped Ids (key prefix + counter + checksum)."""

    def __init__(self, schema: OrgSchema | None = None):
        self.schema = schema or make_schema()
        self.conn = create_store(self.schema)
        self._counter = count(1)

    def new_id(self, object_name: str) -> str:
        obj = self.schema.get(object_name)
        assert obj is not None
        return normalize_id(f"{obj.key_prefix}000{next(self._counter):09d}")

    def insert(self, object_name: str, **values: object) -> str:
        obj = self.schema.get(object_name)
        assert obj is not None
        row = {"Id": self.new_id(obj.name), "IsDeleted": 0, "CreatedDate": "2024-01-01T00:00:00.000Z",
               "LastModifiedDate": "2024-01-01T00:00:00.000Z", "SystemModstamp": "2024-01-01T00:00:00.000Z"}
        row.update(values)
        for key in row:
            assert obj.field(key) is not None, key
        names = ", ".join(f'"{k}"' for k in row)
        self.conn.execute(f'INSERT INTO "{obj.name}" ({names}) VALUES ({", ".join("?" * len(row))})',
                          list(row.values()))
        return str(row["Id"])


@dataclass
class SampleOrg:
    """A populated store plus shortcuts that compile with the frozen TODAY."""

    store: Store
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> OrgSchema:
        return self.store.schema

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    def compile(self, soql: str, **kwargs: Any) -> CompiledQuery:
        kwargs.setdefault("today", TODAY)
        return compile_query(soql, self.schema, **kwargs)

    def rows(self, soql: str, **kwargs: Any) -> list[tuple[str, ...]]:
        return list(self.compile(soql, **kwargs).iter_rows(self.conn))

    def column(self, soql: str, **kwargs: Any) -> list[str]:
        """The first column of every row (handy for WHERE tests: SELECT Name ...)."""
        return [row[0] for row in self.rows(soql, **kwargs)]

    def records(self, soql: str, api_version: str = "62.0", **kwargs: Any) -> list[dict[str, Any]]:
        return list(self.compile(soql, **kwargs).iter_records(self.conn, api_version))


def sample_org() -> SampleOrg:
    org = SampleOrg(Store())
    add = org.store.insert
    ids = org.ids
    ids["ann"] = add("User", Username="ann@org", LastName="Smith", FirstName="Ann", Email="ann@x.com")
    ids["bob"] = add("User", Username="bob@org", LastName="Jones", FirstName="Bob", Email="bob@x.com")
    ids["acme"] = add("Account", Name="Acme", OwnerId=ids["ann"], Industry="Technology",
                      AnnualRevenue=1500000.0, NumberOfEmployees=120, Rating="Hot",
                      CreatedDate="2024-06-15T08:30:00.000Z")
    ids["globex"] = add("Account", Name="Globex", OwnerId=ids["bob"], Industry="Banking",
                        AnnualRevenue=250.75, NumberOfEmployees=5, ParentId=ids["acme"],
                        CreatedDate="2024-06-14T23:59:59.000Z")
    ids["initech"] = add("Account", Name="Initech", CreatedDate="2023-12-31T10:00:00.000Z")
    ids["gone"] = add("Account", Name="Gone Corp", IsDeleted=1, Industry="Technology")
    ids["john"] = add("Contact", FirstName="John", LastName="Doe", Email="john@acme.com",
                      AccountId=ids["acme"], Birthdate="1990-05-01", HasOptedOutOfEmail=1, OwnerId=ids["ann"])
    ids["jane"] = add("Contact", FirstName="Jane", LastName="Roe", AccountId=ids["globex"],
                      ReportsToId=ids["john"], Birthdate="1985-12-31", HasOptedOutOfEmail=0)
    ids["solo"] = add("Contact", LastName="Solo", ReportsToId=ids["jane"], HasOptedOutOfEmail=0)
    ids["lee"] = add("Lead", LastName="Lee", Company="L Co", Email="lee@l.co")
    ids["apollo"] = add("Project__c", Name="Apollo", Parent_Account__c=ids["acme"], Budget__c=12.5,
                        Score__c=0.1, Tags__c="Red;Blue", Kickoff__c="2024-06-15", Active__c=1)
    ids["gemini"] = add("Project__c", Name="Gemini", Parent_Account__c=ids["globex"], Budget__c=1e20,
                        Tags__c="Green", Kickoff__c="2024-05-31", Active__c=0)
    ids["call"] = add("Task", Subject="Call", WhoId=ids["john"], WhatId=ids["acme"], Status="Completed")
    ids["mail"] = add("Task", Subject="Email", WhoId=ids["lee"], WhatId=ids["apollo"], Status="Not Started")
    ids["idle"] = add("Task", Subject="Nothing", Status="Not Started")
    return org


def test_store_generates_checksummed_ids_with_the_key_prefix():
    store = Store()
    account_id = store.insert("Account", Name="Acme")
    assert account_id.startswith("001") and len(account_id) == 18
    assert normalize_id(account_id[:15]) == account_id
    row = store.conn.execute('SELECT "Name" FROM "Account" WHERE "Id" = ?', [account_id]).fetchone()
    assert row == ("Acme",)


def test_schema_has_the_test_objects():
    schema = make_schema()
    assert schema.get("project__c").key_prefix == "a01"
    assert schema.get("Task").field("WhatId").reference_to == ("Account", "Project__c")
