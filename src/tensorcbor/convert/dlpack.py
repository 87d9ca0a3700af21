"""``from_dlpack``: any producer implementing ``__dlpack__`` (CPU) as a numpy array in the dtype table.

NumPy's ``np.from_dlpack`` handles the standard types (zero copy). It refuses
bfloat16, float8, float4/6 and int4/int2, so for those we read the DLPack
capsule ourselves (ctypes, legacy ``dltensor`` ABI), copy the elements into an
ml_dtypes array and release the producer's tensor. Sub-byte types must be
contiguous and are read as DLPack packs them: low bits first.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from .. import packing
from ..dtypes import TABLE, DType, from_numpy
from ..errors import EncodeError

__all__ = ["from_dlpack"]

_BY_DLPACK: dict[tuple[int, int], DType] = {d.dlpack: d for d in TABLE if d.dlpack}
_CPU = 1


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(_DLManagedTensor))
_DLManagedTensor._fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _DELETER)]

_api = ctypes.pythonapi
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]


def from_dlpack(x: Any) -> np.ndarray:
    """A numpy array of the DLPack producer `x` (CPU only), whose dtype is in tensorcbor's table.

    Standard dtypes are zero-copy views (``np.from_dlpack``); the others are copies.
    """
    if not hasattr(x, "__dlpack__"):
        raise EncodeError(f"{type(x).__name__} does not implement __dlpack__")
    try:
        arr = np.from_dlpack(x)
    except (BufferError, TypeError, RuntimeError) as exc:
        if hasattr(x, "__dlpack_device__") and x.__dlpack_device__()[0] != _CPU:
            raise EncodeError(f"the tensor lives on DLPack device {x.__dlpack_device__()}; copy it to the CPU "
                              "first (e.g. tensor.cpu())") from exc
        return _from_capsule(x.__dlpack__())
    if from_numpy(arr.dtype) is None:
        raise EncodeError(f"DLPack dtype {arr.dtype} is not in the tensorcbor dtype table")
    return arr


def _from_capsule(capsule: Any) -> np.ndarray:
    if not _api.PyCapsule_IsValid(capsule, b"dltensor"):
        raise EncodeError("__dlpack__ did not return an unused 'dltensor' capsule")
    managed = ctypes.cast(_api.PyCapsule_GetPointer(capsule, b"dltensor"), ctypes.POINTER(_DLManagedTensor))
    try:
        arr = _copy_out(managed.contents.dl_tensor)
    finally:
        _api.PyCapsule_SetName(capsule, b"used_dltensor")
        if managed.contents.deleter:
            managed.contents.deleter(managed)
    return arr


def _copy_out(t: _DLTensor) -> np.ndarray:
    if t.device.device_type != _CPU:
        raise EncodeError(f"the tensor lives on DLPack device type {t.device.device_type}; copy it to the CPU first")
    key = (t.dtype.code, t.dtype.bits)
    dt = _BY_DLPACK.get(key)
    if dt is None or t.dtype.lanes != 1:
        raise EncodeError(f"DLPack dtype (code {key[0]}, bits {key[1]}, lanes {t.dtype.lanes}) is not in the "
                          "tensorcbor dtype table")
    shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    address = (t.data or 0) + t.byte_offset
    if count == 0:
        return np.empty(shape, dt.np_dtype)
    strides = tuple(int(t.strides[i]) for i in range(t.ndim)) if t.strides else None
    contiguous = strides is None or _is_c_contiguous(shape, strides)
    if dt.packed:
        if not contiguous:
            raise EncodeError(f"strided {dt.name} DLPack tensors are not supported; make it contiguous first")
        raw = np.frombuffer(ctypes.string_at(address, dt.nbytes(count)), np.uint8)
        return packing.unpack(raw, dt.bits, count)[0].view(dt.np_dtype).reshape(shape)
    item = dt.bits // 8
    if contiguous:
        return np.frombuffer(ctypes.string_at(address, count * item), dt.np_dtype).reshape(shape).copy()
    assert strides is not None
    if any(s < 0 for s in strides):
        raise EncodeError("DLPack tensors with negative strides are not supported; make it contiguous first")
    extent = (1 + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))) * item
    window = memoryview((ctypes.c_uint8 * extent).from_address(address)).cast("B")
    base = np.frombuffer(window, np.uint8)  # strided on bytes: as_strided cannot take ml_dtypes types
    view = np.lib.stride_tricks.as_strided(base, shape + (item,), tuple(s * item for s in strides) + (1,),
                                           writeable=False)
    return np.ascontiguousarray(view).view(dt.np_dtype).reshape(shape)


def _is_c_contiguous(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    expected = 1
    for n, s in zip(reversed(shape), reversed(strides), strict=True):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True
