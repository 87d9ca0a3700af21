"""Costs of the tensor-store canisters (examples/) under the IC emulation, tensorcbor.ic (issue 13 §4, issue 19).

Per canister (`rust_canister_*`, `motoko_canister_*`), every figure in IC instructions as the replica meters them
(keys ending `_ic_instructions` / `_ic_instructions_per_byte`) and, as a second column comparable with older
figures, in wasmtime fuel of the original module (keys with `fuel`; about one per Wasm operator):
- upload_*_per_byte: put_chunk calls (Candid decoding, chunk checks with SHA-256, stable-memory write) over
  the payload bytes of a ~20 MB model; finish_*_per_byte: `finish` (the strict decode of the stored document);
- list_300_tensors: `list` on a 300-tensor model;
- get_1mib: `get` of a 1 MiB float32 tensor;
- dense_1024: `dense` with a 1024x1024 float32 weight, bias and a [1024] input;
- 100mb_*: a 100 MB model (TENSORCBOR_BENCH_BIG_MB to change) uploaded at the default chunk size: the largest
  ingress message (Candid argument) and the largest update call, against the IC's 2 MiB and 10% of 40e9
  instructions; the upload's cycles at the 13-node application subnet price (Wasm64, the Motoko canister, at
  2x per instruction): `100mb_upload_execution_cycles` (instructions only) and `100mb_upload_cycles` (with the
  per-message execution fee and the ingress fees per message and per byte).

Imported by bench/bench_canister.py through bench_canister_rust.py / bench_canister_motoko.py.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import stream
from tensorcbor.ic import Canister, Result, candid, instructions_to_cycles, update_cycles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402
from store_client import StoreClient  # noqa: E402

MiB = 1 << 20
IC_MESSAGE = 2 * MiB
IC_UPDATE = 40_000_000_000
BIG_MB = float(os.environ.get("TENSORCBOR_BENCH_BIG_MB", "100"))  # the "100 MB model" of the limit check


def _builders() -> dict[str, Callable[[], Path]]:
    out: dict[str, Callable[[], Path]] = {"rust": canisters.build_rust_store}
    motoko = getattr(canisters, "build_motoko_store", None)
    if motoko is not None:
        out["motoko"] = motoko
    return out


def _deploy(wasm: bytes, tensors: dict[str, np.ndarray]) -> tuple[StoreClient, list[Result], list[bytes], int]:
    """Install and upload `tensors` as one bundle at the default chunk size; the per-message results."""
    c = Canister(wasm)
    c.install()
    s = StoreClient(c)
    s.set_quota(3 << 30)
    doc = tensorcbor.encode_bundle(tensors)
    chunks = list(stream.chunks(doc))
    return s, s.upload(chunks, stream.stream_digest(chunks[0])), chunks, len(doc)


@functools.cache
def measure(kind: str) -> dict[str, Any]:
    wasm = _builders()[kind]().read_bytes()
    p = f"{kind}_canister_"
    out: dict[str, Any] = {p + "wasm_bytes": len(wasm)}

    tensors = canisters.synthetic_model(20_000_000)
    _, results, chunks, payload = _deploy(wasm, tensors)
    puts, finishes = results[1:len(chunks)], results[len(chunks):]  # finish may take several messages (Rust)
    out[p + "upload_ic_instructions_per_byte"] = round(sum(r.ic_instructions for r in puts) / payload, 2)
    out[p + "upload_fuel_per_byte"] = round(sum(r.fuel for r in puts) / payload, 2)
    out[p + "upload_chunk_max_ic_instructions"] = max(r.ic_instructions for r in puts)
    out[p + "upload_chunk_fuel_max"] = max(r.fuel for r in puts)
    out[p + "finish_ic_instructions_per_byte"] = round(sum(r.ic_instructions for r in finishes) / payload, 3)
    out[p + "finish_fuel_per_byte"] = round(sum(r.fuel for r in finishes) / payload, 3)
    out[p + "finish_messages"] = len(finishes)
    out[p + "model_tensors"] = len(tensors)

    rng = np.random.default_rng(1)
    small = {f"t{i:03d}": rng.standard_normal((16, 16), dtype=np.float32) for i in range(300)}
    small["w"] = rng.standard_normal((1024, 1024), dtype=np.float32)
    small["b"] = rng.standard_normal(1024, dtype=np.float32)
    small["one_mib"] = rng.standard_normal(MiB // 4, dtype=np.float32)
    s2, _, _, _ = _deploy(wasm, small)
    listing, r = s2.list()
    assert len(listing) == 303
    out[p + "list_300_tensors_ic_instructions"] = r.ic_instructions
    out[p + "list_300_tensors"] = r.fuel
    value, r = s2.get("one_mib")
    assert value == ("Ok", tensorcbor.encode(small["one_mib"]))
    out[p + "get_1mib_ic_instructions"] = r.ic_instructions
    out[p + "get_1mib"] = r.fuel
    out[p + "get_1mib_syscall_bytes"] = r.syscall_bytes
    x = rng.standard_normal(1024, dtype=np.float32)
    value, r = s2.dense("w", "b", tensorcbor.encode(x))
    assert value[0] == "Ok" and np.allclose(tensorcbor.decode(value[1]), small["w"] @ x + small["b"], atol=1e-3)
    out[p + "dense_1024_ic_instructions"] = r.ic_instructions
    out[p + "dense_1024"] = r.fuel

    big = canisters.synthetic_model(int(BIG_MB * 1_000_000), hidden=256, seed=2)
    _, results, chunks, doc_len = _deploy(wasm, big)
    args = [candid.encode([("blob", chunks[0]), ("blob", stream.stream_digest(chunks[0]))]),
            *(candid.encode([("blob", ch)]) for ch in chunks[1:])]  # as the messages sent
    finishes = results[len(chunks):]
    args += [candid.encode([])] * len(finishes)
    largest_arg = max(len(a) for a in args)
    worst = max(r.ic_instructions for r in results)
    wasm64 = results[-1].wasm64
    out[p + "100mb_doc_bytes"] = doc_len
    out[p + "100mb_chunks"] = len(chunks) - 1
    out[p + "100mb_largest_message_bytes"] = largest_arg
    out[p + "100mb_message_over_2mib"] = largest_arg > IC_MESSAGE
    out[p + "100mb_max_update_ic_instructions"] = worst
    out[p + "100mb_max_update_fuel"] = max(r.fuel for r in results)
    out[p + "100mb_max_update_share_of_40e9"] = round(worst / IC_UPDATE, 5)
    out[p + "100mb_update_over_10pct"] = worst > IC_UPDATE // 10
    out[p + "100mb_finish_messages"] = len(finishes)
    out[p + "100mb_finish_ic_instructions"] = sum(r.ic_instructions for r in finishes)
    out[p + "100mb_finish_fuel"] = sum(r.fuel for r in finishes)
    out[p + "100mb_upload_ic_instructions"] = sum(r.ic_instructions for r in results)
    out[p + "100mb_upload_execution_cycles"] = sum(instructions_to_cycles(r.ic_instructions, wasm64=wasm64)
                                                   for r in results)
    out[p + "100mb_upload_cycles"] = sum(update_cycles(r.ic_instructions, len(a), wasm64=wasm64)
                                         for r, a in zip(results, args, strict=True))
    return out


def measurements(kind: str, keys: tuple[str, ...]) -> dict[str, Callable[[], dict[str, Any]]]:
    """The driver's MEASUREMENTS for one canister: every key computes (once) and returns them all."""
    def run() -> dict[str, Any]:
        return measure(kind)
    return {f"{kind}_canister_{k}": run for k in keys}


KEYS = ("upload_ic_instructions_per_byte", "upload_fuel_per_byte", "list_300_tensors_ic_instructions",
        "list_300_tensors", "get_1mib_ic_instructions", "get_1mib", "dense_1024_ic_instructions", "dense_1024",
        "100mb_max_update_ic_instructions", "100mb_upload_cycles", "100mb_update_over_10pct")
