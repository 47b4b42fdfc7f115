"""Plan file -> `Plan`: read YAML safely, check it against the schema and against itself, build
the typed model with `defaults` merged in.

Every problem found is gathered and raised at once as one PlanError, each located as
`FILE:LINE: path.to.field: what is wrong (did you mean ...?)`, because fixing a plan one error per
run is miserable. A schema problem cuts only the piece it is in (see `prune`): the rest of the plan,
its sources and (given the compile stage's check) its load graph are still checked in the same pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from migrator.errors import PlanError, Problem
from migrator.plan import checks, file_checks, source_checks, source_kinds
from migrator.plan.checks import PlanCheck, PlanContext
from migrator.plan.fakebuild import build_generate, build_mask
from migrator.plan.file_checks import file_fields
from migrator.plan.model import (
    DEFAULT_PART_BYTES,
    DEFAULT_PART_ROWS,
    POLYMORPHIC_FIELDS,
    FieldSpec,
    Location,
    LookupSpec,
    MaskSpec,
    ObjectSpec,
    Plan,
    SourceSpec,
    UserMapping,
)
from migrator.plan.positions import Path as NodePath
from migrator.plan.positions import PositionedDocument, format_path, load_positioned
from migrator.plan.project import project_roots
from migrator.plan.prune import prune
from migrator.plan.schema import schema_problems
from migrator.plan.source_checks import HeaderReader

MEGABYTE = 1024 * 1024


def _text(value: object) -> str | None:
    """Scalars as the text the transform works with (bools as true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _formats(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)  # type: ignore[union-attr]


class _Builder:
    """Builds model objects from schema-valid plan data; knows nothing about checking."""

    def __init__(self, doc: PositionedDocument, file: str):
        self.doc, self.file = doc, file
        self.data: dict[str, Any] = doc.data  # type: ignore[assignment]
        self.defaults: dict[str, Any] = self.data.get("defaults", {})
        self.sources: dict[str, Any] = self.data.get("sources", {})
        self.problems: list[Problem] = []  # found while building generated sources and masks

    def location(self, path: NodePath, *, key: bool = True) -> Location:
        return Location(self.file, self.doc.line_of(path, key=key), format_path(path))

    def problem_at(self, path: NodePath, message: str, *, key: bool = False, hint: str | None = None) -> Problem:
        return Problem(message, file=self.file, line=self.doc.line_of(path, key=key), path=format_path(path) or None,
                       hint=hint)

    def inherited(self, raw: Mapping[str, Any], key: str, default: Any) -> Any:
        """The step's or field's own setting, else the plan default, else the built-in one."""
        return raw[key] if key in raw else self.defaults.get(key, default)

    def step(self, index: int) -> ObjectSpec:
        raw: dict[str, Any] = self.data["objects"][index]
        path: NodePath = ("objects", index)
        part_mb = self.inherited(raw, "part_mb", None)
        return ObjectSpec(
            object=raw["object"],
            name=raw.get("name", raw["object"]),
            source=self.source(raw["source"], (*path, "source"), raw.get("name", raw["object"])),
            operation=self.inherited(raw, "operation", "upsert"),
            fields=tuple(self.field(name, spec, (*path, "fields", name))
                         for name, spec in raw.get("fields", {}).items()),
            lookups=tuple(self.lookup(name, spec, (*path, "lookups", name))
                          for name, spec in raw.get("lookups", {}).items()),
            where=raw.get("where"),
            external_id=self.external_id(raw),
            id_source=raw.get("id"),
            api=self.inherited(raw, "api", "bulk1" if file_fields(raw) else "bulk2"),
            concurrency=self.inherited(raw, "concurrency", "parallel"),
            part_rows=int(self.inherited(raw, "part_rows", DEFAULT_PART_ROWS)),
            part_bytes=int(part_mb * MEGABYTE) if part_mb is not None else DEFAULT_PART_BYTES,
            skip_unchanged=bool(self.inherited(raw, "skip_unchanged", False)),
            delete_where=raw.get("delete_where"),
            location=self.location(path, key=False),
        )

    def external_id(self, raw: Mapping[str, Any]) -> str | None:
        """The step's external id. An insert step inherits the default one only if it maps that
        field: a key the step never sends cannot identify its rows."""
        if "external_id" in raw:
            return raw["external_id"]
        inherited = self.defaults.get("external_id")
        operation = self.inherited(raw, "operation", "upsert")
        if operation == "insert" and inherited not in raw.get("fields", {}):
            return None
        return inherited

    def source(self, raw: str | dict[str, Any], path: NodePath, step: str) -> SourceSpec:
        spec = {"file": raw} if isinstance(raw, str) else raw
        if "generate" in spec:
            generate, problems = build_generate(spec["generate"], (*path, "generate"), step, self.defaults,
                                                self.problem_at, self.location)
            self.problems += problems
            if "file" in spec:
                self.problems.append(self.problem_at((*path, "file"), "a source is a file or generated rows, "
                                                     "not both: remove file or generate", key=True))
            return SourceSpec(pattern=generate.display, location=self.location(path, key=False), generate=generate)
        if "file" not in spec and "url" not in spec:
            self.problems.append(self.problem_at(path, "a source needs file (a file name or glob), url (a database) "
                                                 "or generate (rows generated from the plan)"))
        columns = spec.get("columns", ())
        return SourceSpec(pattern=spec.get("file", ""),
                          encoding=spec.get("encoding", self.sources.get("encoding", "utf-8")),
                          delimiter=spec.get("delimiter", self.sources.get("delimiter", ",")),
                          location=self.location(path, key=False),
                          kind=spec.get("kind", "sql" if "url" in spec else None),
                          columns=tuple(str(c) for c in columns),
                          sheet=None if spec.get("sheet") is None else str(spec["sheet"]),
                          header_row=int(spec.get("header_row", 1)),
                          url=spec.get("url"), query=spec.get("query"), table=spec.get("table"),
                          key=spec.get("key"))

    def field(self, name: str, raw: str | dict[str, Any], path: NodePath) -> FieldSpec:
        spec: dict[str, Any] = {"from": raw} if isinstance(raw, str) else raw
        record_type = spec.get("record_type")
        if record_type is not None:  # {record_type: COLUMN} or {record_type: {value: NAME}}
            spec = {**{k: v for k, v in spec.items() if k != "record_type"},
                    **(record_type if isinstance(record_type, dict) else {"from": record_type})}
        user = spec.get("user")
        if user is not None:  # {user: COLUMN} or {user: {value: USERNAME}}
            spec = {**{k: v for k, v in spec.items() if k != "user"},
                    **(user if isinstance(user, dict) else {"from": user})}
        field_type = spec.get("type", "string")
        formats = spec.get("format")
        if formats is None and field_type in ("date", "datetime"):
            formats = self.defaults.get(f"{field_type}_format")
        value_map = spec.get("map")
        if "file" in spec:
            spec = {**{k: v for k, v in spec.items() if k != "file"}, "from": spec["file"], "_file": True}
        has_input = any(k in spec for k in ("from", "value", "template"))
        return FieldSpec(
            name=name,
            source=spec.get("from") if has_input else name,
            value=_text(spec.get("value")),
            template=spec.get("template"),
            type=field_type,
            formats=_formats(formats),
            timezone=self.inherited(spec, "timezone", "UTC"),
            decimal=self.inherited(spec, "decimal", "."),
            value_map=None if value_map is None else {str(k): _text(v) for k, v in value_map.items()},
            map_ignore_case=bool(spec.get("ignore_case", False)),
            default=_text(spec.get("default")),
            values=tuple(str(v) for v in spec.get("values", ())),
            trim=bool(self.inherited(spec, "trim", True)),
            truncate=spec.get("truncate"),
            max_length=spec.get("max_length"),
            required=bool(spec.get("required", False)),
            null=self.inherited(spec, "null", "leave"),
            record_type=record_type is not None,
            file=bool(spec.get("_file", False)),
            user=user is not None,
            source_id=bool(spec.get("source_id", False)),
            location=self.location(path),
            mask=self.mask(spec["mask"], (*path, "mask")) if spec.get("mask") is not None else None,
        )

    def users(self) -> UserMapping:
        raw: dict[str, Any] = self.data.get("users") or {}
        where = self.location(("users",)) if "users" in self.data else Location(self.file, None, "")
        return UserMapping(match=raw.get("match", "username"),
                           map={str(k): str(v) for k, v in (raw.get("map") or {}).items()},
                           default=_text(raw.get("default")), location=where)

    def mask(self, raw: object, path: NodePath) -> MaskSpec:
        mask, problems = build_mask(raw, path, self.defaults, self.problem_at, self.location)
        self.problems += problems
        return mask

    def load_order_locations(self) -> dict[str, Location]:
        """Where each name of `load_order` is written (its group, for a name inside a list)."""
        found: dict[str, Location] = {}
        for i, entry in enumerate(self.data.get("load_order", ())):
            names = [(entry, ("load_order", i))] if isinstance(entry, str) else \
                [(name, ("load_order", i, j)) for j, name in enumerate(entry)]
            for name, path in names:
                found.setdefault(name, self.location(path, key=False))
        if "load_order" in self.data:
            found.setdefault("", self.location(("load_order",)))
        return found

    def lookup(self, name: str, raw: dict[str, Any], path: NodePath) -> LookupSpec:
        targets = (raw["to"],) if isinstance(raw["to"], str) else tuple(raw["to"])
        types = raw.get("types")
        return LookupSpec(
            field=name,
            source=raw["from"],
            targets=targets,
            key=raw.get("key"),
            type_source=raw.get("type_from"),
            type_map=None if types is None else {str(k): str(v) for k, v in types.items()},
            polymorphic="type" in raw or len(targets) > 1 or name in POLYMORPHIC_FIELDS,
            relationship=raw.get("relationship"),
            defer=raw.get("defer"),
            existing=bool(raw.get("existing", False)),
            missing=raw.get("missing", "send"),
            location=self.location(path),
        )


def _read(path: Path, file: str) -> tuple[bytes, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError([Problem("plan file not found", file=file)]) from None
    except IsADirectoryError:
        raise PlanError([Problem("is a directory, not a plan file", file=file)]) from None
    except OSError as exc:
        raise PlanError([Problem(f"cannot read the plan: {exc.strerror or exc}", file=file)]) from None
    try:
        return raw, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PlanError([Problem(f"the plan is not UTF-8 text (byte {raw[exc.start:exc.start + 1]!r})",
                                 file=file, line=line)]) from None


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is not None, p.line or 0, p.path or ""))


ShapeCheck = Callable[[Plan], list[Problem]]
"""A check of a whole plan's shape the plan stage cannot make itself (the load graph's cycles and
load_order), handed in by the compile stage: `validate` refuses what `plan` would."""


def load_plan(path: Path | str, variables: Mapping[str, str] | None = None, *,
              headers: HeaderReader | None = None, shape: ShapeCheck | None = None,
              allow_paths: tuple[Path, ...] = (), extra_checks: Sequence[PlanCheck] = (),
              sources_dir: Path | None = None) -> Plan:
    """Load and check a plan file. `variables` override the plan's declared variables (--var).
    `sources_dir` reads the sources from another folder laid out like the plan's (an extract's).

    Given `headers` (the compile stage's `read_headers`), the source files are resolved and every
    column the plan reads is checked against their headers; given `shape`, the plan's load graph is
    checked too. Sources must lie inside the plan's project (see `project`) or `allow_paths`.
    `extra_checks` (from later stages, such as object and field names against the target's schema)
    run on the same steps, skipping what schema problems cut out, so their problems come in the
    same report. Raises PlanError holding every problem found, in one pass: schema problems do not
    hide the others.
    """
    file = str(path)
    plan_path = Path(path)
    raw_bytes, text = _read(plan_path, file)
    doc, problems = load_positioned(text, file)
    if doc is None:
        raise PlanError(_sorted(problems))
    if doc.data is None:
        raise PlanError([*problems, Problem("the plan is empty", file=file, line=1)])
    found = schema_problems(doc, file)
    problems += [problem for _, problem in found]
    data, flaws = prune(doc.data, [node_path for node_path, _ in found])
    if flaws.fatal:
        raise PlanError(_sorted(problems))
    doc = replace(doc, data=data)
    builder = _Builder(doc, file)
    steps = [(i, builder.step(i)) for i in range(len(data["objects"])) if i not in flaws.broken_steps]
    problems += builder.problems
    declared = {name: str(value) for name, value in data.get("variables", {}).items()}
    overrides = {str(k): str(v) for k, v in (variables or {}).items()}
    if sources_dir is None:
        sources_dir = plan_path.parent / data.get("sources", {}).get("dir", ".")
    else:  # named on the command line (`--sources-dir`, a copy's extract): allowed like --allow-path
        allow_paths = (*allow_paths, Path(sources_dir))
    sources_dir = Path(sources_dir).resolve()
    roots = project_roots(plan_path, allow_paths)
    context = PlanContext(doc=doc, file=file, steps=steps, declared=declared, sources_dir=sources_dir,
                          roots=roots, flaws=flaws)
    problems += checks.semantic_problems(context, overrides)
    start = len(context.problems)
    source_kinds.spec_problems(context)
    file_checks.file_problems(context)
    problems += context.problems[start:]
    problems += source_checks.generated_column_problems(context)
    problems += source_checks.path_problems(context)
    if headers is not None and not any(p.path == "sources.dir" for p in problems):
        problems += source_checks.source_problems(context, headers)
    for check in extra_checks:
        start = len(context.problems)
        check(context)
        problems += unreported(context.problems[start:], problems)
    order = data.get("load_order")
    plan = Plan(
        version=data.get("version", 1),
        name=data.get("name", plan_path.stem),
        file=Path(file),
        sources_dir=sources_dir,
        objects=tuple(step for _, step in steps),
        description=data.get("description"),
        variables={**declared, **overrides},
        load_order=None if order is None else tuple(
            (entry,) if isinstance(entry, str) else tuple(entry) for entry in order),
        users=builder.users(),
        checksum=hashlib.sha256(raw_bytes).hexdigest(),
        location=Location(file, 1, ""),
        load_order_locations=builder.load_order_locations(),
        roots=roots,
        files_dir=_files_dir(plan_path, data.get("sources", {}), sources_dir),
        warnings=tuple(context.warnings),
    )
    if shape is not None and not _shape_unsure(context):
        problems += unreported(shape(plan), problems)
    if problems:
        raise PlanError(_sorted(problems), warnings=context.warnings)
    return plan


def _files_dir(plan_path: Path, sources: dict[str, Any], sources_dir: Path) -> Path:
    """`sources.files`, or the sources folder. With the sources read from elsewhere (an extract's
    `--sources-dir`), a files folder inside the plan's own sources folder moves along with them:
    the extract downloaded the files there."""
    if "files" not in sources:
        return sources_dir
    files = (plan_path.parent / sources["files"]).resolve()
    own = (plan_path.parent / sources.get("dir", ".")).resolve()
    if sources_dir != own and files.is_relative_to(own):
        return sources_dir / files.relative_to(own)
    return files


def _shape_unsure(ctx: PlanContext) -> bool:
    """The load graph depends on every step's operation and keys: if a schema problem cut any of
    them, or cut a step, the graph checks would judge a plan the user did not write."""
    if ctx.flaws.broken_steps:
        return True
    return any(ctx.flaws.setting_cut(i, ctx.raw_step(i), key) for i, _ in ctx.steps
               for key in ("operation", "external_id", "id", "fields", "lookups"))


def unreported(found: Sequence[Problem], known: Sequence[Problem]) -> list[Problem]:
    """`found` without problems already reported at the same place (one mistake, one problem: a
    lookup to `Acount` is not also "an object the target lacks" once it is "loaded by no step")."""
    seen = {(p.line, p.path) for p in known}
    return [p for p in found if (p.line, p.path) not in seen]
