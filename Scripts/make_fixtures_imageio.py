#!/usr/bin/env python3
"""Writes the ImageIO reader fixtures: TIFF and PNG files made by independent writers (tifffile, which
does not use libtiff, and Pillow) in the variants our readers must handle, plus expected.json
with their exact sample values. Tests/ImageIOTests compare bit for bit.

    python3 Scripts/make_fixtures_imageio.py   # rewrites Tests/Fixtures/imageio/

Float samples are stored in the JSON as their uint32 bit patterns, so the comparison is exact
and the file stays small. Files are tiny (13x7 strips, 21x17 for 2x2 tiles of 16x16 with partial edges).
"""
import json
import os
import subprocess
import sys


def ensure(*modules):
    try:
        for m in modules:
            __import__(m)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                               "tifffile", "Pillow", "imagecodecs", "numpy"])


ensure("numpy", "tifffile", "PIL", "imagecodecs")

import numpy as np  # noqa: E402
import tifffile  # noqa: E402
from PIL import Image  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "imageio")


def float_data(rng, h, w, c):
    # Full-mantissa values of both signs and several magnitudes, plus exact zeros (a scanner's
    # missing points) so that any byte-order or plane-order mistake changes the bits.
    v = (rng.standard_normal((h, w, c)) * 10.0 ** rng.integers(-3, 4, (h, w, c))).astype(np.float32)
    v[0, 0, :] = 0
    return v if c > 1 else v[:, :, 0]


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel().tolist()


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261129)
    small_gray = float_data(rng, 7, 13, 1)
    small_rgb = float_data(rng, 7, 13, 3)
    tiled_gray = float_data(rng, 17, 21, 1)
    tiled_rgb = float_data(rng, 17, 21, 3)

    tiffs = [
        # name, data, keyword arguments for tifffile.imwrite
        ("gray_strips_none", small_gray, dict(rowsperstrip=3)),
        ("gray_strips_packbits", small_gray, dict(rowsperstrip=3, compression="packbits")),
        ("rgb_strips_contig_none", small_rgb, dict(rowsperstrip=3, planarconfig="contig")),
        ("rgb_strips_separate_none", small_rgb, dict(rowsperstrip=3, planarconfig="separate")),
        ("rgb_strips_contig_lzw", small_rgb, dict(rowsperstrip=2, compression="lzw")),
        ("rgb_strips_contig_deflate", small_rgb, dict(rowsperstrip=4, compression="zlib")),
        ("rgb_strips_separate_deflate_floatpredictor", small_rgb,
         dict(rowsperstrip=3, planarconfig="separate", compression="zlib", predictor=True)),
        ("rgb_strips_bigendian", small_rgb, dict(rowsperstrip=3, byteorder=">")),
        ("gray_tiles_none", tiled_gray, dict(tile=(16, 16))),
        ("rgb_tiles_contig_deflate", tiled_rgb, dict(tile=(16, 16), compression="zlib")),
        ("rgb_tiles_separate_lzw", tiled_rgb, dict(tile=(16, 16), planarconfig="separate", compression="lzw")),
        ("rgb_tiles_separate_packbits", tiled_rgb, dict(tile=(16, 16), planarconfig="separate", compression="packbits")),
    ]
    expected = {"tiff": [], "png": [], "tiff_unsupported": []}
    for name, data, kw in tiffs:
        path = f"{name}.tiff"
        photometric = "rgb" if data.ndim == 3 else "minisblack"
        # tifffile takes separate-plane data as (samples, height, width).
        stored = np.moveaxis(data, 2, 0) if kw.get("planarconfig") == "separate" else data
        tifffile.imwrite(os.path.join(OUT, path), stored, photometric=photometric, metadata=None, **kw)
        h, w = data.shape[:2]
        expected["tiff"].append({"file": path, "width": w, "height": h,
                                 "channels": 1 if data.ndim == 2 else data.shape[2], "bits": bits(data)})

    # Integer samples: a valid TIFF our float reader must refuse with a clear error.
    tifffile.imwrite(os.path.join(OUT, "gray_uint16.tiff"), (np.arange(91).reshape(7, 13) * 7).astype(np.uint16),
                     photometric="minisblack", metadata=None)
    expected["tiff_unsupported"].append({"file": "gray_uint16.tiff", "reason": "16-bit uint"})

    u8 = lambda *s: rng.integers(0, 256, s, dtype=np.uint8)  # noqa: E731
    gray = u8(7, 13)
    rgb = u8(7, 13, 3)
    rgba = u8(7, 13, 4)
    gray16 = rng.integers(0, 65536, (7, 13), dtype=np.uint16)
    palette_index = rng.integers(0, 4, (7, 13), dtype=np.uint8)
    palette = np.array([[10, 20, 30], [200, 0, 50], [0, 255, 0], [255, 255, 255]], dtype=np.uint8)
    bilevel = rng.integers(0, 2, (7, 13)).astype(bool)

    def png(name, image, values, channels, depth):
        image.save(os.path.join(OUT, name), format="PNG")
        expected["png"].append({"file": name, "width": 13, "height": 7, "channels": channels,
                                "bit_depth": depth, "samples": np.asarray(values).ravel().tolist()})

    png("gray8.png", Image.fromarray(gray, "L"), gray, 1, 8)
    png("rgb8.png", Image.fromarray(rgb, "RGB"), rgb, 3, 8)
    png("rgba8.png", Image.fromarray(rgba, "RGBA"), rgba, 4, 8)
    png("gray16.png", Image.fromarray(gray16), gray16, 1, 16)
    p = Image.fromarray(palette_index, "P")
    p.putpalette(palette.ravel().tolist())
    png("palette.png", p, palette[palette_index], 3, 8)  # palettes expand to RGB
    png("gray1.png", Image.fromarray(bilevel).convert("1"), bilevel.astype(np.uint8) * 255, 1, 8)

    # PIL's antialiased BILINEAR and NEAREST on a float image: the references for Resize.
    source = float_data(rng, 7, 13, 1)
    expected["resize"] = {"width": 13, "height": 7, "source_bits": bits(source), "cases": []}
    for (w, h) in [(5, 3), (29, 16), (13, 3), (4, 9)]:
        for name, flag in [("bilinear", Image.BILINEAR), ("nearest", Image.NEAREST)]:
            out = np.asarray(Image.fromarray(source, "F").resize((w, h), flag), dtype=np.float32)
            expected["resize"]["cases"].append({"filter": name, "width": w, "height": h, "bits": bits(out)})

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print(f"wrote {len(tiffs) + 1} TIFF and {len(expected['png'])} PNG fixtures to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
