"""The plan's JSON Schema, and its errors rewritten for people.

jsonschema's messages are written for schema authors ("{...} is not valid under any of the given
schemas"); plan authors need to know which key is wrong, on which line, and what was probably
meant. `schema_problems` validates plain plan data and turns each error into a located Problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from migrator.errors import Problem
from migrator.plan.positions import Path, PositionedDocument, format_path
from migrator.plan.suggest import did_you_mean

SUPPORTED_VERSIONS = (1,)

# What each pattern of the schema means, in words (a unit test checks every pattern is listed).
PATTERN_HELP = {
    r"^[A-Za-z][A-Za-z0-9]*(?:__?[A-Za-z0-9]+)*$":
        "a valid API name (a letter, then letters, digits and single underscores, "
        "or __ before a suffix such as __c)",
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": "a valid name (letters, digits, '_', '.' and '-', no spaces)",
    r"^[A-Za-z][A-Za-z0-9_]*$": "a valid variable name (a letter, then letters, digits and '_')",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "a valid column name (a letter or '_', then letters, digits and '_')",
}

_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "text", "number": "a number",
               "integer": "a whole number", "boolean": "true or false", "null": "empty"}


@cache
def plan_schema() -> dict[str, Any]:
    """The plan schema shipped inside the package (migrator/plan/plan.schema.json)."""
    text = (resources.files("migrator.plan") / "plan.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(plan_schema())


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {dict: "object", list: "array", str: "string", float: "number",
            type(None): "null"}.get(type(value), "string")


def _describe(value: object) -> str:
    kind = json_type(value)
    if kind in ("string", "integer", "number", "boolean") and len(repr(value)) <= 40:
        return f"{_TYPE_WORDS[kind]} {value!r}" if kind != "boolean" else repr(value).lower()
    return _TYPE_WORDS[kind]


def _types_of(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _type_matches(schema: Mapping[str, Any], value: object) -> bool:
    types = _types_of(schema)
    kind = json_type(value)
    return not types or kind in types or (kind == "integer" and "number" in types)


def _words(types: list[str]) -> str:
    names = [_TYPE_WORDS[t] for t in dict.fromkeys(types)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class _Translator:
    def __init__(self, doc: PositionedDocument, file: str | None):
        self.doc, self.file = doc, file

    def problem(self, path: Path, message: str, *, key: bool = False, hint: str | None = None
                ) -> tuple[Path, Problem]:
        return path, Problem(message, file=self.file, line=self.doc.line_of(path, key=key),
                             path=format_path(path) or None, hint=hint)

    def translate(self, error: ValidationError) -> Iterator[tuple[Path, Problem]]:
        path: Path = tuple(error.absolute_path)
        keyword, value, instance = error.validator, error.validator_value, error.instance
        if "propertyNames" in error.relative_schema_path:
            # The instance is the offending key itself; point at the key's own line.
            path = (*path, str(instance))
            yield self.problem(path, self.pattern_message(instance, value, "key"), key=True)
        elif keyword == "additionalProperties" and isinstance(instance, dict):
            allowed = list(error.schema.get("properties", {}))
            for key in instance:
                if key not in allowed:
                    yield self.problem((*path, key), f"unknown key {key!r}", key=True,
                                       hint=did_you_mean(key, allowed) or self.allowed_hint(allowed))
        elif keyword in ("oneOf", "anyOf"):
            yield from self.branch(error, path)
        elif keyword == "required" and isinstance(instance, dict):
            for name in value:
                if name not in instance:
                    yield self.problem(path, f"missing required key {name!r}")
        elif keyword == "type":
            yield self.problem(path, f"expected {_words(_types_of(error.schema))}, "
                                     f"got {_describe(instance)}")
        elif keyword == "enum":
            choices = [str(v) for v in value]
            yield self.problem(path, f"{instance!r} is not allowed; use one of: {', '.join(choices)}",
                               hint=did_you_mean(str(instance), choices))
        elif keyword == "const" and path == ("version",):
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            yield self.problem(path, f"unsupported plan version {instance!r}; this migrator reads "
                                     f"plan format version {supported}")
        elif keyword == "pattern":
            yield self.problem(path, self.pattern_message(instance, value, "value"))
        elif keyword == "not" and isinstance(instance, dict):
            used = [k for k in ("from", "value", "template", "record_type", "user") if k in instance]
            special = [k for k in ("record_type", "user") if k in used]
            choices = f"from, value, template and {' and '.join(special)}" if special else "from, value and template"
            yield self.problem(path, f"use only one of {choices} (found {' and '.join(used)})")
        else:
            yield self.problem(path, self.simple_message(keyword, value, instance, error.message))

    def branch(self, error: ValidationError, path: Path) -> Iterator[tuple[Path, Problem]]:
        """Report the errors of the oneOf/anyOf branch written for the instance's JSON type."""
        branches = error.validator_value
        index = next((i for i, b in enumerate(branches) if _type_matches(b, error.instance)), None)
        if index is None:
            types = [t for b in branches for t in _types_of(b)]
            yield self.problem(path, f"expected {_words(types)}, got {_describe(error.instance)}")
            return
        chosen = [e for e in error.context or () if e.relative_schema_path[0] == index]
        if not chosen:
            yield self.problem(path, error.message)
        for sub in chosen:
            yield from self.translate(sub)

    @staticmethod
    def allowed_hint(allowed: list[str]) -> str | None:
        return f"allowed keys: {', '.join(allowed)}" if allowed else None

    @staticmethod
    def pattern_message(instance: object, pattern: str, what: str) -> str:
        meaning = PATTERN_HELP.get(pattern, f"matching the pattern {pattern}")
        return f"{what} {instance!r} is not {meaning}"

    @staticmethod
    def simple_message(keyword: str, value: Any, instance: object, default: str) -> str:
        if keyword == "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters long"
        if keyword == "maxLength":
            return f"must be at most {value} character{'s' if value != 1 else ''} long (got {instance!r})"
        if keyword == "minItems":
            return "must not be an empty list" if value == 1 else f"must list at least {value} items"
        if keyword == "uniqueItems":
            return "lists the same item more than once"
        if keyword == "minimum":
            return f"must be at least {value} (got {instance!r})"
        if keyword == "maximum":
            return f"must be at most {value} (got {instance!r})"
        if keyword == "exclusiveMinimum":
            return f"must be greater than {value} (got {instance!r})"
        return default


def _misspelt_required(found: Mapping[Problem, Path]) -> set[Problem]:
    """'missing required key X' problems whose key is present, misspelt: an unknown key beside it
    is suggested as X. One typo is one problem, reported where it was written."""
    suggested = {(path[:-1], problem.hint) for problem, path in found.items()
                 if problem.message.startswith("unknown key ") and problem.hint and path}
    return {problem for problem, path in found.items()
            if problem.message.startswith("missing required key ")
            and (path, f"did you mean {problem.message.removeprefix('missing required key ')}?") in suggested}


def schema_problems(doc: PositionedDocument, file: str | None) -> list[tuple[Path, Problem]]:
    """Validate the document against the plan schema; (path, problem) pairs, deduplicated, and a
    misspelt required key reported once (as the unknown key), not also as a missing one."""
    translator = _Translator(doc, file)
    found: dict[Problem, Path] = {}
    for error in _validator().iter_errors(doc.data):
        for path, problem in translator.translate(error):
            found.setdefault(problem, path)
    duplicates = _misspelt_required(found)
    return [(path, problem) for problem, path in found.items() if problem not in duplicates]
