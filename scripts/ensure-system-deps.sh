#!/usr/bin/env bash
# Make the system programs of the web view available (idempotent; installs only what is
# missing, from Debian's packages):
#   dot        Graphviz, which lays out the state machine graph of the execution view
#              (`sfn serve`, /ui/); the view still works without it, with no graph drawn.
#   chromium   and chromium-driver: only for the browser tests (tests/test_ui_browser.py),
#              skipped with SFN_SKIP_BROWSER=1.
# Nothing here downloads a browser build of its own (no `playwright install`): the tests
# drive Debian's /usr/bin/chromium.
set -euo pipefail
. "$(dirname "$0")/apt.sh"

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [ -z "${SFN_SKIP_BROWSER:-}" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  # Chromium needs a font to draw text in screenshots; fonts-liberation is Debian's default.
  [ -e /usr/share/fonts/truetype/liberation ] || [ -e /usr/share/fonts/truetype/liberation2 ] \
    || missing+=(fonts-liberation)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "missing: ${missing[*]}; apt-get needs root: install these Debian packages" >&2
      echo "(graphviz draws the /ui/ graphs; chromium is for the browser tests only)." >&2
      exit 1
    fi
  fi
  echo "installing ${missing[*]} (Debian packages) ..." >&2
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${missing[@]}"
  exit 0
fi
echo "missing: ${missing[*]} and there is no apt-get here: install Graphviz (dot on PATH)" >&2
echo "and, for the browser tests, Chromium with chromedriver." >&2
exit 1
