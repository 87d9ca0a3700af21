#!/usr/bin/env python3
"""Start-up cost of the command line, against the floor every numpy program pays.

Each command runs in a fresh process, alternating with the others, and the minimum wall time over the runs is
kept (the machine's noise only ever adds). ``tensorcbor --version`` is judged against
``python -c "import numpy"``; ``inspect`` and a float32 safetensors -> .tcb conversion are shown beside them
(neither imports ml_dtypes).

    PYTHONPATH=src python3 bench/bench_startup.py           # a table
    PYTHONPATH=src python3 bench/bench_startup.py --json    # startup_* keys
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file as st_save_file


def wall(cmd: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        st_save_file({"w": np.ones((256, 256), np.float32)}, str(Path(tmp) / "m.safetensors"))
        commands = {
            "import_numpy": [py, "-c", "import numpy"],
            "version": [py, "-m", "tensorcbor", "--version"],
            "inspect": [py, "-m", "tensorcbor", "inspect", "m.safetensors"],
            "convert_f32": [py, "-m", "tensorcbor", "convert", "m.safetensors", "m.tcb"],
        }
        times: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, tmp))
    r: dict[str, float] = {f"startup_{k}_s": min(v) for k, v in times.items()}
    r["startup_version_vs_import_numpy"] = r["startup_version_s"] / r["startup_import_numpy_s"]
    if args.json:
        json.dump(r, sys.stdout, indent=1)
        print()
        return
    for k, v in r.items():
        print(f"{k:<36} {v * 1e3:8.1f} ms" if k.endswith("_s") else f"{k:<36} {v:8.2f}x")


if __name__ == "__main__":
    main()
