"""SQL sources through SQLAlchemy: a query, or a whole table, streamed with a server-side cursor.

`url` names a `[databases]` entry of migrator.toml (resolved by the configuration, with its
password from the environment, and handed in as a `Database`) or is a URL without a password
(`postgresql://erp@127.0.0.1/erp`, which libpq completes from PGPASSWORD or ~/.pgpass, or
`sqlite:///legacy.db`, relative to the sources directory and inside the plan's project). The
password is added to the URL only to connect; messages never show it.

On PostgreSQL (through psycopg) rows are streamed by COPY as CSV into Arrow's CSV reader, with
per-type rules that give the same text (see `readers.pgcopy`); elsewhere, and for results with
types those rules do not cover, they are fetched in partitions with `stream_results` (a named
cursor on PostgreSQL, so the client never holds more than a partition) and turned into text
columns (see `readers.text`). A table is
read in primary-key order, so parts are the same from run to run; a query keeps its own ORDER BY.
Rows are referred to by `key:` (default: a table's one-column primary key), as `id 42`, else by
their number in the result, as `row 17`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from psycopg import sql as pgsql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migrator.compile.readers.base import (
    TEXT,
    Database,
    ReadContext,
    SourceChunk,
    SourceWarning,
    numbered_refs,
    scan_chunks,
)
from migrator.compile.readers.pgcopy import copy_plan, copy_tables, describe
from migrator.compile.readers.text import values_text
from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec
from migrator.plan.project import inside
from migrator.plan.source_checks import ALLOW_HINT
from migrator.plan.source_kinds import is_database_name, sqlite_path, url_password

DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_ROWS_PER_BYTE = 1 / 120  # rows a partition holds per byte of block: about 120 bytes a legacy row


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def connect_url(spec: SourceSpec, context: ReadContext) -> tuple[URL, str]:
    """The URL to connect with (password included) and the database's name for messages."""
    raw = spec.url or ""
    if is_database_name(raw):
        database = context.databases.get(raw)
        if database is None:
            known = ", ".join(sorted(context.databases)) or "none"
            raise SourceDataError(f"database {raw!r} is not configured: add [databases.{raw}] to migrator.toml "
                                  f"(configured: {known})")
        if database.error:
            raise SourceDataError(database.error)
        return _url(database, context), raw
    if url_password(raw):
        raise SourceDataError("a source url must not hold a password; name a [databases] entry of migrator.toml")
    url = _url(Database(name="", url=raw), context)
    label = Path(url.database).stem if url.get_backend_name() == "sqlite" and url.database else (url.database or
                                                                                                  url.host or "db")
    return url, label


def _url(database: Database, context: ReadContext) -> URL:
    try:
        url = make_url(database.url)
    except sa.exc.ArgumentError:
        raise SourceDataError(f"{database.name or 'the source url'}: not a database URL "
                              "(e.g. postgresql://user@host/db or sqlite:///file.db)") from None
    url = url.set(drivername=DEFAULT_DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(database.url)
        if path is not None:
            file = Path(path) if Path(path).is_absolute() or database.name else context.sources_dir / path
            if not database.name and context.roots and not inside(file, context.roots):
                raise SourceDataError(f"the SQLite database {str(file.resolve())!r} is outside the plan's project; "
                                      f"{ALLOW_HINT}")
            if not file.is_file():
                raise SourceDataError(f"the SQLite database {str(file)!r} does not exist")
            url = url.set(database=str(file.resolve()))
    if database.password is not None:
        url = url.set(password=database.password)
    return url


@dataclass
class SqlReader:
    spec: SourceSpec
    context: ReadContext
    kind: str = "sql"
    use_copy: bool = True  # PostgreSQL by COPY where its rules cover the result (False: the driver's values)

    def __post_init__(self) -> None:
        self.url, self.database = connect_url(self.spec, self.context)
        self.name = f"{self.database}.{self.spec.table}" if self.spec.table else f"{self.database} query"

    def _engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=NullPool)

    def _fail(self, exc: BaseException, doing: str) -> SourceDataError:
        message = _first_line(exc)
        if self.url.password:
            message = message.replace(str(self.url.password), "********")
        return SourceDataError(f"{doing}: {message}", file=self.name)

    def _table(self, conn: sa.Connection) -> sa.Table:
        schema, _, name = (self.spec.table or "").rpartition(".")
        try:
            return sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema or None)
        except sa.exc.NoSuchTableError:
            raise SourceDataError(f"no table {self.spec.table!r} in database {self.database}", file=self.name) from None

    def _statement(self, conn: sa.Connection) -> tuple[sa.Executable, str | None]:
        """The SELECT to run and the column naming each row (None: rows are numbered)."""
        wanted = list(self.spec.columns)
        if self.spec.table:
            table = self._table(conn)
            missing = [c for c in wanted + ([self.spec.key] if self.spec.key else []) if c not in table.c]
            if missing:
                raise SourceDataError(f"table {self.spec.table!r} has no column {missing[0]!r} (columns: "
                                      f"{', '.join(table.c.keys())})", file=self.name)
            primary = [c.name for c in table.primary_key.columns]
            key = self.spec.key or (primary[0] if len(primary) == 1 else None)
            reads = list(dict.fromkeys(wanted + ([key] if key else []))) if wanted else []
            picked = [table.c[c] for c in reads] if reads else list(table.c)
            order = [table.c[c] for c in primary] or list(table.c)
            return sa.select(*picked).order_by(*order), key
        query = (self.spec.query or "").strip().rstrip(";")
        if not wanted:
            return sa.text(query), self.spec.key
        reads = list(dict.fromkeys(wanted + ([self.spec.key] if self.spec.key else [])))
        inner = sa.text(query).columns(*(sa.column(c) for c in reads)).subquery("migrator_source")
        return sa.select(*(inner.c[c] for c in reads)), self.spec.key

    def columns(self) -> tuple[str, ...]:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                statement, _ = self._statement(conn)
                if self.spec.table:
                    return tuple(self.spec.columns) or tuple(c.name for c in statement.selected_columns)  # type: ignore[attr-defined]
                # a server-side cursor plans the query without running it to the end; errors point
                # into the user's own query text
                result = conn.execution_options(stream_results=True).execute(
                    sa.text((self.spec.query or "").strip().rstrip(";")))
                names = tuple(result.keys())
                result.close()
                missing = [c for c in self.spec.columns if c not in names]
                if missing:
                    raise SourceDataError(f"the query has no column {missing[0]!r} (columns: {', '.join(names)})",
                                          file=self.name)
                return tuple(self.spec.columns) or names
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc, "cannot read the columns") from None
        finally:
            engine.dispose()

    def chunks(self) -> Iterator[SourceChunk]:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                statement, key = self._statement(conn)
                names, tables = self._copied(conn, statement) or self._fetched(conn, statement)
                if key is not None and key not in names:
                    raise SourceDataError(f"key {key!r} is not a column of the result (columns: {', '.join(names)})",
                                          file=self.name)
                record = 1
                for table in tables:
                    count = table.num_rows
                    frame = table.to_pandas(types_mapper={pa.string(): TEXT}.get)
                    if key is None:
                        refs = numbered_refs("row ", record, count)
                    else:
                        refs = _key_refs(key, table.column(key))
                    yield SourceChunk(frame[list(self.columns_of(names))], self.name,
                                      np.arange(record + 1, record + count + 1), refs)
                    record += count
        except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
            raise self._fail(exc, "cannot read") from None
        finally:
            engine.dispose()

    def _fetched(self, conn: sa.Connection, statement: sa.Executable) -> tuple[list[str], Iterator[pa.Table]]:
        """The generic path: the driver's Python values, a partition at a time, made text in Arrow."""
        rows_per_chunk = max(1000, int(self.context.block_bytes * _ROWS_PER_BYTE))
        result = conn.execution_options(stream_results=True, yield_per=rows_per_chunk).execute(statement)
        names = list(result.keys())

        def tables() -> Iterator[pa.Table]:
            for partition in result.partitions(rows_per_chunk):
                columns = list(zip(*partition, strict=True)) if partition else [() for _ in names]
                texts = [values_text(list(values)) for values in columns]
                yield pa.table({name: pc.fill_null(text, "") for name, text in zip(names, texts, strict=True)})
        return names, tables()

    def _copied(self, conn: sa.Connection, statement: sa.Executable) -> tuple[list[str], Iterator[pa.Table]] | None:
        """PostgreSQL through psycopg: the rows by COPY (see `readers.pgcopy`); None when the result
        has a column the COPY rules do not cover, or for another database or driver."""
        if not self.use_copy or conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
            return None
        if isinstance(statement, sa.TextClause):
            select = pgsql.SQL(str(statement))  # the user's query, as written
        else:
            compiled = str(statement.compile(dialect=conn.dialect))
            if "%" in compiled:  # a name with a percent sign, escaped for parameters: left to the driver
                return None
            select = pgsql.SQL(compiled)
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        plan = copy_plan(select, describe(raw, select))
        if plan is None:
            return None
        return list(plan.names), copy_tables(raw, plan, self.context.block_bytes)

    def columns_of(self, names: list[str]) -> list[str]:
        """The result's columns the step reads (a key added only to name rows is left out)."""
        return list(self.spec.columns) or names

    def scan(self) -> list[SourceWarning]:
        return scan_chunks(self)


def _key_refs(key: str, values: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    return pd.array(pc.binary_join_element_wise(pa.scalar(f"{key} "), values, ""), dtype=TEXT)
