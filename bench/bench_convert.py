#!/usr/bin/env python3
"""Converting a ~1 GiB safetensors file: peak memory and speed.

Generates a bfloat16/float32 safetensors file (default 1 GiB) in a temp dir, then

- peak RSS: runs ``tensorcbor convert`` in a fresh subprocess for each direction and
  reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``; the target is < 1.2x the
  file size. Memory-mapped source pages count towards RSS, so this is an honest peak.
- speed: in this process, best of --repeat runs of our safetensors -> .tcb and
  .tcb -> safetensors against the safetensors library's own load + save of the same
  file (``safe_open`` + ``get_tensor`` for every tensor, then ``safetensors.numpy.save_file``).

    PYTHONPATH=src python3 bench/bench_convert.py [--size-mib 1024] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ml_dtypes
import numpy as np


def make_file(path: Path, size_mib: int) -> None:
    """Layers of 16 MiB: bfloat16 matrices plus a float32 bias each, like a transformer checkpoint."""
    from safetensors.numpy import save_file
    rng = np.random.default_rng(0)
    tensors = {}
    layers = max(1, size_mib // 16)
    for i in range(layers):
        tensors[f"layer.{i}.weight"] = rng.standard_normal((2048, 4096), np.float32).astype(ml_dtypes.bfloat16)
        tensors[f"layer.{i}.bias"] = rng.standard_normal(4096, np.float32)
    save_file(tensors, str(path), metadata={"format": "pt"})


# Linux charges a child the high-water RSS of the process it was forked (vforked) from, so the
# converter is started from a small runner process and the runner reports RUSAGE_CHILDREN.
_RUNNER = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run([sys.executable, "-m", "tensorcbor", "convert", "--no-progress", *sys.argv[1:]], check=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def child_peak(args: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of `tensorcbor convert ARGS` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _RUNNER, *args], check=True, capture_output=True, text=True).stdout
    secs, kib = out.split()
    return float(secs), int(kib) * 1024


def best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from tensorcbor.convert import read, write

    with tempfile.TemporaryDirectory() as d:
        src, tcb, back, lib = Path(d) / "m.safetensors", Path(d) / "m.tcb", Path(d) / "b.safetensors", \
            Path(d) / "lib.safetensors"
        make_file(src, args.size_mib)
        size = src.stat().st_size
        # The first child warms the page cache so both directions read from memory.
        t_to, peak_to = child_peak([str(src), str(tcb)])
        t_to, peak_to = child_peak([str(src), str(tcb)])
        t_back, peak_back = child_peak([str(tcb), str(back)])
        identical = back.read_bytes() == src.read_bytes()
        np.save(Path(d) / "tiny.npy", np.zeros(1))
        _, base = child_peak([str(Path(d) / "tiny.npy"), str(Path(d) / "tiny.tcb")])

        def ours_to() -> None:
            write(read(src), tcb)

        def ours_back() -> None:
            write(read(tcb), back)

        def library() -> None:
            with safe_open(str(src), framework="numpy") as f:
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
                meta = f.metadata()
            save_file(tensors, str(lib), metadata=meta)

        s_to, s_back, s_lib = best(ours_to, args.repeat), best(ours_back, args.repeat), best(library, args.repeat)

    mib = size / 2**20
    rows = [
        ("safetensors → .tcb (tensorcbor convert, subprocess)", t_to, peak_to),
        (".tcb → safetensors (tensorcbor convert, subprocess)", t_back, peak_back),
    ]
    print(f"file: {mib:,.0f} MiB safetensors ({size:,} bytes), {args.size_mib // 16} bfloat16 [2048, 4096] "
          f"+ float32 [4096] layers; {platform.python_implementation()} {platform.python_version()}, "
          f"numpy {np.__version__}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"baseline: peak RSS of the same command on a 1-element file: {base / 2**20:,.0f} MiB")
    print()
    print("| conversion | wall s | peak RSS MiB | peak / file size |")
    print("|---|---:|---:|---:|")
    for name, secs, peak in rows:
        print(f"| {name} | {secs:.2f} | {peak / 2**20:,.0f} | {peak / size:.2f}x |")
    print()
    print(f"round trip safetensors → .tcb → safetensors byte-identical: {identical}")
    print()
    print(f"| in-process, best of {args.repeat} | seconds | MiB/s | speed vs safetensors load+save (>1 = faster) |")
    print("|---|---:|---:|---:|")
    for name, secs in (("safetensors library: safe_open + get_tensor all + save_file", s_lib),
                       ("tensorcbor: safetensors → .tcb", s_to), ("tensorcbor: .tcb → safetensors", s_back)):
        print(f"| {name} | {secs:.2f} | {mib / secs:,.0f} | {s_lib / secs:.2f}x |")


if __name__ == "__main__":
    main()
