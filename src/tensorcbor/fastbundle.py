"""A bulk fast path for bundles of many tensors; the reference parser stays the judge.

The reference parser (bundle.py) reads one head per Python call, which costs several
microseconds per tensor. Here the directory is decoded in one C call (cbor2) and
proven deterministic by re-encoding the decoded value and comparing the bytes: for
arrays of text and unsigned integers the re-encoding is the one shortest,
definite-length encoding, so equality proves every head check of SPEC.md §7.1. The
per-entry checks (sorted unique names, dtype, shape, length, the layout rule) then run
in one tight loop, and every item's heads are compared with the only heads the layout
rule allows. Anything unproven (an error, a compressed or string tensor, a short
input) returns None: the caller reruns the reference parser, so error codes and
offsets come from one place only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import cbor2

from .bundle import MAX_NAME_BYTES, BundlePrefix, LayoutEntry, read_tensors_head
from .cbor import NO_LIMIT, Reader, head
from .dtypes import BY_CODE, DType
from .errors import DecodeError
from .tensor import _BIG_ENDIAN_HOST, MAX_ELEMENTS, MAX_RANK, TensorInfo

_U64 = 1 << 64
_TAG_LEN = {d.code: (len(head(6, d.rfc8746_tag)) if d.rfc8746_tag is not None else 0) for d in BY_CODE.values()}
_TAG_HEAD = {d.code: (head(6, d.rfc8746_tag) if d.rfc8746_tag is not None else b"") for d in BY_CODE.values()}
_ITEM_HEADS: dict[tuple[int, int, int], bytes] = {}


def _head_len(n: int) -> int:
    return 1 if n < 24 else 2 if n < 0x100 else 3 if n < 0x10000 else 5 if n < 0x100000000 else 9


class Table:
    """The checked directory of a bundle, as parallel lists: TensorInfo objects are built on demand."""

    __slots__ = ("names", "index", "dtypes", "shapes", "counts", "offsets", "nbytes", "base", "count_head")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.dtypes: list[DType] = []
        self.shapes: list[tuple[int, ...]] = []
        self.counts: list[int] = []
        self.offsets: list[int] = []  # relative to B
        self.nbytes: list[int] = []
        self.index: dict[str, int] = {}
        self.base = -1
        self.count_head = 0

    def layout(self) -> list[LayoutEntry]:
        b = self.base
        return [LayoutEntry(n, d, s, b + o, ln) for n, d, s, o, ln in
                zip(self.names, self.dtypes, self.shapes, self.offsets, self.nbytes)]


class LazyInfos(Mapping[str, TensorInfo]):
    """name -> TensorInfo of a checked table, each built on first access."""

    __slots__ = ("_t", "_built")

    def __init__(self, table: Table) -> None:
        self._t = table
        self._built: dict[str, TensorInfo] = {}

    def __getitem__(self, name: str) -> TensorInfo:
        info = self._built.get(name)
        if info is None:
            t = self._t
            k = t.index[name]
            info = TensorInfo(t.dtypes[k], t.shapes[k], t.base + t.offsets[k], t.nbytes[k])
            self._built[name] = info
        return info

    def __iter__(self) -> Iterator[str]:
        return iter(self._t.names)

    def __len__(self) -> int:
        return len(self._t.names)

    def __contains__(self, name: object) -> bool:
        return name in self._t.index

    def view(self, buf: Any, name: str) -> Any:
        """The read-only numpy view of a plain tensor, or None when materialize must decide (packed, bool,
        empty, misaligned, big-endian host)."""
        t = self._t
        k = t.index[name]
        dt = t.dtypes[k]
        count = t.counts[k]
        if dt.packed or dt.kind == "bool" or not count or _BIG_ENDIAN_HOST:
            return None
        import numpy as np
        arr = np.frombuffer(buf, dt.np_dtype, count, t.base + t.offsets[k]).reshape(t.shapes[k])
        if not arr.flags.aligned:
            return None
        if arr.flags.writeable:
            arr.flags.writeable = False
        return arr


def read_prefix(data: Any, strict: bool) -> tuple[Table, dict[str, Any], int] | None:
    """The checked prefix [0, B): (table, metadata, B), or None when only the reference parser may judge."""
    r = Reader(data, strict=strict)
    prefix = BundlePrefix(strict)
    try:
        prefix._read_head(r)
    except DecodeError:
        return None
    finally:
        r.limit = NO_LIMIT
    count = prefix.count
    count_head = _head_len(count)
    dir_start = r.pos - count_head
    end = len(data)
    if count * 7 > end - r.pos:
        return None
    size = min(end - dir_start, count * 64 + 64)
    while True:
        chunk = bytes(data[dir_start:dir_start + size])
        try:
            value = cbor2.loads(chunk)
        except cbor2.CBORDecodeEOF:
            if dir_start + size >= end:
                return None
            size = min(end - dir_start, size * 2)
            continue
        except Exception:  # anything cbor2 rejects: the reference parser names it
            return None
        break
    try:
        enc = cbor2.dumps(value)
    except Exception:
        return None
    if type(value) is not list or chunk[:len(enc)] != enc:
        return None
    table = _check_entries(value, count_head)
    if table is None:
        return None
    r.pos = dir_start + len(enc)
    prefix.count = count
    try:
        prefix._read_pad(r)
    except DecodeError:
        return None
    table.base = r.pos
    table.count_head = count_head
    return table, prefix.metadata, r.pos


def _check_entries(value: list[Any], count_head: int) -> Table | None:
    """Every check of a directory entry (SPEC.md §7.1), in one loop; None on the first doubt."""
    t = Table()
    names, dtypes, shapes, counts, offsets, lengths = t.names, t.dtypes, t.shapes, t.counts, t.offsets, t.nbytes
    prev_len, prev = -1, b""
    pos = count_head  # where the first item starts, relative to B
    for e in value:
        if type(e) is not list or len(e) != 5:
            return None
        name, code, shape, off, ln = e
        if type(name) is not str or type(code) is not int or type(shape) is not list:
            return None
        try:
            raw = name.encode("utf-8")
        except UnicodeEncodeError:
            return None
        n = len(raw)
        if not 0 < n <= MAX_NAME_BYTES or n < prev_len or (n == prev_len and raw <= prev):
            return None  # the order of encoded keys is length first, then bytes
        prev_len, prev = n, raw
        dt = BY_CODE.get(code)
        if dt is None or dt.kind == "string" or len(shape) > MAX_RANK:
            return None
        nonzero, zero = 1, False
        for d in shape:
            if type(d) is not int or d < 0:
                return None
            if d:
                nonzero *= d
            else:
                zero = True
        if nonzero > MAX_ELEMENTS:
            return None
        count = 0 if zero else nonzero
        if type(ln) is not int or type(off) is not int or ln != dt.nbytes(count) or ln >= _U64:
            return None
        p = pos + 1 + _TAG_LEN[code] + _head_len(ln)
        p += (-p) % dt.align
        if off != p or off >= _U64:
            return None
        pos = p + ln
        names.append(name)
        dtypes.append(dt)
        shapes.append(tuple(shape))
        counts.append(count)
        offsets.append(off)
        lengths.append(ln)
    if len(set(names)) != len(names):  # distinct encodings are distinct names; kept as a guard
        return None
    t.index = dict(zip(names, range(len(names))))
    return t


def read_bundle(data: Any, strict: bool) -> tuple[Table, dict[str, Any]] | None:
    """The checked prefix, tensors head and items of a whole bundle, or None (use the reference parser)."""
    found = read_prefix(data, strict)
    if found is None:
        return None
    table, metadata, base = found
    r = Reader(data, base, strict=strict)
    prefix = BundlePrefix(strict)
    prefix.count = len(table.names)
    try:
        read_tensors_head(r, prefix)
    except DecodeError:
        return None
    start = base + table.count_head
    heads = _ITEM_HEADS
    for dt, off, ln in zip(table.dtypes, table.offsets, table.nbytes):
        at = base + off
        key = (dt.code, ln, start & 7)
        want = heads.get(key)
        if want is None:
            want = _item_head(dt, ln, start)
            if len(heads) < 4096:
                heads[key] = want
        if data[start:at] != want:
            return None
        start = at + ln
    if start != len(data):
        return None
    return table, metadata


def _item_head(dt: DType, nbytes: int, start: int) -> bytes:
    """The only item heads the layout rule allows for a plain tensor whose item starts at `start`."""
    data_heads = _TAG_HEAD[dt.code] + head(2, nbytes)
    s = (-(start + 1 + len(data_heads))) % dt.align
    pad = bytes((0x40 | (s - 1),)) + bytes(s - 1) if s else b""
    return bytes((0x81 + (s > 0),)) + pad + data_heads
