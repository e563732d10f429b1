#!/usr/bin/env bash
# Runs every test: installs native deps, builds in release (the numerics and the end-to-end
# tests are far too slow in debug), then the whole suite, including the mpirun tests.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
source Scripts/openblas-env.sh
# Real lite0 weights for the golden backbone tests (idempotent: converts once into the cache).
Scripts/fetch_weights.sh
export IUMAD_TEST_BIN="$PWD/.build/release/iumad"
swift build -c release --product iumad
swift test -c release -Xswiftc -enable-testing "$@"
