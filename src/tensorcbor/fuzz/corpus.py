"""Seed documents for mutation: the conformance vectors plus documents drawn from ``tensorcbor.testing``.

Drawing from Hypothesis strategies is made deterministic by a fixed ``@seed`` and no
example database, so one seed gives one corpus (for one Hypothesis version).
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .. import compression
from ..bundle import encode_bundle
from ..codec import encode
from ..testing import arrays, bundle_blobs, bundles, invalid_blobs, tensor_blobs

__all__ = ["Seed", "build_corpus"]

Seed = tuple[str, bytes]
"""(kind, document bytes): kind is 'tensor' or 'bundle', the decoder the bytes are meant for."""


def _draw(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    out: list[Any] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def _compressed(seed: int, count: int) -> list[Seed]:
    """Extended-profile documents: compressible tensors and bundles, with and without the shuffle filter."""
    if not compression.available():
        return []
    rng = random.Random(seed)
    out: list[Seed] = []
    for arr in _draw(arrays(max_elements=512, max_side=64), count, seed):
        if arr.dtype.kind in "TU":
            continue
        flat = arr.reshape(-1)
        if flat.size:  # repeat values so zstd finds something to compress
            flat[: flat.size // 2] = flat[0]
        out.append(("tensor", encode(arr, compression="zstd", shuffle=rng.random() < 0.5)))
    for tensors, meta in _draw(bundles(max_tensors=3, max_elements=256, max_side=32), count // 2, seed + 1):
        out.append(("bundle", encode_bundle(tensors, meta, compression="zstd", shuffle=rng.random() < 0.5)))
    return out


def _conformance() -> list[Seed]:
    try:
        from ..conformance import load_suite
        suite = load_suite()
    except Exception:  # noqa: BLE001 - no checkout at hand: the generated corpus is enough
        return []
    return [(v.kind, v.data()) for v in suite.vectors if v.kind in ("tensor", "bundle")]


def build_corpus(seed: int = 0, size: int = 400, extended: bool = True) -> list[Seed]:
    """About `size` drawn documents of each family, plus every conformance vector, deduplicated, in a fixed order."""
    found: list[Seed] = _conformance()
    found += [("tensor", b) for b in _draw(tensor_blobs(max_elements=64), size, seed)]
    found += [("bundle", b) for b in _draw(bundle_blobs(max_tensors=4), size, seed + 1)]
    found += [("tensor", b) for b, _ in _draw(invalid_blobs("tensor"), size // 2, seed + 2)]
    found += [("bundle", b) for b, _ in _draw(invalid_blobs("bundle"), size // 4, seed + 3)]
    if extended:
        found += _compressed(seed + 4, size // 4)
    seen: set[Seed] = set()
    unique = []
    for item in found:
        if item not in seen:
            seen.add(item)
            unique.append(item)
    return unique
