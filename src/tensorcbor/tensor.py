"""Tensor items (SPEC.md §4): building them and reading them back.

Shared by the stand-alone tensor document and by bundles. The element data is
never parsed as CBOR items: it is one byte string placed at an aligned offset, so
decoding is header parsing plus a numpy view, whatever the tensor's size.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from . import blocks, packing
from .cbor import Reader, encode_text, head
from .dtypes import BY_CODE, DType, from_numpy
from .errors import DecodeError, EncodeError

SELF_DESCRIBE = b"\xd9\xd9\xf7"  # tag 55799
TENSOR_TAG = 52084  # 0xcb74
BUNDLE_TAG = 52066  # 0xcb62
COMPRESSED_TAG = 52090  # 0xcb7a, the Extended profile's compressed data item
TENSOR_MAGIC = SELF_DESCRIBE + head(6, TENSOR_TAG)
BUNDLE_MAGIC = SELF_DESCRIBE + head(6, BUNDLE_TAG)
VERSION = 1
MAX_RANK = 32
MAX_SIZE = (1 << 63) - 1
"""Largest stream document length (SPEC.md §10)."""
MAX_ELEMENTS = (1 << 53) - 1
"""Largest product of a shape's non-zero dimensions (SPEC.md §4.2): every data length then fits in 2^57."""
STRING = BY_CODE[8]
_BIG_ENDIAN_HOST = sys.byteorder == "big"

Payload = bytes | memoryview | np.ndarray

# Per-dtype constant heads, computed once.
_DTYPE_HEAD = {d.code: head(0, d.code) for d in BY_CODE.values()}
_TAG_HEAD = {d.code: (head(6, d.rfc8746_tag) if d.rfc8746_tag is not None else b"") for d in BY_CODE.values()}
_SMALL_SHAPES: dict[tuple[int, ...], bytes] = {}


@dataclass(frozen=True)
class TensorInfo:
    """Where a tensor's elements are, as found by the header parser."""

    dtype: DType
    shape: tuple[int, ...]
    offset: int
    """Offset of the element bytes from the document start."""
    nbytes: int
    """Length of the element bytes (for strings: of the encoded string array)."""
    strings: list[str] | None = None

    @property
    def count(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def element_source(self, buf: Any) -> tuple[Any, TensorInfo]:
        """Buffer and location of the element bytes; compressed tensors override this to decompress."""
        return buf, self


# ---------------------------------------------------------------- encoding

def shape_bytes(shape: tuple[int, ...]) -> bytes:
    cached = _SMALL_SHAPES.get(shape)
    if cached is not None:
        return cached
    out = head(4, len(shape)) + b"".join(head(0, d) for d in shape)
    if len(_SMALL_SHAPES) < 4096:
        _SMALL_SHAPES[shape] = out
    return out


def prepare(array: Any) -> tuple[DType, tuple[int, ...], Payload]:
    """Element type, shape and wire payload (little-endian, packed) of an array-like or a `BlockArray`."""
    if isinstance(array, blocks.BlockArray):
        if len(array.shape) > MAX_RANK:
            raise EncodeError(f"rank {len(array.shape)} exceeds tensorcbor's limit of {MAX_RANK} dimensions")
        return array.dtype_info, array.shape, array.data
    arr = array if isinstance(array, np.ndarray) else np.asarray(array)
    dt = from_numpy(arr.dtype)
    if dt is None:
        raise EncodeError(_unsupported_dtype_message(arr.dtype))
    shape = arr.shape
    if len(shape) > MAX_RANK:
        raise EncodeError(f"rank {len(shape)} exceeds tensorcbor's limit of {MAX_RANK} dimensions; reshape the array")
    nonzero = 1
    for d in shape:
        nonzero *= d or 1
    if nonzero > MAX_ELEMENTS:
        raise EncodeError(f"shape {list(shape)}: the non-zero dimensions multiply past 2^53-1 (SPEC.md §4.2)")
    if dt.kind == "string":
        return dt, shape, _string_payload(arr)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    if arr.dtype.byteorder == (">" if not _BIG_ENDIAN_HOST else "<") or (
            _BIG_ENDIAN_HOST and arr.dtype.itemsize > 1):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if dt.packed:
        return dt, shape, packing.pack(arr.view(np.uint8), dt.bits)
    if dt.kind == "bool":
        return dt, shape, np.not_equal(arr.reshape(-1).view(np.uint8), 0).view(np.uint8)
    if arr.dtype.char in _BUFFER_CHARS and arr.dtype.kind != "V":  # ml_dtypes types reuse these chars
        return dt, shape, memoryview(cast(Any, arr))
    return dt, shape, arr.reshape(-1).view(np.uint8)


_BUFFER_CHARS = frozenset("bBhHiIlLqQefdFD")


def _string_payload(arr: np.ndarray) -> bytes:
    flat = arr.reshape(-1)
    parts = [head(4, flat.size)]
    parts.extend(encode_text(str(s)) for s in flat.tolist())
    return b"".join(parts)


def _unsupported_dtype_message(dt: np.dtype) -> str:
    if dt.kind == "O":
        return ("object arrays have no tensorcbor encoding; convert strings with "
                "arr.astype(numpy.dtypes.StringDType()) and numbers to a numeric dtype")
    if dt.kind == "S":
        return "byte-string arrays (dtype 'S') are not text; decode them to str first (arr.astype('U'))"
    return (f"dtype {dt} is not in the tensorcbor dtype table; cast to one of "
            + ", ".join(d.name for d in BY_CODE.values()))


def body_parts(dt: DType, shape: tuple[int, ...], payload: Payload, offset: int,
               version: bool) -> tuple[bytes, Payload]:
    """Header bytes and payload of a tensor array whose first byte lands at `offset`."""
    fields = _DTYPE_HEAD[dt.code] + shape_bytes(shape)
    if version:
        fields = b"\x01" + fields
    if dt.kind == "string":
        return bytes((0x80 | (4 if version else 3),)) + fields, payload
    nbytes = payload.nbytes if isinstance(payload, (memoryview, np.ndarray)) else len(payload)
    data_head = _TAG_HEAD[dt.code] + head(2, nbytes)
    # The array head is one byte for 3..5 elements, so pad presence does not move anything.
    misalign = (-(offset + 1 + len(fields) + len(data_head))) % dt.align
    nfields = (4 if version else 3) + (misalign > 0)
    if misalign:
        fields += bytes((0x40 | (misalign - 1),)) + bytes(misalign - 1)
    return bytes((0x80 | nfields,)) + fields + data_head, payload


def item_parts(array: Any, offset: int, *, version: bool, compression: str | None = None,
               shuffle: bool = False) -> tuple[bytes, Payload]:
    """Header and payload of one tensor array at `offset`, compressed (SPEC.md §11) when asked and worth it."""
    dt, shape, payload = prepare(array)
    if compression is not None:
        from .compression import body_parts as compressed_parts
        parts = compressed_parts(dt, shape, payload, version=version, codec=compression, shuffle_bytes=shuffle)
        if parts is not None:
            return parts
    elif shuffle:
        raise EncodeError("shuffle=True is a filter of the compressed form; pass compression='zstd' too")
    return body_parts(dt, shape, payload, offset, version=version)


# ---------------------------------------------------------------- decoding

def read_fields(r: Reader, nfields: int) -> TensorInfo:
    """Read dtype, shape, optional pad and data: `nfields` is 3 (no pad) or 4 (pad)."""
    dt = read_dtype(r)
    shape, count = read_shape(r, dt)
    return read_data(r, dt, shape, count, nfields == 4)


def read_dtype(r: Reader) -> DType:
    """F1: the dtype code."""
    start = r.pos
    code = r.expect(0, "the dtype (unsigned integer)")
    dt = BY_CODE.get(code)
    if dt is None:
        raise r.fail("UNKNOWN_DTYPE", f"dtype code {code} is not in the dtype table (SPEC.md §3)", start)
    return dt


def read_data(r: Reader, dt: DType, shape: tuple[int, ...], count: int, padded: bool) -> TensorInfo:
    """F3-F6: the optional padding item and the data item of a tensor whose dtype and shape are known."""
    nfields = 4 if padded else 3
    pad_len = 0
    if nfields == 4:
        pad_start = r.pos
        pad_len = r.expect(2, "the padding byte string")
        body = r.take(pad_len, "the padding")
        if r.strict and any(r.buf[body:body + pad_len]):
            raise r.fail("BAD_PADDING", "padding bytes must be zero", pad_start)
        pad_len = r.pos - pad_start
    if dt.kind == "string":
        if nfields == 4 and r.strict:
            raise r.fail("BAD_PADDING", "string tensors never carry padding", r.pos - pad_len)
        return _read_strings(r, dt, shape, count)
    data_start = r.pos
    m, _, arg = r.head()
    if m == 6 and arg == COMPRESSED_TAG:  # Extended profile, SPEC.md §11
        from .compression import read_compressed
        return read_compressed(r, dt, shape, count, pad_len, data_start)
    if dt.rfc8746_tag is not None:
        if m != 6 or arg != dt.rfc8746_tag:
            found = f"tag {arg}" if m == 6 else "no tag"
            raise r.fail("UNEXPECTED_TAG", f"{dt.name} data must be wrapped in RFC 8746 tag "
                         f"{dt.rfc8746_tag}, found {found}", data_start)
        m, _, arg = r.head()
    if m != 2:
        code_ = "UNEXPECTED_TAG" if m == 6 else "UNEXPECTED_TYPE"
        raise r.fail(code_, f"{dt.name} element data must be a byte string", data_start)
    if r.strict:
        misalign = (-(r.pos - pad_len)) % dt.align
        if pad_len != misalign:
            raise r.fail("BAD_PADDING", f"element data at offset {r.pos - pad_len} needs {misalign} "
                         f"padding bytes for {dt.align}-byte alignment, found {pad_len}", data_start)
    expected = dt.nbytes(count)
    if arg != expected:
        raise r.fail("SHAPE_MISMATCH", f"shape {list(shape)} of {dt.name} needs {expected} data bytes, "
                     f"found {arg}", data_start)
    offset = r.take(arg, "the element data")
    return TensorInfo(dt, shape, offset, arg)


def read_shape(r: Reader, dt: DType) -> tuple[tuple[int, ...], int]:
    """F2: the shape and its element count; for a block dtype (SPEC.md §4.6), whole blocks in the last dimension."""
    start = r.pos
    rank = r.expect(4, "the shape array")
    if rank > MAX_RANK:
        raise r.fail("RANK_TOO_LARGE", f"rank {rank} exceeds the limit of {MAX_RANK}", start)
    dims = []
    nonzero = 1
    for _ in range(rank):
        dim_start = r.pos
        d = r.expect(0, "a dimension (unsigned integer)")
        if d:
            nonzero *= d
            if nonzero > MAX_ELEMENTS:
                raise r.fail("SIZE_OVERFLOW", "the product of the non-zero dimensions exceeds 2^53-1", dim_start)
        dims.append(d)
    shape = tuple(dims)
    if dt.block is not None:
        blocks.check_decoded_shape(r, dt, shape, start)
    return shape, (0 if 0 in dims else nonzero)


def _read_strings(r: Reader, dt: DType, shape: tuple[int, ...], count: int) -> TensorInfo:
    start = r.pos
    n = r.expect(4, "the string array")
    if n != count:
        raise r.fail("SHAPE_MISMATCH", f"shape {list(shape)} needs {count} strings, found {n}", start)
    strings = []
    for _ in range(n):  # every string needs at least one byte: bounded by the input
        strings.append(r.text(r.expect(3, "a string element"), "a string element"))
    return TensorInfo(dt, shape, start, r.pos - start, strings)


def plain_view(buf: Any, code: int, shape: tuple[int, ...], count: int, offset: int) -> Any:
    """The read-only view of a checked plain tensor (dtype `code`) in an aligned buffer on a little-endian host, or
    None when materialize must decide (packed, bool, block-quantized, string, empty)."""
    np_dtype = _VIEW_DTYPES.get(code)
    if np_dtype is None:
        if code not in _VIEWABLE:
            return None
        np_dtype = _VIEW_DTYPES[code] = BY_CODE[code].np_dtype  # imports ml_dtypes on first use of its types
    if not count:
        return None
    arr = np.frombuffer(buf, np_dtype, count, offset).reshape(shape)
    if arr.flags.writeable:  # only for a writable source buffer
        arr.flags.writeable = False
    return arr


_VIEWABLE = frozenset(d.code for d in BY_CODE.values()
                      if not (d.packed or d.kind in ("bool", "string") or d.block is not None))
"""Every code whose element bytes are viewed as they are."""
_VIEW_DTYPES: dict[int, Any] = {}


def materialize(buf: Any, info: TensorInfo, copy: bool) -> Any:
    """The numpy array (a `BlockArray` for block dtypes) of a parsed tensor: a read-only view where possible."""
    report_at = None
    if info.__class__ is not TensorInfo:  # compressed: element errors are reported at the compressed data
        report_at = info.offset
        buf, info = info.element_source(buf)
    dt = info.dtype
    if dt.block is not None:
        raw = np.frombuffer(buf, np.uint8, info.nbytes, info.offset)
        return blocks.BlockArray(dt.name, info.shape, raw.copy() if copy else raw)
    if info.strings is not None:
        arr = np.array(info.strings, dtype=dt.np_dtype).reshape(info.shape)
    elif dt.packed or dt.kind == "bool":
        arr = _unpack_checked(np.frombuffer(buf, np.uint8, info.nbytes, info.offset), dt, info, report_at)
        if copy and dt.kind == "bool":
            return arr.copy()
    elif info.count == 0:
        arr = np.empty(info.shape, dt.np_dtype)
    else:
        arr = np.frombuffer(buf, dt.np_dtype, info.count, info.offset).reshape(info.shape)
        if _BIG_ENDIAN_HOST and dt.bits > 8:
            arr = arr.byteswap()
        elif copy or info.offset % dt.align or not arr.flags.aligned:
            # Never a misaligned view (a lenient document, or a buffer at an odd address): SPEC.md §7.3.
            arr = arr.copy()
            if copy:
                return arr
        else:
            return arr if not arr.flags.writeable else _readonly(arr)
    if not copy:
        arr.flags.writeable = False
    return arr


def _unpack_checked(raw: np.ndarray, dt: DType, info: TensorInfo, report_at: int | None = None) -> np.ndarray:
    """Element checks (SPEC.md §7.2) at the bad byte, or at `report_at` (a compressed tensor's data, §8.1)."""
    if dt.kind == "bool":
        if raw.size and int(raw.max()) > 1:
            bad = int(np.argmax(raw > 1))
            raise DecodeError("INVALID_ELEMENT", f"bool element {bad} is 0x{int(raw[bad]):02x}; "
                              "only 0x00 and 0x01 are allowed", info.offset + bad if report_at is None else report_at)
        return raw.view(np.bool_).reshape(info.shape)
    values, tail_ok = packing.unpack(raw, dt.bits, info.count)
    if not tail_ok:
        raise DecodeError("INVALID_ELEMENT", f"unused bits after the last {dt.name} element must be zero",
                          info.offset + info.nbytes - 1 if report_at is None else report_at)
    return values.view(dt.np_dtype).reshape(info.shape)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr
