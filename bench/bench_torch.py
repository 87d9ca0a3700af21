#!/usr/bin/env python3
"""PyTorch state dicts: ``tensorcbor.torch`` against ``safetensors.torch``, side by side in one process.

The model has the tensor names and shapes of all-MiniLM-L6-v2 (104 tensors, 22.7M parameters) in float32,
about 91 MB, written once by each library. Timed, each the minimum over repeats of one call:

- ``load_file(path)`` (both map the file and hand out tensors that view it; nothing is read until used);
- ``load_file`` then touching every tensor (``sum()``: every page is read);
- ``save_file(state_dict, path)`` (tensorcbor with ``durable=False``, like for like: safetensors does not fsync).

A ratio is safetensors' time divided by tensorcbor's (at least 1: tensorcbor is as fast or faster).

    PYTHONPATH=src python3 bench/bench_torch.py          # prints a table
    PYTHONPATH=src python3 bench/bench_torch.py --json   # one JSON object (keys below)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch as st
import torch

import tensorcbor.torch as tt
from tensorcbor.cli.demo import minilm_weights


def best(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    sd = {k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in minilm_weights().items()}
    nbytes = sum(t.numel() * t.element_size() for t in sd.values())
    with tempfile.TemporaryDirectory() as tmp:
        tcb, sft = Path(tmp) / "m.tcb", Path(tmp) / "m.safetensors"
        tt.save_file(sd, tcb, durable=False)
        st.save_file(sd, str(sft))
        a, b = tt.load_file(tcb), st.load_file(str(sft))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # equal results first
        del a, b

        def touch(loaded: dict[str, torch.Tensor]) -> float:
            return float(sum(t.sum() for t in loaded.values()))

        r = {
            "torch_model_tensors": len(sd), "torch_model_bytes": nbytes,
            "torch_load_file_tcb_s": best(lambda: tt.load_file(tcb), args.repeats),
            "torch_load_file_safetensors_s": best(lambda: st.load_file(str(sft)), args.repeats),
            "torch_load_touch_tcb_s": best(lambda: touch(tt.load_file(tcb)), max(3, args.repeats // 3)),
            "torch_load_touch_safetensors_s": best(lambda: touch(st.load_file(str(sft))), max(3, args.repeats // 3)),
            "torch_save_file_tcb_s": best(lambda: tt.save_file(sd, tcb, durable=False), max(3, args.repeats // 3)),
            "torch_save_file_safetensors_s": best(lambda: st.save_file(sd, str(sft)), max(3, args.repeats // 3)),
        }
    for op in ("load_file", "load_touch", "save_file"):
        r[f"torch_{op}_ratio"] = r[f"torch_{op}_safetensors_s"] / r[f"torch_{op}_tcb_s"]
    if args.json:
        json.dump(r, sys.stdout, indent=1)
        print()
        return
    print(f"{len(sd)} tensors, {nbytes / 1e6:.1f} MB float32, torch {torch.__version__}")
    print(f"{'operation':<28} {'tensorcbor':>12} {'safetensors':>12} {'ratio':>7}")
    for op, label in (("load_file", "load_file"), ("load_touch", "load_file + touch all"), ("save_file", "save_file")):
        print(f"{label:<28} {r[f'torch_{op}_tcb_s'] * 1e3:>10.2f}ms {r[f'torch_{op}_safetensors_s'] * 1e3:>10.2f}ms "
              f"{r[f'torch_{op}_ratio']:>6.2f}x")


if __name__ == "__main__":
    main()
