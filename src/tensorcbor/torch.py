"""torch tensors in and out of tensorcbor, the way ``safetensors.torch`` does it.

``save_file(state_dict, path, metadata=None)``, ``load_file(path, device="cpu")``, ``save(state_dict) -> bytes``
and ``load(data, device="cpu")`` mirror safetensors' functions, so switching is a change of import. Every dtype
tensorcbor and torch share works directly, bfloat16 and float8 included (their bits are copied, never
converted). Tensors that require grad are detached; tensors on any device are copied to the CPU to be written.

Shared storage, as safetensors handles it: tensors that share memory (tied weights such as an embedding and
an output projection, or views of one buffer) are refused with an error that names them, because writing them
would duplicate the memory and loading them would untie them. Clone the ones you mean to store separately, or
drop the duplicate names and re-tie them after loading. Zero-size tensors never count as shared.

``to_state_dict(bundle)`` and ``from_state_dict(state_dict)`` are the one way between a `Bundle` (or any mapping
of numpy arrays) and a state dict. ``load`` gives tensors that own their memory.

``load_file`` works as safetensors' does: the file becomes one private (copy-on-write) file-backed torch storage
(``UntypedStorage.from_file(shared=False)``), the strict decoder checks exactly those bytes, and each tensor whose
elements torch can use as they lie (every dtype but strings, sub-byte, block-quantized and complex32) is a view of
its own slice of that storage: nothing is copied or read until used, writes stay private, and tensors do not
count as sharing memory. The same hazard as any mmap reader follows: truncating the file while its tensors live
kills the process with SIGBUS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .bundle import decode_bundle, encode_bundle
from .convert import torch as _convert
from .errors import DecodeError, EncodeError
from .files import open_regular
from .files import save_file as _save_file
from .tensor import _BIG_ENDIAN_HOST, _VIEWABLE, TensorInfo

__all__ = ["save_file", "load_file", "save", "load", "to_state_dict", "from_state_dict"]


def _torch() -> Any:
    return _convert._torch()


def from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Numpy arrays with the exact bits of a state dict's tensors (detached, on the CPU); shared storage refused."""
    torch = _torch()
    for name, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise EncodeError(f"state_dict entry {name!r} is a {type(value).__name__}, not a tensor")
        if value.layout != torch.strided:
            raise EncodeError(f"tensor {name!r} has layout {value.layout}; call .to_dense() first")
    _refuse_shared(state_dict)
    return {name: _convert.from_torch(value) for name, value in state_dict.items()}


def _refuse_shared(state_dict: Mapping[str, Any]) -> None:
    groups: dict[tuple[Any, int, int], list[str]] = {}
    for name, t in state_dict.items():
        if t.device.type == "meta":
            raise EncodeError(f"tensor {name!r} is on the meta device and has no data")
        storage = t.untyped_storage()
        if storage.nbytes() == 0 or storage.data_ptr() == 0:
            continue
        groups.setdefault((t.device, storage.data_ptr(), storage.nbytes()), []).append(name)
    shared = [names for names in groups.values() if len(names) > 1]
    if shared:
        raise EncodeError(f"some tensors share memory: {shared}. Writing them would duplicate it and loading them "
                          "would untie them (safetensors refuses them too): clone the ones to keep separately "
                          "(t.clone()) or drop the duplicate names and re-tie them after loading")


def to_state_dict(tensors: Mapping[str, np.ndarray] | _convert.Tensors, device: str = "cpu") -> dict[str, Any]:
    """torch tensors (owning their memory, on `device`) of a Bundle, a mapping of arrays, or converter Tensors."""
    torch = _torch()
    target = torch.device(device)
    arrays = tensors.arrays if isinstance(tensors, _convert.Tensors) else tensors
    out = {}
    for name in arrays:
        t = _convert.to_torch(np.asarray(arrays[name]))
        out[name] = t.to(target) if target.type != "cpu" else t
    return out


def save(tensors: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> bytes:
    """A bundle document of a state dict (`metadata`: any CBOR-representable map, not only text)."""
    return encode_bundle(from_state_dict(tensors), metadata)


def save_file(tensors: Mapping[str, Any], filename: str | os.PathLike[str],
              metadata: Mapping[str, Any] | None = None, *, durable: bool = True) -> None:
    """Write a state dict as a .tcb bundle file (atomically; ``durable=False`` skips the fsyncs, as
    ``tensorcbor.save_file`` and ``torch.save`` do)."""
    _save_file(from_state_dict(tensors), filename, metadata, durable=durable)


def load(data: bytes, device: str = "cpu") -> dict[str, Any]:
    """The state dict of a bundle document (tensors own their memory)."""
    return to_state_dict(decode_bundle(data), device)


def load_file(filename: str | os.PathLike[str], device: str = "cpu") -> dict[str, Any]:
    """The state dict of a .tcb file on `device` (any torch device string), as views of a private file-backed
    storage that the strict decoder has checked (see the module docstring)."""
    torch = _torch()  # fail before touching the file when torch is missing
    with open_regular(filename) as f:  # FIFOs, devices and directories refused without blocking
        size = os.fstat(f.fileno()).st_size
    if size == 0:
        raise DecodeError("TRUNCATED", f"{os.fspath(filename)} is empty", 0)
    storage = torch.UntypedStorage.from_file(os.fspath(filename), shared=False, nbytes=size)
    data = torch.empty(0, dtype=torch.uint8).set_(storage).numpy()  # the mapped bytes, no copy
    bundle = decode_bundle(data)  # every check runs on the very bytes the tensors will view
    target = torch.device(device)
    out = {}
    for name in bundle:
        t = _view(torch, storage, bundle.info(name))
        if t is None:  # strings, sub-byte, block and complex32 tensors are unpacked into memory of their own
            t = _convert.to_torch(np.array(bundle[name]))
        out[name] = t.to(target) if target.type != "cpu" else t
    return out


def _view(torch: Any, storage: Any, info: TensorInfo) -> Any:
    """A tensor over the slice of `storage` holding a plain tensor's elements, or None when torch cannot use them
    as they lie."""
    if info.__class__ is not TensorInfo or _BIG_ENDIAN_HOST or info.dtype.code not in _VIEWABLE:
        return None  # compressed (the subclass decompresses), or elements that need unpacking or checks
    dtype = getattr(torch, info.dtype.torch or "", None)
    if dtype is None or info.dtype.np_dtype.kind == "V":
        return None
    if info.nbytes == 0:
        return torch.empty(info.shape, dtype=dtype)
    piece = storage[info.offset:info.offset + info.nbytes]  # a storage of its own over the same pages
    return torch.empty(0, dtype=torch.uint8).set_(piece).view(dtype).reshape(info.shape)
