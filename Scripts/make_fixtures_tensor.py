#!/usr/bin/env python3
"""Reference values for the tensor engine, computed independently with NumPy (float64).

Writes Tests/Fixtures/tensor/reference.json: for each case its inputs, parameters and expected
outputs as {"shape": [...], "data": [...]}. The Swift tests feed the same inputs to the engine
and compare. Run from the repository root: python3 Scripts/make_fixtures_tensor.py
"""
import json
import os

import numpy as np

rng = np.random.default_rng(20261129)


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "data": [float(np.float32(v)) for v in x.ravel()]}


def randn(*shape):
    # Round inputs to float32 first so both sides start from identical values.
    return rng.standard_normal(shape).astype(np.float32).astype(np.float64)


def conv2d(x, w, b, stride, pad, groups):
    """Direct convolution: pad = (top, left, bottom, right)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[2]), (pad[1], pad[3])))
    ho = (h + pad[0] + pad[2] - kh) // stride + 1
    wo = (wd + pad[1] + pad[3] - kw) // stride + 1
    og = o // groups
    y = np.zeros((n, o, ho, wo))
    for oc in range(o):
        g = oc // og
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                y[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3)) + b[oc]
    return y


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def attention(q, k, v, heads):
    b, tq, hd = q.shape
    d = hd // heads
    dv = v.shape[2] // heads
    out = np.zeros((b, tq, heads * dv))
    for bi in range(b):
        for h in range(heads):
            qh = q[bi, :, h * d:(h + 1) * d]
            kh = k[bi, :, h * d:(h + 1) * d]
            vh = v[bi, :, h * dv:(h + 1) * dv]
            p = softmax(qh @ kh.T / np.sqrt(d))
            out[bi, :, h * dv:(h + 1) * dv] = p @ vh
    return out


def bilinear(x, oh, ow, align_corners):
    """PyTorch F.interpolate(mode='bilinear') written out per output pixel."""
    n, c, h, w = x.shape

    def taps(inp, out):
        res = []
        for o in range(out):
            if align_corners:
                src = o * (inp - 1) / (out - 1) if out > 1 else 0.0
            else:
                src = max((o + 0.5) * inp / out - 0.5, 0.0)
            lo = min(int(np.floor(src)), inp - 1)
            hi = min(lo + 1, inp - 1)
            res.append((lo, hi, src - lo))
        return res

    ty, tx = taps(h, oh), taps(w, ow)
    y = np.zeros((n, c, oh, ow))
    for i, (y0, y1, fy) in enumerate(ty):
        for j, (x0, x1, fx) in enumerate(tx):
            y[:, :, i, j] = ((1 - fy) * ((1 - fx) * x[:, :, y0, x0] + fx * x[:, :, y0, x1])
                             + fy * ((1 - fx) * x[:, :, y1, x0] + fx * x[:, :, y1, x1]))
    return y


def adamw_trajectory(w, grads, lr, b1, b2, eps, wd):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        w = w - lr * wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(w.copy())
    return out


def sgd_momentum_trajectory(w, grads, lr, mu, wd):
    buf = None
    out = []
    for g in grads:
        d = g + wd * w
        buf = d.copy() if buf is None else mu * buf + d
        w = w - lr * buf
        out.append(w.copy())
    return out


cases = {}

# conv2d: plain, strided with asymmetric padding, grouped, depthwise.
for name, (n, c, h, w, o, k, stride, pad, groups) in {
    "conv_plain": (2, 3, 7, 6, 4, 3, 1, (1, 1, 1, 1), 1),
    "conv_stride_asym": (1, 4, 9, 8, 6, 3, 2, (0, 0, 1, 1), 1),
    "conv_groups": (2, 4, 6, 6, 6, 3, 1, (1, 1, 1, 1), 2),
    "conv_depthwise": (2, 5, 7, 7, 5, 3, 2, (1, 1, 1, 1), 5),
    "conv_pointwise": (2, 6, 4, 5, 3, 1, 1, (0, 0, 0, 0), 1),
}.items():
    x = randn(n, c, h, w)
    wt = randn(o, c // groups, k, k) * 0.5
    b = randn(o)
    cases[name] = {"x": arr(x), "weight": arr(wt), "bias": arr(b), "stride": stride,
                   "padding": list(pad), "groups": groups, "y": arr(conv2d(x, wt, b, stride, pad, groups))}

x = randn(3, 5, 11)
cases["softmax"] = {"x": arr(x * 3), "y": arr(softmax(x * 3))}

x, w, b = randn(4, 3, 16), randn(16), randn(16)
cases["layer_norm"] = {"x": arr(x * 2 + 1), "weight": arr(w), "bias": arr(b), "y": arr(layer_norm(x * 2 + 1, w, b))}

q, k, v = randn(2, 5, 12), randn(2, 7, 12), randn(2, 7, 8)
cases["attention"] = {"q": arr(q), "k": arr(k), "v": arr(v), "heads": 4, "y": arr(attention(q, k, v, 4))}

x = randn(2, 3, 5, 7)
for name, (oh, ow, ac) in {
    "resize_up": (9, 12, False), "resize_down": (3, 4, False),
    "resize_up_align": (9, 12, True), "resize_down_align": (3, 4, True),
}.items():
    cases[name] = {"x": arr(x), "height": oh, "width": ow, "align_corners": ac, "y": arr(bilinear(x, oh, ow, ac))}

w0 = randn(6)
grads = [randn(6) for _ in range(5)]
cases["adamw"] = {"w0": arr(w0), "grads": [arr(g) for g in grads], "lr": 0.01, "betas": [0.9, 0.999],
                  "eps": 1e-8, "weight_decay": 0.1,
                  "trajectory": [arr(t) for t in adamw_trajectory(w0, grads, 0.01, 0.9, 0.999, 1e-8, 0.1)]}
cases["sgd_momentum"] = {"w0": arr(w0), "grads": [arr(g) for g in grads], "lr": 0.1, "momentum": 0.9,
                         "weight_decay": 0.01,
                         "trajectory": [arr(t) for t in sgd_momentum_trajectory(w0, grads, 0.1, 0.9, 0.01)]}

a = randn(5, 3)
cases["singular_values"] = {"x": arr(a), "y": arr(np.linalg.svd(a, compute_uv=False))}

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "tensor", "reference.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump(cases, f, separators=(",", ":"))
print(f"wrote {os.path.normpath(out)} ({os.path.getsize(out)} bytes, {len(cases)} cases)")
