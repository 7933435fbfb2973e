#!/usr/bin/env bash
# Make `ip` (Debian's iproute2) available for the multihost harness (idempotent); nothing
# here creates a namespace or touches the network.
set -euo pipefail
. "$(dirname "$0")/apt.sh"
if command -v ip >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ip (iproute2) is missing and there is no apt-get here: install iproute2." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ip (iproute2) is missing and apt-get needs root: install Debian's iproute2 package." >&2
    exit 1
  fi
fi
echo "installing iproute2 (Debian package) ..." >&2
apt_get update -qq
apt_get install -y -qq --no-install-recommends iproute2
