"""migrator: declarative, YAML-driven data migrations for Salesforce.

The verbs the `migrator` command offers are plain functions here, for scripts, notebooks and CI
jobs that would rather call Python than a shell::

    import migrator

    migrator.validate("plans/crm.yaml", check_sources=True)
    result = migrator.run("plans/crm.yaml", target="sandbox")
    print(result.results["totals"], result.exit_code)

They never print; progress arrives through `on_event(kind, data)`, failures as the exceptions
below (all `MigratorError`), and each returns a typed result.
"""

from migrator.api import (
    PlanResult,
    RunStatus,
    ValidateResult,
    list_runs,
    plan,
    remote_jobs,
    retry,
    run,
    status,
    validate,
)
from migrator.compile.manifest import MIGRATOR_VERSION, Manifest
from migrator.errors import (
    AuthError,
    BulkApiError,
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
    "ConfigError",
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
    "TransientApiError",
    "UsageError",
    "ValidateResult",
    "__version__",
    "list_runs",
    "plan",
    "remote_jobs",
    "retry",
    "run",
    "status",
    "validate",
]
