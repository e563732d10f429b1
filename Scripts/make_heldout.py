#!/usr/bin/env python3
"""make_heldout.py: an independent, held-out synthetic RGB + depth anomaly-detection dataset in
the real MVTec 3D-AD layout.

Why it exists
    `iumad synth` (Sources/Datasets/Synthetic) is the project's own generator, and models and
    settings are developed against it. Numbers measured on data from the generator one tunes on
    say little about quality, so this script is a second, deliberately *different* generator:
    other object kinds (textured, curved, hollow, elongated), other textures, a pinhole camera
    instead of an orthographic one, per-sample texture variation, specular lighting, scanner
    holes, and seven defect kinds of widely varying size (thin scratches and cracks, ragged
    contamination, holes, depth-only bumps, missing chunks, combinations). It is an independent
    check on quality only: never train on it, never tune on it.

Dependencies
    numpy only. PNG (zlib) and TIFF (uncompressed, striped, contiguous float32 x 3) are written and
    read by the code below; no Pillow or tifffile.

Usage
    python3 Scripts/make_heldout.py --out ROOT [--classes 5] [--train 24] [--validation 4]
        [--test-good 10] [--test-defect 12] [--size 128] [--seed 0] [--sheet SHEET.png]
    python3 Scripts/make_heldout.py --check ROOT [--sheet SHEET.png]

Output (MVTec 3D-AD layout; NNN zero-padded from 000)
    ROOT/<class>/train/good/{rgb/NNN.png, xyz/NNN.tiff}
    ROOT/<class>/validation/good/{rgb/NNN.png, xyz/NNN.tiff}
    ROOT/<class>/test/<good|kind>/{rgb/NNN.png, xyz/NNN.tiff, gt/NNN.png}
    ROOT/heldout.json   generator, version, arguments, classes, per-class kinds, counts, defects
  rgb: 8-bit RGB PNG. xyz: float32 x, y, z in metres (pinhole camera ~0.5 m above a slightly
  tilted table plane; z is the distance); 0 where the "scanner" has no point (a few background
  holes, some steep silhouette pixels). gt: 8-bit grey PNG, nonzero = defect (255; in `combined`
  the second defect is 254, like the real data's per-type ids); all zero for `good`.

Classes (fixed order; --classes K takes the first K; the first five already use all kinds)
    cookie    baked disc, lumpy flat top, darker rim, coloured sprinkles (raised)
    nut       hexagon with a through hole, chamfered corners, machined steel, specular
    leaf      pointed leaf with stem, midrib and side veins, curled edges
    rope      thick bent band, twisted strands with a coloured tracer, round cross-section
    tile      rounded-rectangle woven (basket-weave) tile with a bevelled edge
    donut     torus with a wavy, glossy glaze of graded colour
    fruit     sphere-like dome with a colour blush, lenticel speckles, stem dimple
    canister  cylinder seen from above: rounded rim, recessed brushed lid, groove, printed ring
    capsule   two-colour glossy pill (stadium), seam groove
    plank     wooden board with grain and knots, bevelled edges

Defect kinds (each class uses 3-5 of them; gt marks exactly the changed pixels)
    scratch        thin bright or dark curve, RGB only; length 10-35 % of the object
    crack          thin random-walk polyline: RGB darkening and a narrow depth groove
    contamination  ragged blob of a foreign colour/texture, RGB only; radius 1.5-8 % of the side
    hole           elliptic pit: depth drops sharply, dark interior; radius 1.5-5 %
    bump           raised cap in depth only (RGB rendered from the un-bumped surface); 2.5-8 %
    cut            missing chunk at the object's edge: background plane and colour; 3-8 %
    combined       two different kinds of the class in one image

Determinism
    Every sample draws from its own numpy Generators seeded from (seed, class, split/kind,
    index), one stream for the object, pose, lighting and noise and another for the defect, so
    output does not depend on --classes, on the other counts, or on order.
"""
import argparse
import ctypes
import ctypes.util
import json
import math
import os
import struct
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np

NAME = "iumad-heldout"
VERSION = "1.0"
FOV_M = 0.15    # field of view across the image at the nominal distance, metres
Z0_M = 0.50     # nominal camera-to-table distance, metres

# ---------------------------------------------------------------------------------------------
# PNG and TIFF, with zlib and struct only
# ---------------------------------------------------------------------------------------------


def write_png(path, img):
    """8-bit grey (H, W) or RGB (H, W, 3) PNG, every row with the Sub filter."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    flat = img.reshape(h, w * ch).astype(np.int16)
    sub = flat.copy()
    sub[:, ch:] -= flat[:, :-ch]
    raw = np.empty((h, 1 + w * ch), np.uint8)
    raw[:, 0] = 1
    raw[:, 1:] = (sub & 0xFF).astype(np.uint8)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, {1: 0, 3: 2}[ch], 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
                + chunk(b"IEND", b""))


def read_png(path):
    """8-bit, non-interlaced grey/RGB/RGBA PNG -> uint8 (H, W) or (H, W, C); all five filters."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError(f"{path}: bad CRC in {kind!r}")
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    if depth != 8 or interlace:
        raise ValueError(f"{path}: only 8-bit non-interlaced PNGs are read here")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, 1 + w * ch)
    out = np.zeros((h, w * ch), np.uint8)
    prev = np.zeros(w * ch, np.int32)
    for y in range(h):
        ftype, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 1:
            cur = np.cumsum(line.reshape(w, ch), axis=0).reshape(-1) & 0xFF
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        else:  # Average / Paeth: byte by byte
            cur = np.zeros_like(line)
            for i in range(w * ch):
                a = cur[i - ch] if i >= ch else 0
                b = prev[i]
                c = prev[i - ch] if i >= ch else 0
                if ftype == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (line[i] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(h, w) if ch == 1 else out.reshape(h, w, ch)


def write_tiff(path, xyz):
    """(H, W, 3) float32 as a baseline little-endian TIFF: uncompressed, striped, contiguous
    (PlanarConfiguration 1), SamplesPerPixel 3, BitsPerSample 32, SampleFormat 3 (IEEE float)."""
    xyz = np.ascontiguousarray(xyz, dtype="<f4")
    h, w, spp = xyz.shape
    row_bytes = w * spp * 4
    rows_per_strip = max(1, 8192 // row_bytes)
    strips = [xyz[r:r + rows_per_strip].tobytes() for r in range(0, h, rows_per_strip)]
    n = len(strips)
    tags = 14
    ifd_size = 2 + 12 * tags + 4
    extra = 8  # header
    ifd_at = extra
    bps_at = ifd_at + ifd_size                # 3 SHORT
    fmt_at = bps_at + 6                       # 3 SHORT
    xres_at = fmt_at + 6                      # RATIONAL
    yres_at = xres_at + 8
    offs_at = yres_at + 8                     # n LONG
    cnts_at = offs_at + 4 * n                 # n LONG
    data_at = cnts_at + 4 * n
    data_at += data_at % 2
    offsets, at = [], data_at
    for s in strips:
        offsets.append(at)
        at += len(s)

    def entry(tag, typ, count, value):
        if typ == 3 and count == 1:
            return struct.pack("<HHIHH", tag, typ, count, value, 0)
        return struct.pack("<HHII", tag, typ, count, value)

    entries = [
        entry(256, 4, 1, w), entry(257, 4, 1, h), entry(258, 3, 3, bps_at), entry(259, 3, 1, 1),
        entry(262, 3, 1, 2),
        entry(273, 4, n, offs_at) if n > 1 else entry(273, 4, 1, offsets[0]),
        entry(277, 3, 1, spp), entry(278, 4, 1, rows_per_strip),
        entry(279, 4, n, cnts_at) if n > 1 else entry(279, 4, 1, len(strips[0])),
        entry(282, 5, 1, xres_at), entry(283, 5, 1, yres_at), entry(284, 3, 1, 1), entry(296, 3, 1, 1),
        entry(339, 3, 3, fmt_at),
    ]
    assert len(entries) == tags
    head = b"II" + struct.pack("<HI", 42, ifd_at)
    ifd = struct.pack("<H", tags) + b"".join(entries) + struct.pack("<I", 0)
    blob = (head + ifd + struct.pack("<3H", 32, 32, 32) + struct.pack("<3H", 3, 3, 3)
            + struct.pack("<II", 1, 1) + struct.pack("<II", 1, 1)
            + struct.pack(f"<{n}I", *offsets) + struct.pack(f"<{n}I", *[len(s) for s in strips]))
    blob += b"\0" * (data_at - len(blob))
    with open(path, "wb") as f:
        f.write(blob + b"".join(strips))


def read_tiff(path):
    """Uncompressed striped float32 TIFF -> ((H, W, C) float32, {tag: values})."""
    with open(path, "rb") as f:
        data = f.read()
    e = {b"II": "<", b"MM": ">"}[data[:2]]
    if struct.unpack(e + "H", data[2:4])[0] != 42:
        raise ValueError(f"{path}: not a classic TIFF")
    ifd = struct.unpack(e + "I", data[4:8])[0]
    count = struct.unpack(e + "H", data[ifd:ifd + 2])[0]
    sizes = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8)}
    tags = {}
    for k in range(count):
        tag, typ, cnt = struct.unpack(e + "HHI", data[ifd + 2 + 12 * k:ifd + 10 + 12 * k])
        fmt, size = sizes[typ]
        at = ifd + 10 + 12 * k
        if size * cnt > 4:
            at = struct.unpack(e + "I", data[at:at + 4])[0]
        vals = struct.unpack(e + fmt * cnt, data[at:at + size * cnt])
        tags[tag] = list(vals)
    w, h = tags[256][0], tags[257][0]
    spp = tags.get(277, [1])[0]
    if tags.get(259, [1])[0] != 1 or tags.get(284, [1])[0] != 1:
        raise ValueError(f"{path}: only uncompressed contiguous TIFFs are read here")
    if tags.get(258, [1])[0] != 32 or tags.get(339, [1])[0] != 3:
        raise ValueError(f"{path}: samples are not 32-bit float")
    body = b"".join(data[o:o + c] for o, c in zip(tags[273], tags[279]))
    arr = np.frombuffer(body, e + "f4", count=w * h * spp).reshape(h, w, spp).astype(np.float32)
    return arr, tags


# ---------------------------------------------------------------------------------------------
# Procedural helpers
# ---------------------------------------------------------------------------------------------


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def value_noise(rng, x, y):
    """Smooth value noise in [0, 1] on a unit lattice; x and y are already in lattice units."""
    i0, j0 = int(np.floor(x.min())), int(np.floor(y.min()))
    ni, nj = int(np.floor(x.max())) - i0 + 2, int(np.floor(y.max())) - j0 + 2
    lat = rng.random((nj + 1, ni + 1))
    gx, gy = x - i0, y - j0
    i, j = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    tx, ty = gx - i, gy - j
    sx, sy = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
    a, b = lat[j, i], lat[j, i + 1]
    c, d = lat[j + 1, i], lat[j + 1, i + 1]
    return (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy


def fbm(rng, x, y, freq, octaves=4):
    """Fractal value noise, mean about 0.5, in [0, 1]."""
    total, amp, norm = 0.0, 1.0, 0.0
    for k in range(octaves):
        total = total + amp * value_noise(rng, x * freq * 2 ** k, y * freq * 2 ** k)
        norm += amp
        amp *= 0.5
    return total / norm


def wobble(rng, theta, amp, kmin=2, kmax=6):
    """A random smooth periodic function of an angle, amplitude about `amp`."""
    out = np.zeros_like(theta)
    for k in range(kmin, kmax + 1):
        out += rng.uniform(-1, 1) * amp / math.sqrt(k - kmin + 1) * np.sin(k * theta + rng.uniform(0, 2 * math.pi))
    return out


def capsule_distance(x, y, ax, ay, bx, by):
    """Distance from points (x, y) to the segment a-b."""
    ex, ey = bx - ax, by - ay
    t = np.clip(((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey + 1e-12), 0, 1)
    return np.hypot(x - ax - t * ex, y - ay - t * ey)


def polyline_distance(x, y, pts):
    d = np.full(x.shape, np.inf)
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
        d = np.minimum(d, capsule_distance(x, y, ax, ay, bx, by))
    return d


def edge_distance(mask, maxd):
    """Per object pixel, its 4-neighbour erosion depth: 1 on the outline, 0 outside (the image
    border counts as outside)."""
    d = np.zeros(mask.shape, np.int32)
    cur = mask.copy()
    for _ in range(maxd):
        if not cur.any():
            break
        d += cur
        nxt = cur.copy()
        nxt[1:] &= cur[:-1]
        nxt[:-1] &= cur[1:]
        nxt[:, 1:] &= cur[:, :-1]
        nxt[:, :-1] &= cur[:, 1:]
        nxt[0, :] = nxt[-1, :] = nxt[:, 0] = nxt[:, -1] = False
        cur = nxt
    return d


def loguniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def rgb(*c):
    return np.array(c, dtype=np.float64)


def mix(a, b, t):
    """Blend colour fields/colours a -> b by weight t (broadcast over the last axis)."""
    t = np.asarray(t)[..., None]
    return a * (1 - t) + b * t


# ---------------------------------------------------------------------------------------------
# Scene: the object's pose frame, its geometry and albedo
# ---------------------------------------------------------------------------------------------


class Frame:
    """The pixel grid and the object's pose. U, V: pixel centres in pixels; X, Y: the object's own
    frame in units of its radius R (pixels); unit_m: metres per object unit."""

    def __init__(self, size, cx, cy, radius, angle, unit_m):
        v, u = np.mgrid[0:size, 0:size].astype(np.float64)
        self.size, self.R, self.unit_m = size, radius, unit_m
        self.U, self.V = u + 0.5, v + 0.5
        px, py = (self.U - cx) / radius, (self.V - cy) / radius
        c, s = math.cos(angle), math.sin(angle)
        self.X, self.Y = c * px + s * py, -s * px + c * py
        self.r = np.hypot(self.X, self.Y)
        self.th = np.arctan2(self.Y, self.X)


@dataclass
class Part:
    """What a class builder returns: object mask, height (m), albedo, specular strength and
    exponent (scalars or per-pixel)."""
    obj: np.ndarray
    height: np.ndarray
    albedo: np.ndarray
    spec: object = 0.05
    shin: object = 10.0


@dataclass
class Scene:
    obj: np.ndarray        # bool
    height: np.ndarray     # metres above the table: the geometry the scanner sees
    shade: np.ndarray      # metres: the surface the RGB is shaded from (differs only for `bump`)
    albedo: np.ndarray     # (S, S, 3)
    spec: np.ndarray
    shin: np.ndarray
    bg_albedo: np.ndarray  # the table, everywhere
    bg_spec: float

    def copy(self):
        return Scene(self.obj.copy(), self.height.copy(), self.shade.copy(), self.albedo.copy(), self.spec.copy(),
                     self.shin.copy(), self.bg_albedo, self.bg_spec)


# --- class builders: one per object kind; each draws its per-sample variation from rng ---------


def build_cookie(f, rng):
    edge = 1 + wobble(rng, f.th, 0.035, 3, 8)
    s = f.r / edge
    obj = s < 1
    shoulder = smoothstep(0, 0.22, 1 - s)
    lumps = fbm(rng, f.X, f.Y, 3.0, 3) - 0.5
    height = 0.007 * (0.35 + 0.65 * shoulder) * (1 + 0.25 * lumps)
    base = rgb(0.80, 0.58, 0.32) * rng.uniform(0.93, 1.05)
    albedo = mix(base[None, None, :] * (0.82 + 0.36 * fbm(rng, f.X, f.Y, 6.0, 3))[..., None],
                 rgb(0.52, 0.31, 0.14), 0.8 * (1 - shoulder))
    pores = value_noise(rng, f.X * 22, f.Y * 22) > 0.86
    albedo[pores] *= 0.72
    colours = [rgb(0.95, 0.45, 0.65), rgb(0.25, 0.45, 0.90), rgb(0.98, 0.85, 0.20), rgb(0.95, 0.95, 0.92),
               rgb(0.35, 0.80, 0.40)]
    for _ in range(int(rng.integers(22, 40))):
        rad, ang = 0.8 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        sx, sy, phi = rad * math.cos(ang), rad * math.sin(ang), rng.uniform(0, math.pi)
        dx, dy = 0.075 * math.cos(phi), 0.075 * math.sin(phi)
        m = (capsule_distance(f.X, f.Y, sx - dx, sy - dy, sx + dx, sy + dy) < 0.026) & obj
        albedo[m] = colours[int(rng.integers(len(colours)))]
        height = np.where(m, height + 0.0007, height)
    return Part(obj, height, albedo, 0.05, 8.0)


def hex_distance(x, y):
    return np.maximum.reduce([np.abs(x * math.cos(a) + y * math.sin(a)) for a in (0, math.pi / 3, 2 * math.pi / 3)])


def build_nut(f, rng):
    hole = 0.42
    obj = (hex_distance(f.X, f.Y) < 0.9) & (f.r > hole)
    outer = np.clip((1.06 - f.r) / 0.14, 0.45, 1.0)                 # conical chamfer at the corners
    inner = np.clip(0.6 + 0.4 * (f.r - hole) / 0.08, 0.6, 1.0)      # countersunk bore
    height = 0.009 * np.minimum(outer, inner)
    phase = rng.uniform(0, 2 * math.pi)
    rings = 0.93 + 0.07 * np.cos(2 * math.pi * 28 * f.r + phase)
    base = rgb(0.60, 0.61, 0.64) * rng.uniform(0.95, 1.05)
    albedo = base * (rings * (0.9 + 0.2 * fbm(rng, f.X, f.Y, 5.0, 3)))[..., None]
    albedo *= np.where((outer < 1) | (inner < 1), 0.85, 1.0)[..., None]
    return Part(obj, height, albedo, 0.35, 30.0)


def build_leaf(f, rng):
    x, y = f.X, f.Y
    width = 0.45 * np.clip(1 - x * x, 0, None) ** 0.8 * (1 - 0.25 * x)
    blade = (np.abs(x) < 1) & (np.abs(y) < width)
    stem = (x < -0.95) & (x > -1.15) & (np.abs(y + 0.01 * (x + 0.95) * 10) < 0.028)
    obj = blade | stem
    t = np.where(blade, y / np.maximum(width, 1e-6), 0)
    curl = rng.uniform(0.0015, 0.003)
    height = 0.0012 + curl * t ** 2 + 0.001 * np.clip(1 - x * x, 0, None)
    height += 0.0006 * np.exp(-(y / 0.03) ** 2)
    veins = np.abs(((x + 0.9 * np.abs(y)) * 7) % 1 - 0.5) > 0.44
    height = np.where(blade & veins & (np.abs(t) < 0.9), height - 0.0002, height)
    height = np.where(stem, 0.0015, height)
    young, tip = rgb(0.22, 0.50, 0.16), rgb(0.45, 0.68, 0.22)
    albedo = mix(young[None, None, :] * np.ones_like(x)[..., None], tip, np.clip((x + 1) / 2, 0, 1))
    albedo = mix(albedo, rgb(0.75, 0.70, 0.22), rng.uniform(0, 0.3))   # some leaves yellower
    albedo *= (0.85 + 0.3 * fbm(rng, x, y, 5.0, 3))[..., None]
    albedo = np.where((blade & veins & (np.abs(t) < 0.9))[..., None], mix(albedo, rgb(0.70, 0.80, 0.45), 0.45), albedo)
    albedo = np.where(((np.abs(y) < 0.022) & blade)[..., None] | stem[..., None], rgb(0.68, 0.78, 0.42), albedo)
    return Part(obj, height, albedo, 0.15, 15.0)


def build_rope(f, rng):
    k = rng.uniform(0.15, 0.45) * (1 if rng.random() < 0.5 else -1)
    rc = 1 / k
    dx, dy = f.X, f.Y - rc
    rho = np.hypot(dx, dy)
    t = (rho - abs(rc)) * np.sign(rc) * -1             # across the band
    s = np.arctan2(dx, -dy * np.sign(rc)) * abs(rc)    # along the band
    w = 0.2
    ends = 1.0 + 0.04 * (value_noise(rng, t * 30, np.zeros_like(t)) - 0.5)
    obj = (np.abs(t) < w) & (np.abs(s) < ends)
    across = np.clip(1 - (t / w) ** 2, 0, 1)
    g = (s * 4.0 + t * 3.0) % 1.0
    groove = np.exp(-(np.minimum(g, 1 - g) / 0.08) ** 2)
    height = 0.9 * w * f.unit_m * np.sqrt(across) * (1 - 0.12 * groove)
    strand = np.floor(s * 4.0 + t * 3.0).astype(np.int64) % 3
    palette = np.stack([rgb(0.86, 0.85, 0.80), rgb(0.84, 0.83, 0.78), rgb(0.78, 0.16, 0.12)])
    albedo = palette[strand]
    fibres = value_noise(rng, (s * 4.0 + t * 3.0) * 3, (t - s * 0.7) * 60)
    albedo = albedo * (0.8 + 0.3 * fibres)[..., None] * (1 - 0.35 * groove)[..., None]
    return Part(obj, height, albedo, 0.08, 10.0)


def build_tile(f, rng):
    x, y = f.X, f.Y
    a, b, rr = 1.0, 0.78, 0.15
    qx, qy = np.abs(x) - (a - rr), np.abs(y) - (b - rr)
    sdf = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - rr
    obj = sdf < 0
    cell = 0.16
    ci, cj = np.floor(x / cell), np.floor(y / cell)
    fx, fy = x / cell - ci, y / cell - cj
    horizontal = ((ci + cj) % 2) == 0
    across = np.where(horizontal, fy, fx)
    along = np.where(horizontal, fx, fy)
    strand = np.abs(np.sin(3 * math.pi * across))
    frame = -sdf < 0.08
    height = 0.006 * np.clip(-sdf / 0.07, 0, 1) + np.where(frame, 0.0, 0.00035 * strand * np.sin(math.pi * along))
    light, dark = rgb(0.84, 0.74, 0.54), rgb(0.70, 0.57, 0.38)
    albedo = np.where(horizontal[..., None], light, dark) * (0.72 + 0.28 * strand)[..., None]
    albedo = albedo * (0.9 + 0.2 * fbm(rng, x, y, 8.0, 2))[..., None] * rng.uniform(0.93, 1.05)
    albedo = np.where(frame[..., None], rgb(0.50, 0.33, 0.20) * (0.9 + 0.2 * fbm(rng, x, y, 4.0, 2))[..., None], albedo)
    return Part(obj, height, albedo, np.where(frame, 0.2, 0.05), 20.0)


def build_donut(f, rng):
    r0, a = 0.64, 0.34
    t = (f.r - r0) / a
    obj = np.abs(t) < 1
    tube = 0.8 * a * f.unit_m * np.sqrt(np.clip(1 - t * t, 0, 1))
    glaze = np.abs(t) < 0.7 + wobble(rng, f.th, 0.09, 3, 9)
    glaze_h = 0.0005 * smoothstep(0, 0.15, 0.7 - np.abs(t)) + 0.0003
    height = tube + np.where(glaze, glaze_h, 0)
    dough = mix(rgb(0.88, 0.63, 0.33)[None, None, :] * np.ones_like(t)[..., None], rgb(0.62, 0.36, 0.15), t * t)
    dough *= (0.9 + 0.2 * fbm(rng, f.X, f.Y, 6.0, 3))[..., None]
    phi = rng.uniform(0, 2 * math.pi)
    grad = np.clip(0.5 + 0.55 * (f.X * math.cos(phi) + f.Y * math.sin(phi)), 0, 1)
    icing = mix(rgb(0.93, 0.52, 0.64)[None, None, :] * np.ones_like(t)[..., None], rgb(0.70, 0.26, 0.42), grad)
    albedo = np.where(glaze[..., None], icing, dough)
    return Part(obj, height, albedo, np.where(glaze, 0.5, 0.05), np.where(glaze, 40.0, 8.0))


def build_fruit(f, rng):
    e = rng.uniform(0.9, 1.0)
    rr = np.hypot(f.X, f.Y / e)
    obj = rr < 1
    height = 0.7 * f.unit_m * np.sqrt(np.clip(1 - rr * rr, 0, 1))
    ang, rad = rng.uniform(0, 2 * math.pi), rng.uniform(0, 0.25)
    sx, sy = rad * math.cos(ang), rad * math.sin(ang)
    d = np.hypot(f.X - sx, f.Y - sy)
    height = height - 0.004 * np.exp(-(d / 0.12) ** 2)
    phi = rng.uniform(0, 2 * math.pi)
    blush = np.clip(0.5 + 0.6 * (f.X * math.cos(phi) + f.Y * math.sin(phi))
                    + 0.8 * (fbm(rng, f.X, f.Y, 2.0, 3) - 0.5), 0, 1)
    albedo = mix(rgb(0.86, 0.74, 0.26)[None, None, :] * np.ones_like(rr)[..., None], rgb(0.74, 0.12, 0.10), blush)
    speck = value_noise(rng, f.X * 20, f.Y * 20) > 0.8
    albedo = np.where(speck[..., None], mix(albedo, rgb(0.95, 0.90, 0.62), 0.55), albedo)
    albedo = np.where((d < 0.035)[..., None], rgb(0.35, 0.24, 0.12), albedo)
    return Part(obj, height, albedo, np.where(d < 0.035, 0.02, 0.45), 25.0)


def build_canister(f, rng):
    r = f.r
    obj = r < 1
    rim = r > 0.9
    height = np.where(rim, 0.016 * (0.85 + 0.15 * np.sqrt(np.clip(1 - ((r - 0.95) / 0.05) ** 2, 0, 1))), 0.0125)
    height = height - np.where(np.abs(r - 0.82) < 0.02, 0.0008, 0) + np.where(np.abs(r - 0.55) < 0.03, 0.0004, 0)
    brushed = value_noise(rng, r * 70, f.th * 1.2)
    albedo = rgb(0.72, 0.73, 0.76) * rng.uniform(0.95, 1.04) * (0.88 + 0.2 * brushed)[..., None]
    label = (r > 0.3) & (r < 0.48)
    albedo = np.where(label[..., None], rgb(0.80, 0.15, 0.12) * (0.95 + 0.1 * brushed)[..., None], albedo)
    dash = label & (np.cos(f.th * 12) > 0.6) & (np.abs(r - 0.39) < 0.03)
    albedo = np.where(dash[..., None], rgb(0.95, 0.93, 0.88), albedo)
    return Part(obj, height, albedo, np.where(label, 0.2, 0.5), 40.0)


def build_capsule(f, rng):
    rad = 0.36
    d = capsule_distance(f.X, f.Y, -0.75, 0.0, 0.75, 0.0)
    seam = 0.05 + rng.uniform(-0.03, 0.03)
    cap = f.X > seam
    radius = np.where(cap, rad + 0.012, rad)
    obj = d < radius
    height = 0.9 * rad * f.unit_m * np.sqrt(np.clip(1 - (d / radius) ** 2, 0, 1))
    height = height - np.where(np.abs(f.X - seam) < 0.02, 0.0003, 0)
    albedo = np.where(cap[..., None], rgb(0.85, 0.35, 0.12), rgb(0.95, 0.93, 0.88)) * rng.uniform(0.95, 1.04)
    albedo = albedo * (0.96 + 0.08 * fbm(rng, f.X, f.Y, 4.0, 2))[..., None]
    return Part(obj, height, albedo, 0.6, 50.0)


def build_plank(f, rng):
    x, y = f.X, f.Y
    hw = 0.42
    obj = (np.abs(x) < 1.0) & (np.abs(y) < hw)
    height = 0.007 * np.clip(np.minimum(1.0 - np.abs(x), hw - np.abs(y)) / 0.04, 0.3, 1)
    x0, y0 = rng.uniform(-3, 3), rng.uniform(1.0, 2.0) * (1 if rng.random() < 0.5 else -1)
    warp = 0.08 * (fbm(rng, x, y, 1.5, 3) - 0.5)
    rings = np.hypot(y - y0, (x - x0) * 0.08) + warp
    for _ in range(int(rng.integers(0, 3))):
        kx, ky = rng.uniform(-0.75, 0.75), rng.uniform(-0.25, 0.25)
        dk = np.hypot((x - kx) / 1.6, y - ky)
        rings = rings + 0.06 * np.exp(-(dk / 0.06) ** 2) / (dk + 0.05) * 0.1
    late = smoothstep(0.6, 0.9, (rings * 12) % 1.0)
    albedo = mix(rgb(0.80, 0.62, 0.40)[None, None, :] * np.ones_like(x)[..., None], rgb(0.56, 0.36, 0.19), late)
    albedo *= (0.9 + 0.2 * value_noise(rng, x * 2, y * 40))[..., None]
    height = height - 0.00015 * late
    return Part(obj, height, albedo, 0.1, 12.0)


@dataclass
class ClassSpec:
    name: str
    build: object
    kinds: list
    radius: float          # object radius R as a fraction of the image side
    rotation: float        # pose rotation jitter, +- radians
    background: tuple
    light_azimuth: float
    description: str


CLASSES = [
    ClassSpec("cookie", build_cookie, ["contamination", "crack", "cut", "combined"], 0.30, math.pi, (0.22, 0.23, 0.26),
              0.6, "baked disc, lumpy flat top, darker rim, raised coloured sprinkles"),
    ClassSpec("nut", build_nut, ["scratch", "crack", "bump", "combined"], 0.30, math.pi, (0.16, 0.19, 0.25),
              2.2, "hexagon with a through hole, chamfered corners, machined specular steel"),
    ClassSpec("leaf", build_leaf, ["hole", "cut", "contamination", "combined"], 0.36, 0.5, (0.80, 0.79, 0.75),
              4.0, "pointed leaf with stem, midrib, side veins, curled edges"),
    ClassSpec("rope", build_rope, ["scratch", "cut", "bump", "combined"], 0.38, 0.4, (0.45, 0.42, 0.38),
              1.2, "thick bent band of twisted strands with a red tracer, round cross-section"),
    ClassSpec("tile", build_tile, ["crack", "hole", "scratch", "contamination", "combined"], 0.34, 0.25,
              (0.12, 0.12, 0.13), 5.0, "rounded-rectangle basket-weave tile with a bevelled frame"),
    ClassSpec("donut", build_donut, ["hole", "bump", "contamination"], 0.34, math.pi, (0.88, 0.87, 0.84),
              0.3, "torus with a wavy glossy glaze of graded colour"),
    ClassSpec("fruit", build_fruit, ["bump", "scratch", "hole", "contamination", "combined"], 0.33, math.pi,
              (0.20, 0.26, 0.22), 3.3, "dome with a colour blush, lenticel speckles and a stem dimple"),
    ClassSpec("canister", build_canister, ["scratch", "bump", "hole", "crack"], 0.31, math.pi, (0.08, 0.08, 0.09),
              1.8, "cylinder from above: rounded rim, recessed brushed lid, groove, printed ring"),
    ClassSpec("capsule", build_capsule, ["crack", "cut", "contamination", "combined"], 0.34, 0.6,
              (0.25, 0.35, 0.55), 4.6, "two-colour glossy pill with a seam groove"),
    ClassSpec("plank", build_plank, ["crack", "hole", "scratch", "bump", "combined"], 0.38, 0.3, (0.50, 0.50, 0.49),
              2.7, "wooden board with grain and knots, bevelled edges"),
]
KINDS = ["scratch", "crack", "contamination", "hole", "bump", "cut", "combined"]


# ---------------------------------------------------------------------------------------------
# Imaging conditions and rendering
# ---------------------------------------------------------------------------------------------


@dataclass
class Conditions:
    """Everything random about one shot except the object and the defect: drawn once, so a scene
    and its defective copy are rendered with identical light, camera and noise."""
    size: int
    pixel_m: float
    focal_px: float
    z0: float
    tilt: tuple
    warp: np.ndarray
    light: np.ndarray
    ambient: float
    intensity: float
    tint: np.ndarray
    vignette: np.ndarray
    rgb_noise: np.ndarray
    z_noise: np.ndarray
    drop_u: np.ndarray


def draw_conditions(spec, size, rng):
    pixel_m = FOV_M / size
    az = spec.light_azimuth + rng.uniform(-0.5, 0.5)
    el = rng.uniform(0.85, 1.25)
    light = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    v, u = np.mgrid[0:size, 0:size] + 0.5
    rho2 = ((u - size / 2) ** 2 + (v - size / 2) ** 2) / (size / 2) ** 2
    sigma_z = rng.uniform(0.00008, 0.0002)
    ripple = 0.00003 * np.sin(2 * math.pi * v / rng.uniform(6, 14) + rng.uniform(0, 2 * math.pi))
    grid = (u / size - 0.5) * 4, (v / size - 0.5) * 4
    return Conditions(
        size=size, pixel_m=pixel_m, focal_px=size * Z0_M / FOV_M, z0=Z0_M + rng.uniform(-0.01, 0.01),
        tilt=(rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04)),
        warp=0.0004 * (fbm(rng, grid[0], grid[1], 0.6, 2) - 0.5),
        light=light, ambient=rng.uniform(0.28, 0.38), intensity=rng.uniform(0.85, 1.12),
        tint=1 + rng.normal(0, 0.025, 3), vignette=1 - rng.uniform(0.08, 0.16) * rho2,
        rgb_noise=rng.normal(0, 0.008, (size, size, 3)),
        z_noise=sigma_z * rng.standard_normal((size, size)) + ripple,
        drop_u=rng.random((size, size)))


def make_background(spec, size, rng):
    v, u = np.mgrid[0:size, 0:size] + 0.5
    x, y = (u / size - 0.5) * 4, (v / size - 0.5) * 4
    coarse = fbm(rng, x, y, 1.5, 3)
    fine = value_noise(rng, x * size / 6, y * size / 6)
    shade = (0.88 + 0.24 * coarse) * (0.95 + 0.1 * fine) * rng.uniform(0.94, 1.06)
    return np.asarray(spec.background)[None, None, :] * shade[..., None]


def blur121(a):
    """[1, 2, 1]/4 separable blur with edge replication: a touch of optics, against aliasing."""
    p = np.pad(a, [(1, 1), (1, 1)] + [(0, 0)] * (a.ndim - 2), mode="edge")
    a = (p[:-2] + 2 * p[1:-1] + p[2:]) / 4
    return (a[:, :-2] + 2 * a[:, 1:-1] + a[:, 2:]) / 4


def render(scene, cond):
    """Linear RGB in [0, 1] (before quantising) and the xyz point map (no missing points)."""
    gy, gx = np.gradient(scene.shade, cond.pixel_m)
    norm = np.sqrt(gx * gx + gy * gy + 1)
    n = np.stack([-gx / norm, -gy / norm, 1 / norm], axis=-1)
    diffuse = np.clip(n @ cond.light, 0, None)
    half = cond.light + np.array([0, 0, 1.0])
    half /= np.linalg.norm(half)
    specular = scene.spec * np.clip(n @ half, 0, None) ** scene.shin
    shade = cond.ambient + (1 - cond.ambient) * 1.1 * diffuse
    img = scene.albedo * shade[..., None] * cond.tint + specular[..., None]
    img = blur121(img * cond.intensity) * cond.vignette[..., None] + cond.rgb_noise
    size = cond.size
    v, u = np.mgrid[0:size, 0:size] + 0.5
    xm, ym = (u - size / 2) * cond.pixel_m, (v - size / 2) * cond.pixel_m
    z = cond.z0 + cond.tilt[0] * xm + cond.tilt[1] * ym + cond.warp - scene.height + cond.z_noise
    xyz = np.stack([(u - size / 2) * z / cond.focal_px, (v - size / 2) * z / cond.focal_px, z], axis=-1)
    return np.clip(img, 0, 1), xyz


# ---------------------------------------------------------------------------------------------
# Defects: each changes a copy of the scene and returns the exact mask of what it changed
# ---------------------------------------------------------------------------------------------


class DefectContext:
    def __init__(self, scene, frame, cond, rng):
        self.scene, self.frame, self.cond, self.rng = scene, frame, cond, rng
        self.good_obj = scene.obj.copy()
        self.size = frame.size
        self.edist = edge_distance(scene.obj, frame.size // 2)
        self.obj_diameter = 2 * math.sqrt(scene.obj.sum() / math.pi)
        self.placed = []   # (x, y, reach) of earlier defects in this image

    def pick(self, margin, reach, where=None):
        """A random centre (pixels) on the object at least `margin` px from its outline (or within
        `where`), clear of earlier defects; the margin is relaxed on small or thin objects."""
        f = self.frame
        clear = np.ones_like(self.good_obj)
        for (px, py, pr) in self.placed:
            clear &= np.hypot(f.U - px, f.V - py) > pr + reach + 2
        for relax in (1.0, 0.7, 0.45, 0.25, 0.0):
            cand = (where if where is not None else self.edist >= max(1, margin * relax)) & clear
            if relax == 0.0 and not cand.any():
                cand = where if where is not None else self.edist >= 1
            if cand.any():
                idx = self.rng.choice(np.flatnonzero(cand))
                return f.U.flat[idx] + self.rng.uniform(-0.5, 0.5), f.V.flat[idx] + self.rng.uniform(-0.5, 0.5)
        raise RuntimeError("no object pixels to place a defect on")

    def ellipse(self, cx, cy, r):
        """Normalised distance (1 on the outline) of a randomly elongated and rotated ellipse."""
        aspect, phi = self.rng.uniform(0.65, 1.0), self.rng.uniform(0, math.pi)
        dx, dy = self.frame.U - cx, self.frame.V - cy
        a = (dx * math.cos(phi) + dy * math.sin(phi)) / r
        b = (-dx * math.sin(phi) + dy * math.cos(phi)) / (r * aspect)
        return np.hypot(a, b)

    def curve_length(self):
        return self.rng.uniform(0.10, 0.35) * self.obj_diameter

    def line_half_width(self, lo, hi):
        return self.rng.uniform(lo, hi) * max(1.0, self.size / 160)


def _accept(mask, minimum=3):
    return int(mask.sum()) >= minimum


def defect_scratch(ctx):
    """Thin bright or dark quadratic curve on the albedo: RGB only."""
    rng, f, sc = ctx.rng, ctx.frame, ctx.scene
    for _ in range(20):
        length = ctx.curve_length()
        cx, cy = ctx.pick(0.4 * length, length / 2)
        ang = rng.uniform(0, math.pi)
        ux, uy = math.cos(ang), math.sin(ang)
        bend = rng.uniform(-0.25, 0.25) * length
        t = np.linspace(-0.5, 0.5, 24)
        pts = [(cx + ux * length * s - uy * bend * (1 - 4 * s * s), cy + uy * length * s + ux * bend * (1 - 4 * s * s))
               for s in t]
        hw = ctx.line_half_width(0.55, 0.95)
        mask = (polyline_distance(f.U, f.V, pts) < hw) & ctx.good_obj & (ctx.edist >= 2)
        if _accept(mask):
            break
    if rng.random() < 0.5:
        sc.albedo[mask] = mix(sc.albedo[mask], rgb(0.96, 0.95, 0.92), rng.uniform(0.55, 0.85))
        sc.spec[mask] = np.maximum(sc.spec[mask], 0.3)
        tone = "bright"
    else:
        sc.albedo[mask] *= rng.uniform(0.3, 0.5)
        tone = "dark"
    ctx.placed.append((cx, cy, length / 2))
    return mask, {"kind": "scratch", "tone": tone, "half_length_frac": round(length / 2 / ctx.size, 4)}


def defect_crack(ctx):
    """Random-walk polyline: darker albedo and a narrow groove in the geometry."""
    rng, f, sc = ctx.rng, ctx.frame, ctx.scene
    for _ in range(20):
        length = ctx.curve_length()
        cx, cy = ctx.pick(0.4 * length, length / 2)
        steps = int(rng.integers(8, 15))
        ang = rng.uniform(0, 2 * math.pi)
        pts = [(cx, cy)]
        for _ in range(steps):
            ang += rng.normal(0, 0.5)
            px, py = pts[-1]
            pts.append((px + math.cos(ang) * length / steps, py + math.sin(ang) * length / steps))
        shift = np.mean(pts, axis=0) - (cx, cy)
        pts = [(px - shift[0], py - shift[1]) for px, py in pts]
        hw = ctx.line_half_width(0.6, 1.0)
        d = polyline_distance(f.U, f.V, pts)
        mask = (d < hw) & ctx.good_obj & (ctx.edist >= 2)
        if _accept(mask):
            break
    depth = rng.uniform(0.0008, 0.002)
    groove = np.minimum(depth * (0.6 + 0.4 * (1 - d / hw)), sc.height)
    sc.height = np.where(mask, sc.height - groove, sc.height)
    sc.shade = np.where(mask, sc.shade - groove, sc.shade)
    sc.albedo[mask] *= rng.uniform(0.25, 0.45)
    ctx.placed.append((cx, cy, length / 2))
    return mask, {"kind": "crack", "half_length_frac": round(length / 2 / ctx.size, 4),
                  "depth_mm": round(depth * 1000, 2)}


CONTAMINANTS = [rgb(0.10, 0.08, 0.06), rgb(0.20, 0.35, 0.85), rgb(0.92, 0.92, 0.90), rgb(0.30, 0.62, 0.25),
                rgb(0.75, 0.35, 0.10), rgb(0.60, 0.20, 0.65)]


def defect_contamination(ctx):
    """Ragged blob of a foreign colour with its own texture: RGB only."""
    rng, f, sc = ctx.rng, ctx.frame, ctx.scene
    for _ in range(20):
        r = max(1.0, loguniform(rng, 0.015, 0.08) * ctx.size)
        cx, cy = ctx.pick(0.8 * r, 1.3 * r)
        theta = np.arctan2(f.V - cy, f.U - cx)
        reach = r * (1 + wobble(rng, theta, 0.18, 2, 5))
        rag = 0.35 * (value_noise(rng, f.U / max(r / 3, 1), f.V / max(r / 3, 1)) - 0.5)
        mask = (np.hypot(f.U - cx, f.V - cy) / reach + rag < 1) & ctx.good_obj
        if _accept(mask):
            break
    mean = sc.albedo[mask].mean(axis=0)
    far = sorted(CONTAMINANTS, key=lambda c: -np.sum((c - mean) ** 2))[:2]
    colour = far[int(rng.integers(2))]
    texture = 0.7 + 0.6 * value_noise(rng, f.U / max(r / 4, 0.8), f.V / max(r / 4, 0.8))
    opacity = rng.uniform(0.75, 1.0)
    sc.albedo[mask] = mix(sc.albedo[mask], np.clip(colour * texture[mask][:, None], 0, 1), opacity)
    sc.spec[mask] = 0.05
    ctx.placed.append((cx, cy, 1.3 * r))
    return mask, {"kind": "contamination", "radius_frac": round(r / ctx.size, 4)}


def defect_hole(ctx):
    """Elliptic pit: the surface drops sharply, the inside is dark."""
    rng, sc = ctx.rng, ctx.scene
    for _ in range(20):
        r = max(1.0, loguniform(rng, 0.015, 0.05) * ctx.size)
        cx, cy = ctx.pick(r + 1, r)
        d = ctx.ellipse(cx, cy, r)
        mask = (d < 1) & ctx.good_obj & (ctx.edist >= 2) & (sc.height > 0.001)
        if _accept(mask):
            break
    depth = rng.uniform(0.003, 0.008)
    drop = np.minimum(depth * (0.8 + 0.2 * (1 - d * d)), sc.height)
    sc.height = np.where(mask, sc.height - drop, sc.height)
    sc.shade = np.where(mask, sc.shade - drop, sc.shade)
    sc.albedo[mask] *= (0.08 + 0.12 * np.clip(d, 0, 1) ** 2)[mask][:, None]
    sc.spec[mask] = 0.0
    ctx.placed.append((cx, cy, r))
    return mask, {"kind": "hole", "radius_frac": round(r / ctx.size, 4), "depth_mm": round(depth * 1000, 2)}


def defect_bump(ctx):
    """Raised elliptic cap in the geometry only; the RGB keeps the un-bumped shading."""
    rng, sc = ctx.rng, ctx.scene
    for _ in range(20):
        r = max(1.5, loguniform(rng, 0.025, 0.08) * ctx.size)
        cx, cy = ctx.pick(r + 1, r)
        d = ctx.ellipse(cx, cy, r)
        mask = (d < 1) & ctx.good_obj & (ctx.edist >= 2)
        if _accept(mask):
            break
    peak = max(0.0008, rng.uniform(0.3, 0.6) * r * ctx.cond.pixel_m)
    sc.height = np.where(mask, sc.height + peak * np.sqrt(np.clip(1 - d * d, 0.01, 1)), sc.height)
    ctx.placed.append((cx, cy, r))
    return mask, {"kind": "bump", "radius_frac": round(r / ctx.size, 4), "peak_mm": round(peak * 1000, 2)}


def defect_cut(ctx):
    """A chunk missing at the object's outline: there the camera sees the table."""
    rng, f, sc = ctx.rng, ctx.frame, ctx.scene
    outline = ctx.edist == 1
    best = None
    for _ in range(30):
        r = max(2.0, loguniform(rng, 0.03, 0.08) * ctx.size)
        cx, cy = ctx.pick(0, r, where=outline)
        theta = np.arctan2(f.V - cy, f.U - cx)
        reach = r * (1 + wobble(rng, theta, 0.15, 2, 6))
        mask = (np.hypot(f.U - cx, f.V - cy) < reach) & ctx.good_obj
        area = int(mask.sum())
        if best is None or area > best[0]:
            best = (area, mask, r, cx, cy)
        if area >= 0.3 * math.pi * r * r and area < 0.4 * ctx.good_obj.sum():
            break
    _, mask, r, cx, cy = best
    sc.obj[mask] = False
    sc.height[mask] = 0.0
    sc.shade[mask] = 0.0
    sc.albedo[mask] = sc.bg_albedo[mask]
    sc.spec[mask] = sc.bg_spec
    ctx.placed.append((cx, cy, r))
    return mask, {"kind": "cut", "radius_frac": round(r / ctx.size, 4)}


DEFECTS = {"scratch": defect_scratch, "crack": defect_crack, "contamination": defect_contamination,
           "hole": defect_hole, "bump": defect_bump, "cut": defect_cut}


# ---------------------------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------------------------


def sample_rngs(seed, cls, split, index):
    ss = np.random.SeedSequence([seed, zlib.crc32(cls.encode()), zlib.crc32(split.encode()), index])
    a, b = ss.spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def make_scene(spec, size, rng):
    scale = rng.uniform(0.94, 1.06)
    radius = spec.radius * size * scale
    cx = size / 2 + rng.uniform(-0.06, 0.06) * size
    cy = size / 2 + rng.uniform(-0.06, 0.06) * size
    angle = rng.uniform(-spec.rotation, spec.rotation)
    frame = Frame(size, cx, cy, radius, angle, radius * FOV_M / size)
    part = spec.build(frame, rng)
    bg = make_background(spec, size, rng)
    obj = part.obj
    height = np.where(obj, part.height, 0.0)
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), obj.shape)  # noqa: E731
    bg_spec = 0.03
    scene = Scene(obj=obj.copy(), height=height, shade=height.copy(),
                  albedo=np.where(obj[..., None], np.clip(part.albedo, 0, 1), bg),
                  spec=np.where(obj, full(part.spec), bg_spec), shin=np.where(obj, full(part.shin), 10.0),
                  bg_albedo=bg, bg_spec=bg_spec)
    return scene, frame


def scanner_dropout(scene, cond, rng):
    """Missing points: a few small holes in the table away from the object, and some pixels on
    steep silhouettes."""
    size = cond.size
    far = edge_distance(~scene.obj, size // 2) >= max(3, size // 32)
    v, u = np.mgrid[0:size, 0:size] + 0.5
    missing = np.zeros_like(scene.obj)
    cand = np.flatnonzero(far)
    for _ in range(int(rng.integers(1, 6))):
        if cand.size == 0:
            break
        idx = rng.choice(cand)
        rad = rng.uniform(0.6, 2.2) * size / 128
        missing |= (np.hypot(u - u.flat[idx], v - v.flat[idx]) <= max(rad, 0.5)) & far
    gy, gx = np.gradient(scene.height, cond.pixel_m)
    missing |= (np.hypot(gx, gy) > 2.0) & (cond.drop_u < 0.3)
    return missing


def make_sample(spec, size, seed, split, index, kinds):
    """One (rgb uint8, xyz float32, gt uint8, info) tuple; `kinds` empty for a good sample."""
    rng, drng = sample_rngs(seed, spec.name, split, index)
    scene, frame = make_scene(spec, size, rng)
    cond = draw_conditions(spec, size, rng)
    missing = scanner_dropout(scene, cond, rng)
    img, xyz = render(scene, cond)
    gt = np.zeros((size, size), np.uint8)
    infos = []
    if kinds:
        ctx = DefectContext(scene.copy(), frame, cond, drng)
        for k, kind in enumerate(kinds):
            mask, info = DEFECTS[kind](ctx)
            gt[mask & (gt == 0)] = 255 - k
            infos.append(info)
        dimg, dxyz = render(ctx.scene, cond)
        changed = gt > 0
        img = np.where(changed[..., None], dimg, img)
        xyz = np.where(changed[..., None], dxyz, xyz)
        # The scanner sees a defect's new geometry; RGB-only defects keep the good shot's dropout.
        missing &= ~(changed & (ctx.scene.height != scene.height))
    xyz[missing] = 0
    rgb8 = np.round(img * 255).astype(np.uint8)
    return rgb8, xyz.astype(np.float32), gt, infos


def plan(spec, args):
    """[(folder, split key, index, kinds)] for one class."""
    jobs = [("train/good", "train", i, []) for i in range(args.train)]
    jobs += [("validation/good", "validation", i, []) for i in range(args.validation)]
    jobs += [("test/good", "test/good", i, []) for i in range(args.test_good)]
    singles = [k for k in spec.kinds if k != "combined"]
    per_kind = {k: 0 for k in spec.kinds}
    for i in range(args.test_defect):
        kind = spec.kinds[i % len(spec.kinds)]
        n = per_kind[kind]
        per_kind[kind] += 1
        if kind == "combined":
            pair = np.random.default_rng([args.seed, zlib.crc32(spec.name.encode()), n]).choice(
                len(singles), 2, replace=False)
            defects = [singles[pair[0]], singles[pair[1]]]
        else:
            defects = [kind]
        jobs.append((f"test/{kind}", f"test/{kind}", n, defects))
    return jobs


def generate(args):
    if not 1 <= args.classes <= len(CLASSES):
        sys.exit(f"--classes must be 1...{len(CLASSES)}")
    if args.size < 32:
        sys.exit("--size must be at least 32")
    t0 = time.time()
    classes = CLASSES[:args.classes]
    meta = {"generator": "Scripts/make_heldout.py", "name": NAME, "version": VERSION,
            "purpose": "independent held-out check on anomaly-detection quality; never train or tune on it",
            "arguments": {"classes": args.classes, "train": args.train, "validation": args.validation,
                          "test_good": args.test_good, "test_defect": args.test_defect, "size": args.size,
                          "seed": args.seed},
            "layout": "mvtec3d", "camera": {"model": "pinhole", "fov_m": FOV_M, "distance_m": Z0_M},
            "gt_values": "255 = defect; in `combined` the second defect is 254",
            "classes": [c.name for c in classes], "per_class": {}}
    total = 0
    for spec in classes:
        counts, defects = {}, []
        for folder, split, index, kinds in plan(spec, args):
            base = os.path.join(args.out, spec.name, folder)
            stem = f"{index:03d}"
            for sub in ("rgb", "xyz") + (("gt",) if folder.startswith("test/") else ()):
                os.makedirs(os.path.join(base, sub), exist_ok=True)
            rgb8, xyz, gt, infos = make_sample(spec, args.size, args.seed, split, index, kinds)
            write_png(os.path.join(base, "rgb", stem + ".png"), rgb8)
            write_tiff(os.path.join(base, "xyz", stem + ".tiff"), xyz)
            if folder.startswith("test/"):
                write_png(os.path.join(base, "gt", stem + ".png"), gt)
            counts[folder] = counts.get(folder, 0) + 1
            if kinds:
                defects.append({"file": f"{folder}/{stem}", "defects": infos, "mask_px": int((gt > 0).sum())})
            total += 1
        meta["per_class"][spec.name] = {"description": spec.description, "defect_kinds": spec.kinds,
                                        "counts": counts, "defects": defects}
        print(f"{spec.name:9s} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    with open(os.path.join(args.out, "heldout.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    print(f"wrote {total} samples ({len(classes)} classes, {args.size} px) and heldout.json to {args.out} "
          f"in {time.time() - t0:.1f} s")


# ---------------------------------------------------------------------------------------------
# Self-check and contact sheet
# ---------------------------------------------------------------------------------------------


def libtiff_read(path):
    """The xyz as libtiff itself decodes it (the project's reader), or None without libtiff."""
    name = ctypes.util.find_library("tiff")
    if not name:
        return None
    lib = ctypes.CDLL(name)
    lib.TIFFOpen.restype = ctypes.c_void_p
    lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.TIFFSetWarningHandler(None)
    tif = lib.TIFFOpen(path.encode(), b"r")
    if not tif:
        raise ValueError(f"{path}: libtiff cannot open it")
    try:
        lib.TIFFGetField.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p]
        w, h = ctypes.c_uint32(), ctypes.c_uint32()
        spp, rps = ctypes.c_uint16(), ctypes.c_uint32()
        lib.TIFFGetField(tif, 256, ctypes.byref(w))
        lib.TIFFGetField(tif, 257, ctypes.byref(h))
        lib.TIFFGetField(tif, 277, ctypes.byref(spp))
        lib.TIFFGetField(tif, 278, ctypes.byref(rps))
        lib.TIFFNumberOfStrips.restype = ctypes.c_uint32
        lib.TIFFNumberOfStrips.argtypes = [ctypes.c_void_p]
        lib.TIFFReadEncodedStrip.restype = ctypes.c_ssize_t
        lib.TIFFReadEncodedStrip.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_ssize_t]
        out = np.zeros((h.value, w.value, spp.value), np.float32)
        row = w.value * spp.value * 4
        buf = out.reshape(-1).view(np.uint8)
        for s in range(lib.TIFFNumberOfStrips(tif)):
            start = s * rps.value * row
            need = min(rps.value * row, buf.size - start)
            got = lib.TIFFReadEncodedStrip(tif, s, buf[start:].ctypes.data, need)
            if got != need:
                raise ValueError(f"{path}: libtiff read {got} of {need} bytes of strip {s}")
        return out
    finally:
        lib.TIFFClose.argtypes = [ctypes.c_void_p]
        lib.TIFFClose(tif)


def check(root):
    """Re-read what was written; returns the list of problems (empty when all is well)."""
    problems = []
    with open(os.path.join(root, "heldout.json")) as fh:
        meta = json.load(fh)
    size = meta["arguments"]["size"]
    n_files = n_lib = 0
    for name in meta["classes"]:
        info = meta["per_class"][name]
        for folder, count in info["counts"].items():
            base = os.path.join(root, name, folder)
            stems = sorted(p[:-4] for p in os.listdir(os.path.join(base, "rgb")))
            if stems != [f"{i:03d}" for i in range(count)]:
                problems.append(f"{base}: files {stems[:3]}... do not match count {count}")
            for i, stem in enumerate(stems):
                def bad(msg):
                    problems.append(f"{base}/{{rgb,xyz,gt}}/{stem}: {msg}")
                img = read_png(os.path.join(base, "rgb", stem + ".png"))
                xyz, tags = read_tiff(os.path.join(base, "xyz", stem + ".tiff"))
                n_files += 1
                if img.shape != (size, size, 3) or img.dtype != np.uint8 or img.std() < 5:
                    bad(f"rgb shape {img.shape} {img.dtype} std {img.std():.1f}")
                want = {258: [32, 32, 32], 259: [1], 277: [3], 284: [1], 339: [3, 3, 3]}
                if any(tags.get(t) != v for t, v in want.items()):
                    bad(f"tiff tags {[(t, tags.get(t)) for t in want]}")
                valid = xyz[..., 2] != 0
                if xyz.shape != (size, size, 3) or xyz.dtype != np.float32 or not np.isfinite(xyz).all():
                    bad(f"xyz shape {xyz.shape} {xyz.dtype}")
                elif valid.mean() < 0.95:
                    bad(f"xyz has {100 * (1 - valid.mean()):.1f} % missing points")
                elif not (0.3 < xyz[..., 2][valid].min() and xyz[..., 2][valid].max() < 0.7):
                    bad("z outside 0.3...0.7 m")
                elif not (xyz[size // 2, -3, 0] > xyz[size // 2, 2, 0] or not valid[size // 2, [2, -3]].all()):
                    bad("x does not grow to the right")
                if i == 0 and n_lib >= 0:
                    lt = libtiff_read(os.path.join(base, "xyz", stem + ".tiff"))
                    if lt is None:
                        n_lib = -1
                    else:
                        n_lib += 1
                        if not np.array_equal(lt, xyz):
                            bad("libtiff decodes other values than read_tiff")
                if folder.startswith("test/"):
                    gt = read_png(os.path.join(base, "gt", stem + ".png"))
                    if gt.shape != (size, size) or gt.dtype != np.uint8:
                        bad(f"gt shape {gt.shape} {gt.dtype}")
                    elif folder == "test/good" and gt.any():
                        bad("good sample with a nonzero gt")
                    elif folder != "test/good" and not gt.any():
                        bad("defective sample with an empty gt")
                    elif gt.any() and valid[gt > 0].mean() < 0.5:
                        bad("depth mostly missing inside the gt mask")
    lib = f", {n_lib} of them also through libtiff" if n_lib > 0 else " (libtiff not found: own reader only)"
    print(f"checked {n_files} samples of {len(meta['classes'])} classes at {size} px{lib}: "
          + ("OK" if not problems else f"{len(problems)} problems"))
    return problems


def depth_view(xyz, gt=None):
    """z as grey, near = bright, stretched over the 1st-99th percentile of the image, or of a
    window around the gt mask when one is given (so small depth defects show)."""
    z = xyz[..., 2]
    valid = z != 0
    region = valid.copy()
    if gt is not None and gt.any():
        ys, xs = np.nonzero(gt)
        pad = max(6, z.shape[0] // 16)
        window = np.zeros_like(valid)
        window[max(0, ys.min() - pad):ys.max() + pad + 1, max(0, xs.min() - pad):xs.max() + pad + 1] = True
        region &= window
    lo, hi = np.percentile(z[region], [1, 99])
    v = np.clip((hi - z) / max(hi - lo, 1e-9), 0, 1)   # near = bright
    v[~valid] = 0
    return np.repeat((v * 255).astype(np.uint8)[..., None], 3, axis=2)


def outline(img, gt):
    m = gt > 0
    inner = m.copy()
    inner[1:] &= m[:-1]
    inner[:-1] &= m[1:]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    out = img.copy()
    out[m & ~inner] = (255, 0, 255)
    return out


def contact_sheet(root, path):
    """One row per class: a good rgb and depth, then per defect kind the first sample's rgb and
    depth (stretched around the defect) with the gt outline in magenta, and its gt."""
    with open(os.path.join(root, "heldout.json")) as fh:
        meta = json.load(fh)
    size = meta["arguments"]["size"]
    up = max(1, 128 // size)
    rows = []
    for name in meta["classes"]:
        base = os.path.join(root, name)
        tiles = [read_png(os.path.join(base, "train/good/rgb/000.png")),
                 depth_view(read_tiff(os.path.join(base, "train/good/xyz/000.tiff"))[0])]
        for kind in meta["per_class"][name]["defect_kinds"]:
            d = os.path.join(base, "test", kind)
            if not os.path.isdir(d):
                continue
            gt = read_png(os.path.join(d, "gt/000.png"))
            tiles += [outline(read_png(os.path.join(d, "rgb/000.png")), gt),
                      outline(depth_view(read_tiff(os.path.join(d, "xyz/000.tiff"))[0], gt), gt),
                      np.repeat(gt[..., None], 3, axis=2)]
        rows.append(tiles)
    cols = max(len(r) for r in rows)
    gap = 2
    sheet = np.full((len(rows) * (size * up + gap), cols * (size * up + gap), 3), 40, np.uint8)
    for i, tiles in enumerate(rows):
        for j, t in enumerate(tiles):
            t = np.repeat(np.repeat(t, up, axis=0), up, axis=1)
            y, x = i * (size * up + gap), j * (size * up + gap)
            sheet[y:y + size * up, x:x + size * up] = t
    write_png(path, sheet)
    print(f"contact sheet: {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", help="dataset root to write")
    p.add_argument("--check", metavar="ROOT", help="re-read a written dataset and verify it")
    p.add_argument("--classes", type=int, default=5, help=f"first K of {len(CLASSES)} classes (default 5)")
    p.add_argument("--train", type=int, default=24)
    p.add_argument("--validation", type=int, default=4)
    p.add_argument("--test-good", type=int, default=10)
    p.add_argument("--test-defect", type=int, default=12, help="per class, dealt in turn to its defect kinds")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sheet", metavar="PNG", help="also write a contact sheet of the dataset")
    args = p.parse_args()
    if args.check:
        problems = check(args.check)
        for line in problems[:40]:
            print("  " + line)
        if args.sheet:
            contact_sheet(args.check, args.sheet)
        sys.exit(1 if problems else 0)
    if not args.out:
        p.error("--out or --check is required")
    generate(args)
    if args.sheet:
        contact_sheet(args.out, args.sheet)


if __name__ == "__main__":
    main()
