#!/usr/bin/env bash
# Our training step versus the PyTorch CPU reference of the same model (SPEC §10; Scripts/bench_torch.py),
# on the same batch and thread count, interleaved round by round. Not part of CI.
#
#   Scripts/bench_compare.sh [--preset paper] [--batch 8] [--threads 2] [--rounds 2] [--steps 2] [--out FILE]
#
# Each round runs `iumad bench step` and then bench_torch.py, each timing --steps steps after one
# warm-up step (s/step = their mean). The table shows the best (min) s/step of the rounds for each
# side, the ratio ours/torch of those (below 1: ours is faster), and each side's largest peak RSS.
# IUMAD_BIN picks the binary (default .build/release/iumad, built if missing); PYTHON the interpreter.
# The machine's 1-minute load average before each run is logged: other work on the machine skews both.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=paper batch=8 threads=2 rounds=2 steps=2 out="" torch_args=()
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --torch-arg) torch_args+=("$2"); shift 2 ;;  # passed on to bench_torch.py, e.g. --torch-arg=--scan=per-direction
    --torch-arg=*) torch_args+=("${1#--torch-arg=}"); shift ;;
    -h|--help) usage 0 ;;
    *) echo "bench_compare.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in "$batch" "$threads" "$rounds" "$steps"; do
  case "$v" in ''|*[!0-9]*|0) echo "bench_compare.sh: --batch/--threads/--rounds/--steps need positive integers" >&2; exit 2 ;; esac
done

source Scripts/cpu-env.sh
bin="${IUMAD_BIN:-.build/release/iumad}"
if [ ! -x "$bin" ]; then
  echo "== building iumad (release)"
  swift build -c release --product iumad
  bin=.build/release/iumad
fi
py="${PYTHON:-python3}"
"$py" Scripts/bench_torch.py --install-only >/dev/null

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ]; then commit="$commit+dirty"; fi
binnote="$bin"
if [ -n "${IUMAD_BIN:-}" ]; then binnote="$bin (IUMAD_BIN: built from whatever tree it was built from, not necessarily this commit)"; fi
work=$(mktemp -d /tmp/bench_compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
load() { cut -d' ' -f1 /proc/loadavg; }

for r in $(seq 1 "$rounds"); do
  load > "$work/load.ours.$r"
  echo "== round $r/$rounds: iumad bench step (load $(cat "$work/load.ours.$r"))"
  "$bin" bench step --presets "$preset" --batches "$batch" --threads "$threads" --steps "$steps" --json "$work/ours.$r.json"
  load > "$work/load.torch.$r"
  echo "== round $r/$rounds: PyTorch (load $(cat "$work/load.torch.$r"))"
  IUMAD_BIN="$bin" "$py" Scripts/bench_torch.py --preset "$preset" --batch "$batch" --threads "$threads" \
    --steps "$steps" --json "$work/torch.$r.json" ${torch_args[@]+"${torch_args[@]}"}
done

"$py" - "$work" "$rounds" "$preset" "$batch" "$threads" "$commit" "$steps" "$out" "$binnote" <<'EOF'
import json, sys
work, rounds, preset, batch, threads, commit, steps, out, binnote = sys.argv[1:]
rounds = int(rounds)
def rows(side):
    got = []
    for r in range(1, rounds + 1):
        with open(f"{work}/{side}.{r}.json") as f:
            doc = json.load(f)
        got += [dict(x, _doc=doc) for x in doc["results"] if x["preset"] == preset and int(x["batch"]) == int(batch)]
    if not got:
        sys.exit(f"bench_compare: no {side} result for {preset}/{batch}")
    return got
ours, torch = rows("ours"), rows("torch")
bo, bt = min(x["seconds_per_step"] for x in ours), min(x["seconds_per_step"] for x in torch)
ro, rt = max(x["peak_rss_mib"] for x in ours), max(x["peak_rss_mib"] for x in torch)
all_o = ", ".join(f"{x['seconds_per_step']:.3f}" for x in ours)
all_t = ", ".join(f"{x['seconds_per_step']:.3f}" for x in torch)
tdoc = torch[0]["_doc"]
def loads(side):
    return ", ".join(open(f"{work}/load.{side}.{r}").read().strip() for r in range(1, rounds + 1))
head = ("| preset | batch | threads | commit | ours s/step | torch s/step | ours/torch | ours samples/s "
        "| torch samples/s | ours peak RSS MiB | torch peak RSS MiB |")
line = (f"| {preset} | {batch} | {threads} | {commit} | {bo:.3f} | {bt:.3f} | {bo / bt:.2f} | {int(batch) / bo:.2f} "
        f"| {int(batch) / bt:.2f} | {ro:.0f} | {rt:.0f} |")
note = (f"s/step: best (min) of {rounds} round(s), each the mean of {steps} step(s) after one warm-up step "
        f"(forward + backward + AdamW); all rounds: ours [{all_o}], torch [{all_t}]. Peak RSS: the largest of "
        f"the rounds. torch {tdoc.get('torch_version')} ({tdoc.get('scan')} ES2D scan, selective_scan_ref loop "
        f"'{tdoc.get('scan_ref')}', OMP_WAIT_POLICY {tdoc.get('omp_wait_policy')}), "
        f"torch.mm 1024² {tdoc.get('sgemm_gflops', 0):.0f} GFLOP/s; iumad sgemm "
        f"{ours[0]['_doc'].get('sgemm_gflops', 0):.0f} GFLOP/s. 1-min load average before each run: "
        f"ours [{loads('ours')}], torch [{loads('torch')}]. Commit: the work tree's HEAD (+dirty: "
        f"uncommitted changes under Sources/); binary {binnote}.")
table = "\n".join([head, "|" + "---|" * 11, line, "", note])
print("\n" + table)
if out:
    with open(out, "w") as f:
        f.write(table + "\n")
    print(f"\nwrote {out}")
EOF
