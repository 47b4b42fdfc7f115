from pathlib import Path

import pytest

from migrator.config import load_migrations_config, load_project_config
from migrator.errors import ConfigError, UsageError
from migrator.history.connect import settings_for


def _toml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "migrator.toml").write_text(text, encoding="utf-8")
    return tmp_path


def settings(project: Path, **kw):
    values = {"folder": None, "history": None, "target": None, "home": project / ".migrator",
              "project_dir": project, "env": {}, "clock": None} | kw
    return settings_for(**values)


def test_the_migrations_table_is_read_relative_to_the_config_file(tmp_path):
    project = _toml(tmp_path, '[targets.local]\nauth = "local"\n\n'
                              '[migrations]\ndir = "db/migrations"\nhistory = "file"\n')
    config = load_migrations_config(project)
    assert config.dir == tmp_path / "db" / "migrations" and config.history == "file"
    assert "local" in load_project_config(project).targets  # the rest of the file still reads
    chosen = settings(project)
    assert (chosen.folder, chosen.history) == (tmp_path / "db" / "migrations", "file")
    assert settings(project, folder=Path("other"), history="org").folder == Path("other")


def test_bad_migrations_settings_name_the_line(tmp_path):
    project = _toml(tmp_path, '[migrations]\ndir = "m"\nhistroy = "file"\n')
    with pytest.raises(ConfigError, match=r"toml:3: migrations.histroy: unknown setting; did you mean 'history'"):
        load_migrations_config(project)
    project = _toml(tmp_path, '[migrations]\nhistory = "sqlite"\n')
    with pytest.raises(ConfigError, match=r":2: migrations.history: must be one of org, file"):
        load_migrations_config(project)


def test_without_a_folder_the_default_is_migrations_and_its_absence_is_explained(tmp_path):
    with pytest.raises(ConfigError, match=r"no migrations folder: pass --dir DIR, or set \[migrations\] dir"):
        settings(tmp_path)
    (tmp_path / "migrations").mkdir()
    assert settings(tmp_path).folder == tmp_path / "migrations"
    with pytest.raises(UsageError, match="--history must be one of org, file"):
        settings(tmp_path, history="s3")
