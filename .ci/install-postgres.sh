#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the SQL source tests (tests/integration/sources/): the tests
# start their own throw-away cluster in a temporary folder (initdb + pg_ctl on 127.0.0.1), so the
# package's default cluster is not needed and is not started here.
# Idempotent: does nothing when a server's initdb is already under /usr/lib/postgresql/*/bin.
# Needs root (CI containers run as root); falls back to sudo when available.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "postgresql already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
    exit 0
fi

"$(dirname "$0")/apt-install.sh" postgresql
echo "installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
