#!/usr/bin/env bash
# The quality benchmark (not in CI; about an hour on 2 cores): does the model find defects, on
# data made by our generator and on data made by an independent one?
#
#   sets     iumad synth at 128 and 224 px (10 classes, 20 training and 10 good + 30 defective
#            test images per class) and Scripts/make_heldout.py at 128 px (another generator:
#            other classes, textures and defect kinds, smaller defects); fixed seeds
#   runs     configs/demo.yaml as shipped, schedules 10-0 and 6-1x4, plus `iumad baseline`
#            (PatchCore) on the same features
#   table    I-AUROC, P-AUROC, P-AUROC on object pixels only, AUPRO, FM, wall time, and time to
#            quality: base-step training until the first evaluated epoch at I-AUROC 0.9
#            (Scripts/quality_table.py) → $IUMAD_QUALITY_DIR/quality.md
#
# IUMAD_QUALITY_DIR (default runs/quality) keeps data and feature cache between invocations;
# every run directory is made anew. IUMAD_BIN and IUMAD_QUALITY_CONFIG measure another build or
# preset the same way (e.g. an older commit's binary and configs/demo.yaml, for before/after).
# IUMAD_QUALITY_SETS / IUMAD_QUALITY_SCHEDULES narrow the grid (space-separated);
# IUMAD_QUALITY_BASELINE=off skips the PatchCore rows (a build from before `iumad baseline`).
# IUMAD_QUALITY_TORCH=on adds, per set with schedule 10-0, the PyTorch reference trained on the
# same base step until I-AUROC 0.9 (Scripts/torch_quality.py; installs torch): 2 min on synth128,
# up to ~9 min on a set that never reaches 0.9 (all epochs). Its row has the I-AUROC of its last
# evaluation and its time to quality.
set -euo pipefail
source "$(dirname "$0")/measure-prelude.sh"
config="${IUMAD_QUALITY_CONFIG:-configs/demo.yaml}"
out="${IUMAD_QUALITY_DIR:-runs/quality}"
sets="${IUMAD_QUALITY_SETS:-synth128 synth224 heldout128}"
schedules="${IUMAD_QUALITY_SCHEDULES:-10-0 6-1x4}"
mkdir -p "$out/runs"
cache="$out/feature-cache"

make_set() {
  case "$1" in
    synth128) "$bin" synth --out "$out/$1" --classes 10 --train 20 --test 40 --size 128 --seed 11 ;;
    synth224) "$bin" synth --out "$out/$1" --classes 10 --train 20 --test 40 --size 224 --seed 12 ;;
    heldout128) python3 Scripts/make_heldout.py --out "$out/$1" --classes 10 --size 128 --seed 13 ;;
    *) echo "quality.sh: unknown set '$1' (synth128, synth224, heldout128)" >&2; exit 2 ;;
  esac
}

rows=()
for set in $sets; do
  [ -d "$out/$set" ] || make_set "$set"
  for schedule in $schedules; do
    run="$out/runs/$set-$schedule"
    rm -rf "$run"
    echo "== $set, schedule $schedule → $run"
    "$bin" train --config "$config" --data "$out/$set" --out "$run" --set "train.schedule=$schedule" \
      --set "backbone.cache=$cache" --set eval.heatmaps_per_class=1 > "$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
    grep -E "evaluated on" "$run.log" | tail -1
    rows+=("$set $schedule=$run")
  done
  if [ "${IUMAD_QUALITY_TORCH:-off}" = on ] && [[ " $schedules " == *" 10-0 "* ]]; then
    # The PyTorch reference on the same base step: the tensors our trainer feeds the model, our
    # initial parameters, the same settings and evaluation (Scripts/torch_quality.py).
    run="$out/runs/$set-10-0-torch"
    echo "== $set, 10-0 base step, PyTorch reference → $run.json"
    "$bin" dataset export --config "$config" --data "$out/$set" --set train.schedule=10-0 --set "backbone.cache=$cache" \
      --out "$out/export/$set-10-0" > "$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
    python3 Scripts/torch_quality.py --export "$out/export/$set-10-0" --config "$config" --set train.schedule=10-0 \
      --set "backbone.cache=$cache" --iumad-bin "$bin" --threads "${IUMAD_THREADS:-$(nproc)}" --json "$run.json" \
      >> "$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
    grep -E "time to I-AUROC|not reached" "$run.log" | tail -1
    rows+=("$set 10-0 PyTorch reference=$run.json")
  fi
  [ "${IUMAD_QUALITY_BASELINE:-on}" = off ] && continue
  run="$out/runs/$set-baseline"
  rm -rf "$run"
  echo "== $set, PatchCore baseline → $run"
  "$bin" baseline --config "$config" --data "$out/$set" --out "$run" --set train.schedule=10-0 \
    --set "backbone.cache=$cache" --set eval.heatmaps_per_class=1 > "$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
  rows+=("$set PatchCore=$run")
done

python3 Scripts/quality_table.py "${rows[@]}" | tee "$out/quality.md"
echo "table: $out/quality.md"
