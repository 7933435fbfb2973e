# Sourced by ensure-redis.sh and ensure-system-deps.sh: apt-get that waits for a busy
# package manager instead of failing at once.
#
# Another apt-get or dpkg (an unattended upgrade, a second `make setup`) holds dpkg's lock
# for a while; apt-get then fails with "Could not get lock ...". We wait for it, with a
# bound, saying so: DPkg::Lock::Timeout makes apt-get itself wait for dpkg's lock, and a
# loop here retries what that option does not cover (the lists lock of `apt-get update`).
#   SFN_APT_LOCK_TIMEOUT   seconds to wait for the lock in all (default 300)
#   SFN_APT_RETRY_SECONDS  pause between two tries (default 5)

APT_LOCK_TIMEOUT="${SFN_APT_LOCK_TIMEOUT:-300}"
APT_RETRY_SECONDS="${SFN_APT_RETRY_SECONDS:-5}"
APT_DEADLINE=$(( $(date +%s) + APT_LOCK_TIMEOUT ))

# apt_get ARGS...: `$SUDO apt-get ARGS` quietly; on failure its output and what to do.
apt_get() {
  local out remaining holder said=""
  while :; do
    remaining=$(( APT_DEADLINE - $(date +%s) ))
    (( remaining < 0 )) && remaining=0
    if out=$($SUDO env DEBIAN_FRONTEND=noninteractive apt-get \
        -o DPkg::Lock::Timeout="$remaining" "$@" 2>&1); then
      return 0
    fi
    if grep -qiE "could not get lock|unable to (acquire|lock)|is another process using it" \
        <<<"$out" && (( $(date +%s) < APT_DEADLINE )); then
      if [ -z "$said" ]; then
        holder=$(grep -oE "held by process [0-9]+( \([^)]*\))?" <<<"$out" | head -n 1)
        echo "the package manager is busy (${holder:-another apt-get or dpkg is running}):" \
          "waiting up to ${APT_LOCK_TIMEOUT}s for it to finish ..." >&2
        said=1
      fi
      sleep "$APT_RETRY_SECONDS"
      continue
    fi
    echo "$out" >&2
    if grep -qiE "could not get lock|unable to (acquire|lock)" <<<"$out"; then
      echo "apt-get $1: the package manager was still busy after ${APT_LOCK_TIMEOUT}s" \
        "(SFN_APT_LOCK_TIMEOUT)." >&2
    else
      echo "apt-get $1 failed (above)." >&2
    fi
    echo "Re-running \`make setup\` is safe: it installs only what is still missing." >&2
    return 1
  done
}
