"""DLPack (any producer, incl. dtypes numpy refuses) and torch (skipped visibly when torch is absent)."""

from __future__ import annotations

import ctypes
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tensorcbor
from tensorcbor import EncodeError
from tensorcbor.convert.dlpack import _api, _DLManagedTensor


class Relabelled:
    """A DLPack producer exporting numpy memory under another DLPack dtype (as torch does for bfloat16)."""

    def __init__(self, base: np.ndarray, code: int, bits: int, device: int = 1) -> None:
        self.base, self.code, self.bits, self.device = base, code, bits, device

    def __dlpack_device__(self) -> tuple[int, int]:
        return (self.device, 0)

    def __dlpack__(self, **_: Any) -> Any:
        capsule = self.base.__dlpack__()
        managed = ctypes.cast(_api.PyCapsule_GetPointer(capsule, b"dltensor"), ctypes.POINTER(_DLManagedTensor))
        managed.contents.dl_tensor.dtype.code = self.code
        managed.contents.dl_tensor.dtype.bits = self.bits
        managed.contents.dl_tensor.device.device_type = self.device
        return capsule


def test_numpy_producer_is_zero_copy() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = tensorcbor.from_dlpack(arr)
    assert got.dtype == np.float32 and np.shares_memory(got, arr)


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2,
                                   ml_dtypes.float8_e8m0fnu, ml_dtypes.float8_e4m3, ml_dtypes.float8_e3m4,
                                   ml_dtypes.float8_e4m3b11fnuz])
def test_dtypes_numpy_refuses_come_through_the_capsule(dtype: Any) -> None:
    from tensorcbor.dtypes import from_numpy
    dt = from_numpy(np.dtype(dtype))
    assert dt is not None and dt.dlpack is not None
    want = (np.arange(12) % 5).astype(dtype).reshape(3, 4)
    carrier = want.view(np.uint16 if dt.bits == 16 else np.uint8)
    got = tensorcbor.from_dlpack(Relabelled(carrier, *dt.dlpack))
    assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
    strided = tensorcbor.from_dlpack(Relabelled(carrier[:, ::2], *dt.dlpack))
    assert strided.tobytes() == np.ascontiguousarray(want[:, ::2]).tobytes()


def test_complex32_comes_through_the_capsule_as_float16_pairs() -> None:
    from tensorcbor.dtypes import BY_NAME
    pairs = np.array([[1.0, -2.0], [0.5, np.inf], [np.nan, -0.0]], "<f2")
    got = tensorcbor.from_dlpack(Relabelled(pairs.view(np.uint32).reshape(3), 5, 32))
    assert got.dtype == BY_NAME["complex32"].np_dtype and got.shape == (3,)
    assert got.tobytes() == pairs.tobytes()
    assert got["real"].tolist()[:2] == [1.0, 0.5] and got["imag"][0] == -2.0


def test_sub_byte_dlpack_is_unpacked_low_bits_first() -> None:
    got = tensorcbor.from_dlpack(Relabelled(np.array([0x78, 0x01], np.uint8), 0, 4))
    assert got.dtype == ml_dtypes.int4 and got.astype(int).tolist() == [-8, 7]


def test_unknown_dtype_and_foreign_device_and_non_producers() -> None:
    with pytest.raises(EncodeError, match="not in the tensorcbor dtype table"):
        tensorcbor.from_dlpack(Relabelled(np.zeros(2, np.uint8), 3, 8))  # kDLOpaqueHandle
    with pytest.raises(EncodeError, match="CPU"):
        tensorcbor.from_dlpack(Relabelled(np.zeros(2, np.uint16), 4, 16, device=2))
    with pytest.raises(EncodeError, match="__dlpack__"):
        tensorcbor.from_dlpack([1, 2, 3])


def test_torch_round_trip_including_bfloat16() -> None:
    torch = pytest.importorskip("torch")
    from tensorcbor.convert import torch as conv
    state = {"w": torch.randn(3, 4, dtype=torch.bfloat16), "b": torch.arange(4, dtype=torch.int64),
             "m": torch.tensor([True, False]), "f8": torch.randn(5).to(torch.float8_e4m3fn),
             "f8e5": torch.randn(5).to(torch.float8_e5m2), "u16": torch.tensor([0, 1, 65535], dtype=torch.uint16),
             "c": torch.randn(2, dtype=torch.complex64), "h": torch.randn(2, 2, dtype=torch.float16),
             "d": torch.randn(1, dtype=torch.float64), "s": torch.tensor(3, dtype=torch.int8)}
    t = conv.from_state_dict(state)
    assert t.arrays["w"].dtype == ml_dtypes.bfloat16
    back = conv.to_state_dict(t)
    for name, tensor in state.items():
        assert back[name].dtype == tensor.dtype and back[name].shape == tensor.shape
        width = {1: torch.uint8, 2: torch.int16, 8: torch.int64}.get(tensor.element_size())
        if width is not None:  # compare bits, so NaNs and float8 values count as equal only when identical
            assert torch.equal(back[name].view(width), tensor.view(width)), name
        else:
            assert torch.equal(back[name], tensor), name
    blob = tensorcbor.encode_bundle(t.arrays)
    again = conv.to_state_dict(conv.Tensors(dict(tensorcbor.decode_bundle(blob))))
    assert all(torch.equal(again[n].view(torch.uint8), state[n].contiguous().view(torch.uint8)) for n in state)
    assert tensorcbor.from_dlpack(state["w"]).tobytes() == t.arrays["w"].tobytes()


def test_torch_files_load_weights_only(tmp_path: Any) -> None:
    torch = pytest.importorskip("torch")
    from tensorcbor.convert import torch as conv
    torch.save({"x": torch.ones(2, dtype=torch.float16)}, tmp_path / "s.pt")
    t = conv.load(tmp_path / "s.pt")
    assert t.arrays["x"].dtype == np.float16 and t.arrays["x"].tolist() == [1.0, 1.0]


def test_torch_missing_is_a_clear_import_error() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        from tensorcbor.convert import torch as conv
        with pytest.raises(ImportError, match="pip install torch"):
            conv.to_torch(np.zeros(1))
    else:
        pytest.skip("torch is installed")
