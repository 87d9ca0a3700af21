""".npy/.npz ⇄ tensors: memory-mapped reads, never unpickling, refusing what numpy cannot tag."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensorcbor import DecodeError, EncodeError
from tensorcbor.convert import Tensors, npy
from tensorcbor.dtypes import TABLE
from tensorcbor.testing import arrays

NATIVE = [d.name for d in TABLE if d.kind not in ("string", "block") and not d.numpy.startswith("ml_dtypes.")
          and d.np_dtype.kind != "V"]


@given(st.sampled_from(NATIVE).flatmap(lambda n: arrays(n, max_rank=3)))
def test_npy_round_trip(arr: np.ndarray) -> None:
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.npy"
        npy.save_npy(Tensors({"tensor": arr}, single=True), path)
        t = npy.load_npy(path)
        got = t.arrays["tensor"]
        assert t.single and got.dtype == arr.dtype and got.shape == arr.shape
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(arr).tobytes()
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        assert path.read_bytes() == buf.getvalue()
        del t, got


def test_npy_is_memory_mapped_and_offset_reported(tmp_path: Path) -> None:
    arr = np.arange(100, dtype=np.float32)
    np.save(tmp_path / "a.npy", arr)
    got = npy.load_npy(tmp_path / "a.npy").arrays["tensor"]
    assert isinstance(got, np.memmap)
    raw = (tmp_path / "a.npy").read_bytes()
    assert raw[npy.data_offset(tmp_path / "a.npy"):] == arr.tobytes()


def test_strings_become_string_dtype_and_back(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.array(["a", "bcd"]))
    t = npy.load_npy(tmp_path / "s.npy")
    assert t.arrays["tensor"].dtype.kind == "T"
    npy.save_npy(t, tmp_path / "t.npy")
    assert np.load(tmp_path / "t.npy").tolist() == ["a", "bcd"]


def test_npz_round_trip_keeps_names_including_awkward_ones(tmp_path: Path) -> None:
    arrays_in = {"file": np.ones(2, np.int8), "allow_pickle": np.zeros((2, 2), np.float64), "a/b": np.arange(3)}
    npy.save_npz(Tensors(dict(arrays_in)), tmp_path / "x.npz")
    t = npy.load_npz(tmp_path / "x.npz")
    assert list(t.arrays) == list(arrays_in)
    for name, arr in arrays_in.items():
        assert np.array_equal(t.arrays[name], arr) and t.arrays[name].dtype == arr.dtype
    with np.load(tmp_path / "x.npz") as npz:
        assert sorted(npz.files) == sorted(arrays_in)


def test_pickled_arrays_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DecodeError) as exc:
        npy.load_npy(tmp_path / "o.npy")
    assert exc.value.code == "UNKNOWN_DTYPE"
    np.savez(tmp_path / "o.npz", x=np.array([None], dtype=object))
    with pytest.raises(DecodeError):
        npy.load_npz(tmp_path / "o.npz")


def test_ml_dtypes_cannot_be_tagged_in_npy(tmp_path: Path) -> None:
    arr = np.ones(3, ml_dtypes.bfloat16)
    with pytest.raises(EncodeError, match="cannot tag"):
        npy.save_npy(Tensors({"tensor": arr}, single=True), tmp_path / "b.npy")
    np.save(tmp_path / "v.npy", arr)  # numpy writes void '<V2'
    with pytest.raises(DecodeError, match="ml_dtypes") as exc:
        npy.load_npy(tmp_path / "v.npy")
    assert exc.value.code == "UNKNOWN_DTYPE"


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY\x01\x00", b"not numpy at all"])
def test_garbage_files_raise_decode_errors(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "g.npy").write_bytes(content)
    with pytest.raises(DecodeError):
        npy.load_npy(tmp_path / "g.npy")
    (tmp_path / "g.npz").write_bytes(content)
    with pytest.raises(DecodeError):
        npy.load_npz(tmp_path / "g.npz")


def test_metadata_and_multiple_tensors_are_refused_where_they_do_not_fit(tmp_path: Path) -> Any:
    with pytest.raises(EncodeError, match="metadata"):
        npy.save_npz(Tensors({"a": np.ones(1)}, {"k": 1}), tmp_path / "m.npz")
    with pytest.raises(EncodeError, match="one tensor"):
        npy.save_npy(Tensors({"a": np.ones(1), "b": np.ones(1)}), tmp_path / "m.npy")
