"""Transform: field pipeline, lookups and relationship headers on tiny inline frames."""

import pandas as pd

from migrator.compile.transform import compile_step, relationship_header, transform_chunk
from migrator.plan.model import FieldSpec, LookupSpec, ObjectSpec, SourceSpec


def frame(**columns):
    return pd.DataFrame({k: pd.Series(v, dtype="str") for k, v in columns.items()})


def step(fields=(), lookups=(), **kw):
    return ObjectSpec(object=kw.pop("object", "Contact"), name="s", source=SourceSpec("x.csv"),
                      operation=kw.pop("operation", "upsert"), external_id=kw.pop("external_id", "Ext__c"),
                      fields=tuple(fields), lookups=tuple(lookups), **kw)


def keys_for(spec, key="Ext__c"):
    return {(lk.field, t): key for lk in spec.lookups for t in lk.targets}


def test_relationship_headers():
    assert relationship_header(LookupSpec("AccountId", "a", ("Account",)), "Account", "Ext__c") == "Account.Ext__c"
    assert relationship_header(LookupSpec("Parent_Account__c", "a", ("Account",)), "Account",
                               "Ext__c") == "Parent_Account__r.Ext__c"
    who = LookupSpec("WhoId", "c", ("Contact",), polymorphic=True)
    assert relationship_header(who, "Contact", "Ext__c") == "Contact:Who.Ext__c"


def test_field_pipeline_trim_map_default_type_truncate_required_null():
    spec = step(fields=[
        FieldSpec("Ext__c", source="id", required=True),
        FieldSpec("Salutation", source="sal", value_map={"m": "Mr.", "f": "Ms."}, default="Mx."),
        FieldSpec("Birthdate", source="born", type="date", formats=("%d/%m/%Y",)),
        FieldSpec("Title", source="title", truncate=5),
        FieldSpec("Phone", source="phone", null="clear"),
        FieldSpec("LeadSource", value="Legacy"),
    ])
    data = frame(id=[" 1 ", "2", ""], sal=["m", "x", ""], born=["31/12/1999", "bad", ""],
                 title=["Director", "VP", ""], phone=["", "555", ""])
    result = transform_chunk(data, compile_step(spec, {}), {})
    assert list(result.rows.columns) == ["Ext__c", "Salutation", "Birthdate", "Title", "Phone", "LeadSource"]
    assert result.rows.loc[0].tolist() == ["1", "Mr.", "1999-12-31", "Direc", "#N/A", "Legacy"]
    assert result.rows.index.tolist() == [0]
    rejects = result.rejects
    assert rejects.loc[1, "field"] == "Birthdate"
    assert rejects.loc[1, "value"] == "bad"
    assert rejects.loc[1, "reason"].startswith("not a date")
    assert rejects.loc[2, "field"] == "Ext__c" and rejects.loc[2, "reason"] == "required value is missing"


def test_several_problems_of_one_row_are_reported_together():
    spec = step(fields=[FieldSpec("Ext__c", source="id"), FieldSpec("Amount", source="amt", type="number"),
                        FieldSpec("Email", source="mail", type="email")])
    result = transform_chunk(frame(id=["1"], amt=["lots"], mail=["nope"]), compile_step(spec, {}), {})
    assert result.rejects.loc[0, "field"] == "Amount; Email"
    assert result.rejects.loc[0, "value"] == "lots; nope"
    assert result.rejects.loc[0, "reason"] == "not a number; not a valid email address"


def test_where_filter_counts_but_does_not_reject():
    spec = step(fields=[FieldSpec("Ext__c", source="id")], where="status != 'deleted'")
    result = transform_chunk(frame(id=["1", "2"], status=["ok", "deleted"]), compile_step(spec, {}), {})
    assert result.rows["Ext__c"].tolist() == ["1"]
    assert result.filtered == 1 and result.rejects.empty


def test_template_with_variables():
    spec = step(fields=[FieldSpec("Ext__c", source="id"), FieldSpec("Description", template="{{ id }}-{{ vars.env }}")])
    result = transform_chunk(frame(id=["7"]), compile_step(spec, {}), {"env": "uat"})
    assert result.rows.loc[0, "Description"] == "7-uat"


def test_polymorphic_lookup_with_types_per_row():
    what = LookupSpec("WhatId", "rel", ("Account", "Opportunity"), type_source="kind",
                      type_map={"ACC": "Account", "OPP": "Opportunity"}, polymorphic=True)
    spec = step(object="Task", fields=[FieldSpec("Ext__c", source="id")], lookups=[what])
    layout = compile_step(spec, keys_for(spec))
    assert layout.columns == ("Ext__c", "Account:What.Ext__c", "Opportunity:What.Ext__c")
    data = frame(id=["1", "2", "3", "4", "5"], rel=["A1", "O1", "X", "", "Z"], kind=["ACC", "opp", "CASE", "", ""])
    result = transform_chunk(data, layout, {})
    assert result.rows.loc[0].tolist() == ["1", "A1", ""]
    assert result.rows.loc[1].tolist() == ["2", "", "O1"]
    assert result.rows.loc[3].tolist() == ["4", "", ""]
    assert result.rejects.loc[2, "reason"] == "unknown parent type CASE (expected Account, Opportunity)"
    assert result.rejects.loc[4, "reason"] == "no parent type in column 'kind'"


def test_delete_sends_only_valid_ids():
    spec = step(operation="delete", external_id=None, id_source="sfid")
    layout = compile_step(spec, {})
    result = transform_chunk(frame(sfid=["001000000000001AAA", "nope"]), layout, {})
    assert layout.columns == ("Id",)
    assert result.rows["Id"].tolist() == ["001000000000001AAA"]
    assert result.rejects.loc[1, "reason"].startswith("not a Salesforce record Id")


def test_a_value_mapped_to_null_clears_the_field():
    """Issue 10 item 22: `map: {"99": null}` sent a blank, which leaves the old value on update."""
    spec = step(fields=[FieldSpec("Ext__c", source="id"),
                        FieldSpec("Rating", source="r", value_map={"99": None, "h": "Hot"}),
                        FieldSpec("Status__c", source="st", value_map={"X": None}, map_ignore_case=True,
                                  default="Open"),
                        FieldSpec("Level__c", source="lv", value_map={"0": None}, required=True)])
    data = frame(id=["1", "2", "3"], r=["99", "h", ""], st=["x", "y", ""], lv=["1", "1", "0"])
    result = transform_chunk(data, compile_step(spec, {}), {})
    assert result.rows.loc[0].tolist() == ["1", "#N/A", "#N/A", "1"]
    assert result.rows.loc[1].tolist() == ["2", "Hot", "Open", "1"]
    assert result.rejects.loc[2, "field"] == "Level__c"
    assert result.rejects.loc[2, "reason"] == "required value is missing"


def test_a_value_map_on_a_multipicklist_maps_each_item():
    """Issue 10 item 23: the map applied to the whole `a;b` value, so no multi-select value matched."""
    spec = step(fields=[FieldSpec("Ext__c", source="id"),
                        FieldSpec("Topics__c", source="t", type="multipicklist",
                                  value_map={"fin": "Finance", "tech": "Technology", "old": None},
                                  map_ignore_case=True, values=("Finance", "Technology", "Legal"))])
    data = frame(id=["1", "2", "3", "4", "5", "6"],
                 t=["fin;tech", "Tech ; legal;FIN", "old;fin", "old", "", "fin;nope"])
    result = transform_chunk(data, compile_step(spec, {}), {})
    topics = result.rows["Topics__c"].to_dict()
    assert topics == {0: "Finance;Technology", 1: "Technology;Legal;Finance", 2: "Finance", 3: "#N/A", 4: ""}
    assert result.rejects.loc[5, "reason"].startswith("contains a value that is not allowed")
    assert result.rejects.loc[5, "value"] == "fin;nope"


def test_an_unlisted_multipicklist_item_takes_the_default():
    spec = step(fields=[FieldSpec("Ext__c", source="id"),
                        FieldSpec("Topics__c", source="t", type="multipicklist", value_map={"a": "A"}, default="Z")])
    result = transform_chunk(frame(id=["1"], t=["a;b;c"]), compile_step(spec, {}), {})
    assert result.rows.loc[0, "Topics__c"] == "A;Z"


def test_a_nul_byte_makes_the_row_a_reject_with_the_reason():
    """Issue 10 item 29: NUL bytes passed through to the org unchanged."""
    spec = step(fields=[FieldSpec("Ext__c", source="id"), FieldSpec("Name", source="n"),
                        FieldSpec("Note__c", source="note")],
                lookups=[LookupSpec("AccountId", "acc", ("Account",))])
    data = frame(id=["1", "2", "3"], n=["Ann\x00", "Bob", "Cy"], note=["", "ok", "x"], acc=["A1", "A\x002", ""])
    result = transform_chunk(data, compile_step(spec, keys_for(spec)), {})
    assert result.rows.index.tolist() == [2]
    assert result.rejects.loc[0, "field"] == "Name" and result.rejects.loc[0, "value"] == "Ann\x00"
    assert result.rejects.loc[0, "reason"].startswith("contains a NUL byte (\\x00)")
    assert result.rejects.loc[1, "field"] == "AccountId" and "NUL byte" in result.rejects.loc[1, "reason"]


def test_values_over_salesforce_limits_are_rejects_and_the_rest_is_sent():
    """Issue 10 item 6: a value over the largest field Salesforce has can only fail; refuse it with the reason."""
    spec = step(fields=[FieldSpec("Ext__c", source="id"), FieldSpec("Description", source="d"),
                        FieldSpec("Notes__c", source="n1"), FieldSpec("More__c", source="n2"),
                        FieldSpec("Rest__c", source="n3")])
    huge, big = "x" * (4 * 1024 * 1024), "y" * 131_072
    data = frame(id=["1", "2", "3"], d=[huge, big, "short"], n1=["", big, ""], n2=["", big, ""], n3=["", big, ""])
    result = transform_chunk(data, compile_step(spec, {}), {})
    assert result.rows.index.tolist() == [2]
    assert result.rejects.loc[0, "field"] == "Description"
    assert result.rejects.loc[0, "reason"] == "longer than 131,072 characters, the most a Salesforce field holds"
    assert result.rejects.loc[1, "field"] == "(record)"
    assert result.rejects.loc[1, "reason"] == ("longer than 400,000 characters in all, the most Bulk API takes in "
                                               "one record")


def test_a_template_over_its_limits_makes_a_reject_and_the_other_rows_load():
    """Issue 10 item 25: an over-limit row is a reject with a reason, never a minute of CPU or 50 MB."""
    spec = step(fields=[FieldSpec("Ext__c", source="id"),
                        FieldSpec("Description", template="{{ note | center(width | int) }}", trim=False)])
    result = transform_chunk(frame(id=["1", "2"], note=["hi", "ho"], width=["50000000", "6"]),
                             compile_step(spec, {}), {})
    assert result.rows["Description"].tolist() == ["  ho  "]
    assert result.rejects.loc[0, "field"] == "Description"
    assert result.rejects.loc[0, "reason"].startswith("template stopped: the template builds a padded string too long")
