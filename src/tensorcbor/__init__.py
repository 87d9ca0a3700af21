"""tensorcbor: tensors as compact, deterministic CBOR (see SPEC.md).

The wire format is specified in SPEC.md; this package is its reference codec.

Names are imported on first use (PEP 562), so that a command such as ``tensorcbor --version`` does not pay for the
codec, the converters or ml_dtypes; ``from tensorcbor import encode`` and ``tensorcbor.encode`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CODES, DecodeError, EncodeError, FileError, TensorCBORError
from .versions import FORMAT_VERSION, PACKAGE_VERSION, SPEC_VERSION

if TYPE_CHECKING:  # what the lazy table below provides, for type checkers and editors
    from . import accel as accel
    from . import stream as stream
    from .blocks import BlockArray
    from .bundle import Bundle, LayoutEntry, decode_bundle, encode_bundle, read_layout
    from .codec import decode, encode
    from .convert.dlpack import from_dlpack
    from .dtypes import BY_CODE, BY_NAME, TABLE, DType
    from .files import FILE_EXTENSION, MEDIA_TYPE, load_file, save_file
    from .tensor import TensorInfo

__version__ = PACKAGE_VERSION

# public name -> the module that defines it (a module's own name: the submodule itself)
_LAZY: dict[str, str] = {
    "accel": ".accel", "stream": ".stream",
    "BlockArray": ".blocks",
    "Bundle": ".bundle", "LayoutEntry": ".bundle", "decode_bundle": ".bundle", "encode_bundle": ".bundle",
    "read_layout": ".bundle",
    "decode": ".codec", "encode": ".codec",
    "from_dlpack": ".convert.dlpack",
    "BY_CODE": ".dtypes", "BY_NAME": ".dtypes", "TABLE": ".dtypes", "DType": ".dtypes",
    "FILE_EXTENSION": ".files", "MEDIA_TYPE": ".files", "load_file": ".files", "save_file": ".files",
    "TensorInfo": ".tensor",
}

__all__ = [
    "BY_CODE", "BY_NAME", "CODES", "FILE_EXTENSION", "FORMAT_VERSION", "MEDIA_TYPE", "SPEC_VERSION", "TABLE",
    "BlockArray", "Bundle", "DType", "DecodeError", "EncodeError", "FileError", "LayoutEntry", "TensorCBORError",
    "TensorInfo", "decode", "decode_bundle", "encode", "encode_bundle", "from_dlpack", "load_file", "read_layout",
    "save_file",
]


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'tensorcbor' has no attribute {name!r}")
    module = importlib.import_module(where, __name__)
    value = module if where == f".{name}" else getattr(module, name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
