"""Bundles: round trips, metadata encoding (cross-checked with cbor2), names, alignment, read-only mapping."""

from __future__ import annotations

import math

import cbor2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorcbor import TABLE, DecodeError, EncodeError, decode, decode_bundle, encode, encode_bundle
from tensorcbor.testing import bundles, metadata, metadata_values

BMAGIC = bytes.fromhex("d9d9f7 d9cb62")


def same_value(a, b) -> bool:
    """Metadata equality with NaN == NaN and -0.0 != 0.0; tuples come back as lists."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def meta_bytes(meta) -> bytes:
    """The metadata map's encoding, cut out of an empty bundle (magic, 85 01, map, 80, pad, 80)."""
    blob = encode_bundle({}, meta)
    assert blob[:8] == BMAGIC + b"\x85\x01" and blob[-1] == 0x80
    base = len(blob) - 1  # B: the tensors array head
    assert base % 8 == 0
    k = next(k for k in range(8) if blob[base - 1 - k] == 0x40 + k and blob[base - 2 - k] == 0x80)
    assert blob[base - k:base] == bytes(k)
    return blob[8:base - 2 - k]


@settings(max_examples=80)
@given(bundles())
def test_round_trip(tm) -> None:
    tensors, meta = tm
    blob = encode_bundle(tensors, meta)
    bundle = decode_bundle(blob)
    assert set(bundle) == set(tensors) and len(bundle) == len(tensors)
    for name, arr in tensors.items():
        out = bundle[name]
        assert out.dtype == arr.dtype and out.shape == arr.shape
        if arr.dtype.kind == "T":
            assert out.tolist() == arr.tolist()
        else:
            assert out.tobytes() == arr.tobytes()
        assert not out.flags.writeable
        assert bundle.info(name).shape == arr.shape
    assert same_value(meta, bundle.metadata)
    assert encode_bundle(dict(bundle), bundle.metadata) == blob
    cbor2.loads(blob)  # well-formed to an independent decoder


@settings(max_examples=150)
@given(metadata())
def test_metadata_matches_cbor2_canonical(meta) -> None:
    # Text keys only, so cbor2's length-first order equals RFC 8949 bytewise order;
    # cbor2 also writes floats in the shortest exact width and NaN as f97e00.
    assert meta_bytes(meta) == cbor2.dumps(meta, canonical=True)


@settings(max_examples=150)
@given(metadata_values())
def test_metadata_values_parse_with_cbor2(value) -> None:
    encoded = meta_bytes({"v": value})
    back = cbor2.loads(encoded)
    assert same_value(value, _thaw(back["v"]))


def _thaw(x):
    if isinstance(x, (list, tuple)):
        return [_thaw(v) for v in x]
    if isinstance(x, dict) or type(x).__name__ == "frozendict":
        return {k: _thaw(v) for k, v in x.items()}
    return x


@pytest.mark.parametrize("value,hex_", [
    (0, "00"), (23, "17"), (24, "1818"), (2**64 - 1, "1bffffffffffffffff"), (-(2**64), "3bffffffffffffffff"),
    (-1, "20"), (1.5, "f93e00"), (0.1, "fb3fb999999999999a"), (float("nan"), "f97e00"), (-0.0, "f98000"),
    (float("inf"), "f97c00"), (float("-inf"), "f9fc00"), (65504.0, "f97bff"),
    (float(np.float32(1e-45)), "fa00000001"), (1e-45, "fb3696d601ad376ab9"),
    (5.960464477539063e-08, "f90001"), (True, "f5"), (False, "f4"), (None, "f6"), ("", "60"), ("é", "62c3a9"),
    (b"", "40"), (b"\x00\xff", "4200ff"), ([], "80"), ((1, 2), "820102"), ({}, "a0"),
    ({"b": 1, "a": 2, "aa": 3}, "a3616102616201626161" "03"),
    (np.int64(-5), "24"), (np.float32(1.5), "f93e00"), (np.bool_(True), "f5"),
    (np.uint64(2**64 - 1), "1bffffffffffffffff"),
])
def test_metadata_value_encodings(value, hex_) -> None:
    encoded = meta_bytes({"v": value})
    assert encoded == bytes.fromhex("a1 6176") + bytes.fromhex(hex_)


@pytest.mark.parametrize("meta,match", [
    ({1: "x"}, "not text"),
    ({"a": {2: 1}}, "not text"),
    ({"a": 2**64}, "64-bit"),
    ({"a": -(2**64) - 1}, "64-bit"),
    ({"a": object()}, "no tensorcbor encoding"),
    ({"a": {1, 2}}, "no tensorcbor encoding"),
    ({"a": "\ud800"}, "surrogate"),
])
def test_metadata_encode_errors(meta, match) -> None:
    with pytest.raises(EncodeError, match=match):
        encode_bundle({}, meta)


def test_metadata_nesting_limit() -> None:
    deep: object = 0
    for _ in range(31):
        deep = [deep]
    blob = encode_bundle({}, {"a": deep})  # the map is level 1, 31 arrays make 32 levels
    assert decode_bundle(blob).metadata == {"a": deep}
    with pytest.raises(EncodeError, match="deeper"):
        encode_bundle({}, {"a": [deep]})


def test_metadata_size_limit() -> None:
    limit = 16 * 1024 * 1024
    at_limit = {"a": bytes(limit - 8)}  # a1 6161 5a xxxxxxxx: 8 bytes of heads
    assert len(meta_bytes(at_limit)) == limit
    with pytest.raises(EncodeError, match="limit"):
        encode_bundle({}, {"a": bytes(limit - 7)})


@pytest.mark.parametrize("tensors,match", [
    ({"": np.zeros(1)}, "1 to 4096"),
    ({"x" * 4097: np.zeros(1)}, "1 to 4096"),
    ({"é" * 2049: np.zeros(1)}, "1 to 4096"),  # 4098 UTF-8 bytes
    ({1: np.zeros(1)}, "not text"),
    ([("a", np.zeros(1)), ("a", np.ones(1))], "twice"),
    ({"a": np.array([object()], dtype=object)}, "object arrays"),
])
def test_name_and_tensor_encode_errors(tensors, match) -> None:
    with pytest.raises(EncodeError, match=match):
        encode_bundle(tensors)


def test_names_sorted_bytewise_by_encoding() -> None:
    names = ["b", "aa", "a", "é", "z" * 30, "Z", "ab"]
    bundle = decode_bundle(encode_bundle({n: np.zeros(1, np.uint8) for n in names}))
    assert list(bundle) == sorted(names, key=lambda n: cbor2.dumps(n))
    assert list(bundle)[:3] == ["Z", "a", "b"]  # one-byte names before longer ones


def test_long_names_at_the_limit() -> None:
    name = "é" * 2048  # 4096 bytes
    assert list(decode_bundle(encode_bundle({name: np.zeros(1)}))) == [name]


def test_input_order_and_iterables_do_not_matter() -> None:
    a, b = np.arange(3, dtype=np.float32), np.array(["x", "ÿ"])
    one = encode_bundle({"a": a, "b": b}, {"y": 1, "x": [1.5]})
    assert encode_bundle([("b", b), ("a", a)], {"x": [1.5], "y": 1}) == one
    assert encode_bundle(iter([("a", a), ("b", b)]), {"x": (1.5,), "y": 1}) == one


def test_empty_bundle() -> None:
    blob = encode_bundle({})
    assert blob == BMAGIC + bytes.fromhex("8501a080 45 0000000000 80")  # B = 16
    assert encode_bundle({}, {}) == blob and encode_bundle({}, None) == blob
    bundle = decode_bundle(blob)
    assert len(bundle) == 0 and bundle.metadata == {}


@pytest.mark.parametrize("dt", TABLE, ids=[d.name for d in TABLE])
def test_alignment_in_bundles(dt) -> None:
    # Name lengths and preceding tensors shift the offset through every residue mod 8.
    tensors = {}
    for i in range(8):
        arr = (np.arange(i + 1) % 2).astype(dt.np_dtype)
        tensors["n" * (i + 1)] = arr
        tensors["m" + "x" * i] = np.zeros(i, np.uint8)
    blob = encode_bundle(tensors)
    bundle = decode_bundle(blob)
    for name, arr in tensors.items():
        info = bundle.info(name)
        if info.dtype.kind == "string":
            continue
        assert info.offset % info.dtype.align == 0, (name, info)
        # The element bytes at that offset are exactly a stand-alone document's element bytes.
        standalone = encode(arr)
        assert blob[info.offset:info.offset + info.nbytes] == standalone[len(standalone) - info.nbytes:]


def test_bundle_is_a_read_only_mapping() -> None:
    bundle = decode_bundle(encode_bundle({"w": np.ones((2, 2), np.float32)}, {"k": "v"}))
    with pytest.raises(TypeError):
        bundle["w"] = np.zeros(1)  # type: ignore[index]
    with pytest.raises(ValueError):
        bundle["w"][0, 0] = 2.0
    assert bundle["w"] is bundle["w"]  # cached
    assert "w" in bundle and "x" not in bundle
    with pytest.raises(KeyError):
        bundle["x"]
    assert "float32[2, 2]" in repr(bundle)


def test_bundle_views_share_the_buffer() -> None:
    buf = bytearray(encode_bundle({"w": np.arange(100, dtype=np.int64)}))
    bundle = decode_bundle(buf)
    assert np.shares_memory(bundle["w"], np.frombuffer(buf, np.uint8))


def test_kind_mixups_are_bad_magic() -> None:
    with pytest.raises(DecodeError) as exc:
        decode(encode_bundle({}))
    assert exc.value.code == "BAD_MAGIC"
    with pytest.raises(DecodeError) as exc:
        decode_bundle(encode(np.zeros(1)))
    assert exc.value.code == "BAD_MAGIC"


@settings(max_examples=40)
@given(st.dictionaries(st.text(min_size=1, max_size=5), st.sampled_from(TABLE), max_size=6))
def test_bundle_tensor_headers_parse_with_cbor2(spec) -> None:
    tensors = {n: np.zeros(3, d.np_dtype) if d.kind != "string" else np.array(["a", "", "é"])
               for n, d in spec.items()}
    doc = cbor2.loads(encode_bundle(tensors))
    assert doc.tag == 52066
    version, meta, directory, pad, items = doc.value
    assert version == 1 and dict(meta) == {} and pad == bytes(len(pad)) and len(items) == len(directory)
    by_name = {e[0]: (e, item) for e, item in zip(directory, items, strict=True)}
    for name, d in spec.items():
        entry, item = by_name[name]
        assert entry[1] == d.code and list(entry[2]) == [3] and len(entry) == 5
        data = item[-1]
        if d.kind == "string":
            assert list(data) == ["a", "", "é"]
        else:
            raw = data.value if hasattr(data, "tag") else data
            assert entry[4] == len(raw) == d.nbytes(3)
