"""Every fault of the local org at once, through Bulk API 1.0 and 2.0: every row still ends loaded."""

from __future__ import annotations

import pytest

from tests.integration.run.test_run_failures import write_plan

ALL_FAULTS = {"lock_rate": 0.1, "seed": 5, "fail_job_after": 30, "upload_503": 3, "expire_token_after": 25,
              "slow_ms": 1}


def password_target(org) -> None:
    """Sign in with a password, so an expired token is renewed (a bare token cannot be)."""
    (org.project / "migrator.toml").write_text(
        f'[targets.test]\nauth = "password"\nlogin_url = "{org.server.instance_url}"\n'
        f'client_id = "{org.server.client_id}"\nusername = "{org.server.username}"\npassword_env = "TEST_PASSWORD"\n'
        f'client_secret_env = "TEST_SECRET"\n'
        f'verify = "{org.server.ca_file}"\n', encoding="utf-8")
    org.env = {"TEST_PASSWORD": org.server.password, "TEST_SECRET": org.server.client_secret}


@pytest.mark.parametrize("api", ["bulk1", "bulk2"])
def test_every_fault_at_once_still_loads_every_row(org, api):
    plan = write_plan(org.project, accounts=60, part_rows=40)
    plan.write_text(plan.read_text().replace("defaults: {", f"defaults: {{api: {api}, "), encoding="utf-8")
    password_target(org)
    org.faults(ALL_FAULTS)
    result = org.run(plan, max_retries=8)
    totals = result.results["totals"]
    assert result.exit_code == 0, (result.results["error"], result.results["top_errors"])
    assert {s["api"] for s in result.results["steps"]} == {api}
    assert (totals["succeeded"], totals["failed"], totals["skipped"]) == (180, 0, 0)
    assert totals["retried"] > 0
    org.faults(None)
    assert org.count("Account") == 60 and org.count("Contact") == 120
