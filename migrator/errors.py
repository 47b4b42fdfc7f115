"""The one exception hierarchy of migrator.

Every error carries structured fields (file, line, object, row, field, job id, error code) so that
callers can decide what to do with it; only the CLI turns errors into text for people. Each class
knows the process exit code it stands for: 2 for "could not run", 1 for "ran, some rows failed",
130 for "stopped by Ctrl-C".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan or its sources, located as precisely as we can.

    `path` is a dotted path into the plan such as ``objects[2].fields.Name``; `line` is 1-based.
    """

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file or "<plan>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class MigratorError(Exception):
    """Base of every error migrator raises on purpose."""

    exit_code = 2

    def as_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": str(self)}


# --- could not run (exit 2) ------------------------------------------------------------------


class UsageError(MigratorError):
    """The user asked for something that cannot be done as asked."""


class PlanError(UsageError):
    """A plan is invalid. Holds every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem], *, warnings: Sequence[Problem] = ()):
        self.problems = list(problems)
        self.warnings = list(warnings)
        count = len(self.problems)
        summary = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the plan:\n{summary}")

    def as_dict(self) -> dict[str, object]:
        return {"error": "PlanError", "problems": [p.as_dict() for p in self.problems],
                "warnings": [w.as_dict() for w in self.warnings]}


class ConfigError(UsageError):
    """Targets, credentials or settings are missing or inconsistent."""


class SourceDataError(UsageError):
    """A source file cannot be read at all (as opposed to single bad rows, which become rejects)."""

    def __init__(self, message: str, *, file: str | None = None, row: int | str | None = None,
                 field: str | None = None):
        self.file, self.row, self.field = file, row, field
        where = ":".join(str(x) for x in (file, row) if x is not None)
        prefix = f"{where}: " if where else ""
        if field:
            prefix += f"{field}: "
        super().__init__(prefix + message)


class RunStateError(UsageError):
    """A run directory or checkpoint is missing, corrupt, or from an incompatible version."""


class MigrationsError(UsageError):
    """The migrations folder cannot be used as it is: a file name that is not a migration name, two
    files with one version, a version that does not exist. Holds every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        summary = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the migrations:\n{summary}")

    def as_dict(self) -> dict[str, object]:
        return {"error": "MigrationsError", "problems": [p.as_dict() for p in self.problems]}


class HistoryError(UsageError):
    """The migration history of an org cannot be found, read or written (no history object and no
    history file chosen, a record the server refused, a file that is not a history)."""


class HistoryLockedError(HistoryError):
    """Another migrate holds the org's history lock. `holder` is its run id, `since` when it took
    the lock and `by` who ran it, so the user can tell a running migrate from a stale lock."""

    def __init__(self, message: str, *, holder: str, since: str | None = None, by: str | None = None):
        self.holder, self.since, self.by = holder, since, by
        super().__init__(message)

    def as_dict(self) -> dict[str, object]:
        return {"error": "HistoryLockedError", "message": str(self), "holder": self.holder, "since": self.since,
                "by": self.by}


class DriftError(HistoryError):
    """What was applied no longer matches the migrations folder: a changed checksum, a migration that
    disappeared, one added below a version already applied. `problems` says which, and how to accept it."""

    def __init__(self, message: str, problems: Sequence[dict[str, object]]):
        self.problems = list(problems)
        super().__init__(message)

    def as_dict(self) -> dict[str, object]:
        return {"error": "DriftError", "message": str(self), "problems": self.problems}


# --- stopped (exit 130) ----------------------------------------------------------------------


class Interrupted(MigratorError):
    """The run was stopped (Ctrl-C): open jobs were aborted and the checkpoint says where to resume.

    Exit code 130 (128 + SIGINT), the shell's convention for a program stopped by Ctrl-C, whatever
    the command was doing at the time."""

    exit_code = 130


# --- ran, some rows failed (exit 1) ----------------------------------------------------------


class MigrationFailed(MigratorError):
    """The run finished but not every row was loaded."""

    exit_code = 1


# --- Bulk API -------------------------------------------------------------------------------


class BulkApiError(MigratorError):
    """An API call failed. `status` is the HTTP status; `error_code` the Salesforce errorCode."""

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None,
                 job_id: str | None = None, url: str | None = None):
        self.status, self.error_code, self.job_id, self.url = status, error_code, job_id, url
        parts = [p for p in (error_code, message) if p]
        text = ": ".join(parts) if parts else "Bulk API error"
        if status is not None:
            text = f"HTTP {status} {text}"
        if job_id:
            text += f" (job {job_id})"
        super().__init__(text)
        self.api_message = message

    def as_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "status": self.status, "error_code": self.error_code,
                "message": self.api_message, "job_id": self.job_id}


class AuthError(BulkApiError):
    """Authentication failed or the session expired and could not be renewed."""


class TransientApiError(BulkApiError):
    """Worth retrying: 5xx, timeouts, lock contention, throttling."""


class JobFailedError(BulkApiError):
    """A job ended in state Failed or Aborted."""


class LimitExceededError(BulkApiError):
    """An org limit (API requests, batches, upload size) was exceeded."""


class NotFoundError(BulkApiError):
    """The job, batch or resource does not exist (or was deleted)."""


class InvalidRequestError(BulkApiError):
    """The server refused the request as malformed or illegal in the current state (HTTP 400)."""


class SchemaFileError(UsageError):
    """An org schema file or snapshot cannot be read: the message names the file, object and field."""



class CheckFailed(PlanError):
    """The plan cannot run against this target (objects or fields it does not have, limits it would
    exceed): every problem at once, each located in the plan."""

    def __init__(self, problems: Sequence[Problem], *, target: str = ""):
        super().__init__(problems)
        self.target = target

    def as_dict(self) -> dict[str, object]:
        return {"error": "CheckFailed", "target": self.target, "problems": [p.as_dict() for p in self.problems]}
