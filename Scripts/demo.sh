#!/usr/bin/env bash
# The main job on a fresh machine: native deps → real EfficientNet-Lite0 weights → a synthetic
# MVTec 3D-AD dataset (10 classes, RGB + xyz; 40 test images per class, 10 of them good, so a
# class's I-AUROC rests on 300 good/defective pairs) → incremental training with schedule 6-1x4
# (configs/demo.yaml) → the report. Everything lands in ${IUMAD_DEMO_DIR:-runs/demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
Scripts/setup.sh
source Scripts/cpu-env.sh
Scripts/fetch_weights.sh >/dev/null
swift build -c release --product iumad
bin=.build/release/iumad
out="${IUMAD_DEMO_DIR:-runs/demo}"
mkdir -p "$out"
if [ ! -d "$out/data" ]; then
  "$bin" synth --out "$out/data" --classes 10 --train 20 --test 40 --size 128 --seed 0
fi
"$bin" dataset inspect --data "$out/data" > "$out/dataset.json"
# Extra arguments go to `iumad train` (e.g. `Scripts/demo.sh --resume never` to start over
# after the code or config changed: a run directory holds one run).
"$bin" train --config configs/demo.yaml --data "$out/data" --out "$out/run" --set "backbone.cache=$out/feature-cache" "$@"
echo
echo "demo finished in $(( $(date +%s) - start )) s; run directory: $out/run (report.md, plots/, heatmaps/, maps/)"
