"""ONNX TensorProto and model initializers ⇄ tensors, checked against onnx.numpy_helper and onnx's own test data."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from tensorcbor import DecodeError, EncodeError, TensorCBORError, decode_bundle, encode_bundle
from tensorcbor.convert import Tensors
from tensorcbor.convert import onnx as conv
from tensorcbor.dtypes import TABLE
from tensorcbor.testing import arrays

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
PB_FILES = sorted(glob.glob(str(DATA / "**" / "test_data_set_*" / "*.pb"), recursive=True))
LIGHT_MODELS = sorted(glob.glob(str(DATA / "light" / "*.onnx")))[:3]
ONNX_TYPES = [d for d in TABLE if d.onnx]  # codes >= 128 are tensorcbor-only
NUMERIC = [d for d in ONNX_TYPES if d.kind != "string"]


def same(a: np.ndarray, b: np.ndarray) -> bool:
    if b.dtype == object:
        return a.dtype.kind == "T" and a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and np.ascontiguousarray(a).tobytes() == b.tobytes()


def test_backend_test_data_is_present() -> None:
    assert len(PB_FILES) > 300 and LIGHT_MODELS


def test_every_backend_tensor_matches_numpy_helper() -> None:
    checked = 0
    for path in PB_FILES:
        proto = onnx.TensorProto()
        proto.ParseFromString(Path(path).read_bytes())
        if not proto.data_type:
            continue  # a sequence/optional proto, not a tensor
        assert same(conv.to_array(proto), numpy_helper.to_array(proto)), path
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("dt", ONNX_TYPES, ids=lambda d: d.name)
def test_from_array_equals_numpy_helper_and_round_trips(dt: Any) -> None:
    if dt.kind == "string":
        arr = np.array([["a", "é"], ["", "x y"]], np.dtypes.StringDType())
        ref = numpy_helper.from_array(arr.astype(object), "t")
    else:
        arr = (np.arange(10) % 3).astype(dt.np_dtype).reshape(2, 5)
        ref = numpy_helper.from_array(arr, "t")
    ours = conv.from_array(arr, "t")
    assert ours.SerializeToString() == ref.SerializeToString()
    assert same(conv.to_array(ours), arr)
    assert same(conv.to_array(ref), arr)


@pytest.mark.parametrize("dt", NUMERIC, ids=lambda d: d.name)
@given(data=st.data())
def test_typed_field_storage_matches_numpy_helper(dt: Any, data: Any) -> None:
    arr = data.draw(arrays(dt.name, max_rank=3))
    proto = helper.make_tensor("t", dt.code, arr.shape, arr.reshape(-1), raw=False)
    assert not proto.HasField("raw_data")
    got = conv.to_array(proto)
    assert same(got, numpy_helper.to_array(proto))
    if dt.kind in ("int", "uint", "bool"):  # make_tensor passes floats through Python float (NaN payloads change)
        assert same(got, arr)


def test_int32_data_rules_by_hand() -> None:
    half = onnx.TensorProto(name="h", data_type=onnx.TensorProto.FLOAT16, dims=[2], int32_data=[0x3C00, 0xC000])
    assert conv.to_array(half).tolist() == [1.0, -2.0]
    int4 = onnx.TensorProto(name="i", data_type=onnx.TensorProto.INT4, dims=[3], int32_data=[0x78, 0x01])
    assert conv.to_array(int4).astype(int).tolist() == [-8, 7, 1]
    six = onnx.TensorProto(name="s", data_type=onnx.TensorProto.FLOAT6E2M3, dims=[2], int32_data=[1, 0x3F])
    assert conv.to_array(six).view(np.uint8).tolist() == [1, 0x3F]
    c64 = onnx.TensorProto(name="c", data_type=onnx.TensorProto.COMPLEX64, dims=[1], float_data=[1.0, 2.0])
    assert conv.to_array(c64).tolist() == [1 + 2j]


@pytest.mark.parametrize(("proto", "code"), [
    (onnx.TensorProto(name="x", data_type=99, dims=[1]), "UNKNOWN_DTYPE"),
    (onnx.TensorProto(name="x", data_type=0, dims=[1]), "UNKNOWN_DTYPE"),
    (onnx.TensorProto(name="x", data_type=1, dims=[2], raw_data=b"\0" * 4), "SHAPE_MISMATCH"),
    (onnx.TensorProto(name="x", data_type=1, dims=[3], float_data=[1.0]), "SHAPE_MISMATCH"),
    (onnx.TensorProto(name="x", data_type=1, dims=[-1]), "MALFORMED"),
    (onnx.TensorProto(name="x", data_type=1, dims=[1] * 33), "RANK_TOO_LARGE"),
    (onnx.TensorProto(name="x", data_type=1, dims=[1 << 40, 1 << 40]), "SIZE_OVERFLOW"),
    (onnx.TensorProto(name="x", data_type=8, dims=[1], string_data=[b"\xff"]), "INVALID_UTF8"),
    (onnx.TensorProto(name="x", data_type=8, dims=[2], string_data=[b"a"]), "SHAPE_MISMATCH"),
    (onnx.TensorProto(name="x", data_type=9, dims=[1], raw_data=b"\x05"), "INVALID_ELEMENT"),
    (onnx.TensorProto(name="x", data_type=22, dims=[3], int32_data=[1]), "SHAPE_MISMATCH"),
])
def test_malformed_protos_raise_decode_errors(proto: Any, code: str) -> None:
    with pytest.raises(DecodeError) as exc:
        conv.to_array(proto)
    assert exc.value.code == code


def _model(tensors: list[Any]) -> Any:
    out = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    node = helper.make_node("Identity", [tensors[0].name], ["y"])
    return helper.make_model(helper.make_graph([node], "g", [], [out], initializer=tensors))


def test_external_data_is_read_through_a_map(tmp_path: Path) -> None:
    w = np.arange(1000, dtype=np.float32).reshape(10, 100)
    b = np.ones(7, np.int64)
    model = _model([numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save_model(model, tmp_path / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.data", size_threshold=0)
    t = conv.load_model(tmp_path / "m.onnx")
    assert same(t.arrays["w"], w) and same(t.arrays["b"], b)
    assert t.maps and list(t.arrays) == ["w", "b"]


@pytest.mark.parametrize(("entries", "code"), [
    ({"location": "../outside.bin"}, "UNSAFE_EXTERNAL_DATA"),
    ({"location": "/etc/passwd"}, "UNSAFE_EXTERNAL_DATA"),
    ({"location": "d.bin", "offset": "4", "length": "8"}, "TRUNCATED"),
    ({"location": "d.bin", "length": "4"}, "SHAPE_MISMATCH"),
    ({"location": "d.bin", "offset": "x"}, "MALFORMED"),
])
def test_bad_external_data(tmp_path: Path, entries: dict[str, str], code: str) -> None:
    (tmp_path / "d.bin").write_bytes(b"\0" * 8)
    proto = onnx.TensorProto(name="x", data_type=1, dims=[2], data_location=onnx.TensorProto.EXTERNAL)
    for key, value in entries.items():
        proto.external_data.add(key=key, value=value)
    with pytest.raises(TensorCBORError) as exc:
        conv.to_array(proto, tmp_path)
    assert getattr(exc.value, "code", None) == code


@pytest.mark.parametrize("path", LIGHT_MODELS, ids=os.path.basename)
def test_model_round_trip_through_bundle_gives_equal_model(path: str, tmp_path: Path) -> None:
    t = conv.load_model(path)
    bundle = decode_bundle(encode_bundle(t.arrays, t.metadata))
    out = tmp_path / "out.onnx"
    conv.save_model(Tensors(dict(bundle), bundle.metadata), path, out)
    assert onnx.load(str(out)) == onnx.load(path)


def test_names_doc_strings_and_metadata_props_survive(tmp_path: Path) -> None:
    a = numpy_helper.from_array(np.ones(2, np.float32), "a")
    a.doc_string = "first weight"
    a.metadata_props.add(key="quant", value="none")
    b = helper.make_tensor("b", onnx.TensorProto.FLOAT, [1], [2.0], raw=False)  # float_data storage
    src = tmp_path / "m.onnx"
    onnx.save_model(_model([b, a]), src)
    t = conv.load_model(src)
    assert t.metadata["onnx"] == {"initializers": ["b", "a"], "doc_strings": {"a": "first weight"},
                                  "metadata_props": {"a": {"quant": "none"}}}
    bundle = decode_bundle(encode_bundle(t.arrays, t.metadata))
    out = tmp_path / "out.onnx"
    conv.save_model(Tensors(dict(bundle), bundle.metadata), src, out)
    got = onnx.load(str(out)).graph.initializer
    assert [p.name for p in got] == ["b", "a"] and got[1].doc_string == "first weight"
    assert got[1].metadata_props[0].key == "quant"
    assert numpy_helper.to_array(got[0]).tolist() == [2.0] and got[0].HasField("raw_data")


def test_write_back_needs_matching_names(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    onnx.save_model(_model([numpy_helper.from_array(np.ones(2, np.float32), "a")]), src)
    with pytest.raises(EncodeError, match="missing"):
        conv.save_model(Tensors({"z": np.ones(2, np.float32)}), src, tmp_path / "o.onnx")


def test_single_tensor_proto_files(tmp_path: Path) -> None:
    proto = numpy_helper.from_array(np.arange(3, dtype=np.int8), "named")
    proto.doc_string = "doc"
    (tmp_path / "t.pb").write_bytes(proto.SerializeToString())
    t = conv.load_tensor(tmp_path / "t.pb")
    assert not t.single and t.metadata["onnx"]["doc_strings"] == {"named": "doc"}
    conv.save_tensor(t, tmp_path / "u.pb")
    assert (tmp_path / "u.pb").read_bytes() == proto.SerializeToString()
    (tmp_path / "bad.pb").write_bytes(b"\xff\xff\xff")
    with pytest.raises(DecodeError):
        conv.load_tensor(tmp_path / "bad.pb")
