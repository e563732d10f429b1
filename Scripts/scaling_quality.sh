#!/usr/bin/env bash
# Quality against the global batch (not in CI; about an hour on 2 cores): does the model still
# learn when a cluster multiplies the batch? Because N ranks ≡ micro-batches on one rank bit for
# bit, a 128-sample global batch is trained here as 16 micro-batches of 8 in one process.
#
#   data     iumad synth, the demo's set (10 classes, 128 px, 20 training and 40 test images each;
#            IUMAD_SCALING_TRAIN sets the training images per class)
#   runs     configs/demo.yaml as shipped, schedule 6-1x4, the same epochs at every batch;
#            global batch 8 (the reference: every rule gives its lr) and 32, 64, 128 with each
#            train.lr_scaling rule (none | linear | sqrt); the scaled rules warm up over the first
#            5 iterations of each step (train.warmup_iterations)
#   output   $IUMAD_SCALING_DIR/scaling-quality.md: mean I-AUROC / AUPRO / FM after the last step
#            per batch and rule, the difference to batch 8, plots/… and the time-to-quality
#            projection (Scripts/scaling_quality.py project) at the largest batch within the
#            target (I-AUROC and AUPRO within 2 points of batch 8, FM not more than 2 points worse)
#
# IUMAD_SCALING_BATCHES (default "8 32 64 128"; "" only tabulates) / IUMAD_SCALING_RULES narrow
# the grid, and the table covers every finished run in the directory; IUMAD_BIN measures another build;
# arguments are passed to every `iumad train` (e.g. --threads 1).
set -euo pipefail
extra=("$@")
source "$(dirname "$0")/measure-prelude.sh"
out="${IUMAD_SCALING_DIR:-runs/scaling-quality}"
batches="${IUMAD_SCALING_BATCHES-8 32 64 128}"
rules="${IUMAD_SCALING_RULES:-none linear sqrt}"
mkdir -p "$out/runs"
# IUMAD_SCALING_TRAIN: training images per class (default 20, the demo's set; MVTec 3D-AD has
# ~200-300). A directory keeps the set it was made with: another count needs another directory.
per_class="${IUMAD_SCALING_TRAIN:-20}"
if [ -d "$out/data" ]; then
  made=$(cat "$out/data/.train-per-class" 2>/dev/null || echo 20)
  [ "$made" = "$per_class" ] || { echo "scaling_quality.sh: $out/data holds $made training images per class, IUMAD_SCALING_TRAIN asks $per_class: use another IUMAD_SCALING_DIR" >&2; exit 2; }
else
  "$bin" synth --out "$out/data" --classes 10 --train "$per_class" --test 40 --size 128 --seed 0
  echo "$per_class" > "$out/data/.train-per-class"
fi

train() {  # LABEL OVERRIDES…
  local label=$1 run="$out/runs/$1"; shift
  rm -rf "$run"
  echo "== $label → $run"
  "$bin" train --config configs/demo.yaml --data "$out/data" --out "$run" --set backbone.cache="$out/feature-cache" \
    --set train.micro_batch=8 --set eval.heatmaps_per_class=0 "$@" ${extra[@]+"${extra[@]}"} > "$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
  grep -E "evaluated on" "$run.log" | tail -1
}
for b in $batches; do
  if [ "$b" = 8 ]; then
    train b8 --set train.batch_size=8  # the reference: every rule gives the configured lr
    continue
  fi
  for rule in $rules; do
    warm=5; [ "$rule" = none ] && warm=0
    train "b$b-$rule" --set train.batch_size="$b" --set train.lr_scaling="$rule" --set train.warmup_iterations="$warm"
  done
done

# The table covers every finished run in the directory (so the grid can be split over several
# invocations, e.g. IUMAD_SCALING_BATCHES="8 32" and "64 128" at once, then one with "" to tabulate).
rows=()
for m in "$out"/runs/b*/finished.json; do
  [ -e "$m" ] || continue
  run=$(dirname "$m"); name=$(basename "$run"); b=${name#b}; b=${b%%-*}
  rule=none; [[ "$name" == *-* ]] && rule=${name#*-}
  rows+=("$b:$rule=$run")
done
mkdir -p "$out/plots"
{
  echo "## Quality against the global batch (demo preset, 6-1x4, same epochs, $per_class training images per class)"
  echo
  python3 Scripts/scaling_quality.py quality --svg "$out/plots/scaling_quality.svg" "${rows[@]}" | tee "$out/quality-table.md"
  largest=$(awk -F'|' '$10 ~ /yes/ { gsub(/ /, "", $2); if ($2 + 0 > best) best = $2 + 0 } END { print best + 0 }' "$out/quality-table.md")
  echo
  echo "## Time to quality: the paper's schedules at global batch ≤ $largest"
  echo
  python3 Scripts/scaling_quality.py project --largest-batch "$largest"
} > "$out/scaling-quality.md"
cat "$out/scaling-quality.md"
echo "table: $out/scaling-quality.md, plot: $out/plots/scaling_quality.svg"
