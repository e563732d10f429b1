#!/usr/bin/env python3
"""Golden reference for the whole `tiny` IB-IUMAD model, computed independently in JAX (float64).

Reads the initial parameters that `iumad model export` wrote (so both sides start from the same
weights), gives the zero-initialised condition projections small random values (so the Mamba
conditions are exercised), builds the model of SPEC §6 in JAX, and writes one safetensors file
with the parameters, the inputs, every output, every loss term, the anomaly map and the gradients
of a handful of named parameters: Tests/Fixtures/model/golden_tiny.safetensors.

    swift build --product iumad
    .build/debug/iumad model export --config configs/tiny.yaml --set model.classes=3 --seed 5 --out /tmp/tiny.safetensors
    pip install jax jaxlib   # not needed by the tests, only to regenerate the fixture
    python3 Scripts/make_fixtures_model.py /tmp/tiny.safetensors
"""
import json
import os
import sys

import numpy as np
import jax
import jax.numpy as jnp

from es2d import scan_order
from safetensors_io import read_safetensors, write_safetensors

jax.config.update("jax_enable_x64", True)

# The tiny preset, as ModelConfig.tiny with classes = 3.
CFG = dict(input_size=64, C=192, stride=16, d=32, heads=4, ffn=64, enc=2, dec=2, Cm=16, P=8,
           mheads=2, N=4, ibdim=32, K=3)
CFG["g"] = CFG["input_size"] // CFG["stride"]
CFG["T"] = CFG["g"] ** 2
CFG["G"] = CFG["input_size"] // CFG["P"]
CFG["E"] = 2 * CFG["Cm"]
CFG["R"] = (CFG["Cm"] + 15) // 16
MODS = ["rgb", "depth"]
BATCH = 2


# --- layers ---------------------------------------------------------------------------------
def linear(p, name, x, bias=True):
    y = x @ p[name + ".weight"].T
    return y + p[name + ".bias"] if bias else y


def layer_norm(p, name, x, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps) * p[name + ".weight"] + p[name + ".bias"]


def mha(p, name, q, k, v, heads):
    Q, K, V = linear(p, name + ".q_proj", q), linear(p, name + ".k_proj", k), linear(p, name + ".v_proj", v)
    B, Tq, D = Q.shape
    dh = D // heads
    split = lambda t: t.reshape(t.shape[0], t.shape[1], heads, dh).transpose(0, 2, 1, 3)
    s = split(Q) @ split(K).transpose(0, 1, 3, 2) / np.sqrt(dh)
    o = jax.nn.softmax(s, axis=-1) @ split(V)
    return linear(p, name + ".out_proj", o.transpose(0, 2, 1, 3).reshape(B, Tq, D))


def conv(x, w, b, stride=1, pad=0, groups=1):
    y = jax.lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=groups)
    return y + b[None, :, None, None]


def to_grid(t, g):  # [B, g*g, C] -> [B, C, g, g]
    return t.transpose(0, 2, 1).reshape(t.shape[0], t.shape[2], g, g)


def to_tokens(x):  # [B, C, H, W] -> [B, H*W, C]
    return x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)


# --- MRN ------------------------------------------------------------------------------------
def mrn(p, pre, feats, conds):
    pos = p[pre + ".pos_embed"]
    h = linear(p, pre + ".input_proj", feats)
    for i in range(CFG["enc"]):
        L = f"{pre}.encoder.{i}"
        q = h + pos
        if conds is not None:
            q = q * conds[i]
        h = layer_norm(p, L + ".norm1", h + mha(p, L + ".self_attn", q, h + pos, h, CFG["heads"]))
        f = linear(p, L + ".linear2", jax.nn.relu(linear(p, L + ".linear1", h)))
        h = layer_norm(p, L + ".norm2", h + f)
    memory, prev, recs = h, h, []
    for i in range(CFG["dec"]):
        L = f"{pre}.decoder.{i}"
        q = jnp.broadcast_to(p[L + ".query_embed"], memory.shape)
        t = layer_norm(p, L + ".norm1", q + mha(p, L + ".self_attn", q + pos, memory + pos, memory, CFG["heads"]))
        t = layer_norm(p, L + ".norm2", t + mha(p, L + ".cross_attn", t + pos, prev + pos, prev, CFG["heads"]))
        f = linear(p, L + ".linear2", jax.nn.relu(linear(p, L + ".linear1", t)))
        prev = layer_norm(p, L + ".norm3", t + f)
        recs.append(layer_norm(p, pre + ".decoder_norm", prev))
    return linear(p, pre + ".output_proj", recs[-1]), recs


# --- Mamba decoder --------------------------------------------------------------------------


def s6(p, pre, u):
    R, N = CFG["R"], CFG["N"]
    xdbl = linear(p, pre + ".x_proj", u, bias=False)
    dt, Bm, Cm = xdbl[..., :R], xdbl[..., R:R + N], xdbl[..., R + N:R + 2 * N]
    delta = jax.nn.softplus(linear(p, pre + ".dt_proj", dt))
    A = -jnp.exp(p[pre + ".A_log"])
    h = jnp.zeros((u.shape[0], u.shape[2], N))
    ys = []
    for t in range(u.shape[1]):
        h = jnp.exp(delta[:, t, :, None] * A) * h + (delta[:, t, :] * u[:, t, :])[:, :, None] * Bm[:, t, None, :]
        ys.append((h * Cm[:, t, None, :]).sum(-1) + p[pre + ".D"] * u[:, t, :])
    return jnp.stack(ys, axis=1)


def essm(p, pre, x):
    E, G = CFG["E"], CFG["G"]
    uz = linear(p, pre + ".in_proj", x)
    u, z = uz[..., :E], uz[..., E:]
    u = to_tokens(jax.nn.silu(conv(to_grid(u, G), p[pre + ".conv.weight"], p[pre + ".conv.bias"], pad=1, groups=E)))
    orders = [scan_order(k, G) for k in range(4)]
    ys = jnp.concatenate([s6(p, f"{pre}.s6.{k}", u[:, orders[k], :]) for k in range(4)], axis=1)
    flat = sum(orders, [])
    inv = np.argsort(flat)
    y = ys[:, inv, :]
    return linear(p, pre + ".out_proj", layer_norm(p, pre + ".out_norm", y) * jax.nn.silu(z))


def mamba(p, pre, image):
    G, g, Cm = CFG["G"], CFG["g"], CFG["Cm"]
    x = layer_norm(p, pre + ".patch_norm",
                   to_tokens(conv(image, p[pre + ".patch_embed.weight"], p[pre + ".patch_embed.bias"], stride=CFG["P"])))
    conds = []
    for i in range(CFG["enc"]):
        L = f"{pre}.blocks.{i}"
        local = to_tokens(conv(to_grid(x, G), p[L + ".dwconv.weight"], p[L + ".dwconv.bias"], pad=1, groups=Cm))
        t = layer_norm(p, L + ".norm2", essm(p, L + ".essm", layer_norm(p, L + ".norm1", x)))
        x = mha(p, L + ".attn", t, t, t, CFG["mheads"]) + local
        grid = to_grid(x, G)
        f = G // g
        pooled = to_tokens(grid.reshape(grid.shape[0], Cm, g, f, g, f).mean(axis=(3, 5)))
        conds.append(linear(p, f"{pre}.cond.{i}", pooled) + 1)
    logits = linear(p, pre + ".classifier", layer_norm(p, pre + ".classifier_norm", x.mean(axis=1)))
    return conds, logits


# --- IBFM and loss --------------------------------------------------------------------------
def model(p, inp):
    out = {}
    recs = {}
    for m in MODS:
        conds, out[f"logits.mamba.{m}"] = mamba(p, f"mamba.{m}", inp[f"images.{m}"])
        out[f"reconstruction.{m}"], recs[m] = mrn(p, f"mrn.{m}", inp[f"features.{m}"], conds)
    a, b = max(CFG["dec"] // 2, 1) - 1, CFG["dec"] - 1
    f1 = jnp.concatenate([recs["rgb"][a], recs["depth"][a]], axis=2)
    f2 = jnp.concatenate([recs["rgb"][b], recs["depth"][b]], axis=2)
    fused = layer_norm(p, "ibfm.fusion.norm", f1 + mha(p, "ibfm.fusion.attn", f1, f2, f2, CFG["heads"]))
    fg = linear(p, "ibfm.ib_out", jax.nn.relu(linear(p, "ibfm.ib_proj", fused)))
    out["fused"], out["bottleneck"] = fused, fg
    out["logits.fused"] = linear(p, "heads.fused", fused.mean(axis=1))
    out["logits.bottleneck"] = linear(p, "heads.bottleneck", fg.mean(axis=1))
    return out


def cross_entropy(logits, labels):
    return -(jax.nn.log_softmax(logits)[jnp.arange(len(labels)), labels]).mean()


def losses(p, inp, labels):
    o = model(p, inp)
    t = {}
    for m in MODS:
        t[f"mse_{m}"] = ((o[f"reconstruction.{m}"] - inp[f"features.{m}"]) ** 2).mean()
    for m in MODS:
        t[f"ce_{m}"] = cross_entropy(o[f"logits.mamba.{m}"], labels)
    t["fusion"] = ((inp["features.rgb"] - o["bottleneck"]) ** 2).mean()
    lp, lq = jax.nn.log_softmax(o["logits.fused"]), jax.nn.log_softmax(o["logits.bottleneck"])
    t["ib"] = (jnp.exp(lp) * (lp - lq)).sum(-1).mean() + cross_entropy(o["logits.fused"], labels)
    t["total"] = sum(t[k] for k in ["mse_rgb", "mse_depth", "ce_rgb", "ce_depth", "fusion", "ib"])
    return t, o


def bilinear_align_corners(x, out):
    g = x.shape[-1]
    src = np.arange(out) * (g - 1) / (out - 1)
    lo = np.minimum(np.floor(src).astype(int), g - 1)
    hi = np.minimum(lo + 1, g - 1)
    f = src - lo
    rows = x[:, lo, :] * (1 - f)[None, :, None] + x[:, hi, :] * f[None, :, None]
    return rows[:, :, lo] * (1 - f)[None, None, :] + rows[:, :, hi] * f[None, None, :]


GRAD_PARAMS = ["mrn.rgb.input_proj.weight", "mrn.depth.encoder.1.linear2.weight", "mrn.rgb.decoder.0.query_embed",
               "mrn.depth.pos_embed", "mamba.rgb.cond.0.weight", "mamba.depth.blocks.1.essm.s6.2.dt_proj.weight",
               "mamba.rgb.blocks.0.essm.s6.1.A_log", "mamba.depth.patch_embed.weight", "mamba.rgb.classifier.weight",
               "ibfm.fusion.attn.q_proj.weight", "ibfm.ib_out.weight", "heads.bottleneck.weight"]


def main():
    params = read_safetensors(sys.argv[1])
    rng = np.random.default_rng(5)
    for k in params:
        if ".cond." in k and k.endswith(".weight"):
            params[k] = (rng.standard_normal(params[k].shape) * 0.1).astype(np.float32).astype(np.float64)
    inp = {}
    for m in MODS:
        inp[f"features.{m}"] = rng.standard_normal((BATCH, CFG["T"], CFG["C"])).astype(np.float32).astype(np.float64)
        inp[f"images.{m}"] = rng.standard_normal((BATCH, 3, CFG["input_size"], CFG["input_size"])).astype(np.float32).astype(np.float64)
    labels = np.array([2, 0])

    (terms, outs) = losses(params, inp, labels)
    grads = jax.grad(lambda p: losses(p, inp, labels)[0]["total"])(params)

    token = jnp.sqrt(((outs["bottleneck"] - inp["features.rgb"]) ** 2).sum(-1)).reshape(BATCH, CFG["g"], CFG["g"])
    amap = bilinear_align_corners(np.asarray(token), CFG["input_size"])
    k = CFG["input_size"] // CFG["g"]
    win = np.lib.stride_tricks.sliding_window_view(amap, (k, k), axis=(1, 2)).mean(axis=(-1, -2))
    scores = win.reshape(BATCH, -1).max(axis=1)

    fixture = {f"param/{k}": v for k, v in params.items()}
    fixture.update({f"input/{k}": v for k, v in inp.items()})
    fixture["input/labels"] = labels.astype(np.float64)
    fixture.update({f"out/{k}": np.asarray(v) for k, v in outs.items()})
    fixture.update({f"loss/{k}": np.asarray(v).reshape(1) for k, v in terms.items()})
    fixture.update({f"grad/{k}": np.asarray(grads[k]) for k in GRAD_PARAMS})
    fixture["out/token_map"] = np.asarray(token)
    fixture["out/map"] = amap
    fixture["out/scores"] = scores
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "model", "golden_tiny.safetensors")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    write_safetensors(out, fixture, {"generator": "Scripts/make_fixtures_model.py", "config": json.dumps(CFG), "batch": str(BATCH)})
    print(f"wrote {os.path.normpath(out)} ({os.path.getsize(out)} bytes); total loss {float(terms['total']):.6f}")
    for k, v in terms.items():
        print(f"  {k}: {float(v):.6f}")


if __name__ == "__main__":
    main()
