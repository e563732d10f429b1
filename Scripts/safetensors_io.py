"""safetensors read/write for the Python scripts (independent of the Swift implementation).

Format: 8-byte little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
padded with spaces to 8 bytes, then the raw little-endian data. Written as F32; read F32 as float64.
"""
import json
import struct

import numpy as np


def read_safetensors(path):
    """{name: float64 array} of an F32 safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", (name, h["dtype"])
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(h["shape"]).astype(np.float64)
    return out


def write_safetensors(path, tensors, metadata):
    """Writes {name: array} as F32 in sorted name order with string metadata."""
    header = {"__metadata__": metadata}
    offset, blobs = 0, []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[name]), dtype="<f4")
        blob = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for blob in blobs:
            f.write(blob)
