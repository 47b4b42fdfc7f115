"""Checks of the binary fields a plan fills from files (`VersionData: {file: path}`).

A file goes only into a field that holds bytes (ContentVersion.VersionData, Attachment.Body,
Document.Body), and by itself: a path is not also mapped, converted or templated. Files travel in
Bulk API 1.0 ZIP batches (Bulk API 2.0 has no binary data), so such a step is a `bulk1` step; one
that asks for `bulk2` is told why not. The files' folder (`sources.files`) lies inside the project,
as every source does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrator.plan.checks import PlanContext
from migrator.plan.positions import Path as NodePath
from migrator.plan.project import inside
from migrator.plan.source_checks import ALLOW_HINT

BINARY_FIELDS = {"ContentVersion": "VersionData", "Attachment": "Body", "Document": "Body"}
_WITH_FILE = ("from", "value", "template", "record_type", "map", "type", "format", "default", "truncate",
              "max_length", "mask")


def file_fields(raw_step: Mapping[str, Any]) -> list[str]:
    """The fields of a step (as written) that take a file."""
    fields = raw_step.get("fields")
    if not isinstance(fields, dict):
        return []
    return [name for name, spec in fields.items() if isinstance(spec, dict) and "file" in spec]


def file_problems(ctx: PlanContext) -> None:
    sources = ctx.data.get("sources", {})
    if isinstance(sources, dict) and isinstance(sources.get("files"), str):
        folder = (Path(ctx.file).parent / sources["files"]).resolve()
        if not inside(folder, ctx.roots):
            ctx.add(("sources", "files"), f"the files folder {str(folder)!r} is outside the plan's project "
                    f"({', '.join(str(r) for r in ctx.roots)})", hint=ALLOW_HINT)
    for index, step in ctx.steps:
        raw = ctx.raw_step(index)
        names = file_fields(raw)
        if not names:
            continue
        here: NodePath = ("objects", index)
        for name in names:
            path: NodePath = (*here, "fields", name)
            if BINARY_FIELDS.get(step.object) != name:
                expected = ", ".join(f"{o}.{f}" for o, f in BINARY_FIELDS.items())
                ctx.add((*path, "file"), f"{step.object}.{name} does not hold a file's bytes; file: fills a binary "
                        f"field ({expected})", key=True)
            extra = [k for k in _WITH_FILE if k in raw["fields"][name]]
            if extra:
                ctx.add((*path, extra[0]), f"a file is sent as it is: {extra[0]} does not go with file", key=True)
        if raw.get("api", ctx.data.get("defaults", {}).get("api")) == "bulk2":
            ctx.add((*here, "api") if "api" in raw else ("defaults", "api"), "files are sent in Bulk API 1.0 ZIP "
                    "batches (Bulk API 2.0 takes no binary data): use api: bulk1, or leave api unset on this step")

