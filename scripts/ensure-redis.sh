#!/usr/bin/env bash
# Make a redis-server binary available (idempotent). The engine's embedded default and the
# tests start their own redis-server processes from it; nothing here starts a service.
set -euo pipefail
. "$(dirname "$0")/apt.sh"
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ -n "${SFN_REDIS_SERVER:-}" ] && [ -x "${SFN_REDIS_SERVER}" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "redis-server is missing and apt-get needs root: install Debian's redis-server package," >&2
      echo "or set SFN_REDIS_SERVER to a redis-server binary, or REDIS_URL to a running Redis." >&2
      exit 1
    fi
  fi
  echo "installing redis-server (Debian package) ..." >&2
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends redis-server
  # The package may start a system service on 6379; the engine never uses it.
  exit 0
fi
echo "redis-server is missing and there is no apt-get here: install Redis >= 6.2 and put" >&2
echo "redis-server on PATH (or set SFN_REDIS_SERVER)." >&2
exit 1
