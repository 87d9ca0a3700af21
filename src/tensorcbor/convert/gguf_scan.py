"""A bounds check of a GGUF file's header before gguf-py reads it.

gguf-py trusts the counts a file claims: an array of 2^62 UINT8 in a 49-byte file makes it allocate until memory
runs out, nested arrays recurse without limit, and tensor data may overlap or sit off its alignment. This module
walks the header once, in time and memory bounded by the file's size, and refuses with a registry code:

- every count (KV pairs, tensors, array items, string bytes, dimensions) is checked against the bytes left before
  anything is read for it (``TRUNCATED``);
- an array of arrays is refused at its head (``UNSUPPORTED_VALUE``; this converter maps one level of arrays, so
  the nesting limit is 1 and no nested item is ever walked);
- tensor types must be ones tensorcbor has (``UNKNOWN_DTYPE``), shapes must fit (``SIZE_OVERFLOW``), and the data
  of each tensor must start at a multiple of ``general.alignment``, lie inside the file and not overlap another
  tensor's (``MALFORMED``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..dtypes import BY_NAME, GGUF_TYPE_NUMBERS
from ..errors import DecodeError

__all__ = ["GGUFTensorInfo", "scan"]

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ELEMENTS = (1 << 63) - 1

# value type number -> fixed size in bytes (None: STRING and ARRAY, whose size is read)
_FIXED: dict[int, int | None] = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: None, 9: None, 10: 8, 11: 8,
                                 12: 8}
_STRING, _ARRAY, _UINT32, _UINT64 = 8, 9, 4, 10
# GGML type number -> (elements per block, bytes per block) for the types tensorcbor maps
_GGML_SIZES: dict[int, tuple[int, int]] = {}
for _name, _number in GGUF_TYPE_NUMBERS.items():
    _dt = next(d for d in BY_NAME.values() if d.gguf == _name)
    _GGML_SIZES[_number] = _dt.block if _dt.block is not None else (1, _dt.bits // 8)


@dataclass(frozen=True)
class GGUFTensorInfo:
    name: str
    ggml_type: int
    dims: tuple[int, ...]
    offset: int
    """Relative to the start of the data section."""
    nbytes: int


class _Cursor:
    __slots__ = ("buf", "pos", "where")

    def __init__(self, buf: memoryview, where: str) -> None:
        self.buf = buf
        self.pos = 0
        self.where = where

    def need(self, n: int, what: str) -> None:
        if n > len(self.buf) - self.pos:
            raise DecodeError("TRUNCATED", f"{self.where}: {what} needs {n} bytes at byte {self.pos}, but the file "
                              f"has only {len(self.buf) - self.pos} left", self.pos)

    def unpack(self, fmt: str, what: str) -> int:
        size = struct.calcsize(fmt)
        self.need(size, what)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return int(value)

    def string(self, what: str) -> bytes:
        n = self.unpack("<Q", f"the length of {what}")
        self.need(n, what)
        start = self.pos
        self.pos += n
        return bytes(self.buf[start:self.pos])

    def claim(self, count: int, each: int, what: str) -> None:
        """`count` items of at least `each` bytes must fit in what is left: checked before any is read."""
        if count * each > len(self.buf) - self.pos:
            raise DecodeError("TRUNCATED", f"{self.where}: {what} claims {count} items of at least {each} bytes, "
                              f"but the file has only {len(self.buf) - self.pos} bytes left", self.pos)


def scan(data: memoryview, where: str) -> tuple[int, list[GGUFTensorInfo]]:
    """(version, tensor infos) of a little-endian GGUF v2/v3 file held in `data`, or a coded DecodeError."""
    c = _Cursor(data, where)
    c.need(4, "the GGUF magic")
    if bytes(data[:4]) != MAGIC:
        raise DecodeError("BAD_MAGIC", f"{where}: not a GGUF file (it does not start with 'GGUF')", 0)
    c.pos = 4
    version = c.unpack("<I", "the GGUF version")
    if version not in (2, 3):
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        hint = " (a big-endian file: convert it with gguf-py's gguf_convert_endian first)" if swapped in (2, 3) else ""
        raise DecodeError("MALFORMED", f"{where}: GGUF version {version} is not supported (2 and 3 are){hint}", 4)
    n_tensors = c.unpack("<Q", "the tensor count")
    n_kv = c.unpack("<Q", "the KV count")
    c.claim(n_kv, 8 + 4 + 1, "the KV count")
    alignment = DEFAULT_ALIGNMENT
    for _ in range(n_kv):
        key = c.string("a KV key")
        kind = c.unpack("<I", "a KV value type")
        value = _value(c, kind, key)
        if key == b"general.alignment" and kind == _UINT32:
            alignment = value
    if alignment <= 0 or alignment % 8:
        raise DecodeError("MALFORMED", f"{where}: general.alignment {alignment} is not a positive multiple of 8")
    c.claim(n_tensors, 8 + 4 + 4 + 8, "the tensor count")
    infos = [_tensor_info(c) for _ in range(n_tensors)]
    data_start = -(-c.pos // alignment) * alignment
    _check_layout(infos, alignment, len(data) - data_start, where)
    return version, infos


def _value(c: _Cursor, kind: int, key: bytes) -> int:
    """Skip one KV value of type `kind`; returns an integer scalar's value (for general.alignment), else 0."""
    if kind == _STRING:
        c.string(f"KV {key!r}'s string")
        return 0
    if kind == _ARRAY:
        item = c.unpack("<I", f"KV {key!r}'s array item type")
        count = c.unpack("<Q", f"KV {key!r}'s array length")
        if item == _ARRAY:
            raise DecodeError("UNSUPPORTED_VALUE", f"{c.where}: KV {key.decode('utf-8', 'replace')!r} is an array "
                              "of arrays, which this converter does not map (one level of arrays only)", c.pos - 12)
        size = _FIXED.get(item, -1)
        if size == -1:
            raise DecodeError("MALFORMED", f"{c.where}: KV {key!r} has array item type {item}, which GGUF does not "
                              "define", c.pos - 12)
        c.claim(count, 8 if size is None else size, f"KV {key.decode('utf-8', 'replace')!r}'s array")
        if size is None:
            for _ in range(count):  # at least 8 bytes each, claimed above: bounded by the file
                c.string(f"an item of KV {key!r}")
        else:
            c.pos += count * size
        return 0
    size = _FIXED.get(kind)
    if size is None:
        raise DecodeError("MALFORMED", f"{c.where}: KV {key!r} has value type {kind}, which GGUF does not define",
                          c.pos - 4)
    c.need(size, f"KV {key!r}'s value")
    value = int.from_bytes(c.buf[c.pos:c.pos + size], "little")
    c.pos += size
    return value


def _tensor_info(c: _Cursor) -> GGUFTensorInfo:
    raw = c.string("a tensor name")
    name = raw.decode("utf-8", "replace")
    n_dims = c.unpack("<I", f"tensor {name!r}'s dimension count")
    if n_dims > MAX_DIMS:
        raise DecodeError("MALFORMED", f"{c.where}: tensor {name!r} has {n_dims} dimensions; GGUF allows at most "
                          f"{MAX_DIMS}", c.pos - 4)
    dims = tuple(c.unpack("<Q", f"tensor {name!r}'s dimensions") for _ in range(n_dims))
    ggml_type = c.unpack("<I", f"tensor {name!r}'s type")
    offset = c.unpack("<Q", f"tensor {name!r}'s data offset")
    sizes = _GGML_SIZES.get(ggml_type)
    if sizes is None:
        raise DecodeError("UNKNOWN_DTYPE", f"{c.where}: tensor {name!r} has GGML type {_ggml_name(ggml_type)} "
                          f"({ggml_type}), which tensorcbor has no dtype for; supported: "
                          f"{', '.join(GGUF_TYPE_NUMBERS)}", c.pos - 12)
    count = 1
    for d in dims:
        count *= d
        if count > MAX_ELEMENTS:
            raise DecodeError("SIZE_OVERFLOW", f"{c.where}: tensor {name!r}'s dimensions {list(dims)} multiply to "
                              "more than 2^63 - 1 elements")
    per_block, block_bytes = sizes
    if count % per_block:
        raise DecodeError("SHAPE_MISMATCH", f"{c.where}: tensor {name!r} has {count} elements, not whole blocks of "
                          f"{per_block}")
    return GGUFTensorInfo(name, ggml_type, dims, offset, count // per_block * block_bytes)


def _ggml_name(number: int) -> str:
    """gguf-py's name of a GGML type number, for messages (the reader needs gguf-py anyway)."""
    try:
        from gguf import GGMLQuantizationType

        return GGMLQuantizationType(number).name
    except (ImportError, ValueError):
        return "unknown"


def _check_layout(infos: list[GGUFTensorInfo], alignment: int, data_bytes: int, where: str) -> None:
    """Each tensor's data aligned, inside the file, and apart from every other tensor's."""
    end_of_previous, previous = 0, None
    for t in sorted(infos, key=lambda t: (t.offset, t.nbytes)):
        if t.offset % alignment:
            raise DecodeError("MALFORMED", f"{where}: tensor {t.name!r} starts at data offset {t.offset}, not a "
                              f"multiple of the alignment {alignment}")
        if t.offset + t.nbytes > data_bytes:
            raise DecodeError("TRUNCATED", f"{where}: tensor {t.name!r} needs {t.nbytes} bytes at data offset "
                              f"{t.offset}, but the data section holds {max(data_bytes, 0)}")
        if previous is not None and t.offset < end_of_previous and t.nbytes:
            raise DecodeError("MALFORMED", f"{where}: tensor {t.name!r} (data offset {t.offset}) overlaps tensor "
                              f"{previous!r}, which ends at {end_of_previous}")
        if t.nbytes:
            end_of_previous, previous = t.offset + t.nbytes, t.name
