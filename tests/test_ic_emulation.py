"""tensorcbor.ic against small modules written by hand: the instruction meter (counted by hand from the
replica's cost table), trap rollback for every kind of trap, canister_inspect_message, and the install-time
validation rules."""

from __future__ import annotations

import pytest

wasmtime = pytest.importorskip("wasmtime")

from tensorcbor.ic import (  # noqa: E402
    INSPECT_MESSAGE_LIMIT,
    Canister,
    InvalidModule,
    Trap,
    candid,
    costs,
    instructions_to_cycles,
    update_cycles,
)
from tensorcbor.ic.leb import enc_uleb  # noqa: E402

REPLY = 5 + 500  # `call $reply` (a call weighs 5) and msg_reply's fixed charge
ENTRY = 1  # every function costs at least 1

IMPORTS = """
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_method_name_size" (func $name_size (result i32)))
  (import "ic0" "accept_message" (func $accept))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (import "ic0" "stable64_grow" (func $sgrow (param i64) (result i64)))
  (import "ic0" "stable64_write" (func $swrite (param i64 i64 i64)))
"""


def _module(body: str, memory: str = "(memory 1)", imports: str = IMPORTS) -> bytes:
    return bytes(wasmtime.wat2wasm(f"(module {imports} {memory} {body})"))


def _canister(body: str, memory: str = "(memory 1)", imports: str = IMPORTS) -> Canister:
    c = Canister(_module(body, memory, imports))
    c.install()
    return c


# ------------------------------------------------------------------ the meter, counted by hand


def test_straight_line_arithmetic() -> None:
    c = _canister("""(global $g (mut i32) (i32.const 0))
      (func (export "canister_update f")
        i32.const 1 i32.const 2 i32.add drop          ;; 1 + 1 + 1, drop 1
        i32.const 7 i32.const 2 i32.div_u drop        ;; 1 + 1 + 10, drop 1
        f32.const 1 f32.const 2 f32.div drop          ;; 1 + 1 + 3, drop 1
        global.get $g i32.const 1 i32.add global.set $g  ;; 2 + 1 + 1 + 2
        call $reply)""")
    assert c.update("f", b"").ic_instructions == ENTRY + 4 + 13 + 6 + 6 + REPLY


def test_loop_is_charged_per_iteration() -> None:
    c = _canister("""(func (export "canister_update f") (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))      ;; 4
          (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))       ;; 3 + br_if 2
        call $reply)""")
    assert c.update("f", b"").ic_instructions == ENTRY + 10 * 9 + REPLY


def test_calls_and_branches() -> None:
    c = _canister("""(type $t (func (param i32) (result i32)))
      (table 1 funcref) (elem (i32.const 0) $g)
      (func $g (param i32) (result i32) local.get 0 i32.const 1 i32.add)   ;; 1 + 3
      (func (export "canister_update f")
        i32.const 5 call $g drop                        ;; 1 + call 5 + drop 1
        i32.const 5 i32.const 0 call_indirect (type $t) drop   ;; 1 + 1 + 10 + 1
        i32.const 1 if nop else unreachable end         ;; 1 + if 2, then nop 1
        call $reply)""")
    assert c.update("f", b"").ic_instructions == ENTRY + (7 + 4) + (13 + 4) + 4 + REPLY


def test_memory_copy_and_fill_cost_100_plus_one_per_byte() -> None:
    copy_fill = """(memory.copy (i32.const 0) (i32.const 100) (local.get 0))   ;; 2 consts + local 1 + 100 + n
        (memory.fill (i32.const 0) (i32.const 7) (local.get 0))              ;; the same
    """
    c = _canister(f"""(func (export "canister_update f") (local i32) {copy_fill} call $reply)
      (func (export "canister_update g") (local i32) (local.set 0 (call $arg_size)) {copy_fill} call $reply)""")
    base = c.update("g", b"").ic_instructions
    for n in (1, 1000, 40_000):
        assert c.update("g", bytes(n)).ic_instructions - base == 2 * n
    # f copies 0 bytes: everything but the per-byte part
    assert c.update("f", b"").ic_instructions == ENTRY + 2 * (3 + 100) + REPLY


def test_system_api_fixed_and_per_byte_charges() -> None:
    c = _canister("""(func (export "canister_update f")
        (call $arg_copy (i32.const 0) (i32.const 0) (call $arg_size))    ;; 2 consts, 2 calls
        (call $append (i32.const 0) (i32.const 10))                      ;; 2 consts, 1 call
        call $reply)""")
    n = 100
    wasm = ENTRY + 2 + 2 * 5 + 2 + 5 + 5
    system = 500 + (500 + n) + (500 + 50 * 10) + 500
    res = c.update("f", bytes(n))
    assert res.ic_instructions == wasm + system
    assert res.reply == bytes(10) and res.syscalls == 4


def test_stable_writes_pay_for_newly_dirtied_pages() -> None:
    c = _canister("""(func (export "canister_update f")
        (drop (call $sgrow (i64.const 1)))                          ;; const 1, call 5, drop 1; grow 100
        (call $swrite (i64.const 4000) (i64.const 0) (i64.const 200))   ;; pages 0 and 1: 20 + 200 + 2 * 1000
        (call $swrite (i64.const 4100) (i64.const 0) (i64.const 50))    ;; page 1 again: 20 + 50
        call $reply)""")
    res = c.update("f", b"")
    assert res.ic_instructions == ENTRY + 7 + 2 * 8 + REPLY + 100 + (20 + 200 + 2000) + (20 + 50)
    assert len(c.stable) == 65536


@pytest.mark.parametrize("wasm64", [False, True])
def test_loads_and_stores_count_twice_in_wasm64(wasm64: bool) -> None:
    t = "i64" if wasm64 else "i32"
    c = _canister(f"""(func (export "canister_update f")
        {t}.const 0 i64.load drop                     ;; 1 + load + 1
        {t}.const 8 i64.const 5 i64.store             ;; 1 + 1 + store
        {t}.const 8 i32.load8_u drop                  ;; 1 + load + 1
        call $reply)""", "(memory i64 1)" if wasm64 else "(memory 1)", '(import "ic0" "msg_reply" (func $reply))')
    access = 2 if wasm64 else 1
    res = c.update("f", b"")
    assert res.ic_instructions == ENTRY + (2 + access) + (2 + access) + (2 + access) + REPLY
    assert res.wasm64 is wasm64 and c.wasm64 is wasm64
    assert res.cycles == res.ic_instructions * (2 if wasm64 else 1)


def test_fuel_is_the_original_modules() -> None:
    """The instrumentation's own operators are taken out of the fuel column: it equals the fuel of the
    uninstrumented module run by plain wasmtime."""
    body = """(func (export "canister_update f") (local $i i32)
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (memory.fill (i32.const 0) (i32.const 1) (i32.const 300))
          (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 3))) (then (drop (i32.const 1))) (else nop))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 50)))))"""
    raw = _module(body)
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    store = wasmtime.Store(wasmtime.Engine(cfg))
    module = wasmtime.Module(store.engine, raw)
    stubs = [wasmtime.Func(store, i.type, lambda *a: None) for i in module.imports]
    store.set_fuel(10**9)
    wasmtime.Instance(store, module, stubs).exports(store)["canister_update f"](store)
    plain = 10**9 - store.get_fuel()
    c = Canister(raw)
    c.install()
    with pytest.raises(Trap, match="without replying") as info:
        c.update("f", b"")
    assert info.value.fuel == plain
    assert info.value.ic_instructions > plain  # weights: rem_u 10, branches 2, fill 100 + 300


def test_cycles_at_the_published_price() -> None:
    assert instructions_to_cycles(10**9, wasm64=False) == 10**9
    assert instructions_to_cycles(10**9, wasm64=True) == 2 * 10**9
    assert update_cycles(0, 100, wasm64=False) == 1_200_000 + 100 * 2_000 + 5_000_000


# ------------------------------------------------------------------ traps roll back


STATEFUL = """(global $n (mut i32) (i32.const 0))
  (func $touch (global.set $n (i32.const 99)) (i32.store (i32.const 16) (i32.const 7))
    (drop (call $sgrow (i64.const 1))) (call $swrite (i64.const 0) (i64.const 16) (i64.const 4)))
  (func (export "canister_update inc")
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.store (i32.const 0) (global.get $n)) (call $append (i32.const 0) (i32.const 4)) (call $reply))
  (func (export "canister_query heap") (call $append (i32.const 0) (i32.const 32)) (call $reply))
  (func (export "canister_update unreachable") (call $touch) unreachable)
  (func (export "canister_update oob") (call $touch) (drop (i32.load (i32.const 70000))))
  (func (export "canister_update divzero") (call $touch) (drop (i32.div_u (i32.const 1) (i32.const 0))))
  (func (export "canister_update host_trap") (call $touch) (call $trap (i32.const 0) (i32.const 4)))
  (func (export "canister_update out_of_instructions") (call $touch)
    (loop $l (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536)) (br $l)))
  (func (export "canister_update reply_too_costly") (call $touch) (call $append (i32.const 0) (i32.const -1)))
"""


@pytest.mark.parametrize("method,kind", [("unreachable", "wasm"), ("oob", "wasm"), ("divzero", "wasm"),
                                         ("host_trap", "canister"), ("out_of_instructions", "instructions"),
                                         ("reply_too_costly", "instructions")])
def test_every_trap_rolls_the_message_back(method: str, kind: str) -> None:
    c = _canister(STATEFUL)
    assert c.update("inc", b"").ok() == b"\x01\x00\x00\x00"
    before = (c.query("heap", b"").ok(), bytes(c.stable))
    with pytest.raises(Trap) as info:
        c.update(method, b"")
    assert info.value.kind == kind, info.value
    assert (c.query("heap", b"").ok(), bytes(c.stable)) == before, "heap, globals and stable memory restored"
    assert c.update("inc", b"").ok() == b"\x02\x00\x00\x00", "the canister goes on after the trap"


def test_queries_change_nothing_and_have_their_own_limit() -> None:
    c = _canister(STATEFUL + """(func (export "canister_query bump") (call $touch)
        (call $append (i32.const 16) (i32.const 4)) (call $reply))""")
    assert c.query("bump", b"").ok() == b"\x07\x00\x00\x00"
    assert c.query("heap", b"").ok() == bytes(32) and c.stable == bytearray()


def test_a_limitless_canister_counts_but_does_not_stop() -> None:
    body = """(func (export "canister_update big") (call $arg_copy (i32.const 0) (i32.const 0) (call $arg_size))
        call $reply) (memory 64)"""
    limited = Canister(_module(body, ""))
    limited.install()
    big = bytes(costs.MAX_MESSAGE + 1)
    with pytest.raises(Trap, match="message limit"):
        limited.update("big", big)
    free = Canister(_module(body, ""), limits=False)
    free.install()
    assert free.update("big", big).ic_instructions > len(big)


def test_inspect_message_refuses_before_execution() -> None:
    c = _canister(STATEFUL + """(func (export "canister_inspect_message")
        (if (i32.eq (call $name_size) (i32.const 3)) (then (call $accept)))
        (if (i32.eq (call $name_size) (i32.const 4)) (then (loop $l (br $l)))))""")
    assert c.update("inc", b"").ok() == b"\x01\x00\x00\x00"  # "inc": 3 letters, accepted
    res = c.update("unreachable", bytes(1000))  # refused: the update never runs
    assert res.reply is None and res.reject is not None and res.reject.startswith("refused")
    assert res.inspect is not None and 0 < res.inspect.ic_instructions < 10_000
    spin = c.update("spin", b"")  # 4 letters: loops until the 200M inspect limit
    assert spin.inspect is not None and spin.inspect.ic_instructions > INSPECT_MESSAGE_LIMIT
    assert c.update("inc", b"").ok() == b"\x02\x00\x00\x00", "refusals changed nothing"
    direct = c.update("inc", b"", ingress=False)  # not an ingress message: no inspection
    assert direct.inspect is None and direct.ok() == b"\x03\x00\x00\x00"


# ------------------------------------------------------------------ install-time validation


def _custom(raw: bytes, name: str, payload: bytes) -> bytes:
    nm = name.encode()
    body = enc_uleb(len(nm)) + nm + payload
    return raw + b"\x00" + enc_uleb(len(body)) + body


REPLY_ONLY = '(func (export "canister_query q") call $reply)'


@pytest.mark.parametrize("module,rule", [
    ('(import "env" "f" (func)) (memory 1)', "IMPORT_UNKNOWN"),
    ('(import "env" "msg_reply" (func)) (memory 1)', "IMPORT_MODULE"),
    ('(import "ic0" "msg_reply" (func (param i32))) (memory 1)', "IMPORT_SIGNATURE"),
    ('(import "ic0" "msg_arg_data_size" (func (result i64))) (memory 1)', "IMPORT_SIGNATURE"),
    ('(import "env" "g" (global i32)) (memory 1)', "IMPORT_GLOBAL"),
    ('(memory 1) (func (export "canister_foo"))', "EXPORT_CANISTER_PREFIX"),
    ('(memory 1) (func (export "canister_update u") (param i32))', "EXPORT_SIGNATURE"),
    ('(memory 1) (func $f) (export "canister_update a" (func $f)) (export "canister_query a" (func $f))',
     "EXPORT_DUPLICATE"),
    ('(memory 1) (global (export "canister counter_instructions") i64 (i64.const 0))', "EXPORT_RESERVED"),
    ('(memory 1) ' + " ".join(f"(global i32 (i32.const {i}))" for i in range(1001)), "TOO_MANY_GLOBALS"),
    ('(memory 1) (global $o i32 (i32.const 0)) (data (global.get $o) "x")', "DATA_OFFSET"),
    ('(memory 1) (table 1 funcref) (func (drop (table.grow (ref.null func) (i32.const 1))))',
     "UNSUPPORTED_INSTRUCTION"),
])
def test_refused_modules_name_the_rule(module: str, rule: str) -> None:
    with pytest.raises(InvalidModule) as info:
        Canister(bytes(wasmtime.wat2wasm(f"(module {module})")))
    assert info.value.rule == rule, info.value


@pytest.mark.parametrize("sections,rule", [
    ([("icp:candid:service", b"x")], "CUSTOM_SECTION_NAME"),
    ([("icp:public a", b"x"), ("icp:private a", b"y")], "CUSTOM_SECTION_DUPLICATE"),
    ([("icp:public big", bytes(1 << 20))], "CUSTOM_SECTIONS_TOO_LARGE"),
    ([(f"icp:public s{i}", b"x") for i in range(17)], "TOO_MANY_CUSTOM_SECTIONS"),
])
def test_custom_section_rules(sections: list[tuple[str, bytes]], rule: str) -> None:
    raw = _module(REPLY_ONLY)
    for name, payload in sections:
        raw = _custom(raw, name, payload)
    with pytest.raises(InvalidModule) as info:
        Canister(raw)
    assert info.value.rule == rule


def test_accepted_module_with_public_metadata() -> None:
    raw = _custom(_custom(_module(REPLY_ONLY), "icp:public candid:service", b"service : {}"), "other", b"")
    c = Canister(raw)
    c.install()
    assert c.query("q", b"").ok() == b""


def test_candid_round_trip() -> None:
    t = ("record", {"a": "nat64", "b": ("opt", "text"), "c": "blob"})
    msg = candid.encode([(t, {"a": 5, "b": "x", "c": b"\x01"})])
    assert candid.decode(msg, ["a", "b", "c"]) == [{"a": 5, "b": "x", "c": b"\x01"}]
