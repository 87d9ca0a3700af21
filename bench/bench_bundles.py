#!/usr/bin/env python3
"""Bundles of many small tensors: tensorcbor against safetensors, in one process.

Real models are hundreds to tens of thousands of named tensors, so per-tensor header
work dominates. Bundles of 100, 1,000 and 20,000 float32 [4, 4] tensors, four operations:

- decode + read every tensor: ``decode_bundle`` then ``b[name]`` for every name, against
  ``safetensors.numpy.load`` (which builds every array); shown per tensor.
- open + read one tensor: ``load_file`` + one ``b[name]``, against ``safe_open`` + ``get_tensor``.
- encode: ``encode_bundle`` / ``save_file`` against safetensors' ``save`` / ``save_file``. ``save_file``
  fsyncs the file and its directory by default, which safetensors does not do, so it is timed both
  ways; the target is judged like for like (``durable=False``).
- layout only (20,000 tensors): ``read_layout(path)`` against reading safetensors' header
  from its file (8-byte length + ``json.loads``).

tensorcbor's readers run twice where they differ: as installed by default, with the
compiled bundle reader (tensorcbor._native, in every wheel; the column the targets are
judged on) and as pure Python (``tensorcbor.accel.use(False)``: an sdist installed
without cargo, or TENSORCBOR_NO_ACCEL=1). Each cell is the minimum over repeats of
the mean time per call. A ratio is safetensors' time divided by tensorcbor's (above 1:
tensorcbor is faster).

    PYTHONPATH=src python3 bench/bench_bundles.py            # writes bench/RESULTS-bundles.md and README.md
    PYTHONPATH=src python3 bench/bench_bundles.py --quick    # prints only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy
from safetensors import safe_open

import tensorcbor
from tensorcbor import accel

COUNTS = (100, 1_000, 20_000)
ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN bench-bundles -->", "<!-- END bench-bundles -->"
NOTES = """## How it works, and where the time goes

In the default install (every wheel holds the compiled bundle reader, tensorcbor._native), `load_file`
and `decode_bundle` hand the buffer to the Rust crate's `index_bundle` in one call: every check of
SPEC.md §7.1 (and §7.2 for `decode_bundle`) runs in Rust, and the result stays in Rust as a flat index
(names, dimensions, offsets); the Python mapping asks it for one tensor at a time, by binary search over
the wire order, so opening a 20,000-tensor file builds no Python object per tensor. A rejection is
reported by the compiled reader itself with the reference's code and offset (tests/test_accel.py
compares every vector and mutated bundle on both paths; the fuzzer runs `--impl python-pure --impl
python --impl rust`), so hostile input costs what the crate costs (bench/RESULTS-hostile.md). A buffer
others may write (bytearray, numpy array) is copied before Rust reads it; bytes and read-only mmaps
(load_file) are read in place. Opening one tensor then costs a file open, an mmap, the Rust walk over
every directory entry and item head and one numpy view.

The pure-Python column is the reference parser alone (one Python call per CBOR head): what an install
without the compiled reader runs. It stays behind safetensors (which parses its header in Rust).

`read_layout` runs the crate's prefix reader (every check of the prefix [0, B), nothing after it read)
and builds the `LayoutEntry` rows in Rust; a prefix too short goes to the pure-Python prefix reader,
which says how many bytes to read next.
"""


def timed(fns: list[Callable[[], Any]], budget: float, repeat: int) -> list[float]:
    """For each of `fns`, the minimum over `repeat` rounds of the mean time per call, each run lasting about
    `budget` seconds. The functions take turns within every round, so a machine that slows down or speeds up
    during the run affects them alike (this machine is shared)."""
    loops = []
    for fn in fns:
        t0 = time.perf_counter()
        fn()
        loops.append(max(1, int(budget / max(time.perf_counter() - t0, 1e-7))))
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(loops[k]):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / loops[k])
    return best


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def tensors(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    width = len(str(n - 1))
    return {f"model.layers.{i:0{width}d}.weight": rng.standard_normal((4, 4), np.float32) for i in range(n)}


def st_header(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


Row = tuple[str, float, float | None, float, str]
"""(operation, tensorcbor seconds, pure-Python seconds or None where the code is the same, safetensors, target)"""


def pure(fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn` run with the accelerator off (the pure-Python readers)."""
    def run() -> Any:
        was = accel.use(False)
        try:
            return fn()
        finally:
            accel.use(was)
    return run


def readers(fn: Callable[[], Any], peer: Callable[[], Any], budget: float,
            repeat: int) -> tuple[float, float | None, float]:
    """A reader timed with the accelerator (when installed), as pure Python, and its safetensors peer."""
    if not accel.available():
        ours, theirs = timed([fn, peer], budget, repeat)
        return ours, None, theirs
    ours, slow, theirs = timed([fn, pure(fn), peer], budget, repeat)
    return ours, slow, theirs


def measure(n: int, tmp: Path, budget: float, repeat: int) -> list[Row]:
    """The rows for a bundle of n tensors."""
    ts = tensors(n)
    ours = tensorcbor.encode_bundle(ts)
    theirs = safetensors.numpy.save(ts)
    tcb, sft = str(tmp / f"b{n}.tcb"), str(tmp / f"b{n}.safetensors")
    tensorcbor.save_file(ts, tcb)
    safetensors.numpy.save_file(ts, sft)
    names = list(ts)
    one = names[len(names) // 2]
    assert np.array_equal(tensorcbor.load_file(tcb)[one], ts[one])

    def decode_all() -> None:
        b = tensorcbor.decode_bundle(ours)
        for name in b:
            b[name]

    def open_one() -> None:
        tensorcbor.load_file(tcb)[one]

    def st_open_one() -> None:
        with safe_open(sft, framework="np") as f:
            f.get_tensor(one)

    dec = readers(decode_all, lambda: safetensors.numpy.load(theirs), budget, repeat)
    opened = readers(open_one, st_open_one, budget, repeat)
    enc, st_enc = timed([lambda: tensorcbor.encode_bundle(ts), lambda: safetensors.numpy.save(ts)], budget, repeat)
    fast_save, durable_save, st_save = timed([lambda: tensorcbor.save_file(ts, tcb, durable=False),
                                              lambda: tensorcbor.save_file(ts, tcb),
                                              lambda: safetensors.numpy.save_file(ts, sft)], budget, repeat)
    rows: list[Row] = [
        ("decode + read every tensor, per tensor", dec[0] / n, None if dec[1] is None else dec[1] / n, dec[2] / n,
         "≤ safetensors (1,000 and 20,000)"),
        ("open file + read one tensor", *opened, "< safetensors"),
        ("encode to bytes (encode_bundle / save)", enc, None, st_enc, "< safetensors"),
        ("write a file, not fsynced (save_file(durable=False) / save_file)", fast_save, None, st_save,
         "< safetensors"),
        ("write a file, fsynced (save_file, the default)", durable_save, None, st_save,
         "none: safetensors does not fsync"),
    ]
    if n == COUNTS[-1]:
        assert len(tensorcbor.read_layout(tcb)) == len(st_header(sft)) - ("__metadata__" in st_header(sft))
        layout = readers(lambda: tensorcbor.read_layout(tcb), lambda: st_header(sft), budget, repeat)
        rows.append(("layout only (read_layout / JSON header)", *layout, "within 2× (ratio ≥ 0.5)"))
    return rows


def met(op: str, n: int, ratio: float, target: str) -> str:
    if target.startswith("none"):
        return "-"
    if target.startswith("≤"):
        if n == COUNTS[0]:
            return "-"
        return "yes" if ratio >= 1 else "NO"
    if target.startswith("within"):
        return "yes" if ratio >= 0.5 else "NO"
    return "yes" if ratio > 1 else "NO"


def table(results: dict[int, list[Row]]) -> str:
    fast = accel.available()
    lines = ["| operation | tensors | tensorcbor | pure Python | safetensors | ratio | ratio, pure Python | target | "
             "met |" if fast else
             "| operation | tensors | tensorcbor (pure Python) | safetensors | ratio | target | met |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|" if fast else "|---|---:|---:|---:|---:|---|---|"]
    order: list[str] = []
    for rows in results.values():
        for op, *_ in rows:
            if op not in order:
                order.append(op)
    for op in order:
        for n, rows in results.items():
            for op2, ours, pure, theirs, target in rows:
                if op2 != op:
                    continue
                ratio = theirs / ours
                cells = [op, f"{n:,}", fmt(ours)]
                if fast:
                    cells.append(fmt(pure) if pure is not None else "(same code)")
                cells += [fmt(theirs), f"{ratio:.2f}"]
                if fast:
                    cells.append(f"{theirs / pure:.2f}" if pure is not None else "")
                cells += [target, met(op, n, ratio, target)]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(results: dict[int, list[Row]]) -> str:
    """How open + read one tensor grows from the smallest to the largest bundle, for both."""
    op = "open file + read one tensor"
    lo, hi = (next(r for r in results[n] if r[0] == op) for n in (COUNTS[0], COUNTS[-1]))
    return (f"Open + read one tensor grows ×{hi[1] / lo[1]:.0f} for tensorcbor and ×{hi[3] / lo[3]:.0f} for "
            f"safetensors from {COUNTS[0]:,} to {COUNTS[-1]:,} tensors.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs, print only")
    ap.add_argument("--print-only", action="store_true", help="full runs, but write no files")
    args = ap.parse_args()
    budget, repeat = (0.05, 2) if args.quick else (0.3, 5)
    results: dict[int, list[Row]] = {}
    with tempfile.TemporaryDirectory() as d:
        for n in COUNTS:
            results[n] = measure(n, Path(d), budget, repeat)
            for op, ours, pure, theirs, _ in results[n]:
                also = f"  pure Python {fmt(pure):>9}" if pure is not None else ""
                print(f"{n:>6} {op:<42} tensorcbor {fmt(ours):>9}{also}  safetensors {fmt(theirs):>9}  "
                      f"ratio {theirs / ours:.2f}", flush=True)
    body = table(results) + "\n\n" + growth(results)
    print()
    print(body)
    if args.quick or args.print_only:
        return
    env = (f"Python {sys.version.split()[0]}, numpy {np.__version__}, safetensors {safetensors.__version__}, "
           f"{platform.machine()}, {os.cpu_count()} cores; bundle reader: {accel.status()}")
    (ROOT / "bench" / "RESULTS-bundles.md").write_text(
        "# Bundles of many small tensors: tensorcbor vs safetensors\n\n"
        "`PYTHONPATH=src python3 bench/bench_bundles.py` (" + env + "). float32 [4, 4] tensors; each cell is the\n"
        "minimum over 5 repeats of the mean time per call; ratio above 1 means tensorcbor is faster.\n"
        "tensorcbor runs every structural check of SPEC.md §7.1 (decode_bundle also the element checks of §7.2;\n"
        "load_file defers them to first access).\n\n" + body + "\n\n" + NOTES, encoding="utf-8")
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = (f"{BEGIN}\nBundles of many float32 [4, 4] tensors against safetensors, in one process "
             "(`PYTHONPATH=src python3 bench/bench_bundles.py`, details in\n"
             "[bench/RESULTS-bundles.md](bench/RESULTS-bundles.md)); ratio above 1: tensorcbor is faster. "
             "\"tensorcbor\" is the default install\n(the compiled bundle reader, tensorcbor._native), \"pure Python\" "
             "an install without it; the targets are those of issue #11.\n\n"
             + body + f"\n{END}")
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        anchor = "<!-- BEGIN bench-convert -->"
        text = text.replace(anchor, block + "\n\n" + anchor, 1)
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
