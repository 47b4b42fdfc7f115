"""Compiled plans kept for the next run: a plan whose inputs are byte-identical to the last compile's
is copied from the cache instead of being compiled again.

The key is the sha256 of everything a compile reads: the plan file's bytes (so even a comment moves
it: the manifest holds the plan's line numbers) and the loaded plan (variables applied), the bytes
of every source file, the target's rules and record types, the options (strict, a retry's
selection, ``--scale``, the id of the masking key, never the key itself), and the versions of
migrator and of the libraries that shape values (pandas, pyarrow, Faker). A source that is not a set
of files (a database, a query: anything but a file pattern or a plan's own generated rows) is never
cached, since its rows can change with no byte of the project changing.

    <home>/cache/compile/<plan>-<hash of its path>/<key>/   manifest.json, parts, rejects, ...

Only the latest entry of each plan file is kept. An entry is written whole (a staging folder, then
one rename) and copied out the same way, so a killed run never leaves half of one. Deleting
``<home>/cache/compile`` makes the next run compile again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from migrator.compile.digests import file_digest, plan_content, sha256_json, source_files
from migrator.compile.manifest import MANIFEST_FILE, Manifest, read_manifest
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.plan.model import Plan, SourceSpec

COMPILE_DIR = Path("cache") / "compile"
CACHE_FORMAT = 1
# The SourceSpec fields of a file source. Any other field set (a database url, a query, a reader
# option added later) makes the step's rows depend on more than the project's bytes: no caching.
_FILE_SOURCE_FIELDS = frozenset({"pattern", "encoding", "delimiter", "location", "generate"})
_VERSIONED = ("migrator", "pandas", "pyarrow", "faker")

Event = Callable[[str, Mapping[str, object]], None]


def cacheable(plan: Plan) -> bool:
    """Whether every step reads only files (or rows the plan generates itself), and no field takes a
    file's bytes (`file:`: the files' sizes decide how rows are batched, and they are not keyed)."""
    defaults = {f.name: f.default for f in dataclasses.fields(SourceSpec)}
    for step in plan.objects:
        if any(field.file for field in step.fields):
            return False
        source = step.source
        for name, default in defaults.items():
            if name not in _FILE_SOURCE_FIELDS and getattr(source, name) != default:
                return False
    return True


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = ""
    return found


def _plain(value: Any) -> Any:
    """Rules, selections and options as JSON-able data in a stable order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, frozenset | set):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def compile_key(plan: Plan, options: PlanOptions) -> str:
    """The sha256 naming a compile of `plan` with `options` (see the module's docstring)."""
    return sha256_json({
        "format": CACHE_FORMAT,
        "versions": _versions(),
        "plan_file": [plan.file.as_posix(), hashlib.sha256(plan.file.read_bytes()).hexdigest()],
        "plan": plan_content(plan),
        "sources": [[name, file_digest(path)] for name, path in source_files(plan)],
        "strict": options.strict,
        "block_bytes": options.block_bytes,
        "selection": _plain(options.selection),
        "rules": _plain(options.rules),
        "scale": options.scale,
        "parallel_parts": options.parallel_parts,  # parts cut for the run's concurrency
        "lock_order": options.lock_order,  # rows grouped by parent, or in input order
        "mask_key": options.mask_key.key_id if options.mask_key is not None else None,
    })


def _folder(cache_root: Path, plan: Plan) -> Path:
    where = hashlib.sha256(str(plan.file.resolve()).encode("utf-8")).hexdigest()[:12]
    return cache_root / f"{plan.file.stem}-{where}"


def _copy_into(source: Path, out_dir: Path) -> None:
    """Copy the compiled plan `source` to `out_dir`, replacing it whole."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def compile_cached(plan: Plan, options: PlanOptions, cache_root: Path | None,
                   on_event: Event | None = None) -> tuple[Manifest, bool]:
    """`compile_plan`, or a copy of the cached compile of the same inputs; (manifest, from the cache).
    Without `cache_root`, for a retry (a selection of rows: a one-off) or for a plan reading more
    than files, it always compiles."""
    if cache_root is None or options.selection is not None or not cacheable(plan):
        return compile_plan(plan, options, on_event), False
    key = compile_key(plan, options)
    folder = _folder(cache_root, plan)
    entry = folder / key
    if (entry / MANIFEST_FILE).is_file():
        _copy_into(entry, options.out_dir)
        if on_event:
            on_event("compile_cached", {"key": key[:12]})
        return read_manifest(options.out_dir), True
    manifest = compile_plan(plan, options, on_event)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=folder))
    try:
        shutil.copytree(options.out_dir, staging, dirs_exist_ok=True)
        for old in folder.iterdir():  # the latest compile of a plan is the one worth keeping
            if old.name != staging.name:
                shutil.rmtree(old, ignore_errors=True)
        staging.rename(entry)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return manifest, False
