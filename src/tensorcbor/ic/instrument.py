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
- stable memory stays in the host (the emulator charges the replica's costs for it there);
- a write barrier (as the replica's optional one) marks, in an added memory exported as
  ``tensorcbor dirty_pages``, each 64 KiB heap page a store or bulk write touches, so that a trapped message
  is undone by restoring only those pages. Its operators are not metered and are taken out of the fuel.
Like the replica, it exports the start function as ``canister_start`` (and drops the start section), every
mutable global (``__persistent_mutable_global_<i>``), the memory as ``memory`` and the function table as
``table`` (the callbacks of inter-canister calls are indices into it).
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
BYTEMAP_EXPORT = "tensorcbor dirty_pages"
MEMORY_EXPORT = "memory"
TABLE_EXPORT = "table"  # the function table, through which the emulator runs inter-canister call callbacks
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


# The write barrier: before every store (and bulk write) into the heap the injected code sets a byte in an added
# memory, one byte per 64 KiB heap page, so that the emulator can undo a message by restoring only the pages it
# wrote (the replica tracks dirty pages too, with the OS or with the same kind of barrier).
DIRTY_SHIFT = 16
_BYTEMAP_PAGES = {False: 2, True: 17}  # marks for 4 GiB (Wasm32) or 64 GiB (Wasm64) of heap, plus one
_STORES = {0x36: w.I32, 0x3A: w.I32, 0x3B: w.I32, 0x37: w.I64, 0x3C: w.I64, 0x3D: w.I64, 0x3E: w.I64,
           0x38: w.F32, 0x39: w.F64, w.SIMD | 11: w.V128, w.SIMD | 88: w.V128, w.SIMD | 89: w.V128,
           w.SIMD | 90: w.V128, w.SIMD | 91: w.V128}
_BULK = {w.MISC | 11: "fill", w.MISC | 10: "copy", w.MISC | 8: "init"}
_FUEL_MARK = 25  # the range-marking helper: entry and 24 operators (+3 in Wasm64), plus the pages it marks


@dataclass
class _Locals:
    """The locals the barrier adds to a function: three of the address type, two i32, one of each other type."""

    a: tuple[int, int, int]
    i: tuple[int, int]
    by_type: dict[int, int]


def _points(ops: list[tuple[int, int]], weights: dict[int, int], wasm64: bool,
            barrier: dict[int, int]) -> list[tuple[int, int, int, int]]:
    """(position, kind, cost, extra fuel) injection points of one body, in the order the replica emits them.
    `barrier` maps an operator's index to the fuel of the barrier injected before it, which the static point
    of its block adds to the fuel overhead."""
    out: list[tuple[int, int, int, int, int]] = []
    seq = 0
    cur_pos, cur_kind, cur_cost, cur_extra = 0, _REENTRANT, 1, 0  # a function costs at least 1
    get = weights.get
    for i, (op, _) in enumerate(ops):
        cur_cost += get(op, 1)
        if i in barrier:
            cur_extra += barrier[i]
        if op in _SPLITS:
            out.append((cur_pos, seq, cur_kind, cur_cost, cur_extra))
            seq += 1
            cur_pos, cur_cost, cur_extra = i + 1, 0, 0
            cur_kind = _REENTRANT if op in _SPLIT_REENTRANT else (
                _NONREENTRANT if op in _SPLIT_NONREENTRANT else _BLOCK_END)
        elif op in _DYNAMIC:
            small = _DYNAMIC[op] or not wasm64
            out.append((i, seq, _DYN32 if small else _DYN64, 0, 0))
            seq += 1
    out.append((cur_pos, seq, cur_kind, cur_cost, cur_extra))
    out.sort()
    return [(p, k, c, x) for p, _, k, c, x in out if k != _BLOCK_END and k != _NONREENTRANT or c > 0]


def _static(counter: bytes, fuel: bytes, cost: int, check: bool, extra: int) -> bytes:
    code = (b"\x23" + counter + b"\x42" + enc_sleb(cost) + b"\x7d\x24" + counter
            + b"\x23" + fuel + b"\x42" + enc_sleb(_FUEL_STATIC + (_FUEL_CHECK if check else 0) + extra)
            + b"\x7c\x24" + fuel)
    if check:
        code += b"\x23" + counter + b"\x42\x00\x53\x04\x40\x00\x0b"  # if counter < 0: unreachable
    return code


BodyCheck = Callable[[int, list[tuple[int, int]]], None]


def _store_offset(code: bytes, at: int) -> int:
    """The memarg offset of the store at `at`."""
    p = at + 1
    if code[at] == 0xFD:
        _, p = w.uleb(code, p)
    align, p = w.uleb(code, p)
    if align & 0x40:
        _, p = w.uleb(code, p)
    return w.uleb(code, p)[0]


def _const(wasm64: bool, value: int) -> bytes:
    if wasm64:
        return b"\x42" + enc_sleb(value - (1 << 64) if value >= 1 << 63 else value)
    return b"\x41" + enc_sleb(value - (1 << 32) if value >= 1 << 31 else value)


def _store_barrier(code: bytes, at: int, vt: int, loc: _Locals, wasm64: bool, bytemap: bytes) -> tuple[bytes, int]:
    """(code, fuel) marking the page of the store at `at`; the store's operands are left as they were."""
    offset = _store_offset(code, at)
    add, shr = (b"\x7c", b"\x88") if wasm64 else (b"\x6a", b"\x76")
    val, addr = enc_uleb(loc.by_type[vt]), enc_uleb(loc.a[0])
    out = b"\x21" + val + b"\x22" + addr
    fuel = 8
    if offset:
        out += _const(wasm64, offset) + add
        fuel += 2
    out += _const(wasm64, DIRTY_SHIFT) + shr
    if wasm64:
        out += b"\xa7"
        fuel += 1
    out += b"\x41\x01\x3a\x40" + bytemap + b"\x00" + b"\x20" + addr + b"\x20" + val
    return out, fuel


def _bulk_barrier(kind: str, loc: _Locals, wasm64: bool, mark: bytes) -> tuple[bytes, int]:
    """(code, fuel) marking the pages a memory.fill/copy/init writes; its operands are left as they were."""
    d = enc_uleb(loc.a[0])
    s = enc_uleb(loc.a[1] if kind == "copy" else loc.i[0])
    n = enc_uleb(loc.i[1] if kind == "init" else loc.a[2])
    widen = kind == "init" and wasm64
    out = (b"\x21" + n + b"\x21" + s + b"\x21" + d + b"\x20" + d + b"\x20" + n + (b"\xad" if widen else b"")
           + b"\x10" + mark)
    return out + b"\x20" + d + b"\x20" + s + b"\x20" + n, 9 + widen


def _instrument_body(code: bytes, start: int, end: int, params: int, weights: dict[int, int], wasm64: bool,
                     refs: dict[str, bytes], check: Callable[[list[tuple[int, int]]], None]) -> tuple[bytes, int]:
    body_start, ops = w.body_ops(code, start, end)
    check(ops)
    groups, p = w.uleb(code, start)
    n_locals = 0
    for _ in range(groups):
        k, p = w.uleb(code, p)
        n_locals += k
        p += 1
    writes = [i for i, (op, _) in enumerate(ops) if op in _STORES or op in _BULK]
    locals_out = code[start:body_start]
    loc: _Locals | None = None
    barrier_code: dict[int, bytes] = {}
    barrier_fuel: dict[int, int] = {}
    if writes:
        addr = w.I64 if wasm64 else w.I32
        base = params + n_locals
        types = [addr, addr, addr, w.I32, w.I32, w.I64, w.F32, w.F64]
        if any(ops[i][0] in _STORES and _STORES[ops[i][0]] == w.V128 for i in writes):
            types.append(w.V128)
        by_type = {w.I32: base + 3, w.I64: base + 5, w.F32: base + 6, w.F64: base + 7, w.V128: base + 8}
        loc = _Locals((base, base + 1, base + 2), (base + 3, base + 4), by_type)
        locals_out = (enc_uleb(groups + len(types)) + code[w.uleb(code, start)[1]:body_start]
                      + b"".join(b"\x01" + bytes([t]) for t in types))
        for i in writes:
            op, at = ops[i]
            if op in _STORES:
                snippet, f = _store_barrier(code, at, _STORES[op], loc, wasm64, refs["bytemap"])
            else:
                snippet, f = _bulk_barrier(_BULK[op], loc, wasm64, refs["mark"])
            barrier_code[i], barrier_fuel[i] = snippet, f
    out = bytearray(locals_out)
    last = body_start
    cache: dict[tuple[int, int, int], bytes] = {}
    points = _points(ops, weights, wasm64, barrier_fuel)
    pending = iter(sorted(barrier_code))
    next_barrier = next(pending, None)

    def flush_until(pos: int) -> None:
        """Copy the original code up to operator `pos`, with the barriers of the writes before it."""
        nonlocal last, next_barrier
        while next_barrier is not None and next_barrier < pos:
            at = ops[next_barrier][1]
            out.extend(code[last:at])
            out.extend(barrier_code[next_barrier])
            last = at
            next_barrier = next(pending, None)
        at = ops[pos][1] if pos < len(ops) else end
        out.extend(code[last:at])
        last = at

    for pos, kind, cost, extra in points:
        flush_until(pos)
        if kind == _DYN64:
            out += b"\x10" + refs["decr64"]
        elif kind == _DYN32:
            out += b"\x10" + refs["decr32"]
        else:
            key = (kind, cost, extra)
            found = cache.get(key)
            if found is None:
                found = cache[key] = _static(refs["counter"], refs["fuel"], cost, kind == _REENTRANT, extra)
            out += found
    flush_until(len(ops))
    out += code[last:end]
    return enc_uleb(len(out)) + bytes(out), len(ops)


def _mark_body(wasm64: bool, fuel: bytes, bytemap: bytes) -> bytes:
    """The range-marking helper (d, n): sets the marks of the pages [d, d + n) touches."""
    shr = _const(wasm64, DIRTY_SHIFT) + (b"\x88\xa7" if wasm64 else b"\x76")
    add = b"\x7c" if wasm64 else b"\x6a"
    k = _FUEL_MARK + (3 if wasm64 else 0)
    body = (b"\x01\x01\x7f"  # one i32 local: the page count
            + b"\x20\x00" + shr + b"\x41\x01"
            + b"\x20\x00\x20\x01" + add + shr
            + b"\x20\x00" + shr + b"\x6b\x41\x01\x6a\x22\x02"
            + b"\xfc\x0b" + bytemap
            + b"\x23" + fuel + b"\x42" + enc_sleb(k) + b"\x20\x02\xad\x7c\x7c\x24" + fuel + b"\x0b")
    return enc_uleb(len(body)) + body


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
    counter, fuel = enc_uleb(counter_ix), enc_uleb(fuel_ix)
    n_memories = sum(1 for i in module.imports if i.kind == 2) + len(module.memories)
    refs = {"counter": counter, "fuel": fuel, "decr64": enc_uleb(n_funcs), "decr32": enc_uleb(n_funcs + 1),
            "mark": enc_uleb(n_funcs + 2), "bytemap": enc_uleb(n_memories)}

    # types: the three helpers' signatures, appended
    n_types, rest = _items(module.section(w.TYPE))
    addr = b"\x7e" if wasm64 else b"\x7f"
    w.put_section(sections, w.TYPE, enc_uleb(n_types + 3) + rest + b"\x60\x01\x7e\x01\x7e\x60\x01\x7f\x01\x7f"
                  + b"\x60\x02" + addr + addr + b"\x00")
    # functions: the helpers, appended (no existing index moves)
    n_fn, rest = _items(module.section(w.FUNCTION))
    w.put_section(sections, w.FUNCTION, enc_uleb(n_fn + 3) + rest + b"".join(
        enc_uleb(n_types + k) for k in range(3)))
    # memories: the dirty-page bytemap, appended
    n_mem, rest = _items(module.section(w.MEMORY))
    pages = enc_uleb(_BYTEMAP_PAGES[wasm64])
    w.put_section(sections, w.MEMORY, enc_uleb(n_mem + 1) + rest + b"\x01" + pages + pages)
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
    has_table = module.tables or any(i.kind == 1 for i in module.imports)
    if has_table and not any(e.name == TABLE_EXPORT for e in module.exports):
        exports.append(w.enc_name(TABLE_EXPORT) + b"\x01\x00")
    if not memory_exported and (module.memories or any(i.kind == 2 for i in module.imports)):
        exports.append(w.enc_name(MEMORY_EXPORT) + b"\x02\x00")
    for i, (_, mutable) in enumerate(module.globals):
        ix = module.imported_globals + i
        if mutable and ix not in exported_globals:
            exports.append(w.enc_name(f"{GLOBAL_EXPORT_PREFIX}{ix}") + b"\x03" + enc_uleb(ix))
    exports.append(w.enc_name(COUNTER_EXPORT) + b"\x03" + counter)
    exports.append(w.enc_name(FUEL_OVERHEAD_EXPORT) + b"\x03" + fuel)
    exports.append(w.enc_name(BYTEMAP_EXPORT) + b"\x02" + refs["bytemap"])
    if module.start is not None:
        exports.append(w.enc_name(START_EXPORT) + b"\x00" + enc_uleb(module.start))
        w.put_section(sections, w.START, None)
    w.put_section(sections, w.EXPORT, _vec(exports))
    # code
    code = module.section(w.CODE) or b"\x00"
    bodies: list[bytes] = []
    instructions = 0
    for index, (start, end) in enumerate(module.bodies):
        params = len(module.types[module.functions[index]][0])
        body, n_ops = _instrument_body(code, start, end, params, weights, wasm64, refs, _bind(check, index))
        bodies.append(body)
        instructions += n_ops
    b64, b32 = _decr_bodies(counter, fuel, refs["decr64"])
    w.put_section(sections, w.CODE, _vec([*bodies, b64, b32, _mark_body(wasm64, fuel, refs["bytemap"])]))
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
