"""safetensors files and bytes ⇄ tensors, written and read without the safetensors package.

The format is an 8-byte little-endian header length N, N bytes of JSON (padded
with spaces to a multiple of 8), then the raw little-endian element bytes. Its
element bytes are exactly tensorcbor's wire payload (sub-byte F4/F6 are packed
low bits first, as ONNX and tensorcbor pack them), so conversion copies byte
ranges and never re-encodes.

Metadata mapping (reversible both ways): each text-valued bundle metadata entry
is a native ``__metadata__`` entry (so ``{"format": "pt"}`` is what transformers
reads). Entries with any other value (numbers, lists, maps, bytes...) are written
together under the one ``__metadata__`` key ``"tensorcbor.metadata"``, as
standard base64 of their deterministic CBOR map, and read back from there into
the top level. A file without ``__metadata__`` gives empty metadata and the
reverse; an empty ``__metadata__`` object is not kept.

The writer reproduces the safetensors library's layout byte for byte: tensors
ordered by dtype (descending, in the library's enum order) then by name, compact
JSON with ``__metadata__`` first, padding with spaces. The library writes the
keys of ``__metadata__`` in hash order, so files with two or more metadata keys
are only equal as JSON; we write them sorted.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..cbor import Reader, encode_map
from ..dtypes import TABLE, DType
from ..errors import DecodeError, EncodeError
from ..tensor import MAX_RANK, Payload, prepare
from ._common import Progress, Tensors, load_json, map_file, payload_size, write_parts

__all__ = ["read_header", "load", "loads", "save", "saves", "parts", "EXTRA_KEY"]

EXTRA_KEY = "tensorcbor.metadata"
MAX_HEADER = 100_000_000  # the safetensors library's own limit
MAX_ELEMENTS = 2**53 - 1  # SPEC.md's limit on the product of the non-zero dimensions

BY_SAFETENSORS: dict[str, DType] = {d.safetensors: d for d in TABLE if d.safetensors}
# The order of the safetensors library's Rust `Dtype` enum; it sorts tensors by it (descending).
_ENUM_ORDER = ("BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
               "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64")
_RANK = {name: i for i, name in enumerate(_ENUM_ORDER)}


# ---------------------------------------------------------------- reading

def read_header(buf: Any) -> tuple[dict[str, Any], int]:
    """Parse and check the JSON header of a safetensors buffer; returns (header, data start)."""
    size = len(buf)
    if size < 8:
        raise DecodeError("TRUNCATED", f"a safetensors file starts with an 8-byte header length; only {size} bytes")
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    if n > MAX_HEADER:
        raise DecodeError("MALFORMED", f"safetensors header claims {n} bytes, over the {MAX_HEADER}-byte limit", 0)
    if 8 + n > size:
        raise DecodeError("TRUNCATED", f"safetensors header claims {n} bytes but the input has {size - 8}", 0)
    header = load_json(bytes(buf[8:8 + n]), "safetensors header", 8)
    if not isinstance(header, dict):
        raise DecodeError("MALFORMED", "safetensors header is not a JSON object", 8)
    return header, 8 + n


def _entry(name: str, spec: Any, data_len: int) -> tuple[DType, tuple[int, ...], int, int]:
    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
        raise DecodeError("MALFORMED", f"safetensors tensor {name!r} needs dtype, shape and data_offsets")
    dt = BY_SAFETENSORS.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    if dt is None:
        raise DecodeError("UNKNOWN_DTYPE", f"safetensors tensor {name!r} has dtype {spec['dtype']!r}, not one of "
                          + ", ".join(BY_SAFETENSORS))
    shape, offsets = spec["shape"], spec["data_offsets"]
    if (not isinstance(shape, list) or len(shape) > MAX_RANK
            or not all(type(d) is int and d >= 0 for d in shape)):
        raise DecodeError("MALFORMED", f"safetensors tensor {name!r}: shape {shape!r} is not a list of at most "
                          f"{MAX_RANK} non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_len):
        raise DecodeError("TRUNCATED" if isinstance(offsets, list) and len(offsets) == 2
                          and all(type(o) is int for o in offsets) and offsets[1] > data_len else "MALFORMED",
                          f"safetensors tensor {name!r}: data_offsets {offsets!r} do not lie within the "
                          f"{data_len} data bytes")
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if int(np.prod([d for d in shape if d], dtype=object)) > MAX_ELEMENTS:
        raise DecodeError("SIZE_OVERFLOW", f"safetensors tensor {name!r}: shape {shape} has more than 2^53 - 1 "
                          "elements")
    if (count * dt.bits) % 8:
        raise DecodeError("SHAPE_MISMATCH", f"safetensors tensor {name!r}: {count} {dt.name} elements do not end "
                          "on a byte boundary")
    if dt.nbytes(count) != offsets[1] - offsets[0]:
        raise DecodeError("SHAPE_MISMATCH", f"safetensors tensor {name!r}: shape {shape} of {dt.name} needs "
                          f"{dt.nbytes(count)} bytes, data_offsets span {offsets[1] - offsets[0]}")
    return dt, tuple(shape), offsets[0], offsets[1]


def _array(buf: Any, dt: DType, shape: tuple[int, ...], start: int, end: int, name: str) -> np.ndarray:
    raw = np.frombuffer(buf, np.uint8, end - start, start)
    if dt.packed:
        from ..packing import unpack
        values, _ = unpack(raw, dt.bits, int(np.prod(shape, dtype=np.int64)))
        return values.view(dt.np_dtype).reshape(shape)
    if dt.kind == "bool" and raw.size and int(raw.max()) > 1:
        raise DecodeError("INVALID_ELEMENT", f"safetensors tensor {name!r}: a BOOL byte is not 0 or 1", start)
    if raw.size == 0:
        return np.empty(shape, dt.np_dtype)
    arr = raw.view(dt.np_dtype.newbyteorder("<")).reshape(shape)
    return arr if arr.dtype.isnative else arr.astype(dt.np_dtype)


def loads(buf: Any) -> Tensors:
    """Tensors of a safetensors buffer (bytes, mmap): arrays are read-only views into it."""
    header, data_start = read_header(buf)
    data_len = len(buf) - data_start
    meta_in = header.pop("__metadata__", None)
    arrays: dict[str, np.ndarray] = {}
    spans = []
    for name, spec in header.items():
        if not name:
            raise DecodeError("INVALID_NAME", "safetensors tensor with an empty name")
        dt, shape, start, end = _entry(name, spec, data_len)
        spans.append((start, end, name))
        arrays[name] = _array(buf, dt, shape, data_start + start, data_start + end, name)
    _check_coverage(spans, data_len, data_start)
    return Tensors(arrays, _metadata_in(meta_in))


def _check_coverage(spans: list[tuple[int, int, str]], data_len: int, data_start: int) -> None:
    """The tensors tile the data section exactly, as the safetensors library requires: no overlap, gap or tail."""
    spans.sort()
    at, prev = 0, None
    for start, end, name in spans:
        if start < at:
            raise DecodeError("MALFORMED", f"safetensors tensors {prev!r} and {name!r} overlap", data_start + start)
        if start > at:
            raise DecodeError("MALFORMED", f"safetensors data section has {start - at} bytes that belong to no "
                              f"tensor before {name!r} (a gap)", data_start + at)
        at, prev = end, name
    if at != data_len:
        raise DecodeError("TRAILING_BYTES", f"safetensors data section has {data_len - at} bytes after the last "
                          "tensor", data_start + at)


def load(path: str | os.PathLike[str]) -> Tensors:
    """Memory-map a .safetensors file; arrays are views into the map (nothing is read twice)."""
    buf = map_file(path)
    t = loads(buf)
    if not isinstance(buf, bytes):
        t.maps.append(buf)
    return t


def _metadata_in(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise DecodeError("MALFORMED", "safetensors __metadata__ must map text to text")
    out = dict(meta)
    extra = out.pop(EXTRA_KEY, None)
    if extra is not None:
        try:
            blob = base64.b64decode(extra, validate=True)
        except ValueError:
            raise DecodeError("MALFORMED", f"__metadata__[{EXTRA_KEY!r}] is not base64") from None
        r = Reader(blob)
        rest = r.map_body(r.expect(5, "the tensorcbor metadata map"), 1)
        if r.pos != len(blob):
            raise DecodeError("TRAILING_BYTES", f"__metadata__[{EXTRA_KEY!r}] has bytes after its map")
        clash = sorted(set(rest) & set(out))
        if clash:
            raise DecodeError("DUPLICATE_KEY", f"metadata key {clash[0]!r} is both a __metadata__ entry and inside "
                              f"__metadata__[{EXTRA_KEY!r}]")
        out.update(rest)
    return out


# ---------------------------------------------------------------- writing

def _metadata_out(metadata: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not metadata:
        return None
    if EXTRA_KEY in metadata:
        raise EncodeError(f"metadata key {EXTRA_KEY!r} is reserved in safetensors for the non-text metadata "
                          "entries; rename it")
    out = {k: v for k, v in metadata.items() if isinstance(v, str)}
    rest = {k: v for k, v in metadata.items() if not isinstance(v, str)}
    if rest:
        blob = bytearray()
        encode_map(rest, blob)
        out[EXTRA_KEY] = base64.b64encode(bytes(blob)).decode("ascii")
    return dict(sorted(out.items()))


def parts(tensors: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> list[Payload]:
    """The pieces of a safetensors file, laid out exactly as the safetensors library does."""
    entries = []
    for name, array in tensors.items():
        dt, shape, payload = prepare(array)
        if dt.safetensors is None:
            raise EncodeError(f"tensor {name!r} is {dt.name}, which safetensors cannot store; cast it (e.g. int4 "
                              "to int8) or keep it in .tcb")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if (count * dt.bits) % 8:
            raise EncodeError(f"tensor {name!r}: safetensors needs {dt.name} tensors to fill whole bytes; "
                              f"{count} elements of {dt.bits} bits do not")
        entries.append((-_RANK[dt.safetensors], name, dt, shape, payload))
    entries.sort(key=lambda e: (e[0], e[1]))
    header: dict[str, Any] = {}
    meta = _metadata_out(metadata)
    if meta is not None:
        header["__metadata__"] = meta
    offset = 0
    for _, name, dt, shape, payload in entries:
        n = payload_size(payload)
        header[name] = {"dtype": dt.safetensors, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return [struct.pack("<Q", len(text)) + text] + [e[4] for e in entries]


def saves(tensors: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> bytes:
    """safetensors bytes of named arrays (equal to ``safetensors.numpy.save`` for the same input)."""
    return b"".join(bytes(p) if not isinstance(p, bytes) else p for p in parts(tensors, metadata))


def save(tensors: Mapping[str, Any], path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None,
         *, progress: Progress | None = None, maps: Any = ()) -> None:
    """Write a .safetensors file piece by piece (each tensor's bytes are copied once, to the file)."""
    write_parts(path, parts(tensors, metadata), progress=progress, maps=maps)
