#!/usr/bin/env python3
"""The table of Scripts/quality.sh: one row per run directory (a trained model or `iumad baseline`).

Reads each run's metrics.json (mean I-AUROC, P-AUROC, AUPRO after the last step; FM of I-AUROC),
finished.json / baseline.json (wall time), learning-curves.json and train.log (time to quality:
base-step training until the first evaluated epoch at I-AUROC 0.9) and the anomaly maps the run
wrote for its last step,
and adds **P-AUROC on object pixels only**: a map that merely lights up the object scores well on
plain P-AUROC because most defect-free pixels are background; restricted to the object, only a
map that rises at the defect does. The object mask comes from the test image's own xyz: pixels
clearly above a plane fitted to the image border (both generators put the object on a table).

Usage: quality_table.py LABEL=RUN_DIR|LABEL=TORCH.json ...  (numpy only; a .json is a
       Scripts/torch_quality.py result: the PyTorch reference's base step, I-AUROC and time to quality)
       quality_table.py --curves LABEL=RUN_DIR ...  (learning curves: I-AUROC / AUPRO per epoch)
"""
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_heldout import read_png, read_tiff  # noqa: E402  (numpy-only PNG/TIFF readers)


def auroc(scores, labels):
    """Exact AUROC with ties counted half (Mann–Whitney), never flipped."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels, bool)
    pos, neg = labels.sum(), (~labels).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def object_mask(xyz):
    """Pixels standing out of the table plane: plane fitted (twice, outliers dropped) to the
    valid points of a border band, object = height above it beyond a noise-aware threshold."""
    h, w = xyz.shape[:2]
    z = xyz[..., 2].astype(np.float64)
    valid = np.isfinite(z) & (z != 0)
    yy, xx = np.mgrid[0:h, 0:w]
    band = max(2, int(0.08 * min(h, w)))
    border = np.zeros((h, w), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    use = border & valid
    a = np.stack([np.ones(use.sum()), xx[use], yy[use]], 1)
    coef = np.linalg.lstsq(a, z[use], rcond=None)[0]
    for _ in range(2):
        res = z[use] - a @ coef
        keep = np.abs(res - np.median(res)) < 3 * (np.median(np.abs(res - np.median(res))) + 1e-9)
        coef = np.linalg.lstsq(a[keep], z[use][keep], rcond=None)[0]
    plane = coef[0] + coef[1] * xx + coef[2] * yy
    height = np.where(valid, np.abs(plane - z), 0)
    noise = np.median(np.abs(z[use] - a @ coef)) + 1e-9
    thr = max(6 * noise, 0.15 * np.percentile(height[valid], 99))
    return valid & (height > thr)


def object_pixel_pauroc(run, step):
    """Mean over classes of P-AUROC over the object pixels of that class's test images."""
    cfg = open(os.path.join(run, "config.yaml")).read()
    root = next(l.split(":", 1)[1].strip().strip('"') for l in cfg.splitlines() if l.strip().startswith("root:"))
    maps_root = os.path.join(run, "maps", f"step-{step}")
    per_class = []
    for cls in sorted(os.listdir(maps_root)):
        scores, labels = [], []
        test = os.path.join(maps_root, cls, "test")
        for kind in sorted(os.listdir(test)):
            for f in sorted(os.listdir(os.path.join(test, kind))):
                stem = os.path.splitext(f)[0]
                m = read_tiff(os.path.join(test, kind, f))[0][..., 0]
                xyz = read_tiff(os.path.join(root, cls, "test", kind, "xyz", stem + ".tiff"))[0]
                gt_path = os.path.join(root, cls, "test", kind, "gt", stem + ".png")
                gt = read_png(gt_path) if os.path.exists(gt_path) else np.zeros(m.shape, np.uint8)
                gt = gt if gt.ndim == 2 else gt[..., 0]
                obj = object_mask(xyz) | (gt > 0)
                scores.append(m[obj])
                labels.append(gt[obj] > 0)
        if scores:
            per_class.append(auroc(np.concatenate(scores), np.concatenate(labels)))
    return float(np.nanmean(per_class)) if per_class else float("nan")


TARGET = 0.9  # the time-to-quality column: base-step I-AUROC a user would call "it works"


def time_to_quality(run, target=TARGET):
    """Seconds of base-step training until the first learning-curve point (eval.every_epochs) at
    I-AUROC >= target: from the step's "global batch" log line (features already extracted) to
    the log line of that epoch's last iteration; earlier curve evaluations count (a user waits
    for them too). None when the run has no curve or never reaches it."""
    path = os.path.join(run, "learning-curves.json")
    if not os.path.exists(path):
        return None
    reached = [p["epoch"] for p in json.load(open(path))["points"] if p["step"] == 0 and p["metrics"]["i_auroc"] >= target]
    if not reached:
        return None
    epoch, start, end = min(reached), None, None
    for line in open(os.path.join(run, "train.log")):
        m = re.match(r"\[\s*([0-9.]+)s\] step 1/\d+(?: epoch (\d+)/\d+ it (\d+)/(\d+)|(: global batch))", line)
        if not m:
            continue
        if m.group(5) and start is None:
            start = float(m.group(1))
        if m.group(2) and int(m.group(2)) == epoch and m.group(3) == m.group(4):
            end = float(m.group(1))
    return None if end is None else end - (start or 0)


def duration(seconds):
    return "–" if seconds is None else f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def row(label, run):
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    last = metrics["steps"][-1]
    mean, step = last["mean"], last["step"] + (1 - metrics.get("first_step", 0))
    fm = metrics.get("forgetting", {}).get("i_auroc")
    seconds = None
    finished, baseline = os.path.join(run, "finished.json"), os.path.join(run, "baseline.json")
    if os.path.exists(finished):
        seconds = json.load(open(finished)).get("seconds")
    elif os.path.exists(baseline):  # one entry per step, each with its own seconds
        seconds = sum(s.get("seconds", 0) for s in json.load(open(baseline)).get("steps", []))
    obj = object_pixel_pauroc(run, step)
    pct = lambda v: "–" if v is None or v != v else f"{100 * v:.1f}"
    ttq = duration(time_to_quality(run)) if not os.path.exists(os.path.join(run, "baseline.json")) else "–"
    return f"| {label} | {step} | {pct(mean['i_auroc'])} | {pct(mean['p_auroc'])} | {pct(obj)} | {pct(mean['aupro'])} | {pct(fm)} | {duration(seconds)} | {ttq} |"


def torch_row(label, path):
    """A Scripts/torch_quality.py result (JSON): the PyTorch reference trained on the base step until
    the target; its I-AUROC at the last evaluation, its wall time and its time to quality (counted
    as time_to_quality counts ours)."""
    r = json.load(open(path))
    last = r["points"][-1] if r["points"] else None
    if last is None:
        return f"| {label} | 1 | – | – | – | – | – | – | – |"
    return (f"| {label} | 1 (epoch {last['epoch']}) | {100 * last['iauroc']:.1f} | – | – | – | – | {duration(last['wall_seconds'])} "
            f"| {duration(r.get('seconds_to_target'))} |")


def curves(args):
    """`--curves LABEL=RUN ...`: I-AUROC / AUPRO of the base step against epoch (learning-curves.json,
    written with eval.every_epochs), one row per run — the ablation table of docs/quality.md."""
    runs = [(a.rsplit("=", 1)[0], json.load(open(os.path.join(a.rsplit("=", 1)[1], "learning-curves.json")))) for a in args]
    epochs = sorted({p["epoch"] for _, c in runs for p in c["points"] if p["step"] == 0})
    print("| run | " + " | ".join(f"epoch {e}" for e in epochs) + " |")
    print("|---|" + "---:|" * len(epochs))
    for label, c in runs:
        at = {p["epoch"]: p["metrics"] for p in c["points"] if p["step"] == 0}
        cells = [f"{100 * at[e]['i_auroc']:.1f} / {100 * at[e]['aupro']:.1f}" if e in at else "–" for e in epochs]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main(args):
    if args and args[0] == "--curves":
        return curves(args[1:])
    print(f"| run | steps | I-AUROC | P-AUROC | P-AUROC object pixels | AUPRO | FM I-AUROC | wall | base step to I-AUROC {TARGET} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for a in args:
        label, run = a.rsplit("=", 1)
        print(torch_row(label, run) if run.endswith(".json") else row(label, run))


if __name__ == "__main__":
    main(sys.argv[1:])
