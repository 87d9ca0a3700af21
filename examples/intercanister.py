"""Canister to canister: the Rust and the Motoko tensor-store on one emulated network (tensorcbor.ic.calls),
passing tensors to each other as tensorcbor (used by bench/bench_canister_model.py; the test is
tests/test_intercanister.py).

`exchange` installs both stores, uploads one model to each, and runs the calls both ways: Rust `call_get` of a
tensor from Motoko's `get`, Motoko `call_dense` on Rust's `dense`, and the reverse of each. Every answer is
compared byte for byte with the reference (`tensorcbor.encode` of the array; numpy's y in the callee's
summation order) and the IC instructions of every message are kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import canisters
import tensorcbor
from store_client import StoreClient
from tensorcbor import stream
from tensorcbor.ic import Canister, Network, Result


def installed(network: Network, wasm: bytes) -> Canister:
    """A canister on `network` (its next principal), installed."""
    canister = Canister(wasm, network=network)
    canister.install()
    return canister


def dense_reference(callee: str, w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y = W x + b in each store's summation order, so that the bytes can be compared: the Rust store sums the
    float32 products in float32 in index order, then adds b; the Motoko store starts from b and sums in Float64
    (float32 products are exact there), then rounds to float32."""
    if callee == "rust":
        acc = np.zeros(w.shape[0], np.float32)
        for k in range(w.shape[1]):
            acc = acc + w[:, k] * x[k]
        return acc + b
    acc64 = b.astype(np.float64)
    for k in range(w.shape[1]):
        acc64 = acc64 + w[:, k].astype(np.float64) * np.float64(x[k])
    return acc64.astype(np.float32)


def bench_model(seed: int = 0) -> dict[str, np.ndarray]:
    """The model both stores hold: a 1024x1024 float32 dense layer with its bias, and a 1 MiB embedding."""
    rng = np.random.default_rng(seed)
    return {"head.dense.weight": (rng.standard_normal((1024, 1024), dtype=np.float32) / 32).astype(np.float32),
            "head.dense.bias": rng.standard_normal(1024, dtype=np.float32),
            "embed.weight": rng.standard_normal((256, 1024), dtype=np.float32)}


def _costs(prefix: str, res: Result) -> dict[str, int]:
    """The caller's instructions (its update and its callbacks) and the callee's (its method)."""
    caller = res.label.split(":")[0]
    mine = res.ic_instructions + sum(r.ic_instructions for r in res.followups if r.label.startswith(caller))
    return {f"{prefix}_ic_instructions": mine, f"{prefix}_callee_ic_instructions": res.total_ic_instructions - mine,
            f"{prefix}_messages": 1 + len(res.followups)}


def exchange(model: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Both stores built, installed on one network and loaded with `model`; the calls both ways. Returns
    `intercanister_ok` (every answer byte-identical to its reference) and the costs."""
    model = bench_model() if model is None else model
    network = Network()
    stores = {"rust": installed(network, canisters.build_rust_store().read_bytes()),
              "motoko": installed(network, canisters.build_motoko_store().read_bytes())}
    chunks = list(stream.chunks(tensorcbor.encode_bundle(model)))
    clients = {kind: StoreClient(c) for kind, c in stores.items()}
    for client in clients.values():
        client.upload(chunks, stream.stream_digest(chunks[0]))
    w, b = model["head.dense.weight"], model["head.dense.bias"]
    x: np.ndarray = np.random.default_rng(1).standard_normal(int(w.shape[1]), dtype=np.float32)
    out: dict[str, Any] = {}
    ok = True
    for caller, callee in (("rust", "motoko"), ("motoko", "rust")):
        value, res = clients[caller].call_get(stores[callee].canister_id, "embed.weight")
        ok &= value == ("Ok", tensorcbor.encode(model["embed.weight"]))
        out.update(_costs(f"intercanister_{caller}_call_get_1mib", res))
        value, res = clients[caller].call_dense(stores[callee].canister_id, "head.dense.weight", "head.dense.bias",
                                                tensorcbor.encode(x))
        ok &= value == ("Ok", tensorcbor.encode(dense_reference(callee, w, b, x)))
        out.update(_costs(f"intercanister_{caller}_call_dense_1024", res))
    direct = clients["rust"].dense("head.dense.weight", "head.dense.bias", tensorcbor.encode(x))[1]
    out["intercanister_rust_dense_1024_direct_ic_instructions"] = direct.ic_instructions
    return {"intercanister_ok": bool(ok), **out}
