"""A writer process: applies prepared batches to the database while the DML worker prepares the next.

Inserting a row costs SQLite several microseconds, and Python threads cannot overlap that with other
Python work (sqlite3 holds the GIL while binding parameters, and a busy second thread starves it of
the GIL). A second process can: big ingest jobs send each batch's statements here and go on
validating the next batch, so parsing/validation and writing run on two cores.

The process is ``python -m migrator.localorg.sqlwriter <db>``, talking pickled messages over its
stdin/stdout (not multiprocessing, whose "spawn" re-imports the parent's main script). It starts on
first use and lives as long as the org. Batches are applied strictly in order, each in its own
transaction; at most `depth` are in flight.

Messages are length-prefixed pickles, and a thread in the child reads them as they come: otherwise
the parent's write of batch n+1 (about 1 MB, far more than a pipe holds) would block until the
child had finished batch n, and the pipeline would be one batch deep whatever `depth` says. A
column of strings travels as one string joined with a separator (one join here, one split there)
rather than as a pickled list, which cost both processes more.
"""

from __future__ import annotations

import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .dml_write import Statement, apply

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-262144", "temp_store=MEMORY", "mmap_size=4294967296",
           "busy_timeout=60000", "wal_autocheckpoint=20000", "threads=2")  # threads: parallel index sorts


SEPARATOR = "\x1f"  # unit separator: joined text is used only when no value contains it


class WriterError(RuntimeError):
    pass


def pack(statements: Sequence[Statement]) -> list[tuple[object, ...]]:
    """Statements in their wire form (see `unpack`)."""
    return [(s.sql, s.head, s.row, s.tail, [_pack_column(c) for c in s.columns]) for s in statements]


def unpack(message: list[tuple[object, ...]]) -> list[Statement]:
    return [Statement(sql, tuple(_unpack_column(c) for c in columns), head, row, tail)  # type: ignore[arg-type]
            for sql, head, row, tail, columns in message]


def _pack_column(values: list[object]) -> tuple[bool, object]:
    """(True, joined text) for a column of strings none of which holds the separator, else (False, values)."""
    try:
        joined = SEPARATOR.join(values)  # type: ignore[arg-type]
    except TypeError:  # numbers, flags, nulls
        return False, values
    if joined.count(SEPARATOR) != len(values) - 1:
        return False, values
    return True, joined


def _unpack_column(packed: tuple[bool, object]) -> list[object]:
    joined, data = packed
    return data.split(SEPARATOR) if joined else data  # type: ignore[union-attr,return-value]


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(8, "little"))
    stream.write(payload)
    stream.flush()


def read_frames(stream: IO[bytes], inbox: queue.Queue[bytes | None]) -> None:
    """Move frames from `stream` to `inbox` until an empty frame or the end of the stream, then None."""
    try:
        while len(head := stream.read(8)) == 8 and (size := int.from_bytes(head, "little")):
            payload = stream.read(size)
            if len(payload) != size:
                break
            inbox.put(payload)
    finally:
        inbox.put(None)


def serve(db_path: str, requests: IO[bytes], answers: IO[bytes]) -> None:
    """The child's loop: apply each batch of statements, answer None or the error text."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=60)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    inbox: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=read_frames, args=(requests, inbox), daemon=True).start()
    while (payload := inbox.get()) is not None:
        try:
            apply(conn, unpack(pickle.loads(payload)))
            answer: str | None = None
        except Exception as exc:
            answer = f"{type(exc).__name__}: {exc}"
        pickle.dump(answer, answers)
        answers.flush()
    conn.close()


class SqlWriter:
    """The parent's handle on the writer process."""

    def __init__(self, db_path: Path, depth: int = 4):
        self.db_path = db_path
        self.depth = depth
        self._process: subprocess.Popen[bytes] | None = None
        self._in_flight = 0
        self._failure: str | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            package_root = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)}
            self._process = subprocess.Popen([sys.executable, "-m", "migrator.localorg.sqlwriter", str(self.db_path)],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self._in_flight = 0
        return self._process

    def submit(self, statements: Sequence[Statement]) -> None:
        """Queue one batch; blocks while `depth` batches are still being applied."""
        payload = pickle.dumps(pack(statements), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            process = self._start()
            while self._in_flight >= self.depth:
                self._collect(process)
            try:
                write_frame(process.stdin, payload)  # type: ignore[arg-type]
                self._in_flight += 1
            except (BrokenPipeError, OSError):
                self._failure = self._failure or "the writer process stopped"

    def drain(self) -> None:
        """Wait until every submitted batch is committed; WriterError if one failed."""
        with self._lock:
            if self._process is not None:
                while self._in_flight:
                    self._collect(self._process)
            failure, self._failure = self._failure, None
        if failure:
            raise WriterError(failure)

    def _collect(self, process: subprocess.Popen[bytes]) -> None:
        try:
            answer: Any = pickle.load(process.stdout)  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError, OSError):
            answer, self._in_flight = "the writer process stopped", 1
        self._in_flight -= 1
        if answer is not None and self._failure is None:
            self._failure = str(answer)

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        try:
            write_frame(process.stdin, b"")  # type: ignore[arg-type]
            process.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":  # the writer process
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
