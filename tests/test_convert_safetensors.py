"""safetensors ⇄ tensors: byte-identical to the safetensors library, reversible metadata, typed errors."""

from __future__ import annotations

import json
import struct
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save as st_save

from tensorcbor import DecodeError, EncodeError, decode_bundle, encode_bundle
from tensorcbor.convert import safetensors as conv
from tensorcbor.dtypes import TABLE
from tensorcbor.testing import arrays, metadata

BYTE_TYPES = [d for d in TABLE if d.safetensors and d.bits >= 8]


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def raw_file(header: dict[str, Any], data: bytes, pad: bool = True) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


@st.composite
def tensor_dicts(draw: Any) -> dict[str, np.ndarray]:
    names = draw(st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=8), max_size=6, unique=True))
    return {n: draw(arrays(draw(st.sampled_from(BYTE_TYPES)).name, max_rank=3)) for n in names}


def test_enum_order_covers_every_safetensors_dtype() -> None:
    assert sorted(conv._ENUM_ORDER) == sorted(d.safetensors for d in TABLE if d.safetensors)


@given(tensor_dicts(), st.sampled_from([None, {}, {"format": "pt"}]))
def test_bytes_equal_safetensors_library(tensors: dict[str, np.ndarray], meta: dict[str, str] | None) -> None:
    if not tensors and meta is not None:
        meta = None  # safetensors 0.8.0 writes invalid JSON for metadata without tensors ({},"__metadata__":...)
    if meta == {}:
        meta = None  # documented: an empty __metadata__ object is not kept (it means the same as none)
    ours = conv.saves(tensors, meta)
    assert ours == st_save(tensors, metadata=meta)
    back = conv.loads(ours)
    assert back.metadata == (meta or {})
    assert set(back.arrays) == set(tensors)
    for name, arr in tensors.items():
        assert bits_equal(back.arrays[name], arr)


def test_same_dtype_sorted_by_name_and_every_dtype() -> None:
    tensors = {f"{c}{d.name}": np.arange(6).astype(d.np_dtype).reshape(2, 3) for d in BYTE_TYPES for c in "ba"}
    assert conv.saves(tensors) == st_save(tensors)


def test_library_reads_our_files_and_metadata_order_is_sorted(tmp_path: Any) -> None:
    tensors = {"x": np.arange(4, dtype=np.float32), "y": np.ones((2, 2), ml_dtypes.bfloat16)}
    path = tmp_path / "m.safetensors"
    conv.save(tensors, path, {"z": "1", "a": "2"})
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"a": "2", "z": "1"}
        assert bits_equal(f.get_tensor("x"), tensors["x"])
        assert f.get_slice("y").get_dtype() == "BF16"
    header, _ = conv.read_header(path.read_bytes())
    assert list(header["__metadata__"]) == ["a", "z"]


@given(metadata(), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_bundle_metadata_survives_safetensors(meta: dict[str, Any], texts: dict[str, str]) -> None:
    meta = {**meta, **texts}
    meta.pop(conv.EXTRA_KEY, None)
    blob = conv.saves({"t": np.zeros(2, np.int8)}, meta)
    header, _ = conv.read_header(blob)
    native = header.get("__metadata__", {})
    assert {k: v for k, v in native.items() if k != conv.EXTRA_KEY} == {
        k: v for k, v in meta.items() if isinstance(v, str)}  # text entries are native safetensors metadata
    assert (conv.EXTRA_KEY in native) == any(not isinstance(v, str) for v in meta.values())
    got = conv.loads(blob).metadata
    assert encode_bundle({}, got) == encode_bundle({}, meta)


def test_sub_byte_types_are_packed_low_bits_first(tmp_path: Any) -> None:
    data = bytes([0x21, 0x43])
    blob = raw_file({"f": {"dtype": "F4", "shape": [2, 2], "data_offsets": [0, 2]}}, data)
    arr = conv.loads(blob).arrays["f"]
    assert arr.dtype == ml_dtypes.float4_e2m1fn
    assert arr.view(np.uint8).tolist() == [[1, 2], [3, 4]]
    assert conv.saves({"f": arr}) == blob
    path = tmp_path / "f4.safetensors"
    path.write_bytes(blob)
    with safe_open(str(path), framework="numpy") as f:  # the library accepts our shape/length
        assert f.get_slice("f").get_shape() == [2, 2]
    six = np.array([1, 2, 3, 63], np.uint8).view(ml_dtypes.float6_e2m3fn)
    out = conv.loads(conv.saves({"s": six})).arrays["s"]
    assert bits_equal(out, six)
    # 4 x 6 bits: 000001 000010 000011 111111, low bits first
    assert conv.saves({"s": six})[-3:] == bytes([0x81, 0x30, 0xFC])


def test_sub_byte_types_must_fill_bytes() -> None:
    with pytest.raises(EncodeError, match="whole bytes"):
        conv.saves({"f": np.zeros(3, ml_dtypes.float4_e2m1fn)})
    blob = raw_file({"f": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, b"\0\0")
    with pytest.raises(DecodeError) as exc:
        conv.loads(blob)
    assert exc.value.code == "SHAPE_MISMATCH"


@pytest.mark.parametrize("name", ["int4", "uint2", "complex128", "string"])
def test_types_without_safetensors_name_are_refused(name: str) -> None:
    arr = np.array(["a"], np.dtypes.StringDType()) if name == "string" else np.zeros(2, TABLE[0].np_dtype)
    if name != "string":
        arr = np.zeros(2, next(d for d in TABLE if d.name == name).np_dtype)
    with pytest.raises(EncodeError, match="safetensors cannot store"):
        conv.saves({"x": arr})


def test_reserved_metadata_key_refused() -> None:
    with pytest.raises(EncodeError, match="reserved"):
        conv.saves({}, {conv.EXTRA_KEY: "x", "other": 1})


@pytest.mark.parametrize(("blob", "code"), [
    (b"\x01\x00", "TRUNCATED"),
    (struct.pack("<Q", 1 << 40) + b"{}", "MALFORMED"),
    (struct.pack("<Q", 64) + b"{}", "TRUNCATED"),
    (struct.pack("<Q", 2) + b"[]", "MALFORMED"),
    (struct.pack("<Q", 3) + b"{x}", "MALFORMED"),
    (raw_file({"a": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "UNKNOWN_DTYPE"),
    (raw_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "TRUNCATED"),
    (raw_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "SHAPE_MISMATCH"),
    (raw_file({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b""), "MALFORMED"),
    (raw_file({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
               "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3), "MALFORMED"),
    (raw_file({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}, b"\x02"), "INVALID_ELEMENT"),
    (raw_file({"a": {"dtype": "U8"}}, b""), "MALFORMED"),
    (raw_file({"__metadata__": {"k": 1}}, b""), "MALFORMED"),
    (raw_file({"__metadata__": {"tensorcbor.metadata": "!!"}}, b""), "MALFORMED"),
    (struct.pack("<Q", 16) + b'{"a":1, "a":2}  ', "DUPLICATE_NAME"),
    (struct.pack("<Q", 8) + b"\xff\xfe{}    ", "MALFORMED"),
])
def test_malformed_files_raise_decode_errors(blob: bytes, code: str) -> None:
    with pytest.raises(DecodeError) as exc:
        conv.loads(blob)
    assert exc.value.code == code


def test_file_round_trip_through_bundle_is_byte_identical(tmp_path: Any) -> None:
    tensors = {"emb": np.random.default_rng(0).standard_normal((64, 32)).astype(ml_dtypes.bfloat16),
               "bias": np.arange(32, dtype=np.float16), "mask": np.array([True, False]),
               "q": np.arange(8, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn)}
    src = tmp_path / "a.safetensors"
    src.write_bytes(st_save(tensors, metadata={"format": "pt"}))
    t = conv.load(src)
    bundle = decode_bundle(encode_bundle(t.arrays, t.metadata))
    dst = tmp_path / "b.safetensors"
    conv.save(dict(bundle), dst, bundle.metadata)
    assert dst.read_bytes() == src.read_bytes()
