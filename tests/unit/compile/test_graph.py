"""Load order: waves, cycle breaking, explicit load_order checks, expansion into runnable steps."""

from dataclasses import replace
from pathlib import Path

import pytest

from migrator.compile.graph import build_load_order, expand_steps, to_mermaid
from migrator.errors import PlanError
from migrator.plan.model import FieldSpec, Location, LookupSpec, ObjectSpec, Plan, SourceSpec


def obj(name, *lookups, external_id="Ext__c", object_name=None):
    fields = (FieldSpec(external_id, source="id"),) if external_id else ()
    return ObjectSpec(object=object_name or name, name=name, source=SourceSpec("x.csv"), operation="upsert",
                      external_id=external_id, fields=fields, lookups=tuple(lookups),
                      location=Location("plan.yaml", 3, "objects[0]"))


def lk(field, *targets, **kw):
    return LookupSpec(field, "col", tuple(targets), location=Location("plan.yaml", 9, f"lookups.{field}"), **kw)


def plan(*objects, load_order=None):
    return Plan(version=1, name="p", file=Path("plan.yaml"), sources_dir=Path("."), objects=tuple(objects),
                load_order=load_order, location=Location("plan.yaml", 1, ""))


def test_waves_follow_lookups():
    p = plan(obj("Task", lk("WhatId", "Opportunity")), obj("Opportunity", lk("AccountId", "Account")),
             obj("Account"), obj("Product2"))
    order = build_load_order(p)
    assert order.processing_order == ("Account", "Product2", "Opportunity", "Task")
    nodes = {n.id: n for n in expand_steps(order, {}, [])}
    waves = tuple(nodes[name].wave for name in ("Account", "Product2", "Opportunity", "Task"))
    assert waves == (0, 0, 1, 2)
    assert nodes["Task"].depends_on == ("Opportunity",)


def test_self_reference_is_loaded_by_levels_then_pass2():
    p = plan(obj("Account", lk("ParentId", "Account")), obj("Contact", lk("AccountId", "Account")))
    order = build_load_order(p)
    assert [lk.field for lk in order.hierarchical["Account"]] == ["ParentId"]
    nodes = {n.id: n for n in expand_steps(order, {"Account": 3}, ["Account"])}
    assert [nodes[f"Account:L{i}"].wave for i in range(3)] == [0, 1, 2]
    assert nodes["Contact"].depends_on == ("Account:L2",)
    assert nodes["Account:pass2"].pass_no == 2 and nodes["Account:pass2"].depends_on == ("Account:L2",)


def test_cycle_is_broken_at_the_step_that_loads_first():
    p = plan(obj("Account", lk("Primary_Contact__c", "Contact")), obj("Contact", lk("AccountId", "Account")))
    order = build_load_order(p)
    assert order.deferred == {("Account", "Primary_Contact__c")}
    assert order.processing_order == ("Account", "Contact")
    explicit = build_load_order(plan(*p.objects, load_order=(("Contact",), ("Account",))))
    assert explicit.deferred == {("Contact", "AccountId")}


def test_cycle_without_a_deferrable_lookup_names_the_path():
    p = plan(obj("A", lk("BId", "B", defer=False)), obj("B", lk("AId", "A", defer=False)))
    with pytest.raises(PlanError) as err:
        build_load_order(p)
    (problem,) = err.value.problems
    assert "A -> B -> A" in problem.message and problem.line == 9


def test_cycle_through_a_step_without_key_cannot_be_deferred():
    p = plan(obj("A", lk("BId", "B"), external_id=None), obj("B", lk("AId", "A"), external_id=None))
    with pytest.raises(PlanError, match="cannot be broken"):
        build_load_order(p)


def test_explicit_load_order_is_checked_against_lookups():
    p = plan(obj("Account"), obj("Contact", lk("AccountId", "Account")), load_order=(("Contact",), ("Account",)))
    with pytest.raises(PlanError, match="loads Contact before or together with Account"):
        build_load_order(p)


def test_load_order_problems_point_at_the_load_order_entry_not_line_1():
    """Issue 10 item 19: `plan` pointed at line 1 for a load_order that contradicts the lookups."""
    where = {"": Location("plan.yaml", 20, "load_order"), "Contact": Location("plan.yaml", 21, "load_order[0]"),
             "Account": Location("plan.yaml", 22, "load_order[1]")}
    p = replace(plan(obj("Account"), obj("Contact", lk("AccountId", "Account", defer=False)), obj("Lead"),
                     load_order=(("Contact",), ("Account",))), load_order_locations=where)
    with pytest.raises(PlanError) as err:
        build_load_order(p)
    assert sorted((x.line, x.path, x.message.split(";")[0]) for x in err.value.problems) == [
        (20, "load_order", "load_order does not list Lead"),
        (21, "load_order[0]", "load_order loads Contact before or together with Account, but Contact.AccountId "
                              "looks up Account")]
    missing = plan(obj("Account"), obj("Contact"), load_order=(("Account",),))
    with pytest.raises(PlanError, match="does not list Contact"):
        build_load_order(missing)


def test_explicit_load_order_serialises_groups():
    p = plan(obj("A"), obj("B"), obj("C"), load_order=(("A",), ("C", "B")))
    nodes = {n.id: n for n in expand_steps(build_load_order(p), {}, [])}
    assert (nodes["A"].wave, nodes["B"].wave, nodes["C"].wave) == (0, 1, 1)


def test_existing_and_deferred_lookups_add_no_edges():
    p = plan(obj("Contact", lk("OwnerId", "User", existing=True), lk("AccountId", "Account", defer=True)),
             obj("Account"))
    order = build_load_order(p)
    assert order.edges == ()
    assert order.deferred == {("Contact", "AccountId")}
    nodes = {n.id: n for n in expand_steps(order, {}, ["Contact"])}
    assert set(nodes["Contact:pass2"].depends_on) == {"Contact", "Account"}


def test_mermaid_lists_every_step_and_edge():
    p = plan(obj("Account"), obj("Contact", lk("AccountId", "Account")))
    text = to_mermaid(expand_steps(build_load_order(p), {}, []))
    assert text.startswith("flowchart LR")
    assert '["Account"]' in text and '["Contact"]' in text and "s0 --> s1" in text
