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

import gc
from collections.abc import Callable, Iterator, Mapping
from functools import wraps
from itertools import chain, islice
from operator import add, lt
from typing import Any, TypeVar

import cbor2
import numpy as np

from .bundle import MAX_NAME_BYTES, BundlePrefix, LayoutEntry, read_tensors_head
from .cbor import NO_LIMIT, Reader, head
from .dtypes import BY_CODE, DType
from .errors import DecodeError
from .tensor import _BIG_ENDIAN_HOST, MAX_ELEMENTS, MAX_RANK, TensorInfo, plain_view

T = TypeVar("T")
_U64 = 1 << 64
_TAG_LEN = {d.code: (len(head(6, d.rfc8746_tag)) if d.rfc8746_tag is not None else 0) for d in BY_CODE.values()}
_TAG_HEAD = {d.code: (head(6, d.rfc8746_tag) if d.rfc8746_tag is not None else b"") for d in BY_CODE.values()}
_ITEM_HEADS: dict[tuple[int, int, int], bytes] = {}


def _head_len(n: int) -> int:
    return 1 if n < 24 else 2 if n < 0x100 else 3 if n < 0x10000 else 5 if n < 0x100000000 else 9


class Table:
    """The checked directory of a bundle, as parallel lists: TensorInfo objects are built on demand."""

    __slots__ = ("names", "index", "dtypes", "shapes", "counts", "offsets", "nbytes", "base", "count_head", "direct")

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
        self.direct = False
        """Plain tensors may be viewed without materialize's checks: the buffer is 8-byte aligned in memory
        (so every strictly placed tensor is aligned) and the host is little-endian."""

    def layout(self) -> list[LayoutEntry]:
        b = self.base
        return [LayoutEntry(n, d, s, b + o, ln) for n, d, s, o, ln in
                zip(self.names, self.dtypes, self.shapes, self.offsets, self.nbytes, strict=True)]


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
        block-quantized, empty, a buffer not 8-byte aligned in memory, a big-endian host)."""
        t = self._t
        k = t.index[name]
        return plain_view(buf, t.dtypes[k].code, t.shapes[k], t.counts[k], t.base + t.offsets[k]) if t.direct else None


def _gc_paused(fn: Callable[..., T]) -> Callable[..., T]:
    """Run `fn` with the cyclic garbage collector paused: the directory makes tens of thousands of small lists
    and tuples, none of them cyclic, and collections triggered by their allocation cost a quarter of the time."""
    @wraps(fn)
    def run(*args: Any) -> T:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args)
        finally:
            if was:
                gc.enable()
    return run


@_gc_paused
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
    if r.pos % 8:  # a lenient document with a wrong pad: only the reference parser places its tensors
        return None
    table.base = r.pos
    table.count_head = count_head
    return table, prefix.metadata, r.pos


def _check_entries(value: list[Any], count_head: int) -> Table | None:
    """Every check of a directory entry (SPEC.md §7.1) over whole columns; None on the first doubt.

    The columns are checked with C-level iteration (map, zip, set, list equality) so the
    cost per entry is a few list operations, not a few Python calls per head.
    """
    t = Table()
    if not value:
        return t
    if _types(value) != {list} or set(map(len, value)) != {5}:
        return None  # only 5-element (Core, uncompressed) entries take the fast path
    names, codes, shapes, offs, lens = zip(*value, strict=True)
    if _types(names) != {str} or _types(codes) != {int} or _types(shapes) != {list}:
        return None
    if not _types(offs) <= {int} or not _types(lens) <= {int}:
        return None
    dims = list(chain.from_iterable(shapes))
    if dims and (_types(dims) != {int} or min(dims) < 0):
        return None
    try:
        raws = list(map(str.encode, names))
    except UnicodeEncodeError:
        return None
    sizes = list(map(len, raws))
    if min(sizes) < 1 or max(sizes) > MAX_NAME_BYTES:
        return None
    keys = list(zip(sizes, raws, strict=True))  # encoded keys sort by length first, then bytewise (shortest heads)
    if not all(map(lt, keys, islice(keys, 1, None))):
        return None  # unsorted or duplicate: the reference parser names which
    tshapes = list(map(tuple, shapes))
    pairs = list(zip(codes, tshapes, strict=True))
    # Per distinct (dtype, shape): the element count, the data length, the head bytes before the data, the alignment.
    kinds: dict[tuple[int, tuple[int, ...]], tuple[DType, int, int, int, int]] = {}
    for pair in set(pairs):
        code, shape = pair
        dt = BY_CODE.get(code)
        if dt is None or dt.kind == "string" or len(shape) > MAX_RANK:
            return None
        nonzero = 1
        for d in shape:
            nonzero *= d or 1
        if nonzero > MAX_ELEMENTS:
            return None
        count = 0 if 0 in shape else nonzero
        ln = dt.nbytes(count)
        kinds[pair] = (dt, count, ln, 1 + _TAG_LEN[code] + _head_len(ln), dt.align)
    rows = list(map(kinds.__getitem__, pairs))
    if list(lens) != [row[2] for row in rows]:
        return None
    expected: list[int] = []
    append = expected.append
    pos = count_head  # where the first item starts, relative to B
    for _, _, ln, before, align in rows:
        p = pos + before
        p += -p % align
        append(p)
        pos = p + ln
    if list(offs) != expected or pos >= _U64:
        return None
    t.names = list(names)
    t.dtypes = [row[0] for row in rows]
    t.shapes = tshapes
    t.counts = [row[1] for row in rows]
    t.offsets = expected
    t.nbytes = list(lens)
    t.index = dict(zip(names, range(len(names)), strict=True))
    return t


def _types(values: Any) -> set[type]:
    return set(map(type, values))


@_gc_paused
def read_bundle(data: Any, strict: bool) -> tuple[Table, dict[str, Any]] | None:
    """The checked prefix, tensors head and items of a whole bundle, or None (use the reference parser)."""
    found = read_prefix.__wrapped__(data, strict)  # type: ignore[attr-defined]
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
    ends = list(map(add, table.offsets, table.nbytes))
    starts = [table.count_head, *ends[:-1]] if ends else []  # where each item starts, relative to B
    heads = _ITEM_HEADS
    want = []
    for dt, ln, start in zip(table.dtypes, table.nbytes, starts, strict=True):
        key = (dt.code, ln, start & 7)
        h = heads.get(key)
        if h is None:
            h = _item_head(dt, ln, start)
            if len(heads) < 4096:
                heads[key] = h
        want.append(h)
    # Every item's heads, compared with the only heads the layout rule allows (SPEC.md §5.2).
    if [data[base + s:base + o] for s, o in zip(starts, table.offsets, strict=True)] != want:
        return None
    if (base + ends[-1] if ends else r.pos) != len(data):
        return None
    table.direct = _direct(data)
    return table, metadata


def _direct(data: Any) -> bool:
    """Whether plain tensors may be viewed in place: a little-endian host and a buffer 8-byte aligned in memory."""
    try:
        return not _BIG_ENDIAN_HOST and np.frombuffer(data, np.uint8, 1).ctypes.data % 8 == 0
    except (TypeError, ValueError):
        return False




def _item_head(dt: DType, nbytes: int, start: int) -> bytes:
    """The only item heads the layout rule allows for a plain tensor whose item starts at `start`."""
    data_heads = _TAG_HEAD[dt.code] + head(2, nbytes)
    s = (-(start + 1 + len(data_heads))) % dt.align
    pad = bytes((0x40 | (s - 1),)) + bytes(s - 1) if s else b""
    return bytes((0x81 + (s > 0),)) + pad + data_heads
