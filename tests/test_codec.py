"""Stand-alone tensor documents: round trips, exact bytes, alignment, input layouts, views."""

from __future__ import annotations

import math
import mmap
import struct

import cbor2
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

import tensorcbor
from tensorcbor import TABLE, DecodeError, EncodeError, decode, encode
from tensorcbor.dtypes import from_numpy
from tensorcbor.testing import arrays, special_bit_patterns

ARRAY_TYPES = [d for d in TABLE if d.block is None]  # block types decode to BlockArray: test_blocks.py
NON_STRING = [d for d in ARRAY_TYPES if d.kind != "string"]
FLOATS = [d for d in TABLE if d.kind in ("float", "complex")]
PACKED = [d for d in TABLE if d.packed]
INTS = [d for d in TABLE if d.kind in ("int", "uint")]
IDS = [d.name for d in ARRAY_TYPES]


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bits (NaN payloads and -0.0 included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "T":
        return a.tolist() == b.tolist()
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def element_bytes(blob: bytes, arr: np.ndarray) -> bytes:
    """The element data of a non-string tensor document: its last nbytes bytes."""
    dt = from_numpy(arr.dtype)
    assert dt is not None
    n = dt.nbytes(arr.size)
    return blob[len(blob) - n:] if n else b""


@pytest.mark.parametrize("dt", ARRAY_TYPES, ids=IDS)
@settings(max_examples=25)
@given(data=st.data())
def test_round_trip_every_dtype(dt, data) -> None:
    arr = data.draw(arrays(dt))
    blob = encode(arr)
    out = decode(blob)
    assert same(out, arr)
    assert out.dtype == dt.np_dtype
    assert encode(out) == blob


@pytest.mark.parametrize("dt", ARRAY_TYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,) * 32, (2,) + (1,) * 30 + (3,), (0,) * 32, (7,)],
                         ids=["rank0", "zero", "zero-mid", "rank32", "rank32-2x3", "rank32-zeros", "seven"])
def test_shapes(dt, shape) -> None:
    n = math.prod(shape)
    if dt.kind == "string":
        arr = np.array([f"s{i}é" for i in range(n)], dtype=dt.np_dtype).reshape(shape)
    else:
        arr = (np.arange(n) % 2).astype(dt.np_dtype).reshape(shape)
    blob = encode(arr)
    out = decode(blob)
    assert out.shape == shape and same(out, arr)
    shape_cbor = cbor2.loads(blob).value[2]
    assert list(shape_cbor) == list(shape)


def test_rank_33_is_rejected_on_encode() -> None:
    with pytest.raises(EncodeError, match="rank"):
        encode(np.zeros((1,) * 33, np.float32))


@pytest.mark.parametrize("dt", FLOATS, ids=[d.name for d in FLOATS])
def test_special_float_bits_round_trip_exactly(dt) -> None:
    lanes = 2 if dt.kind == "complex" else 1
    width = dt.bits // lanes
    patterns = special_bit_patterns(width)
    if dt.packed:
        raw = np.array(patterns, np.uint8)
    else:
        raw = np.array(patterns * lanes, {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[width])
    arr = raw.view(dt.np_dtype)
    out = decode(encode(arr))
    assert same(out, arr)


@pytest.mark.parametrize("np_type,name", [(np.float16, "f16"), (np.float32, "f32"), (np.float64, "f64")])
def test_ieee_specials_have_the_expected_bits(np_type, name) -> None:
    info = np.finfo(np_type)
    uint = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}[np_type]
    bits = info.bits
    quiet = (((1 << (bits - 1)) - 1) ^ ((1 << info.nmant) - 1)) | (1 << (info.nmant - 1))
    signalling = quiet ^ (1 << (info.nmant - 1)) | 1
    vals = np.array([quiet, signalling, quiet | 5, 1 << (bits - 1)], uint).view(np_type)
    arr = np.concatenate([vals, np.array([np.inf, -np.inf, info.smallest_subnormal, -info.smallest_subnormal,
                                          info.max, info.min, info.tiny], np_type)])
    out = decode(encode(arr))
    assert out.view(uint).tolist() == arr.view(uint).tolist()
    assert np.isnan(out[1]) and out.view(uint)[1] == signalling  # still signalling, same payload
    assert np.signbit(out[3]) and out[3] == 0
    fmt = {np.float16: "<e", np.float32: "<f", np.float64: "<d"}[np_type]
    assert element_bytes(encode(arr), arr)[-struct.calcsize(fmt):] == struct.pack(fmt, float(info.tiny))


@pytest.mark.parametrize("dt", INTS, ids=[d.name for d in INTS])
def test_integer_extremes(dt) -> None:
    info = ml_dtypes.iinfo(dt.np_dtype) if dt.numpy.startswith("ml_dtypes") else np.iinfo(dt.np_dtype)
    arr = np.array([info.min, info.max, 0, info.min + 1, info.max - 1], dtype=dt.np_dtype)
    out = decode(encode(arr))
    assert same(out, arr)
    assert int(out[0]) == info.min and int(out[1]) == info.max


def test_int64_extremes_bytes() -> None:
    arr = np.array([-(2**63), 2**63 - 1], np.int64)
    assert element_bytes(encode(arr), arr) == struct.pack("<qq", -(2**63), 2**63 - 1)
    u = np.array([0, 2**64 - 1], np.uint64)
    assert element_bytes(encode(u), u) == struct.pack("<QQ", 0, 2**64 - 1)


@pytest.mark.parametrize("dt", PACKED, ids=[d.name for d in PACKED])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 7, 8, 9, 13, 64, 1001])
def test_packed_matches_onnx(dt, count) -> None:
    rng = np.random.default_rng(count)
    arr = rng.integers(0, 1 << dt.bits, count, dtype=np.uint8).view(dt.np_dtype)
    blob = encode(arr)
    onnx_raw = numpy_helper.from_array(arr).raw_data
    assert element_bytes(blob, arr) == onnx_raw
    assert len(onnx_raw) == (count * dt.bits + 7) // 8
    out = decode(blob)
    assert same(out, arr)


def test_int4_packing_low_nibble_first() -> None:
    arr = np.array([-8, 7, 1], ml_dtypes.int4)
    assert encode(arr).endswith(b"\x42\x78\x01")


def test_packed_ignores_high_bits_of_unpacked_storage() -> None:
    clean = np.array([1, 2, 3], np.uint8).view(ml_dtypes.uint4)
    assert encode(np.array([1, 2, 3], ml_dtypes.uint4)) == encode(clean)


@pytest.mark.parametrize("values", [[], [""], ["", "", ""], ["abc", "xyz"], ["é", "日本語", "🎉", "a\x00b"],
                                    ["x" * 300]], ids=["none", "empty", "empties", "ascii", "unicode", "long"])
def test_strings(values) -> None:
    arr = np.array(values, dtype=np.dtypes.StringDType())
    blob = encode(arr)
    out = decode(blob)
    assert out.dtype == np.dtypes.StringDType() and out.tolist() == values
    assert list(cbor2.loads(blob).value[3]) == values
    assert blob.endswith(b"".join(cbor2.dumps(v) for v in values))


def test_unicode_and_stringdtype_inputs_encode_identically() -> None:
    values = ["a", "é", "日本", ""]
    assert encode(np.array(values, dtype="U")) == encode(np.array(values, dtype=np.dtypes.StringDType()))
    assert encode(np.array(values, dtype="U").reshape(2, 2)) == encode(
        np.array(values, dtype=np.dtypes.StringDType()).reshape(2, 2))


def test_lone_surrogate_is_an_encode_error() -> None:
    with pytest.raises(EncodeError, match="surrogate"):
        encode(np.array(["\ud800"], dtype="U"))


@pytest.mark.parametrize("dt", NON_STRING, ids=[d.name for d in NON_STRING])
def test_layouts_encode_like_their_contiguous_native_copy(dt) -> None:
    base = (np.arange(60) % 3).astype(dt.np_dtype).reshape(3, 4, 5)
    expected = encode(np.ascontiguousarray(base))
    fortran = np.asfortranarray(base)
    assert not fortran.flags.c_contiguous
    assert encode(fortran) == expected
    strided = (np.arange(120) % 3).astype(dt.np_dtype).reshape(3, 4, 10)[:, :, ::2]
    assert encode(strided) == encode(np.ascontiguousarray(strided))
    reversed_ = base[::-1]
    assert encode(reversed_) == encode(np.ascontiguousarray(reversed_))
    if dt.np_dtype.itemsize > 1 and dt.numpy in ("int16", "uint16", "int32", "uint32", "int64", "uint64",
                                                 "float16", "float32", "float64", "complex64", "complex128"):
        big = base.astype(base.dtype.newbyteorder(">"))
        assert big.dtype.byteorder == ">"
        assert encode(big) == expected
        assert encode(np.asfortranarray(big)[:, ::-1]) == encode(np.ascontiguousarray(base[:, ::-1]))


def test_same_tensor_from_different_numpy_paths_is_identical() -> None:
    want = np.arange(12, dtype=np.float32).reshape(3, 4)
    paths = [
        want,
        np.array([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]], dtype=np.float32),
        np.arange(12, dtype=np.float64).astype(np.float32).reshape(3, 4),
        np.frombuffer(want.tobytes(), np.float32).reshape(3, 4),
        np.ascontiguousarray(want.T).T,
        want.astype(">f4"),
        np.linspace(0, 11, 12, dtype=np.float32).reshape(4, 3).T.T.reshape(3, 4),
        np.zeros((3, 4), np.float32) + want,
    ]
    blobs = {encode(p) for p in paths}
    assert len(blobs) == 1
    assert encode([[0.0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]) == encode(want.astype(np.float64))


def test_bool_bytes_are_normalized() -> None:
    odd = np.array([0, 2, 1, 255], np.uint8).view(np.bool_)
    blob = encode(odd)
    assert blob.endswith(b"\x00\x01\x01\x01")
    assert blob == encode(np.array([False, True, True, True]))


@pytest.mark.parametrize("bad,match", [
    (np.array(["a", 1], dtype=object), "object arrays"),
    (np.array([b"ab"], dtype="S2"), "byte-string"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "not in the tensorcbor dtype table"),
    (np.zeros(2, dtype=[("a", "i4")]), "not in the tensorcbor dtype table"),
])
def test_unsupported_inputs_raise_helpful_encode_errors(bad, match) -> None:
    with pytest.raises(EncodeError, match=match) as exc:
        encode(bad)
    assert isinstance(exc.value, ValueError)


def test_object_array_message_suggests_string_dtype() -> None:
    with pytest.raises(EncodeError, match="StringDType"):
        encode(np.array([None, "x"], dtype=object))


def sources(blob: bytes):
    yield "bytes", blob
    yield "bytearray", bytearray(blob)
    yield "memoryview", memoryview(blob)
    m = mmap.mmap(-1, len(blob))
    m.write(blob)
    yield "mmap", m


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "mmap"])
def test_decode_returns_readonly_views(kind) -> None:
    arr = np.arange(1000, dtype=np.float64).reshape(10, 100)
    blob = encode(arr)
    src = dict(sources(blob))[kind]
    out = decode(src)
    assert same(out, arr)
    assert not out.flags.writeable
    with pytest.raises(ValueError):
        out[0, 0] = 1.0
    assert np.shares_memory(out, np.frombuffer(src, np.uint8))
    fresh = decode(src, copy=True)
    assert fresh.flags.writeable and not np.shares_memory(fresh, np.frombuffer(src, np.uint8))
    fresh[0, 0] = 42.0
    assert out[0, 0] == 0.0


@pytest.mark.parametrize("dt", ARRAY_TYPES, ids=IDS)
def test_decoded_arrays_are_readonly_unless_copied(dt) -> None:
    arr = (np.arange(9) % 2).astype(dt.np_dtype).reshape(3, 3)
    blob = encode(arr)
    assert not decode(blob).flags.writeable
    assert decode(blob, copy=True).flags.writeable


@pytest.mark.parametrize("dt", NON_STRING, ids=[d.name for d in NON_STRING])
@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 5), (7, 1, 3), (0,), (1,) * 20 + (4,)])
def test_element_bytes_are_aligned(dt, shape) -> None:
    arr = np.ones(shape, dt.np_dtype)
    blob = encode(arr)
    offset = len(blob) - dt.nbytes(arr.size)
    assert offset % dt.align == 0
    # The pad item is present exactly when the data would otherwise be misaligned.
    has_pad = blob[6] == 0x85
    assert cbor2.loads(blob).value.__len__() == (5 if has_pad else 4)
    if has_pad:
        assert dt.align > 1


@settings(max_examples=100)
@given(arrays())
def test_cbor2_parses_every_blob(arr) -> None:
    blob = encode(arr)
    doc = cbor2.loads(blob)
    assert isinstance(doc, cbor2.CBORTag) and doc.tag == 52084
    version, code, shape, *rest = doc.value
    dt = from_numpy(arr.dtype)
    assert dt is not None
    assert (version, code, list(shape)) == (1, dt.code, list(arr.shape))
    data = rest[-1]
    if len(rest) == 2:
        assert rest[0] == bytes(len(rest[0]))
    if dt.kind == "string":
        assert list(data) == arr.reshape(-1).tolist()
    elif dt.rfc8746_tag is not None:
        assert isinstance(data, cbor2.CBORTag) and data.tag == dt.rfc8746_tag
        assert data.value == element_bytes(blob, arr)
    else:
        assert data == element_bytes(blob, arr)


@settings(max_examples=100)
@given(arrays())
def test_encoding_is_a_function_of_the_values(arr) -> None:
    blob = encode(arr)
    assert encode(arr.copy()) == blob
    assert encode(decode(blob, copy=True)) == blob


def test_array_likes_and_scalars() -> None:
    assert encode([1, 2, 3]) == encode(np.array([1, 2, 3], np.int64))
    assert encode(np.float32(1.5)) == encode(np.array(1.5, np.float32))
    assert decode(encode(3.0)).shape == ()


def test_exact_bytes_of_a_small_float32() -> None:
    blob = encode(np.array([1.0, 2.0], np.float32))
    assert blob.hex() == "d9d9f7" "d9cb74" "85" "01" "01" "8102" "4100" "d855" "48" "0000803f" "00000040"


def test_decode_rejects_non_buffer_input() -> None:
    with pytest.raises((TypeError, DecodeError)):
        decode("not bytes")  # type: ignore[arg-type]


def test_public_api_surface() -> None:
    assert tensorcbor.FORMAT_VERSION == 1
    assert issubclass(DecodeError, ValueError) and issubclass(EncodeError, ValueError)


@settings(max_examples=100)
@given(arrays())
def test_every_input_type_decodes_alike(arr) -> None:
    # bytes/bytearray take the decoder's fast path, memoryview/mmap the general one.
    blob = encode(arr)
    results = [decode(src) for _, src in sources(blob)] + [decode(blob), decode(blob, copy=True)]
    for out in results:
        assert same(out, results[0])
    assert all(not out.flags.writeable for out in results[:-1])


def test_remembered_layouts_still_check_everything() -> None:
    good = encode(np.arange(16, dtype=np.float32))
    assert good[6] == 0x85 and good[11] == 0x40
    assert decode(good).tolist() == list(range(16))  # the layout is now remembered
    for blob, code in [(good + b"\x00", "TRAILING_BYTES"), (good[:-1], "TRUNCATED"),
                       (good[:8] + b"\x06" + good[9:], "UNEXPECTED_TAG"),  # int32 dtype, float32 tag
                       (good[:6] + b"\x84" + good[7:11] + good[12:], "BAD_PADDING")]:  # pad item dropped
        with pytest.raises(DecodeError) as exc:
            decode(blob)
        assert exc.value.code == code
    again = bytearray(good)
    again[-1] ^= 0x80  # an element change: still valid, still the same layout
    out = decode(again)
    assert out[-1] == -15.0 and not out.flags.writeable


@pytest.mark.parametrize("shape", [(23,), (24,), (255,), (256,), (65535,), (65536,), (2, 70000), (1 << 20,)])
def test_head_widths_in_shapes_and_lengths(shape) -> None:
    arr = np.zeros(shape, np.uint8)
    arr.reshape(-1)[-1] = 7
    blob = encode(arr)
    for src in (blob, bytearray(blob), memoryview(blob)):
        out = decode(src)
        assert out.shape == shape and out.reshape(-1)[-1] == 7
    with pytest.raises(DecodeError) as exc:
        decode(blob[:-1])
    assert exc.value.code == "TRUNCATED"
