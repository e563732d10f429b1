#!/usr/bin/env python3
"""Convert a PyTorch EfficientNet checkpoint to safetensors WITHOUT importing torch.

Reads both torch.save formats:
  * legacy (torch < 1.6, or _use_new_zipfile_serialization=False): a stream of pickles
    (magic number, protocol version, sys info, the object, storage keys) followed by the raw
    storages, each prefixed with its element count as int64;
  * zip (torch >= 1.6): <prefix>/data.pkl with storages in <prefix>/data/<key>.

The pickles are read by a restricted unpickler: every opcode is checked against the small set
torch.save emits (protocol 2), and only the globals needed to rebuild tensors are resolved; any
other opcode or global stops the conversion with its name, so a checkpoint cannot run code.

Parameter names from lukemelas/efficientnet-pytorch, efficientnet-lite-pytorch (the same
names) and timm are mapped to one canonical naming, the one the Swift loader reads
(docs/backbone.md): lukemelas's names without `num_batches_tracked`.

usage: convert_weights.py IN.pth OUT.safetensors [--naming auto|lukemelas|timm]
                          [--bn-eps EPS] [--padding same|symmetric]
"""
import argparse
import collections
import io
import json
import pickle
import pickletools
import re
import struct
import sys
import zipfile

import numpy as np

from safetensors_io import write_safetensors


class ConversionError(Exception):
    pass


# MARK: restricted unpickler

# The opcodes torch.save writes with pickle protocol 2 (checked on real checkpoints). Anything
# else (INST, OBJ, NEWOBJ, EXT*, STACK_GLOBAL, ...) can build arbitrary objects, so it is refused.
ALLOWED_OPCODES = {
    "PROTO", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "BINPUT", "LONG_BINPUT", "PUT", "BINGET", "LONG_BINGET", "GET", "MEMOIZE",
    "NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT",
    "INT", "LONG", "FLOAT",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING",
    "SHORT_BINBYTES", "BINBYTES",
    "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
    "SETITEM", "SETITEMS", "APPEND", "APPENDS", "DICT", "LIST",
    "GLOBAL", "REDUCE", "BUILD", "BINPERSID", "PERSID",
}

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class StorageRef:
    """A storage named by a persistent id; its bytes are attached once the file section is read."""

    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel
        self.array = None


class TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self):
        base = self.storage.array
        if base is None:
            raise ConversionError(f"storage {self.storage.key} has no data in the checkpoint")
        if not self.size:
            return base[self.offset:self.offset + 1].reshape(()).copy()
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if min(self.size) > 0 and needed > base.size:
            raise ConversionError(
                f"tensor of size {self.size} at offset {self.offset} overruns its storage "
                f"{self.storage.key} of {base.size} elements")
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.size, strides=[s * item for s in self.stride])
        return np.ascontiguousarray(view)


class StorageType:
    def __init__(self, name):
        self.name = name


def rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    if not isinstance(storage, StorageRef):
        raise ConversionError("_rebuild_tensor_v2 called without a storage")
    return TensorRef(storage, storage_offset, size, stride)


def rebuild_parameter(data, *_rest):
    return data


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
}
for _name in STORAGE_DTYPES:
    ALLOWED_GLOBALS[("torch", _name)] = StorageType(_name)


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream, path, storages):
        super().__init__(stream, encoding="latin1")
        self.path, self.storages = path, storages

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ConversionError(
                f"{self.path}: forbidden global '{module}.{name}' in pickle "
                f"(only tensor-rebuilding globals are allowed)") from None

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ConversionError(f"{self.path}: unsupported persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, StorageType):
            raise ConversionError(f"{self.path}: persistent id with storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = StorageRef(STORAGE_DTYPES[storage_type.name], key, numel)
        return self.storages[key]


def check_opcodes(data, path, start=0):
    """Scans one pickle from `start`; returns the offset after its STOP. Refuses unknown opcodes."""
    stream = io.BytesIO(data)
    stream.seek(start)
    try:
        for op, _arg, pos in pickletools.genops(stream):
            if op.name not in ALLOWED_OPCODES:
                raise ConversionError(
                    f"{path}: unsupported pickle opcode {op.name} at byte {pos} "
                    f"(torch checkpoints use only protocol-2 tensor opcodes)")
    except ValueError as e:
        raise ConversionError(f"{path}: malformed pickle at byte {stream.tell()}: {e}") from None
    return stream.tell()


def unpickle_at(data, path, start, storages):
    end = check_opcodes(data, path, start)
    stream = io.BytesIO(data[start:end])
    return RestrictedUnpickler(stream, path, storages).load(), end


# MARK: the two checkpoint formats

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def bytes_to_array(raw, dtype, path, key):
    if dtype == "bfloat16":
        u16 = np.frombuffer(raw, dtype="<u2")
        return (u16.astype(np.uint32) << 16).view(np.float32)
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) % dt.itemsize:
        raise ConversionError(f"{path}: storage {key} has {len(raw)} bytes, not a multiple of {dt.itemsize}")
    return np.frombuffer(raw, dtype=dt).astype(np.dtype(dtype).newbyteorder("="))


def load_legacy(data, path):
    storages = {}
    magic, pos = unpickle_at(data, path, 0, storages)
    if magic != LEGACY_MAGIC:
        raise ConversionError(f"{path}: not a PyTorch checkpoint (no zip header, no legacy magic number)")
    _protocol, pos = unpickle_at(data, path, pos, storages)
    _sys_info, pos = unpickle_at(data, path, pos, storages)
    obj, pos = unpickle_at(data, path, pos, storages)
    keys, pos = unpickle_at(data, path, pos, storages)
    for key in keys:
        ref = storages.get(str(key))
        if ref is None:
            raise ConversionError(f"{path}: storage key {key} listed but never referenced")
        if pos + 8 > len(data):
            raise ConversionError(f"{path}: truncated before storage {key}")
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        itemsize = 2 if ref.dtype == "bfloat16" else np.dtype(ref.dtype).itemsize
        nbytes = numel * itemsize
        if pos + nbytes > len(data):
            raise ConversionError(f"{path}: storage {key} needs {nbytes} bytes, file ends after {len(data) - pos}")
        ref.array = bytes_to_array(data[pos:pos + nbytes], ref.dtype, path, key)
        pos += nbytes
    return obj


def load_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ConversionError(f"{path}: zip checkpoint without exactly one data.pkl (found {pkl})")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = z.read(prefix + "byteorder").decode().strip()
        if byteorder != "little":
            raise ConversionError(f"{path}: big-endian checkpoints are not supported")
        storages = {}
        obj, _ = unpickle_at(z.read(pkl[0]), path, 0, storages)
        for key, ref in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise ConversionError(f"{path}: storage {key} missing (no member {member})")
            ref.array = bytes_to_array(z.read(member), ref.dtype, path, key)
    return obj


def load_checkpoint(path):
    if zipfile.is_zipfile(path):
        return load_zip(path)
    with open(path, "rb") as f:
        return load_legacy(f.read(), path)


# MARK: naming

TIMM_STAGE_BLOCK = re.compile(r"^blocks\.(\d+)\.(\d+)\.(.+)$")
TIMM_TOP = {"conv_stem.weight": "_conv_stem.weight", "conv_head.weight": "_conv_head.weight",
            "classifier.weight": "_fc.weight", "classifier.bias": "_fc.bias"}


def timm_block_leaf(leaf, expands):
    """timm leaf name inside a block -> lukemelas leaf. `expands`: the block has conv_pw + conv_pwl."""
    if expands:
        table = {"conv_pw.": "_expand_conv.", "bn1.": "_bn0.", "conv_dw.": "_depthwise_conv.",
                 "bn2.": "_bn1.", "conv_pwl.": "_project_conv.", "bn3.": "_bn2."}
    else:  # DepthwiseSeparableConv: conv_dw, bn1, se, conv_pw (projection), bn2
        table = {"conv_dw.": "_depthwise_conv.", "bn1.": "_bn1.", "conv_pw.": "_project_conv.", "bn2.": "_bn2."}
    table.update({"se.conv_reduce.": "_se_reduce.", "se.conv_expand.": "_se_expand."})
    for old, new in table.items():
        if leaf.startswith(old):
            return new + leaf[len(old):]
    raise ConversionError(f"unknown timm block parameter '{leaf}'")


def timm_to_canonical(state):
    stage_blocks = sorted({(int(m.group(1)), int(m.group(2)))
                           for k in state for m in [TIMM_STAGE_BLOCK.match(k)] if m})
    flat = {sb: i for i, sb in enumerate(stage_blocks)}
    out = {}
    for k, v in state.items():
        m = TIMM_STAGE_BLOCK.match(k)
        if m:
            sb = (int(m.group(1)), int(m.group(2)))
            expands = f"blocks.{sb[0]}.{sb[1]}.conv_pwl.weight" in state
            out[f"_blocks.{flat[sb]}.{timm_block_leaf(m.group(3), expands)}"] = v
        elif k in TIMM_TOP:
            out[TIMM_TOP[k]] = v
        elif k.startswith("bn1."):
            out["_bn0." + k[4:]] = v
        elif k.startswith("bn2."):
            out["_bn1." + k[4:]] = v
        else:
            raise ConversionError(f"unknown timm parameter '{k}'")
    return out


def find_state_dict(obj, path):
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model", "model_state_dict"):
            if wrapper in obj and isinstance(obj[wrapper], dict):
                return find_state_dict(obj[wrapper], path)
        if any(isinstance(v, TensorRef) for v in obj.values()):
            return obj
    raise ConversionError(f"{path}: no state dict of tensors found in the checkpoint")


def canonical_state(obj, path, naming):
    state = {}
    for k, v in find_state_dict(obj, path).items():
        if not isinstance(v, TensorRef):
            continue
        k = k[len("module."):] if k.startswith("module.") else k
        if k.endswith("num_batches_tracked"):
            continue  # training bookkeeping, not a weight
        state[k] = v
    if naming == "auto":
        naming = "timm" if "conv_stem.weight" in state else "lukemelas"
    if naming == "timm":
        state = timm_to_canonical(state)
    elif "_conv_stem.weight" not in state:
        raise ConversionError(f"{path}: no '_conv_stem.weight': not a lukemelas/efficientnet-lite checkpoint")
    return naming, state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--naming", choices=["auto", "lukemelas", "timm"], default="auto")
    ap.add_argument("--bn-eps", type=float, default=None,
                    help="batch-norm epsilon to record (default: 1e-3 lukemelas/lite and tf_ timm, 1e-5 timm)")
    ap.add_argument("--padding", choices=["same", "symmetric"], default=None,
                    help="convolution padding the checkpoint was trained with (default: same, timm: symmetric)")
    args = ap.parse_args(argv)
    try:
        naming, state = canonical_state(load_checkpoint(args.input), args.input, args.naming)
        eps = args.bn_eps if args.bn_eps is not None else (1e-5 if naming == "timm" else 1e-3)
        padding = args.padding or ("symmetric" if naming == "timm" else "same")
        tensors = {k: v.to_numpy().astype(np.float32) for k, v in state.items()}
        write_safetensors(args.output, tensors, {
            "format": "iumad-efficientnet", "source_naming": naming,
            "bn_eps": repr(eps), "padding": padding})
    except (ConversionError, OSError, zipfile.BadZipFile) as e:
        print(f"convert_weights: error: {e}", file=sys.stderr)
        return 1
    print(f"convert_weights: wrote {len(tensors)} tensors ({naming} naming, bn_eps {eps}, {padding} padding) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
