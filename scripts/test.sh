#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite.
# Under CI=true (or with --sanitize) it also builds and runs the suite under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=false
[ "${CI:-}" = "true" ] && sanitize=true
for arg in "$@"; do [ "$arg" = "--sanitize" ] && sanitize=true; done

scripts/install-deps.sh  # redis-server among them: the Redis backend's tests start their own
export ANTE_REQUIRE_REDIS=1
jobs=$(nproc)

cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"
ctest --preset dev -j "$jobs"

if $sanitize; then
  echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  # (its preset leaves out the million-job test on Redis: the dev pass ran it; here it would take a quarter hour)
  ctest --preset asan -j "$jobs"
fi
