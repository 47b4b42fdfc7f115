"""Generated sources and masks in the plan: what the loader builds, and every mistake located."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator import api
from migrator.errors import PlanError
from migrator.plan.fakespec import ChildCount, ChoiceColumn, DateColumn, FakeColumn, NumberColumn, RefColumn
from migrator.plan.loader import load_plan

GOOD = """\
version: 1
name: f
variables: {today: "2026-01-15"}
defaults: {operation: upsert, external_id: Legacy_Id__c, seed: 3, locale: fr_FR}
objects:
  - object: Account
    source:
      generate:
        count: 10
        columns:
          key: {seq: "A-{:03d}"}
          name: company
          stage: {choice: {Hot: 1, Warm: 3}}
          size: {number: {min: 1, max: 9.5}}
          born: {date: {from: -1y, to: today}}
          city: {fake: city, locale: de_DE, pool: 50, blank: 0.2}
    fields:
      Legacy_Id__c: key
      Name: name
      Rating: stage
  - object: Contact
    source:
      generate:
        per: Account
        count: "1..3"
        columns:
          key: {seq: "C-{:04d}"}
          account: {parent: key}
          buddy: {ref: Account.name}
          email: {template: "{{ key | lower }}@example.com"}
    fields:
      Legacy_Id__c: key
      LastName: key
      Email: {from: email, mask: {email: example.org}}
      Phone: {from: key, mask: phone}
    lookups:
      AccountId: {from: account, to: Account}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_model_holds_what_the_plan_says(tmp_path):
    plan = load_plan(write(tmp_path, GOOD))
    accounts, contacts = (s.source.generate for s in plan.objects)
    assert plan.objects[0].source.pattern == "generate:Account"
    assert accounts.count == 10 and accounts.seed == 3 and accounts.locale == "fr_FR"
    columns = {c.name: c for c in accounts.columns}
    assert isinstance(columns["name"], FakeColumn) and columns["name"].locale == "fr_FR"
    assert columns["city"] == FakeColumn(name="city", provider="city", locale="de_DE", pool=50, blank=0.2,
                                         location=columns["city"].location)
    assert columns["stage"] == ChoiceColumn(name="stage", values=("Hot", "Warm"), weights=(1.0, 3.0),
                                            location=columns["stage"].location)
    assert columns["size"] == NumberColumn(name="size", low=100, high=950, decimals=2,
                                           location=columns["size"].location)
    assert isinstance(columns["born"], DateColumn) and columns["born"].kind == "date"
    assert contacts.per == "Account" and contacts.children == ChildCount((1, 2, 3), (1.0, 1.0, 1.0))
    assert isinstance(contacts.column("buddy"), RefColumn) and contacts.column("buddy").step == "Account"
    masks = {f.name: f.mask for f in plan.objects[1].fields if f.mask}
    assert masks["Email"].kind == "email" and masks["Email"].domain == "example.org"
    assert masks["Phone"].describe() == "phone" and masks["Email"].location.line == 34


CASES = [
    # (replace this, with this, line, path fragment, message fragment)
    ("per: Account", "per: Acount", 24, "generate.per", "'Acount', which is not a generated step"),
    ('count: "1..3"', 'count: "3..1"', 25, "generate.count", "runs backwards"),
    ("count: 10", "count: many", 9, "generate.count", "needs count: the number of rows"),
    ("{choice: {Hot: 1, Warm: 3}}", "{choice: {Hot: 0, Warm: 3}}", 13, "columns.stage.choice.Hot",
     "must be a number above 0"),
    ("{number: {min: 1, max: 9.5}}", "{number: {min: 10, max: 9.5}}", 14, "columns.size.number", "is above max"),
    ("{date: {from: -1y, to: today}}", "{date: {from: -1yr, to: today}}", 15, "columns.born.date.from",
     "neither an ISO date"),
    ('{seq: "A-{:03d}"}', '{seq: "A-{id}"}', 11, "columns.key.seq", "may use only {} (the row number"),
    ('{seq: "A-{:03d}"}', '{seq: "A-{:03d}", choice: [a]}', 11, "columns.key", "exactly one of seq"),
    ("account: {parent: key}", "account: {parent: kee}", 28, "columns.account.parent",
     "Account generates no column 'kee'"),
    ("buddy: {ref: Account.name}", "buddy: {ref: Acc.name}", 29, "columns.buddy.ref", "'Acc', which is not"),
    ("buddy: {ref: Account.name}", "buddy: {ref: name}", 29, "columns.buddy.ref", "STEP.COLUMN"),
    ('{template: "{{ key | lower }}@example.com"}', '{template: "{{ kye }}@example.com"}', 30,
     "columns.email.template", "reads 'kye'"),
    ("Rating: stage", "Rating: stag", 20, "fields.Rating", "column 'stag' is not one of the columns"),
    ('variables: {today: "2026-01-15"}', "variables: {env: x}", 9, "generate",
     "the plan variable 'today', which is not declared"),
    ("mask: {email: example.org}", "mask: {email: example}", 34, "mask.email", "is not a domain name"),
    ("mask: {email: example.org}", "mask: {email: example.org, redact: x}", 34, "Email.mask", "exactly one of"),
    ("mask: phone", "mask: phon", 35, "Phone.mask", "is not allowed"),
    ("LastName: key", "LastName: key\n      Legacy_Id__c: {from: key, mask: hash}", 0, "", "duplicate key"),
]


@pytest.mark.parametrize("old, new, line, path, message", CASES, ids=[c[4][:30] for c in CASES])
def test_every_mistake_is_located(tmp_path, old, new, line, path, message):
    assert old in GOOD
    with pytest.raises(PlanError) as raised:
        load_plan(write(tmp_path, GOOD.replace(old, new, 1)))
    found = [p for p in raised.value.problems if message in p.message]
    assert found, [str(p) for p in raised.value.problems]
    if line:
        assert found[0].line == line and path in (found[0].path or ""), str(found[0])


def test_a_masked_key_and_a_loop_of_columns_are_refused(tmp_path):
    text = GOOD.replace("      Legacy_Id__c: key\n      LastName: key", "      Legacy_Id__c: {from: key, mask: hash}\n"
                        "      LastName: key").replace('email: {template: "{{ key | lower }}@example.com"}',
                                                        'email: {template: "{{ other }}"}\n          other: '
                                                        '{template: "{{ email }}"}')
    with pytest.raises(PlanError) as raised:
        load_plan(write(tmp_path, text))
    messages = [p.message for p in raised.value.problems]
    assert any("is the key of Contact: masking it would break every lookup" in m for m in messages), messages
    assert any("read each other in a loop: Contact.email -> Contact.other -> Contact.email" in m
               or "Contact.other -> Contact.email -> Contact.other" in m for m in messages), messages


@pytest.mark.parametrize("old, new, message", [
    ("name: company", "name: compnay", "Faker has no provider 'compnay' in locale fr_FR (did you mean 'company'?)"),
    ("locale: de_DE", "locale: de_XX", "unknown Faker locale 'de_XX'"),
    ("name: company", "name: credit_card_expire", "reads today's date"),
    ("{date: {from: -1y, to: today}}", "{date: {from: today, to: -1y}}", "the dates run backwards"),
    ("mask: phone", "mask: {fake: compnay}", "has no provider 'compnay'"),
])
def test_what_only_faker_knows_is_checked_by_validate(tmp_path, old, new, message):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    load_plan(path)  # the plan itself is well formed
    with pytest.raises(PlanError) as raised:
        api.validate(path)
    assert any(message in str(p) for p in raised.value.problems), [str(p) for p in raised.value.problems]


def test_a_good_plan_validates(tmp_path):
    assert api.validate(write(tmp_path, GOOD)).plan.name == "f"
