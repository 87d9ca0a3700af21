"""Shared pieces of the converters: the in-between form, lazy imports, file access.

Every converter reads its format into a `Tensors` (ordered arrays + bundle
metadata) and writes one back, so N formats need 2N functions, not N².
"""

from __future__ import annotations

import importlib
import json
import mmap
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import DecodeError, EncodeError
from ..files import atomic_write, open_regular
from ..tensor import Payload

Progress = Callable[[int], None]
"""Called with the number of bytes just written; used by the CLI's progress bar."""

_WRITE_SLICE = 64 << 20


@dataclass
class Tensors:
    """Named arrays in source order plus bundle metadata.

    `single` marks one unnamed tensor (a tensor document, a bare .npy, a TensorProto
    without a name): it has exactly one entry whose name carries no meaning.
    `maps` holds the memory maps the arrays view, so a writer can release their
    pages as it goes (`drop_pages`).
    """

    arrays: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)
    single: bool = False
    maps: list[mmap.mmap] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    """Files this was read from: a writer refuses to write over any of them (FileError SAME_FILE)."""

    def only(self) -> np.ndarray:
        """The one tensor of a single-tensor source (EncodeError otherwise)."""
        if len(self.arrays) != 1:
            raise EncodeError(f"the target holds one tensor but the source has {len(self.arrays)}; "
                              "write a bundle format (.tcb, .safetensors, .npz) instead")
        return next(iter(self.arrays.values()))


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or say which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"this converter needs the '{module}' package: pip install 'tensorcbor[{extra}]'") from exc


def load_json(raw: bytes, where: str, offset: int | None = None) -> Any:
    """Parse UTF-8 JSON from a file header or index; nesting too deep or bad text is a DecodeError, never a crash."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("NESTING_TOO_DEEP", f"{where}: the JSON nests deeper than this reader allows",
                          offset) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError("MALFORMED", f"{where}: not UTF-8 JSON: {exc}", offset) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise DecodeError("DUPLICATE_NAME", f"a JSON object has the key {dup!r} twice")
    return out


def map_file(path: str | os.PathLike[str]) -> Any:
    """A read-only memory map of a whole regular file (b"" for an empty one)."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""


def drop_pages(maps: Iterable[Any]) -> None:
    """Let the kernel reclaim pages already copied out of read-only maps (keeps peak RSS flat)."""
    for m in maps:
        if isinstance(m, mmap.mmap) and not m.closed and hasattr(mmap, "MADV_DONTNEED"):
            m.madvise(mmap.MADV_DONTNEED)


def payload_size(part: Payload) -> int:
    return part.nbytes if isinstance(part, (memoryview, np.ndarray)) else len(part)


def byte_view(part: Payload) -> memoryview:
    """A flat byte view of one piece (zero-size arrays included, which memoryview.cast refuses)."""
    if isinstance(part, bytes):
        return memoryview(part)
    if payload_size(part) == 0:
        return memoryview(b"")
    return memoryview(part).cast("B")  # type: ignore[arg-type]


def write_parts(path: str | os.PathLike[str], parts: Iterable[Payload], *, progress: Progress | None = None,
                maps: Iterable[Any] = ()) -> None:
    """Write pieces to `path` atomically (``files.atomic_write``), in bounded slices, releasing source pages."""
    maps = list(maps)
    with atomic_write(path) as f:
        since_drop = 0
        for part in parts:
            view = byte_view(part)
            for start in range(0, len(view), _WRITE_SLICE):
                piece = view[start:start + _WRITE_SLICE]
                f.write(piece)
                since_drop += len(piece)
                if progress is not None:
                    progress(len(piece))
                if since_drop >= _WRITE_SLICE and maps:
                    drop_pages(maps)
                    since_drop = 0
            view.release()


def check_name(name: Any, where: str) -> str:
    """Tensor names must be text: the one rule every format shares."""
    if not isinstance(name, str) or not name:
        raise DecodeError("INVALID_NAME", f"{where}: tensor name {name!r} is not a non-empty text string")
    return name
