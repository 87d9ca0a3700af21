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

from ..errors import DecodeError, EncodeError
from ..files import check_not_same
from ._common import Tensors
from .dlpack import from_dlpack

__all__ = ["Tensors", "from_dlpack", "Format", "FORMATS", "format_for", "sniff", "read", "write"]


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    description: str
    keeps: str = ""
    """What of the bundle metadata the format keeps (shown by ``tensorcbor convert --help``)."""


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("tcb", (".tcb", ".cbor"), "tensorcbor bundle or tensor document", "all metadata, any CBOR value"),
    Format("safetensors", (".safetensors",), "safetensors file",
           "all: text values as native __metadata__, others as base64 CBOR under 'tensorcbor.metadata'"),
    Format("safetensors-index", (".safetensors.index.json",), "sharded Hugging Face checkpoint (index + shards)",
           "as safetensors, in every shard; the index under 'safetensors.index'"),
    Format("onnx", (".onnx",), "ONNX model (its initializers)",
           "only the 'onnx' entry (initializer order, doc_strings, metadata_props); refuses other metadata"),
    Format("onnx-tensor", (".pb",), "serialized ONNX TensorProto", "only the 'onnx' entry"),
    Format("msgpack", (".msgpack", ".mpk", ".msgpack-numpy"), "msgpack-numpy (Bittensor)",
           "all, as the map entry '__metadata__'"),
    Format("npy", (".npy",), "NumPy array file", "none: one tensor; refuses metadata"),
    Format("npz", (".npz",), "NumPy archive", "none: refuses metadata"),
    Format("torch", (".pt", ".pth"), "PyTorch state_dict (weights_only)", "none: refuses metadata"),
    Format("gguf", (".gguf",), "GGUF model (llama.cpp), block-quantized tensors included",
           "its key-value metadata, under the 'gguf' entry"),
)}


def format_for(path: str | os.PathLike[str], explicit: str | None = None, *, content: bool = False) -> str:
    """The format named by `explicit`, by the file name's extension, or (`content`) by the file's first bytes."""
    if explicit:
        if explicit not in FORMATS:
            raise ValueError(f"unknown format {explicit!r}; choose one of {', '.join(FORMATS)}")
        return explicit
    name = Path(path).name.lower()
    by_ext = sorted(((ext, f.name) for f in FORMATS.values() for ext in f.extensions), key=lambda e: -len(e[0]))
    for ext, fmt in by_ext:
        if name.endswith(ext):
            return fmt
    found = sniff(path) if content and os.path.isfile(path) else None
    if found is not None:
        return found
    raise ValueError(f"cannot tell the format of {path} from its extension; pass --from/--to "
                     f"({', '.join(FORMATS)})")


_BLOCK_FORMATS = ("tcb", "gguf")  # the formats that hold block-quantized tensors (SPEC.md §4.6)


_ZIP = b"PK\x03\x04"


def sniff(path: str | os.PathLike[str]) -> str | None:
    """The format a file's first bytes prove (None when they prove nothing): .tcb, .npy, .npz, torch, safetensors."""
    with open(path, "rb") as f:
        head = f.read(16)
        size = os.fstat(f.fileno()).st_size
    if head[:3] == b"\xd9\xd9\xf7" or head[:3] in (b"\xd9\xcb\x74", b"\xd9\xcb\x62"):
        return "tcb"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] == _ZIP:
        import zipfile
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        return "torch" if any(n.endswith("data.pkl") for n in names) else "npz"
    if len(head) >= 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "safetensors"
    return None


def check_content(path: str | os.PathLike[str], fmt: str) -> None:
    """Refuse a file whose first bytes prove another format than its name says (a .tcb named .npy)."""
    found = sniff(path)
    if found is not None and found != fmt and not {found, fmt} <= {"safetensors", "safetensors-index"}:
        raise DecodeError("BAD_MAGIC", f"{path}: its first bytes show a {found} file ({FORMATS[found].description}), "
                          f"not {fmt} as its name says; rename it to {FORMATS[found].extensions[0]} or pass "
                          f"--from {found}")


_KEEPS_NONE = ("npy", "npz", "torch")
_KEEPS_ONNX = ("onnx", "onnx-tensor")


def check_metadata(t: Tensors, fmt: str) -> None:
    """Refuse to lose metadata silently: formats without a place for it need it dropped explicitly."""
    lost = sorted(t.metadata) if fmt in _KEEPS_NONE else sorted(set(t.metadata) - {"onnx"}) if fmt in _KEEPS_ONNX \
        else []
    if lost:
        shown = ", ".join(map(repr, lost[:5])) + (" ..." if len(lost) > 5 else "")
        raise EncodeError(f"{FORMATS[fmt].description} has no place for the metadata {shown}; pass "
                          "--drop-metadata (Tensors.metadata = {} in Python) to write the tensors without it, or "
                          "write .tcb, .safetensors or .msgpack, which keep it")


def _refuse_blocks(t: Tensors, fmt: str) -> None:
    from ..blocks import BlockArray
    for key, arr in t.arrays.items():
        if isinstance(arr, BlockArray):
            raise EncodeError(f"tensor {key!r} is block-quantized ({arr.dtype}), which {fmt} cannot store; write "
                              ".tcb or .gguf, or dequantize() it to float32 first")


def _readers() -> dict[str, Callable[[Any], Tensors]]:
    from . import gguf, msgpack_numpy, npy, onnx, safetensors, sharded, tcb, torch
    return {"gguf": gguf.load, "tcb": tcb.load, "safetensors": safetensors.load, "safetensors-index": sharded.load,
            "onnx": onnx.load_model,
            "onnx-tensor": onnx.load_tensor, "msgpack": msgpack_numpy.load, "npy": npy.load_npy,
            "npz": npy.load_npz, "torch": torch.load}


def read(path: str | os.PathLike[str], fmt: str | None = None) -> Tensors:
    """Read any supported file into `Tensors` (memory-mapped where the format allows).

    Without `fmt`, a file whose first bytes prove another format than its extension names is refused with a
    message saying what it is."""
    name = format_for(path, fmt, content=True)
    if fmt is None and name != "safetensors-index":
        check_content(path, name)
    t = _readers()[name](path)
    t.sources.append(os.fspath(path))
    return t


def write(t: Tensors, path: str | os.PathLike[str], fmt: str | None = None, *, model: str | None = None,
          progress: Callable[[int], None] | None = None, max_shard_size: int | None = None,
          force: bool = False) -> list[str]:
    """Write `Tensors` as any supported format; ``.onnx`` needs `model`, the graph to put them in.

    Returns every path written: `path`, and for a sharded index or a large ONNX model the files named after it
    (shards, external data), which replace existing files only with `force` (FileError OUTPUT_EXISTS)."""
    from . import gguf, msgpack_numpy, npy, onnx, safetensors, sharded, tcb, torch
    name = format_for(path, fmt)
    check_not_same(path, [*t.sources, model])  # the output is replaced whole, but never over an input
    check_metadata(t, name)
    if name not in _BLOCK_FORMATS:
        _refuse_blocks(t, name)
    if name == "safetensors-index":
        return sharded.save(t, path, max_shard_size=max_shard_size, progress=progress, force=force)
    if name == "onnx":
        if model is None:
            raise ValueError("writing .onnx needs the model whose initializers these are (--model in.onnx)")
        return onnx.save_model(t, model, path, force=force)
    if name == "gguf":
        gguf.save(t, path)
    elif name == "tcb":
        tcb.save(t, path, progress=progress)
    elif name == "safetensors":
        safetensors.save(t.arrays, path, t.metadata, progress=progress, maps=t.maps)
    elif name == "onnx-tensor":
        onnx.save_tensor(t, path)
    elif name == "msgpack":
        msgpack_numpy.save(t, path, progress=progress)
    elif name == "npy":
        npy.save_npy(t, path)
    elif name == "npz":
        npy.save_npz(t, path)
    else:
        torch.save(t, path)
    return [os.fspath(path)]
