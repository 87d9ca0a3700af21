"""Stand-alone tensor documents: ``encode`` and ``decode``."""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np

from .blocks import BlockArray
from .cbor import DEFAULT_MAX_DECOMPRESSED, Reader
from .dtypes import TABLE
from .errors import DecodeError
from .tensor import (
    _BIG_ENDIAN_HOST,
    BUNDLE_MAGIC,
    BUNDLE_TAG,
    MAX_ELEMENTS,
    SELF_DESCRIBE,
    TENSOR_MAGIC,
    TENSOR_TAG,
    VERSION,
    TensorInfo,
    body_parts,
    item_parts,
    materialize,
    prepare,
    read_fields,
)

# Fast paths for the common case: a native-order numeric dtype that numpy can hand out as a
# buffer. They produce and accept exactly what the general code does (the header is built
# by body_parts, the decoder checks every strict rule) and defer to it for anything else.
_PLAIN = [d for d in TABLE if not d.from_ml_dtypes and d.np_dtype.char in "bBhHiIlLqQefdFD" and d.np_dtype.kind != "V"]
_HEADERS: dict[np.dtype, dict[tuple[int, ...], bytes]] = {d.np_dtype: {} for d in _PLAIN}
_MAX_CACHED_SHAPES = 1024
# dtype code -> (numpy dtype, element size, alignment, RFC 8746 tag or -1)
_VIEWS: dict[int, tuple[np.dtype, int, int, int]] = {
    d.code: (d.np_dtype, d.bits // 8, d.align, d.rfc8746_tag if d.rfc8746_tag is not None else -1)
    for d in _PLAIN if d.code < 24}
_VIEW_INPUTS = () if _BIG_ENDIAN_HOST else (bytes, bytearray)
# Document length -> (header, dtype, shape) of the last valid document of that length: for these
# dtypes a document is valid exactly when it starts with a valid header and has the length that
# header implies, so a repeated layout is recognized with one comparison.
_SEEN: dict[int, tuple[bytes, np.dtype, tuple[int, ...], int]] = {}


def encode(array: Any, *, compression: str | None = None, shuffle: bool = False) -> bytes:
    """The one deterministic tensorcbor encoding of a numpy array (or array-like).

    ``compression="zstd"`` (with an optional byte ``shuffle``) writes the Extended
    profile's compressed form (SPEC.md §11), which Core-only decoders reject.
    """
    if compression is not None or shuffle:
        fields, data = item_parts(array, len(TENSOR_MAGIC), version=True, compression=compression,
                                  shuffle=shuffle)
        return b"".join((TENSOR_MAGIC, fields, cast(Any, data)))
    if type(array) is np.ndarray and not _BIG_ENDIAN_HOST:
        headers = _HEADERS.get(array.dtype)  # native byte order only: '>f4' != '<f4'
        if headers is not None and array.flags.c_contiguous:
            header = headers.get(array.shape)
            if header is None:
                header = _header(array, headers)
            return b"".join((header, cast(Any, array)))
    dt, shape, payload = prepare(array)
    header, payload = body_parts(dt, shape, payload, len(TENSOR_MAGIC), version=True)
    return b"".join((TENSOR_MAGIC, header, cast(Any, payload)))


def _header(array: np.ndarray, cache: dict[tuple[int, ...], bytes]) -> bytes:
    dt, shape, payload = prepare(array)
    header = TENSOR_MAGIC + body_parts(dt, shape, payload, len(TENSOR_MAGIC), version=True)[0]
    if len(cache) < _MAX_CACHED_SHAPES:
        cache[shape] = header
    return header


def decode(data: Any, *, copy: bool = False, strict: bool = True,
           max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> np.ndarray | BlockArray:
    """Decode a tensor document (a block-quantized tensor, SPEC.md §4.6, decodes to a `BlockArray`).

    Returns a read-only view into `data` (bytes, bytearray, memoryview, mmap, or a
    contiguous numpy uint8 array) unless `copy` is true or the dtype needs unpacking
    (sub-byte and string tensors are always fresh arrays, still read-only unless
    `copy`). The view holds a buffer export of `data`: it keeps `data` alive, and a
    bytearray cannot be resized nor an mmap closed (BufferError) while it lives. With a
    mutable `data`, later writes to it show through the view (the view itself stays
    read-only); pass ``copy=True`` to detach. `strict=False` selects the lenient mode of
    SPEC.md §7.3. `max_decompressed` bounds the uncompressed bytes that compressed data
    (Extended profile) may declare: more fails with DECOMPRESSION_LIMIT before anything
    is decompressed.
    """
    if strict and not copy and type(data) in _VIEW_INPUTS:  # bytes or bytearray: check_input has nothing to say
        found = _decode_view(data)
        if found is not None:
            return found
    check_input(data, "decode")
    data = byte_buffer(data)
    r = Reader(data, strict=strict, max_decompressed=max_decompressed)
    info = read_fields(r, open_tensor_array(r))
    arr = materialize(data, info, copy)  # element checks come before TRAILING_BYTES (SPEC.md §7.1)
    close_document(r)
    return arr


def byte_buffer(data: Any) -> Any:
    """`data` as a read-only buffer indexable by byte: bytes as it is, anything else as a read-only memoryview.

    Arrays built on a read-only memoryview hold its export (so a bytearray cannot be resized
    nor an mmap closed under them) and can never be made writeable again.
    """
    if type(data) is bytes:
        return data
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        if not view.c_contiguous:
            raise TypeError("decode needs a contiguous buffer; pass bytes(data) or numpy.ascontiguousarray(data)")
        view = view.cast("B")
    return view.toreadonly()


def check_input(data: Any, caller: str) -> None:
    """TypeError saying what to pass when `data` is a file name or a numpy array instead of a document's bytes."""
    if isinstance(data, (str, os.PathLike)):
        raise TypeError(f"{caller}() takes the document's bytes, not a file name: use tensorcbor.load_file({data!r}) "
                        f"for a bundle file, or {caller}(pathlib.Path({data!r}).read_bytes())")
    if isinstance(data, np.ndarray):
        if data.dtype == np.uint8 and data.ndim == 1:
            raise TypeError(f"{caller}() takes bytes, bytearray, memoryview or mmap, not a numpy array: pass "
                            "memoryview(arr) (no copy) or arr.tobytes()")
        raise TypeError(f"{caller}() takes an encoded document (bytes), not a {data.dtype} array; to encode an "
                        "array use tensorcbor.encode(arr)")


def parse_tensor_document(r: Reader) -> TensorInfo:
    """Check a tensor document's structure (SPEC.md §7.1) and say where its elements are.

    Element checks are left to the caller (they come before TRAILING_BYTES in §7.1's order).
    """
    info = read_fields(r, open_tensor_array(r))
    close_document(r)
    return info


def open_tensor_array(r: Reader) -> int:
    """Read a tensor document up to its version (steps 1-5); return how many fields follow (3 or 4)."""
    open_document(r, TENSOR_TAG)
    start = r.pos
    count = open_versioned_array(r, "the tensor array")
    if count not in (4, 5):
        raise r.fail("UNEXPECTED_TYPE", f"a tensor array has 4 or 5 elements, found {count}", start)
    return count - 1


def open_versioned_array(r: Reader, what: str) -> int:
    """The top-level array head and the version, in the order of SPEC.md §5.3: return the array length.

    The version is judged before the length, so a future version with another layout is
    always UNSUPPORTED_VERSION; the caller checks the length.
    """
    start = r.pos
    count = r.expect(4, what)
    if count == 0:
        raise r.fail("UNEXPECTED_TYPE", f"{what} is empty; it starts with the version", start)
    read_version(r)
    return count


def open_document(r: Reader, want: int) -> None:
    """Check the self-described CBOR tag and the document tag (BAD_MAGIC otherwise)."""
    magic = TENSOR_MAGIC if want == TENSOR_TAG else BUNDLE_MAGIC
    if r.buf[r.pos:r.pos + 6] == magic:
        r.pos += 6
    else:
        _open_slow(r, want)


def _open_slow(r: Reader, want: int) -> None:
    kinds = {TENSOR_TAG: "tensor", BUNDLE_TAG: "bundle"}
    if r.end - r.pos < 3 or bytes(r.buf[r.pos:r.pos + 3]) != SELF_DESCRIBE:
        if r.strict:
            if r.end - r.pos < 3 and bytes(r.buf[r.pos:r.end]) == SELF_DESCRIBE[:r.end - r.pos]:
                raise r.fail("TRUNCATED", "the input ends inside the self-described CBOR tag")
            raise r.fail("BAD_MAGIC", "not a tensorcbor document: it must start with d9d9f7 "
                         "(self-described CBOR, tag 55799)")
    else:
        r.pos += 3
    start = r.pos
    major, _, tag = r.head()
    if major != 6 or tag not in kinds:
        raise r.fail("BAD_MAGIC", "not a tensorcbor document: expected tag 52084 (tensor) or "
                     "52066 (bundle) after the self-described CBOR tag", start)
    if tag != want:
        other = "decode_bundle/load_file" if tag == BUNDLE_TAG else "decode"
        raise r.fail("BAD_MAGIC", f"this is a {kinds[tag]} document, not a {kinds[want]}; "
                     f"read it with {other}", start)


def read_version(r: Reader) -> None:
    start = r.pos
    version = r.expect(0, "the version (unsigned integer)")
    if version != VERSION:
        raise r.fail("UNSUPPORTED_VERSION", f"format version {version} is not supported "
                     f"(this decoder reads version {VERSION})", start)


def close_document(r: Reader) -> None:
    if r.pos != r.end:
        raise DecodeError("TRAILING_BYTES", f"{r.end - r.pos} bytes follow the end of the document", r.pos)


def _decode_view(data: bytes | bytearray) -> np.ndarray | None:
    """A strictly valid, non-empty tensor of a `_VIEWS` dtype with small heads, as a read-only view; else None.

    Returns None (and lets the general decoder find the error, or handle the rarer
    layouts) on anything it does not positively recognize as valid.
    """
    seen = _SEEN.get(len(data))
    if seen is not None and data.startswith(seen[0]):
        return _pinned_view(data, seen[1], seen[2], len(seen[0]), seen[3])
    return _parse_view(data)


def _parse_view(data: bytes | bytearray) -> np.ndarray | None:
    try:
        fields = data[6]
        if not data.startswith(TENSOR_MAGIC) or data[7] != 1 or (fields != 0x84 and fields != 0x85):
            return None
        view = _VIEWS.get(data[8])
        if view is None:
            return None
        np_dtype, size, align, tag = view
        rank = data[9] - 0x80
        if not 0 <= rank < 24:
            return None
        pos = 10
        count = 1
        shape = []
        for _ in range(rank):
            ib = data[pos]
            if ib < 24:
                pos += 1
            elif ib == 24 and data[pos + 1] >= 24:
                ib = data[pos + 1]
                pos += 2
            elif ib == 25 and data[pos + 1]:
                ib = (data[pos + 1] << 8) | data[pos + 2]
                pos += 3
            elif ib == 26 and (data[pos + 1] or data[pos + 2]):
                ib = int.from_bytes(data[pos + 1:pos + 5], "big")
                pos += 5
            else:
                return None
            count *= ib
            shape.append(ib)
        pad = 0
        if fields == 0x85:
            pad = data[pos] - 0x3F  # the pad item's whole length: head plus zero bytes
            if not 0 < pad < 25 or data.count(0, pos + 1, pos + pad) != pad - 1:
                return None
            pos += pad
        if tag >= 0:
            if data[pos] != 0xD8 or data[pos + 1] != tag:
                return None
            pos += 2
        ib = data[pos]
        if 0x40 <= ib < 0x58:
            length = ib - 0x40
            pos += 1
        elif ib == 0x58 and data[pos + 1] >= 24:
            length = data[pos + 1]
            pos += 2
        elif ib == 0x59 and data[pos + 1]:
            length = (data[pos + 1] << 8) | data[pos + 2]
            pos += 3
        elif ib == 0x5A and (data[pos + 1] or data[pos + 2]):
            length = int.from_bytes(data[pos + 1:pos + 5], "big")
            pos += 5
        else:
            return None
        if (pad != (pad - pos) % align or length != count * size or pos + length != len(data)
                or not count or count > MAX_ELEMENTS):
            return None
    except IndexError:
        return None
    dims = tuple(shape)
    if len(_SEEN) >= 256:
        _SEEN.clear()
    _SEEN[len(data)] = (bytes(data[:pos]), np_dtype, dims, count)
    return _pinned_view(data, np_dtype, dims, pos, count)


def _pinned_view(data: bytes | bytearray, np_dtype: np.dtype, shape: tuple[int, ...], offset: int,
                 count: int) -> np.ndarray:
    """A read-only view of `count` elements that keeps `data` from changing size under it.

    For a bytearray the view holds a buffer export of a read-only memoryview (np.frombuffer
    does, np.ndarray(buffer=) does not): the export is what stops it from being resized or
    cleared while the view lives, and the view can never be made writeable. bytes cannot
    change at all, so a plain reference will do: np.ndarray(buffer=bytes), the cheapest
    constructor (the first release's; the export-holding frombuffer plus reshape for every
    input made a 16-element decode about 2x slower).
    """
    if type(data) is bytes:
        return np.ndarray(shape, np_dtype, data, offset)
    return np.frombuffer(memoryview(data).toreadonly(), np_dtype, count, offset).reshape(shape)
