"""Instruction metering by rewriting the module, as the replica does before it runs a canister.

Why it exists: wasmtime's fuel counts every operator as 1 (0 for a few); the IC charges each operator its own
weight (costs.py) and bills bulk memory per byte. The replica (rs/embedders/src/wasm_utils/instrumentation.rs)
adds an exported i64 global, ``canister counter_instructions``, and at the start of every basic block subtracts
the summed weight of the block from it; at the start of each function and loop body it also checks the counter
and stops the message when it is negative. Before memory.copy/fill (and table.copy/fill, memory/table.init) it
subtracts the size operand at run time. This module does the same, with the same block boundaries and the same
weights, so the counter's final value is what the replica's would be.

Differences from the replica, none of which change the count:
- running out traps through ``unreachable`` (the emulator reads the counter to tell it from a canister trap)
  instead of a call to the host, so that no function index shifts;
- a second exported global, ``tensorcbor fuel_overhead``, adds up the wasmtime fuel the injected code itself
  consumes, so that fuel figures of the original module (the second column) stay exact;
- stable memory stays in the host (the emulator charges the replica's costs for it there).
Like the replica, it exports the start function as ``canister_start`` (and drops the start section), every
mutable global (``__persistent_mutable_global_<i>``) and the memory as ``memory``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import costs
from . import wasm as w
from .leb import enc_sleb, enc_uleb

COUNTER_EXPORT = "canister counter_instructions"
FUEL_OVERHEAD_EXPORT = "tensorcbor fuel_overhead"
START_EXPORT = "canister_start"
MEMORY_EXPORT = "memory"
GLOBAL_EXPORT_PREFIX = "__persistent_mutable_global_"

# wasmtime fuel of the injected code (every operator 1 except block/loop/else/end/nop/drop/return/unreachable,
# plus 1 per function call executed); checked against the original module's fuel by the tests.
_FUEL_STATIC = 8  # global.get, i64.const, i64.sub, global.set, and the same four on the fuel global
_FUEL_CHECK = 4  # global.get, i64.const, i64.lt_s, if
_FUEL_DECR64 = 20  # the call, the helper's entry and its 18 operators
_FUEL_DECR32 = 9  # the call, entry, local.get, i64.extend_i32_u, i32.wrap_i64, four on the fuel global

_SPLIT_REENTRANT = costs.REENTRANT_AFTER
_SPLIT_NONREENTRANT = costs.NONREENTRANT_AFTER
_SPLIT_END = costs.BLOCK_END_AFTER
_SPLITS = _SPLIT_REENTRANT | _SPLIT_NONREENTRANT | _SPLIT_END
_DYNAMIC = costs.DYNAMIC

_REENTRANT, _NONREENTRANT, _BLOCK_END, _DYN32, _DYN64 = range(5)


@dataclass(frozen=True)
class Instrumented:
    """The rewritten module and what the emulator needs to know about it."""

    wasm: bytes
    wasm64: bool
    instructions: int  # Wasm instructions in the original code (the replica's compilation cost basis)

    @property
    def compilation_cost(self) -> int:
        """Instructions the replica charges to install or upgrade to this module (6,000 per instruction)."""
        return self.instructions * costs.COMPILE_COST_PER_INSTRUCTION


def _points(ops: list[tuple[int, int]], weights: dict[int, int], wasm64: bool) -> list[tuple[int, int, int]]:
    """(position, kind, cost) injection points of one body, in the order the replica emits them."""
    out: list[tuple[int, int, int, int]] = []
    seq = 0
    cur_pos, cur_kind, cur_cost = 0, _REENTRANT, 1  # a function costs at least 1
    get = weights.get
    for i, (op, _) in enumerate(ops):
        cur_cost += get(op, 1)
        if op in _SPLITS:
            out.append((cur_pos, seq, cur_kind, cur_cost))
            seq += 1
            cur_pos, cur_cost = i + 1, 0
            cur_kind = _REENTRANT if op in _SPLIT_REENTRANT else (
                _NONREENTRANT if op in _SPLIT_NONREENTRANT else _BLOCK_END)
        elif op in _DYNAMIC:
            small = _DYNAMIC[op] or not wasm64
            out.append((i, seq, _DYN32 if small else _DYN64, 0))
            seq += 1
    out.append((cur_pos, seq, cur_kind, cur_cost))
    out.sort()
    return [(p, k, c) for p, _, k, c in out if k != _BLOCK_END and k != _NONREENTRANT or c > 0]


def _static(counter: bytes, fuel: bytes, cost: int, check: bool) -> bytes:
    code = (b"\x23" + counter + b"\x42" + enc_sleb(cost) + b"\x7d\x24" + counter
            + b"\x23" + fuel + b"\x42" + enc_sleb(_FUEL_STATIC + (_FUEL_CHECK if check else 0)) + b"\x7c\x24"
            + fuel)
    if check:
        code += b"\x23" + counter + b"\x42\x00\x53\x04\x40\x00\x0b"  # if counter < 0: unreachable
    return code


BodyCheck = Callable[[int, list[tuple[int, int]]], None]


def _instrument_body(code: bytes, start: int, end: int, weights: dict[int, int], wasm64: bool, counter: bytes,
                     fuel: bytes, decr32: bytes, decr64: bytes, check: Callable[[list[tuple[int, int]]], None],
                     ) -> tuple[bytes, int]:
    body_start, ops = w.body_ops(code, start, end)
    check(ops)
    out = bytearray(code[start:body_start])  # the locals, unchanged
    last = body_start
    cache: dict[tuple[int, int], bytes] = {}
    for pos, kind, cost in _points(ops, weights, wasm64):
        at = ops[pos][1] if pos < len(ops) else end
        out += code[last:at]
        last = at
        if kind == _DYN64:
            out += b"\x10" + decr64
        elif kind == _DYN32:
            out += b"\x10" + decr32
        else:
            key = (kind, cost)
            snippet = cache.get(key)
            if snippet is None:
                snippet = cache[key] = _static(counter, fuel, cost, kind == _REENTRANT)
            out += snippet
    out += code[last:end]
    return enc_uleb(len(out)) + bytes(out), len(ops)


def _bind(check: BodyCheck | None, index: int) -> Callable[[list[tuple[int, int]]], None]:
    def run(ops: list[tuple[int, int]]) -> None:
        if check is not None:
            check(index, ops)
    return run


def _decr_bodies(counter: bytes, fuel: bytes, decr64: bytes) -> tuple[bytes, bytes]:
    """The run-time charge helpers: (i64) -> (i64) and (i32) -> (i32); each returns its argument."""
    min_i64 = enc_sleb(-(1 << 63))
    fuel64 = b"\x23" + fuel + b"\x42" + enc_sleb(_FUEL_DECR64) + b"\x7c\x24" + fuel
    body64 = (b"\x01\x01\x7e"  # one local i64
              + b"\x23" + counter + b"\x20\x00\x7d\x22\x01"  # new = counter - n
              + b"\x23" + counter + b"\x55"  # new > counter: it wrapped
              + b"\x04\x7e\x42" + min_i64 + b"\x05\x20\x01\x0b"
              + b"\x24" + counter
              + b"\x23" + counter + b"\x42\x00\x53\x04\x40\x00\x0b"
              + fuel64 + b"\x20\x00\x0b")
    fuel32 = b"\x23" + fuel + b"\x42" + enc_sleb(_FUEL_DECR32) + b"\x7c\x24" + fuel
    body32 = b"\x00" + b"\x20\x00\xad\x10" + decr64 + b"\xa7" + fuel32 + b"\x0b"
    return enc_uleb(len(body64)) + body64, enc_uleb(len(body32)) + body32


def _vec(items: list[bytes]) -> bytes:
    return enc_uleb(len(items)) + b"".join(items)


def _items(body: bytes | None) -> tuple[int, bytes]:
    """(count, the bytes after the count) of a vector section (an absent one is empty)."""
    if body is None:
        return 0, b""
    n, p = w.uleb(body, 0)
    return n, body[p:]


def instrument(module: w.Module, check: BodyCheck | None = None) -> Instrumented:
    """The module rewritten with the replica's metering (see the module docstring). `check(index, operators)`
    sees each function body as it is decoded (the validation's per-function rules), and may raise."""
    wasm64 = module.memory64
    weights = costs.weight_table(wasm64)
    sections = list(module.sections)
    n_funcs = module.imported_functions + len(module.functions)
    n_globals = module.imported_globals + len(module.globals)
    counter_ix, fuel_ix = n_globals, n_globals + 1
    decr64_ix, decr32_ix = n_funcs, n_funcs + 1
    counter, fuel = enc_uleb(counter_ix), enc_uleb(fuel_ix)
    decr64, decr32 = enc_uleb(decr64_ix), enc_uleb(decr32_ix)

    # types: the two helpers' signatures, appended
    n_types, rest = _items(module.section(w.TYPE))
    t64, t32 = n_types, n_types + 1
    w.put_section(sections, w.TYPE, enc_uleb(n_types + 2) + rest + b"\x60\x01\x7e\x01\x7e\x60\x01\x7f\x01\x7f")
    # functions: the two helpers, appended (no existing index moves)
    n_fn, rest = _items(module.section(w.FUNCTION))
    w.put_section(sections, w.FUNCTION, enc_uleb(n_fn + 2) + rest + enc_uleb(t64) + enc_uleb(t32))
    # globals: the instruction counter and the fuel overhead, appended
    n_gl, rest = _items(module.section(w.GLOBAL))
    zero = b"\x7e\x01\x42\x00\x0b"
    w.put_section(sections, w.GLOBAL, enc_uleb(n_gl + 2) + rest + zero + zero)
    # exports
    exports: list[bytes] = []
    exported_globals = set()
    memory_exported = False
    for e in module.exports:
        nm = e.name
        if e.kind == 2:
            nm, memory_exported = MEMORY_EXPORT, True
        if e.kind == 3:
            exported_globals.add(e.index)
        exports.append(w.enc_name(nm) + bytes([e.kind]) + enc_uleb(e.index))
    if not memory_exported and (module.memories or any(i.kind == 2 for i in module.imports)):
        exports.append(w.enc_name(MEMORY_EXPORT) + b"\x02\x00")
    for i, (_, mutable) in enumerate(module.globals):
        ix = module.imported_globals + i
        if mutable and ix not in exported_globals:
            exports.append(w.enc_name(f"{GLOBAL_EXPORT_PREFIX}{ix}") + b"\x03" + enc_uleb(ix))
    exports.append(w.enc_name(COUNTER_EXPORT) + b"\x03" + counter)
    exports.append(w.enc_name(FUEL_OVERHEAD_EXPORT) + b"\x03" + fuel)
    if module.start is not None:
        exports.append(w.enc_name(START_EXPORT) + b"\x00" + enc_uleb(module.start))
        w.put_section(sections, w.START, None)
    w.put_section(sections, w.EXPORT, _vec(exports))
    # code
    code = module.section(w.CODE) or b"\x00"
    bodies: list[bytes] = []
    instructions = 0
    for index, (start, end) in enumerate(module.bodies):
        body, n_ops = _instrument_body(code, start, end, weights, wasm64, counter, fuel, decr32, decr64,
                                       _bind(check, index))
        bodies.append(body)
        instructions += n_ops
    b64, b32 = _decr_bodies(counter, fuel, decr64)
    w.put_section(sections, w.CODE, _vec([*bodies, b64, b32]))
    instructions += 2 * len(module.globals)  # the replica counts each global's initializer as 2
    return Instrumented(w.write(sections), wasm64, instructions)


_CACHE: dict[bytes, Instrumented] = {}
_LOCK = threading.Lock()


def instrument_cached(module: w.Module, raw: bytes, check: BodyCheck | None = None) -> Instrumented:
    """`instrument`, remembered per module content for the life of the process (tests install the same
    module many times)."""
    key = hashlib.sha256(raw).digest()
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is None:
        hit = instrument(module, check)
        with _LOCK:
            _CACHE[key] = hit
    return hit
