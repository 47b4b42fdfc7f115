"""migrator: declarative, YAML-driven data migrations for Salesforce.

The verbs the `migrator` command offers are plain functions here, for scripts, notebooks and CI
jobs that would rather call Python than a shell::

    import migrator

    migrator.validate("plans/crm.yaml", check_sources=True)
    checked = migrator.check("plans/crm.yaml", target="sandbox")   # what the org would refuse, and do
    result = migrator.run("plans/crm.yaml", target="sandbox", changed_only=True)
    print(result.results["totals"], result.exit_code)
    migrator.migrate(target="sandbox")  # the pending versioned migrations (docs/migrations.md)
    migrator.copy("plans/crm.yaml", source="prod", target="sandbox", where=("Account=Industry = 'Tech'",))

They never print; progress arrives through `on_event(kind, data)`, failures as the exceptions
below (all `MigratorError`), and each returns a typed result.
"""

from migrator.api import (
    BaselineResult,
    InfoResult,
    MigrateResult,
    PlanResult,
    RepairResult,
    RunStatus,
    ValidateResult,
    baseline,
    check,
    copy,
    delete,
    describe,
    extract,
    info,
    list_runs,
    migrate,
    plan,
    remote_jobs,
    repair,
    retry,
    run,
    status,
    validate,
)
from migrator.check.check_command import CheckResult
from migrator.check.describe_command import DescribeResult
from migrator.check.predict import StepForecast
from migrator.compile.manifest import MIGRATOR_VERSION, Manifest
from migrator.errors import (
    AuthError,
    BulkApiError,
    CheckFailed,
    ConfigError,
    DriftError,
    HistoryError,
    HistoryLockedError,
    MigrationFailed,
    MigrationsError,
    MigratorError,
    PlanError,
    Problem,
    RunStateError,
    SourceDataError,
    TransientApiError,
    UsageError,
)
from migrator.extract.copy_command import CopyResult
from migrator.extract.delete_command import DeleteResult
from migrator.extract.extract_command import ExtractResult
from migrator.plan.model import Plan
from migrator.run.runner import RunResult

__version__ = MIGRATOR_VERSION

__all__ = [
    "AuthError",
    "BaselineResult",
    "BulkApiError",
    "CheckFailed",
    "CheckResult",
    "ConfigError",
    "CopyResult",
    "DeleteResult",
    "DescribeResult",
    "DriftError",
    "ExtractResult",
    "HistoryError",
    "HistoryLockedError",
    "InfoResult",
    "Manifest",
    "MigrateResult",
    "MigrationFailed",
    "MigrationsError",
    "MigratorError",
    "Plan",
    "PlanError",
    "PlanResult",
    "Problem",
    "RepairResult",
    "RunResult",
    "RunStateError",
    "RunStatus",
    "SourceDataError",
    "StepForecast",
    "TransientApiError",
    "UsageError",
    "ValidateResult",
    "__version__",
    "baseline",
    "check",
    "copy",
    "delete",
    "describe",
    "extract",
    "info",
    "list_runs",
    "migrate",
    "plan",
    "remote_jobs",
    "repair",
    "retry",
    "run",
    "status",
    "validate",
]
