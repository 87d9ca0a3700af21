"""Converters between tensorcbor and the formats users already have.

One module per format (``onnx``, ``safetensors``, ``msgpack_numpy``, ``npy``,
``torch``, ``dlpack``, ``gguf``, ``tcb``); each reads into and writes from `Tensors`
(named arrays + bundle metadata). Optional dependencies are imported only by the
module that needs them. `FORMATS` drives ``tensorcbor convert``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import Tensors
from .dlpack import from_dlpack

__all__ = ["Tensors", "from_dlpack", "Format", "FORMATS", "format_for", "read", "write"]


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    description: str


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("tcb", (".tcb", ".cbor"), "tensorcbor bundle or tensor document"),
    Format("safetensors", (".safetensors",), "safetensors file"),
    Format("onnx", (".onnx",), "ONNX model (its initializers)"),
    Format("onnx-tensor", (".pb",), "serialized ONNX TensorProto"),
    Format("msgpack", (".msgpack", ".mpk", ".msgpack-numpy"), "msgpack-numpy (Bittensor)"),
    Format("npy", (".npy",), "NumPy array file"),
    Format("npz", (".npz",), "NumPy archive"),
    Format("torch", (".pt", ".pth"), "PyTorch state_dict (weights_only)"),
    Format("gguf", (".gguf",), "GGUF model (llama.cpp), block-quantized tensors included"),
)}


def format_for(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """The format named by `explicit` or by the file extension (ValueError if neither says)."""
    if explicit:
        if explicit not in FORMATS:
            raise ValueError(f"unknown format {explicit!r}; choose one of {', '.join(FORMATS)}")
        return explicit
    suffix = Path(path).suffix.lower()
    for f in FORMATS.values():
        if suffix in f.extensions:
            return f.name
    raise ValueError(f"cannot tell the format of {path} from its extension; pass --from/--to "
                     f"({', '.join(FORMATS)})")


_BLOCK_FORMATS = ("tcb", "gguf")  # the formats that hold block-quantized tensors (SPEC.md §4.6)


def _refuse_blocks(t: Tensors, fmt: str) -> None:
    from ..blocks import BlockArray
    from ..errors import EncodeError
    for key, arr in t.arrays.items():
        if isinstance(arr, BlockArray):
            raise EncodeError(f"tensor {key!r} is block-quantized ({arr.dtype}), which {fmt} cannot store; write "
                              ".tcb or .gguf, or dequantize() it to float32 first")


def _readers() -> dict[str, Callable[[Any], Tensors]]:
    from . import gguf, msgpack_numpy, npy, onnx, safetensors, tcb, torch
    return {"gguf": gguf.load, "tcb": tcb.load, "safetensors": safetensors.load, "onnx": onnx.load_model,
            "onnx-tensor": onnx.load_tensor, "msgpack": msgpack_numpy.load, "npy": npy.load_npy,
            "npz": npy.load_npz, "torch": torch.load}


def read(path: str | os.PathLike[str], fmt: str | None = None) -> Tensors:
    """Read any supported file into `Tensors` (memory-mapped where the format allows)."""
    return _readers()[format_for(path, fmt)](path)


def write(t: Tensors, path: str | os.PathLike[str], fmt: str | None = None, *, model: str | None = None,
          progress: Callable[[int], None] | None = None) -> None:
    """Write `Tensors` as any supported format; ``.onnx`` needs `model`, the graph to put them in."""
    from . import gguf, msgpack_numpy, npy, onnx, safetensors, tcb, torch
    name = format_for(path, fmt)
    if name not in _BLOCK_FORMATS:
        _refuse_blocks(t, name)
    if name == "gguf":
        gguf.save(t, path)
    elif name == "tcb":
        tcb.save(t, path, progress=progress)
    elif name == "safetensors":
        safetensors.save(t.arrays, path, t.metadata, progress=progress, maps=t.maps)
    elif name == "onnx":
        if model is None:
            raise ValueError("writing .onnx needs the model whose initializers these are (--model in.onnx)")
        onnx.save_model(t, model, path)
    elif name == "onnx-tensor":
        onnx.save_tensor(t, path)
    elif name == "msgpack":
        msgpack_numpy.save(t, path)
    elif name == "npy":
        npy.save_npy(t, path)
    elif name == "npz":
        npy.save_npz(t, path)
    else:
        torch.save(t, path)
