"""The model canister (examples/model-canister) at the full all-MiniLM-L6-v2 shape under tensorcbor.ic: IC
instructions per embedding at 8, 32 and 128 tokens, upload and load costs, memory, and the same with wasm SIMD.

    python3 bench/bench_canister_model.py --json
    python3 bench/bench_canister_model.py --json --only-default # skip the SIMD comparison builds
    python3 bench/bench_canister_model.py --json --only-intercanister  # only the canister-to-canister exchange

Weights are random (no real checkpoint can be downloaded here) with MiniLM's shapes and Hugging Face names,
written by tensorcbor.save_file; the error is against a float64 numpy forward pass of the same weights. Costs
are the emulation's IC instructions (the replica's cost table); `fuel` is wasmtime's count (a lower bound).
Message limits are off so that a figure past the query limit is still measured (`fits_query` says whether it
fits: 5e9 instructions).

wasm SIMD: the default build already runs candle's matrix products in gemm's simd128 kernels (candle enables
them; they are compiled with `#[target_feature(enable = "simd128")]`). `scalar_*` keys are the same canister
with those kernels switched off (feature `scalar-gemm`), `simd_*` keys a build with `-C target-feature=+simd128`
for the whole module; `*_saving` = 1 - instructions / the other build's.

Canister to canister (`intercanister_*`, examples/intercanister.py): the Rust and the Motoko tensor-store on one
emulated network call each other's `get` (a 1 MiB float32 tensor) and `dense` (1024x1024 weight, bias, x of
1024); `intercanister_ok` is true when every answer is byte-identical to its reference. `*_ic_instructions` is
the caller's update plus its reply callback, `*_callee_ic_instructions` the callee's method (run as a
replicated query); cycles of the calls are not modelled.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import stream
from tensorcbor.ic import QUERY_LIMIT, UPDATE_LIMIT, Canister
from tensorcbor.ic import wasm as wasm_format

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import intercanister  # noqa: E402
import model_canister as mc  # noqa: E402

TOKENS = (8, 32, 128)


def simd_operators(module: bytes) -> dict[str, int]:
    """How many SIMD (0xFD-prefixed) operators the module's code holds, and in how many functions."""
    m = wasm_format.parse(module)
    code = m.section(wasm_format.CODE) or b""
    ops = functions = 0
    for start, end in m.bodies:
        n = sum(1 for op, _ in wasm_format.body_ops(code, start, end)[1] if op >> 16 == 0xFD)
        ops += n
        functions += n > 0
    return {"wasm_simd_operators": ops, "wasm_functions_with_simd": functions}


def run(wasm: Path, weights: dict[str, np.ndarray], doc: bytes, shape: mc.BertShape) -> dict[str, Any]:
    """Install, upload, load and embed; the figures of one build."""
    out: dict[str, Any] = {"model_wasm_bytes": wasm.stat().st_size, **simd_operators(wasm.read_bytes())}
    c = Canister(wasm.read_bytes(), limits=False)
    out["install_ic_instructions"] = c.install(mc.settings_arg(shape)).ic_instructions
    client = mc.ModelClient(c)
    chunks = list(stream.chunks(doc))
    t = time.perf_counter()
    results = client.upload(chunks, stream.stream_digest(chunks[0]))
    out["upload_seconds_emulated"] = round(time.perf_counter() - t, 1)
    out["upload_chunks"] = len(chunks) - 1
    out["put_chunk_max_ic_instructions"] = max(r.ic_instructions for r in results[1:-1])
    out["finish_ic_instructions"] = results[-1].ic_instructions
    out["finish_fits_update"] = results[-1].ic_instructions <= UPDATE_LIMIT
    status, _ = client.status()
    out["heap_bytes"] = status["heap_bytes"]
    out["stable_bytes"] = status["stable_bytes"]
    rng = np.random.default_rng(0)
    errs = []
    for n in TOKENS:
        ids = [101, *(int(x) for x in rng.integers(1000, shape.vocab_size, n - 2)), 102]
        value, res = client.embed(ids)
        got = np.asarray(tensorcbor.decode(bytes(mc.expect_ok(value, f"embed {n}"))))
        errs.append(mc.max_rel_err(got, mc.reference_embedding(weights, ids, shape)))
        out[f"embed_{n}_ic_instructions"] = res.ic_instructions
        out[f"embed_{n}_fuel"] = res.fuel
        out[f"embed_{n}_fits_query"] = res.ic_instructions <= QUERY_LIMIT
        out[f"embed_{n}_fits_update"] = res.ic_instructions <= UPDATE_LIMIT
    out["embedding_max_rel_err"] = max(errs)
    status, _ = client.status()
    out["heap_bytes_after_embed"] = status["heap_bytes"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--only-default", action="store_true",
                    help="measure only the default build (skip the scalar-gemm and whole-module simd128 builds)")
    ap.add_argument("--only-intercanister", action="store_true",
                    help="measure only the canister-to-canister exchange of the two tensor-stores")
    args = ap.parse_args()
    if args.only_intercanister:
        _print(intercanister.exchange(), args.json)
        return
    shape = mc.MINILM
    weights = mc.bert_weights(shape, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "minilm.tcb"
        tensorcbor.save_file(weights, path, {"architecture": "BertModel"}, durable=False)
        doc = path.read_bytes()
    result: dict[str, Any] = {"model": "all-MiniLM-L6-v2 shape (random weights)", "model_doc_bytes": len(doc),
                              "parameters": int(sum(w.size for k, w in weights.items() if w.dtype == np.float32))}
    result.update(run(mc.build(), weights, doc, shape))
    if not args.only_default:
        scalar = run(mc.build("scalar"), weights, doc, shape)
        simd = run(mc.build("simd"), weights, doc, shape)
        result.update({f"scalar_{k}": v for k, v in scalar.items()})
        result.update({f"simd_{k}": v for k, v in simd.items()})
        for n in TOKENS:
            key = f"embed_{n}_ic_instructions"
            result[f"gemm_simd_embed_{n}_saving"] = round(1 - result[key] / scalar[key], 3)
            result[f"simd_embed_{n}_saving"] = round(1 - simd[key] / result[key], 3)
    result.update(intercanister.exchange())
    _print(result, args.json)


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        for k, v in result.items():
            print(f"{k:40} {v}")


if __name__ == "__main__":
    main()
