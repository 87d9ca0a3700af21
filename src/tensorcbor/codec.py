"""Stand-alone tensor documents: ``encode`` and ``decode``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .cbor import Reader
from .errors import DecodeError
from .tensor import (
    BUNDLE_MAGIC,
    BUNDLE_TAG,
    SELF_DESCRIBE,
    TENSOR_MAGIC,
    TENSOR_TAG,
    VERSION,
    body_parts,
    materialize,
    prepare,
    read_fields,
)


def encode(array: Any) -> bytes:
    """The one deterministic tensorcbor encoding of a numpy array (or array-like)."""
    dt, shape, payload = prepare(array)
    header, payload = body_parts(dt, shape, payload, len(TENSOR_MAGIC), version=True)
    return b"".join((TENSOR_MAGIC, header, payload))


def decode(data: Any, *, copy: bool = False, strict: bool = True) -> np.ndarray:
    """Decode a tensor document.

    Returns a read-only view into `data` (bytes, bytearray, memoryview, mmap)
    unless `copy` is true or the dtype needs unpacking (sub-byte and string
    tensors are always fresh arrays, still read-only unless `copy`). The view
    keeps `data` alive. `strict=False` selects the lenient mode of SPEC.md §7.3.
    """
    r = Reader(data, strict=strict)
    open_document(r, TENSOR_TAG)
    start = r.pos
    count = r.expect(4, "the tensor array")
    if count not in (4, 5):
        raise r.fail("UNEXPECTED_TYPE", f"a tensor array has 4 or 5 elements, found {count}", start)
    read_version(r)
    info = read_fields(r, count - 1)
    close_document(r)
    return materialize(data, info, copy)


def open_document(r: Reader, want: int) -> None:
    """Check the self-described CBOR tag and the document tag (BAD_MAGIC otherwise)."""
    magic = TENSOR_MAGIC if want == TENSOR_TAG else BUNDLE_MAGIC
    if r.buf[r.pos:r.pos + 6] == magic:
        r.pos += 6
    else:
        _open_slow(r, want)


def _open_slow(r: Reader, want: int) -> None:
    kinds = {TENSOR_TAG: "tensor", BUNDLE_TAG: "bundle"}
    if r.end - r.pos < 3 or bytes(r.buf[r.pos:r.pos + 3]) != SELF_DESCRIBE:
        if r.strict:
            if r.end - r.pos < 3 and bytes(r.buf[r.pos:r.end]) == SELF_DESCRIBE[:r.end - r.pos]:
                raise r.fail("TRUNCATED", "the input ends inside the self-described CBOR tag")
            raise r.fail("BAD_MAGIC", "not a tensorcbor document: it must start with d9d9f7 "
                         "(self-described CBOR, tag 55799)")
    else:
        r.pos += 3
    start = r.pos
    major, _, tag = r.head()
    if major != 6 or tag not in kinds:
        raise r.fail("BAD_MAGIC", "not a tensorcbor document: expected tag 52084 (tensor) or "
                     "52066 (bundle) after the self-described CBOR tag", start)
    if tag != want:
        other = "decode_bundle/load_file" if tag == BUNDLE_TAG else "decode"
        raise r.fail("BAD_MAGIC", f"this is a {kinds[tag]} document, not a {kinds[want]}; "
                     f"read it with {other}", start)


def read_version(r: Reader) -> None:
    start = r.pos
    version = r.expect(0, "the version (unsigned integer)")
    if version != VERSION:
        raise r.fail("UNSUPPORTED_VERSION", f"format version {version} is not supported "
                     f"(this decoder reads version {VERSION})", start)


def close_document(r: Reader) -> None:
    if r.pos != r.end:
        raise DecodeError("TRAILING_BYTES", f"{r.end - r.pos} bytes follow the end of the document", r.pos)
