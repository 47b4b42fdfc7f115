"""migrator: declarative, YAML-driven data migrations for Salesforce.

The verbs the `migrator` command offers are plain functions here, for scripts, notebooks and CI
jobs that would rather call Python than a shell::

    import migrator

    migrator.validate("plans/crm.yaml", check_sources=True)
    checked = migrator.check("plans/crm.yaml", target="sandbox")   # what the org would refuse, and do
    result = migrator.run("plans/crm.yaml", target="sandbox", changed_only=True)
    print(result.results["totals"], result.exit_code)

They never print; progress arrives through `on_event(kind, data)`, failures as the exceptions
below (all `MigratorError`), and each returns a typed result.
"""

from migrator.api import (
    PlanResult,
    RunStatus,
    ValidateResult,
    check,
    describe,
    list_runs,
    plan,
    remote_jobs,
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
    MigrationFailed,
    MigratorError,
    PlanError,
    Problem,
    RunStateError,
    SourceDataError,
    TransientApiError,
    UsageError,
)
from migrator.plan.model import Plan
from migrator.run.runner import RunResult

__version__ = MIGRATOR_VERSION

__all__ = [
    "AuthError",
    "BulkApiError",
    "CheckFailed",
    "CheckResult",
    "ConfigError",
    "DescribeResult",
    "Manifest",
    "MigrationFailed",
    "MigratorError",
    "Plan",
    "PlanError",
    "PlanResult",
    "Problem",
    "RunResult",
    "RunStateError",
    "RunStatus",
    "SourceDataError",
    "StepForecast",
    "TransientApiError",
    "UsageError",
    "ValidateResult",
    "__version__",
    "check",
    "describe",
    "list_runs",
    "plan",
    "remote_jobs",
    "retry",
    "run",
    "status",
    "validate",
]
