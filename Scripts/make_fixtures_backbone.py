#!/usr/bin/env python3
"""Writes Tests/Fixtures/backbone/: a NumPy (float64) reference of EfficientNet-Lite0 and small
PyTorch-format checkpoints for the converter tests, all without torch.

1. Golden features. Two deterministic 64x64 images (already ImageNet-normalised, CHW) go through
   an independent Lite0 forward written here from the efficientnet-lite-pytorch code: unfolded
   batch norm, TF-"same" padding, ReLU6, blocks from the lite block strings. Written per image k:
   input_k.npy [3,64,64], stage{1..4}_k.npy (strides 2, 4, 8, 16), neck_area_k.npy and
   neck_bilinear_k.npy [T=16, 192] (area = adaptive average pooling; bilinear align_corners).
2. Converter inputs, pickled byte-for-byte the way torch.save does (protocol 2, persistent ids
   for storages): ckpt_legacy.pth (legacy format, lukemelas names, a transposed view and a half
   storage), ckpt_zip.pth (zip format, timm names), expected_legacy.json / expected_zip.json
   (canonical name -> shape, values), bad_opcode.pth (EXT1 opcode), bad_global.pth (os.system).

usage: make_fixtures_backbone.py WEIGHTS.safetensors   (from Scripts/fetch_weights.sh)
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

from safetensors_io import read_safetensors

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "backbone")


# MARK: reference Lite0 forward, float64, NCHW with N = 1 dropped (C, H, W)

LITE0_BLOCKS = ["r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r2_k5_s22_e6_i24_o40",
                "r3_k3_s22_e6_i40_o80", "r3_k5_s11_e6_i80_o112", "r4_k5_s22_e6_i112_o192",
                "r1_k3_s11_e6_i192_o320"]
BN_EPS = 1e-3


def same_pad(x, k, s):
    """TF 'same': output ceil(i/s); the odd extra pixel of padding goes bottom/right."""
    _, h, w = x.shape
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))


def conv(x, w, s, depthwise=False):
    k = w.shape[-1]
    xp = same_pad(x, k, s)
    _, hp, wp = xp.shape
    ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
    # taps[c, i, j, ho, wo] = xp[c, i + s*ho, j + s*wo]
    taps = np.empty((xp.shape[0], k, k, ho, wo))
    for i in range(k):
        for j in range(k):
            taps[:, i, j] = xp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
    if depthwise:
        return np.einsum("cijhw,cij->chw", taps, w[:, 0])
    return np.einsum("cijhw,ocij->ohw", taps, w)


def bn(x, p, name):
    g, b = p[name + ".weight"], p[name + ".bias"]
    m, v = p[name + ".running_mean"], p[name + ".running_var"]
    return (x - m[:, None, None]) / np.sqrt(v[:, None, None] + BN_EPS) * g[:, None, None] + b[:, None, None]


def relu6(x):
    return np.clip(x, 0, 6)


def lite0_stages(x, p):
    """Returns the outputs of the last block at strides 2, 4, 8 and 16."""
    x = relu6(bn(conv(x, p["_conv_stem.weight"], 2), p, "_bn0"))
    idx, stride, feats = 0, 2, {}
    for stage in LITE0_BLOCKS:
        o = dict((t[0], t[1:]) for t in stage.split("_"))
        for r in range(int(o["r"])):
            s = int(o["s"][0]) if r == 0 else 1
            q = f"_blocks.{idx}."
            inp = x
            if int(o["e"]) != 1:
                x = relu6(bn(conv(x, p[q + "_expand_conv.weight"], 1), p, q + "_bn0"))
            x = relu6(bn(conv(x, p[q + "_depthwise_conv.weight"], s, depthwise=True), p, q + "_bn1"))
            x = bn(conv(x, p[q + "_project_conv.weight"], 1), p, q + "_bn2")
            if s == 1 and inp.shape[0] == x.shape[0]:
                x = x + inp
            idx += 1
        stride *= int(o["s"][0])
        if stride in (2, 4, 8, 16):
            feats[stride] = x  # a later stage at the same stride replaces the earlier one
    return [feats[s] for s in (2, 4, 8, 16)]


def adaptive_avg(x, oh, ow):
    c, h, w = x.shape
    out = np.empty((c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, h1 = i * h // oh, -(-(i + 1) * h // oh)
            w0, w1 = j * w // ow, -(-(j + 1) * w // ow)
            out[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return out


def bilinear_align_corners(x, oh, ow):
    c, h, w = x.shape

    def taps(n_in, n_out):
        src = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0)
        lo = np.minimum(np.floor(src).astype(int), n_in - 1)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    r0, r1, fr = taps(h, oh)
    c0, c1, fc = taps(w, ow)
    rows = x[:, r0] * (1 - fr)[None, :, None] + x[:, r1] * fr[None, :, None]
    return rows[:, :, c0] * (1 - fc)[None, None, :] + rows[:, :, c1] * fc[None, None, :]


def neck(stages, size, resize):
    h = size // 16
    maps = [s if s.shape[1] == h else resize(s, h, h) for s in stages]
    cat = np.concatenate(maps, axis=0)           # [C_in, h, w]
    return np.ascontiguousarray(cat.reshape(cat.shape[0], -1).T)  # [T, C_in], C order


def fixture_images(size):
    """Two deterministic patterns (gradients, rings, a checkerboard), ImageNet-normalised."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    r = np.hypot(x - 0.4, y - 0.55)
    a = np.stack([x, 0.5 + 0.5 * np.sin(12 * r), y * (1 - x)])
    checker = ((np.floor(x * 8) + np.floor(y * 8)) % 2)
    b = np.stack([checker * 0.8 + 0.1, 0.5 + 0.4 * np.cos(9 * x + 5 * y), np.clip(1.5 - 2 * r, 0, 1)])
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    return [(im - mean) / std for im in (a, b)]


def write_golden(weights_path, size=64):
    p = read_safetensors(weights_path)
    for k, img in enumerate(fixture_images(size)):
        img32 = img.astype(np.float32)
        np.save(os.path.join(OUT, f"input_{k}.npy"), img32)
        stages = lite0_stages(img32.astype(np.float64), p)  # reference sees exactly the fp32 input
        for i, s in enumerate(stages):
            np.save(os.path.join(OUT, f"stage{i + 1}_{k}.npy"), s.astype(np.float32))
        np.save(os.path.join(OUT, f"neck_area_{k}.npy"), neck(stages, size, adaptive_avg).astype(np.float32))
        np.save(os.path.join(OUT, f"neck_bilinear_{k}.npy"),
                neck(stages, size, bilinear_align_corners).astype(np.float32))
        print(f"image {k}: stages {[s.shape for s in stages]}")


# MARK: torch.save byte layout, without torch
#
# pickle writes a global as GLOBAL 'module name' after checking that sys.modules[module].name is
# the object, so stand-in modules named torch / torch._utils hold the objects to pickle by name.

def _stand_in_modules():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("stand-in, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ("FloatStorage", "HalfStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
    torch._utils = utils
    return torch, utils


TORCH, TORCH_UTILS = _stand_in_modules()
STORAGE_CLASS = {np.dtype("float32"): "FloatStorage", np.dtype("float16"): "HalfStorage"}


class Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class FakeTensor:
    """Pickles as torch's Tensor.__reduce_ex__ does: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (TORCH_UTILS._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            cls = getattr(TORCH, STORAGE_CLASS[obj.array.dtype])
            return ("storage", cls, obj.key, "cpu", obj.array.size)
        return None


def dumps_torch(obj):
    saved = {m: sys.modules.get(m) for m in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = TORCH, TORCH_UTILS
    try:
        buf = io.BytesIO()
        TorchPickler(buf, protocol=2).dump(obj)
        return buf.getvalue()
    finally:
        for m, v in saved.items():
            if v is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = v


def state_dict(named, storages):
    """named: list of (name, FakeTensor); returns an OrderedDict as torch's state_dict()."""
    sd = collections.OrderedDict(named)
    return sd


def write_legacy(path, sd, storages, main_pickle=None):
    out = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001,
                {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(obj, out, protocol=2)
    out.write(main_pickle if main_pickle is not None else dumps_torch(sd))
    pickle.dump([s.key for s in storages], out, protocol=2)
    for s in storages:
        out.write(struct.pack("<q", s.array.size))
        out.write(s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())
    with open(path, "wb") as f:
        f.write(out.getvalue())


def write_zip(path, sd, storages):
    def put(z, name, data):  # fixed timestamps: the fixture is byte-for-byte reproducible
        z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        put(z, "ckpt_zip/data.pkl", dumps_torch(sd))
        put(z, "ckpt_zip/byteorder", "little")
        for s in storages:
            put(z, f"ckpt_zip/data/{s.key}", s.array.tobytes())
        put(z, "ckpt_zip/version", "3\n")


def expected(path, named_arrays):
    with open(path, "w") as f:
        json.dump({k: {"shape": list(v.shape), "values": [float(x) for x in v.astype(np.float32).ravel()]}
                   for k, v in named_arrays.items()}, f, indent=0, sort_keys=True)


def write_converter_fixtures():
    rng = np.random.default_rng(4)
    # Legacy, lukemelas names: a 2x3 weight stored transposed (stride (1, 2) over a 3x2 storage),
    # two tensors sharing one storage at different offsets, a half-precision tensor, and a
    # num_batches_tracked entry the converter must drop.
    base = rng.standard_normal(6).astype(np.float32)
    shared = Storage("0", np.concatenate([base, rng.standard_normal(4).astype(np.float32)]))
    half = Storage("1", rng.standard_normal(3).astype(np.float16))
    count = Storage("2", np.array([7], dtype=np.float32))
    sd = state_dict([
        ("_conv_stem.weight", FakeTensor(shared, 0, (2, 3), (1, 2))),
        ("_bn0.weight", FakeTensor(shared, 6, (4,), (1,))),
        ("_bn0.bias", FakeTensor(half, 0, (3,), (1,))),
        ("_bn0.num_batches_tracked", FakeTensor(count, 0, (), ())),
    ], None)
    write_legacy(os.path.join(OUT, "ckpt_legacy.pth"), sd, [shared, half, count])
    expected(os.path.join(OUT, "expected_legacy.json"), {
        "_conv_stem.weight": base.reshape(3, 2).T,
        "_bn0.weight": shared.array[6:10],
        "_bn0.bias": half.array.astype(np.float32),
    })
    # Zip, timm names (wrapped in {"state_dict": ...} as training scripts save it).
    arrays = collections.OrderedDict([
        ("conv_stem.weight", rng.standard_normal((4, 3, 3, 3))),
        ("bn1.running_var", rng.uniform(0.5, 1.5, 4)),
        ("blocks.0.0.conv_dw.weight", rng.standard_normal((4, 1, 3, 3))),
        ("blocks.0.0.conv_pw.weight", rng.standard_normal((2, 4, 1, 1))),
        ("blocks.1.0.conv_pw.weight", rng.standard_normal((6, 2, 1, 1))),
        ("blocks.1.0.bn3.bias", rng.standard_normal(3)),
        ("blocks.1.0.conv_pwl.weight", rng.standard_normal((3, 6, 1, 1))),
        ("blocks.1.0.se.conv_reduce.bias", rng.standard_normal(1)),
        ("blocks.1.1.bn1.weight", rng.standard_normal(6)),
        ("blocks.1.1.conv_pwl.weight", rng.standard_normal((3, 6, 1, 1))),
        ("bn2.weight", rng.standard_normal(5)),
    ])
    storages, named = [], []
    for i, (k, v) in enumerate(arrays.items()):
        s = Storage(str(i), v.astype(np.float32).ravel())
        storages.append(s)
        strides = tuple(int(np.prod(v.shape[d + 1:])) for d in range(v.ndim))
        named.append((k, FakeTensor(s, 0, v.shape, strides)))
    write_zip(os.path.join(OUT, "ckpt_zip.pth"), {"state_dict": state_dict(named, storages)}, storages)
    canon = {"conv_stem.weight": "_conv_stem.weight", "bn1.running_var": "_bn0.running_var",
             "blocks.0.0.conv_dw.weight": "_blocks.0._depthwise_conv.weight",
             "blocks.0.0.conv_pw.weight": "_blocks.0._project_conv.weight",
             "blocks.1.0.conv_pw.weight": "_blocks.1._expand_conv.weight",
             "blocks.1.0.bn3.bias": "_blocks.1._bn2.bias",
             "blocks.1.0.conv_pwl.weight": "_blocks.1._project_conv.weight",
             "blocks.1.0.se.conv_reduce.bias": "_blocks.1._se_reduce.bias",
             "blocks.1.1.bn1.weight": "_blocks.2._bn0.weight",
             "blocks.1.1.conv_pwl.weight": "_blocks.2._project_conv.weight",
             "bn2.weight": "_bn1.weight"}
    expected(os.path.join(OUT, "expected_zip.json"), {canon[k]: v for k, v in arrays.items()})
    # Refused inputs: an EXT1 opcode (extension registry: arbitrary objects) and os.system.
    write_legacy(os.path.join(OUT, "bad_opcode.pth"), None, [], main_pickle=b"\x80\x02\x82\x01.")
    write_legacy(os.path.join(OUT, "bad_global.pth"), None, [],
                 main_pickle=b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    os.makedirs(OUT, exist_ok=True)
    write_golden(sys.argv[1])
    write_converter_fixtures()


if __name__ == "__main__":
    main()
