# Sourced by the measurement scripts (quality.sh, scaling_quality.sh): installs what is missing,
# sets the native libraries' environment, fetches the weights and builds iumad — unless
# IUMAD_BIN names another build to measure — and leaves its path in $bin.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Scripts/setup.sh
source Scripts/cpu-env.sh
Scripts/fetch_weights.sh >/dev/null
if [ -z "${IUMAD_BIN:-}" ]; then
  swift build -c release --product iumad
fi
bin="${IUMAD_BIN:-.build/release/iumad}"
