#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for tests/e2e/test_report_browser.py.
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root (CI containers run as root);
# falls back to sudo when available.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

"$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
