#!/usr/bin/env python3
"""Tables and plot of Scripts/scaling_quality.sh (docs/scaling.md, "Quality against the global batch").

  scaling_quality.py quality --svg OUT.svg BATCH:RULE=RUN_DIR ...
      mean I-AUROC / AUPRO / FM after the last step of each run (its metrics.json), one row per
      run, the difference to the batch-8 run, and a plot of I-AUROC and AUPRO against the batch.
  scaling_quality.py project --largest-batch G [--step-seconds T] [--params N]
      projected wall time of the paper's full schedules (10-0: 1000 epochs; 6-1x4: 1000 + 4 x 800)
      on 1-64 nodes at 10 and 25 Gbit/s, training at global batch min(8 x nodes, G), with the
      alpha-beta all-reduce model of Scripts/scaling_model.py.

The projection's assumptions (stated in its output): a node computes a local batch b in
T * b / 8 seconds (T = one paper-preset step at batch 8 on one node, `iumad bench step`), the
all-reduce is not overlapped with compute, and MVTec 3D-AD's training images per class are the
dataset's published counts. numpy is not needed.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scaling_model import exposed_seconds  # noqa: E402

# MVTec 3D-AD training images per class (bagel … tire), the classes of the 10-0 / 6-1x4 schedules.
MVTEC3D_TRAIN = [244, 223, 286, 210, 288, 236, 361, 240, 298, 210]
RULE_COLOURS = {"none": "#1f77b4", "linear": "#d62728", "sqrt": "#2ca02c"}


def last_step_means(run):
    with open(os.path.join(run, "metrics.json")) as f:
        m = json.load(f)
    classes = m["steps"][-1]["classes"].values()

    def mean(metric):
        return 100 * sum(c[metric] for c in classes) / len(classes)

    fm = m.get("forgetting", {}).get("i_auroc")
    return mean("i_auroc"), mean("aupro"), (100 * fm if fm is not None else float("nan"))


def svg_plot(rows, path):
    """I-AUROC (solid) and AUPRO (dashed) against log2(global batch), one colour per rule."""
    w, h, left, right, top, bottom = 560, 320, 56, 120, 20, 44
    batches = sorted({b for b, _, _ in rows})
    values = [v for _, _, q in rows for v in q[:2]]
    lo, hi = math.floor(min(values) / 5) * 5, math.ceil(max(values) / 5) * 5
    hi = max(hi, lo + 5)
    xs = {b: left + (w - left - right) * (i / max(1, len(batches) - 1)) for i, b in enumerate(batches)}

    def y(v):
        return top + (h - top - bottom) * (hi - v) / (hi - lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for v in range(int(lo), int(hi) + 1, 5):
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for b in batches:
        out.append(f'<text x="{xs[b]:.1f}" y="{h - bottom + 16}" text-anchor="middle">{b}</text>')
    out.append(f'<text x="{(left + w - right) / 2:.1f}" y="{h - 8}" text-anchor="middle">global batch (same epochs)</text>')
    out.append(f'<text x="14" y="{(top + h - bottom) / 2:.1f}" transform="rotate(-90 14 {(top + h - bottom) / 2:.1f})" text-anchor="middle">% after the last step</text>')
    legend_y = top + 4
    for rule, colour in RULE_COLOURS.items():
        pts = sorted((b, q) for b, r, q in rows if r == rule or (b == batches[0] and r == "none"))
        if len(pts) < 2 and not any(r == rule for _, r, _ in rows):
            continue
        for k, dash in ((0, ""), (1, ' stroke-dasharray="5 3"')):
            line = " ".join(f"{xs[b]:.1f},{y(q[k]):.1f}" for b, q in pts)
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<line x1="{w - right + 10}" x2="{w - right + 30}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>'
                   f'<text x="{w - right + 34}" y="{legend_y + 4}">{rule}</text>')
        legend_y += 16
    out.append(f'<text x="{w - right + 10}" y="{legend_y + 10}">— I-AUROC</text>')
    out.append(f'<text x="{w - right + 10}" y="{legend_y + 26}">- - AUPRO</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def quality(args):
    rows = []
    for item in args.runs:
        label, run = item.split("=", 1)
        batch, rule = label.split(":")
        rows.append((int(batch), rule, last_step_means(run)))
    rows.sort(key=lambda r: (r[0], list(RULE_COLOURS).index(r[1])))
    ref = next((q for b, r, q in rows if b == 8), None)
    print("| global batch | lr rule | I-AUROC | AUPRO | FM I-AUROC | Δ I-AUROC | Δ AUPRO | Δ FM | within the target |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for b, r, (i, a, fm) in rows:
        if ref is None:
            d = ("–",) * 3
            ok = "–"
        else:
            di, da, dfm = i - ref[0], a - ref[1], fm - ref[2]
            d = (f"{di:+.1f}", f"{da:+.1f}", f"{dfm:+.1f}")
            ok = "yes" if di >= -2 and da >= -2 and dfm <= 2 else "no"
        print(f"| {b} | {r} | {i:.1f} | {a:.1f} | {fm:.1f} | {d[0]} | {d[1]} | {d[2]} | {ok} |")
    if args.svg:
        svg_plot(rows, args.svg)


def project(args):
    gbits = [10.0, 25.0]
    nodes = [1, 2, 4, 8, 16, 32, 64]
    alpha = args.alpha_us * 1e-6
    schedules = {"10-0": [(sum(MVTEC3D_TRAIN), 1000)],
                 "6-1x4": [(sum(MVTEC3D_TRAIN[:6]), 1000)] + [(n, 800) for n in MVTEC3D_TRAIN[6:]]}
    print(f"Paper preset, T = {args.step_seconds} s per batch-8 step on one node, {args.params / 1e6:.2f} M parameters; "
          f"global batch min(8 x nodes, {args.largest_batch}); a step with fewer images trains at its image count; "
          f"a node computes a local batch b in T·b/8 (measured on this CPU: 1.53 s per sample at batch 1, 2 and 8); the all-reduce is not overlapped. "
          f"Days (d) or hours (h), and the speed-up over one node.\n")
    print("| schedule | link | " + " | ".join(f"{p} node{'s' if p > 1 else ''}" for p in nodes) + " |")
    print("|---|---|" + "---:|" * len(nodes))
    for name, steps in schedules.items():
        for g in gbits:
            cells, base = [], None
            for p in nodes:
                seconds = 0.0
                for images, epochs in steps:
                    batch = min(8 * p, args.largest_batch, images)
                    # Nodes beyond one sample each have nothing to do in this step.
                    busy = min(p, batch)
                    tc = args.step_seconds * (batch / busy) / 8
                    per_iteration = tc + exposed_seconds(args.params, busy, g, alpha, args.bucket_mib, tc, 0.0)
                    seconds += epochs * math.ceil(images / batch) * per_iteration
                base = base or seconds
                cells.append(f"{seconds / 86400:.1f} d (×{base / seconds:.1f})" if seconds >= 86400 else f"{seconds / 3600:.1f} h (×{base / seconds:.1f})")
            print(f"| {name} | {g:g} Gbit/s | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--svg")
    q.add_argument("runs", nargs="+", help="BATCH:RULE=RUN_DIR")
    p = sub.add_parser("project")
    p.add_argument("--largest-batch", type=int, required=True, help="the largest global batch that keeps quality")
    p.add_argument("--step-seconds", type=float, default=6.83, help="paper preset, batch 8, one node (docs/performance.md)")
    p.add_argument("--params", type=int, default=19005432)
    p.add_argument("--alpha-us", type=float, default=30.0)
    p.add_argument("--bucket-mib", type=float, default=16)
    a = ap.parse_args()
    quality(a) if a.command == "quality" else project(a)


if __name__ == "__main__":
    main()
