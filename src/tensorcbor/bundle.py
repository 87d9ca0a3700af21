"""Bundles (SPEC.md §5): named tensors plus metadata, the role of a .safetensors file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import numpy as np

from .cbor import DEFAULT_MAX_DECOMPRESSED, MAX_METADATA_BYTES, Reader, encode_map, encode_text, head
from .codec import byte_buffer, close_document, open_document, read_version
from .errors import EncodeError
from .tensor import BUNDLE_MAGIC, BUNDLE_TAG, Payload, TensorInfo, item_parts, materialize, read_fields

MAX_NAME_BYTES = 4096

Tensors = Mapping[str, Any] | Iterable[tuple[str, Any]]


class Bundle(Mapping[str, np.ndarray]):
    """Read-only mapping name -> array, in wire order (names sorted bytewise).

    Arrays are built on first access and cached; each is a read-only view into
    the source buffer where the dtype allows (see ``decode``). Block-quantized
    tensors (SPEC.md §4.6) come out as `BlockArray`.
    """

    def __init__(self, buf: Any, infos: dict[str, TensorInfo], metadata: dict[str, Any], source: Any = None) -> None:
        self._buf = buf
        self._source = buf if source is None else source  # what `close` closes (the mmap of load_file)
        self._infos = infos
        self._cache: dict[str, np.ndarray] = {}
        self.metadata = metadata

    def __getitem__(self, name: str) -> np.ndarray:
        arr = self._cache.get(name)
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


def bundle_parts(tensors: Tensors, metadata: Mapping[str, Any] | None = None, *,
                 compression: str | None = None, shuffle: bool = False) -> list[Payload]:
    """The bundle's bytes as a list of pieces (headers and zero-copy payloads), in order."""
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    entries: list[tuple[bytes, str, Any]] = []
    seen: set[str] = set()
    for name, array in items:
        if not isinstance(name, str):
            raise EncodeError(f"tensor name {name!r} is not text; names are non-empty str")
        key = encode_text(name)
        if not name or len(key) - len(head(3, len(key))) > MAX_NAME_BYTES:
            raise EncodeError(f"tensor name {name[:40]!r} must be 1 to {MAX_NAME_BYTES} UTF-8 bytes")
        if name in seen:
            raise EncodeError(f"tensor name {name!r} appears twice; names in a bundle are unique")
        seen.add(name)
        entries.append((key, name, array))
    entries.sort(key=lambda e: e[0])
    meta = bytearray()
    encode_map(metadata or {}, meta)
    if len(meta) > MAX_METADATA_BYTES:
        raise EncodeError(f"metadata encodes to {len(meta)} bytes, over the {MAX_METADATA_BYTES}-byte "
                          "limit; store large data as a tensor instead")
    first = BUNDLE_MAGIC + b"\x83\x01" + bytes(meta) + head(5, len(entries))
    parts: list[Payload] = [first]
    offset = len(first)
    for key, _, array in entries:
        offset += len(key)
        header, payload = item_parts(array, offset, version=False, compression=compression, shuffle=shuffle)
        parts += (key, header, payload)
        offset += len(header) + _nbytes(payload)
    return parts


def _nbytes(payload: Payload) -> int:
    return payload.nbytes if isinstance(payload, (memoryview, np.ndarray)) else len(payload)


def encode_bundle(tensors: Tensors, metadata: Mapping[str, Any] | None = None, *,
                  compression: str | None = None, shuffle: bool = False) -> bytes:
    """The one deterministic encoding of named tensors plus metadata (compressed per tensor when asked)."""
    return b"".join(cast(list[Any], bundle_parts(tensors, metadata, compression=compression, shuffle=shuffle)))


def decode_bundle(data: Any, *, strict: bool = True, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> Bundle:
    """Decode and fully validate a bundle document; arrays are views into `data` (see ``decode``)."""
    bundle = parse_bundle(data, strict=strict, max_decompressed=max_decompressed)
    for name in bundle:
        bundle[name]  # element checks (bool bytes, packed tail bits) happen here
    return bundle


def parse_bundle(data: Any, *, strict: bool = True, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> Bundle:
    """Check a bundle's structure and headers; element values are checked on first access."""
    source, data = data, byte_buffer(data)
    r = Reader(data, strict=strict, max_decompressed=max_decompressed)
    metadata, count = read_bundle_prefix(r)
    entries = TensorEntries(count)
    infos: dict[str, TensorInfo] = {}
    while entries.remaining:
        name, info = entries.read(r)
        infos[name] = info
    close_document(r)
    return Bundle(data, infos, metadata, source)


def read_bundle_prefix(r: Reader) -> tuple[dict[str, Any], int]:
    """Read a bundle document up to its tensor map head (SPEC.md §7.1 bundle steps 1-5 and 6's head).

    Returns the metadata and the number of tensor entries that follow.
    """
    open_document(r, BUNDLE_TAG)
    start = r.pos
    if r.expect(4, "the bundle array") != 3:
        raise r.fail("UNEXPECTED_TYPE", "a bundle array has exactly 3 elements", start)
    read_version(r)
    meta_start = r.pos
    metadata = r.map_body(r.expect(5, "the metadata map"), 1)
    if r.pos - meta_start > MAX_METADATA_BYTES:
        raise r.fail("METADATA_TOO_LARGE", f"metadata is {r.pos - meta_start} bytes, over the "
                     f"{MAX_METADATA_BYTES}-byte limit", meta_start)
    return metadata, r.expect(5, "the tensor map")


class TensorEntries:
    """Reads a bundle's tensor map one entry at a time, with the checks of SPEC.md §7.1 step 6.

    State changes only when an entry has been read whole, so an incremental reader
    (the stream Assembler) can retry an entry whose bytes had not all arrived.
    """

    def __init__(self, count: int) -> None:
        self.remaining = count
        self.prev: bytes | None = None
        self.names: set[str] = set()

    def read(self, r: Reader) -> tuple[str, TensorInfo]:
        key_start = r.pos
        length = r.expect(3, "a tensor name (text)")
        name = r.text(length, "a tensor name")
        key = bytes(r.buf[key_start:r.pos])
        if not name or length > MAX_NAME_BYTES:
            raise r.fail("INVALID_NAME", f"tensor names are 1 to {MAX_NAME_BYTES} UTF-8 bytes, "
                         f"found {length}", key_start)
        if r.strict and self.prev is not None and key <= self.prev:
            if key == self.prev:
                raise r.fail("DUPLICATE_NAME", f"tensor {name!r} appears twice", key_start)
            raise r.fail("UNSORTED_KEYS", f"tensor {name!r} is out of order; names must be sorted "
                         "bytewise by their encoding", key_start)
        if name in self.names:
            raise r.fail("DUPLICATE_NAME", f"tensor {name!r} appears twice", key_start)
        arr_start = r.pos
        fields = r.expect(4, f"the array of tensor {name!r}")
        if fields not in (3, 4):
            raise r.fail("UNEXPECTED_TYPE", f"tensor {name!r}: a tensor array in a bundle has 3 or 4 "
                         f"elements, found {fields}", arr_start)
        info = read_fields(r, fields)
        self.prev = key
        self.names.add(name)
        self.remaining -= 1
        return name, info
