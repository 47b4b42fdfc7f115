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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-postgres.sh: need root (or sudo) to apt-get install postgresql" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
