"""Bundles (SPEC.md §5.2): named tensors plus metadata, the role of a .safetensors file.

A bundle is ``55799(52066([1, metadata, directory, pad, tensors]))``. The directory
lists every tensor's name, dtype, shape and byte range; the pad puts the tensors
array at an offset B that is a multiple of 8, so the whole layout follows from the
prefix [0, B) alone (``read_layout``) and every tensor stays aligned for zero-copy
views. The strict decoder checks that the directory and the tensor items agree.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO, NamedTuple, cast

import numpy as np

from . import accel
from .cbor import DEFAULT_MAX_DECOMPRESSED, MAX_METADATA_BYTES, NO_LIMIT, Reader, encode_map, encode_text, head
from .codec import byte_buffer, close_document, open_document, open_versioned_array
from .compression import CompressedInfo
from .dtypes import DType
from .errors import DecodeError, EncodeError
from .tensor import (
    BUNDLE_MAGIC,
    BUNDLE_TAG,
    COMPRESSED_TAG,
    Payload,
    TensorInfo,
    materialize,
    prepare,
    read_data,
    read_dtype,
    read_shape,
    shape_bytes,
)

__all__ = ["Bundle", "LayoutEntry", "BundlePrefix", "ItemCursor", "bundle_parts", "encode_bundle", "decode_bundle",
           "parse_bundle", "read_layout", "header_regions", "MAX_NAME_BYTES"]

MAX_NAME_BYTES = 4096
MIN_PREFIX = 16
"""The shortest bundle prefix [0, B): magic, array head, version, {}, [], and a 6-byte pad item."""
READ_AHEAD_FROM = 1 << 16
"""Inside a metadata map read from a file object, from this many bytes each read step grows by half."""
MIN_ENTRY = 7
"""The shortest directory entry: array head, a 1-byte name, dtype, rank 0, offset, length."""
_TAG_HEAD = head(6, COMPRESSED_TAG)
_ITEM_HEADS: dict[tuple[int, int, int], bytes] = {}
"""Item heads of plain tensors by (dtype code, data length, item start modulo the alignment): many tensors share one."""

Tensors = Mapping[str, Any] | Iterable[tuple[str, Any]]


class LayoutEntry(NamedTuple):
    """One directory entry: where a range reader finds a tensor's bytes.

    ``offset`` is absolute (from the document start). ``nbytes`` counts the element
    bytes; for ``string`` tensors the encoded string array; for compressed tensors the
    zstd bytes, whose ``compression`` is ``(codec, filter)``. A named tuple: a
    20,000-tensor layout is built in milliseconds.
    """

    name: str
    dtype: DType
    shape: tuple[int, ...]
    offset: int
    nbytes: int
    compression: tuple[int, int] | None = None


_layout_entry = partial(tuple.__new__, LayoutEntry)
"""A LayoutEntry from a row of all six fields, in C (the accelerator's rows: 20,000 in a few milliseconds)."""


# ------------------------------------------------------------------ the layout rule

def data_position(start: int, dt: DType, nbytes: int, compression: tuple[int, int] | None,
                  count: int) -> int:
    """Where the bytes an entry locates start, for an item whose array head is at `start`.

    Offsets are relative to B, which is a multiple of 8, so alignment relative to B is
    alignment in the document (SPEC.md §5.2 layout rule).
    """
    if compression is not None:
        ulen = dt.nbytes(count)
        return (start + 1 + len(_TAG_HEAD) + 1 + len(head(0, compression[0])) + len(head(0, compression[1]))
                + len(head(0, ulen)) + len(head(2, nbytes)))
    if dt.kind == "string":
        return start + 1
    tag = len(head(6, dt.rfc8746_tag)) if dt.rfc8746_tag is not None else 0
    p = start + 1 + tag + len(head(2, nbytes))
    return p + (-p) % dt.align


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# ------------------------------------------------------------------ encoding

def bundle_parts(tensors: Tensors, metadata: Mapping[str, Any] | None = None, *,
                 compression: str | None = None, shuffle: bool = False) -> list[Payload]:
    """The bundle's bytes as a list of pieces (prefix, then item heads and zero-copy payloads), in order."""
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    named: list[tuple[bytes, str, Any]] = []
    seen: set[str] = set()
    for name, array in items:
        if not isinstance(name, str):
            raise EncodeError(f"tensor name {name!r} is not text; names are non-empty str")
        try:
            raw = name.encode("utf-8")
        except UnicodeEncodeError:
            raw = encode_text(name)  # raises the EncodeError that names the problem
        if not raw or len(raw) > MAX_NAME_BYTES:
            raise EncodeError(f"tensor name {name[:40]!r} must be 1 to {MAX_NAME_BYTES} UTF-8 bytes")
        if name in seen:
            raise EncodeError(f"tensor name {name!r} appears twice; names in a bundle are unique")
        seen.add(name)
        named.append((head(3, len(raw)) + raw, name, array))
    named.sort(key=lambda e: e[0])
    meta = bytearray()
    encode_map(metadata or {}, meta)
    if len(meta) > MAX_METADATA_BYTES:
        raise EncodeError(f"metadata encodes to {len(meta)} bytes, over the {MAX_METADATA_BYTES}-byte "
                          "limit; store large data as a tensor instead")
    count_head = head(4, len(named))
    directory = [count_head]
    body: list[Payload] = []
    pos = len(count_head)  # relative to B
    for key, _, array in named:
        item_head, payload, entry_tail, length = _item(array, pos, compression, shuffle)
        offset = pos + len(item_head)
        directory.append(entry_tail[0] + key + entry_tail[1] + head(0, offset) + head(0, length) + entry_tail[2])
        body += (item_head, payload)
        pos = offset + length
    prefix = BUNDLE_MAGIC + b"\x85\x01" + bytes(meta) + b"".join(directory)
    k = (-(len(prefix) + 1)) % 8
    return [prefix + bytes((0x40 | k,)) + bytes(k) + count_head, *body]


def _item(array: Any, pos: int, compression: str | None,
          shuffle: bool) -> tuple[bytes, Payload, tuple[bytes, bytes, bytes], int]:
    """Item heads and payload of one tensor whose item starts at `pos` (relative to B), and its entry pieces.

    The entry pieces are (array head, dtype+shape, codec+filter); the caller adds name, offset and length.
    """
    dt, shape, payload = prepare(array)
    fields = head(0, dt.code) + shape_bytes(shape)
    if compression is not None:
        from .compression import CODECS, compressed_item
        found = compressed_item(dt, payload, codec=compression, shuffle_bytes=shuffle)
        if found is not None:
            data_heads, cdata, filt = found
            return (b"\x81" + data_heads, cdata, (b"\x87", fields, head(0, CODECS[compression]) + head(0, filt)),
                    len(cdata))
    elif shuffle:
        raise EncodeError("shuffle=True is a filter of the compressed form; pass compression='zstd' too")
    nbytes = payload.nbytes if isinstance(payload, (memoryview, np.ndarray)) else len(payload)
    if dt.kind == "string":
        return b"\x81", payload, (b"\x85", fields, b""), nbytes
    cache_key = (dt.code, nbytes, pos % dt.align)
    item_head = _ITEM_HEADS.get(cache_key)
    if item_head is None:
        data_heads = (head(6, dt.rfc8746_tag) if dt.rfc8746_tag is not None else b"") + head(2, nbytes)
        s = (-(pos + 1 + len(data_heads))) % dt.align
        pad = bytes((0x40 | (s - 1),)) + bytes(s - 1) if s else b""
        item_head = bytes((0x81 + (s > 0),)) + pad + data_heads
        if len(_ITEM_HEADS) < 4096:
            _ITEM_HEADS[cache_key] = item_head
    return item_head, payload, (b"\x85", fields, b""), nbytes


def encode_bundle(tensors: Tensors, metadata: Mapping[str, Any] | None = None, *,
                  compression: str | None = None, shuffle: bool = False) -> bytes:
    """The one deterministic encoding of named tensors plus metadata (compressed per tensor when asked)."""
    return b"".join(cast(list[Any], bundle_parts(tensors, metadata, compression=compression, shuffle=shuffle)))


# ------------------------------------------------------------------ the prefix [0, B)

@dataclass(frozen=True)
class _Entry:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    count: int
    offset: int  # relative to B
    nbytes: int
    compression: tuple[int, int] | None


class BundlePrefix:
    """Reads a bundle's prefix [0, B) (SPEC.md §7.1 bundle steps 1-8), resumably.

    ``advance`` reads as far as the bytes allow. State changes only when an item of the
    prefix (the document head with the metadata, one directory entry, the pad) has been
    read whole, so a caller whose bytes arrive piece by piece (the stream Assembler, a file
    read in steps) calls it again with more bytes; ``pos`` is where it resumes, and bytes
    before ``pos`` are no longer needed.
    """

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.pos = 0
        self.metadata: dict[str, Any] = {}
        self.count = -1  # directory length, once read
        self.entries: list[_Entry] = []
        self.base = -1  # B, once the pad is read
        self._prev: bytes | None = None
        self._names: set[str] = set()

    @property
    def done(self) -> bool:
        return self.base >= 0

    def layout(self) -> list[LayoutEntry]:
        assert self.done
        return [LayoutEntry(e.name, e.dtype, e.shape, self.base + e.offset, e.nbytes, e.compression)
                for e in self.entries]

    def advance(self, r: Reader) -> None:
        """Read on from ``pos``; raise TRUNCATED (with ``needed``) or the first failing check."""
        r.pos = self.pos
        try:
            if self.count < 0:
                self._read_head(r)
                self.pos = r.pos
            while len(self.entries) < self.count:
                self._read_entry(r)
                self.pos = r.pos
            if not self.done:
                self._read_pad(r)
                self.pos = r.pos
        except DecodeError as exc:
            if exc.code == "TRUNCATED":
                exc.needed = self._lower_bound(exc.needed, r)
            raise
        finally:
            r.limit = NO_LIMIT

    def _lower_bound(self, needed: int | None, r: Reader) -> int:
        """At least how long the prefix is, given that the input ended early (for the reader's next try)."""
        bound = needed if needed is not None else r.end + 1
        if self.count < 0:
            bound += 2 if r.limit != NO_LIMIT else 0  # the directory head and the pad follow the metadata
        elif len(self.entries) < self.count:
            bound += MIN_ENTRY * (self.count - len(self.entries) - 1) + 1
        bound = max(bound, MIN_PREFIX)
        return bound + (-bound) % 8 if self.strict else bound

    def _read_head(self, r: Reader) -> None:
        open_document(r, BUNDLE_TAG)
        start = r.pos
        count = open_versioned_array(r, "the bundle array")
        if count != 5:
            raise r.fail("UNEXPECTED_TYPE", f"a bundle array has exactly 5 elements, found {count}", start)
        metadata = read_metadata(r)
        self.count = r.expect(4, "the directory (an array)")
        self.metadata = metadata

    def _read_entry(self, r: Reader) -> None:
        start = r.pos
        fields = r.expect(4, "a directory entry (an array)")
        if fields not in (5, 7):
            raise r.fail("UNEXPECTED_TYPE", f"a directory entry has 5 or 7 elements, found {fields}", start)
        key_start = r.pos
        length = r.expect(3, "a tensor name (text)")
        name = r.text(length, "a tensor name")
        key = bytes(r.buf[key_start:r.pos])
        if not name or length > MAX_NAME_BYTES:
            raise r.fail("INVALID_NAME", f"tensor names are 1 to {MAX_NAME_BYTES} UTF-8 bytes, found {length}",
                         key_start)
        if r.strict and self._prev is not None and key <= self._prev:
            if key == self._prev:
                raise r.fail("DUPLICATE_NAME", f"tensor {name!r} appears twice", key_start)
            raise r.fail("UNSORTED_KEYS", f"tensor {name!r} is out of order; names must be sorted bytewise by "
                         "their encoding", key_start)
        if name in self._names:
            raise r.fail("DUPLICATE_NAME", f"tensor {name!r} appears twice", key_start)
        dt = read_dtype(r)
        shape, count = read_shape(r, dt)
        offset_at = r.pos
        offset = r.expect(0, "the offset (unsigned integer)")
        length_at = r.pos
        nbytes = r.expect(0, "the length (unsigned integer)")
        compression = None
        if fields == 5:
            if dt.kind != "string" and nbytes != dt.nbytes(count):
                raise r.fail("SHAPE_MISMATCH", f"tensor {name!r}: shape {list(shape)} of {dt.name} needs "
                             f"{dt.nbytes(count)} data bytes, the directory says {nbytes}", length_at)
        else:
            compression = _read_compression(r, dt, name)
        expected = self._next_position(dt, nbytes, compression, count)
        if r.strict and offset != expected:
            raise r.fail("DIRECTORY_MISMATCH", f"tensor {name!r}: the layout rule puts its bytes at offset "
                         f"{expected} from B, the directory says {offset}", offset_at)
        self._prev = key
        self._names.add(name)
        self.entries.append(_Entry(name, dt, shape, count, offset, nbytes, compression))

    def _next_position(self, dt: DType, nbytes: int, compression: tuple[int, int] | None, count: int) -> int:
        if self.entries:
            last = self.entries[-1]
            start = last.offset + last.nbytes
        else:
            start = len(head(4, self.count))
        return data_position(start, dt, nbytes, compression, count)

    def _read_pad(self, r: Reader) -> None:
        start = r.pos
        k = r.expect(2, "the pad (a byte string)")
        body = r.take(k, "the pad")
        if r.strict:
            if any(r.buf[body:body + k]):
                raise r.fail("BAD_PADDING", "the pad before the tensors must be zero bytes", start)
            want = (-(start + 1)) % 8
            if r.pos % 8 or k != want:
                raise r.fail("BAD_PADDING", f"the pad must be {want} zero bytes, so that the tensors start at a "
                             f"multiple of 8; found {k}", start)
        self.base = r.pos


def read_metadata(r: Reader) -> dict[str, Any]:
    """The metadata map at ``r.pos`` (SPEC.md §7.1 bundle step 6: the size limit is judged at each head first)."""
    meta_start = r.pos
    r.limit = meta_start + MAX_METADATA_BYTES
    major, _, arg = r.meta_head()
    if major != 5:
        code = "UNEXPECTED_TAG" if major == 6 else "UNEXPECTED_TYPE"
        raise r.fail(code, "the metadata must be a map", meta_start)
    metadata = r.map_body(arg, 1)
    r.limit = NO_LIMIT
    return metadata


def _read_compression(r: Reader, dt: DType, name: str) -> tuple[int, int]:
    from . import compression

    if dt.kind == "string":
        raise r.fail("INVALID_COMPRESSION", f"tensor {name!r}: string tensors are never compressed")
    if not compression.available():
        raise r.fail("UNSUPPORTED_COMPRESSION", f"tensor {name!r} is compressed (Extended profile); this decoder "
                     "implements the Core profile only")
    return compression.read_codec_filter(r, dt)


# ------------------------------------------------------------------ the tensors

def read_tensors_head(r: Reader, prefix: BundlePrefix) -> None:
    """The tensors array head at B: one item per directory entry."""
    start = r.pos
    n = r.expect(4, "the tensors array")
    if n != prefix.count:
        raise r.fail("DIRECTORY_MISMATCH", f"the directory lists {prefix.count} tensors, the tensors array has {n}",
                     start)


class ItemCursor:
    """Reads a bundle's tensor items one at a time, each checked against its directory entry.

    State changes only when an item has been read whole, so an incremental reader (the
    stream Assembler) can retry an item whose bytes had not all arrived.
    """

    def __init__(self, prefix: BundlePrefix) -> None:
        self.prefix = prefix
        self.remaining = prefix.count

    def read(self, r: Reader) -> tuple[str, TensorInfo]:
        """Item k: its heads, F3-F6 with entry k's dtype and shape, then agreement (DIRECTORY_MISMATCH)."""
        prefix = self.prefix
        e = prefix.entries[prefix.count - self.remaining]
        start = r.pos
        n = r.expect(4, f"the item of tensor {e.name!r} (an array)")
        if n not in (1, 2):
            raise r.fail("UNEXPECTED_TYPE", f"tensor {e.name!r}: an item has 1 or 2 elements, found {n}", start)
        info = read_data(r, e.dtype, e.shape, e.count, n == 2)
        found = (info.codec, info.filter) if isinstance(info, CompressedInfo) else None
        if found != e.compression:
            what = {True: "compressed", False: "not compressed"}
            raise r.fail("DIRECTORY_MISMATCH", f"tensor {e.name!r}: the item is {what[found is not None]}"
                         f"{' with ' + str(found) if found else ''}, the directory entry "
                         f"{'says ' + str(e.compression) if e.compression else 'has no codec'}", start)
        if info.nbytes != e.nbytes or info.offset != prefix.base + e.offset:
            raise r.fail("DIRECTORY_MISMATCH", f"tensor {e.name!r}: the item's bytes are at {info.offset} "
                         f"({info.nbytes} bytes), the directory says {prefix.base + e.offset} ({e.nbytes} bytes)",
                         start)
        self.remaining -= 1
        return e.name, info


# ------------------------------------------------------------------ decoding

class Bundle(Mapping[str, np.ndarray]):
    """Read-only mapping name -> array, in wire order (names sorted bytewise).

    Arrays are built on first access and cached; each is a read-only view into
    the source buffer where the dtype allows (see ``decode``). Block-quantized
    tensors (SPEC.md §4.6) come out as `BlockArray`. ``with load_file(p) as b:``
    closes the file's map on leaving the block (arrays handed out keep it alive).
    """

    def __init__(self, buf: Any, infos: Mapping[str, TensorInfo], metadata: dict[str, Any],
                 cache: dict[str, np.ndarray] | None = None, source: Any = None) -> None:
        self._buf = buf
        self._source = buf if source is None else source  # what `close` closes (the mmap of load_file)
        self._infos = infos
        self._cache: dict[str, np.ndarray] = cache if cache is not None else {}
        self._view = getattr(infos, "view", None)  # the fast path's direct view of plain tensors
        self.metadata = metadata

    def __getitem__(self, name: str) -> np.ndarray:
        arr = self._cache.get(name)
        if arr is None:
            if self._view is not None:
                arr = self._view(self._buf, name)
            if arr is None:
                arr = materialize(self._buf, self._infos[name], copy=False)
            self._cache[name] = arr
        return arr

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def info(self, name: str) -> TensorInfo:
        """dtype, shape, data offset and length of one tensor, without building it."""
        return self._infos[name]

    def close(self) -> None:
        """Release the memory map (of `load_file`) now; arrays already handed out stay valid and keep it alive."""
        self._cache.clear()
        for release in (getattr(self._buf, "release", None), getattr(self._source, "close", None)):
            if release is not None:
                try:
                    release()
                except BufferError:  # a view is still in use: the map is released when the last one goes
                    pass

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {i.dtype.name}{list(i.shape)}" for n, i in self._infos.items())
        return f"Bundle({{{inner}}}, metadata={self.metadata!r})"


def decode_bundle(data: Any, *, strict: bool = True, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> Bundle:
    """Decode and fully validate a bundle document, in the order of SPEC.md §7.1; arrays are views into `data`
    (see ``decode``). `max_decompressed` bounds what compressed tensors may declare (DECOMPRESSION_LIMIT)."""
    return parse_bundle(data, strict=strict, check_elements=True, max_decompressed=max_decompressed)


def parse_bundle(data: Any, *, strict: bool = True, check_elements: bool = False,
                 max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> Bundle:
    """Check a bundle's structure; element values are checked right after each item when `check_elements`,
    else on first access (a lazy decoder may defer them, SPEC.md §7.1).

    Two readers, one verdict: the compiled reader (accel.py) when it is available, else the reference parser
    below; the compiled reader hands to the reference only what it does not implement.
    """
    source, buf = data, byte_buffer(data)  # views hold an export of a read-only view (pinned, see ``decode``)
    index = accel.index_bundle(buf, check_elements) if strict else None
    if index is None:
        return _parse(source, strict, check_elements, max_decompressed)[0]
    infos = accel.NativeInfos(index)
    cache: dict[str, np.ndarray] = {}
    if check_elements:  # as the reference: bool and packed arrays are built (and checked) at decode, D5
        for name in index.names_of(accel.ELEMENT_CHECKED):
            cache[name] = materialize(buf, infos[name], copy=False)
    return Bundle(buf, infos, index.metadata, cache, source)


def _parse(data: Any, strict: bool, check_elements: bool,
           max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> tuple[Bundle, BundlePrefix]:
    source, data = data, byte_buffer(data)
    r = Reader(data, strict=strict, max_decompressed=max_decompressed)
    prefix = BundlePrefix(strict)
    prefix.advance(r)
    read_tensors_head(r, prefix)
    items = ItemCursor(prefix)
    infos: dict[str, TensorInfo] = {}
    cache: dict[str, np.ndarray] = {}
    while items.remaining:
        name, info = items.read(r)
        infos[name] = info
        if check_elements:
            cache[name] = materialize(data, info, copy=False)
    close_document(r)
    return Bundle(data, infos, prefix.metadata, cache, source), prefix


def header_regions(data: Any) -> list[tuple[int, int]]:
    """[item start, first byte its entry locates) of every item of a valid bundle (SPEC.md §10.3 cut rule)."""
    _, prefix = _parse(data, True, False)
    regions = []
    start = prefix.base + len(head(4, prefix.count))
    for e in prefix.entries:
        regions.append((start, prefix.base + e.offset))
        start = prefix.base + e.offset + e.nbytes
    return regions


# ------------------------------------------------------------------ the layout alone

def read_layout(source: Any, *, strict: bool = True, prefix: BundlePrefix | None = None) -> list[LayoutEntry]:
    """Every tensor's name, dtype, shape and absolute byte range, from the bundle prefix [0, B) alone.

    `source` is a contiguous buffer (bytes, bytearray, memoryview, mmap, a 1-D numpy uint8 array: as
    ``decode_bundle`` takes) holding a prefix of a bundle document or all of it, a path, or a binary file
    object positioned at the document start. From a file object nothing after B is read unless the metadata
    map is over 64 KiB, then at most B/2 bytes after it (``_layout_from_file``); a path is memory-mapped.
    A prefix that is too short raises DecodeError("TRUNCATED") whose ``needed`` is the number of bytes
    (from the start) to supply next: a lower bound of B, never past it. Pass a fresh `prefix` to get the
    metadata as well (``prefix.metadata``).
    """
    keep = prefix is not None  # the caller reads the prefix object afterwards
    prefix = prefix if prefix is not None else BundlePrefix(strict)
    compiled = accel.available() and not keep and strict and prefix.pos == 0 and prefix.count < 0
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < MIN_PREFIX:
                return _layout_from_file(f, prefix, False)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                fast = _compiled_layout(m) if compiled else None
                if fast is not None:
                    return fast
                prefix.advance(Reader(m, strict=strict))  # the whole file is at hand: one pass
                return prefix.layout()
    if hasattr(source, "read"):
        return _layout_from_file(source, prefix, compiled)
    source = byte_buffer(source)
    fast = _compiled_layout(source) if compiled else None
    if fast is not None:
        return fast
    prefix.advance(Reader(source, strict=prefix.strict))
    return prefix.layout()


def _compiled_layout(data: Any) -> list[LayoutEntry] | None:
    """The compiled reader's layout (or its DecodeError); None when the reference reader must judge."""
    rows = accel.read_layout(data)
    return None if rows is None else list(map(_layout_entry, rows))


def _layout_from_file(f: BinaryIO, prefix: BundlePrefix, compiled: bool) -> list[LayoutEntry]:
    """Read a file in steps, resuming the prefix reader after each (`compiled`: the compiled reader judges first).

    Each step reads up to a lower bound of B, so nothing after B is read, except inside a metadata map
    past READ_AHEAD_FROM bytes: there each step reads at least half as much again (at most B/2 bytes beyond
    B). The prefix reader re-reads an unfinished item, and the metadata map is one item whose lower bound
    trails its end by a factor (its entries count one byte each), so exact steps would re-read a 16 MiB map
    about sixty times (minutes); growing by half keeps it to a few passes. With the compiled reader those
    steps cost a Rust check each, and the reference runs only on the final verdict.
    """
    buf = bytearray()
    want = MIN_PREFIX
    strict = prefix.strict
    while True:
        eof = False
        while len(buf) < want:
            got = f.read(min(want - len(buf), 1 << 20))  # never reserve what the input merely claims
            if not got:
                eof = True
                break
            buf += got
        ahead = prefix.count < 0 and len(buf) >= READ_AHEAD_FROM  # inside a large metadata map
        if compiled and ahead:
            fast = _compiled_layout(bytes(buf))  # a verdict, or None: too short (or left to the reference)
            if fast is not None:
                return fast
            if not eof:
                want = len(buf) + len(buf) // 2
                continue
        try:
            prefix.advance(Reader(buf, strict=strict))
            return prefix.layout()
        except DecodeError as exc:
            if exc.code != "TRUNCATED" or eof or exc.needed is None:
                raise
            want = max(exc.needed, len(buf) + 1)
            if prefix.count < 0 and len(buf) >= READ_AHEAD_FROM:
                want = max(want, len(buf) + len(buf) // 2)
