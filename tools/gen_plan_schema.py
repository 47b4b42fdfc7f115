"""Writes migrator/plan/plan.schema.json (the plan format's JSON Schema, draft 2020-12).

The schema is written here as Python so that shared pieces (identifiers, formats) are defined once;
run `python tools/gen_plan_schema.py` after changing it. A unit test checks the committed file is
up to date and that `schemas/plan.schema.json` at the repository root is the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Salesforce API names: a letter, then letters/digits in words joined by `_` (or `__` before a
# namespace or suffix such as __c); no trailing or tripled underscores.
API_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9]*(?:__?[A-Za-z0-9]+)*$"
API_NAME = {"type": "string", "pattern": API_NAME_PATTERN}
STEP_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
VARIABLE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
COLUMN_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
OPERATION = {
    "enum": ["insert", "update", "upsert", "delete", "hardDelete"],
    "description": "Bulk API operation. upsert needs external_id; update, delete and hardDelete need `id` "
    "(a source column of Salesforce Ids); delete and hardDelete take no fields.",
}
FORMATS = {
    "description": "strftime format(s) the source uses, tried in order, e.g. \"%d/%m/%Y\". "
    "ISO 8601 is always accepted.",
    "oneOf": [{"type": "string", "minLength": 1},
              {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}],
}
TIMEZONE = {"type": "string", "minLength": 1,
            "description": "IANA time zone of source datetimes without an offset, e.g. Europe/Paris. "
            "Output is always UTC."}
DECIMAL = {"enum": [".", ","], "description": "Decimal separator of source numbers. With \",\", "
           "dots and spaces are thousands separators; with \".\", commas are."}
NULL_POLICY = {"enum": ["leave", "clear"],
               "description": "What a blank value means: leave (the field is left unchanged on update "
               "and unset on insert) or clear (sent as #N/A, which blanks the field in Salesforce)."}
API = {"enum": ["bulk2", "bulk1"], "description": "Bulk API version used for this step."}
CONCURRENCY = {"enum": ["parallel", "serial"],
               "description": "Bulk API 1.0 concurrency mode; serial avoids lock contention on hot parents."}
PART_ROWS = {"type": "integer", "minimum": 1, "maximum": 150_000_000,
             "description": "Maximum rows per CSV part (one Bulk job per part)."}
PART_MB = {"type": "number", "exclusiveMinimum": 0, "maximum": 100,
           "description": "Maximum size of a CSV part in MB (Bulk API 2.0 accepts about 100 MB raw)."}
SKIP_UNCHANGED = {"type": "boolean",
                  "description": "Changed-only loads: compare each row with the target's current values of the "
                  "mapped fields and send only the rows that differ (as `run --changed-only` does); unchanged "
                  "rows are an outcome of their own."}
TRIM = {"type": "boolean", "description": "Strip leading and trailing white space from source values "
        "(default true)."}
SOURCE_FILE = {"type": "string", "minLength": 1,
               "description": "File name or glob, relative to sources.dir (e.g. accounts.csv, exports/acc-*.csv)."}
ENCODING = {"type": "string", "minLength": 1,
            "description": "Text encoding of the source files (default utf-8; a UTF-8 BOM is skipped)."}
DELIMITER = {"type": "string", "minLength": 1, "maxLength": 1,
             "description": "Column delimiter of the source files (default \",\")."}
SOURCE_KIND = {"enum": ["csv", "parquet", "jsonl", "json", "xlsx", "sql"],
               "description": "How the source is read (default: from the file's extension: .csv, .parquet, "
               ".jsonl/.ndjson, .json, .xlsx; sql when url is given). A file that is not of its kind is refused "
               "with a message naming it."}

# --- generated sources and masks (docs/fake-data.md) -------------------------------------------------
LOCALE = {"type": "string", "minLength": 1,
          "description": "Faker locale of the values, e.g. en_US, fr_FR, de_DE (default en_US)."}
FAKE_ARGS = {"type": "object", "description": "Keyword arguments of the Faker provider, e.g. {text: \"??-####\"} "
             "for bothify.",
             "additionalProperties": {"type": ["string", "number", "boolean", "array", "null"]}}
POOL = {"type": "integer", "minimum": 1, "maximum": 100_000,
        "description": "How many distinct Faker values are made (once); rows draw from them (default 1000)."}
FAKE_PROVIDER = {"type": "string", "minLength": 1,
                 "description": "A Faker provider, e.g. company, first_name, city, bothify; date providers "
                 "(date_between, date_of_birth...) count from the anchor date, never from today."}
DATE_BOUND = {"type": "string", "minLength": 1,
              "description": "An ISO date (2024-01-31) or a date relative to the anchor date: today, now, "
              "-30d, +2w, -1y +6m."}
DATE_RANGE = {"type": "object", "additionalProperties": False,
              "description": "A uniform date between two bounds (both included).",
              "properties": {"from": {**DATE_BOUND, "description": "First possible value (default today). "
                                      + DATE_BOUND["description"]},
                             "to": {**DATE_BOUND, "description": "Last possible value (default today). "
                                    + DATE_BOUND["description"]}}}
COLUMN_SPEC = {
    "description": "How a generated column gets its values: a Faker provider name, or a mapping with exactly "
    "one generator.",
    "oneOf": [
        {**FAKE_PROVIDER, "description": "Shorthand for {fake: PROVIDER}: " + FAKE_PROVIDER["description"]},
        {"type": "object", "additionalProperties": False, "properties": {
            "seq": {"type": "string", "minLength": 1,
                    "description": "The row number formatted: \"ACC-{:06d}\"; {seed} is the seed. Keys made "
                    "this way are the same in every run, so a second run creates nothing."},
            "start": {"type": "integer", "description": "Number of the first row of a seq (default 1)."},
            "choice": {"description": "Weighted values {Hot: 1, Warm: 3, Cold: 6}, or a list of equally likely "
                       "values.",
                       "oneOf": [{"type": "object", "additionalProperties": {"type": "number"}},
                                 {"type": "array", "items": {"type": ["string", "number", "boolean"]},
                                  "minItems": 1}]},
            "number": {"type": "object", "additionalProperties": False, "required": ["min", "max"],
                       "description": "A uniform number between min and max (both included).",
                       "properties": {
                           "min": {"type": "number", "description": "Smallest value."},
                           "max": {"type": "number", "description": "Largest value."},
                           "decimals": {"type": "integer", "minimum": 0, "maximum": 9,
                                        "description": "Digits after the decimal point (default 0 for whole "
                                        "min and max, else 2)."}}},
            "date": {**DATE_RANGE, "description": "A date (YYYY-MM-DD) between from and to."},
            "datetime": {**DATE_RANGE, "description": "A UTC datetime (YYYY-MM-DDTHH:MM:SSZ) between from and to."},
            "fake": FAKE_PROVIDER,
            "args": FAKE_ARGS,
            "locale": LOCALE,
            "pool": POOL,
            "template": {"type": "string", "minLength": 1,
                         "description": "Sandboxed Jinja over the row's other generated columns and vars.NAME, "
                         "e.g. \"{{ first | lower }}.{{ last | lower }}@example.com\"."},
            "parent": {"type": "string", "minLength": 1,
                       "description": "A column of the parent row (the row of the `per` step this row was "
                       "generated for)."},
            "ref": {"type": "string", "minLength": 1,
                    "description": "STEP.COLUMN: that column of a row of another generated step, picked at "
                    "random."},
            "blank": {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                      "description": "Fraction of rows left blank (default 0)."},
        }},
    ],
}
GENERATE_SPEC = {
    "type": "object", "additionalProperties": False, "required": ["columns"],
    "description": "Rows generated from the plan instead of read from a file: seeded, reproducible.",
    "properties": {
        "count": {"description": "Rows to generate; with per, children of each parent row: a number, a range "
                  "2..5, or weights {1: 3, 2: 1}. --scale multiplies the counts of sources without per.",
                  "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "minLength": 1},
                            {"type": "object", "additionalProperties": {"type": "number"}}]},
        "per": {"type": "string", "pattern": STEP_NAME_PATTERN,
                "description": "A generated step: `count` rows are generated for each of its rows."},
        "seed": {"type": "integer", "minimum": 0,
                 "description": "The seed every column is drawn from (default defaults.seed, else 0)."},
        "locale": LOCALE,
        "anchor": {"type": "string", "pattern": VARIABLE_NAME_PATTERN,
                   "description": "The plan variable holding the date relative dates count from (default "
                   "today), so that \"today\" is the same on every machine."},
        "columns": {"type": "object", "minProperties": 1, "description": "Column name -> how its values are "
                    "generated. Fields read them as they read file columns.",
                    "propertyNames": {"pattern": COLUMN_NAME_PATTERN}, "additionalProperties": COLUMN_SPEC},
    },
}

SOURCE_SPEC = {
    "type": "object", "additionalProperties": False,
    "description": "A file ({file, kind, ...}), a SQL database ({url, query} or {url, table}), or rows generated "
    "from the plan ({generate: ...}).",
    "anyOf": [{"required": ["file"]}, {"required": ["url"]}, {"required": ["generate"]}],
    "properties": {
        "file": SOURCE_FILE,
        "kind": SOURCE_KIND,
        "encoding": ENCODING,
        "delimiter": DELIMITER,
        "columns": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
                    "uniqueItems": True,
                    "description": "Only these columns are read (pushed down to Parquet and SQL). For JSON, the "
                    "columns to expect even when the first rows lack them (nested keys as a.b)."},
        "sheet": {"type": ["string", "integer"],
                  "description": "Excel: the worksheet, by name or 1-based position (default: the first)."},
        "header_row": {"type": "integer", "minimum": 1,
                       "description": "Excel: the row holding the column names (default 1); rows below it are data."},
        "url": {"type": "string", "minLength": 1,
                "description": "SQL: the name of a [databases] entry of migrator.toml, or a SQLAlchemy URL "
                "without a password (postgresql://user@host/db, sqlite:///data/legacy.db relative to "
                "sources.dir). Passwords come from the environment, never from the plan."},
        "query": {"type": "string", "minLength": 1,
                  "description": "SQL: the SELECT to read, streamed with a server-side cursor. Give it an ORDER BY "
                  "so that parts are the same from run to run."},
        "table": {"type": "string", "minLength": 1,
                  "description": "SQL: a table (or schema.table) to read whole, in primary-key order."},
        "key": {"type": "string", "minLength": 1,
                "description": "SQL: the column that names a row in rejects (default: the table's primary key; "
                "for a query, the row number)."},
        "generate": GENERATE_SPEC,
    },
}
MASK_WORDS = ["name", "first_name", "last_name", "email", "phone", "street", "hash", "redact", "null"]
MASK_SPEC = {
    "description": "Replace the value by a deterministic fake: the same input gives the same output in every "
    "object and run, keyed by a secret from the environment (never in the plan).",
    "oneOf": [
        {"type": "string", "enum": MASK_WORDS,
         "description": "name, first_name, last_name, email (keeps the domain), phone (keeps the format), "
         "street, hash, redact, null."},
        {"type": "object", "additionalProperties": False, "properties": {
            "email": {"type": "string", "minLength": 1,
                      "description": "keep (each address keeps its domain) or the domain every masked address "
                      "gets, e.g. example.com."},
            "redact": {"type": "string", "description": "The text every value is replaced with."},
            "fake": FAKE_PROVIDER,
            "args": FAKE_ARGS,
            "locale": LOCALE,
            "pool": POOL,
        }},
    ],
}

FIELD_SPEC = {
    "type": "object",
    "description": "How a field gets its value. Use at most one of from, value and template; with none "
    "of them the source column named like the field is used.",
    "additionalProperties": False,
    "properties": {
        "from": {"type": "string", "minLength": 1, "description": "Source column to read."},
        "file": {"type": "string", "minLength": 1,
                 "description": "Binary fields (ContentVersion.VersionData, Attachment.Body, Document.Body): the "
                 "source column holding each row's file path, relative to sources.files. The file's bytes are "
                 "sent, in Bulk API 1.0 ZIP batches (REST for a file too big for a batch); a missing file is a "
                 "reject naming its path."},
        "value": {"type": ["string", "number", "boolean"],
                  "description": "Constant written on every row (kept exactly as written)."},
        "template": {"type": "string", "minLength": 1,
                     "description": "Sandboxed Jinja template over the row's source columns (by name, or "
                     "row['name with spaces']) and plan variables (vars.name)."},
        "type": {"enum": ["string", "number", "integer", "boolean", "date", "datetime", "picklist",
                          "multipicklist", "email"],
                 "description": "Conversion applied to the value (default string). Values that do not "
                 "convert make the row a reject."},
        "format": FORMATS,
        "timezone": TIMEZONE,
        "decimal": DECIMAL,
        "map": {"type": "object",
                "description": "Value translation: source value -> target value (null clears it). "
                "Applied after trim, before type conversion.",
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        "ignore_case": {"type": "boolean", "description": "Match `map` keys and picklist `values` "
                        "ignoring case (default false)."},
        "default": {"type": ["string", "number", "boolean"],
                    "description": "Value used where the result would be blank, and, with map, for "
                    "source values the map does not list."},
        "values": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True,
                   "description": "Allowed values of a picklist or multipicklist; others are rejected."},
        "trim": TRIM,
        "truncate": {"type": "integer", "minimum": 1,
                     "description": "Cut longer values to this many characters."},
        "max_length": {"type": "integer", "minimum": 1,
                       "description": "Reject rows whose value is longer than this many characters."},
        "required": {"type": "boolean", "description": "Reject rows where this field ends up blank."},
        "null": NULL_POLICY,
        "mask": MASK_SPEC,
        "record_type": {
            "description": "The value is a record type's DeveloperName, resolved to its Id from the target "
            "(describe or snapshot): a source column, or {value: NAME} for every row. An unknown name is a "
            "reject listing the object's record types. Takes the place of from, value and template.",
            "oneOf": [{"type": "string", "minLength": 1},
                      {"type": "object", "additionalProperties": False, "required": ["value"],
                       "properties": {"value": {"type": "string", "minLength": 1,
                                                "description": "The DeveloperName every row gets."}}}]},
        "user": {
            "description": "The value is a user's Username (or Email, see the plan's `users`), sent as that "
            "user's Id in the target: a source column, or {value: USERNAME} for every row. The plan's "
            "users.map translates names from the source org; users the target does not have get "
            "users.default, else the row is a reject. Takes the place of from, value and template.",
            "oneOf": [{"type": "string", "minLength": 1},
                      {"type": "object", "additionalProperties": False, "required": ["value"],
                       "properties": {"value": {"type": "string", "minLength": 1,
                                                "description": "The username every row gets."}}}]},
        "source_id": {"type": "boolean",
                      "description": "For extract and copy: the step's key field, filled with the source "
                      "record's Id where the source org leaves it blank, so records without an external id "
                      "are keyed by where they came from (e.g. Source_Id__c) and copying again updates them."},
    },
    "not": {"anyOf": [{"required": ["from", "value"]}, {"required": ["from", "template"]},
                      {"required": ["value", "template"]}, {"required": ["record_type", "from"]},
                      {"required": ["record_type", "value"]}, {"required": ["record_type", "template"]},
                      {"required": ["user", "from"]}, {"required": ["user", "value"]},
                      {"required": ["user", "template"]}, {"required": ["user", "record_type"]}]},
}

LOOKUP_SPEC = {
    "type": "object",
    "description": "A reference field filled by the parent's key. It is sent as a relationship header "
    "such as Account.Legacy_Id__c, so Salesforce resolves the parent: no Id maps needed.",
    "additionalProperties": False,
    "required": ["from", "to"],
    "properties": {
        "from": {"type": "string", "minLength": 1, "description": "Source column holding the parent's key."},
        "to": {"description": "Parent object(s). Several objects make a polymorphic lookup whose type "
               "comes from type_from.",
               "oneOf": [API_NAME, {"type": "array", "items": API_NAME, "minItems": 1, "uniqueItems": True}]},
        "key": {**API_NAME, "description": "Parent field matched (an external id or idLookup field); "
                "defaults to the parent step's external_id."},
        "type": {**API_NAME, "description": "Object type of a polymorphic lookup with one target, used "
                 "in the header prefix (e.g. Contact:Who.Legacy_Id__c). WhoId and WhatId are known "
                 "polymorphic fields; for them it defaults to `to`."},
        "type_from": {"type": "string", "minLength": 1,
                      "description": "Source column naming each row's parent type (polymorphic with "
                      "several `to`)."},
        "types": {"type": "object", "additionalProperties": API_NAME,
                  "description": "Translation of type_from values to object names, e.g. {opp: Opportunity}."},
        "relationship": {**API_NAME, "description": "Relationship name, if not derived from the field "
                         "(AccountId -> Account, Foo__c -> Foo__r)."},
        "defer": {"type": "boolean", "description": "true: always set this lookup in a pass-2 update; "
                  "false: never defer it (a cycle through it is an error). Default: deferred only to "
                  "break a cycle."},
        "existing": {"type": "boolean", "description": "The parents already exist in the target org and "
                     "are not loaded by this plan (no ordering, no missing-parent check)."},
        "missing": {"enum": ["send", "blank", "reject"],
                    "description": "What to do with a row whose parent key is not among the parents this "
                    "plan loads: send it anyway (the default; Salesforce fails the row unless the parent "
                    "already exists in the org), blank (send the row without this lookup) or reject "
                    "(refuse the row before sending). --strict turns send into reject."},
    },
}

OBJECT_SPEC = {
    "type": "object",
    "description": "One step: load one source into one sObject with one operation.",
    "additionalProperties": False,
    "required": ["object", "source"],
    "properties": {
        "object": {**API_NAME, "description": "sObject API name, e.g. Account or Project__c."},
        "name": {"type": "string", "pattern": STEP_NAME_PATTERN,
                 "description": "Step name, unique in the plan (default: the object name). Two steps "
                 "on the same object need distinct names."},
        "description": {"type": "string", "description": "Free text shown in reports."},
        "source": {"description": "Where this step's rows come from: a file name or glob, or a source spec "
                   "(a file, a database, or rows generated from the plan).",
                   "oneOf": [SOURCE_FILE, SOURCE_SPEC]},
        "where": {"type": "string", "minLength": 1,
                  "description": "Keep only source rows matching this condition, e.g. \"status != "
                  "'deleted' and country in ('FR', 'DE')\". Columns by name, or in backticks when they "
                  "contain spaces or punctuation; comparisons == != < <= > >= (a single = also means "
                  "equality; comparing with a number literal compares numerically), in / not in a "
                  "list, and / or / not, parentheses, vars.NAME, and the functions blank, lower, "
                  "upper, trim, len and number."},
        "operation": OPERATION,
        "external_id": {**API_NAME, "description": "External id field used by upsert and as the key "
                        "children reference (e.g. Legacy_Id__c), or Id."},
        "id": {"type": "string", "minLength": 1,
               "description": "Source column holding Salesforce record Ids (update, delete, hardDelete)."},
        "fields": {"type": "object", "description": "Target field API name -> source column name, or a "
                   "field spec.",
                   "propertyNames": API_NAME,
                   "additionalProperties": {"oneOf": [{"type": "string", "minLength": 1}, FIELD_SPEC]}},
        "lookups": {"type": "object", "description": "Reference field API name -> lookup spec.",
                    "propertyNames": API_NAME, "additionalProperties": LOOKUP_SPEC},
        "api": API,
        "concurrency": CONCURRENCY,
        "part_rows": PART_ROWS,
        "part_mb": PART_MB,
        "skip_unchanged": SKIP_UNCHANGED,
        "delete_where": {"type": "string", "minLength": 1,
                         "description": "SOQL condition on the target selecting the records this step owns, "
                         "e.g. \"CreatedDate = TODAY\": `migrator delete` and `copy --clean` delete them too "
                         "(besides the records of the plan's keys)."},
    },
}

USERS = {
    "type": "object",
    "description": "How `user:` fields (OwnerId and other lookups to User) find users in the target.",
    "additionalProperties": False,
    "properties": {
        "match": {"enum": ["username", "email"],
                  "description": "Users are named by Username (default) or by Email."},
        "map": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
                "description": "Name in the source org -> name in the target (used when the target has it), "
                "e.g. {jane@acme.com: jane@acme.com.uat}."},
        "default": {"type": "string", "minLength": 1,
                    "description": "The user given to records whose user the target does not have (without "
                    "it, such rows are rejected)."},
    },
}

DEFAULTS = {
    "type": "object",
    "description": "Values every step and field inherits unless it sets its own.",
    "additionalProperties": False,
    "properties": {
        "operation": OPERATION,
        "external_id": {**API_NAME, "description": "Default external id field for every step."},
        "api": API,
        "concurrency": CONCURRENCY,
        "part_rows": PART_ROWS,
        "part_mb": PART_MB,
        "trim": TRIM,
        "null": NULL_POLICY,
        "timezone": TIMEZONE,
        "decimal": DECIMAL,
        "skip_unchanged": SKIP_UNCHANGED,
        "date_format": {**FORMATS, "description": "Default source format(s) of date fields."},
        "datetime_format": {**FORMATS, "description": "Default source format(s) of datetime fields."},
        "seed": {"type": "integer", "minimum": 0, "description": "Seed of every generated source that sets none."},
        "locale": LOCALE,
    },
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://migrator.dev/schemas/plan.schema.json",
    "title": "migrator plan",
    "description": "A migrator plan: which source files load into which Salesforce objects, how fields "
    "are mapped and converted, and how records reference each other.",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "name", "objects"],
    "properties": {
        "version": {"const": 1, "description": "Plan format version; this schema describes version 1."},
        "name": {"type": "string", "pattern": STEP_NAME_PATTERN,
                 "description": "Plan name: used in run directories and reports."},
        "description": {"type": "string", "description": "What this plan is for."},
        "variables": {"type": "object",
                      "description": "Named values templates and where filters can use as vars.NAME; "
                      "override with --var NAME=VALUE.",
                      "propertyNames": {"pattern": VARIABLE_NAME_PATTERN},
                      "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "sources": {"type": "object", "description": "Where source files are.",
                    "additionalProperties": False,
                    "properties": {
                        "dir": {"type": "string", "minLength": 1,
                                "description": "Directory of the source files, relative to the plan file "
                                "(default: the plan's directory)."},
                        "files": {"type": "string", "minLength": 1,
                                  "description": "Folder of the files that binary fields name (file: COLUMN), "
                                  "relative to the plan file (default: sources.dir); inside the project."},
                        "encoding": ENCODING, "delimiter": DELIMITER}},
        "defaults": DEFAULTS,
        "users": USERS,
        "objects": {"type": "array", "items": OBJECT_SPEC, "minItems": 1,
                    "description": "The steps, in any order: the load order follows from the lookups."},
        "load_order": {"type": "array", "minItems": 1,
                       "description": "Optional explicit order of objects or step names; an inner list "
                       "loads together. Checked against the lookups.",
                       "items": {"oneOf": [{"type": "string", "minLength": 1},
                                           {"type": "array", "items": {"type": "string", "minLength": 1},
                                            "minItems": 1}]}},
    },
}


def schema_text() -> str:
    """The schema file's exact content (the unit test compares it with the committed file)."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    (ROOT / "migrator" / "plan" / "plan.schema.json").write_text(schema_text(), encoding="utf-8")
    print("wrote migrator/plan/plan.schema.json")


if __name__ == "__main__":
    main()
