"""The layout is a map of the flow: stage packages, one-way imports, a documented public API.

The import rules live in pyproject.toml as import-linter contracts; these tests run them on the
real tree, and on copies with one forbidden import added, to show the contracts really bite.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import migrator

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "api.py", "cli.py", "config.py", "errors.py"}
STAGE_PACKAGES = {"plan", "compile", "check", "run", "client", "localorg", "history", "extract", "fake"}


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package and its contracts with `line` appended to `module` (a path in migrator/)."""
    shutil.copytree(ROOT / "migrator", tmp_path / "migrator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "migrator" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return tmp_path


def test_top_level_holds_only_the_stages_and_the_four_modules():
    package = ROOT / "migrator"
    modules = {p.name for p in package.glob("*.py")}
    packages = {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert modules == TOP_LEVEL_MODULES
    assert packages == STAGE_PACKAGES


@pytest.mark.parametrize("name", sorted(STAGE_PACKAGES))
def test_every_stage_package_says_what_it_may_import(name):
    doc = (inspect.getdoc(__import__(f"migrator.{name}", fromlist=["_"])) or "")
    assert len(doc.splitlines()) >= 3, name
    assert "import" in doc.lower(), name


def test_the_import_contracts_hold():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("plan/where.py", "from migrator.run import report", "migrator.plan is not allowed to import migrator.run"),
    ("compile/graph.py", "import migrator.api", "migrator.compile is not allowed to import migrator.api"),
    ("client/bulk2.py", "from migrator.plan import model", "migrator.client"),
    ("localorg/store.py", "from migrator import errors", "migrator.localorg"),
    ("run/report.py", "import migrator.cli", "migrator.run is not allowed to import migrator.cli"),
    ("run/runner.py", "from migrator.history import states", "migrator.run is not allowed to import migrator.history"),
    ("history/states.py", "import migrator.api", "migrator.history is not allowed to import migrator.api"),
    ("extract/soql.py", "from migrator.history import states",
     "migrator.extract is not allowed to import migrator.history"),
    ("run/runner.py", "from migrator.extract import soql", "migrator.run is not allowed to import migrator.extract"),
    ("fake/draws.py", "from migrator.compile import csvio", "migrator.fake is not allowed to import migrator.compile"),
    ("plan/fakespec.py", "from migrator.fake import draws", "migrator.plan is not allowed to import migrator.fake"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, module, line, broken):
    result = _lint(_copy_with(tmp_path, module, line))
    assert result.returncode == 1, result.stdout
    assert broken in result.stdout


def test_a_cycle_inside_a_package_breaks_a_contract(tmp_path):
    # http is imported by bulk2; importing bulk2 back from http closes a cycle inside client/.
    result = _lint(_copy_with(tmp_path, "client/http.py", "from migrator.client import bulk2"))
    assert result.returncode == 1, result.stdout
    assert "No cycles are allowed in migrator.client" in result.stdout


def test_every_public_name_exists_and_is_documented():
    assert len(set(migrator.__all__)) == len(migrator.__all__)
    for name in migrator.__all__:
        assert hasattr(migrator, name), name
        if name == "__version__":
            assert migrator.__version__ and migrator.__version__[0].isdigit()
            continue
        obj = getattr(migrator, name)
        doc = inspect.getdoc(obj) or ""
        # A dataclass without a docstring gets its signature as __doc__: that documents nothing.
        assert doc and not doc.startswith(f"{name}("), f"migrator.{name} has no docstring"


def test_the_verbs_are_the_api_functions():
    from migrator import api

    for verb in ("validate", "plan", "describe", "check", "run", "retry", "status", "list_runs", "remote_jobs",
                 "migrate", "info", "baseline", "repair"):
        assert getattr(migrator, verb) is getattr(api, verb)
        assert callable(getattr(migrator, verb))


def test_a_new_package_must_be_placed_in_the_layers(tmp_path):
    root = _copy_with(tmp_path, "api.py", "")
    (root / "migrator" / "reports2").mkdir()
    (root / "migrator" / "reports2" / "__init__.py").write_text('"""Somewhere new."""\n')
    result = _lint(root)
    assert result.returncode == 1, result.stdout
    assert "reports2" in result.stdout
