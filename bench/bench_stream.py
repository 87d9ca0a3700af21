"""Stream receiving (SPEC.md §10.5): time and memory of ``stream.Assembler`` against whole-document decoding.

    python3 bench/bench_stream.py            # full run, prints a Markdown table
    python3 bench/bench_stream.py --quick    # smaller documents, a few seconds

Times are CPU seconds (best of --repeat). For each document and chunk size: the time
to feed every chunk to an ``Assembler`` (chunks made beforehand; verification,
incremental parsing and array building included) next to the time to decode the
whole document at once (``decode_bundle`` / ``decode``, every tensor accessed), and
the ratio. Memory is the tracemalloc peak while feeding, above what was allocated
before the first chunk, as a multiple of the largest tensor's element bytes, or of the
document for the metadata and string cases (the chunks themselves are allocated
beforehand and not counted); the last column is the same for decoding the whole
document (metadata and strings become Python objects either way).

Whole decoding of a numeric tensor is a zero-copy view, so for those the fair floor is
the least a verifying receiver must do: SHA-256 over the payloads twice (each chunk's
digest, D10, and the document's, E2) and one copy into the array's storage; the "floor"
column is that, measured. The ratios are what matter: the Assembler must stay within a
small factor of max(whole decode, floor) whatever the chunk size (linear time), and
hold about one copy of a tensor.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import stream


def _metadata(nbytes: int) -> dict[str, Any]:
    """Many small metadata items, about `nbytes` encoded."""
    return {"vocab": [f"token-{i:07d}" for i in range(nbytes // 14)]}


def _cases(quick: bool) -> list[tuple[str, bytes, int, list[int]]]:
    scale = 8 if quick else 1
    meta = _metadata(2_000_000 // scale)
    meta_doc = tensorcbor.encode_bundle({"w": np.arange(1000, dtype=np.float32)}, meta)
    strings = np.array([f"s{i:08d}" for i in range(2_000_000 // scale)], dtype=np.dtypes.StringDType())
    string_doc = tensorcbor.encode_bundle({"strings": strings})
    big = np.arange((100 << 20) // 4 // scale, dtype=np.float32)
    big_doc = tensorcbor.encode_bundle({"big": big, "small": np.ones(10, np.float32)}, {"m": 1})
    tensor_doc = tensorcbor.encode(big)
    mb = 1e6
    return [
        (f"bundle, {len(meta_doc) / mb:.1f} MB of metadata (many small items)", meta_doc, len(meta_doc),
         [9_000, 65_536, stream.DEFAULT_MAX_SIZE]),
        (f"bundle, {len(string_doc) / mb:.1f} MB string tensor", string_doc, len(string_doc),
         [65_536, stream.DEFAULT_MAX_SIZE]),
        (f"bundle, {big.nbytes / mb:.0f} MB float32 + a small tensor", big_doc, big.nbytes,
         [65_536, stream.DEFAULT_MAX_SIZE]),
        (f"tensor document, {big.nbytes / mb:.0f} MB float32", tensor_doc, big.nbytes,
         [65_536, stream.DEFAULT_MAX_SIZE]),
    ]


def _floor(doc: bytes) -> None:
    hashlib.sha256(doc).digest()
    hashlib.sha256(doc).digest()
    bytearray(doc)


def _whole(doc: bytes) -> None:
    if doc[3:6] == b"\xd9\xcb\x74":
        tensorcbor.decode(doc)
    else:
        b = tensorcbor.decode_bundle(doc)
        for name in b:
            b[name]


def _feed(chunks: list[bytes]) -> int:
    asm = stream.Assembler(stream.stream_digest(chunks[0]))
    n = 0
    for c in chunks:
        n += len(asm.feed(c))
    asm.finish()
    return n


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.process_time()  # CPU time: robust on a shared machine
        fn()
        best = min(best, time.process_time() - t)
    return best


def _peak(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="only the documents whose label contains this text")
    parser.add_argument("--sizes", help="only these max-size values (comma-separated)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"tensorcbor from {tensorcbor.__file__}\n")
    print("| document | max-size | chunks | whole decode (s) | floor (s) | Assembler (s) | ratio | "
          "peak / largest | whole-decode peak / largest |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    wanted = {int(x) for x in args.sizes.split(",")} if args.sizes else None
    for label, doc, largest, sizes in _cases(args.quick):
        if args.only and args.only not in label:
            continue
        whole = _best(lambda d=doc: _whole(d), args.repeat)  # type: ignore[misc]
        floor = _best(lambda d=doc: _floor(d), args.repeat)  # type: ignore[misc]
        whole_peak = "-" if args.no_memory else f"{_peak(lambda d=doc: _whole(d)) / largest:.2f}"  # type: ignore[misc]
        for max_size in sizes:
            if wanted is not None and max_size not in wanted:
                continue
            chunks = list(stream.chunks(doc, max_size))
            fed = _best(lambda c=chunks: _feed(c), args.repeat)  # type: ignore[misc]
            peak = "-" if args.no_memory else f"{_peak(lambda c=chunks: _feed(c)) / largest:.2f}"  # type: ignore[misc]
            print(f"| {label} | {max_size:,} | {len(chunks) - 1:,} | {whole:.3f} | {floor:.3f} | {fed:.3f} | "
                  f"{fed / max(whole, floor):.1f} | {peak} | {whole_peak} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
