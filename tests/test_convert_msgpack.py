"""msgpack-numpy without pickle: same bytes as the msgpack_numpy package, reversible bundles, typed errors."""

from __future__ import annotations

import pickle
from typing import Any

import msgpack
import msgpack_numpy
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensorcbor import DecodeError, EncodeError, decode_bundle, encode_bundle
from tensorcbor.convert import Tensors
from tensorcbor.convert import msgpack_numpy as conv
from tensorcbor.dtypes import TABLE
from tensorcbor.testing import arrays

NATIVE = [d.name for d in TABLE if d.kind not in ("string", "block") and not d.numpy.startswith("ml_dtypes.")
          and d.np_dtype.kind != "V"]
ML = [d.name for d in TABLE if d.numpy.startswith("ml_dtypes.")]


def same(a: Any, b: Any) -> bool:
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


@pytest.fixture(autouse=True)
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("pickle was called")
    monkeypatch.setattr(pickle, "loads", refuse)


@given(st.sampled_from(NATIVE).flatmap(lambda n: arrays(n, max_rank=3)))
def test_same_bytes_as_msgpack_numpy(arr: np.ndarray) -> None:
    blob = msgpack_numpy.packb(arr)
    assert conv.packb(arr) == blob
    assert same(conv.unpackb(blob), arr)


@given(st.sampled_from(ML).flatmap(lambda n: arrays(n, max_rank=2)))
def test_ml_dtypes_are_written_by_name_and_msgpack_numpy_reads_them(arr: np.ndarray) -> None:
    blob = conv.packb(arr)
    assert same(conv.unpackb(blob), arr)
    assert same(msgpack_numpy.unpackb(blob), arr)


def test_strings_scalars_and_complex() -> None:
    value = {"s": np.array([["ab", "é"]]), "f": np.float32(1.5), "c": 1 + 2j, "b": np.array([True, False])}
    blob = msgpack_numpy.packb(value)
    assert conv.packb(value) == blob
    got = conv.unpackb(blob)
    assert got["s"].dtype.kind == "T" and got["s"].tolist() == [["ab", "é"]]
    assert got["f"] == np.float32(1.5) and got["f"].dtype == np.float32 and got["c"] == 1 + 2j
    assert conv.packb(got) == blob


def test_bundle_mapping_is_reversible_byte_for_byte() -> None:
    value = {"weights": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.int64(7), "name": "miner",
             "uids": [1, 2, 3], "emb": np.zeros((0, 4), np.float16), "cfg": {"lr": 0.1, "raw": b"\x00"}}
    blob = msgpack_numpy.packb(value)
    t = conv.loads(blob)
    assert set(t.arrays) == {"weights", "step", "emb"} and t.arrays["step"].shape == ()
    assert t.metadata["msgpack"]["values"] == {"name": "miner", "uids": [1, 2, 3], "cfg": {"lr": 0.1, "raw": b"\x00"}}
    bundle = decode_bundle(encode_bundle(t.arrays, t.metadata))  # through a real .tcb document
    assert conv.dumps(Tensors(dict(bundle), bundle.metadata)) == blob


def test_other_bundle_metadata_goes_under_metadata_entry() -> None:
    t = Tensors({"w": np.ones(2, np.int8)}, {"author": "x", "safetensors": {"format": "pt"}})
    blob = conv.dumps(t)
    assert msgpack_numpy.unpackb(blob)["__metadata__"] == {"author": "x", "safetensors": {"format": "pt"}}
    back = conv.loads(blob)
    assert back.metadata["author"] == "x" and back.metadata["safetensors"] == {"format": "pt"}
    assert same(back.arrays["w"], t.arrays["w"])


def test_top_level_array_is_a_single_tensor() -> None:
    t = conv.loads(msgpack_numpy.packb(np.arange(3, dtype=np.uint16)))
    assert t.single and conv.dumps(t) == msgpack_numpy.packb(np.arange(3, dtype=np.uint16))


def test_object_arrays_are_refused_both_ways() -> None:
    obj = np.array([{"a": 1}], dtype=object)
    with pytest.raises(DecodeError, match="pickle") as exc:
        conv.unpackb(msgpack_numpy.packb(obj))
    assert exc.value.code == "UNKNOWN_DTYPE"
    with pytest.raises(EncodeError, match="pickle"):
        conv.packb(obj)
    with pytest.raises(EncodeError):
        conv.packb({"x": object()})


def _nd(**fields: Any) -> bytes:
    base = {b"nd": True, b"type": "<f4", b"kind": b"", b"shape": [2], b"data": b"\0" * 8}
    base.update({k.encode(): v for k, v in fields.items()})
    return bytes(msgpack.packb(base, use_bin_type=True))


@pytest.mark.parametrize(("blob", "code"), [
    (_nd(data=b"\0" * 4), "SHAPE_MISMATCH"),
    (_nd(shape=[-1]), "MALFORMED"),
    (_nd(shape="x"), "MALFORMED"),
    (_nd(data="text"), "MALFORMED"),
    (_nd(type="<V2", kind=b"V"), "UNKNOWN_DTYPE"),
    (_nd(type=[["", "<V2"]], kind=b"V"), "UNKNOWN_DTYPE"),
    (_nd(type="<M8"), "UNKNOWN_DTYPE"),
    (_nd(type="|S4"), "UNKNOWN_DTYPE"),
    (_nd(type="|b1", data=b"\x00\x02"), "INVALID_ELEMENT"),
    (_nd()[:-3], "TRUNCATED"),
    (_nd() + b"\x00", "TRAILING_BYTES"),
    (b"\xc1", "MALFORMED"),
])
def test_malformed_input_raises_decode_errors(blob: bytes, code: str) -> None:
    with pytest.raises(DecodeError) as exc:
        conv.unpackb(blob)
    assert exc.value.code == code


@pytest.mark.parametrize(("value", "code"), [
    ([1, 2], "UNEXPECTED_TYPE"),
    ({1: np.zeros(1)}, "INVALID_NAME"),
    ({"a": [np.zeros(1)]}, "UNSUPPORTED_VALUE"),
])
def test_non_bundle_maps_are_refused(value: Any, code: str) -> None:
    with pytest.raises(DecodeError) as exc:
        conv.loads(msgpack_numpy.packb(value))
    assert exc.value.code == code


def test_big_endian_arrays_come_back_native() -> None:
    arr = np.arange(4, dtype=">i4")
    got = conv.unpackb(msgpack_numpy.packb(arr))
    assert got.dtype == np.dtype("int32") and got.tolist() == [0, 1, 2, 3]
