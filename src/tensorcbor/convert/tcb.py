"""tensorcbor's own files (.tcb) as converter sources and targets: bundles and single-tensor documents."""

from __future__ import annotations

import os
from typing import Any

from ..bundle import bundle_parts, parse_bundle
from ..cbor import Reader
from ..codec import parse_tensor_document
from ..tensor import BUNDLE_MAGIC, TENSOR_MAGIC, TensorInfo, body_parts, materialize, prepare
from ._common import Progress, Tensors, map_file, write_parts

__all__ = ["is_bundle", "tensor_info", "load", "save", "SINGLE_NAME"]

SINGLE_NAME = "tensor"
"""Name given to the tensor of a single-tensor document when a format needs one."""


def is_bundle(buf: Any) -> bool:
    """Whether a tensorcbor document is a bundle (by its first 6 bytes; others are read as tensors)."""
    first = bytes(buf[:6])
    return first == BUNDLE_MAGIC or first[:3] == BUNDLE_MAGIC[3:]


def tensor_info(buf: Any) -> TensorInfo:
    """Parse a single-tensor document's header (dtype, shape, data offset) without building the array."""
    return parse_tensor_document(Reader(buf))


def load(path: str | os.PathLike[str]) -> Tensors:
    """Memory-map a .tcb file (bundle or tensor document); arrays are views into the map."""
    buf = map_file(path)
    maps = [] if isinstance(buf, bytes) else [buf]
    if is_bundle(buf):
        bundle = parse_bundle(buf)
        return Tensors({name: bundle[name] for name in bundle}, dict(bundle.metadata), maps=maps)
    info = tensor_info(buf)
    return Tensors({SINGLE_NAME: materialize(buf, info, copy=False)}, single=True, maps=maps)


def save(t: Tensors, path: str | os.PathLike[str], *, progress: Progress | None = None) -> None:
    """Write a bundle, or a tensor document when `t` is a single unnamed tensor without metadata."""
    if t.single and not t.metadata:
        dt, shape, payload = prepare(t.only())
        header, payload = body_parts(dt, shape, payload, len(TENSOR_MAGIC), version=True)
        parts: list[Any] = [TENSOR_MAGIC, header, payload]
    else:
        parts = bundle_parts(t.arrays, t.metadata)
    write_parts(path, parts, progress=progress, maps=t.maps)
