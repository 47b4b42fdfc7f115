"""The SQLite file behind a local org: connections, tables (from the org schema), counters, identity.

One table per object following the storage convention in orgschema.py, plus internal tables whose
names start with ``_``. The file runs in WAL mode so the API threads read while the processing
worker writes; each thread gets its own connection (sqlite3 connections are not shared).
Secrets: the file keeps one random org secret (the dev password, the start-up token and the connected
app's client id and secret are derived from it) and only SHA-256 hashes of issued access and refresh
tokens, never the tokens themselves.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .ids import make_id, make_ids
from .orgschema import NUMBER_TYPES, FieldDef, ObjectDef, OrgSchema

ADMIN_USERNAME = "admin@local.org"

INTERNAL_DDL = (
    "CREATE TABLE IF NOT EXISTS _org (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _counters (name TEXT PRIMARY KEY, next INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS _tokens (
        token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL,
        issued_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS _jobs (
        id TEXT PRIMARY KEY, api TEXT NOT NULL, job_type TEXT NOT NULL, operation TEXT NOT NULL,
        object TEXT NOT NULL, external_id_field TEXT, assignment_rule_id TEXT, state TEXT NOT NULL,
        concurrency_mode TEXT NOT NULL DEFAULT 'Parallel', content_type TEXT NOT NULL DEFAULT 'CSV',
        column_delimiter TEXT NOT NULL DEFAULT 'COMMA', line_ending TEXT NOT NULL DEFAULT 'LF',
        api_version TEXT NOT NULL, created_by TEXT NOT NULL, created_date TEXT NOT NULL,
        system_modstamp TEXT NOT NULL, records_processed INTEGER NOT NULL DEFAULT 0,
        records_failed INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,
        total_processing_time INTEGER NOT NULL DEFAULT 0, api_active_processing_time INTEGER NOT NULL DEFAULT 0,
        apex_processing_time INTEGER NOT NULL DEFAULT 0, error_message TEXT, query TEXT,
        upload_count INTEGER NOT NULL DEFAULT 0, upload_bytes INTEGER NOT NULL DEFAULT 0,
        header_line TEXT, result_columns TEXT, extra TEXT)""",
    "CREATE INDEX IF NOT EXISTS _jobs_by_date ON _jobs (api, created_date, id)",
)


def sql_name(name: str) -> str:
    """A quoted SQLite identifier (API names are [A-Za-z0-9_], so quoting is only a safety net)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def column_type(f: FieldDef) -> str:
    """The SQLite declaration of a field's column (see the storage convention in orgschema.py)."""
    if f.type in ("boolean", "int", "long"):
        return "INTEGER"
    if f.type in NUMBER_TYPES:
        return "REAL"
    if f.type in ("id", "reference", "date", "datetime", "base64") or f.case_sensitive:
        return "TEXT"
    return "TEXT COLLATE NOCASE"


def indexed(f: FieldDef) -> bool:
    return f.name != "Id" and (f.external_id or f.unique or f.id_lookup)


def secondary_indexes(obj: ObjectDef) -> list[tuple[str, str]]:
    """(DROP, CREATE) statements of the indexes an object's table has besides its primary key."""
    table = sql_name(obj.name)
    result = []
    for f in obj.fields.values():
        if indexed(f):
            index = sql_name(f"_ix_{obj.name}_{f.name}")
            result.append((f"DROP INDEX IF EXISTS {index}",
                           f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({sql_name(f.name)})"))
    return result


def now_utc() -> datetime:
    return datetime.now(UTC)


def format_datetime(moment: datetime) -> str:
    """The stored datetime form: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OrgIdentity:
    """Who the org is: its Id, the admin user, and the dev credentials derived from the org secret."""

    org_id: str
    user_id: str
    username: str
    secret: str

    def derive(self, purpose: str, length: int) -> str:
        digest = hmac.new(self.secret.encode(), purpose.encode(), hashlib.sha256).digest()
        text = base64.b64encode(digest + hashlib.sha256(digest).digest()).decode()
        return text.replace("+", "").replace("/", "").replace("=", "")[:length]

    @property
    def password(self) -> str:
        return "Local-" + self.derive("password", 18)

    @property
    def startup_token(self) -> str:
        return f"{self.org_id}!AQ{self.derive('startup-token', 80)}"

    @property
    def client_id(self) -> str:
        """The consumer key of the org's own connected app (Salesforce's begin ``3MVG9``)."""
        return "3MVG9" + self.derive("connected-app-client-id", 60)

    @property
    def client_secret(self) -> str:
        """The connected app's consumer secret: 64 upper-case hex digits, as Salesforce shows them."""
        return hmac.new(self.secret.encode(), b"connected-app-client-secret", hashlib.sha256).hexdigest().upper()


def _system_values(identity: OrgIdentity) -> dict[str, object]:
    stamp = format_datetime(now_utc())
    return {"IsDeleted": 0, "CreatedDate": stamp, "CreatedById": identity.user_id, "LastModifiedDate": stamp,
            "LastModifiedById": identity.user_id, "SystemModstamp": stamp}


class Store:
    """The org's SQLite file. `conn()` is this thread's connection; `transaction()` a write block."""

    def __init__(self, db_path: Path | str, schema: OrgSchema, *, cache_mb: int = 64):
        self.path = Path(db_path)
        self.schema = schema
        self.cache_mb = cache_mb
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._savepoints = itertools.count(1)
        self.identity: OrgIdentity | None = None
        self.schema_modified = now_utc()  # set by initialize()

    # -- connections --------------------------------------------------------------------------------
    def connect(self, cache_mb: int | None = None, register: bool = True) -> sqlite3.Connection:
        """A new connection configured for this store; `register`ed ones are closed by `close()`.

        The caller owns an unregistered connection; see `conn` for the calling thread's shared one.
        """
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        conn.execute("PRAGMA page_size=8192")  # only takes effect when the file is created
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=20000")  # fewer, larger checkpoints: bulk loads write a lot
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA cache_size=-{(cache_mb or self.cache_mb) * 1024}")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA busy_timeout=60000")
        if register:
            with self._lock:
                self._all.append(conn)
        return conn

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.connect()
        return conn

    @contextmanager
    def transaction(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one writer at a time, no deadlock upgrades."""
        conn = conn or self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def atomic(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint inside the one already open: the unit a REST call (or one
        subrequest of a composite request holding the outer transaction) commits or rolls back."""
        conn = conn or self.conn()
        if not conn.in_transaction:
            with self.transaction(conn):
                yield conn
            return
        name = f"sp{next(self._savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):  # closing is best effort at shutdown
                conn.close()

    # -- schema and seed -----------------------------------------------------------------------------
    def initialize(self) -> OrgIdentity:
        """Create or upgrade every table, seed a new org, and return its identity."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as conn:
            for statement in INTERNAL_DDL:
                conn.execute(statement)
            for obj in self.schema.objects.values():
                self._ensure_table(conn, obj)
            identity = self._load_identity(conn) or self._seed(conn)
            self._ensure_record_types(conn, identity)
            self._ensure_organization(conn, identity)
            self.schema_modified = self._schema_modified(conn)
        self.identity = identity
        return identity

    def _ensure_record_types(self, conn: sqlite3.Connection, identity: OrgIdentity) -> None:
        """The record types the schema declares, as RecordType records (missing ones are created)."""
        if self.schema.get("RecordType") is None:
            return
        existing = set(conn.execute('SELECT "SobjectType", "DeveloperName" FROM "RecordType"'))
        wanted = [(obj.name, rt) for obj in self.schema.objects.values() for rt in obj.record_types
                  if (obj.name, rt.developer_name) not in existing]
        if not wanted:
            return
        ids = self.allocate_ids(conn, self.schema.objects["RecordType"].key_prefix, len(wanted))
        for record_id, (object_name, rt) in zip(ids, wanted, strict=True):
            self._insert_seed(conn, "RecordType", {
                **_system_values(identity), "Id": record_id, "Name": rt.label, "DeveloperName": rt.developer_name,
                "SobjectType": object_name, "IsActive": 1 if rt.active else 0})

    def _schema_modified(self, conn: sqlite3.Connection) -> datetime:
        """When the org's metadata last changed: its fingerprint is kept with the time it was first seen,
        so describe can answer If-Modified-Since across restarts."""
        fingerprint = hashlib.sha256("\n".join(repr(obj) for obj in self.schema.objects.values()).encode()).hexdigest()
        values = dict(conn.execute("SELECT key, value FROM _org WHERE key IN ('schema_hash', 'schema_modified')"))
        if values.get("schema_hash") == fingerprint and "schema_modified" in values:
            return datetime.fromisoformat(values["schema_modified"])
        moment = now_utc().replace(microsecond=0)
        conn.executemany("INSERT OR REPLACE INTO _org (key, value) VALUES (?, ?)",
                         [("schema_hash", fingerprint), ("schema_modified", moment.isoformat())])
        return moment

    def _ensure_organization(self, conn: sqlite3.Connection, identity: OrgIdentity) -> None:
        """The Organization record (its Id is the org id), in new databases and in ones made before it existed."""
        if self.schema.get("Organization") is None or conn.execute(
                'SELECT 1 FROM "Organization" WHERE "Id" = ?', (identity.org_id,)).fetchone():
            return
        self._insert_seed(conn, "Organization", {
            **_system_values(identity), "Id": identity.org_id, "Name": "Local Org",
            "OrganizationType": "Developer Edition", "InstanceName": "LOCAL", "IsSandbox": 0, "IsReadOnly": 0,
            "NamespacePrefix": None,
            "TrialExpirationDate": None, "Country": "US", "PrimaryContact": "Local Admin",
            "DefaultLocaleSidKey": "en_US", "LanguageLocaleKey": "en_US", "TimeZoneSidKey": "GMT",
            "FiscalYearStartMonth": 1, "UsesStartDateAsFiscalYearName": 0})

    def _ensure_table(self, conn: sqlite3.Connection, obj: ObjectDef) -> None:
        table = sql_name(obj.name)
        existing = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not existing:
            columns = ['"Id" TEXT PRIMARY KEY NOT NULL', '"IsDeleted" INTEGER NOT NULL DEFAULT 0']
            columns += [f"{sql_name(f.name)} {column_type(f)}" for f in obj.fields.values()
                        if f.name not in ("Id", "IsDeleted")]
            conn.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        else:  # a schema file added fields since the database was created
            for f in obj.fields.values():
                if f.name not in existing:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {sql_name(f.name)} {column_type(f)}")
        for _, create in secondary_indexes(obj):
            conn.execute(create)

    def _load_identity(self, conn: sqlite3.Connection) -> OrgIdentity | None:
        values = dict(conn.execute("SELECT key, value FROM _org"))
        if "org_id" not in values:
            return None
        return OrgIdentity(values["org_id"], values["user_id"], values["username"], values["secret"])

    def _seed(self, conn: sqlite3.Connection) -> OrgIdentity:
        org_counter = secrets.randbelow(62**7) + 62**6  # distinct org ids for distinct databases
        identity = OrgIdentity(org_id=make_id("00D", org_counter), user_id=self.allocate_ids(conn, "005", 1)[0],
                               username=ADMIN_USERNAME, secret=secrets.token_urlsafe(32))
        conn.executemany("INSERT INTO _org (key, value) VALUES (?, ?)",
                         [("org_id", identity.org_id), ("user_id", identity.user_id),
                          ("username", identity.username), ("secret", identity.secret)])
        system = _system_values(identity)
        user = {"Id": identity.user_id, "Username": ADMIN_USERNAME, "LastName": "Admin", "FirstName": "Local",
                "Email": ADMIN_USERNAME, "Alias": "admin", "IsActive": 1, "TimeZoneSidKey": "GMT",
                "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US"}
        self._insert_seed(conn, "User", {**system, **user})
        if self.schema.get("Pricebook2") is not None:
            pricebook = {"Id": self.allocate_ids(conn, "01s", 1)[0], "Name": "Standard Price Book",
                         "IsActive": 1, "IsStandard": 1}
            self._insert_seed(conn, "Pricebook2", {**system, **pricebook})
        return identity

    def _insert_seed(self, conn: sqlite3.Connection, object_name: str, values: dict[str, object]) -> None:
        obj = self.schema.get(object_name)
        if obj is None:
            return
        row = {k: v for k, v in values.items() if obj.field(k) is not None}
        conn.execute(f"INSERT INTO {sql_name(obj.name)} ({', '.join(map(sql_name, row))}) "
                     f"VALUES ({', '.join('?' * len(row))})", list(row.values()))

    # -- counters ------------------------------------------------------------------------------------
    def next_counter(self, conn: sqlite3.Connection, name: str, count: int) -> int:
        """Reserve `count` consecutive numbers of counter `name`; returns the first. Call inside a write."""
        row = conn.execute("UPDATE _counters SET next = next + ? WHERE name = ? RETURNING next",
                           (count, name)).fetchone()
        if row is None:
            conn.execute("INSERT INTO _counters (name, next) VALUES (?, ?)", (name, 1 + count))
            return 1
        return int(row[0]) - count

    def raise_counters(self, floors: dict[str, int]) -> None:
        """Make each counter `name` hand out nothing below `floors[name]` (numbers already in use elsewhere)."""
        if not floors:
            return
        with self.transaction() as conn:
            conn.executemany("INSERT INTO _counters (name, next) VALUES (?, ?) "
                             "ON CONFLICT (name) DO UPDATE SET next = max(next, excluded.next)", floors.items())

    def allocate_ids(self, conn: sqlite3.Connection, prefix: str, count: int) -> list[str]:
        return make_ids(prefix, self.next_counter(conn, "id:" + prefix, count), count) if count else []
