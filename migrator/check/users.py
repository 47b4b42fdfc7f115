"""The target's users, for `user:` fields (OwnerId and other lookups to User).

User Ids differ between orgs, so a plan names users by Username or Email and the load turns the
names into the target's Ids, as it does record type DeveloperNames. Only active users can own
records, so only they are read; when several share an email, the first by Username wins, so the
choice is the same on every run.
"""

from __future__ import annotations

from migrator.client.http import ApiSession
from migrator.client.rest_query import query_records
from migrator.compile.field_rules import Users
from migrator.plan.model import Plan

USERS_SOQL = "SELECT Id, Username, Email FROM User WHERE IsActive = true ORDER BY Username"


def uses_users(plan: Plan) -> list[str]:
    """The steps with a `user:` field."""
    return [s.name for s in plan.objects if any(f.user for f in s.fields)]


def target_users(session: ApiSession, plan: Plan) -> Users:
    """The target's active users, named as the plan's `users.match` says."""
    mapping = plan.users
    column = "Email" if mapping.match == "email" else "Username"
    ids: dict[str, str] = {}
    for record in query_records(session, USERS_SOQL):
        name = str(record.get(column) or "").lower()
        if name and name not in ids:
            ids[name] = str(record["Id"])
    return Users(ids=ids, match=mapping.match, map=dict(mapping.map), default=mapping.default)
