"""GGUF files (llama.cpp) ⇄ tensorcbor bundles, byte for byte.

Reading uses the PyPI ``gguf`` package's `GGUFReader` (memory-mapped; tensors are
zero-copy views). Every tensor of a supported type becomes one bundle tensor:
plain types as numpy arrays, Q8_0/Q4_0/MXFP4 as `BlockArray` with the same block
bytes (SPEC.md §4.6). GGUF lists dimensions innermost first (``ne[0]`` varies
fastest); tensorcbor shapes are row-major, so the shape is ``ne`` reversed.

The key-value metadata goes into the bundle metadata under the one key ``"gguf"``:

    {"version": 3,                       # GGUF file version
     "kv": [[key, type, value], ...],     # every KV pair, in file order
     "tensors": [name, ...]}              # tensor names in file order

`type` is the GGUF value type name (``"UINT32"``, ``"FLOAT32"``, ``"STRING"``,
``"BOOL"``, ...) or ``"ARRAY:<item type>"``; `value` is an int, float, bool, text
(bytes if the GGUF string is not UTF-8) or a list of those. Writing reverses this
exactly, with the tensors in the recorded order and the layout rule of GGUF
(tensor data aligned to ``general.alignment``, default 32, zero padding), so a
file that follows that rule (as gguf-py's GGUFWriter and llama.cpp write them)
converts to a bundle and back to the identical bytes. Other bundle metadata keys
are written as extra KV pairs (text as STRING, int as INT64, float as FLOAT64,
bool as BOOL) after the recorded ones.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from ..blocks import BlockArray
from ..dtypes import BY_NAME, GGUF_TYPE_NUMBERS, TABLE, DType
from ..errors import DecodeError, EncodeError
from ._common import Tensors, map_file, require, write_parts
from .gguf_scan import scan

__all__ = ["load", "save", "SUPPORTED_TYPES"]

_BY_GGUF: dict[str, DType] = {d.gguf: d for d in TABLE if d.gguf}
SUPPORTED_TYPES: tuple[str, ...] = tuple(_BY_GGUF)
_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
_MAX_DIMS = 4  # GGML_MAX_DIMS

# GGUF value types: name -> (number, struct format or None)
_VALUE_TYPES: dict[str, tuple[int, str | None]] = {
    "UINT8": (0, "<B"), "INT8": (1, "<b"), "UINT16": (2, "<H"), "INT16": (3, "<h"), "UINT32": (4, "<I"),
    "INT32": (5, "<i"), "FLOAT32": (6, "<f"), "BOOL": (7, "<?"), "STRING": (8, None), "ARRAY": (9, None),
    "UINT64": (10, "<Q"), "INT64": (11, "<q"), "FLOAT64": (12, "<d"),
}
_VALUE_NAMES = {num: name for name, (num, _) in _VALUE_TYPES.items()}


def _gguf() -> Any:
    return require("gguf", "gguf")


# ------------------------------------------------------------------ reading

def load(path: str | os.PathLike[str]) -> Tensors:
    """Every tensor of a .gguf file (views into a memory map) plus its KV metadata under ``"gguf"``."""
    gguf = _gguf()
    mapped = map_file(path)
    try:
        view = memoryview(mapped)
        try:
            scan(view, os.fspath(path))  # every count checked against the file's size before gguf-py trusts it
        finally:
            view.release()
    finally:
        if not isinstance(mapped, bytes):
            mapped.close()
    try:
        reader = gguf.GGUFReader(path, "r")
    except (ValueError, KeyError, IndexError, struct.error, OverflowError, TypeError) as exc:
        raise DecodeError("MALFORMED", f"{path}: not a readable GGUF file: {exc}") from None
    if getattr(reader, "endianess", None) is not None and reader.endianess.name != "LITTLE":
        raise DecodeError("MALFORMED", f"{path}: big-endian GGUF files are not supported; convert it with "
                                       "gguf-py's gguf_convert_endian first")
    kv: list[list[Any]] = []
    version = 3
    for field in reader.fields.values():
        if field.name == "GGUF.version":
            version = int(field.parts[-1][0])
            continue
        if field.name.startswith("GGUF."):
            continue  # tensor_count / kv_count: implied by the lists
        kv.append(_read_field(field, path))
    arrays: dict[str, Any] = {}
    for t in reader.tensors:
        arrays[t.name] = _read_tensor(reader, t, path)
    meta = {"gguf": {"version": version, "kv": kv, "tensors": list(arrays)}}
    return Tensors(arrays, meta)


def _read_field(field: Any, path: Any) -> list[Any]:
    types = [_VALUE_NAMES[int(t)] for t in field.types]
    if types[0] == "ARRAY":
        if len(types) != 2 or types[1] == "ARRAY":
            raise DecodeError("UNSUPPORTED_VALUE", f"{path}: KV {field.name!r} is a nested array, which this "
                                                   "converter does not map")
        items = [_scalar(types[1], field.parts[i]) for i in field.data]
        return [field.name, f"ARRAY:{types[1]}", items]
    return [field.name, types[0], _scalar(types[0], field.parts[field.data[0]])]


def _scalar(kind: str, part: np.ndarray) -> Any:
    if kind == "STRING":
        raw = part.tobytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    value = part.tolist()[0]
    if kind == "BOOL":
        return bool(value)
    if kind in ("FLOAT32", "FLOAT64"):
        return float(value)
    return int(value)


def _read_tensor(reader: Any, t: Any, path: Any) -> Any:
    name = t.tensor_type.name
    dt = _BY_GGUF.get(name)
    if dt is None:
        raise DecodeError("UNKNOWN_DTYPE", f"{path}: tensor {t.name!r} has GGUF type {name} "
                                           f"({int(t.tensor_type)}), which tensorcbor has no dtype for; supported: "
                                           f"{', '.join(SUPPORTED_TYPES)}")
    shape = tuple(int(d) for d in reversed(t.shape.tolist()))
    raw = reader.data[t.data_offset:t.data_offset + t.n_bytes]
    if raw.size != t.n_bytes:
        raise DecodeError("TRUNCATED", f"{path}: tensor {t.name!r} needs {t.n_bytes} bytes at offset "
                                       f"{t.data_offset}, the file ends first")
    if dt.block is not None:
        try:
            return BlockArray(dt.name, shape, raw)
        except EncodeError as exc:
            raise DecodeError("SHAPE_MISMATCH", f"{path}: tensor {t.name!r}: {exc}") from None
    return raw.view(dt.np_dtype.newbyteorder("<")).reshape(shape)


# ------------------------------------------------------------------ writing

def save(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write `t` as a GGUF v3 file (little endian); the inverse of `load`."""
    info = t.metadata.get("gguf") if isinstance(t.metadata.get("gguf"), dict) else None
    kv: list[list[Any]] = [list(e) for e in (info or {}).get("kv", [])]
    for key, value in t.metadata.items():
        if key != "gguf":
            kv.append([key, _infer_type(key, value), value])
    version = int((info or {}).get("version", 3))
    if version not in (2, 3):
        raise EncodeError(f"GGUF version {version} cannot be written (only 2 and 3 share this layout)")
    alignment = next((int(v) for k, _, v in kv if k == "general.alignment"), _DEFAULT_ALIGNMENT)
    if alignment <= 0 or alignment % 8:
        raise EncodeError(f"general.alignment {alignment} must be a positive multiple of 8")
    order = list((info or {}).get("tensors", []))
    if sorted(order) != sorted(t.arrays):
        order = list(t.arrays)
    tensors = [(name, *_tensor_bytes(name, t.arrays[name])) for name in order]
    header = [_MAGIC, struct.pack("<IQQ", version, len(tensors), len(kv))]
    header.extend(_kv_bytes(e) for e in kv)
    offset = 0
    for name, code, ne, data in tensors:
        header.append(_string(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
                      + struct.pack("<IQ", code, offset))
        offset += _padded(_nbytes(data), alignment)
    head = b"".join(header)
    parts: list[Any] = [head, bytes(_padded(len(head), alignment) - len(head))]
    for _, _, _, data in tensors:
        n = _nbytes(data)
        parts.append(data)
        parts.append(bytes(_padded(n, alignment) - n))
    write_parts(path, parts, maps=t.maps)


def _padded(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _nbytes(data: Any) -> int:
    return data.nbytes if isinstance(data, np.ndarray) else len(data)


def _tensor_bytes(name: str, arr: Any) -> tuple[int, list[int], Any]:
    if isinstance(arr, BlockArray):
        dt = BY_NAME[arr.dtype]
        shape, data = arr.shape, arr.data
    else:
        a = np.asarray(arr)
        from ..dtypes import from_numpy
        found = from_numpy(a.dtype)
        if found is None or found.gguf is None:
            supported = ", ".join(d.name for d in TABLE if d.gguf)
            raise EncodeError(f"tensor {name!r} is {found.name if found else a.dtype}, which GGUF has no type for; "
                              f"GGUF takes {supported}")
        dt, shape = found, a.shape
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).reshape(-1).view(np.uint8)
    if not 1 <= len(shape) <= _MAX_DIMS:
        raise EncodeError(f"tensor {name!r} has rank {len(shape)}; GGUF tensors have 1 to {_MAX_DIMS} dimensions "
                          "(reshape it)")
    assert dt.gguf is not None
    return GGUF_TYPE_NUMBERS[dt.gguf], [int(d) for d in reversed(shape)], data


def _infer_type(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, (str, bytes)):
        return "STRING"
    raise EncodeError(f"metadata {key!r} is a {type(value).__name__}; GGUF KV values written from bundle "
                      "metadata must be text, int, float or bool (or recorded under 'gguf')")


def _string(s: str | bytes) -> bytes:
    raw = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(raw)) + raw


def _kv_bytes(entry: list[Any]) -> bytes:
    if len(entry) != 3 or not isinstance(entry[0], str) or not isinstance(entry[1], str):
        raise EncodeError(f"GGUF KV entry {entry!r} is not [key, type, value]")
    key, kind, value = entry
    if kind.startswith("ARRAY:"):
        sub = kind.removeprefix("ARRAY:")
        if not isinstance(value, list):
            raise EncodeError(f"GGUF KV {key!r} of type {kind} needs a list value")
        body = struct.pack("<IQ", _type_number(key, sub), len(value)) + b"".join(
            _value_bytes(key, sub, v) for v in value)
        return _string(key) + struct.pack("<I", _VALUE_TYPES["ARRAY"][0]) + body
    return _string(key) + struct.pack("<I", _type_number(key, kind)) + _value_bytes(key, kind, value)


def _type_number(key: str, kind: str) -> int:
    if kind not in _VALUE_TYPES or kind == "ARRAY":
        raise EncodeError(f"GGUF KV {key!r} has type {kind!r}; expected one of "
                          f"{', '.join(k for k in _VALUE_TYPES if k != 'ARRAY')} or ARRAY:<type>")
    return _VALUE_TYPES[kind][0]


def _value_bytes(key: str, kind: str, value: Any) -> bytes:
    if kind == "STRING":
        if not isinstance(value, (str, bytes)):
            raise EncodeError(f"GGUF KV {key!r}: STRING value {value!r} is not text")
        return _string(value)
    fmt = _VALUE_TYPES[kind][1]
    assert fmt is not None
    try:
        return struct.pack(fmt, value)
    except struct.error as exc:
        raise EncodeError(f"GGUF KV {key!r}: {value!r} does not fit {kind}: {exc}") from None

