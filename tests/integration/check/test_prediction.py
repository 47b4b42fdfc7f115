"""The prediction against a partly loaded org is exact, and a changed-only run sends exactly the
rows that changed; values are compared as the org understands them, not as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from migrator import api
from migrator.compile.csvio import read_table

from .conftest import FAST

PLAN = """\
version: 1
name: predict
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c, date_format: ["%Y-%m-%d", "%d/%m/%Y"]}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: name
      AnnualRevenue: {from: revenue, type: number}
      NumberOfEmployees: {from: staff, type: integer}
      Founded__c: {from: founded, type: date}
      Industry: industry
    lookups:
      ParentId: {from: parent, to: Account}
  - object: Contact
    source: contacts.csv
    fields:
      Legacy_Id__c: id
      LastName: last
      HasOptedOutOfEmail: {from: opt_out, type: boolean}
      Description: note
    lookups:
      AccountId: {from: account, to: Account}
  - object: Task
    source: tasks.csv
    fields: {Legacy_Id__c: id, Subject: subject, Status: status}
    lookups:
      WhatId: {from: what, to: Account}  # polymorphic: sent as Account:What.Legacy_Id__c
"""


def accounts(n: int, changed: frozenset[int] = frozenset(), respelled: bool = False) -> str:
    lines = ["id,name,revenue,staff,founded,industry,parent"]
    for i in range(n):
        revenue = f'"{1000 * (i + 1):,}"' if respelled else f"{1000 * (i + 1)}.00"  # 1,000 and 1000.00 are equal
        founded = f"0{1 + i % 9}/01/2000" if respelled else f"2000-01-0{1 + i % 9}"  # so are the two dates
        name = f"Account {i}" + (" (renamed)" if i in changed else "")
        parent = f"A{i // 3}" if i >= 3 else ""
        lines.append(f"A{i},{name},{revenue},{10 + i},{founded},Technology,{parent}")
    return "\n".join(lines) + "\n"


def contacts(n: int, changed: frozenset[int] = frozenset(), respelled: bool = False) -> str:
    lines = ["id,last,opt_out,note,account"]
    for i in range(n):
        opt_out = ("yes" if i % 2 else "no") if respelled else ("true" if i % 2 else "false")
        note = f"line one\nline two {i}" if i not in changed else f"changed {i}"
        account = f"A{(i + 1) % 7}" if i in changed else f"A{i % 7}"
        lines.append(f'C{i},Last{i},{opt_out},"{note}",{account}')
    return "\n".join(lines) + "\n"


def tasks(n: int, changed: frozenset[int] = frozenset()) -> str:
    lines = ["id,subject,status,kind,what"]
    for i in range(n):
        what = f"A{(i + 2) % 10}" if i in changed else f"A{i % 10}"
        lines.append(f"T{i},Call {i},Not Started,A,{what}")
    return "\n".join(lines) + "\n"


def write(project: Path, n_accounts: int, n_contacts: int, n_tasks: int, **changes) -> Path:
    data = project / "data"
    data.mkdir(exist_ok=True)
    (data / "accounts.csv").write_text(accounts(n_accounts, changes.get("accounts", frozenset()),
                                                changes.get("respelled", False)), encoding="utf-8")
    (data / "contacts.csv").write_text(contacts(n_contacts, changes.get("contacts", frozenset()),
                                                changes.get("respelled", False)), encoding="utf-8")
    (data / "tasks.csv").write_text(tasks(n_tasks, changes.get("tasks", frozenset())), encoding="utf-8")
    plan = project / "predict.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    return plan


def _check(org, plan):
    result = api.check(plan, target="test", home=org.project / ".migrator", project_dir=org.project, env=org.env,
                       clock=FAST)
    return {f.step: f for f in result.forecast}, result


def test_prediction_is_exact_on_a_partly_loaded_org(org):
    first = org.run(write(org.project, 20, 30, 10))
    assert first.exit_code == 0, first.results
    # the full export: 10 more accounts, 15 more contacts, 5 more tasks; some loaded rows changed,
    # every loaded row respelled (thousands separators, another date format, yes/no)
    plan = write(org.project, 30, 45, 15, accounts=frozenset({1, 4}), contacts=frozenset({0, 2, 5}),
                 tasks=frozenset({3}), respelled=True)
    forecast, result = _check(org, plan)
    assert result.exit_code == 0 and not result.problems
    shape = {step: (f.created, f.updated, f.unchanged) for step, f in forecast.items()}
    assert shape == {"Account": (10, 2, 18), "Contact": (15, 3, 27), "Task": (5, 1, 9)}

    second = org.run(plan)
    assert second.exit_code == 0, second.results
    sources = {s["step"]: s for s in second.results["sources"]}
    created = {s["step"]: 0 for s in second.results["steps"]}
    for step in second.results["steps"]:
        if step["pass"] == 1:
            created[step["step"]] += step["created"]
    for step, f in forecast.items():
        assert created[step] == f.created, step
        assert sources[step]["succeeded"] == f.created + f.updated + f.unchanged, step


def test_changed_only_sends_exactly_the_changed_rows(org):
    assert org.run(write(org.project, 30, 45, 15)).exit_code == 0
    plan = write(org.project, 30, 45, 15, accounts=frozenset({2, 7, 11}), contacts=frozenset({4}),
                 tasks=frozenset({0, 9}), respelled=True)
    result = org.run(plan, changed_only=True)
    totals = result.results["totals"]
    assert result.exit_code == 0, result.results
    assert (totals["sent"], totals["succeeded"], totals["updated"], totals["unchanged"]) == (6, 6, 6, 84)
    sources = {s["step"]: s for s in result.results["sources"]}
    assert {k: (v["sent"], v["unchanged"]) for k, v in sources.items()} == {
        "Account": (3, 27), "Contact": (1, 44), "Task": (2, 13)}
    names = {r["Legacy_Id__c"]: r["Name"] for r in org.query("SELECT Legacy_Id__c, Name FROM Account")}
    assert names["A7"] == "Account 7 (renamed)" and names["A8"] == "Account 8"
    what = {r["Legacy_Id__c"]: r["What"]["Name"] for r in org.query("SELECT Legacy_Id__c, What.Name FROM Task")}
    assert what["T9"] == "Account 1" and what["T1"] == "Account 1"
    unchanged = read_table(result.paths.root / "plan" / "unchanged.csv")
    assert len(unchanged) == 84 and set(unchanged["step"]) == {"Account", "Contact", "Task"}
    steps = {s["id"]: s for s in result.results["steps"]}
    per_step = read_table(result.paths.root / steps["Task"]["files"]["unchanged"])
    assert len(per_step) == 13 and "T0" not in set(per_step["key"])
    assert set(per_step["source_file"]) == {"data/tasks.csv"}
    assert list(per_step.columns) == ["step", "object", "source_file", "source_row", "key"]
    accounts_same = pd.concat([read_table(result.paths.root / s["files"]["unchanged"]) for s in result.results["steps"]
                               if s["step"] == "Account" and s["pass"] == 1 and "unchanged" in s["files"]])
    assert len(accounts_same) == 27 and not {"A2", "A7", "A11"} & set(accounts_same["key"])
    # the report shows them as an outcome of their own
    html = (result.paths.root / "report.html").read_text(encoding="utf-8")
    assert 'id="kpi-unchanged">84<' in html
    # the parts sent hold the changed rows whole (rewritten from the rows the comparison read)
    parts = [read_table(f) for f in sorted((result.paths.root / "plan").glob("**/part-*.csv"))
             if not f.name.endswith(".source.csv")]
    sent_keys = sorted(k for part in parts for k in part["Legacy_Id__c"])
    assert sent_keys == ["A11", "A2", "A7", "C4", "T0", "T9"], sent_keys
    accounts = next(part for part in parts if "A7" in set(part["Legacy_Id__c"]))
    assert accounts.set_index("Legacy_Id__c").loc["A7", "Name"] == "Account 7 (renamed)"
    contacts = next(part for part in parts if "C4" in set(part["Legacy_Id__c"]))
    assert contacts["Account.Legacy_Id__c"].str.fullmatch(r"A\d+").all(), contacts  # keys, not resolved Ids

    again = org.run(plan, changed_only=True)
    assert again.results["totals"]["sent"] == 0 and again.results["totals"]["unchanged"] == 90
    assert sum(len(read_table(again.paths.root / s["files"]["unchanged"])) for s in again.results["steps"]
               if s["step"] == "Account" and s["pass"] == 1 and "unchanged" in s["files"]) == 30


def test_rows_naming_a_parent_nobody_has_are_predicted_to_fail(org):
    assert org.run(write(org.project, 5, 4, 2)).exit_code == 0
    plan = write(org.project, 5, 4, 2)
    contacts = org.project / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text(encoding="utf-8") + 'C90,Last90,false,"x",A999\nC91,Last91,true,"y",A4\n',
                        encoding="utf-8")
    forecast, result = _check(org, plan)
    contact = forecast["Contact"]
    assert (contact.created, contact.unchanged, contact.parent_missing) == (1, 4, 1)
    assert result.exit_code == 1 and result.refused_rows == 1
    run = org.run(plan, changed_only=True)
    totals = run.results["totals"]
    assert (totals["sent"], totals["succeeded"], totals["failed"]) == (2, 1, 1)  # C91 loads, C90 fails at the org
