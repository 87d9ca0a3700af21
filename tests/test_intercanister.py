"""Canister to canister, end to end: the Rust and the Motoko tensor-store (examples/) built for the IC, installed
on one emulated network (tensorcbor.ic.calls) with the same model, pass tensors to each other as tensorcbor.

- Rust `call_get` -> Motoko `get`: the document decoded and re-encoded by the Rust crate, byte-identical to
  `tensorcbor.encode` of the array (every dtype of the model);
- Motoko `call_dense` -> Rust `dense`: x sent as a tensorcbor document, y decoded by the Motoko binding and
  re-encoded, byte-identical to numpy's y summed in the Rust canister's order (float32, index order);
- and the other way round for both (Motoko `call_get`, Rust `call_dense` against numpy in the Motoko order);
- rejects: a missing tensor is the callee's typed `Err NotFound`; a callee that traps, lacks the method or does
  not exist is `Rejected` with the IC's reject code (5, 5, 3); a bad x is refused before any call.
Without cargo, the wasm32 target, node or the npm motoko compiler these tests FAIL, not skip.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
import wasmtime

import tensorcbor
from tensorcbor import stream
from tensorcbor.ic import Network
from tensorcbor.ic.calls import CANISTER_ERROR, DESTINATION_INVALID, principal_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import canisters  # noqa: E402
from intercanister import dense_reference, installed  # noqa: E402
from store_client import StoreClient  # noqa: E402

# A canister whose `get` and `dense` trap (a callee failing mid-call); it has no other method.
TRAPPER = r"""
(module
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "model store is corrupt")
  (func (export "canister_query get") (call $trap (i32.const 0) (i32.const 22)))
  (func (export "canister_update dense") (call $trap (i32.const 0) (i32.const 22))))
"""
# A canister without `get`.
NO_GET = '(module (memory 1) (func (export "canister_update x")))'


def _model() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(22)
    return {
        "w": rng.standard_normal((48, 40), dtype=np.float32),
        "b": rng.standard_normal(48, dtype=np.float32),
        "emb.f16": rng.standard_normal((7, 5)).astype(np.float16),
        "emb.bf16": rng.standard_normal((3, 4)).astype(ml_dtypes.bfloat16),
        "q.int8": rng.integers(-128, 128, (6, 6), dtype=np.int8),
        "q.int4": rng.integers(-8, 8, 9).astype(ml_dtypes.int4),
        "mask": rng.random(11) < 0.5,
        "vocab": np.array(["[CLS]", "tensor", "cbor", "Ω"]),
        "scalar": np.array(3.5, dtype=np.float64),
    }


class Net:
    def __init__(self) -> None:
        try:
            rust_wasm, motoko_wasm = canisters.build_rust_store(), canisters.build_motoko_store()
        except canisters.BuildError as exc:
            pytest.fail(str(exc))
        self.model = _model()
        self.network = Network()
        self.rust = installed(self.network, rust_wasm.read_bytes())
        self.motoko = installed(self.network, motoko_wasm.read_bytes())
        self.trapper = installed(self.network, bytes(wasmtime.wat2wasm(TRAPPER)))
        self.no_get = installed(self.network, bytes(wasmtime.wat2wasm(NO_GET)))
        chunks = list(stream.chunks(tensorcbor.encode_bundle(self.model)))
        for c in (self.rust, self.motoko):
            StoreClient(c).upload(chunks, stream.stream_digest(chunks[0]))
        self.clients = {"rust": StoreClient(self.rust), "motoko": StoreClient(self.motoko)}
        self.ids = {"rust": self.rust.canister_id, "motoko": self.motoko.canister_id}


@pytest.fixture(scope="module")
def net() -> Net:
    return Net()


OTHER = {"rust": "motoko", "motoko": "rust"}


def _labels(res: Any) -> list[str]:
    return [r.label.split(": ", 1)[1] for r in res.followups]


@pytest.mark.parametrize("caller", ["rust", "motoko"])
def test_call_get_is_byte_exact(net: Net, caller: str) -> None:
    client, callee = net.clients[caller], OTHER[caller]
    for name, array in net.model.items():
        value, res = client.call_get(net.ids[callee], name)
        assert value == ("Ok", tensorcbor.encode(array)), name
        assert _labels(res) == ["replicated_query get", "reply_callback (get)"]
        assert res.followups[0].label.startswith(principal_text(net.ids[callee]))


@pytest.mark.parametrize("caller", ["rust", "motoko"])
def test_call_dense_is_byte_exact(net: Net, caller: str) -> None:
    client, callee = net.clients[caller], OTHER[caller]
    w, b = net.model["w"], net.model["b"]
    x = np.random.default_rng(5).standard_normal(40, dtype=np.float32)
    want = tensorcbor.encode(dense_reference(callee, w, b, x))
    value, res = client.call_dense(net.ids[callee], "w", "b", tensorcbor.encode(x))
    assert value == ("Ok", want)
    assert net.clients[callee].dense("w", "b", tensorcbor.encode(x))[0] == ("Ok", want)  # asked directly
    assert _labels(res) == ["replicated_query dense", "reply_callback (dense)"]
    assert all(r.reject is None for r in res.followups)


@pytest.mark.parametrize("caller", ["rust", "motoko"])
def test_missing_tensor_is_the_callee_error(net: Net, caller: str) -> None:
    client, callee = net.clients[caller], OTHER[caller]
    assert client.call_get(net.ids[callee], "nope")[0] == ("Err", ("NotFound", 'no tensor named "nope"'))
    x = tensorcbor.encode(np.ones(40, np.float32))
    assert client.call_dense(net.ids[callee], "nope", None, x)[0] == ("Err", ("NotFound", 'no tensor named "nope"'))


@pytest.mark.parametrize("caller", ["rust", "motoko"])
def test_callee_trap_missing_method_and_canister_are_rejects(net: Net, caller: str) -> None:
    client = net.clients[caller]
    (tag, rejected), res = client.call_get(net.trapper.canister_id, "w")
    assert tag == "Rejected" and rejected["code"] == CANISTER_ERROR
    assert "trapped" in rejected["message"] and "model store is corrupt" in rejected["message"]
    assert res.followups[0].reject is not None  # the callee's trapped message is in the trace
    x = tensorcbor.encode(np.ones(40, np.float32))
    tag, rejected = client.call_dense(net.trapper.canister_id, "w", None, x)[0]
    assert tag == "Rejected" and rejected["code"] == CANISTER_ERROR and "corrupt" in rejected["message"]
    tag, rejected = client.call_get(net.no_get.canister_id, "w")[0]
    assert (tag, rejected["code"]) == ("Rejected", CANISTER_ERROR)
    assert "has no update method 'get'" in rejected["message"]
    missing = b"\x00\x00\x00\x00\x00\x00\x07\x77\x01\x01"
    tag, rejected = client.call_get(missing, "w")[0]
    assert (tag, rejected["code"]) == ("Rejected", DESTINATION_INVALID) and "not found" in rejected["message"]


@pytest.mark.parametrize("caller", ["rust", "motoko"])
def test_bad_x_is_refused_before_the_call(net: Net, caller: str) -> None:
    client, callee = net.clients[caller], OTHER[caller]
    value, res = client.call_dense(net.ids[callee], "w", None, tensorcbor.encode(np.ones(40, np.float32))[:-3])
    assert value[0] == "Err" and value[1][0] == "Format" and value[1][1]["code"] == "TRUNCATED"
    value, res2 = client.call_dense(net.ids[callee], "w", None, tensorcbor.encode(np.ones(40, np.int32)))
    assert value[0] == "Err" and value[1][0] == "InvalidArgument"
    assert res.followups == [] and res2.followups == []  # no call was made


def test_a_store_calls_itself(net: Net) -> None:
    value, res = net.clients["rust"].call_get(net.ids["rust"], "vocab")
    assert value == ("Ok", tensorcbor.encode(net.model["vocab"]))
    assert all(r.label.startswith(principal_text(net.ids["rust"])) for r in res.followups)
