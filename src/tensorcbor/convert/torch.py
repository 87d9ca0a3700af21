"""torch tensors and state_dicts ⇄ numpy arrays (CPU), when torch is installed.

torch cannot hand bfloat16/float8/complex32 to numpy directly, so those go through
an integer view of the same width and are re-viewed as the ml_dtypes type (complex32:
the structured dtype of SPEC.md §3): the bits are copied, never converted. ``.pt``
files are read with ``weights_only=True`` (torch's restricted unpickler), never with
full pickle.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..dtypes import BY_NAME, from_numpy
from ..errors import DecodeError, EncodeError, FileError
from ..files import atomic_write, open_regular
from ._common import Tensors

__all__ = ["from_torch", "to_torch", "from_state_dict", "to_state_dict", "load", "save"]

_VIEW = {8: "int8", 16: "int16", 32: "int32"}  # element bits -> torch/numpy integer type of that width


def _via_view(dt: Any) -> bool:
    """Types numpy and torch cannot exchange directly (ml_dtypes ones, complex32): go through an integer view."""
    return dt.numpy.startswith("ml_dtypes.") or dt.np_dtype.kind == "V"


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("this needs PyTorch: pip install torch (the CPU build is enough: pip install torch "
                          "--index-url https://download.pytorch.org/whl/cpu)") from exc
    return torch


def _torch_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def from_torch(tensor: Any) -> np.ndarray:
    """A numpy array with the tensor's exact bits (moved to the CPU and made contiguous)."""
    torch = _torch()
    t = tensor.detach().cpu().contiguous()
    name = _torch_name(t.dtype)
    dt = BY_NAME.get(name)
    if dt is not None and _via_view(dt) and dt.bits in _VIEW:
        return t.view(getattr(torch, _VIEW[dt.bits])).numpy().view(dt.np_dtype)
    if name in ("quint8", "qint8", "qint32") or t.is_quantized:
        raise EncodeError(f"torch dtype {name} has no tensorcbor dtype; dequantize or cast it first")
    arr = t.numpy()
    if from_numpy(arr.dtype) is None:
        raise EncodeError(f"torch dtype {name} has no tensorcbor dtype")
    return arr


def to_torch(array: np.ndarray) -> Any:
    """A CPU torch tensor with the array's exact bits (bfloat16/float8 via an integer view)."""
    torch = _torch()
    arr = array if array.flags.c_contiguous else array.copy(order="C")  # ascontiguousarray makes 0-d 1-d
    dt = from_numpy(arr.dtype)
    if dt is None or dt.kind == "string":
        raise EncodeError(f"dtype {arr.dtype} has no torch tensor form")
    if _via_view(dt):
        target = getattr(torch, dt.torch or "", None)
        if target is None or dt.bits not in _VIEW:
            raise EncodeError(f"this torch has no {dt.name} dtype")
        raw = arr.view(_VIEW[dt.bits])
        return torch.from_numpy(raw.copy() if not raw.flags.writeable else raw).view(target)
    return torch.from_numpy(arr.copy() if not arr.flags.writeable else arr)


def from_state_dict(state: Mapping[str, Any]) -> Tensors:
    """A state_dict (name → tensor) as tensors in its order; non-tensor entries are refused."""
    torch = _torch()
    arrays = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise EncodeError(f"state_dict entry {name!r} is a {type(value).__name__}, not a tensor")
        arrays[name] = from_torch(value)
    return Tensors(arrays)


def to_state_dict(t: Tensors | Mapping[str, np.ndarray]) -> dict[str, Any]:
    """torch tensors of converter `Tensors`, a `Bundle` or any mapping of arrays (see also tensorcbor.torch)."""
    arrays = t.arrays if isinstance(t, Tensors) else t
    return {name: to_torch(np.asarray(arrays[name])) for name in arrays}


SAFE_TORCH = (2, 10, 0)
"""Oldest torch whose ``weights_only`` unpickler has no known bypass: CVE-2025-32434 (RCE despite
weights_only=True) was fixed in 2.6.0 and CVE-2026-24747 (GHSA-63cw-57p8-fm3p, memory corruption in the
weights_only unpickler) in 2.10.0."""


def require_safe_torch(torch: Any) -> None:
    """Refuse to unpickle with a torch that has known ``weights_only`` bypasses (FileError UNSAFE_TORCH)."""
    version = str(getattr(torch, "__version__", "0"))
    parts = []
    for piece in version.split("+", 1)[0].split(".")[:3]:
        digits = "".join(itertools.takewhile(str.isdigit, piece))
        parts.append(int(digits) if digits else 0)
    if tuple(parts) < SAFE_TORCH:
        need = ".".join(map(str, SAFE_TORCH))
        raise FileError("UNSAFE_TORCH", f"torch {version} has known bypasses of torch.load(weights_only=True) "
                        f"(CVE-2025-32434, CVE-2026-24747) that let a .pt file run code; install torch>={need} "
                        "to read .pt files, or convert them to .safetensors on a trusted machine")


def load(path: str | os.PathLike[str]) -> Tensors:
    """A .pt/.pth state_dict, loaded with ``weights_only=True`` by a torch without known bypasses.

    .pt is pickle: even torch's restricted unpickler is a large attack surface that has had
    code-execution bypasses, so it is the least safe input format here; prefer .safetensors or .tcb.
    """
    torch = _torch()
    require_safe_torch(torch)
    with open_regular(path):
        pass  # refuse FIFOs, devices and directories before torch opens the path
    try:
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise DecodeError("MALFORMED", f"{path} is not a weights-only torch file: {exc}") from None
    if isinstance(state, torch.Tensor):
        return Tensors({"tensor": from_torch(state)}, single=True)
    if not isinstance(state, Mapping):
        raise DecodeError("UNEXPECTED_TYPE", f"{path} holds a {type(state).__name__}, not a state_dict")
    return from_state_dict(state)


def save(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write a state dict (or one tensor) with torch.save; shared storage cannot arise from tensorcbor sources."""
    torch = _torch()
    obj = to_torch(t.only()) if t.single else to_state_dict(t)
    with atomic_write(path) as f:
        torch.save(obj, f)
