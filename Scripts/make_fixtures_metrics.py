#!/usr/bin/env python3
"""Writes Tests/Fixtures/metrics/reference.json: random anomaly maps and masks with AUROC,
P-AUROC and AUPRO computed independently of the Swift code.

- AUROC: the Mann-Whitney U statistic from scipy's average ranks (ties count one half).
- AUPRO (`aupro_mvtec`): MVTec's reference algorithm (compute_pro + trapezoid with x_max,
  from the MVTec AD / 3D-AD evaluation code), one curve point per pixel in sort order, regions
  from scipy.ndimage.label with a 3x3 structure (8-connectivity).
- AUPRO (`aupro`): the same with one point per distinct threshold (what IUMAD computes). On the
  continuous case (no ties) both must agree, which this script asserts.

Run: python3 Scripts/make_fixtures_metrics.py   (numpy, scipy)
"""
import json
import os

import numpy as np
from scipy.ndimage import label
from scipy.stats import rankdata

LIMIT = 0.3
STRUCTURE = np.ones((3, 3), dtype=int)


def auroc(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    ranks = rankdata(scores)  # average ranks for ties
    p = int(labels.sum())
    n = len(labels) - p
    return float((ranks[labels == 1].sum() - p * (p + 1) / 2) / (p * n))


def trapezoid(x, y, x_max):
    """MVTec's generic_util.trapezoid (finite inputs)."""
    x = np.asarray(x)
    y = np.asarray(y)
    correction = 0.0
    if x_max not in x:
        ins = np.searchsorted(x, x_max, side="right")  # bisect.bisect
        assert 0 < ins < len(x)
        y_interp = y[ins - 1] + (y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
    mask = x <= x_max
    x = x[mask]
    y = y[mask]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction)


def pro_changes(masks):
    fp = []
    pro = []
    regions = 0
    ok_total = 0
    for m in masks:
        labeled, k = label(m, STRUCTURE)
        regions += k
        ok = labeled == 0
        ok_total += ok.sum()
        f = ok.astype(np.float64)
        p = np.zeros(m.shape)
        for r in range(1, k + 1):
            region = labeled == r
            p[region] = 1.0 / region.sum()
        fp.append(f)
        pro.append(p)
    return np.array(fp).ravel(), np.array(pro).ravel(), regions, ok_total


def aupro_mvtec(maps, masks):
    """compute_pro + calculate_au_pro from MVTec's evaluation code: one point per pixel."""
    fp, pro, regions, ok_total = pro_changes(masks)
    order = np.argsort(np.array(maps).ravel(), kind="stable")[::-1]
    fprs = np.cumsum(fp[order]) / ok_total
    pros = np.cumsum(pro[order]) / regions
    fprs = np.concatenate(([0.0], fprs, [1.0]))
    pros = np.concatenate(([0.0], pros, [1.0]))
    return trapezoid(fprs, pros, LIMIT) / LIMIT


def aupro_per_threshold(maps, masks):
    """One point per distinct score: accumulate per group of equal scores."""
    fp, pro, regions, ok_total = pro_changes(masks)
    scores = np.array(maps).ravel()
    distinct, inverse = np.unique(-scores, return_inverse=True)  # ascending -score = descending score
    fp_per = np.bincount(inverse, weights=fp, minlength=len(distinct))
    pro_per = np.bincount(inverse, weights=pro, minlength=len(distinct))
    fprs = np.concatenate(([0.0], np.cumsum(fp_per) / ok_total))
    pros = np.concatenate(([0.0], np.cumsum(pro_per) / regions))
    return trapezoid(fprs, pros, LIMIT) / LIMIT


def random_masks(rng, count, h, w):
    """Rectangles, single pixels and diagonal chains; the first two images are good."""
    masks = np.zeros((count, h, w), dtype=np.uint8)
    for i in range(2, count):
        for _ in range(rng.integers(1, 4)):
            kind = rng.integers(0, 3)
            y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
            if kind == 0:
                masks[i, y:y + rng.integers(1, 5), x:x + rng.integers(1, 5)] = 1
            elif kind == 1:
                masks[i, y, x] = 1
            else:
                for d in range(rng.integers(2, 5)):  # touching only at corners
                    masks[i, y + d, x + d] = 1
    return masks


def make_case(name, rng, count, h, w, quantize):
    masks = random_masks(rng, count, h, w)
    maps = rng.normal(0.0, 1.0, size=(count, h, w)) + 1.5 * masks
    if quantize:
        maps = np.round(maps * 2) / 2  # half steps: many ties, also across defect/defect-free pixels
    maps = maps.astype(np.float32)
    labels = [int(m.any()) for m in masks]
    image_scores = [float(m.max()) for m in maps]
    pixel_labels = (masks.ravel() != 0).astype(int)
    case = {
        "name": name,
        "width": w,
        "height": h,
        "maps": [[float(v) for v in m.ravel()] for m in maps],
        "masks": [[int(v) for v in m.ravel()] for m in masks],
        "image_scores": image_scores,
        "labels": labels,
        "region_counts": [int(label(m, STRUCTURE)[1]) for m in masks],
        "i_auroc": auroc(image_scores, labels),
        "p_auroc": auroc(maps.ravel(), pixel_labels),
        "aupro": aupro_per_threshold(maps, masks),
        "aupro_mvtec": aupro_mvtec(maps, masks),
    }
    return case


def main():
    rng = np.random.default_rng(20260331)
    continuous = make_case("continuous", rng, 10, 16, 20, quantize=False)
    assert abs(continuous["aupro"] - continuous["aupro_mvtec"]) < 1e-12, "no ties: both AUPRO variants must agree"
    quantized = make_case("quantized", rng, 10, 16, 20, quantize=True)
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "metrics", "reference.json")
    with open(out, "w") as f:
        json.dump({"fpr_limit": LIMIT, "cases": [continuous, quantized]}, f, indent=None, separators=(",", ":"))
        f.write("\n")
    for c in (continuous, quantized):
        print(f'{c["name"]}: I-AUROC {c["i_auroc"]:.6f} P-AUROC {c["p_auroc"]:.6f} '
              f'AUPRO {c["aupro"]:.6f} (MVTec per-pixel {c["aupro_mvtec"]:.6f}) regions {sum(c["region_counts"])}')


if __name__ == "__main__":
    main()
