"""tensorcbor: tensors as compact, deterministic CBOR (see SPEC.md).

The wire format is specified in SPEC.md; this package is its reference codec.
"""

from . import (
    accel,  # noqa: F401 - tensorcbor.accel: the optional compiled bundle reader
    stream,  # noqa: F401 - tensorcbor.stream: chunked streams (SPEC.md §10)
)
from .blocks import BlockArray
from .bundle import Bundle, LayoutEntry, decode_bundle, encode_bundle, read_layout
from .codec import decode, encode
from .convert.dlpack import from_dlpack
from .dtypes import BY_CODE, BY_NAME, TABLE, DType
from .errors import CODES, DecodeError, EncodeError, TensorCBORError
from .files import FILE_EXTENSION, MEDIA_TYPE, load_file, save_file
from .tensor import TensorInfo
from .versions import FORMAT_VERSION, PACKAGE_VERSION, SPEC_VERSION

__version__ = PACKAGE_VERSION

__all__ = [
    "BY_CODE", "BY_NAME", "CODES", "FILE_EXTENSION", "FORMAT_VERSION", "MEDIA_TYPE", "SPEC_VERSION", "TABLE",
    "BlockArray", "Bundle", "DType", "DecodeError", "EncodeError", "LayoutEntry", "TensorCBORError", "TensorInfo",
    "decode", "decode_bundle", "encode", "encode_bundle", "from_dlpack", "load_file", "read_layout", "save_file",
]
