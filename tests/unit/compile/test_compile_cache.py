"""The compile cache: byte-identical inputs copy the last compile; a changed source byte, plan line or
option compiles again, and what is copied is what a compile would have written."""

from pathlib import Path

from migrator.compile.cache import compile_cached
from migrator.compile.csvio import read_table
from migrator.compile.planner import PlanOptions
from migrator.plan.loader import load_plan

from .test_planner import write_plan


def _compile(plan: Path, out: Path, cache: Path, **kw):
    return compile_cached(load_plan(plan), PlanOptions(out_dir=out, **kw), cache)


def rows_of(out: Path, object_name: str) -> list[list[str]]:
    """Every row the compile sends for `object_name`, whatever its levels and passes."""
    return [row for part in sorted(out.glob(f"{object_name}.*/part-*.csv")) if not part.name.endswith(".source.csv")
            for row in read_table(part).values.tolist()]


def _contents(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_identical_inputs_copy_the_last_compile(tmp_path: Path):
    plan, cache = write_plan(tmp_path), tmp_path / "cache"
    first, hit = _compile(plan, tmp_path / "run1", cache)
    assert not hit
    events = []
    second, hit = compile_cached(load_plan(plan), PlanOptions(out_dir=tmp_path / "run2"), cache,
                                 lambda name, info: events.append(name))
    assert hit and events == ["compile_cached"]
    assert _contents(tmp_path / "run2") == _contents(tmp_path / "run1")
    assert [s.id for s in second.steps] == [s.id for s in first.steps]
    assert rows_of(tmp_path / "run2", "Account") == rows_of(tmp_path / "run1", "Account")


def test_a_changed_source_byte_compiles_again(tmp_path: Path):
    plan, cache = write_plan(tmp_path), tmp_path / "cache"
    _compile(plan, tmp_path / "run1", cache)
    accounts = tmp_path / "data" / "accounts.csv"
    accounts.write_bytes(accounts.read_bytes().replace(b"Root", b"Roos"))  # one byte, same size
    _, hit = _compile(plan, tmp_path / "run2", cache)
    assert not hit
    assert next(row[:2] for row in rows_of(tmp_path / "run2", "Account") if row[0] == "A1") == ["A1", "Roos"]
    _, hit = _compile(plan, tmp_path / "run3", cache)  # and that compile is the one kept now
    assert hit


def test_a_changed_plan_line_or_option_compiles_again(tmp_path: Path):
    plan, cache = write_plan(tmp_path), tmp_path / "cache"
    _compile(plan, tmp_path / "run1", cache)
    plan.write_text(plan.read_text(encoding="utf-8") + "# a comment moves nothing but the plan's bytes\n",
                    encoding="utf-8")
    assert not _compile(plan, tmp_path / "run2", cache)[1]
    assert _compile(plan, tmp_path / "run3", cache)[1]
    assert not _compile(plan, tmp_path / "run4", cache, strict=True)[1]
    # a new file matching a step's source is an input too
    text = plan.read_text(encoding="utf-8").replace("source: contacts.csv", "source: contacts*.csv")
    plan.write_text(text, encoding="utf-8")
    assert not _compile(plan, tmp_path / "run5", cache)[1]
    (tmp_path / "data" / "contacts-more.csv").write_text("id,last,account,boss\nC9,Nine,A1,\n", encoding="utf-8")
    assert not _compile(plan, tmp_path / "run6", cache)[1]
    assert "C9" in {row[0] for row in rows_of(tmp_path / "run6", "Contact")}


def test_without_a_cache_folder_or_for_a_retry_it_always_compiles(tmp_path: Path):
    plan = write_plan(tmp_path)
    assert not _compile(plan, tmp_path / "run1", None)[1]
    assert not _compile(plan, tmp_path / "run2", None)[1]
    cache = tmp_path / "cache"
    _compile(plan, tmp_path / "run3", cache)
    assert not _compile(plan, tmp_path / "run4", cache, selection={})[1]


def test_input_order_or_another_concurrency_compiles_again(tmp_path: Path):
    """Parts are cut for the run's concurrency and grouped by parent unless --input-order: a compile
    cut otherwise must not be copied."""
    plan, cache = write_plan(tmp_path), tmp_path / "cache"
    _compile(plan, tmp_path / "run1", cache)
    assert not _compile(plan, tmp_path / "run2", cache, lock_order=False)[1]
    assert not _compile(plan, tmp_path / "run3", cache, parallel_parts=1)[1]
    assert _compile(plan, tmp_path / "run4", cache, parallel_parts=1)[1]
