"""Block-quantized tensors (SPEC.md §4.6): tensorcbor's numpy dequantizers next to gguf-py's, and decode cost.

    python3 bench/bench_blocks.py            # prints a table (4M elements per type)
    python3 bench/bench_blocks.py --quick    # 256K elements

Each cell is the minimum over repeats of one call. Decode is bytes -> BlockArray (a view: constant time);
dequantize is BlockArray -> float32 array; gguf-py is gguf.quants.dequantize on the same block bytes.
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np
from gguf import GGMLQuantizationType, quants

import tensorcbor
from tensorcbor import BY_NAME, BlockArray


def _best(fn: object, repeat: int) -> float:
    return min(timeit.repeat(fn, number=1, repeat=repeat))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows, cols = (256, 1024) if args.quick else (1024, 4096)
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    print(f"{rows * cols:,} elements per type\n")
    print("| dtype | bytes | decode (view) | dequantize (tensorcbor) | dequantize (gguf-py) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("q8_0", "q4_0", "mxfp4"):
        b = BlockArray.quantize(x, name)
        blob = tensorcbor.encode(b)
        qtype = GGMLQuantizationType[BY_NAME[name].gguf or ""]
        raw = b.data.reshape(rows, -1)
        t_dec = _best(lambda blob=blob: tensorcbor.decode(blob), 20)
        t_ours = _best(b.dequantize, 5)
        t_gguf = _best(lambda raw=raw, q=qtype: quants.dequantize(raw, q), 5)
        print(f"| {name} | {b.nbytes:,} | {t_dec * 1e6:.1f} µs | {t_ours * 1e3:.1f} ms | {t_gguf * 1e3:.1f} ms "
              f"| {t_gguf / t_ours:.2f}x |")


if __name__ == "__main__":
    main()
