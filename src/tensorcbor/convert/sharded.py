"""Sharded Hugging Face checkpoints (``model.safetensors.index.json`` plus shards) ⇄ one bundle.

Reading memory-maps every shard and gathers its tensors in the index's order. The shards' own
``__metadata__`` (every shard of a Hugging Face checkpoint carries the same, e.g. ``{"format": "pt"}``) becomes
the bundle metadata, mapped as for a single safetensors file; the index itself is kept in the bundle metadata
entry ``"safetensors.index"`` = ``{"metadata": <the index's "metadata">, "weight_map": {name: shard file}}``, so
writing the bundle back to an index gives the same shard files and the same index bytes. A bundle without that
entry (or whose tensors differ from the recorded weight map, or when a shard size is given) is split in name
order into shards of at most `max_shard_size` bytes (default 5 GB).

Shard files are always named after the output index, as transformers names them: ``NAME.safetensors.index.json``
gets ``NAME-00001-of-00003.safetensors`` and so on. A recorded weight map keeps its grouping of tensors into shards
(in the order of its shard names), never its file names: writing ``finetuned.safetensors.index.json`` from a bundle
that came from ``model.safetensors.index.json`` must not replace the original ``model-*`` shards. So the original
index's bytes come back exactly when the output has the original name. Existing shard files are not replaced unless
`force` is given (FileError OUTPUT_EXISTS).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DecodeError, EncodeError
from ..files import check_companions
from . import safetensors
from ._common import Progress, Tensors, check_name, load_json, write_parts

__all__ = ["INDEX_KEY", "INDEX_SUFFIX", "DEFAULT_MAX_SHARD_SIZE", "load", "save"]

INDEX_KEY = "safetensors.index"
INDEX_SUFFIX = ".safetensors.index.json"
DEFAULT_MAX_SHARD_SIZE = 5 * 10**9  # transformers' default for save_pretrained ("5GB")
MAX_INDEX_BYTES = 64 << 20
_SHARD_FILE = re.compile(r"[^/\\\x00]+\.safetensors")


def _shard_name(name: Any, where: str) -> str:
    """Shard files are plain names in the index's directory: no paths, so an index cannot point elsewhere."""
    if not isinstance(name, str) or not _SHARD_FILE.fullmatch(name) or name.startswith("."):
        raise DecodeError("MALFORMED", f"{where}: shard {name!r} is not a plain .safetensors file name in the "
                          "index's directory")
    return name


def read_index(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The weight map (tensor name -> shard file) and the "metadata" object of an index file."""
    size = os.path.getsize(path)
    if size > MAX_INDEX_BYTES:
        raise DecodeError("MALFORMED", f"{path}: an index of {size} bytes is over the {MAX_INDEX_BYTES >> 20} MiB "
                          "this reader accepts")
    index = load_json(Path(path).read_bytes(), str(path))
    if not isinstance(index, dict) or not isinstance(index.get("weight_map"), dict):
        raise DecodeError("MALFORMED", f"{path}: a safetensors index is a JSON object with a \"weight_map\" object")
    meta = index.get("metadata", {})
    if not isinstance(meta, dict):
        raise DecodeError("MALFORMED", f"{path}: the index's \"metadata\" is not an object")
    weight_map = {check_name(n, str(path)): _shard_name(f, str(path)) for n, f in index["weight_map"].items()}
    return weight_map, meta


def load(path: str | os.PathLike[str]) -> Tensors:
    """All tensors of a sharded checkpoint, as views into the shards' memory maps."""
    weight_map, index_meta = read_index(path)
    folder = Path(path).parent
    shards: dict[str, Tensors] = {}
    for file in dict.fromkeys(weight_map.values()):
        shards[file] = safetensors.load(folder / file)
    arrays: dict[str, np.ndarray] = {}
    for name, file in weight_map.items():
        if name not in shards[file].arrays:
            raise DecodeError("MALFORMED", f"{path}: tensor {name!r} is not in its shard {file}")
        arrays[name] = shards[file].arrays[name]
    for file, shard in shards.items():
        extra = [n for n in shard.arrays if weight_map.get(n) != file]
        if extra:
            raise DecodeError("MALFORMED", f"{path}: shard {file} holds {extra[0]!r}, which the index does not list "
                              "there")
    metas = [s.metadata for s in shards.values()]
    if any(m != metas[0] for m in metas[1:]):
        raise DecodeError("MALFORMED", f"{path}: the shards carry different __metadata__; convert them one by one")
    metadata = dict(metas[0]) if metas else {}
    if INDEX_KEY in metadata:
        raise DecodeError("MALFORMED", f"{path}: shard metadata uses the reserved key {INDEX_KEY!r}")
    metadata[INDEX_KEY] = {"metadata": index_meta, "weight_map": weight_map}
    return Tensors(arrays, metadata, maps=[m for s in shards.values() for m in s.maps])


def _plan(t: Tensors, base: str, max_shard_size: int | None) -> tuple[dict[str, str], dict[str, Any] | None]:
    """(weight map, recorded index metadata or None): the recorded grouping if it still fits the tensors and no
    shard size was asked for, else a split in name order; shard files named after `base` either way."""
    recorded = t.metadata.get(INDEX_KEY)
    groups: list[list[str]] = [[]]
    meta = None
    if max_shard_size is None and isinstance(recorded, Mapping) and isinstance(recorded.get("weight_map"), Mapping):
        wm = recorded["weight_map"]
        if set(wm) == set(t.arrays) and all(isinstance(f, str) and _SHARD_FILE.fullmatch(f) for f in wm.values()):
            files = sorted(set(wm.values()))
            groups = [[n for n in wm if wm[n] == f] for f in files]
            recorded_meta = recorded.get("metadata")
            meta = dict(recorded_meta) if isinstance(recorded_meta, Mapping) else None
    if meta is None:
        limit = max_shard_size or DEFAULT_MAX_SHARD_SIZE
        size = 0
        for name in sorted(t.arrays):
            n = int(t.arrays[name].nbytes)
            if groups[-1] and size + n > limit:
                groups.append([])
                size = 0
            groups[-1].append(name)
            size += n
    total = len(groups)
    return {name: f"{base}-{i + 1:05d}-of-{total:05d}.safetensors" for i, g in enumerate(groups) for name in g}, meta


def save(t: Tensors, path: str | os.PathLike[str], *, max_shard_size: int | None = None,
         progress: Progress | None = None, force: bool = False) -> list[str]:
    """Write shards next to `path` and then the index; every file is written whole or not at all. Returns the
    paths written, shards first.

    Without `max_shard_size`, a bundle read from an index gets its recorded grouping back; others are split into
    shards of at most 5 GB. Shards are named after `path`; existing ones are replaced only with `force`."""
    name = Path(path).name
    if not name.endswith(INDEX_SUFFIX) or name == INDEX_SUFFIX:
        raise EncodeError(f"a sharded checkpoint's index is named NAME{INDEX_SUFFIX}, not {name}")
    base = name[: -len(INDEX_SUFFIX)]
    weight_map, index_meta = _plan(t, base, max_shard_size)
    metadata = {k: v for k, v in t.metadata.items() if k != INDEX_KEY}
    files = sorted(set(weight_map.values()))
    written = check_companions(path, files, force)
    for file, target in zip(files, written, strict=True):
        part = {n: a for n, a in t.arrays.items() if weight_map[n] == file}
        safetensors.save(part, target, metadata, progress=progress, maps=t.maps)
    if index_meta is None:
        index_meta = {"total_size": sum(int(a.nbytes) for a in t.arrays.values())}
    text = json.dumps({"metadata": index_meta, "weight_map": dict(sorted(weight_map.items()))}, indent=2,
                      sort_keys=True, ensure_ascii=False) + "\n"
    write_parts(path, [text.encode("utf-8")])
    return [*written, os.fspath(path)]
