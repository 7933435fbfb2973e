#!/usr/bin/env bash
# Make a rabbitmq-server binary available (idempotent), like scripts/ensure-redis.sh: the
# RabbitMQ tests start their own broker on a free port from it; nothing here starts a
# service. Debian's rabbitmq-server package brings the Erlang runtime with it.
set -euo pipefail
if command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] \
    || [ -x /usr/sbin/rabbitmq-server ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "rabbitmq-server is missing and apt-get needs root: install Debian's rabbitmq-server" >&2
      echo "package (the RabbitMQ tests are skipped without it)." >&2
      exit 1
    fi
  fi
  echo "installing rabbitmq-server (Debian package) ..." >&2
  $SUDO apt-get update -qq >/dev/null
  # policy-rc.d 101: the package must not start a system broker on 5672; tests start their own.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends \
    rabbitmq-server >/dev/null
  exit 0
fi
echo "rabbitmq-server is missing and there is no apt-get here: install RabbitMQ >= 3.8" >&2
echo "(quorum queues) and put rabbitmq-server on PATH." >&2
exit 1
