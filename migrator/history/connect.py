"""Opening an org's history: the target, the org's identity, and the store its history lives in.

The history is keyed by the org's Id from userinfo, so it does not matter which target name led
here. With ``history = "org"`` (the default) it is the org's ``Migrator_Migration__c`` records and
the object must be there; with ``history = "file"`` it is ``<migrations>/history/<org id>.json``.
Neither set up is a clear error saying both ways out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from migrator.client.http import ApiSession
from migrator.client.identity import OrgIdentity, fetch_identity
from migrator.config import HISTORY_STORES, Target, load_migrations_config, open_target, resolve_target
from migrator.errors import ConfigError, HistoryError, UsageError
from migrator.history.file_store import FileHistoryStore
from migrator.history.org_store import OBJECT, OrgHistoryStore
from migrator.history.store import HistoryStore
from migrator.run.executor import Clock

DEFAULT_FOLDER = Path("migrations")
HISTORY_SUBFOLDER = "history"
DEPLOY_HINT = ("deploy its metadata with `sf project deploy start --source-dir salesforce --target-org ALIAS` "
               "(see docs/migrations.md)")


@dataclass(frozen=True)
class Settings:
    """What every history command needs: where the migrations are, which org, how to reach it."""

    folder: Path
    history: str = "org"
    target: str | None = None
    home: Path = Path(".migrator")
    project_dir: Path = Path(".")
    env: Mapping[str, str] | None = None
    clock: Clock = field(default_factory=Clock)


def settings_for(*, folder: Path | None, history: str | None, target: str | None, home: Path, project_dir: Path,
                 env: Mapping[str, str] | None, clock: Clock | None) -> Settings:
    """Command-line values over ``[migrations]`` of migrator.toml over the defaults (``migrations/``, org)."""
    config = load_migrations_config(project_dir)
    chosen = folder or config.dir
    if chosen is None:
        fallback = project_dir / DEFAULT_FOLDER
        if not fallback.is_dir():
            where = f" in {config.file}" if config.file else ""
            raise ConfigError(f"no migrations folder: pass --dir DIR, or set [migrations] dir = \"...\"{where} "
                              f"(or create {fallback})")
        chosen = fallback
    kind = history or config.history or "org"
    if kind not in HISTORY_STORES:
        raise UsageError(f"--history must be one of {', '.join(HISTORY_STORES)}, not {kind!r}")
    return Settings(folder=Path(chosen), history=kind, target=target, home=home, project_dir=project_dir, env=env,
                    clock=clock or Clock())


@dataclass(frozen=True)
class Connection:
    """An open target, the org it reaches, and that org's history."""

    target: Target
    api: ApiSession
    identity: OrgIdentity
    store: HistoryStore


def history_store(settings: Settings, api: ApiSession, identity: OrgIdentity) -> HistoryStore:
    if settings.history == "file":
        return FileHistoryStore(settings.folder / HISTORY_SUBFOLDER, identity.org_id)
    store = OrgHistoryStore(api, identity.org_id, clock=settings.clock)
    missing = store.missing_fields()
    if missing is None:
        raise HistoryError(
            f"org {identity.org_id} has no {OBJECT} object to keep its migration history in: {DEPLOY_HINT}; or "
            f"keep the history in a file the team commits ({settings.folder / HISTORY_SUBFOLDER}/"
            f"{identity.org_id}.json) with [migrations] history = \"file\" in migrator.toml or --history file")
    if missing:
        raise HistoryError(f"{OBJECT} in org {identity.org_id} lacks the field(s) {', '.join(missing)} (or this user "
                           f"cannot see them): {DEPLOY_HINT}, and assign the Migrator_History permission set")
    return store


@contextmanager
def connect(settings: Settings) -> Iterator[Connection]:
    env = dict(settings.env if settings.env is not None else os.environ)
    target = resolve_target(settings.target, cli_overrides={}, env=env, project_dir=settings.project_dir)
    with open_target(target, data_dir=settings.home) as api:
        identity = fetch_identity(api)
        yield Connection(target, api, identity, history_store(settings, api, identity))
