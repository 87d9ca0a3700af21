"""A model larger than the wasm32 heap in the Rust tensor-store canister (issue 19 §6), under the emulation.

    PYTHONPATH=src python3 bench/bench_canister_large.py --json        # 4.5 GiB (TENSORCBOR_BENCH_LARGE_GIB)

Uploads a bundle of TENSORCBOR_BENCH_LARGE_GIB GiB (default 4.5: 144 float32 tensors of 32 MiB, all the same
array, so Python holds one) in 1.9 MB chunks, lets `finish` verify it from stable memory in windows (as many
update messages as it asks for), then serves it: `list`, `get_range` of bytes past 4 GiB and `dense` on the
last weight, each checked against the document. Keys:

- rust_canister_large_model_bytes: the document's length;
- rust_canister_large_model_max_update_ic_instructions: the largest update message (put_chunk or finish) in IC
  instructions as the replica meters them (tensorcbor.ic), against the 40e9 limit of one update
  (`..._max_update_share_of_40e9`), and rust_canister_large_model_max_update_fuel: the largest in wasmtime
  fuel (second column, about one per Wasm operator);
- rust_canister_large_model_finish_messages: the update messages `finish` took (it budgets itself on
  ic0.performance_counter), with `..._finish_ic_instructions` / `..._finish_fuel` per message;
- rust_canister_large_model_heap_bytes: the canister's Wasm memory at the end (a memory never shrinks: its
  high-water mark);
- rust_canister_large_model_stable_bytes: stable memory used.

The document is written to a temporary file and read through mmap (page cache, not Python objects); the
emulator's stable memory is one Python bytearray of the model's size (tensorcbor.ic caps it at 16 GiB). The
Motoko canister is not run: at about 200 fuel per byte of SHA-256 its upload alone would be about 1e12
instructions (hours of emulation), and its `finish` copies the document into one Blob in its heap.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import stream
from tensorcbor.bundle import bundle_parts
from tensorcbor.ic import UPDATE_LIMIT, Canister, Result

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402
from store_client import StoreClient  # noqa: E402

GiB = 1 << 30
TENSOR_SHAPE = (2048, 4096)  # 32 MiB of float32
SIZE_GIB = float(os.environ.get("TENSORCBOR_BENCH_LARGE_GIB", "4.5"))


def _write_model(path: Path, size: int) -> None:
    """A bundle of about `size` bytes at `path`, written part by part."""
    weight = np.random.default_rng(0).standard_normal(TENSOR_SHAPE, dtype=np.float32)
    count = max(1, round(size / weight.nbytes))
    tensors = {f"layers.{i:04d}.weight": weight for i in range(count)}
    with path.open("wb") as f:
        for part in bundle_parts(tensors, {"model": "large", "tensors": count}):
            f.write(part.data if isinstance(part, np.ndarray) else part)


def measure() -> dict[str, Any]:
    wasm = canisters.build_rust_store().read_bytes()
    p = "rust_canister_large_model_"
    with tempfile.TemporaryDirectory(prefix="tensorcbor-large-") as tmp:
        path = Path(tmp) / "model.tcb"
        _write_model(path, int(SIZE_GIB * GiB))
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            doc = memoryview(mm)
            try:
                return _run(wasm, doc, p)
            finally:
                doc.release()


def _run(wasm: bytes, doc: memoryview, p: str) -> dict[str, Any]:
    c = Canister(wasm)
    c.install()
    s = StoreClient(c)
    assert s.set_quota(len(doc))[0] == ("Ok", None)
    t0 = time.perf_counter()
    updates: list[Result] = []
    chunks = stream.chunks(doc)
    manifest = next(chunks)
    value, res = s.begin_upload(manifest, stream.stream_digest(manifest))
    assert value[0] == "Ok", value
    updates.append(res)
    largest_message = 0
    for chunk in chunks:
        value, res = s.put_chunk(chunk)
        assert value[0] == "Ok", value
        updates.append(res)
        largest_message = max(largest_message, len(chunk))
    upload_s = time.perf_counter() - t0
    finishes = s.finish_all()
    updates += finishes
    listing, _ = s.list()
    last = listing[-1]
    # Bytes past 4 GiB: the last tensor's document, checked against its element bytes in the file.
    head_len = last["doc_size"] - last["size"]
    want = bytes(doc[len(doc) - 1_000_000:])
    value, _ = s.get_range(last["name"], last["doc_size"] - 1_000_000, 1_000_000)
    assert value == ("Ok", want), "get_range past 4 GiB differs from the document"
    assert head_len > 0
    x = np.ones(TENSOR_SHAPE[1], np.float32)
    value, dense_res = s.dense(last["name"], None, tensorcbor.encode(x))
    assert value[0] == "Ok", value
    w = np.frombuffer(want[-TENSOR_SHAPE[1] * 4:], np.float32)
    y = np.asarray(tensorcbor.decode(value[1]))
    assert abs(float(y[-1]) - float(w.astype(np.float64).sum())) < 1e-2, "dense on the last weight is wrong"
    worst = max(r.ic_instructions for r in updates)
    return {
        p + "bytes": len(doc),
        p + "tensors": len(listing),
        p + "chunks": len(updates) - 1 - len(finishes),
        p + "largest_ingress_bytes": largest_message,
        p + "max_update_ic_instructions": worst,
        p + "max_update_fuel": max(r.fuel for r in updates),
        p + "max_update_share_of_40e9": round(worst / UPDATE_LIMIT, 5),
        p + "finish_messages": len(finishes),
        p + "finish_ic_instructions": [r.ic_instructions for r in finishes],
        p + "finish_fuel": [r.fuel for r in finishes],
        p + "heap_bytes": c.memory.data_len(c.store) if c.memory is not None else None,
        p + "stable_bytes": len(c.stable),
        p + "dense_last_weight_ic_instructions": dense_res.ic_instructions,
        p + "dense_last_weight_fuel": dense_res.fuel,
        p + "emulation_seconds": round(time.perf_counter() - t0, 1),
        p + "upload_emulation_seconds": round(upload_s, 1),
    }


MEASUREMENTS = {"rust_canister_large_model_bytes": measure}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output format)")
    parser.parse_args(argv)
    print(json.dumps(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
