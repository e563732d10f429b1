#!/usr/bin/env python3
"""Time to quality of the PyTorch reference: base-step training until the first evaluated epoch
reaches a mean I-AUROC target, on the data, initial weights, settings and evaluation of `iumad train`.

Trains the PyTorch port of `Scripts/bench_torch.py` (`build`, scan batched/unbind — the faster
scan reference) on the step exported by `iumad dataset export` (the very tensors our trainer feeds
the model), starting from the exact parameters our trainer starts from (`iumad model export`, same
seed and class count), with the resolved config's base-step settings, and evaluates after every
eval.every_epochs epochs and at the end exactly as `IncrementalRun.learningCurvePoint` does. It
stops at the first evaluation whose mean I-AUROC over the step's classes is ≥ --target and reports
the wall seconds since training started (training + evaluations) and the training-only seconds.
NOT part of CI.

    # the step's tensors and (optionally) the initial parameters, as our trainer has them
    iumad dataset export --config configs/demo.yaml --data DATA --set train.schedule=10-0 --out runs/export-synth128
    iumad model export --config configs/demo.yaml --seed 0 --classes 10 --out init.safetensors   # else made here
    # validation of the port: score a Swift run's trained parameters (RUN/model.safetensors) with the
    # torch model and this evaluation; compares feature/map statistics with the ones stored in the
    # bundle, every anomaly map with RUN/maps/step-1/**.tiff and the I-AUROC with RUN/metrics.json
    python3 Scripts/torch_quality.py --export runs/export-synth128 --config configs/demo.yaml \\
        --set train.schedule=10-0 --score-run runs/synth128-10-0
    # time to quality (I-AUROC ≥ 0.9)
    python3 Scripts/torch_quality.py --export runs/export-synth128 --config configs/demo.yaml \\
        --set train.schedule=10-0 --threads 2 --target 0.9 --json /tmp/torch-tq.json

What is identical to ours:
  * data: OUT/train.safetensors and OUT/test.safetensors of `iumad dataset export` (backbone
    features, Mamba images, labels, anomalous flags) — nothing is recomputed here;
  * initial parameters: `iumad model export --config C --seed <config seed> --classes K` (or --init),
    loaded name by name (q/k/v packed as in bench_torch.pack_ours);
  * the model (bench_torch.build, checked against ours by bench_torch --check-golden) with the
    resolved model section (dropout, jitter scale/prob, Mamba patch, …);
  * feature standardisation (ChannelStatistics/FeatureStandardizer): per-channel mean and population
    variance over every token of the step's training set in float64, σ = sqrt(max(var,
    0.01²·mean(var), 1e-12)); standardised features are the MRN input (jitter added after) and every
    reconstruction/fusion target;
  * the loss: Σ_m MSE(R_m, F_m) + λ₁CE_R + λ₂CE_D + λ₃MSE(F_R, F_g) + λ₄(KL(p_fu‖p_g) + CE(p_fu))
    with λ from train.{ce_rgb, ce_depth, fusion, ib}, plus IUF's compression loss (train.compression_*:
    per modality and decoder layer 1…L−1 the token-mean rows of the batch stacked over a history of
    train.compression_buffer detached rows, singular values normalised to sum 1, those < 0.1/d summed
    (constant mask), mean over the keys × compression_weight; the batch's rows get gradient through
    the SVD, then are remembered);
  * the optimisation: batches of train.batch_size from a fresh permutation each epoch (last batch
    partial), AdamW (lr, betas, eps 1e-8, weight_decay, decoupled, torch semantics = ours), StepLR
    (step_lr_step, step_lr_gamma) per epoch, gradient clipping per module group (mrn.M, mamba.M,
    ibfm, heads.fused, heads.bottleneck; clip_grad_norm_ = ours, coef = max/(norm+1e-6));
  * the evaluation: eval mode (no dropout, no jitter) residuals R_m − F_m of the map's sources
    (model.anomaly_map 'modal' = rgb + depth), 'channel' normalisation with statistics measured on
    the statistics pool (the step's training set, since data.train_splits holds validation): per
    source the residual channels' mean/σ (0.01 floor as above), then the inner score
    sqrt(Σ_c z_c²)/√C's mean/σ (floor 1e-12); token score Σ_sources (inner − μ)/σ; bilinear
    upsampling align_corners=True to input_size; Gaussian blur eval.blur_sigma (radius
    int(4σ+0.5), 'reflect' borders = scipy's, as AnomalyMap.gaussianBlur); image score = max of the
    k×k window means, stride 1, k = eval.pool or input_size/grid (uniad protocol); I-AUROC per class
    (exact with ties) and the mean over the step's classes.
What is not identical:
  * the random streams (epoch permutations, dropout masks, jitter) are torch's, seeded from the
    config's seed; ours derive them per sample from (seed, step, epoch, sample);
  * the model itself as in bench_torch's docstring (torch.nn.MultiheadAttention, selective_scan_ref
    loop over unbind() views, eager float32, torch AdamW);
  * the pool's residuals are computed once per evaluation and reused for both statistics passes (ours
    runs the pool forward twice: same numbers, less evaluation time here); evaluation batches are
    --eval-batch samples (default 50; eval mode, so the numbers do not depend on it);
  * image scores and the AUROC in float64 from float32 maps (ours: a float64 summed-area table).
OMP_WAIT_POLICY=PASSIVE, torch threads = --threads, as bench_torch.
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import bench_torch as bt  # noqa: E402  (no torch import at module level)

import numpy as np  # noqa: E402
from quality_table import auroc  # noqa: E402  (exact, ties counted half, as ROCCurve.swift)

MODALITIES = ["rgb", "depth"]


# --- files ----------------------------------------------------------------------------------------
def read_st(path):
    """({name: float32 array}, metadata) of an F32 safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, h in header.items():
        assert h["dtype"] == "F32", (path, name, h["dtype"])
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=b).reshape(h["shape"])
    return out, meta


def unpack_stats(p):
    """ChannelStatistics.packed → (count, mean[C], m2[C]) in float64 (three 22-bit slots per double)."""
    p = np.asarray(p, dtype=np.float64).astype(np.uint64).reshape(-1, 3)
    bits = (p[:, 0] << np.uint64(44)) | (p[:, 1] << np.uint64(22)) | p[:, 2]
    d = bits.view(np.float64)
    c = (len(d) - 1) // 2
    return d[0], d[1:1 + c], d[1 + c:]


# --- configuration --------------------------------------------------------------------------------
def resolve(iumad, config, sets):
    """`iumad config check` → {section: {key: value}} (every key, defaults included)."""
    cmd = [iumad, "config", "check", config] + sum([["--set", s] for s in sets], [])
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        sys.exit(f"torch_quality: `{' '.join(cmd)}` failed: {run.stderr.strip()}")
    out, sec = {}, None
    for line in run.stdout.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            k, _, v = line.partition(":")
            if v.strip():
                out[k.strip()] = bt._scalar(v)
                sec = None
            else:
                sec = out.setdefault(k.strip(), {})
        elif sec is not None:
            k, _, v = line.strip().partition(":")
            sec[k] = bt._scalar(v)
    return out


# --- model ----------------------------------------------------------------------------------------
def load_params(torch, model, tensors):
    params = bt.pack_ours({k: torch.from_numpy(np.array(v)) for k, v in tensors.items() if not k.startswith("stats.")},
                          lambda ts: torch.cat(ts))
    missing, unexpected = model.load_state_dict(params, strict=False)
    assert not missing and not unexpected, (missing, unexpected)


def forward(torch, model, c, feats, images):
    """IBIUMAD.forward on standardised features; also returns every decoder feature f^{rec i}."""
    F = torch.nn.functional
    out, recs = {}, {}
    for m in MODALITIES:
        conds, out[f"logits.mamba.{m}"] = model.mamba[m](images[m])
        out[f"reconstruction.{m}"], recs[m] = model.mrn[m](feats[m], conds)
    a, b = max(c["decoder_layers"] // 2, 1) - 1, c["decoder_layers"] - 1
    f1 = torch.cat([recs["rgb"][a], recs["depth"][a]], dim=2)
    f2 = torch.cat([recs["rgb"][b], recs["depth"][b]], dim=2)
    fused = model.ibfm.fusion(f1, f2)
    fg = model.ibfm.ib_out(model.ibfm.dropout(F.relu(model.ibfm.ib_proj(fused))))
    out["bottleneck"] = fg
    out["logits.fused"] = model.heads["fused"](fused.mean(dim=1))
    out["logits.bottleneck"] = model.heads["bottleneck"](fg.mean(dim=1))
    return out, recs


def loss_terms(model, t, out, feats, labels):
    """Eq. 10 term by term (bench_torch's unweighted terms) and the weighted total (IBIUMAD.loss)."""
    terms = model.loss(out, {"labels": labels, **{f"features.{m}": feats[m] for m in MODALITIES}})
    del terms["total"]
    w = dict(mse_rgb=1.0, mse_depth=1.0, ce_rgb=t["ce_rgb"], ce_depth=t["ce_depth"], fusion=t["fusion"], ib=t["ib"])
    total = sum(terms[k] * w[k] for k in w)
    return total, terms


class Compression:
    """CompressionLoss.swift + Trainer.compressionGradients: mean over keys of the loss per key."""

    def __init__(s, torch, capacity, d):
        s.torch, s.capacity, s.d, s.buffers = torch, capacity, d, {}

    def __call__(s, recs, layers):
        torch = s.torch
        keys = [(m, i) for m in sorted(MODALITIES) for i in range(layers - 1)]
        total = 0
        for m, i in keys:
            cur = recs[m][i].mean(dim=1)  # [B, d]
            old = s.buffers.get((m, i))
            stacked = cur if old is None else torch.cat([cur, old], dim=0)
            sv = torch.linalg.svdvals(stacked)
            norm = sv / sv.sum()
            mask = (norm < 0.1 / s.d).to(norm.dtype).detach()
            total = total + (norm * mask).sum()
            rows = cur.detach() if old is None else torch.cat([old, cur.detach()], dim=0)
            s.buffers[(m, i)] = rows[-s.capacity:]
        return total / len(keys)


# --- statistics and evaluation --------------------------------------------------------------------
def channel_stats(x):
    """float32 [.., C] → (mean float32 [C], σ float32 [C]) as ChannelStatistics + FeatureStandardizer
    (float64 accumulation, population variance, σ floor 1 % of the root-mean variance)."""
    x = np.asarray(x).reshape(-1, x.shape[-1]).astype(np.float64)
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    floor = 0.01 * 0.01 * var.sum() / len(var)
    return mean.astype(np.float32), np.sqrt(np.maximum(np.maximum(var, floor), 1e-12)).astype(np.float32)


def standardize(x, mean, std):
    return ((x - mean) * (np.float32(1) / std)).astype(np.float32)


def residuals(torch, model, c, feats, images, idx, batch):
    """Eval-mode R_m − F_m [N, T, C] per modality, in `idx` order."""
    model.eval()
    res = {m: [] for m in MODALITIES}
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            j = idx[s:s + batch]
            f = {m: torch.from_numpy(feats[m][j]) for m in MODALITIES}
            im = {m: torch.from_numpy(images[m][j]) for m in MODALITIES}
            out, _ = forward(torch, model, c, f, im)
            for m in MODALITIES:
                res[m].append((out[f"reconstruction.{m}"] - f[m]).numpy())
    return {m: np.concatenate(v) for m, v in res.items()}


def inner_scores(r, ch):
    """AnomalyMap.innerScores, 'channel': RMS of the residual z-scored per channel [N, T]."""
    mean, std = ch
    z = (r - mean) * (np.float32(1) / std)
    return np.sqrt((z * z).sum(axis=-1)) * np.float32(1 / math.sqrt(r.shape[-1]))


def map_statistics(pool_res):
    """MapStatistics of the pool's residuals: per source channel (mean, σ) and score (μ, 1/σ)."""
    stats = {}
    for m, r in pool_res.items():
        ch = channel_stats(r)
        s = inner_scores(r, ch).astype(np.float64).ravel()
        mu, var = s.mean(), ((s - s.mean()) ** 2).mean()
        stats[m] = (ch, np.float32(mu), np.float32(1) / np.float32(math.sqrt(max(var, 1e-12))))
    return stats


def blur(torch, maps, sigma):
    """AnomalyMap.gaussianBlur: separable, truncated at int(4σ+0.5), 'reflect' borders (scipy's)."""
    F = torch.nn.functional
    radius = int(4 * sigma + 0.5)
    k = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2 / (2 * sigma * sigma))
    k = k / k.sum()
    n = maps.shape[-1]
    i = torch.arange(-radius, n + radius)
    period = 2 * n
    i = ((i % period) + period) % period
    i = torch.where(i < n, i, period - 1 - i)
    x = maps[:, :, i]  # pad width
    x = F.conv1d(x.reshape(-1, 1, x.shape[-1]), k.view(1, 1, -1)).reshape(maps.shape)
    x = x.transpose(1, 2)[:, :, i]  # pad height (as width after transposing)
    x = F.conv1d(x.reshape(-1, 1, x.shape[-1]), k.view(1, 1, -1)).reshape(maps.shape)
    return x.transpose(1, 2).contiguous()


def image_scores(torch, test_res, stats, c, ev):
    """Token scores → maps [N, S, S] → uniad image scores (float64)."""
    F = torch.nn.functional
    token = None
    for m in sorted(test_res):
        ch, mu, inv = stats[m]
        s = (inner_scores(test_res[m], ch) - mu) * inv
        token = s if token is None else token + s
    g, size = c["grid"], c["input_size"]
    t = torch.from_numpy(np.ascontiguousarray(token, dtype=np.float32)).view(-1, 1, g, g)
    maps = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=True)[:, 0]
    if ev["blur_sigma"] > 0:
        maps = blur(torch, maps, float(ev["blur_sigma"]))
    k = ev["pool"] if ev["pool"] > 0 else size // g
    assert ev["protocol"] == "uniad", f"eval.protocol {ev['protocol']} not ported (uniad only)"
    pooled = F.avg_pool2d(maps.double().unsqueeze(1), k, stride=1)
    return pooled.flatten(1).amax(dim=1).numpy(), maps.numpy()


def evaluate(torch, model, c, cfg, data, batch):
    """learningCurvePoint: map statistics on the pool (the training set), scores of the step's test
    classes, per-class and mean I-AUROC."""
    tr, te = data["train"], data["test"]
    pool = residuals(torch, model, c, tr["feats"], tr["images"], np.arange(tr["n"]), batch)
    stats = map_statistics(pool)
    sel = np.nonzero(np.isin(te["labels"], data["step_ids"]))[0]
    test = residuals(torch, model, c, te["feats"], te["images"], sel, batch)
    scores, maps = image_scores(torch, test, stats, c, cfg["eval"])
    per = {}
    for k in data["step_ids"]:
        j = te["labels"][sel] == k
        per[data["classes"][k]] = auroc(np.float32(scores[j]).astype(np.float64), te["anomalous"][sel][j] == 1)  # our scores are Float
    return float(np.mean(list(per.values()))), per, dict(stats=stats, scores=scores, maps=maps, indices=sel)


def compare_maps(run, data, ev, c):
    """Our float32 TIFF maps of the step (RUN/maps/step-1/CLASS/test/DEFECT/NAME.tiff, uncompressed,
    data at byte 8) vs the torch maps: per class, files sorted by (defect type, name) are matched to
    the export's samples of that class in order (the dataset order); the good/defective flags must
    agree. Returns (max |Δmap|, max |Δscore|, max |map|) or None when the maps are not comparable."""
    root = os.path.join(run, "maps", "step-1")
    s = c["input_size"]
    if not os.path.isdir(root):
        return None
    te, sel, maps = data["test"], ev["indices"], ev["maps"]
    dmap = dscore = big = 0.0
    import torch
    F = torch.nn.functional
    k = ev_pool(data["cfg_eval"], c)
    for ci in data["step_ids"]:
        name = data["classes"][ci]
        d = os.path.join(root, name, "test")
        files = sorted((t, f) for t in os.listdir(d) for f in os.listdir(os.path.join(d, t)) if f.endswith(".tiff"))
        mine = [i for i, j in enumerate(sel) if te["labels"][j] == ci]
        if len(files) != len(mine):
            return None
        for (t, f), i in zip(files, mine):
            if (t != "good") != bool(te["anomalous"][sel[i]]):
                return None
            path = os.path.join(d, t, f)
            if os.path.getsize(path) < 8 + 4 * s * s:
                return None
            ours = np.fromfile(path, dtype="<f4", count=s * s, offset=8).reshape(s, s)
            dmap = max(dmap, float(np.abs(ours - maps[i]).max()))
            big = max(big, float(np.abs(ours).max()))
            so = float(F.avg_pool2d(torch.from_numpy(ours).double()[None, None], k, stride=1).max())
            dscore = max(dscore, abs(so - float(ev["scores"][i])))
    return dmap, dscore, big


def ev_pool(ev, c):
    return ev["pool"] if ev["pool"] > 0 else c["input_size"] // c["grid"]


# --- main -----------------------------------------------------------------------------------------
def load_data(export, stats_override=None):
    data = {}
    for split in ["train", "test"]:
        t, meta = read_st(os.path.join(export, f"{split}.safetensors"))
        data[split] = dict(raw={m: t[f"features.{m}"] for m in MODALITIES},
                           images={m: np.ascontiguousarray(t[f"images.{m}"]) for m in MODALITIES},
                           labels=t["labels"].astype(np.int64), anomalous=t["anomalous"].astype(np.int64),
                           n=t["labels"].shape[0])
        data["meta"] = meta
    classes = data["meta"]["classes"].split(",")
    step = data["meta"]["step_classes"].split(",")
    data["classes"], data["step_ids"] = classes, [classes.index(s) for s in step]
    # Feature statistics of the step's training set (the base step: fixed for the run).
    data["feature_stats"] = {m: channel_stats(data["train"]["raw"][m]) for m in MODALITIES}
    for split in ["train", "test"]:
        data[split]["feats"] = {m: standardize(data[split]["raw"][m], *data["feature_stats"][m]) for m in MODALITIES}
    return data


def main():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n")[:2]), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", required=True, help="directory of `iumad dataset export` (train/test.safetensors)")
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--set", action="append", default=[], help="config override passed to `iumad config check` (repeatable)")
    ap.add_argument("--init", help="initial parameters (our names); default: made with `iumad model export`")
    ap.add_argument("--iumad-bin", help="iumad binary (else IUMAD_BIN, .build/release/iumad)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--max-epochs", type=int, help="default: train.epochs_base")
    ap.add_argument("--eval-batch", type=int, default=50)
    ap.add_argument("--json", help="write the results as JSON")
    ap.add_argument("--score-run", metavar="RUN", help="validation: score RUN/model.safetensors and compare with RUN/metrics.json")
    ap.add_argument("--seed", type=int, help="torch seed (default: the config's seed)")
    ap.add_argument("--limit-iterations", type=int, default=0, help="smoke test: at most this many iterations per epoch")
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    bt.ensure_torch()  # a CPU build from pip if it is missing, as bench_torch
    import torch
    torch.set_num_threads(args.threads)
    iumad = bt.find_iumad(args.iumad_bin)
    if not iumad:
        sys.exit("torch_quality: no iumad binary (--iumad-bin, IUMAD_BIN or .build/release/iumad)")
    cfg = resolve(iumad, args.config, args.set)
    t0 = time.perf_counter()
    data = load_data(args.export)
    c = dict(cfg["model"], classes=len(data["classes"]))
    bt.check_supported(c)
    assert c["standardize_features"] and c["anomaly_map"] == "modal" and c["map_normalization"] == "channel", \
        "only standardize_features on, anomaly_map modal, map_normalization channel are ported"
    c = bt.derived(c)
    tcfg, ev = cfg["train"], cfg["eval"]
    pool_ok = "validation" in cfg["data"]["train_splits"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY PASSIVE, load "
          f"{os.getloadavg()[0]:.2f}; data {args.export}: {data['train']['n']} train, {data['test']['n']} test, "
          f"classes {','.join(data['classes'])} (step: {len(data['step_ids'])}); loaded in {time.perf_counter() - t0:.1f} s")
    if not pool_ok:
        print("WARNING: data.train_splits has no validation: ours measures map statistics on held-out validation "
              "images, this script on the training set")
    model = bt.build(torch, c, "batched", "unbind")

    if args.score_run:
        tensors, meta = read_st(os.path.join(args.score_run, "model.safetensors"))
        load_params(torch, model, tensors)
        # Our stored statistics vs the ones recomputed here.
        for m in MODALITIES:
            cnt, mean, m2 = unpack_stats(tensors[f"stats.features.{m}"])
            mine = data["feature_stats"][m]
            print(f"feature statistics {m}: count {cnt:.0f}; max |Δmean| {np.abs(mine[0] - mean).max():.2e}, "
                  f"max |Δvar|/var {np.abs(mine[1].astype(np.float64) ** 2 - m2 / cnt).max() / (m2 / cnt).mean():.2e}")
        t1 = time.perf_counter()
        mean, per, evd = evaluate(torch, model, c, cfg, data, args.eval_batch)
        stats = evd["stats"]
        for m in MODALITIES:
            cnt, mu, m2 = unpack_stats(tensors[f"stats.map.channel.{m}"])
            _, smu, sm2 = unpack_stats(tensors[f"stats.map.score.{m}"])
            (chm, chs), mu_t, inv_t = stats[m]
            print(f"map statistics {m}: channel max |Δmean| {np.abs(chm - mu).max():.2e} (scale {np.abs(mu).max():.2e}), "
                  f"score μ torch {mu_t:.5f} ours {smu[0]:.5f}, σ torch {1 / inv_t:.5f} ours {math.sqrt(sm2[0] / cnt):.5f}")
        with open(os.path.join(args.score_run, "metrics.json")) as f:
            metrics = json.load(f)
        ours = find_iauroc(metrics, data["classes"], data["step_ids"])
        print(f"evaluated in {time.perf_counter() - t1:.1f} s")
        data["cfg_eval"] = ev
        cmp = compare_maps(args.score_run, data, evd, c)
        if cmp:
            print(f"anomaly maps vs RUN/maps/step-1 (our TIFFs): max |Δmap| {cmp[0]:.2e} (max |map| {cmp[2]:.2f}), "
                  f"max |Δimage score| {cmp[1]:.2e}")
        else:
            print("anomaly maps: RUN/maps/step-1 not comparable (absent, other size or order), not compared")
        print(f"{'class':<12} {'torch':>8} {'ours':>8} {'Δ':>9}")
        for k, v in per.items():
            o = ours.get(k)
            print(f"{k:<12} {v:8.4f} {o if o is None else format(o, '8.4f'):>8} "
                  f"{'' if o is None else format(v - o, '+9.4f')}")
        om = float(np.mean([ours[k] for k in per])) if all(k in ours for k in per) else None
        print(f"{'mean':<12} {mean:8.4f} {om if om is None else format(om, '8.4f'):>8} "
              f"{'' if om is None else format(mean - om, '+9.4f')}")
        ok = om is not None and abs(mean - om) <= 0.005
        print(f"validation: |Δ mean I-AUROC| {'n/a' if om is None else f'{abs(mean - om):.4f}'} ≤ 0.005 → {'PASS' if ok else 'FAIL'}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(mode="score-run", run=args.score_run, torch_iauroc=per, torch_mean=mean,
                               ours_iauroc=ours, ours_mean=om, passed=ok,
                               map_max_abs_diff=cmp and cmp[0], score_max_abs_diff=cmp and cmp[1]), f, indent=2)
        sys.exit(0 if ok else 1)

    # --- training -------------------------------------------------------------------------------
    seed = cfg["seed"] if args.seed is None else args.seed
    tmp = tempfile.mkdtemp(prefix="torch_quality.")
    init = args.init
    if not init:
        init = os.path.join(tmp, "init.safetensors")
        cmd = [iumad, "model", "export", "--config", args.config, "--seed", str(cfg["seed"]),
               "--classes", str(len(data["classes"])), "--out", init] + sum([["--set", s] for s in args.set], [])
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    load_params(torch, model, read_st(init)[0])
    shutil.rmtree(tmp, ignore_errors=True)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    groups = {}
    for name, p in model.named_parameters():
        groups.setdefault(clip_group(name), []).append(p)
    assert tcfg["clip_scope"] in ("module", "global")
    if tcfg["clip_scope"] == "global":
        groups = {"all": list(model.parameters())}
    assert tcfg["warmup_iterations"] == 0 and tcfg["lr_scaling"] == "none" and tcfg["micro_batch"] == 0, \
        "warmup, lr_scaling and micro-batches are not ported"
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg["lr"], betas=(tcfg["beta1"], tcfg["beta2"]), eps=1e-8,
                            weight_decay=tcfg["weight_decay"])
    comp = Compression(torch, tcfg["compression_buffer"], c["hidden"]) if tcfg["compression_loss"] else None
    tr = data["train"]
    n = tr["n"]
    batch = min(tcfg["batch_size"], n)
    epochs = args.max_epochs or tcfg["epochs_base"]
    every = ev["every_epochs"]
    print(f"training: {epochs} epochs max, batch {batch}, {math.ceil(n / batch)} iterations/epoch, AdamW lr {tcfg['lr']} "
          f"wd {tcfg['weight_decay']}, StepLR {tcfg['step_lr_step']}×{tcfg['step_lr_gamma']}, clip {tcfg['clip']} per "
          f"{tcfg['clip_scope']} ({len(groups)} groups), λ ce {tcfg['ce_rgb']}/{tcfg['ce_depth']} fusion {tcfg['fusion']} "
          f"ib {tcfg['ib']}, compression {tcfg['compression_weight'] if comp else 'off'} (buffer {tcfg['compression_buffer']}), "
          f"dropout {c['dropout']}, jitter {c['jitter_scale']}×p{c['jitter_prob']}, eval every {every} epochs, "
          f"target mean I-AUROC ≥ {args.target}")
    points, epoch_losses = [], []
    train_s, start = 0.0, time.perf_counter()
    reached = None
    for epoch in range(epochs):
        model.train()
        lr = tcfg["lr"] * tcfg["step_lr_gamma"] ** (epoch // tcfg["step_lr_step"])
        for gr in opt.param_groups:
            gr["lr"] = lr
        perm = torch.randperm(n, generator=gen).numpy()
        sums, its = {}, 0
        te0 = time.perf_counter()
        for s in range(0, n, batch):
            if args.limit_iterations and its >= args.limit_iterations:
                break
            j = perm[s:s + batch]
            feats = {m: torch.from_numpy(tr["feats"][m][j]) for m in MODALITIES}
            images = {m: torch.from_numpy(tr["images"][m][j]) for m in MODALITIES}
            labels = torch.from_numpy(tr["labels"][j])
            out, recs = forward(torch, model, c, feats, images)
            total, terms = loss_terms(model, tcfg, out, feats, labels)
            if comp is not None:
                cl = comp(recs, c["decoder_layers"])
                total = total + tcfg["compression_weight"] * cl
                terms["compression"] = cl
            opt.zero_grad(set_to_none=True)
            total.backward()
            gn = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters() if p.grad is not None))
            if tcfg["clip"] > 0:
                for ps in groups.values():
                    torch.nn.utils.clip_grad_norm_(ps, tcfg["clip"])
            opt.step()
            for k, v in [("total", total)] + list(terms.items()):
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + gn
            its += 1
        ep_s = time.perf_counter() - te0
        train_s += ep_s
        means = {k: v / its for k, v in sums.items()}
        epoch_losses.append(dict(epoch=epoch + 1, seconds=ep_s, load=os.getloadavg()[0], **means))
        print(f"epoch {epoch + 1:>3}/{epochs}: {ep_s:7.1f} s  " + " ".join(f"{k} {v:.4f}" for k, v in means.items()), flush=True)
        if (every > 0 and (epoch + 1) % every == 0) or epoch + 1 == epochs:
            e0 = time.perf_counter()
            mean, per, _ = evaluate(torch, model, c, cfg, data, args.eval_batch)
            wall = time.perf_counter() - start
            # epoch_end_seconds: what Scripts/quality_table.py's time to quality counts for ours
            # (training until the epoch's last iteration, earlier evaluations included).
            points.append(dict(epoch=epoch + 1, epoch_end_seconds=e0 - start, wall_seconds=wall, train_seconds=train_s,
                               eval_seconds=time.perf_counter() - e0, iauroc=mean, per_class=per,
                               load=os.getloadavg()[0]))
            print(f"EVAL epoch {epoch + 1:>3}: wall {wall:8.1f} s  train {train_s:8.1f} s  (eval {points[-1]['eval_seconds']:.1f} s)  "
                  f"mean I-AUROC {mean:.4f}  [" + " ".join(f"{k} {v:.3f}" for k, v in per.items()) + "]", flush=True)
            if mean >= args.target:
                reached = points[-1]
                break
    if reached:
        print(f"time to I-AUROC ≥ {args.target}: {reached['epoch_end_seconds']:.1f} s to the end of epoch {reached['epoch']} "
              f"(earlier evaluations included; {reached['train_seconds']:.1f} s training, {reached['wall_seconds']:.1f} s "
              f"with that evaluation)")
    else:
        print(f"I-AUROC ≥ {args.target} not reached in {epochs} epochs")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(mode="train", export=args.export, config=args.config, sets=args.set, target=args.target,
                           seconds_to_target=reached and reached["epoch_end_seconds"],
                           wall_seconds_to_target=reached and reached["wall_seconds"],
                           train_seconds_to_target=reached and reached["train_seconds"],
                           epoch=reached and reached["epoch"], points=points, epoch_losses=epoch_losses,
                           torch_version=torch.__version__, threads=torch.get_num_threads(),
                           load_at_start=os.getloadavg()[0], seed=seed), f, indent=2)


def clip_group(name):
    """IBIUMAD.module(of:): "mrn.rgb", "mamba.depth", "ibfm", "heads.fused", "heads.bottleneck"."""
    parts = name.split(".")
    return parts[0] if parts[0] == "ibfm" or len(parts) < 2 else ".".join(parts[:2])


def find_iauroc(metrics, classes, step_ids):
    """Per-class I-AUROC of the base step from our metrics.json (steps[0].classes[name].i_auroc)."""
    steps = metrics.get("steps") or []
    if not steps:
        return {}
    return {k: v["i_auroc"] for k, v in steps[0]["classes"].items() if v.get("i_auroc") is not None}


if __name__ == "__main__":
    main()
