#!/usr/bin/env python3
"""PyTorch CPU reference of one IB-IUMAD training step (SPEC §10), for `Scripts/bench_compare.sh`.

Builds the trainable model of SPEC §6 exactly as `Sources/Model` defines it — per modality a
UniAD-style reconstruction transformer (MRN) and a Mamba decoder (patch embed, DwConv + ESSM/ES2D
four-direction S6 scans + attention, conditions, classifier), then IBFM (cross-attention fusion, IB
projection, two heads) — with plain `torch.nn` modules, and times what `iumad bench step` times:
forward + loss (Eq. 10) + backward + AdamW on a random batch (features [B, T, C_in] and images
[B, 3, S, S] per modality, labels b mod K), after one warm-up step, training mode (dropout and
feature jitter on). NOT part of CI.

    python3 Scripts/bench_torch.py --preset paper --batch 8 --threads 2 --steps 3 --json /tmp/torch.json
    python3 Scripts/bench_torch.py --preset paper --profile --steps 0        # torch.profiler table
    python3 Scripts/bench_torch.py --check-golden                            # math check, tiny, float64

Shapes come from the iumad binary when it is found (IUMAD_BIN, --iumad-bin, or .build/release/iumad):
`iumad config check` resolves the preset's model section, `iumad model summary` gives the parameter
count per module, and `iumad model export` the name and shape of every parameter; the script asserts
that the PyTorch model has the same counts per module and the same shapes per parameter (q/k/v
projections compared packed, see below). Without a binary it uses its own copy of the presets.

What is identical to ours (Sources/Model):
  * every parameter tensor (names, shapes; 19,005,432 for paper), every op and its order: post-norm
    MRN with the Mamba condition multiplying the encoder query, UniAD decoder with learned queries
    and the shared decoder norm, ES2D sub-grids/scan orders/scatter-back, S6 with
    Δ = softplus(W_Δ(W_x u)_dt + b_Δ), A = −exp(A_log), D skip, ESSM gating, Mamba-block attention
    (no dropout), adaptive-average-pooled conditions c_i = 1 + Linear_i(·), GAP classifier, IBFM
    cross-attention + LayerNorm, IB projection with dropout, heads, and the loss
    MSE_R + MSE_D + CE_R + CE_D + MSE(F_R, F_g) + KL(p_fu‖p_g) + CE(p_fu) (all λ = 1), dropout 0.1 at
    the same places, feature jitter (scale 20, prob 1), AdamW (lr 1e-4, betas (0.9, 0.999), eps 1e-8,
    wd 1e-4), no gradient clipping and no compression loss (the bench step has neither).
    `--check-golden` runs the tiny model in float64 on Tests/Fixtures/model/golden_tiny.safetensors
    (the JAX reference our Swift tests are checked against) and compares every loss term and the
    stored gradients.
What is not identical:
  * attention is torch.nn.MultiheadAttention (batch_first, need_weights=False, so PyTorch may pick its
    fused scaled_dot_product_attention kernels), whose q/k/v projections are one packed
    in_proj_weight [3d, d] + in_proj_bias [3d] instead of our three named q/k/v Linears (same numbers:
    the export check and --check-golden pack ours the same way);
  * the random streams (weights, inputs, dropout masks, jitter) are PyTorch's, not our RNG; the initial
    weight *distributions* follow ours (Xavier-uniform weights, zero biases, zero condition Linears,
    Mamba's dt/A/D initialisation), so value ranges match but the values do not;
  * the S6 selective scan is mamba_ssm's `selective_scan_ref` (a Python loop over the sequence with
    tensor ops over batch × channels × state, autograd through every step; it materialises
    exp(ΔA) and ΔBu as [B, 4E, L, N] and keeps every state for the backward), since mamba_ssm's fused
    CUDA kernel does not run on CPU; ours is one fused kernel per direction with a hand-written
    backward. By default the four ES2D directions are batched into one scan of 4·E channels with
    grouped B/C, as VMamba's SS2D does (`--scan per-direction` runs four scans). mamba_ssm indexes
    step i as deltaA[:, :, i], whose backward zero-fills a full-size gradient per step (O(L²) memory
    traffic); `--scan-ref unbind` runs the same loop over unbind() views instead — same math, a
    much faster backward, the stronger baseline;
  * eager mode: no torch.compile, no channels-last, no bf16/AMP; AdamW is torch.optim.AdamW with
    its defaults for CPU tensors (`--adamw fused|foreach` to try the others).
  * OMP_WAIT_POLICY=PASSIVE by default (`--omp-wait-policy default` to leave libgomp's spin-then-sleep):
    with other work on the 2 cores, idle OpenMP threads spinning between the thousands of small ops
    of the scan loop cost torch far more than the ops (tiny: 7.2 vs 0.13 s/step, demo: 68 vs 25 s/step
    at load ≈ 7); on an idle machine the two should be close.
Peak RSS is ru_maxrss of this process (includes the torch import), ours is VmHWM of iumad's.
"""
import argparse
import glob
import json
import math
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))


# --- torch install (idempotent) ------------------------------------------------------------------
def _pip(args):
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 and "externally-managed-environment" in (r.stdout + r.stderr):
        r = subprocess.run(cmd + ["--break-system-packages"], capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr)[-2000:]


def ensure_torch():
    """Imports torch, installing a CPU build first if it is missing: a local CPU wheel from pip's
    find-links (e.g. /opt/wheels), else PyTorch's CPU index, else PyPI's `torch`."""
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    dirs = [d for d in re.split(r"[\s]+", os.environ.get("PIP_FIND_LINKS", "")) if d] + ["/opt/wheels"]
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
        dirs += re.findall(r"find-links='([^']+)'", out)
    except OSError:
        pass
    wheels = sorted({w for d in dirs if os.path.isdir(d) for w in glob.glob(os.path.join(d, f"torch-*+cpu-{tag}-*.whl"))})
    attempts = [[wheels[-1]]] if wheels else []
    attempts += [["--index-url", "https://download.pytorch.org/whl/cpu", "torch"], ["torch"]]
    log = ""
    for a in attempts:
        print(f"bench_torch: installing torch: pip install {' '.join(a)}", file=sys.stderr)
        ok, log = _pip(["--default-timeout", "60"] + a)
        if ok:
            break
    else:
        sys.exit("bench_torch: could not install torch:\n" + log)
    import importlib
    importlib.invalidate_caches()


# --- configuration -------------------------------------------------------------------------------
# Copies of ModelConfig.paper/demo/tiny (Sources/Model/ModelConfig.swift), used without a binary.
PAPER = dict(input_size=224, feature_channels=272, feature_stride=16, hidden=256, heads=8, ffn=1024,
             encoder_layers=4, decoder_layers=4, dropout=0.1, jitter_scale=20.0, jitter_prob=1.0,
             modalities=["rgb", "depth"], mamba=True, mamba_channels=128, mamba_patch=8, mamba_heads=4,
             state_size=16, ibfm=True, fusion="cross_attention", ib_dim=256, ib_supervised=True, classes=10)
PRESETS = {
    "paper": PAPER,
    "demo": {**PAPER, **dict(input_size=128, feature_channels=192, hidden=128, ffn=512, ib_dim=128, mamba_channels=64)},
    "tiny": {**PAPER, **dict(input_size=64, feature_channels=192, hidden=32, heads=4, ffn=64, encoder_layers=2,
                             decoder_layers=2, mamba_channels=16, mamba_heads=2, state_size=4, ib_dim=32)},
}


def find_iumad(explicit):
    for cand in [explicit, os.environ.get("IUMAD_BIN"), os.path.join(ROOT, ".build", "release", "iumad")]:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _scalar(v):
    v = v.strip()
    if v in ("on", "true"):
        return True
    if v in ("off", "false"):
        return False
    if v.startswith("[") and v.endswith("]"):
        return [s.strip() for s in v[1:-1].split(",") if s.strip()]
    for f in (int, float):
        try:
            return f(v)
        except ValueError:
            pass
    return v.strip('"')


def resolve_config(preset, iumad, tmp):
    """The model section exactly as iumad resolves it (classes = 10, as `iumad bench step` uses)."""
    if not iumad:
        return dict(PRESETS[preset]), None
    yaml = os.path.join(tmp, f"{preset}.yaml")
    # The backbone whose features the preset expects; only the model section is read back, so any
    # existing file stands in for the backbone weights that `config check` looks for.
    backbone = "b4" if PRESETS[preset]["feature_channels"] == 272 else "lite0"
    with open(yaml, "w") as f:
        f.write(f"model:\n  preset: {preset}\nbackbone:\n  name: {backbone}\n  weights: {yaml}\n")
    run = subprocess.run([iumad, "config", "check", yaml], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"bench_torch: `{iumad} config check {yaml}` failed: {run.stderr.strip()}")
    out = run.stdout
    # The class count is the model's constructor argument, not a config key: 10, as `iumad bench step` uses.
    cfg, inside = {"classes": 10}, False
    for line in out.splitlines():
        if line.startswith("model:"):
            inside = True
            continue
        if inside:
            if not line.startswith("  "):
                break
            k, _, v = line.strip().partition(":")
            cfg[k] = _scalar(v)
    missing = set(PAPER) - set(cfg)
    if missing:
        sys.exit(f"bench_torch: `iumad config check` did not give model keys {sorted(missing)}")
    return cfg, yaml


def check_supported(c):
    want = dict(modalities=["rgb", "depth"], mamba=True, ibfm=True, fusion="cross_attention")
    for k, v in want.items():
        if c[k] != v:
            sys.exit(f"bench_torch: model.{k} = {c[k]} is not supported (only the full IB-IUMAD: {want})")


def derived(c):
    c = dict(c)
    c["grid"] = c["input_size"] // c["feature_stride"]
    c["tokens"] = c["grid"] ** 2
    c["mamba_grid"] = c["input_size"] // c["mamba_patch"]
    c["expanded"] = 2 * c["mamba_channels"]
    c["dt_rank"] = (c["mamba_channels"] + 15) // 16
    return c


# --- model ---------------------------------------------------------------------------------------
def build(torch, c, scan_mode, scan_ref="mamba"):
    nn = torch.nn
    F = torch.nn.functional

    def mha(dim, heads, dropout):
        return nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def attend(m, q, k, v):
        return m(q, k, v, need_weights=False)[0]

    def selective_scan_ref(u, delta, A, B, C, D=None, delta_bias=None, delta_softplus=False):
        """mamba_ssm.ops.selective_scan_interface.selective_scan_ref (real A, variable B/C).
        u, delta [b, d, l]; A [d, n]; B, C [b, n, l] or grouped [b, g, n, l]; D [d]."""
        if delta_bias is not None:
            delta = delta + delta_bias[..., None]
        if delta_softplus:
            delta = F.softplus(delta)
        batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
        x = A.new_zeros((batch, dim, dstate))
        ys = []
        deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
        if B.dim() == 3:
            deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
        else:
            B = B.repeat_interleave(dim // B.shape[1], dim=1)  # einops: B G N L -> B (G H) N L
            deltaB_u = torch.einsum("bdl,bdnl,bdl->bdln", delta, B, u)
        if C.dim() == 4:
            C = C.repeat_interleave(dim // C.shape[1], dim=1)
        if scan_ref == "mamba":  # as mamba_ssm writes it: index step i out of the [.., L, ..] tensors
            for i in range(u.shape[2]):
                x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
                if C.dim() == 3:
                    y = torch.einsum("bdn,bn->bd", x, C[:, :, i])
                else:
                    y = torch.einsum("bdn,bdn->bd", x, C[:, :, :, i])
                ys.append(y)
        else:  # "unbind": the same loop over unbind(L) views, whose backward is one stack instead of
            # L full-size zero-filled gradients (SelectBackward) summed into deltaA/deltaB_u/C
            eq = "bdn,bn->bd" if C.dim() == 3 else "bdn,bdn->bd"
            for dA, dBu, Ci in zip(deltaA.unbind(2), deltaB_u.unbind(2), C.unbind(-1)):
                x = dA * x + dBu
                ys.append(torch.einsum(eq, x, Ci))
        y = torch.stack(ys, dim=2)
        return y if D is None else y + u * D[:, None]

    sys.path.insert(0, HERE)
    from es2d import scan_order

    def to_grid(t, g):  # [B, g*g, C] -> [B, C, g, g]
        return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], g, g)

    def to_tokens(x):  # [B, C, H, W] -> [B, H*W, C]
        return x.flatten(2).transpose(1, 2)

    class EncoderLayer(nn.Module):
        def __init__(s):
            super().__init__()
            s.self_attn = mha(c["hidden"], c["heads"], c["dropout"])
            s.linear1, s.linear2 = nn.Linear(c["hidden"], c["ffn"]), nn.Linear(c["ffn"], c["hidden"])
            s.norm1, s.norm2 = nn.LayerNorm(c["hidden"]), nn.LayerNorm(c["hidden"])
            s.dropout, s.dropout1, s.dropout2 = (nn.Dropout(c["dropout"]) for _ in range(3))

        def forward(s, x, pos, cond):
            withpos = x + pos
            q = withpos * cond if cond is not None else withpos
            h = s.norm1(x + s.dropout1(attend(s.self_attn, q, withpos, x)))
            f = s.linear2(s.dropout(F.relu(s.linear1(h))))
            return s.norm2(h + s.dropout2(f))

    class DecoderLayer(nn.Module):
        def __init__(s):
            super().__init__()
            s.query_embed = nn.Parameter(torch.empty(c["tokens"], c["hidden"]))
            s.self_attn = mha(c["hidden"], c["heads"], c["dropout"])
            s.cross_attn = mha(c["hidden"], c["heads"], c["dropout"])
            s.linear1, s.linear2 = nn.Linear(c["hidden"], c["ffn"]), nn.Linear(c["ffn"], c["hidden"])
            s.norm1, s.norm2, s.norm3 = (nn.LayerNorm(c["hidden"]) for _ in range(3))
            s.dropout, s.dropout1, s.dropout2, s.dropout3 = (nn.Dropout(c["dropout"]) for _ in range(4))

        def forward(s, prev, memory, pos):
            q = s.query_embed.unsqueeze(0).expand(memory.shape[0], -1, -1)
            t = s.norm1(q + s.dropout1(attend(s.self_attn, q + pos, memory + pos, memory)))
            t = s.norm2(t + s.dropout2(attend(s.cross_attn, t + pos, prev + pos, prev)))
            f = s.linear2(s.dropout(F.relu(s.linear1(t))))
            return s.norm3(t + s.dropout3(f))

    class MRN(nn.Module):
        def __init__(s):
            super().__init__()
            s.input_proj = nn.Linear(c["feature_channels"], c["hidden"])
            s.pos_embed = nn.Parameter(torch.empty(c["tokens"], c["hidden"]))
            s.encoder = nn.ModuleList(EncoderLayer() for _ in range(c["encoder_layers"]))
            s.decoder = nn.ModuleList(DecoderLayer() for _ in range(c["decoder_layers"]))
            s.decoder_norm = nn.LayerNorm(c["hidden"])
            s.output_proj = nn.Linear(c["hidden"], c["feature_channels"])
            s.jitter = True

        def add_jitter(s, x):
            """UniAD's feature jitter: x += ε·(‖x‖₂/C)·scale per token, with probability p per sample."""
            scale = x.norm(dim=2, keepdim=True) / x.shape[2] * c["jitter_scale"]
            keep = (torch.rand(x.shape[0], 1, 1) < c["jitter_prob"]).to(x.dtype)
            return x + torch.randn_like(x) * scale * keep

        def forward(s, feats, conds):
            x = s.add_jitter(feats) if (s.training and s.jitter) else feats
            h = s.input_proj(x)
            for i, layer in enumerate(s.encoder):
                h = layer(h, s.pos_embed, conds[i] if conds is not None else None)
            memory = prev = h
            recs = []
            for layer in s.decoder:
                prev = layer(prev, memory, s.pos_embed)
                recs.append(s.decoder_norm(prev))
            return s.output_proj(recs[-1]), recs

    class S6(nn.Module):
        def __init__(s):
            super().__init__()
            e, r, n = c["expanded"], c["dt_rank"], c["state_size"]
            s.x_proj = nn.Linear(e, r + 2 * n, bias=False)
            s.dt_proj = nn.Linear(r, e)
            s.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(e, 1))
            s.D = nn.Parameter(torch.ones(e))

        def forward(s, u):  # [B, L, E] -> [B, L, E], one direction
            r, n = c["dt_rank"], c["state_size"]
            xdbl = s.x_proj(u)
            dt, Bm, Cm = xdbl.split([r, n, n], dim=2)
            delta = s.dt_proj.weight @ dt.transpose(1, 2)  # bias goes in as delta_bias, as in Mamba
            y = selective_scan_ref(u.transpose(1, 2), delta, -torch.exp(s.A_log), Bm.transpose(1, 2),
                                   Cm.transpose(1, 2), s.D, delta_bias=s.dt_proj.bias, delta_softplus=True)
            return y.transpose(1, 2)

    class ESSM(nn.Module):
        def __init__(s):
            super().__init__()
            e, g = c["expanded"], c["mamba_grid"]
            s.in_proj = nn.Linear(c["mamba_channels"], 2 * e)
            s.conv = nn.Conv2d(e, e, 3, padding=1, groups=e)
            s.s6 = nn.ModuleList(S6() for _ in range(4))
            s.out_norm = nn.LayerNorm(e)
            s.out_proj = nn.Linear(e, c["mamba_channels"])
            orders = [scan_order(k, g) for k in range(4)]
            s.register_buffer("orders", torch.tensor(orders), persistent=False)  # [4, L/4]
            s.register_buffer("inverse", torch.argsort(torch.tensor(sum(orders, []))), persistent=False)

        def scan_batched(s, u):
            """VMamba SS2D style: the four sub-grid sequences as one scan of 4·E channels."""
            b, _, e = u.shape
            r, n = c["dt_rank"], c["state_size"]
            xs = u[:, s.orders, :].permute(0, 1, 3, 2)  # [B, 4, E, Lk]
            lk = xs.shape[-1]
            xw = torch.stack([m.x_proj.weight for m in s.s6])  # [4, R+2N, E]
            dw = torch.stack([m.dt_proj.weight for m in s.s6])  # [4, E, R]
            x_dbl = torch.einsum("bkel,kce->bkcl", xs, xw)
            dts, Bs, Cs = x_dbl.split([r, n, n], dim=2)
            dts = torch.einsum("bkrl,ker->bkel", dts, dw)
            As = -torch.exp(torch.cat([m.A_log for m in s.s6]))  # [4E, N]
            Ds = torch.cat([m.D for m in s.s6])
            bias = torch.cat([m.dt_proj.bias for m in s.s6])
            y = selective_scan_ref(xs.reshape(b, 4 * e, lk), dts.reshape(b, 4 * e, lk), As, Bs, Cs, Ds,
                                   delta_bias=bias, delta_softplus=True)  # [B, 4E, Lk]
            y = y.view(b, 4, e, lk).permute(0, 2, 1, 3).reshape(b, e, 4 * lk)  # scans end to end
            return y[:, :, s.inverse].transpose(1, 2)  # scatter back: [B, G², E]

        def scan_per_direction(s, u):
            ys = [s.s6[k](u[:, s.orders[k], :]) for k in range(4)]
            return torch.cat(ys, dim=1)[:, s.inverse, :]

        def forward(s, x):
            e, g = c["expanded"], c["mamba_grid"]
            u, z = s.in_proj(x).split([e, e], dim=2)
            u = to_tokens(F.silu(s.conv(to_grid(u, g))))
            y = s.scan_batched(u) if scan_mode == "batched" else s.scan_per_direction(u)
            return s.out_proj(s.out_norm(y) * F.silu(z))

    class MambaBlock(nn.Module):
        def __init__(s):
            super().__init__()
            cm = c["mamba_channels"]
            s.dwconv = nn.Conv2d(cm, cm, 3, padding=1, groups=cm)
            s.norm1 = nn.LayerNorm(cm)
            s.essm = ESSM()
            s.norm2 = nn.LayerNorm(cm)
            s.attn = mha(cm, c["mamba_heads"], 0.0)

        def forward(s, x):
            local = to_tokens(s.dwconv(to_grid(x, c["mamba_grid"])))
            t = s.norm2(s.essm(s.norm1(x)))
            return attend(s.attn, t, t, t) + local

    class Mamba(nn.Module):
        def __init__(s):
            super().__init__()
            cm = c["mamba_channels"]
            s.patch_embed = nn.Conv2d(3, cm, c["mamba_patch"], stride=c["mamba_patch"])
            s.patch_norm = nn.LayerNorm(cm)
            s.blocks = nn.ModuleList(MambaBlock() for _ in range(c["encoder_layers"]))
            s.cond = nn.ModuleList(nn.Linear(cm, c["hidden"]) for _ in range(c["encoder_layers"]))
            s.classifier_norm = nn.LayerNorm(cm)
            s.classifier = nn.Linear(cm, c["classes"])

        def forward(s, image):
            x = s.patch_norm(to_tokens(s.patch_embed(image)))
            conds = []
            for block, cond in zip(s.blocks, s.cond):
                x = block(x)
                pooled = to_tokens(F.adaptive_avg_pool2d(to_grid(x, c["mamba_grid"]), c["grid"]))
                conds.append(cond(pooled) + 1)
            return conds, s.classifier(s.classifier_norm(x.mean(dim=1)))

    class Fusion(nn.Module):
        def __init__(s):
            super().__init__()
            s.attn = mha(2 * c["hidden"], c["heads"], 0.0)
            s.norm = nn.LayerNorm(2 * c["hidden"])

        def forward(s, f1, f2):
            return s.norm(f1 + attend(s.attn, f1, f2, f2))

    class IBFM(nn.Module):
        def __init__(s):
            super().__init__()
            s.fusion = Fusion()
            s.ib_proj = nn.Linear(2 * c["hidden"], c["ib_dim"])
            s.ib_out = nn.Linear(c["ib_dim"], c["feature_channels"])
            s.dropout = nn.Dropout(c["dropout"])

    class IBIUMAD(nn.Module):
        def __init__(s):
            super().__init__()
            # Creation order as in IBIUMAD.swift: mrn.rgb, mamba.rgb, mrn.depth, mamba.depth, ibfm, heads.
            s.mrn = nn.ModuleDict()
            s.mamba = nn.ModuleDict()
            for m in ["rgb", "depth"]:
                s.mrn[m] = MRN()
                s.mamba[m] = Mamba()
            s.ibfm = IBFM()
            s.heads = nn.ModuleDict(dict(fused=nn.Linear(2 * c["hidden"], c["classes"]),
                                         bottleneck=nn.Linear(c["feature_channels"], c["classes"])))

        def forward(s, inp):
            prof = torch.autograd.profiler.record_function
            out, recs = {}, {}
            for m in ["rgb", "depth"]:
                with prof(f"iumad::mamba.{m}"):
                    conds, out[f"logits.mamba.{m}"] = s.mamba[m](inp[f"images.{m}"])
                with prof(f"iumad::mrn.{m}"):
                    out[f"reconstruction.{m}"], recs[m] = s.mrn[m](inp[f"features.{m}"], conds)
            with prof("iumad::ibfm"):
                a, b = max(c["decoder_layers"] // 2, 1) - 1, c["decoder_layers"] - 1
                f1 = torch.cat([recs["rgb"][a], recs["depth"][a]], dim=2)
                f2 = torch.cat([recs["rgb"][b], recs["depth"][b]], dim=2)
                fused = s.ibfm.fusion(f1, f2)
                fg = s.ibfm.ib_out(s.ibfm.dropout(F.relu(s.ibfm.ib_proj(fused))))
                out["fused"], out["bottleneck"] = fused, fg
                out["logits.fused"] = s.heads["fused"](fused.mean(dim=1))
                out["logits.bottleneck"] = s.heads["bottleneck"](fg.mean(dim=1))
            return out

        def loss(s, out, inp):
            t = {}
            labels = inp["labels"]
            for m in ["rgb", "depth"]:
                t[f"mse_{m}"] = F.mse_loss(out[f"reconstruction.{m}"], inp[f"features.{m}"])
            for m in ["rgb", "depth"]:
                t[f"ce_{m}"] = F.cross_entropy(out[f"logits.mamba.{m}"], labels)
            t["fusion"] = F.mse_loss(inp["features.rgb"], out["bottleneck"])
            lp = F.log_softmax(out["logits.fused"], dim=1)
            lq = F.log_softmax(out["logits.bottleneck"], dim=1)
            ib = F.kl_div(lq, lp, reduction="batchmean", log_target=True)  # KL(p_fu ‖ p_g)
            if c["ib_supervised"]:
                ib = ib + F.cross_entropy(out["logits.fused"], labels)
            t["ib"] = ib
            t["total"] = sum(t[k] for k in ["mse_rgb", "mse_depth", "ce_rgb", "ce_depth", "fusion", "ib"])
            return t

    model = IBIUMAD()
    init_like_ours(torch, model, c)
    return model


def init_like_ours(torch, model, c):
    """The distributions of Sources/Model's initialisers (values differ: other random streams)."""
    nn = torch.nn
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, nn.MultiheadAttention):
                for w in mod.in_proj_weight.chunk(3):  # q, k, v each Xavier over [d, d], as ours
                    nn.init.xavier_uniform_(w)
                nn.init.zeros_(mod.in_proj_bias)
                nn.init.xavier_uniform_(mod.out_proj.weight)
                nn.init.zeros_(mod.out_proj.bias)
            elif isinstance(mod, (nn.Linear, nn.Conv2d)) and ".s6." not in name:
                if re.search(r"\.cond\.\d+$", name):
                    nn.init.zeros_(mod.weight)
                else:
                    nn.init.xavier_uniform_(mod.weight)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
            elif name.endswith("pos_embed") or name.endswith("query_embed"):
                pass
        for name, p in model.named_parameters():
            if name.endswith(("pos_embed", "query_embed")):
                nn.init.xavier_uniform_(p)
        for name, mod in model.named_modules():
            if re.search(r"\.s6\.\d+$", name):  # Mamba's S6 initialisation
                nn.init.xavier_uniform_(mod.x_proj.weight)
                bound = c["dt_rank"] ** -0.5
                nn.init.uniform_(mod.dt_proj.weight, -bound, bound)
                dt = torch.exp(torch.rand(c["expanded"]) * (math.log(1e-1) - math.log(1e-3)) + math.log(1e-3))
                dt = dt.clamp(min=1e-4)
                mod.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))


# --- checks against ours ---------------------------------------------------------------------------
def module_of(name):
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in ("mrn", "mamba") else parts[0]


def counts_per_module(model):
    counts = {}
    for name, p in model.named_parameters():
        counts[module_of(name)] = counts.get(module_of(name), 0) + p.numel()
    return counts


def pack_ours(shapes_or_tensors, cat):
    """Our names → the torch model's: X.{q,k,v}_proj.{weight,bias} → X.in_proj_{weight,bias}
    (concatenated q, k, v), X.out_proj.* unchanged."""
    out = {}
    for name, v in shapes_or_tensors.items():
        m = re.match(r"(.*)\.(q|k|v)_proj\.(weight|bias)$", name)
        if not m:
            out[name] = v
            continue
        if m.group(2) != "q":
            continue
        pre, kind = m.group(1), m.group(3)
        out[f"{pre}.in_proj_{kind}"] = cat([shapes_or_tensors[f"{pre}.{x}_proj.{kind}"] for x in "qkv"])
    return out


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h


def check_against_ours(model, iumad, yaml, tmp, skip_export):
    """Asserts equal parameter counts per module (`iumad model summary`) and, unless skipped, equal
    names and shapes per parameter (`iumad model export`). Returns the summary JSON."""
    ours = counts_per_module(model)
    total = sum(ours.values())
    if not iumad:
        print(f"parameters (torch): {total:,} — no iumad binary, not compared")
        return None
    summary = json.loads(subprocess.run([iumad, "model", "summary", "--config", yaml],
                                        capture_output=True, text=True, check=True).stdout)
    theirs = summary["parameters"]
    print(f"{'module':<14} {'iumad':>12} {'torch':>12}")
    for m in sorted(set(theirs) | set(ours)):
        print(f"{m:<14} {theirs.get(m, 0):>12,} {ours.get(m, 0):>12,}")
    print(f"{'total':<14} {summary['total_parameters']:>12,} {total:>12,}")
    assert theirs == ours and summary["total_parameters"] == total, "parameter counts per module differ"
    if not skip_export:
        path = os.path.join(tmp, "export.safetensors")
        subprocess.run([iumad, "model", "export", "--config", yaml, "--out", path], capture_output=True, check=True)
        shapes = {k: tuple(v["shape"]) for k, v in safetensors_header(path).items()}
        packed = pack_ours(shapes, lambda s: (sum(x[0] for x in s),) + s[0][1:])
        mine = {k: tuple(p.shape) for k, p in model.named_parameters()}
        diff = sorted(set(packed.items()) ^ set(mine.items()))
        assert not diff, f"parameter names/shapes differ: {diff[:10]}"
        print(f"parameter check: equal counts in all {len(ours)} modules and equal shapes for all "
              f"{len(shapes)} of iumad's tensors ({len(mine)} after packing q/k/v)")
    else:
        print(f"parameter check: equal counts in all {len(ours)} modules")
    return summary


def check_golden(torch, path, scan_mode, scan_ref):
    """Float64 tiny model on the JAX golden fixture: every loss term and the stored gradients."""
    sys.path.insert(0, HERE)
    from safetensors_io import read_safetensors
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))["__metadata__"]
    j = json.loads(meta["config"])
    c = dict(PRESETS["tiny"])
    c.update(input_size=j["input_size"], feature_channels=j["C"], feature_stride=j["stride"], hidden=j["d"],
             heads=j["heads"], ffn=j["ffn"], encoder_layers=j["enc"], decoder_layers=j["dec"],
             mamba_channels=j["Cm"], mamba_patch=j["P"], mamba_heads=j["mheads"], state_size=j["N"],
             ib_dim=j["ibdim"], classes=j["K"])
    c = derived(c)
    data = read_safetensors(path)
    model = build(torch, c, scan_mode, scan_ref).double()
    params = pack_ours({k[6:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("param/")},
                       lambda ts: torch.cat(ts))
    missing, unexpected = model.load_state_dict(params, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()  # dropout off; jitter only in training
    inp = {k[6:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("input/") and k != "input/labels"}
    inp["labels"] = torch.from_numpy(data["input/labels"].astype(np.int64))
    t = model.loss(model(inp), inp)
    t["total"].backward()
    worst = 0.0
    for k in ["mse_rgb", "mse_depth", "ce_rgb", "ce_depth", "fusion", "ib", "total"]:
        ref = float(data[f"loss/{k}"][0])
        val = t[k].item()
        err = abs(val - ref) / max(abs(ref), 1e-12)
        worst = max(worst, err)
        print(f"  loss {k:<10} torch {val:.12f}  golden {ref:.12f}  rel {err:.1e}")
    named = dict(model.named_parameters())
    for k in sorted(x for x in data if x.startswith("grad/")):
        name = k[5:]
        m = re.match(r"(.*)\.(q|k|v)_proj\.weight$", name)
        if m:
            w = named[m.group(1) + ".in_proj_weight"].grad
            width = w.shape[0] // 3
            g = w["qkv".index(m.group(2)) * width:("qkv".index(m.group(2)) + 1) * width]
        else:
            g = named[name].grad
        ref = torch.from_numpy(data[k])
        err = float((g - ref).abs().max() / ref.abs().max().clamp(min=1e-12))
        worst = max(worst, err)
        print(f"  grad {name:<48} max rel {err:.1e}")
    # The fixture stores float32 values (computed in float64): agreement to float32 rounding is exact.
    ok = worst < 2.5e-7
    print(f"golden check ({os.path.relpath(path, ROOT)}, scan {scan_mode}/{scan_ref}): worst relative error {worst:.1e} "
          f"→ {'PASS' if ok else 'FAIL'}")
    return ok


# --- benchmark ---------------------------------------------------------------------------------
def make_input(torch, c, batch):
    g = torch.Generator().manual_seed(7)
    inp = {}
    for m in ["rgb", "depth"]:
        inp[f"features.{m}"] = torch.randn(batch, c["tokens"], c["feature_channels"], generator=g)
        inp[f"images.{m}"] = torch.randn(batch, 3, c["input_size"], c["input_size"], generator=g)
    inp["labels"] = torch.arange(batch) % c["classes"]
    return inp


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def sgemm_gflops(torch, n=1024, min_seconds=0.3):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    reps, start = 0, time.perf_counter()
    while True:
        torch.mm(a, b)
        reps += 1
        el = time.perf_counter() - start
        if el >= min_seconds:
            return 2.0 * n ** 3 * reps / el / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper", help="comma-separated presets: tiny, demo, paper (default paper)")
    ap.add_argument("--batch", default="8", help="comma-separated batch sizes (default 8)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step (default 3)")
    ap.add_argument("--json", help="write the results as JSON (field names as `iumad bench step --json`)")
    ap.add_argument("--scan", choices=["batched", "per-direction"], default="batched",
                    help="ES2D scans: one selective_scan_ref over 4·E channels (VMamba style, default) or four")
    ap.add_argument("--scan-ref", choices=["mamba", "unbind"], default="mamba",
                    help="the scan loop: mamba_ssm's selective_scan_ref as written (x[:, :, i] indexing; default) "
                         "or the same loop over unbind() views (no O(L²) zero-filled gradients in the backward)")
    ap.add_argument("--adamw", choices=["default", "foreach", "fused"], default="default",
                    help="torch.optim.AdamW implementation (default: torch's choice for CPU tensors)")
    ap.add_argument("--omp-wait-policy", choices=["passive", "active", "default"], default="passive",
                    help="OMP_WAIT_POLICY for torch's OpenMP threads, set before torch loads (default passive: "
                         "libgomp's spinning makes torch 3-60x slower when other work shares the cores; "
                         "'default' leaves it unset)")
    ap.add_argument("--iumad-bin", help="iumad binary for the config and parameter checks (else IUMAD_BIN, "
                                        ".build/release/iumad)")
    ap.add_argument("--no-export-check", action="store_true", help="skip the per-tensor shape check")
    ap.add_argument("--profile", action="store_true", help="also profile one step with torch.profiler")
    ap.add_argument("--profile-rows", type=int, default=25)
    ap.add_argument("--profile-out", help="write the profiler tables to this file")
    ap.add_argument("--check-golden", nargs="?", const=os.path.join(ROOT, "Tests", "Fixtures", "model",
                                                                    "golden_tiny.safetensors"),
                    help="compare the float64 tiny model with the golden fixture and exit")
    ap.add_argument("--install-only", action="store_true", help="install torch if missing and exit")
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    if args.omp_wait_policy != "default":
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    ensure_torch()
    import torch
    if args.install_only:
        print(f"torch {torch.__version__}")
        return
    torch.set_num_threads(args.threads)
    if args.check_golden:
        ok = all([check_golden(torch, args.check_golden, mode, ref) for mode in ["batched", "per-direction"]
                  for ref in ["mamba", "unbind"]])
        sys.exit(0 if ok else 1)

    presets = args.preset.split(",")
    for p in presets:
        if p not in PRESETS:
            sys.exit(f"--preset: unknown preset '{p}' (tiny, demo, paper)")
    batches = [int(b) for b in args.batch.split(",")]
    if args.steps < 0 or (args.steps == 0 and not args.profile):
        sys.exit("--steps must be at least 1 (0 only with --profile)")
    iumad = find_iumad(args.iumad_bin)
    ceiling = sgemm_gflops(torch)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, scan {args.scan}/{args.scan_ref}, "
          f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}, load {os.getloadavg()[0]:.2f}; "
          f"torch.mm 1024² {ceiling:.1f} GFLOP/s; iumad binary: {iumad or 'none'}")
    rows, profiles = [], []
    tmp = tempfile.mkdtemp(prefix="bench_torch.")
    try:
        for preset in presets:
            cfg, yaml = resolve_config(preset, iumad, tmp)
            check_supported(cfg)
            c = derived(cfg)
            torch.manual_seed(0)
            model = build(torch, c, args.scan, args.scan_ref)
            summary = check_against_ours(model, iumad, yaml, tmp, args.no_export_check)
            model.train()
            kw = {} if args.adamw == "default" else {args.adamw: True}
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4, **kw)
            for b in batches:
                inp = make_input(torch, c, b)

                def step():
                    loss = model.loss(model(inp), inp)["total"]
                    opt.zero_grad(set_to_none=True)
                    with torch.autograd.profiler.record_function("iumad::backward"):
                        loss.backward()
                    with torch.autograd.profiler.record_function("iumad::adamw"):
                        opt.step()
                    return loss.detach().item()

                t0 = time.perf_counter()
                step()  # warm-up
                warm = time.perf_counter() - t0
                times = []
                for _ in range(args.steps):
                    t0 = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - t0)
                row = dict(preset=preset, batch=b, impl="pytorch", warmup_seconds=warm,
                           parameters=sum(p.numel() for p in model.parameters()))
                if times:
                    per = sum(times) / len(times)
                    row.update(seconds_per_step=per, samples_per_second=b / per, step_seconds=times,
                               peak_rss_mib=peak_rss_mib())
                    if summary:  # the same FLOP count as ours (iumad's kernel counters), for GFLOP/s
                        flops = summary["flops_train_per_sample"] * b
                        row.update(flops_per_step=flops, gflops=flops / per / 1e9,
                                   ratio_to_sgemm=flops / per / 1e9 / ceiling)
                    print(f"{preset:>8} batch {b:>3}: {per:8.3f} s/step  {b / per:8.2f} samples/s  "
                          f"peak RSS {row['peak_rss_mib']:.0f} MiB  (warm-up {warm:.2f} s; steps "
                          + ", ".join(f"{t:.2f}" for t in times) + ")")
                if args.profile:
                    from torch.profiler import ProfilerActivity, profile
                    with profile(activities=[ProfilerActivity.CPU]) as prof:
                        step()
                    ka = prof.key_averages()
                    head = f"torch.profiler, one step: preset {preset}, batch {b}, {args.threads} threads, scan {args.scan}/{args.scan_ref}"
                    t1 = ka.table(sort_by="self_cpu_time_total", row_limit=args.profile_rows)
                    regions = [e for e in ka if e.key.startswith("iumad::")]
                    t2 = "\n".join(f"  {e.key:<20} {e.cpu_time_total / 1e6:8.3f} s  ({e.count} calls)"
                                   for e in sorted(regions, key=lambda e: -e.cpu_time_total))
                    text = f"{head}\n\nby self CPU time:\n{t1}\nregions (total CPU time, forward regions exclude backward):\n{t2}\n"
                    print(text)
                    profiles.append(text)
                    row["profile_regions_seconds"] = {e.key: e.cpu_time_total / 1e6 for e in regions}
                rows.append(row)
                del inp
            del model, opt
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(bench="step", impl="pytorch", torch_version=torch.__version__, threads=torch.get_num_threads(),
                           sgemm_gflops=ceiling, scan=args.scan, scan_ref=args.scan_ref, adamw=args.adamw,
                           omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "unset"), results=rows), f, indent=2)
    if args.profile_out and profiles:
        with open(args.profile_out, "w") as f:
            f.write("\n".join(profiles))


if __name__ == "__main__":
    main()
