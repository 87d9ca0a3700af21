"""Bundle files: save_file writes exactly encode_bundle's bytes; load_file maps them and checks lazily."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

from tensorcbor import (
    FILE_EXTENSION,
    MEDIA_TYPE,
    DecodeError,
    EncodeError,
    encode_bundle,
    load_file,
    read_layout,
    save_file,
)


@pytest.fixture
def tensors() -> dict[str, np.ndarray]:
    return {
        "weight": np.arange(24, dtype=np.float32).reshape(4, 6),
        "bias": np.array([1.5, -0.0, np.nan], np.float64),
        "mask": np.array([True, False, True]),
        "labels": np.array(["cat", "chien", "猫"], dtype=np.dtypes.StringDType()),
    }


def test_save_writes_the_bundle_bytes(tmp_path, tensors) -> None:
    path = tmp_path / f"model{FILE_EXTENSION}"
    save_file(tensors, path, {"epoch": 3})
    assert path.read_bytes() == encode_bundle(tensors, {"epoch": 3})
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_load_round_trip(tmp_path, tensors) -> None:
    path = tmp_path / "m.tcb"
    save_file(tensors, str(path), {"epoch": 3, "name": "x"})
    bundle = load_file(path)
    assert bundle.metadata == {"epoch": 3, "name": "x"}
    assert set(bundle) == set(tensors)
    for name, arr in tensors.items():
        out = bundle[name]
        assert out.dtype == arr.dtype and out.shape == arr.shape
        assert not out.flags.writeable
        if arr.dtype.kind == "T":
            assert out.tolist() == arr.tolist()
        else:
            assert out.tobytes() == arr.tobytes()


def test_loaded_arrays_are_views_of_the_map(tmp_path) -> None:
    path = tmp_path / "big.tcb"
    save_file({"x": np.arange(1 << 16, dtype=np.int32)}, path)
    bundle = load_file(path)
    arr = bundle["x"]
    base = arr
    while getattr(base, "base", None) is not None and not isinstance(base, memoryview):
        base = base.base
    assert type(base).__name__ in ("mmap", "memoryview")
    assert bundle.info("x").offset % 4 == 0


def test_load_checks_elements_lazily(tmp_path) -> None:
    path = tmp_path / "bad.tcb"
    save_file({"a": np.array([True]), "b": np.zeros(2, np.float32)}, path)
    raw = bytearray(path.read_bytes())
    offset = {e.name: e.offset for e in read_layout(bytes(raw))}["a"]  # a's element byte
    assert raw[offset] == 1
    raw[offset] = 2
    path.write_bytes(bytes(raw))
    bundle = load_file(path)  # headers are fine
    assert bundle["b"].tolist() == [0.0, 0.0]
    with pytest.raises(DecodeError) as exc:
        bundle["a"]
    assert exc.value.code == "INVALID_ELEMENT" and exc.value.offset == offset


def test_load_checks_headers_eagerly(tmp_path) -> None:
    path = tmp_path / "trunc.tcb"
    save_file({"a": np.zeros(10)}, path)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DecodeError) as exc:
        load_file(path)
    assert exc.value.code == "TRUNCATED"


def test_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.tcb"
    path.write_bytes(b"")
    with pytest.raises(DecodeError) as exc:
        load_file(path)
    assert exc.value.code == "TRUNCATED"


def test_empty_bundle_file(tmp_path) -> None:
    path = tmp_path / "none.tcb"
    save_file({}, path)
    assert len(load_file(path)) == 0


def test_failed_save_leaves_nothing(tmp_path) -> None:
    path = tmp_path / "fail.tcb"
    with pytest.raises(EncodeError):
        save_file({"a": np.zeros(1), "b": np.array([object()], dtype=object)}, path)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_the_old_file(tmp_path) -> None:
    path = tmp_path / "keep.tcb"
    save_file({"a": np.zeros(1)}, path)
    before = path.read_bytes()
    with pytest.raises(EncodeError):
        save_file({"a": np.zeros(1)}, path, {"bad": object()})
    assert path.read_bytes() == before


def test_lenient_load(tmp_path) -> None:
    path = tmp_path / "lenient.tcb"
    blob = encode_bundle({"a": np.zeros(1, np.uint8)})
    path.write_bytes(blob[3:])  # no d9d9f7
    with pytest.raises(DecodeError):
        load_file(path)
    assert load_file(path, strict=False)["a"].tolist() == [0]


def test_constants() -> None:
    assert FILE_EXTENSION == ".tcb"
    assert MEDIA_TYPE.startswith("application/")
    assert os.fspath(pathlib.Path("x" + FILE_EXTENSION)).endswith(".tcb")
