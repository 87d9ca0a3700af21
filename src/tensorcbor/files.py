"""Bundle files: written piece by piece, read through a memory map."""

from __future__ import annotations

import mmap
import os
from collections.abc import Mapping
from typing import Any, cast

from .bundle import Bundle, Tensors, bundle_parts, parse_bundle

FILE_EXTENSION = ".tcb"
MEDIA_TYPE = "application/vnd.tensorcbor+cbor"


def save_file(tensors: Tensors, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None, *,
              compression: str | None = None, shuffle: bool = False) -> None:
    """Write a bundle without building it in memory: each tensor's bytes are copied once, to the file."""
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            for part in bundle_parts(tensors, metadata, compression=compression, shuffle=shuffle):
                f.write(cast(Any, part))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_file(path: str | os.PathLike[str], *, strict: bool = True) -> Bundle:
    """Memory-map a bundle file and check its headers.

    Each tensor is built (and its elements checked) on first access.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    return parse_bundle(data, strict=strict)
