"""`migrator extract`: read the org, write the plan's source files.

1. The plan is loaded (its sources need not exist yet), its steps read backwards against the source
   org's describe (`readback.py`); fields the org does not have are reported at once, located in
   the plan, before anything is queried.
2. The records are gathered (`gather.py`: whole objects, or a subset and its closure) into the
   extract directory, page by page, resumably (`download.py`, `state.py`).
3. Each step's pages are turned into its source columns (`shape.py`), parents before children so
   polymorphic lookups find their parents' keys, and written sorted (`write.py`) under the plan's
   file names in the output folder, with `extract_manifest.json` beside them: every file, its rows
   and checksum, where each column came from, what the plan computes (not extracted) and what
   cannot come back exactly.
"""

from __future__ import annotations

import contextlib
import glob
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from migrator.check.current import CurrentRecords, Fetch
from migrator.check.describe import LiveDescribe
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.client.http import ApiSession
from migrator.client.rest import RestClient
from migrator.compile.graph import build_load_order
from migrator.config import Target, open_target
from migrator.errors import CheckFailed, Interrupted, RunStateError, UsageError
from migrator.extract import manifest as manifest_file
from migrator.extract.binaries import FilePaths, download_files, fixed_frames
from migrator.extract.chunks import read_chunk
from migrator.extract.download import Downloader, DownloadOptions
from migrator.extract.gather import SUBSET, Gatherer, GatherOptions, Selection, parse_where
from migrator.extract.options import ExtractOptions, StepFile
from migrator.extract.readback import PolymorphicColumn, StepReadBack, extractable, read_back
from migrator.extract.shape import ID_COLUMN, IdKeys, ShapeStats, shape, unresolved_links
from migrator.extract.state import ExtractPaths, ExtractState, extracts_root
from migrator.extract.write import WrittenFile, write_sorted
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan
from migrator.run.rundir import DEFAULT_HOME, atomic_write_json, new_run_id, read_json, utc_iso

Event = Callable[[str, Mapping[str, object]], None]
MANIFEST_NAME = manifest_file.MANIFEST_NAME


@dataclass(frozen=True)
class ExtractResult:
    """A finished extract: where its files and state are, and its manifest (as written)."""

    extract_id: str
    state_dir: Path
    out_dir: Path
    manifest: dict[str, Any]
    files: tuple[StepFile, ...]
    strict: bool = False

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def warnings(self) -> list[str]:
        return list(self.manifest.get("warnings") or [])

    @property
    def exit_code(self) -> int:
        return 1 if self.strict and self.warnings else 0

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.exit_code == 0, "exit_code": self.exit_code, "extract_id": self.extract_id,
                "state_dir": str(self.state_dir), "out_dir": str(self.out_dir),
                "manifest": str(self.out_dir / MANIFEST_NAME), "rows": self.rows,
                "steps": [{"step": f.step, "object": f.object, "file": str(f.file), "rows": f.rows, "mode": f.mode}
                          for f in self.files],
                "warnings": self.warnings}


def selected_steps(plan: Plan, patterns: tuple[str, ...]) -> list[str]:
    """The steps to extract: every extractable one, or those `--select` names (``Account+``: and the
    steps that look it up, ``+Task``: and the steps it looks up), in plan order."""
    steps = [s.name for s in plan.objects if extractable(s)]
    wanted = [p.strip() for p in patterns if p.strip()]
    if not wanted:
        return steps
    order = build_load_order(plan)
    chosen: set[str] = set()
    for pattern in wanted:
        name = pattern.strip("+").lower()
        hits = {s for s in steps if name in (s.lower(), plan.step(s).object.lower())}  # type: ignore[union-attr]
        if not hits:
            raise UsageError(f"--select {pattern!r} matches no step (steps: {', '.join(steps)})")
        if pattern.endswith("+"):
            hits |= _closure(hits, lambda s: [c for c in steps if s in order.parents(c)])
        if pattern.startswith("+"):
            hits |= _closure(hits, lambda s: list(order.parents(s)))
        chosen |= hits
    return [s for s in steps if s in chosen]


def _closure(start: set[str], step_of: Callable[[str], list[str]]) -> set[str]:
    found, frontier = set(start), list(start)
    while frontier:
        for nxt in step_of(frontier.pop()):
            if nxt not in found:
                found.add(nxt)
                frontier.append(nxt)
    return found


def prepare(plan: Plan, session: ApiSession, target: str, options: ExtractOptions
            ) -> tuple[dict[str, StepReadBack], dict[str, str | None], Selection]:
    """The steps read backwards against the source org (every problem raised at once), the key prefix
    of each object, and the selection."""
    steps = selected_steps(plan, options.select)
    objects = {plan.step(s).object for s in steps}  # type: ignore[union-attr]
    objects |= {t for s in steps for lk in plan.step(s).lookups for t in lk.targets}  # type: ignore[union-attr]
    schema = LiveDescribe(RestClient(session), target).schema(sorted(objects))
    readbacks: dict[str, StepReadBack] = {}
    problems = []
    for name in steps:
        readback, found = read_back(plan, plan.step(name), schema)  # type: ignore[arg-type]
        readbacks[name] = readback
        problems += found
    if problems:
        raise CheckFailed(sorted(problems, key=lambda p: (p.line or 0, p.path or "")), target=target)
    if options.limit is not None and options.limit < 1:
        raise UsageError("--limit must be 1 or more")
    selection = Selection(where=parse_where(plan, options.where, steps), limit=options.limit)
    prefixes = {o.name: o.key_prefix for o in schema.objects.values()}
    return readbacks, prefixes, selection


def check_outputs(plan: Plan, readbacks: Mapping[str, StepReadBack], out_dir: Path) -> None:
    """Refuse to write where the plan would read other files besides the extract's (a glob matching
    files already there would load them too)."""
    for readback in readbacks.values():
        if not glob.has_magic(readback.pattern):
            continue
        ours = (out_dir / readback.file).resolve()
        others = sorted(p for p in glob.glob(readback.pattern, root_dir=out_dir, recursive=True)
                        if (out_dir / p).resolve() != ours and (out_dir / p).is_file())
        if others:
            raise UsageError(f"{out_dir} already holds files matching {readback.pattern!r} ({', '.join(others[:3])}): "
                             f"the plan would read them besides the extract's {readback.file}; extract into an empty "
                             "--out folder or move them")


def _resolve_missing_parents(readback: StepReadBack, files: list[Path], id_keys: IdKeys,
                             records: CurrentRecords) -> None:
    """Polymorphic parents the extract did not read: their keys, asked of the org by Id."""
    columns = [c for c in readback.columns if isinstance(c, PolymorphicColumn)]
    if not columns:
        return
    wanted: dict[tuple[str, str], set[str]] = {}
    for path in files:
        table = read_chunk(path, [p.lower() for p in readback.select])
        for column in columns:
            for target, ids in unresolved_links(table, column, id_keys).items():
                wanted.setdefault((target, column.keys[target]), set()).update(ids)
    for (target, key), ids in sorted(wanted.items()):
        found = records.fetch(Fetch(target, "Id", ("Id", key), sorted(ids), case_sensitive=True)).records
        if not found.empty:
            id_keys.add(target, key, found["Id"].astype(str).tolist(), found[key].astype(str).tolist())


def _frames(readback: StepReadBack, files: list[Path], id_keys: IdKeys, stats: ShapeStats,
            dedupe: bool) -> Iterator[pd.DataFrame]:
    seen: set[str] = set()
    columns = [p.lower() for p in readback.select]
    for path in files:
        frame = shape(read_chunk(path, columns), readback, id_keys, stats)
        if dedupe:
            fresh = ~frame[ID_COLUMN].isin(seen) & ~frame[ID_COLUMN].duplicated()
            frame = frame[fresh.to_numpy()]
            seen.update(frame[ID_COLUMN].tolist())
        yield frame


class _Readiness:
    """Which steps have all their records, set from the thread that reads them; a failure there is kept
    and wakes the writer, so it stops and the failure is raised where the extract was called."""

    def __init__(self, steps: Mapping[str, object]):
        self.ready: set[str] = set()
        self.failure: BaseException | None = None
        self._changed = threading.Condition()

    def set(self, step: str) -> None:
        with self._changed:
            self.ready.add(step)
            self._changed.notify_all()

    def run(self, gather: Callable[[], object]) -> None:
        try:
            gather()
        except BaseException as exc:  # re-raised by the writer's thread (raise_failure)
            with self._changed:
                self.failure = exc
        finally:
            with self._changed:
                self._changed.notify_all()

    def first_ready(self, candidates: list[str]) -> str:
        """The first of `candidates` whose records are all in (waiting for one if none is yet)."""
        with self._changed:
            while True:
                self.raise_failure()
                chosen = next((c for c in candidates if c in self.ready), None)
                if chosen is not None:
                    return chosen
                self._changed.wait()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


def _key_parents(readbacks: Mapping[str, StepReadBack]) -> dict[str, set[str]]:
    """The steps whose keys a step's polymorphic lookups read: written before it."""
    by_object: dict[str, list[str]] = {}
    for name, readback in readbacks.items():
        by_object.setdefault(readback.object.lower(), []).append(name)
    return {name: {parent for column in readback.columns if isinstance(column, PolymorphicColumn)
                   for target in column.keys for parent in by_object.get(target.lower(), []) if parent != name}
            for name, readback in readbacks.items()}


def write_files(plan: Plan, readbacks: Mapping[str, StepReadBack], modes: Mapping[str, str], state: ExtractState,
                out_dir: Path, session: ApiSession, timing: QueryTiming, memory_rows: int,
                emit: Event, first_ready: Callable[[list[str]], str] | None = None, *,
                files_dir: Path | None = None, workers: int = 4,
                ) -> tuple[list[StepFile], list[WrittenFile], dict[str, ShapeStats]]:
    """Every step's file, each as soon as `first_ready` says its records are all downloaded, after the
    steps whose keys its polymorphic lookups read; the results come back in the plan's load order.
    The files of a step's binary fields are downloaded into `files_dir` once its file is written."""
    id_keys = IdKeys()
    records = CurrentRecords(Bulk2Client(session), RestClient(session), timing)
    order = [s for s in build_load_order(plan).processing_order if s in readbacks]
    needs = _key_parents(readbacks)
    pick = first_ready or (lambda candidates: candidates[0])
    done: dict[str, tuple[StepFile, WrittenFile, ShapeStats]] = {}
    while len(done) < len(order):
        name = pick([s for s in order if s not in done and needs[s] <= set(done)])
        readback = readbacks[name]
        emit("extract_writing", {"step": name, "file": readback.file})
        pages = list(state.files(name))
        _resolve_missing_parents(readback, pages, id_keys, records)
        step_stats = ShapeStats()
        key = readback.key_column

        def remember(frame: pd.DataFrame, readback: StepReadBack = readback, key: str | None = key,
                     step_stats: ShapeStats = step_stats) -> None:
            if key and readback.key_field:
                id_keys.add(readback.object, readback.key_field, frame[ID_COLUMN].tolist(), frame[key].tolist())
                step_stats.without_key += int((frame[key] == "").sum())

        file_paths = FilePaths(name, readback.binaries) if readback.binaries else None
        frames = _frames(readback, pages, id_keys, step_stats, dedupe=modes.get(name) == SUBSET)
        result = write_sorted(fixed_frames(frames, file_paths, ID_COLUMN),
                              out_dir / readback.file, list(readback.names), key, encoding=readback.encoding,
                              delimiter=readback.delimiter, scratch=state.paths.scratch / name,
                              memory_rows=memory_rows, on_frame=remember)
        if file_paths is not None:
            got = download_files(session, readback.object, file_paths.wanted, files_dir or out_dir, workers)
            emit("extract_files", {"step": name, "downloaded": got.downloaded, "kept": got.kept, "bytes": got.bytes})
        done[name] = (StepFile(name, readback.object, result.path, result.rows, modes.get(name, "whole")), result,
                      step_stats)
        emit("extract_written", {"step": name, "file": str(result.path), "rows": result.rows})
    return [done[s][0] for s in order], [done[s][1] for s in order], {s: done[s][2] for s in order}


def new_extract(root: Path, now: datetime) -> ExtractPaths:
    paths = ExtractPaths(root / new_run_id(now))
    paths.root.mkdir(parents=True)
    return paths


def load_info(paths: ExtractPaths) -> dict[str, Any]:
    if not paths.info.exists():
        raise RunStateError(f"no extract in {paths.root}")
    return read_json(paths.info)


def extract(plan: Plan, session: ApiSession, target: str, options: ExtractOptions, paths: ExtractPaths, out_dir: Path,
            *, timing: QueryTiming, emit: Event, now: datetime | None = None, strict: bool = False) -> ExtractResult:
    """Extract `plan`'s records from the org behind `session` into `out_dir`, keeping state in `paths`
    (resumed when it holds an unfinished extract)."""
    readbacks, prefixes, selection = prepare(plan, session, target, options)
    check_outputs(plan, readbacks, out_dir)
    info = load_info(paths) if paths.info.exists() else {
        "extract_id": paths.extract_id, "plan_file": str(plan.file), "plan_name": plan.name,
        "plan_checksum": plan.checksum, "source": {"name": target, "instance_url": session.instance_url},
        "out_dir": str(out_dir), "options": options.to_json(), "created_at": utc_iso(now or datetime.now(UTC)),
        "state": "extracting"}
    atomic_write_json(paths.info, info)
    state = ExtractState.load(paths)
    emit("extract_started", {"extract_id": paths.extract_id, "target": target,
                             "steps": [{"step": s, "object": r.object} for s, r in readbacks.items()]})
    download = DownloadOptions(timing=timing, page_rows=options.page_rows, workers=options.workers,
                               pk_chunking=options.pk_chunking, id_ranges=options.id_ranges)
    with Downloader(session, state, download, emit) as downloader:
        gatherer = Gatherer(plan, readbacks, prefixes, downloader, state,
                            GatherOptions(pk_chunking=bool(options.pk_chunking), id_ranges=options.id_ranges))
        modes = gatherer.plan_modes(selection)
        ready = _Readiness(readbacks)
        reading = threading.Thread(target=ready.run, args=(lambda: gatherer.run(selection, on_ready=ready.set),),
                                   name="extract-gather", daemon=True)
        reading.start()
        try:
            files, written, stats = write_files(plan, readbacks, modes, state, out_dir, session, timing,
                                                options.memory_rows, emit, first_ready=ready.first_ready,
                                                files_dir=_out_files_dir(plan, out_dir), workers=options.workers)
        except BaseException:
            downloader.cancel()
            reading.join()
            raise
        reading.join()
        ready.raise_failure()
    document = manifest_file.build(plan, target, options, selection, readbacks, modes, files, written, stats,
                                   out_dir)
    manifest_file.write(out_dir, document)
    info["state"] = "done"
    atomic_write_json(paths.info, info)
    emit("extract_done", {"extract_id": paths.extract_id, "rows": sum(f.rows for f in files)})
    return ExtractResult(paths.extract_id, paths.root, out_dir, document, tuple(files), strict=strict)


def _out_files_dir(plan: Plan, out_dir: Path) -> Path:
    """Where the files of binary fields go: the plan's files folder, placed in `out_dir` as it lies
    in the plan's sources folder (outside it, the files folder itself)."""
    files = plan.files_dir or plan.sources_dir
    if files.is_relative_to(plan.sources_dir):
        return out_dir / files.relative_to(plan.sources_dir)
    return files


def _written_sources_dir(plan_path: Path) -> Path | None:
    """The folder a plan names for its sources (None when the file cannot be read as YAML: loading it
    then says why)."""
    try:
        data = yaml.safe_load(Path(plan_path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    sources = data.get("sources") if isinstance(data, dict) else None
    folder = sources.get("dir", ".") if isinstance(sources, dict) else "."
    return (Path(plan_path).parent / str(folder)).resolve()


def plan_for(plan_path: Path, variables: Mapping[str, str], out_dir: Path | None = None) -> Plan:
    """The plan, checked against itself only, reading its sources from `out_dir` (default: its own
    sources folder): the files there are what the extract writes, so the folder may not exist yet (it
    is created, and removed again if the plan is refused)."""
    folder = Path(out_dir) if out_dir is not None else _written_sources_dir(plan_path)
    if folder is None:
        return load_plan(plan_path, variables)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return load_plan(plan_path, variables, sources_dir=folder)
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def resume_info(home: Path, extract_id: str) -> dict[str, Any]:
    """What an earlier extract was asked to do (to resume it): plan, source, options, output folder."""
    return load_info(ExtractPaths(extracts_root(home) / extract_id))


def resume_hint(extract_id: str, home: Path) -> str:
    where = "" if Path(home) == DEFAULT_HOME else f" --home {home}"
    return f"migrator extract --resume {extract_id}{where}"


def run_extract(target: Target, plan_path: Path | None, options: ExtractOptions, *, out_dir: Path | None,
                home: Path, resume: str | None, timing: QueryTiming, emit: Event, strict: bool = False,
                now: datetime | None = None) -> ExtractResult:
    """`migrator extract`: a new extract of `plan_path`, or `resume` (an extract id) where it stopped.
    Interrupted, it says how to resume; nothing already downloaded is downloaded again."""
    paths: ExtractPaths | None = None
    if resume is not None:
        paths = ExtractPaths(extracts_root(home) / resume)
        info = load_info(paths)
        plan_path, out_dir = Path(info["plan_file"]), Path(info["out_dir"])
        options = ExtractOptions.from_json(info.get("options") or {})
    if plan_path is None:
        raise UsageError("give a PLAN_FILE, or --resume EXTRACT_ID")
    folder = Path(out_dir) if out_dir is not None else _written_sources_dir(plan_path)
    fresh_folder = folder is not None and not folder.exists()
    plan = plan_for(plan_path, options.variables, out_dir)
    out = plan.sources_dir
    try:
        session_context = open_target(target, data_dir=home)
        session = session_context.__enter__()
    except BaseException:
        if fresh_folder:
            shutil.rmtree(out, ignore_errors=True)
        raise
    with contextlib.ExitStack() as stack:
        stack.push(session_context)
        if paths is None:
            try:  # refuse before creating anything
                readbacks, _, _ = prepare(plan, session, target.name, options)
                check_outputs(plan, readbacks, out)
            except BaseException:
                if fresh_folder:
                    shutil.rmtree(out, ignore_errors=True)
                raise
            paths = new_extract(extracts_root(home), now or datetime.now(UTC))
        try:
            return extract(plan, session, target.name, options, paths, out, timing=timing, emit=emit, now=now,
                           strict=strict)
        except KeyboardInterrupt:
            raise Interrupted(f"extract {paths.extract_id} stopped; resume with: "
                              f"{resume_hint(paths.extract_id, home)}") from None
