"""Inter-canister calls in the IC emulation (tensorcbor.ic.calls): the replica's semantics on a small canister
written in WebAssembly text, so that every path is reached on purpose.

The canister `go`es: it calls `<callee>.<method>("ping")` with reply callback 0 (env 7), reject callback 1
(env 8) and cleanup 2 (env 9), after writing 1 to its state word; the reply callback adds 10 to the state,
records its env and forwards the reply (or traps when `arm`ed); the reject callback answers the reject code
and message; the cleanup records its env. `state` shows [state, env, armed, cleanup env, echo count].
"""

from __future__ import annotations

import struct

import pytest
import wasmtime

from tensorcbor.ic import Canister, Result, Trap, costs
from tensorcbor.ic.calls import CANISTER_ERROR, CANISTER_REJECT, DESTINATION_INVALID, Network, principal_text

WAT = r"""
(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reject" (func $reject (param i32 i32)))
  (import "ic0" "msg_reject_code" (func $reject_code (result i32)))
  (import "ic0" "msg_reject_msg_size" (func $reject_msg_size (result i32)))
  (import "ic0" "msg_reject_msg_copy" (func $reject_msg_copy (param i32 i32 i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "ic0" "call_data_append" (func $call_append (param i32 i32)))
  (import "ic0" "call_on_cleanup" (func $on_cleanup (param i32 i32)))
  (import "ic0" "call_cycles_add128" (func $cycles_add (param i64 i64)))
  (import "ic0" "call_perform" (func $perform (result i32)))
  (memory 1)
  (table 3 funcref)
  (elem (i32.const 0) $on_reply $on_reject $on_cleanup_cb)
  (data (i32.const 100) "boom")
  (data (i32.const 200) "ping")

  ;; the argument: one byte n, the callee's n principal bytes, the method name
  (func $start_call
    (local $n i32) (local $len i32)
    (call $arg_copy (i32.const 1000) (i32.const 0) (local.tee $len (call $arg_size)))
    (local.set $n (i32.load8_u (i32.const 1000)))
    (call $call_new (i32.const 1001) (local.get $n)
      (i32.add (i32.const 1001) (local.get $n))
      (i32.sub (i32.sub (local.get $len) (i32.const 1)) (local.get $n))
      (i32.const 0) (i32.const 7) (i32.const 1) (i32.const 8))
    (call $call_append (i32.const 200) (i32.const 4))
    (call $cycles_add (i64.const 0) (i64.const 1000))
    (call $on_cleanup (i32.const 2) (i32.const 9))
    (drop (call $perform)))

  (func (export "canister_update go")
    (i32.store (i32.const 0) (i32.const 1))
    (call $start_call))
  (func (export "canister_update go_then_trap")
    (call $start_call)
    (call $trap (i32.const 100) (i32.const 4)))
  (func (export "canister_query go_from_query") (call $start_call))
  (func (export "canister_update arm") (i32.store (i32.const 8) (i32.const 1)) (call $reply))
  (func (export "canister_update echo")
    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))
    (call $arg_copy (i32.const 1000) (i32.const 0) (call $arg_size))
    (call $append (i32.const 1000) (call $arg_size))
    (call $reply))
  (func (export "canister_query peek")
    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))
    (call $append (i32.const 16) (i32.const 4))
    (call $reply))
  (func (export "canister_update fail") (call $trap (i32.const 100) (i32.const 4)))
  (func (export "canister_update refuse") (call $reject (i32.const 100) (i32.const 4)))
  (func (export "canister_query state") (call $append (i32.const 0) (i32.const 20)) (call $reply))

  (func $on_reply (param $env i32)
    (i32.store (i32.const 4) (local.get $env))
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 10)))
    (if (i32.load (i32.const 8)) (then (call $trap (i32.const 100) (i32.const 4))))
    (call $arg_copy (i32.const 2000) (i32.const 0) (call $arg_size))
    (call $append (i32.const 2000) (call $arg_size))
    (call $reply))
  (func $on_reject (param $env i32)
    (i32.store (i32.const 4) (local.get $env))
    (i32.store8 (i32.const 2000) (call $reject_code))
    (call $reject_msg_copy (i32.const 2001) (i32.const 0) (call $reject_msg_size))
    (call $append (i32.const 2000) (i32.add (i32.const 1) (call $reject_msg_size)))
    (call $reply))
  (func $on_cleanup_cb (param $env i32)
    (i32.store (i32.const 12) (local.get $env)))
)
"""


@pytest.fixture
def net() -> tuple[Network, Canister, Canister]:
    network = Network()
    wasm = bytes(wasmtime.wat2wasm(WAT))
    return network, _installed(network, wasm), _installed(network, wasm)


def _installed(network: Network, wasm: bytes) -> Canister:
    canister = Canister(wasm, network=network)
    canister.install()
    return canister


def _go(caller: Canister, callee: bytes, method: str, export: str = "go") -> tuple[bytes | None, Result]:
    res = caller.update(export, bytes([len(callee)]) + callee + method.encode())
    return res.reply, res


def _state(c: Canister) -> tuple[int, ...]:
    return struct.unpack("<5i", c.query("state", b"").ok())


def test_reply_runs_the_reply_callback_after_the_await_point(net: tuple[Network, Canister, Canister]) -> None:
    _, a, b = net
    reply, res = _go(a, b.canister_id, "echo")
    assert reply == b"ping"  # the callee's reply, forwarded by a's reply callback
    assert _state(a) == (11, 7, 0, 0, 0)  # 1 written before the await, +10 by the callback with env 7
    assert _state(b)[4] == 1
    labels = [r.label for r in res.followups]
    assert labels == [f"{principal_text(b.canister_id)}: update echo",
                      f"{principal_text(a.canister_id)}: reply_callback (echo)"]


def test_calls_to_self_and_queries_called_as_replicated_queries(net: tuple[Network, Canister, Canister]) -> None:
    _, a, _ = net
    assert _go(a, a.canister_id, "echo")[0] == b"ping"
    assert _state(a) == (11, 7, 0, 0, 1)
    assert _go(a, a.canister_id, "peek")[0] == struct.pack("<i", 2)  # saw its own increment...
    assert _state(a)[4] == 1  # ...which the replicated query discarded


@pytest.mark.parametrize(("method", "code", "words"), [
    ("refuse", CANISTER_REJECT, ["boom"]),
    ("fail", CANISTER_ERROR, ["trapped", "boom"]),
    ("no_such_method", CANISTER_ERROR, ["has no update method 'no_such_method'"]),
])
def test_rejects_carry_the_replica_codes(net: tuple[Network, Canister, Canister], method: str, code: int,
                                         words: list[str]) -> None:
    _, a, b = net
    reply, _ = _go(a, b.canister_id, method)
    assert reply is not None and reply[0] == code
    for word in words:
        assert word in reply[1:].decode()
    assert _state(a)[:2] == (1, 8)  # the reject callback ran, with its env


def test_unknown_canister_is_destination_invalid(net: tuple[Network, Canister, Canister]) -> None:
    _, a, _ = net
    reply, _ = _go(a, b"\x00\x00\x00\x00\x00\x00\x09\x99\x01\x01", "echo")
    assert reply is not None and reply[0] == DESTINATION_INVALID and b"not found" in reply


def test_trap_in_the_callback_undoes_only_the_callback_then_cleanup_runs(
        net: tuple[Network, Canister, Canister]) -> None:
    _, a, b = net
    a.update("arm", b"")
    _, res = _go(a, b.canister_id, "echo")
    assert res.reply is None and res.reject_code == CANISTER_ERROR
    assert res.reject is not None and "trapped" in res.reject and "boom" in res.reject
    # the state of the await point (1) stays; the callback's +10 and env are undone; the cleanup ran (env 9)
    assert _state(a) == (1, 0, 1, 9, 0)
    assert _state(b)[4] == 1  # the callee's update committed


def test_calls_of_a_trapped_message_never_leave(net: tuple[Network, Canister, Canister]) -> None:
    _, a, b = net
    with pytest.raises(Trap, match="boom"):
        _go(a, b.canister_id, "echo", "go_then_trap")
    assert _state(b)[4] == 0


def test_a_query_may_not_call(net: tuple[Network, Canister, Canister]) -> None:
    _, a, b = net
    with pytest.raises(Trap, match='"ic0_call_new" cannot be executed in non replicated query mode'):
        a.query("go_from_query", bytes([len(b.canister_id)]) + b.canister_id + b"echo")


def test_the_call_api_is_charged_by_the_replica_table(net: tuple[Network, Canister, Canister]) -> None:
    """`go` with a longer method name: call_new charges 1 instruction per byte of callee and name, on top of
    the fixed charges (call_new 1,500, call_data_append 500 + 50 per byte, call_perform 5,000, ...)."""
    _, a, b = net
    short = a.update("go", bytes([len(b.canister_id)]) + b.canister_id + b"echo")
    long_ = a.update("go", bytes([len(b.canister_id)]) + b.canister_id + b"echo" + b"x" * 1000)
    # the argument copy (1 per byte) and call_new (1 per byte of the name): 2 per added byte
    assert long_.ic_instructions - short.ic_instructions == 2 * 1000
    fixed = sum(costs.SYSTEM_API_OVERHEAD[n] for n in ("call_new", "call_data_append", "call_cycles_add128",
                                                       "call_on_cleanup", "call_perform"))
    assert short.ic_instructions > fixed + 50 * 4


def test_a_lone_canister_calls_itself() -> None:
    c = Canister(bytes(wasmtime.wat2wasm(WAT)))
    c.install()
    assert c.update("go", bytes([len(c.canister_id)]) + c.canister_id + b"echo").reply == b"ping"
