#!/usr/bin/env bash
# N data-parallel ranks of `iumad train` on this machine:
#   cluster/run-local.sh 4 --config configs/tiny.yaml --data DATA --out runs/x
# Oversubscribes when N exceeds the cores, and adds --allow-run-as-root when run as root.
# Runs in the caller's directory, so relative --data/--out/--config mean what they say.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:?usage: cluster/run-local.sh N iumad-train-options...}"
shift
source "$repo/Scripts/cpu-env.sh"
bin="${IUMAD_BIN:-$repo/.build/release/iumad}"
[ -x "$bin" ] || swift build -c release --package-path "$repo" --product iumad
extra=(--oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && extra+=(--allow-run-as-root)
# Containers often forbid the cross-memory-attach single copy; shared memory still works without it.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
exec mpirun -np "$n" "${extra[@]}" -x OPENBLAS_CORETYPE -x OMPI_MCA_btl_vader_single_copy_mechanism "$bin" train "$@"
