"""A small CBOR byte builder, written independently of tensorcbor's encoder.

Expected bytes of valid vectors are assembled here from SPEC.md's rules (heads,
RFC 8746 tags, the §4.3 padding rule, §4.4 packing, §6.2 float widths) and only
afterwards compared with ``tensorcbor.encode``; sharing code with the codec would
let one bug hide in both.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np

MAGIC_TENSOR = bytes.fromhex("d9d9f7d9cb74")
MAGIC_BUNDLE = bytes.fromhex("d9d9f7d9cb62")


@dataclass(frozen=True)
class Dt:
    """One dtype row, restated from SPEC.md §3 (checked against tensorcbor.dtypes by the generator)."""

    code: int
    name: str
    kind: str  # uint, int, float, complex, bool, string, block
    bits: int  # 0 for string and block types
    align: int
    tag: int | None
    np_name: str
    block: tuple[int, int] | None = None  # block types (SPEC.md §4.6): (elements, bytes) per block

    @property
    def np_dtype(self) -> np.dtype:
        if self.np_name == "complex32":  # numpy has none: two little-endian float16 (SPEC.md §3)
            return np.dtype([("real", "<f2"), ("imag", "<f2")])
        if self.block is not None:
            return np.dtype(np.uint8)
        if self.np_name == "string":
            return np.dtype(np.dtypes.StringDType())
        if hasattr(ml_dtypes, self.np_name) and not hasattr(np, self.np_name):
            return np.dtype(getattr(ml_dtypes, self.np_name))
        return np.dtype(self.np_name)

    @property
    def packed(self) -> bool:
        return 0 < self.bits < 8

    def nbytes(self, n: int) -> int:
        if self.block is not None:
            return n // self.block[0] * self.block[1]
        return (n * self.bits + 7) // 8


_SPEC_ROWS = [
    (1, "float32", "float", 32, 4, 85), (2, "uint8", "uint", 8, 1, 64), (3, "int8", "int", 8, 1, 72),
    (4, "uint16", "uint", 16, 2, 69), (5, "int16", "int", 16, 2, 77), (6, "int32", "int", 32, 4, 78),
    (7, "int64", "int", 64, 8, 79), (8, "string", "string", 0, 1, None), (9, "bool", "bool", 8, 1, None),
    (10, "float16", "float", 16, 2, 84), (11, "float64", "float", 64, 8, 86), (12, "uint32", "uint", 32, 4, 70),
    (13, "uint64", "uint", 64, 8, 71), (14, "complex64", "complex", 64, 4, None),
    (15, "complex128", "complex", 128, 8, None), (16, "bfloat16", "float", 16, 2, None),
    (17, "float8_e4m3fn", "float", 8, 1, None), (18, "float8_e4m3fnuz", "float", 8, 1, None),
    (19, "float8_e5m2", "float", 8, 1, None), (20, "float8_e5m2fnuz", "float", 8, 1, None),
    (21, "uint4", "uint", 4, 1, None), (22, "int4", "int", 4, 1, None), (23, "float4_e2m1fn", "float", 4, 1, None),
    (24, "float8_e8m0fnu", "float", 8, 1, None), (25, "uint2", "uint", 2, 1, None), (26, "int2", "int", 2, 1, None),
    (27, "float6_e2m3fn", "float", 6, 1, None), (28, "float6_e3m2fn", "float", 6, 1, None),
    (128, "float8_e4m3", "float", 8, 1, None), (129, "float8_e3m4", "float", 8, 1, None),
    (130, "float8_e4m3b11fnuz", "float", 8, 1, None), (131, "complex32", "complex", 32, 2, None),
]
DTYPES: list[Dt] = [Dt(c, n, k, b, a, t, n) for c, n, k, b, a, t in _SPEC_ROWS]
"""Every element (non-block) dtype."""
# Block-quantized types (SPEC.md §4.6): code, name, align, (elements, bytes) per block.
BLOCK_DTYPES: list[Dt] = [Dt(c, n, "block", 0, a, None, n, blk) for c, n, a, blk in (
    (160, "mxfp4", 1, (32, 17)), (161, "q8_0", 2, (32, 34)), (162, "q4_0", 2, (32, 18)))]
ALL_DTYPES: list[Dt] = DTYPES + BLOCK_DTYPES
BY_NAME: dict[str, Dt] = {d.name: d for d in ALL_DTYPES}


# ---------------------------------------------------------------- heads

def head(major: int, arg: int) -> bytes:
    """Shortest head (RFC 8949 §4.2.1)."""
    if arg < 24:
        return bytes([major << 5 | arg])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | ai]) + arg.to_bytes(size, "big")
    raise ValueError(arg)


def wide_head(major: int, arg: int, size: int) -> bytes:
    """A head with an argument of exactly `size` bytes (0 = in the initial byte)."""
    if size == 0:
        return bytes([major << 5 | arg])
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size]]) + arg.to_bytes(size, "big")


def uint(n: int) -> bytes:
    return head(0, n)


def text(s: str | bytes) -> bytes:
    raw = s.encode("utf-8") if isinstance(s, str) else s
    return head(3, len(raw)) + raw


def bstr(b: bytes) -> bytes:
    return head(2, len(b)) + b


def array(items: list[bytes]) -> bytes:
    return head(4, len(items)) + b"".join(items)


# ---------------------------------------------------------------- metadata values

class F:
    """A metadata float (distinct from an int, SPEC.md §6.2 rule 6)."""

    __slots__ = ("v",)

    def __init__(self, v: float) -> None:
        self.v = v


@dataclass
class M:
    """A metadata map given as ordered (key, value) pairs; `encode` sorts by encoded key."""

    items: list[tuple[str, Any]] = field(default_factory=list)


def enc_float(x: float) -> bytes:
    if math.isnan(x):
        return b"\xf9\x7e\x00"
    for prefix, fmt in ((b"\xf9", ">e"), (b"\xfa", ">f")):
        try:
            packed = struct.pack(fmt, x)
        except OverflowError:
            continue
        if struct.unpack(fmt, packed)[0] == x and math.copysign(1, struct.unpack(fmt, packed)[0]) == \
                math.copysign(1, x):
            return prefix + packed
    return b"\xfb" + struct.pack(">d", x)


def enc_value(v: Any) -> bytes:
    """Deterministic encoding of a metadata value built from None/bool/int/F/str/bytes/list/M."""
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, F):
        return enc_float(v.v)
    if isinstance(v, str):
        return text(v)
    if isinstance(v, bytes):
        return bstr(v)
    if isinstance(v, list):
        return array([enc_value(x) for x in v])
    if isinstance(v, M):
        pairs = sorted((text(k), enc_value(x)) for k, x in v.items)
        return head(5, len(pairs)) + b"".join(k + x for k, x in pairs)
    raise TypeError(type(v))


def float_json(x: float) -> float | str:
    """Element/metadata float as JSON: finite non-zero values as numbers, else "inf", "-inf", "-0", "0"..."""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0 and math.copysign(1, x) < 0:
        return "-0"
    return x


def typed_json(v: Any) -> Any:
    """The manifest's typed JSON form of a metadata value (conformance/README.md, "metadata")."""
    if v is None or v is True or v is False or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, F):
        if math.isnan(v.v):
            return {"float": "nan"}
        j = float_json(v.v)
        return {"float": j if isinstance(j, str) else repr(j)}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, list):
        return {"array": [typed_json(x) for x in v]}
    if isinstance(v, M):
        pairs = sorted(((text(k), k, x) for k, x in v.items), key=lambda t: t[0])
        return {"map": [[k, typed_json(x)] for _, k, x in pairs]}
    raise TypeError(type(v))


def python_value(v: Any) -> Any:
    """The value tensorcbor's encode_bundle takes for a metadata value."""
    if isinstance(v, F):
        return v.v
    if isinstance(v, list):
        return [python_value(x) for x in v]
    if isinstance(v, M):
        return {k: python_value(x) for k, x in v.items}
    return v


# ---------------------------------------------------------------- tensors

def pack_bits(values: list[int], bits: int) -> bytes:
    """SPEC.md §4.4: element i occupies stream bits i*b.., LSB first; stream bit k is bit k%8 of byte k//8."""
    acc = 0
    for i, v in enumerate(values):
        acc |= (v & ((1 << bits) - 1)) << (i * bits)
    return acc.to_bytes((len(values) * bits + 7) // 8, "little")


@dataclass
class TensorSpec:
    """A tensor to encode: dtype, shape and either element bytes or strings."""

    dt: Dt
    shape: tuple[int, ...]
    data: bytes = b""
    strings: list[str] | None = None


def tensor_item(t: TensorSpec, offset: int, version: bool) -> bytes:
    """The tensor array (with version if `version`) whose first byte lands at document offset `offset`."""
    fields = (b"\x01" if version else b"") + uint(t.dt.code) + array([uint(d) for d in t.shape])
    base = 4 if version else 3
    if t.strings is not None:
        return head(4, base) + fields + array([text(s) for s in t.strings])
    data_head = (head(6, t.dt.tag) if t.dt.tag is not None else b"") + head(2, len(t.data))
    p = offset + 1 + len(fields) + len(data_head)
    s = (-p) % t.dt.align
    pad = head(2, s - 1) + bytes(s - 1) if s else b""
    assert len(pad) == s
    return head(4, base + (1 if s else 0)) + fields + pad + data_head + t.data


def tensor_doc(t: TensorSpec) -> bytes:
    return MAGIC_TENSOR + tensor_item(t, len(MAGIC_TENSOR), version=True)


@dataclass
class CItem:
    """A compressed data item (SPEC.md §11.1) as a bundle item carries it, with what its directory entry says."""

    item: bytes  # 52090([codec, filter, length, zstd]), complete
    codec: int
    filt: int
    zlen: int  # length of the zstd bytes, which end the item


def bundle_item(t: TensorSpec, rel: int, c: CItem | None = None) -> tuple[bytes, int, int]:
    """A bundle's tensor item [?pad, data] starting `rel` bytes after B; also where (from its start) the bytes
    its directory entry locates begin, and their length (SPEC.md §5.2 layout rule)."""
    if c is not None:
        return b"\x81" + c.item, 1 + len(c.item) - c.zlen, c.zlen
    if t.strings is not None:
        strings = array([text(s) for s in t.strings])
        return b"\x81" + strings, 1, len(strings)
    data_head = (head(6, t.dt.tag) if t.dt.tag is not None else b"") + head(2, len(t.data))
    s = (-(rel + 1 + len(data_head))) % t.dt.align
    pad = head(2, s - 1) + bytes(s - 1) if s else b""
    return head(4, 2 if s else 1) + pad + data_head + t.data, 1 + s + len(data_head), len(t.data)


def directory_entry(key: bytes, t: TensorSpec, offset: int, length: int, c: CItem | None = None) -> bytes:
    fields = [key, uint(t.dt.code), array([uint(d) for d in t.shape]), uint(offset), uint(length)]
    if c is not None:
        fields += [uint(c.codec), uint(c.filt)]
    return array(fields)


def bundle_pad(prefix_len: int) -> bytes:
    """The pad item that puts B, the end of the prefix, at a multiple of 8."""
    k = (-(prefix_len + 1)) % 8
    return head(2, k) + bytes(k)


def assemble_bundle(meta: bytes, entries: list[bytes], items: list[bytes], count: int | None = None) -> bytes:
    """Prefix, pad and tensors from encoded metadata, raw directory entries and raw items."""
    n = len(entries) if count is None else count
    prefix = MAGIC_BUNDLE + b"\x85\x01" + meta + head(4, len(entries)) + b"".join(entries)
    return prefix + bundle_pad(len(prefix)) + head(4, n) + b"".join(items)


def layout(tensors: list[tuple[bytes, TensorSpec, CItem | None]]) -> tuple[list[bytes], list[bytes]]:
    """Directory entries and items of tensors given in wire order (keys already sorted)."""
    entries, items = [], []
    rel = len(head(4, len(tensors)))
    for key, t, c in tensors:
        item, at, length = bundle_item(t, rel, c)
        entries.append(directory_entry(key, t, rel + at, length, c))
        items.append(item)
        rel += len(item)
    return entries, items


def bundle_doc(metadata: M, tensors: list[tuple[str, TensorSpec]]) -> bytes:
    """55799(52066([1, metadata, directory, pad, tensors])), SPEC.md §5.2."""
    ordered = sorted((text(n), t, None) for n, t in tensors) if tensors else []
    entries, items = layout(ordered)
    return assemble_bundle(enc_value(metadata), entries, items)


# ---------------------------------------------------------------- walking heads (for mutations)

@dataclass(frozen=True)
class Head:
    """A head found in a well-formed blob: position, major type, argument size in bytes, argument."""

    pos: int
    major: int
    size: int
    arg: int
    ai: int

    @property
    def end(self) -> int:
        return self.pos + 1 + self.size


def read_head(b: bytes, pos: int) -> Head:
    ib = b[pos]
    major, ai = ib >> 5, ib & 31
    if ai < 24:
        return Head(pos, major, 0, ai, ai)
    size = 1 << (ai - 24)
    return Head(pos, major, size, int.from_bytes(b[pos + 1:pos + 1 + size], "big"), ai)


def walk(b: bytes) -> list[Head]:
    """Every head of a well-formed definite-length blob, in order (string contents skipped)."""
    heads: list[Head] = []

    def item(pos: int) -> int:
        h = read_head(b, pos)
        heads.append(h)
        pos = h.end
        if h.major in (2, 3):
            return pos + h.arg
        if h.major == 4:
            for _ in range(h.arg):
                pos = item(pos)
        elif h.major == 5:
            for _ in range(2 * h.arg):
                pos = item(pos)
        elif h.major == 6:
            pos = item(pos)
        return pos

    end = item(0)
    assert end == len(b), (end, len(b))
    return heads


def item_end(b: bytes, pos: int) -> int:
    """End offset of the data item starting at `pos`."""
    h = read_head(b, pos)
    p = h.end
    if h.major in (2, 3):
        return p + h.arg
    if h.major == 4:
        for _ in range(h.arg):
            p = item_end(b, p)
    elif h.major == 5:
        for _ in range(2 * h.arg):
            p = item_end(b, p)
    elif h.major == 6:
        p = item_end(b, p)
    return p
