"""A writer process: applies prepared batches to the database while the DML worker prepares the next.

Inserting a row costs SQLite several microseconds, and Python threads cannot overlap that with other
Python work (sqlite3 holds the GIL while binding parameters, and a busy second thread starves it of
the GIL). A second process can: big ingest jobs send each batch's statements here and go on
validating the next batch, so parsing/validation and writing run on two cores.

The process is ``python -m migrator.localorg.sqlwriter <db>``, talking pickled messages over its
stdin/stdout (not multiprocessing, whose "spawn" re-imports the parent's main script). It starts on
first use and lives as long as the org. Batches are applied strictly in order, each in its own
transaction; at most `depth` are in flight.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .dml_write import Statement, apply

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-262144", "temp_store=MEMORY",
           "busy_timeout=60000", "wal_autocheckpoint=20000", "threads=2")  # threads: parallel index sorts


class WriterError(RuntimeError):
    pass


def serve(db_path: str, requests: IO[bytes], answers: IO[bytes]) -> None:
    """The child's loop: apply each batch of statements, answer None or the error text."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=60)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    while True:
        try:
            statements = pickle.load(requests)
        except EOFError:
            break
        if statements is None:
            break
        try:
            apply(conn, statements)
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
        with self._lock:
            process = self._start()
            while self._in_flight >= self.depth:
                self._collect(process)
            try:
                pickle.dump(list(statements), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
                process.stdin.flush()  # type: ignore[union-attr]
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
            pickle.dump(None, process.stdin)  # type: ignore[arg-type]
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
