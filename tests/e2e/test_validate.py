"""`migrator validate` as a user runs it: every problem in one pass, what `plan` refuses refused first,
sources read only inside the plan's project, and doubtful source data reported with its line."""

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from migrator.cli import cli


def write(folder: Path, plan: str, files: dict[str, str | bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    plan_file = folder / "plan.yaml"
    plan_file.write_text(textwrap.dedent(plan), encoding="utf-8")
    return plan_file


def validate(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["validate", *args, "--format", "json"])
    return result.exit_code, json.loads(result.output)


def problems(report: dict) -> list[tuple[int | None, str | None, str]]:
    return [(p["line"], p["path"], p["message"]) for p in report["problems"]]


CYCLE = """\
    version: 1
    name: cycle
    defaults: {operation: upsert, external_id: Legacy_Id__c}
    objects:
      - object: Account
        source: accounts.csv
        fields: {Legacy_Id__c: id, Name: name}
        lookups:
          Primary_Contact__c: {from: contact, to: Contact, defer: false}
      - object: Contact
        source: contacts.csv
        fields: {Legacy_Id__c: id, LastName: last}
        lookups:
          AccountId: {from: account, to: Account, defer: false}
    """


def test_validate_refuses_a_cycle_that_plan_refuses(tmp_path: Path):
    """Issue 10 item 19: validate passed a cycle no pass 2 can break; `plan` then refused it."""
    plan = write(tmp_path, CYCLE, {"accounts.csv": "id,name,contact\n", "contacts.csv": "id,last,account\n"})
    code, report = validate(str(plan))
    assert code == 2
    (problem,) = problems(report)
    assert problem[0] == 9 and problem[1].startswith("objects[0].lookups.Primary_Contact__c")
    assert "lookups form a cycle that cannot be broken: Account -> Contact -> Account" in problem[2]
    plan_run = CliRunner().invoke(cli, ["plan", str(plan), "--out", str(tmp_path / "out"), "--format", "json"])
    assert plan_run.exit_code == 2 and json.loads(plan_run.output)["problems"] == report["problems"]


def test_validate_refuses_a_load_order_against_the_lookups_at_the_load_order_line(tmp_path: Path):
    """Issue 10 item 19: the contradiction was reported by `plan` only, and at line 1."""
    plan = write(tmp_path, """\
        version: 1
        name: order
        defaults: {operation: upsert, external_id: Legacy_Id__c}
        objects:
          - object: Account
            source: accounts.csv
            fields: {Legacy_Id__c: id}
          - object: Contact
            source: contacts.csv
            fields: {Legacy_Id__c: id}
            lookups:
              AccountId: {from: account, to: Account, defer: false}
        load_order:
          - Contact
          - Account
        """, {"accounts.csv": "id\n", "contacts.csv": "id,account\n"})
    code, report = validate(str(plan))
    assert code == 2
    assert problems(report) == [(14, "load_order[0]", "load_order loads Contact before or together with Account, "
                                                      "but Contact.AccountId looks up Account")]


def test_every_problem_is_reported_in_one_pass(tmp_path: Path):
    """Issue 10 item 20: schema problems hid the semantic ones, which hid the source ones (three rounds)."""
    plan = write(tmp_path, """\
        version: 1
        name: rounds
        defaults: {operation: upsert, external_id: Legacy_Id__c, trim: maybe}
        objects:
          - object: Account
            source: accounts.csv
            fields:
              Legacy_Id__c: id
              Name: {from: company, typo: 1}
              Founded__c: {from: founded, type: date, format: "dd/mm/yyyy"}
              Rating: {from: ratng}
          - object: Contact
            source: contacts.csv
            operation: update
            fields: {LastName: last}
            lookups:
              AccountId: {from: acount, to: Acount}
        """, {"accounts.csv": "id,company,founded,rating\n", "contacts.csv": "id,last,account\n"})
    code, report = validate(str(plan), "--sources")
    assert code == 2
    found = problems(report)
    assert [(line, path) for line, path, _ in found] == [
        (3, "defaults.trim"),                          # schema, outside the steps
        (9, "objects[0].fields.Name.typo"),           # schema, inside a step
        (10, "objects[0].fields.Founded__c.format"),  # semantic
        (11, "objects[0].fields.Rating.from"),        # against the source header
        (14, "objects[1].operation"),                 # semantic: update needs id
        (17, "objects[1].lookups.AccountId.from"),    # against the source header
        (17, "objects[1].lookups.AccountId.to"),      # semantic: no step loads Acount
    ]
    assert "did you mean '%d/%m/%Y'?" in report["problems"][2]["hint"]
    assert report["problems"][3]["hint"] == "did you mean 'rating'?"


def test_a_misspelt_required_key_is_printed_once(tmp_path: Path):
    """Issue 10 item 31, as printed by the command."""
    plan = write(tmp_path, """\
        version: 1
        name: once
        objects:
          - object: Account
            source: {fil: accounts.csv}
        """)
    result = CliRunner().invoke(cli, ["validate", str(plan)])
    assert result.exit_code == 2
    assert result.output.count("unknown key 'fil'") == 1 and "1 problem in the plan" in result.output
    assert "missing required key" not in result.output


def test_validate_sources_reports_an_unclosed_quote_and_merged_records_with_their_line(tmp_path: Path):
    """Issue 10 item 5: validate --sources read only the headers, so it passed files `plan` fails on."""
    plan = write(tmp_path, """\
        version: 1
        name: quotes
        defaults: {operation: upsert, external_id: Legacy_Id__c}
        objects:
          - object: Account
            source: accounts.csv
            fields: {Legacy_Id__c: id, Name: name, Description: note}
          - object: Contact
            source: contacts.csv
            fields: {Legacy_Id__c: id, LastName: last}
        """, {"accounts.csv": 'id,name,note\nA1,Ann,x\nA2,Bob,"oops\nA3,Cy,z\n',
              "contacts.csv": 'id,last\nC1,"Smith\nC2,Jones\nC3,Brown"\nC4,Doe\n'})
    code, report = validate(str(plan), "--sources")
    assert code == 2
    assert problems(report) == [(6, "objects[0].source", "accounts.csv:3: unclosed quote: the quoted value opened "
                                 "on line 3 is never closed, so everything after it up to the end of the file would "
                                 "be read as one value; close or remove the quote")]
    (warning,) = report["warnings"]
    assert (warning["line"], warning["path"]) == (9, "objects[1].source")
    assert warning["message"].startswith("contacts.csv:2: the quoted value of column 'last' runs over lines 2-4")
    (tmp_path / "accounts.csv").write_text("id,name,note\nA1,Ann,x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(plan), "--sources"])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "contacts.csv:2: the quoted value" in result.output


def test_sources_outside_the_project_are_refused_and_never_read(tmp_path: Path):
    """Issue 10 item 26: `source:` read any file on the machine, and quoted its first line in the error."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    project = tmp_path / "project"
    plan = write(project, f"""\
        version: 1
        name: escape
        defaults: {{operation: insert}}
        objects:
          - object: Account
            source: ../elsewhere/secret.csv
            fields: {{Name: name}}
          - object: Contact
            source: {outside / 'secret.csv'}
            fields: {{LastName: last}}
          - object: Lead
            source: "../**/*.csv"
            fields: {{LastName: last}}
        """)
    code, report = validate(str(plan), "--sources")
    assert code == 2
    assert [(line, path) for line, path, _ in problems(report)] == [
        (6, "objects[0].source"), (9, "objects[1].source"), (12, "objects[2].source")]
    assert all("outside the plan's project" in p["message"] and "--allow-path" in p["hint"]
               for p in report["problems"])
    assert "root:x" not in json.dumps(report)
    code, report = validate(str(plan), "--sources", "--allow-path", str(outside), "--allow-path", str(tmp_path))
    assert code == 2  # allowed now: read, and checked like any source
    assert {p["path"] for p in report["problems"]} == {"objects[0].fields.Name", "objects[1].fields.LastName",
                                                        "objects[2].fields.LastName"}
    assert all("do not look like column names" in p["hint"] for p in report["problems"])
    assert "root:x" not in json.dumps(report)


def test_a_symbolic_link_out_of_the_project_is_refused(tmp_path: Path):
    (tmp_path / "outside.csv").write_text("id\n1\n", encoding="utf-8")
    project = tmp_path / "project"
    plan = write(project, """\
        version: 1
        name: link
        objects:
          - object: Account
            source: "data/*.csv"
            operation: insert
            fields: {Name: id}
        """)
    (project / "data").mkdir()
    (project / "data" / "link.csv").symlink_to(tmp_path / "outside.csv")
    code, report = validate(str(plan), "--sources")
    assert code == 2 and "leads to" in report["problems"][0]["message"]
    plan_run = CliRunner().invoke(cli, ["plan", str(plan), "--out", str(tmp_path / "out"), "--format", "json"])
    assert plan_run.exit_code == 2 and "outside the plan's project" in plan_run.output


def test_sources_beside_the_migrator_toml_above_the_plan_are_inside_the_project(tmp_path: Path):
    (tmp_path / "migrator.toml").write_text("", encoding="utf-8")
    plan = write(tmp_path / "plans", """\
        version: 1
        name: shared
        sources: {dir: ../data}
        objects:
          - object: Account
            source: accounts.csv
            operation: insert
            fields: {Name: name}
        """, {"../data/accounts.csv": "name\nAcme\n"})
    code, report = validate(str(plan), "--sources")
    assert code == 0, report
