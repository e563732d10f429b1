#!/usr/bin/env bash
# Runs every test: installs native deps, builds in release (the numerics and the end-to-end
# tests are far too slow in debug), then the whole suite, including the mpirun tests.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
source Scripts/cpu-env.sh
# Real lite0 weights for the golden backbone tests (idempotent: converts once into the cache).
Scripts/fetch_weights.sh
export IUMAD_TEST_BIN="$PWD/.build/release/iumad"
swift build -c release --product iumad
# The 2-host test needs network namespaces (root with CAP_NET_ADMIN); where it cannot run it is
# skipped, and that is said here, last, not left in the scroll-back. CI (.ci/run) sets
# IUMAD_REQUIRE_MULTIHOST=1: a skip there fails the run.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test -c release -Xswiftc -enable-testing "$@" 2>&1 | tee "$log"
if grep -q "multi-host test skipped" "$log"; then
  echo "NOTE: the 2-host test (MultiHostCLITests.twoHostsMatchOneHost) was SKIPPED: $(grep -m1 "multi-host test skipped" "$log")" >&2
  if [ "${IUMAD_REQUIRE_MULTIHOST:-0}" = 1 ]; then
    echo "IUMAD_REQUIRE_MULTIHOST=1: a skipped 2-host test fails this run" >&2
    exit 1
  fi
fi
