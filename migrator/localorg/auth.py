"""Sessions: issuing and checking access and refresh tokens. The one place a token is judged.

Every API flavour asks `Sessions.authenticate(token)`: REST and Bulk 2.0 pass the ``Authorization:
Bearer`` value, Bulk 1.0 the ``X-SFDC-Session`` value. Tokens look like Salesforce's
(``<18-character org id>!<secret>``); only their SHA-256 hashes are stored, so the database never
holds a usable token. The start-up token printed by ``migrator serve`` is derived from the org
secret (stable across restarts) unless ``--token`` fixes one for this process.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from .faults import Faults
from .store import OrgIdentity, Store, token_hash


@dataclass(frozen=True)
class Session:
    user_id: str
    token_key: str  # the token's hash: identifies the session without keeping the token


class Sessions:
    def __init__(self, store: Store, identity: OrgIdentity, faults: Faults, fixed_token: str | None = None):
        self.store = store
        self.identity = identity
        self.faults = faults
        self.startup_token = fixed_token or identity.startup_token
        self._known: dict[str, str] = {}  # token hash -> user id (cache of valid, unrevoked tokens)
        self._lock = threading.Lock()
        self._known[token_hash(self.startup_token)] = identity.user_id

    def new_token(self) -> str:
        return f"{self.identity.org_id}!AQ{secrets.token_urlsafe(72).replace('-', '.')}"

    def issue(self, user_id: str, kind: str = "access") -> str:
        """A new token of `kind` ("access" or "refresh") for `user_id`; its hash is stored."""
        token = self.new_token() if kind == "access" else "5Aep" + secrets.token_urlsafe(64).replace("-", ".")
        with self.store.transaction(self.store.conn()) as conn:
            conn.execute("INSERT INTO _tokens (token_hash, kind, user_id, issued_at) VALUES (?, ?, ?, ?)",
                         (token_hash(token), kind, user_id, int(time.time() * 1000)))
        if kind == "access":
            with self._lock:
                self._known[token_hash(token)] = user_id
        return token

    def authenticate(self, token: str | None) -> Session | None:
        """The session of a presented access token, or None (unknown, revoked or expired by a fault)."""
        if not token:
            return None
        key = token_hash(token.strip())
        user_id = self._known.get(key)
        if user_id is None:
            row = self.store.conn().execute(
                "SELECT user_id FROM _tokens WHERE token_hash = ? AND kind = 'access' AND revoked = 0",
                (key,)).fetchone()
            if row is None:
                return None
            user_id = row[0]
            with self._lock:
                self._known[key] = user_id
        if self.faults.token_expired(key):
            return None
        return Session(user_id, key)

    def user_of_refresh_token(self, token: str) -> str | None:
        row = self.store.conn().execute(
            "SELECT user_id FROM _tokens WHERE token_hash = ? AND kind = 'refresh' AND revoked = 0",
            (token_hash(token.strip()),)).fetchone()
        return row[0] if row else None

    def revoke(self, token: str) -> bool:
        key = token_hash(token.strip())
        with self._lock:
            self._known.pop(key, None)
        with self.store.transaction(self.store.conn()) as conn:
            return conn.execute("UPDATE _tokens SET revoked = 1 WHERE token_hash = ? AND revoked = 0",
                                (key,)).rowcount > 0
