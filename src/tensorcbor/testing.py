"""Hypothesis strategies for fuzzing tensorcbor implementations (``pip install tensorcbor[testing]``).

Use them to check your own encoder, decoder or canister against the reference codec::

    from hypothesis import given
    import tensorcbor
    from tensorcbor.testing import arrays, invalid_blobs, tensor_blobs

    @given(tensor_blobs())
    def test_my_decoder_round_trips(blob):
        assert my_encode(my_decode(blob)) == blob

    @given(invalid_blobs())
    def test_my_decoder_rejects(case):
        blob, code = case
        with pytest.raises(MyDecodeError) as exc:
            my_decode(blob)
        assert exc.value.code == code

A canister is checked through its ``tensorcbor_conformance`` query (conformance/README.md, "Checking a
canister"): `CanisterImpl` installs the module once under the IC emulation and each example is one query, with
the IC's limits (a trap or running out of instructions raises `ImplError`)::

    from tensorcbor.conformance.canister import CanisterImpl
    from tensorcbor.testing import bundle_blobs, invalid_blobs, tensor_blobs

    canister = CanisterImpl("target/wasm32-unknown-unknown/release/my_canister.wasm")

    @given(tensor_blobs())
    def test_my_canister_round_trips(blob):
        assert canister.call("decode_tensor", blob) == blob  # ok: its re-encoding, the same bytes

    @given(bundle_blobs())
    def test_my_canister_round_trips_bundles(blob):
        assert canister.call("decode_bundle", blob) == blob

    @given(invalid_blobs("tensor"))
    def test_my_canister_rejects(case):
        blob, code = case
        assert canister.decode("example", blob, "tensor")["error"] == code  # its err record, as a dict

``canister.calls[-1].ic_instructions`` is what the last call cost. ``python3 -m tensorcbor.fuzz --impl python
--impl canister:my_canister.wasm`` runs the differential campaign (these strategies seed its corpus).

Numeric arrays are drawn as raw bit patterns, biased towards the interesting ones
(zeros of both signs, infinities, quiet and signalling NaNs with payloads,
subnormals, integer extremes), so every element round-trips bit-exactly.
``invalid_blobs`` builds each defect by editing the bytes of a valid document at a
position computed from the layout of SPEC.md, never by asking a decoder.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .blocks import BlockArray
from .bundle import bundle_parts, encode_bundle
from .codec import encode
from .dtypes import BY_CODE, BY_NAME, TABLE, DType

__all__ = ["dtypes", "block_arrays", "arrays", "tensor_blobs", "metadata", "bundles", "bundle_blobs", "mutated_blobs",
           "invalid_blobs", "special_bit_patterns"]

DTypeLike = DType | str | int | None

_STRING_DTYPE = np.dtypes.StringDType()
_UINT_FOR_BITS = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def dtypes() -> st.SearchStrategy[DType]:
    """Every row of the dtype table whose tensors are numpy arrays (block types: `block_arrays`)."""
    return st.sampled_from([d for d in TABLE if d.block is None])


@st.composite
def block_arrays(draw: Any, dtype: DTypeLike = None, max_blocks: int = 12) -> BlockArray:
    """Block-quantized tensors (SPEC.md §4.6) with arbitrary block bytes, rank 1-3, at most `max_blocks` blocks."""
    fixed = _resolve(dtype)
    dt = fixed if fixed is not None else draw(st.sampled_from([d for d in TABLE if d.block]))
    assert dt.block is not None
    rows = draw(st.lists(st.integers(0, 3), min_size=0, max_size=2))
    per_row = draw(st.integers(0, 3))
    shape = (*rows, per_row * dt.block[0])
    nblocks = math.prod(shape) // dt.block[0]
    if nblocks > max_blocks:
        shape = (max_blocks * dt.block[0],)
        nblocks = max_blocks
    raw = draw(st.binary(min_size=nblocks * dt.block[1], max_size=nblocks * dt.block[1]))
    return BlockArray(dt.name, shape, raw)


def _resolve(dtype: DTypeLike) -> DType | None:
    if dtype is None or isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, int):
        return BY_CODE[dtype]
    return BY_NAME[dtype]


def special_bit_patterns(width: int) -> list[int]:
    """Bit patterns of a `width`-bit element worth testing in any float or integer format.

    For a float format they include +-0, +-inf (or the max finite), quiet,
    signalling and payload NaNs, the smallest and largest subnormals and the
    smallest normal; for integers 0, 1, -1/max, the minimum and the maximum.
    """
    top = 1 << (width - 1)
    ones = (1 << width) - 1
    found = {0, 1, ones, top, top - 1, top | 1, ones ^ 1, 2}
    for nmant in range(1, width - 1):  # every float layout that fits: exponent field is the rest
        mant = (1 << nmant) - 1
        expo = (top - 1) ^ mant
        found.update({mant, mant + 1, expo, expo | 1, expo | (1 << (nmant - 1)), expo | mant, expo - 1})
    patterns = sorted(found | {p | top for p in found})
    return [p for p in patterns if p <= ones]


@st.composite
def _shapes(draw: Any, max_rank: int, max_side: int, max_elements: int) -> tuple[int, ...]:
    rank = draw(st.integers(0, max_rank))
    dims = []
    size = 1
    for _ in range(rank):
        budget = max_elements // size if size else max_side
        d = draw(st.integers(0, max(0, min(max_side, budget))))
        dims.append(d)
        size *= d
    return tuple(dims)


@st.composite
def _array_of(draw: Any, dt: DType, shape: tuple[int, ...]) -> np.ndarray:
    n = math.prod(shape)
    if dt.kind == "string":
        items = draw(st.lists(st.text(max_size=10), min_size=n, max_size=n))
        return np.array(items, dtype=_STRING_DTYPE).reshape(shape)
    if dt.kind == "bool":
        raw = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 1)))
        return raw.view(np.bool_).reshape(shape)
    if dt.packed:
        raw = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, (1 << dt.bits) - 1)))
        return raw.view(dt.np_dtype).reshape(shape)
    lanes = 2 if dt.kind == "complex" else 1
    width = dt.bits // lanes
    elements = st.one_of(st.sampled_from(special_bit_patterns(width)), st.integers(0, (1 << width) - 1))
    raw = draw(hnp.arrays(_UINT_FOR_BITS[width], n * lanes, elements=elements))
    return raw.view(dt.np_dtype).reshape(shape)


def arrays(dtype: DTypeLike = None, *, max_rank: int = 4, max_side: int = 5,
           max_elements: int = 256) -> st.SearchStrategy[np.ndarray]:
    """numpy arrays of one dtype (a ``DType``, name or code) or of any dtype in the table.

    Native-order, C-contiguous arrays of at most `max_rank` dimensions, each at
    most `max_side` long, with at most `max_elements` elements (zero-size
    dimensions and rank 0 included). Strings use numpy's StringDType and include
    empty and non-ASCII text.
    """
    fixed = _resolve(dtype)
    dts = st.just(fixed) if fixed is not None else dtypes()
    shapes = _shapes(max_rank, max_side, max_elements)
    return st.tuples(dts, shapes).flatmap(lambda ds: _array_of(*ds))


def tensor_blobs(dtype: DTypeLike = None, **kwargs: Any) -> st.SearchStrategy[bytes]:
    """Valid tensor documents (deterministic, so each is the only encoding of its tensor)."""
    return arrays(dtype, **kwargs).map(encode)


def metadata_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """One metadata value: every type of SPEC.md §6, nested in lists and text-keyed dicts."""
    scalars = (st.none() | st.booleans() | st.integers(-(1 << 64), (1 << 64) - 1) | st.floats()
               | st.text(max_size=12) | st.binary(max_size=12))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=max_leaves)


def metadata(max_size: int = 5) -> st.SearchStrategy[dict[str, Any]]:
    """A bundle metadata map."""
    return st.dictionaries(st.text(max_size=10), metadata_values(), max_size=max_size)


def tensor_names() -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=12)


def bundles(max_tensors: int = 4, **array_kwargs: Any) -> st.SearchStrategy[tuple[dict[str, np.ndarray],
                                                                                    dict[str, Any]]]:
    """(tensors, metadata) pairs for ``encode_bundle``."""
    array_kwargs.setdefault("max_rank", 3)
    array_kwargs.setdefault("max_side", 4)
    tensors = st.dictionaries(tensor_names(), arrays(**array_kwargs), max_size=max_tensors)
    return st.tuples(tensors, metadata())


def bundle_blobs(**kwargs: Any) -> st.SearchStrategy[bytes]:
    """Valid bundle documents."""
    return bundles(**kwargs).map(lambda tm: encode_bundle(tm[0], tm[1]))


@st.composite
def mutated_blobs(draw: Any) -> bytes:
    """A valid tensor or bundle document with one byte flipped, or truncated, extended or with a byte inserted.

    The result may still be valid (a flipped element byte); a decoder must either
    accept it or reject it with a registry code, never crash or hang.
    """
    blob = draw(st.one_of(tensor_blobs(max_elements=64), bundle_blobs(max_tensors=3)))
    op = draw(st.sampled_from(("flip", "truncate", "extend", "insert")))
    if op == "flip":
        i = draw(st.integers(0, len(blob) - 1))
        return blob[:i] + bytes((blob[i] ^ draw(st.integers(1, 255)),)) + blob[i + 1:]
    if op == "truncate":
        return blob[:draw(st.integers(0, len(blob) - 1))]
    if op == "extend":
        return blob + draw(st.binary(min_size=1, max_size=8))
    i = draw(st.integers(0, len(blob)))
    return blob[:i] + draw(st.binary(min_size=1, max_size=1)) + blob[i:]


# ------------------------------------------------------------------ invalid documents
#
# A tensor document from ``encode`` is laid out as
#   d9d9f7 d9cb74 | 84/85 | 01 | dtype head | shape | [pad] | [tag] bytes-head | elements
# (string tensors end with an array of text strings instead of the data item), so
# every field's offset follows from the dtype, the shape and the element bytes.

def _head(major: int, arg: int) -> bytes:
    mt = major << 5
    if arg < 24:
        return bytes((mt | arg,))
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes((mt | ai,)) + arg.to_bytes(size, "big")
    raise ValueError(arg)


class _Layout:
    """Field offsets of a tensor document, computed from the array, not from the bytes."""

    def __init__(self, arr: np.ndarray, dt: DType, blob: bytes) -> None:
        self.blob = blob
        self.dt = dt
        self.count = math.prod(arr.shape)
        self.dtype_at = 8
        self.shape_at = 8 + len(_head(0, dt.code))
        self.shape_len = len(_head(4, arr.ndim)) + sum(len(_head(0, d)) for d in arr.shape)
        self.after_shape = self.shape_at + self.shape_len
        self.padded = blob[6] == 0x85
        if dt.kind == "string":
            self.data_len = 0
            self.bytes_head_at = -1
            return
        self.data_len = dt.nbytes(self.count)
        self.bytes_head_at = len(blob) - self.data_len - len(_head(2, self.data_len))
        self.tag_at = self.bytes_head_at - (2 if dt.rfc8746_tag is not None else 0)

    def splice(self, at: int, length: int, new: bytes) -> bytes:
        return self.blob[:at] + new + self.blob[at + length:]


def _tensor_defects(lay: _Layout, cut: int, pick: int) -> list[tuple[bytes, str]]:
    """Every single-byte-edit defect that applies to this document, with its code."""
    b, dt = lay.blob, lay.dt
    out = [
        (b[:cut % len(b)], "TRUNCATED"),
        (b + b"\x00", "TRAILING_BYTES"),
        (b"\x00" + b[1:], "BAD_MAGIC"),
        (b[:3] + b"\xd9\xcb\x62" + b[6:], "BAD_MAGIC"),  # a bundle tag on a tensor
        (b[:6] + bytes((0x86 if pick % 2 else 0x83,)) + b[7:], "UNEXPECTED_TYPE"),
        (lay.splice(7, 1, bytes((2 + pick % 20,))), "UNSUPPORTED_VERSION"),
        (lay.splice(7, 1, b"\x18\x01"), "NON_SHORTEST_HEAD"),
        (lay.splice(7, 1, b"\x20"), "UNEXPECTED_TYPE"),  # version -1
        (lay.splice(7, 1, b"\xc1\x01"), "UNEXPECTED_TAG"),  # a tagged version
        (lay.splice(lay.dtype_at, lay.shape_at - lay.dtype_at, _head(0, (0, 65536, 1 << 32, (1 << 64) - 1)[pick % 4])),
         "UNKNOWN_DTYPE"),
        (lay.splice(lay.dtype_at, lay.shape_at - lay.dtype_at, b"\x1c"), "MALFORMED"),
        (lay.splice(lay.shape_at, lay.shape_len, b"\x98\x21"), "RANK_TOO_LARGE"),
        (lay.splice(lay.shape_at, lay.shape_len, b"\x9f"), "INDEFINITE_LENGTH"),
        (lay.splice(lay.shape_at, lay.shape_len, b"\x82" + _head(0, 1 << 32) * 2), "SIZE_OVERFLOW"),  # [2^32, 2^32]
    ]
    if dt.code < 24:
        out.append((lay.splice(lay.dtype_at, 1, b"\x18" + bytes((dt.code,))), "NON_SHORTEST_HEAD"))
    if not lay.padded:
        # One padding byte that is not needed (the document was aligned without it).
        out.append((b[:6] + b"\x85" + b[7:lay.after_shape] + b"\x40" + b[lay.after_shape:], "BAD_PADDING"))
    else:
        pad_len = b[lay.after_shape] - 0x40
        # Drop the pad: element bytes are misaligned.
        out.append((b[:6] + b"\x84" + b[7:lay.after_shape] + b[lay.after_shape + 1 + pad_len:], "BAD_PADDING"))
        if pad_len:
            at = lay.after_shape + 1 + pick % pad_len
            out.append((lay.splice(at, 1, bytes((1 + pick % 255,))), "BAD_PADDING"))
    if dt.kind == "string":
        return out
    n = lay.data_len
    width = len(_head(2, n))
    wrong = n + 1 if len(_head(2, n + 1)) == width else n - 1
    out.append((lay.splice(lay.bytes_head_at, width, _head(2, wrong)), "SHAPE_MISMATCH"))
    if dt.rfc8746_tag is not None:
        other = 64 + (dt.rfc8746_tag - 64 + 1 + pick % 22) % 23  # another RFC 8746 tag number 64..86
        out.append((lay.splice(lay.tag_at, 2, _head(6, other)), "UNEXPECTED_TAG"))
        out.append((lay.splice(lay.tag_at, 2, b""), "UNEXPECTED_TAG"))  # tag missing
    else:
        out.append((lay.splice(lay.bytes_head_at, 0, b"\xd8\x40"), "UNEXPECTED_TAG"))
    if n:
        elements = len(b) - n
        if dt.kind == "bool":
            at = elements + pick % n
            out.append((lay.splice(at, 1, bytes((2 + pick % 254,))), "INVALID_ELEMENT"))
        elif dt.packed and (lay.count * dt.bits) % 8:
            used = (lay.count * dt.bits) % 8
            out.append((b[:-1] + bytes((b[-1] | (1 << (used + pick % (8 - used))),)), "INVALID_ELEMENT"))
    return out


def _string_defects(arr: np.ndarray, lay: _Layout, pick: int) -> list[tuple[bytes, str]]:
    b = lay.blob
    out = []
    last = str(arr.reshape(-1)[-1]) if arr.size else ""
    if last:  # the last string's bytes end the document
        out.append((b[:-1] + b"\xff", "INVALID_UTF8"))
    # One string too many or too few in the string array (its head directly follows the shape).
    at = lay.after_shape
    width = len(_head(4, lay.count))
    wrong = lay.count + 1 if len(_head(4, lay.count + 1)) == width else lay.count - 1
    out.append((lay.splice(at, width, _head(4, wrong)), "SHAPE_MISMATCH"))
    return out


@st.composite
def _invalid_tensor(draw: Any, dtype: DTypeLike) -> tuple[bytes, str]:
    arr = draw(arrays(dtype, max_rank=3, max_side=4, max_elements=32))
    dt = _resolve(_dtype_of(arr))
    assert dt is not None
    blob = encode(arr)
    lay = _Layout(arr, dt, blob)
    cut = draw(st.integers(0, len(blob) - 1))
    pick = draw(st.integers(0, 1 << 16))
    cases = _tensor_defects(lay, cut, pick)
    if dt.kind == "string":
        cases += _string_defects(arr, lay, pick)
    return _pick_by_code(draw, cases)


def _pick_by_code(draw: Any, cases: list[tuple[bytes, str]]) -> tuple[bytes, str]:
    """A case drawn with every error code equally likely, whatever the number of cases per code."""
    by_code: dict[str, list[bytes]] = {}
    for blob, code in cases:
        by_code.setdefault(code, []).append(blob)
    code = draw(st.sampled_from(sorted(by_code)))
    return draw(st.sampled_from(by_code[code])), code


def _dtype_of(arr: np.ndarray) -> DType:
    from .dtypes import from_numpy
    found = from_numpy(arr.dtype)
    assert found is not None
    return found


# Metadata maps with one defect each, spliced in place of the empty map (a0) of a bundle.
_BAD_METADATA: tuple[tuple[bytes, str], ...] = (
    (b"\xa2\x61b\x00\x61a\x00", "UNSORTED_KEYS"),
    (b"\xa2\x62aa\x00\x61b\x00", "UNSORTED_KEYS"),  # 61 62 ("b") sorts before 62 61 61 ("aa")
    (b"\xa2\x61a\x00\x61a\x01", "DUPLICATE_KEY"),
    (b"\xa1\x61a\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", "NON_CANONICAL_FLOAT"),  # 1.5 fits in binary16
    (b"\xa1\x61a\xfa\x7f\xc0\x00\x00", "NON_CANONICAL_FLOAT"),  # NaN, not f97e00
    (b"\xa1\x61a\xf9\x7e\x01", "NON_CANONICAL_FLOAT"),  # NaN with a payload
    (b"\xa1\x61a\xc1\x00", "UNSUPPORTED_VALUE"),  # a tag
    (b"\xa1\x61a\xf7", "UNSUPPORTED_VALUE"),  # undefined
    (b"\xa1\x61a\xf8\x20", "UNSUPPORTED_VALUE"),  # simple(32)
    (b"\xa1\x01\x00", "UNSUPPORTED_VALUE"),  # integer key
    (b"\xa1\x61a" + b"\x81" * 32 + b"\x00", "NESTING_TOO_DEEP"),
    (b"\xa1\x61a\x5f\x41\x00\xff", "INDEFINITE_LENGTH"),
    (b"\xa1\x61\xff\x00", "INVALID_UTF8"),
    (b"\xb8\x01\x61a\x00", "NON_SHORTEST_HEAD"),
    (b"\xa1\x61a\x18\x05", "NON_SHORTEST_HEAD"),
    (b"\xa1\x61a\xf8\x05", "MALFORMED"),  # two-byte simple value below 32
    (b"\x80", "UNEXPECTED_TYPE"),
)


@st.composite
def _invalid_bundle(draw: Any) -> tuple[bytes, str]:
    tensors = draw(st.dictionaries(tensor_names(), arrays(max_rank=2, max_side=3), min_size=2, max_size=3))
    blob = b"".join(bytes(p) for p in bundle_parts(tensors, {}))
    # blob: magic, 85 01, a0 (metadata), the directory head, entries, pad, tensors (SPEC.md §5.2)
    assert blob[8] == 0xA0 and blob[9] == 0x80 | len(tensors)
    cases: list[tuple[bytes, str]] = [
        (blob[:draw(st.integers(0, len(blob) - 1))], "TRUNCATED"),
        (blob + b"\xf6", "TRAILING_BYTES"),
        (blob[:3] + b"\xd9\xcb\x74" + blob[6:], "BAD_MAGIC"),
        (blob[:6] + b"\x84" + blob[7:], "UNEXPECTED_TYPE"),
        (blob[:7] + b"\x00" + blob[8:], "UNSUPPORTED_VERSION"),
        (blob[:6] + b"\x83\x02" + blob[8:], "UNSUPPORTED_VERSION"),  # a future version with another layout
    ]
    bad_meta, code = draw(st.sampled_from(_BAD_METADATA))
    cases.append((blob[:8] + bad_meta + blob[9:], code))
    first = 10  # the first directory entry
    second = _item_end(blob, first)
    key0_end, key1_end = _item_end(blob, first + 1), _item_end(blob, second + 1)
    key0, key1 = blob[first + 1:key0_end], blob[second + 1:key1_end]
    cases.append((blob[:first + 1] + b"\x60" + blob[key0_end:], "INVALID_NAME"))
    long_name = _head(3, 4097) + b"z" * 4097
    cases.append((blob[:first + 1] + long_name + blob[key0_end:], "INVALID_NAME"))
    cases.append((blob[:second + 1] + key0 + blob[key1_end:], "DUPLICATE_NAME"))
    if len(key1) == len(key0):  # same length: swapping keeps every offset, so only the order is wrong
        cases.append((blob[:first + 1] + key1 + blob[key0_end:second + 1] + key0 + blob[key1_end:],
                      "UNSORTED_KEYS"))
    cases.append((blob[:first] + b"\x84" + blob[first + 1:], "UNEXPECTED_TYPE"))  # an entry of 4 fields
    cases.append((blob[:first] + b"\x86" + blob[first + 1:], "UNEXPECTED_TYPE"))  # an entry of 6 fields
    return _pick_by_code(draw, cases)


def _item_end(b: bytes, pos: int) -> int:
    """End of the well-formed, definite-length data item at `pos`."""
    ib = b[pos]
    major, ai = ib >> 5, ib & 31
    size = 0 if ai < 24 else 1 << (ai - 24)
    arg = ai if ai < 24 else int.from_bytes(b[pos + 1:pos + 1 + size], "big")
    end = pos + 1 + size
    if major in (2, 3):
        return end + arg
    for _ in range(arg if major == 4 else 2 * arg if major == 5 else 1 if major == 6 else 0):
        end = _item_end(b, end)
    return end


def invalid_blobs(kind: str = "tensor", dtype: DTypeLike = None) -> st.SearchStrategy[tuple[bytes, str]]:
    """(blob, expected error code) for documents with exactly one defect.

    `kind` is ``"tensor"`` (decode with ``decode``) or ``"bundle"`` (``decode_bundle``);
    `dtype` restricts tensor documents to one dtype (before the defect).
    A strict decoder must reject `blob` with `code` (SPEC.md §7.1 fixes the order of
    checks, so the first defect met is the one reported).
    """
    if kind == "tensor":
        return _invalid_tensor(dtype)
    if kind == "bundle":
        return _invalid_bundle()
    raise ValueError(f"kind must be 'tensor' or 'bundle', not {kind!r}")
