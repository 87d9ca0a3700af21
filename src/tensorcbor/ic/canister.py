"""One canister run as the replica runs it: its module validated and instrumented, its messages metered in IC
instructions, each message undone when it traps.

Why it exists: the project's canisters must be tested and measured as deployed, and no replica (dfx, PocketIC)
can be installed here. `Canister` gives the real ``.wasm`` the ``ic0`` system API as Python host functions on
wasmtime, refuses at install what the replica refuses (validate.py), meters with the replica's instrumentation
(instrument.py) and charges the system API as the replica does (costs.py).

What it is NOT: no consensus, subnet or ingress envelope (a message is a Python call); no certification
(certified data is kept, no certificate is given); no inter-canister calls (``call_*`` trap), so no
inter-subnet messaging; no cycles balance or accounting beyond converting instructions to cycles
(costs.py); no timers or heartbeats; an update's 40e9 instructions are one limit, not 2e9 slices over rounds.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from . import costs
from .instrument import (
    COUNTER_EXPORT,
    FUEL_OVERHEAD_EXPORT,
    MEMORY_EXPORT,
    START_EXPORT,
    Instrumented,
    instrument_cached,
)
from .validate import InvalidModule, check_body, validate
from .wasm import WasmFormatError

PAGE = 65536
MAX_STABLE = 16 << 30  # the emulator's cap on stable memory (the IC allows hundreds of GiB); held in RAM
FUEL_BUDGET = 1 << 62  # wasmtime fuel per message: never the limit (the instruction counter is)
SYSTEM_METHODS = ("canister_init", "canister_pre_upgrade", "canister_post_upgrade", START_EXPORT)


class Trap(Exception):
    """The message trapped and changed nothing. `kind` says why: "canister" (ic0.trap), "wasm" (a Wasm trap:
    unreachable, out-of-bounds access, ...), "instructions" (the message's instruction limit), "system_api"
    (a misuse of ic0 or an emulator limit), "message" (argument or reply too large, no reply, rejected)."""

    def __init__(self, message: str, *, kind: str = "canister", ic_instructions: int = 0, fuel: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.ic_instructions = ic_instructions
        self.fuel = fuel


@dataclass
class Result:
    """One message: its reply bytes or reject message, and what it cost. `ic_instructions` is the replica's
    count (the unit the IC limits and bills), `fuel` the wasmtime fuel of the original module (about one per
    operator: a second column, comparable with older figures). `syscalls`/`syscall_bytes` count ic0 calls and
    the bytes they copied. `inspect` is the canister_inspect_message run that preceded an ingress update."""

    reply: bytes | None
    reject: str | None
    fuel: int
    syscalls: int
    syscall_bytes: int
    ic_instructions: int = 0
    wasm64: bool = False
    inspect: Result | None = None

    def ok(self) -> bytes:
        if self.reply is None:
            raise Trap(f"rejected: {self.reject}", kind="message")
        return self.reply

    @property
    def cycles(self) -> int:
        """Cycles for this message's instructions at the 13-node application subnet price (Wasm64 at 2x)."""
        return costs.instructions_to_cycles(self.ic_instructions, wasm64=self.wasm64)


@dataclass
class _Message:
    kind: str  # init, start, update, query, inspect, pre_upgrade, post_upgrade
    arg: bytes
    caller: bytes
    method: str
    limit: int
    reply: bytearray = field(default_factory=bytearray)
    replied: bool = False
    reject: str | None = None
    accepted: bool = False
    syscalls: int = 0
    syscall_bytes: int = 0
    stable_journal: list[tuple[int, bytes]] = field(default_factory=list)
    stable_size_before: int = 0
    dirty: set[int] = field(default_factory=set)


@dataclass
class _Loaded:
    """A compiled, instrumented module."""

    info: Instrumented
    module: wasmtime.Module
    keeps_heap: bool


_ENGINE: wasmtime.Engine | None = None
_COMPILED: dict[bytes, wasmtime.Module] = {}


def engine() -> wasmtime.Engine:
    """The one engine every emulated canister runs on (so compiled modules can be shared)."""
    global _ENGINE
    if _ENGINE is None:
        cfg = wasmtime.Config()
        cfg.consume_fuel = True
        cfg.wasm_memory64 = True  # Motoko's IC target is Wasm64
        cfg.wasm_bulk_memory = True
        cfg.wasm_reference_types = True
        _ENGINE = wasmtime.Engine(cfg)
    return _ENGINE


def load(wasm: bytes | Path) -> _Loaded:
    """Validate (as the replica does at install), instrument and compile a module; cached per content."""
    raw = Path(wasm).read_bytes() if isinstance(wasm, Path) else bytes(wasm)
    parsed = validate(raw)
    try:
        info = instrument_cached(parsed, raw, check_body)
    except WasmFormatError as exc:
        raise InvalidModule("DECODE", str(exc)) from None
    module = _COMPILED.get(info.wasm)
    if module is None:
        module = _COMPILED[info.wasm] = wasmtime.Module(engine(), info.wasm)
    # Motoko's enhanced orthogonal persistence: the IC keeps the Wasm heap across upgrades.
    keeps_heap = any(name.endswith("enhanced-orthogonal-persistence") for name, _ in parsed.custom)
    return _Loaded(info, module, keeps_heap)


class Canister:
    """One canister: its module, its live instance and its stable memory (which survives upgrades).

    `limits=False` switches the message limits off (instructions, argument and reply sizes) for conformance
    runs that feed whole suites through one call; instructions are still counted."""

    def __init__(self, wasm: bytes | Path, *, controllers: Iterable[bytes] = (b"\x01",),
                 canister_id: bytes = b"\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01", limits: bool = True,
                 max_stable: int = MAX_STABLE) -> None:
        self.limits = limits
        self.max_stable = max_stable
        self._loaded = load(wasm)
        self.controllers = set(controllers)
        self.canister_id = canister_id
        self.stable = bytearray()
        self.debug: list[str] = []
        self.certified_data = b""
        self.version = 0
        self.counter_readings: list[tuple[int, int]] = []  # (ic instructions, fuel) per performance_counter call
        self._clock = 1_700_000_000_000_000_000
        self._log_used = 0
        self._msg: _Message | None = None
        self._caller_ctx: Any = None
        self._txn: list[tuple[int, bytes]] | None = None  # stable memory journal of an upgrade in progress
        self.store: wasmtime.Store | None = None
        self.instance: wasmtime.Instance | None = None
        self.memory: wasmtime.Memory | None = None

    # -------------------------------------------------------------- properties

    @property
    def wasm64(self) -> bool:
        return self._loaded.info.wasm64

    @property
    def compilation_instructions(self) -> int:
        """What the replica charges to compile the installed module (part of install/upgrade)."""
        return self._loaded.info.compilation_cost

    @property
    def first_controller(self) -> bytes:
        return next(iter(sorted(self.controllers)))

    def _limit(self, limit: int) -> int:
        return limit if self.limits else costs.UNLIMITED

    # -------------------------------------------------------------- lifecycle

    def install(self, arg: bytes = b"DIDL\x00\x00") -> Result:
        """Instantiate with empty stable memory, run the start function and ``canister_init`` (one install
        budget). A trap leaves the canister empty and raises Trap."""
        self.stable = bytearray()
        self.version += 1
        try:
            self._instantiate()
            budget = self._limit(costs.INSTALL_LIMIT)
            start = self._run(START_EXPORT, b"", self.first_controller, budget, "start", needs_reply=False)
            init = self._run("canister_init", arg, self.first_controller, budget - start.ic_instructions, "init",
                             needs_reply=False)
        except Trap:
            self.instance = self.memory = self.store = None
            self.stable = bytearray()
            raise
        return _merge(start, init)

    def upgrade(self, wasm: bytes | Path | None = None, arg: bytes = b"DIDL\x00\x00") -> tuple[Result, Result]:
        """``canister_pre_upgrade`` on the old instance, then a new instance (same or new module) with the same
        stable memory (and heap, for enhanced orthogonal persistence), its start function and
        ``canister_post_upgrade``, within one install budget. If any of them traps, the canister is left as it
        was before the upgrade and Trap is raised. Returns (pre, post)."""
        self._require_instance()
        old = (self._loaded, self.store, self.instance, self.memory)
        heap, globals_ = self._snapshot()
        stable_size = len(self.stable)
        self._txn = []
        budget = self._limit(costs.INSTALL_LIMIT)
        try:
            new = load(wasm) if wasm is not None else self._loaded
            pre = self._run("canister_pre_upgrade", b"", self.first_controller, budget, "pre_upgrade",
                            needs_reply=False)
            kept = bytes(self._memory_view()) if self._loaded.keeps_heap and new.keeps_heap else b""
            self._loaded = new
            self._instantiate(kept)
            budget -= pre.ic_instructions
            start = self._run(START_EXPORT, b"", self.first_controller, budget, "start", needs_reply=False)
            post = self._run("canister_post_upgrade", arg, self.first_controller, budget - start.ic_instructions,
                             "post_upgrade", needs_reply=False)
        except Trap:
            self._loaded, self.store, self.instance, self.memory = old
            self._restore(heap, globals_)
            for at, data in reversed(self._txn):
                self.stable[at:at + len(data)] = data
            del self.stable[stable_size:]
            raise
        finally:
            self._txn = None
        self.version += 1
        return pre, _merge(start, post)

    def update(self, method: str, arg: bytes, caller: bytes | None = None, *, ingress: bool = True) -> Result:
        """An update call. As ingress (the default) it first runs ``canister_inspect_message`` when the module
        exports one, as the IC does: if that traps or does not accept, the call is refused before execution
        (the Result has no reply, a reject starting with "refused", and the inspect run in `inspect`)."""
        who = self.first_controller if caller is None else caller
        self._check_arg(arg)
        inspect: Result | None = None
        if ingress and self._export("canister_inspect_message") is not None:
            try:
                inspect = self._run("canister_inspect_message", arg, who, self._limit(costs.INSPECT_MESSAGE_LIMIT),
                                    "inspect", needs_reply=False, method=method)
            except Trap as exc:
                refused = Result(None, f"refused by canister_inspect_message: {exc}", exc.fuel, 0, 0,
                                 exc.ic_instructions, self.wasm64)
                return Result(None, refused.reject, 0, 0, 0, 0, self.wasm64, refused)
            if inspect.reject is not None:
                return Result(None, f"refused by canister_inspect_message: {inspect.reject}", 0, 0, 0, 0,
                              self.wasm64, inspect)
        res = self._run(f"canister_update {method}", arg, who, self._limit(costs.UPDATE_LIMIT), "update",
                        method=method)
        res.inspect = inspect
        return res

    def query(self, method: str, arg: bytes, caller: bytes | None = None) -> Result:
        """A query call: its changes are discarded, as on the IC."""
        self._check_arg(arg)
        who = self.first_controller if caller is None else caller
        return self._run(f"canister_query {method}", arg, who, self._limit(costs.QUERY_LIMIT), "query",
                         method=method)

    # -------------------------------------------------------------- execution

    def _check_arg(self, arg: bytes) -> None:
        if self.limits and len(arg) > costs.MAX_MESSAGE:
            raise Trap(f"argument of {len(arg)} bytes exceeds the {costs.MAX_MESSAGE}-byte message limit",
                       kind="message")

    def _require_instance(self) -> wasmtime.Instance:
        if self.instance is None:
            raise Trap("the canister is empty: install() first", kind="message")
        return self.instance

    def _export(self, name: str) -> Any:
        instance = self._require_instance()
        assert self.store is not None
        return instance.exports(self.store).get(name)

    def _instantiate(self, heap: bytes = b"") -> None:
        store = wasmtime.Store(engine())
        module = self._loaded.module
        imports = []
        for imp in module.imports:
            if imp.module != "ic0" or not isinstance(imp.type, wasmtime.FuncType):
                raise Trap(f"unsupported import {imp.module}.{imp.name}", kind="system_api")
            masks = [(1 << 64) - 1 if str(t) == "i64" else (1 << 32) - 1 for t in imp.type.params]
            imports.append(wasmtime.Func(store, imp.type, self._host(imp.name or "", masks), access_caller=True))
        store.set_fuel(FUEL_BUDGET)
        try:
            instance = wasmtime.Instance(store, module, imports)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise Trap(f"instantiation: {str(exc).splitlines()[0]}", kind="wasm") from exc
        exports = instance.exports(store)
        memory = exports.get(MEMORY_EXPORT)
        if not isinstance(memory, wasmtime.Memory):
            raise Trap("the module has no memory", kind="system_api")
        if heap:
            have = memory.data_len(store)
            if have < len(heap):
                memory.grow(store, (len(heap) - have + PAGE - 1) // PAGE)
            memory.write(store, heap, 0)
        self.store, self.instance, self.memory = store, instance, memory
        counter, fuel = exports.get(COUNTER_EXPORT), exports.get(FUEL_OVERHEAD_EXPORT)
        assert isinstance(counter, wasmtime.Global) and isinstance(fuel, wasmtime.Global)
        self._counter, self._fuel_overhead = counter, fuel
        self._globals = [g for g in exports.values() if isinstance(g, wasmtime.Global) and g.type(store).mutable]

    def _run(self, export: str, arg: bytes, caller: bytes, limit: int, kind: str, *, needs_reply: bool = True,
             method: str = "") -> Result:
        func = self._export(export)
        store = self.store
        assert store is not None
        if func is None:
            if export in SYSTEM_METHODS:
                return Result(None, None, 0, 0, 0, 0, self.wasm64)
            raise Trap(f"the module exports no {export!r}", kind="message")
        assert isinstance(func, wasmtime.Func)
        self._clock += 1_000_000_000
        msg = self._msg = _Message(kind, arg, caller, method, limit, stable_size_before=len(self.stable))
        heap, globals_ = self._snapshot()
        self.counter_readings = []
        self._counter.set_value(store, wasmtime.Val.i64(limit))
        self._fuel_overhead.set_value(store, wasmtime.Val.i64(0))
        store.set_fuel(FUEL_BUDGET)
        error: BaseException | None = None
        try:
            func(store)
        except Exception as exc:  # noqa: BLE001 - every failure undoes the message, then is reported
            error = exc
        finally:
            self._msg = None
        counter = self._counter.value(store)
        used = limit - counter
        fuel = _fuel_used(store.get_fuel(), self._fuel_overhead.value(store))
        if error is None and counter < 0:
            error = Trap("out of instructions", kind="instructions")
        if error is None and needs_reply and not msg.replied:
            error = Trap(f"{export} returned without replying", kind="message")
        if error is None and self.limits and len(msg.reply) > costs.MAX_MESSAGE:
            error = Trap(f"reply of {len(msg.reply)} bytes exceeds the {costs.MAX_MESSAGE}-byte limit",
                         kind="message")
        if error is not None:
            self._undo(msg, heap, globals_)
            trap = _as_trap(error, export, counter < 0, limit, used, fuel)
            if trap is None:
                raise error  # an emulator bug, not the canister's: the message is undone, the error shown
            raise trap from error
        if kind in ("query", "inspect"):
            self._undo(msg, heap, globals_)  # the IC discards a query's changes
        elif self._txn is not None:
            self._txn.extend(msg.stable_journal)
        if kind == "inspect":
            reject = None if msg.accepted else "the canister did not accept the message"
            return Result(None, reject, fuel, msg.syscalls, msg.syscall_bytes, used, self.wasm64)
        reply = bytes(msg.reply) if msg.replied and msg.reject is None else None
        return Result(reply, msg.reject, fuel, msg.syscalls, msg.syscall_bytes, used, self.wasm64)

    def _memory_view(self) -> Any:
        assert self.memory is not None and self.store is not None
        n = self.memory.data_len(self.store)
        return (ctypes.c_ubyte * n).from_address(ctypes.addressof(self.memory.data_ptr(self.store).contents))

    def _snapshot(self) -> tuple[bytes, list[tuple[wasmtime.Global, Any]]]:
        """The Wasm heap and every mutable global (the instrumentation exports them all)."""
        assert self.store is not None
        return bytes(self._memory_view()), [(g, g.value(self.store)) for g in self._globals]

    def _restore(self, heap: bytes, globals_: list[tuple[wasmtime.Global, Any]]) -> None:
        """The heap and globals as they were (a heap that grew keeps its size, its new pages zeroed)."""
        assert self.store is not None
        view = self._memory_view()
        ctypes.memmove(view, heap, len(heap))
        if len(view) > len(heap):
            ctypes.memset(ctypes.addressof(view) + len(heap), 0, len(view) - len(heap))
        for g, value in globals_:
            g.set_value(self.store, value)

    def _undo(self, msg: _Message, heap: bytes, globals_: list[tuple[wasmtime.Global, Any]]) -> None:
        self._restore(heap, globals_)
        for at, old in reversed(msg.stable_journal):
            self.stable[at:at + len(old)] = old
        del self.stable[msg.stable_size_before:]

    # -------------------------------------------------------------- ic0

    def _host(self, name: str, masks: list[int]) -> Callable[..., Any]:
        """The host function for ic0.<name>; its integer arguments arrive unsigned (as the replica reads them)."""
        impl: Callable[..., Any] | None = getattr(self, f"_ic0_{name}", None)
        overhead = costs.SYSTEM_API_OVERHEAD.get(name, 0)

        def call(caller: Any, *signed: int) -> Any:
            args = [a & m for a, m in zip(signed, masks)]
            msg = self._msg
            if msg is None:
                raise Trap(f"ic0.{name} called outside a message", kind="system_api")
            if impl is None:
                raise Trap(f"ic0.{name} is not emulated (no inter-canister calls, cycles or certificates)",
                           kind="system_api")
            msg.syscalls += 1
            self._charge(overhead)
            self._caller_ctx = caller
            try:
                return impl(msg, *args)
            except (IndexError, ValueError, OverflowError, wasmtime.WasmtimeError) as exc:
                raise Trap(f"ic0.{name}: {exc}", kind="system_api") from exc
            finally:
                self._caller_ctx = None
        return call

    def _charge(self, instructions: int) -> None:
        """Subtract a system API charge from the message's instruction counter (out of instructions traps)."""
        if not instructions:
            return
        assert self.store is not None
        left = self._counter.value(self.store) - instructions
        self._counter.set_value(self.store, wasmtime.Val.i64(max(left, -(1 << 63))))
        if left < 0:
            raise Trap("out of instructions", kind="instructions")

    def _read(self, ptr: int, size: int) -> bytes:
        memory = self._caller_ctx.get(MEMORY_EXPORT)
        assert isinstance(memory, wasmtime.Memory)
        if ptr + size > memory.data_len(self._caller_ctx):
            raise IndexError("heap out of bounds")
        return bytes(memory.read(self._caller_ctx, ptr, ptr + size))

    def _write(self, ptr: int, data: bytes | bytearray) -> None:
        memory = self._caller_ctx.get(MEMORY_EXPORT)
        assert isinstance(memory, wasmtime.Memory)
        if ptr + len(data) > memory.data_len(self._caller_ctx):
            raise IndexError("heap out of bounds")
        if data:
            memory.write(self._caller_ctx, data, ptr)

    def _copy_out(self, msg: _Message, source: bytes, dst: int, offset: int, size: int) -> None:
        """The *_copy calls: bytes [offset, offset+size) of `source` into the heap at dst, 1 instruction each."""
        self._charge(size)
        msg.syscall_bytes += size
        if offset + size > len(source):
            raise IndexError(f"reading bytes {offset}..{offset + size} of {len(source)}")
        self._write(dst, source[offset:offset + size])

    def _log_charge(self, size: int) -> int:
        """Instructions to append `size` bytes to the canister log (linker.rs, logging_charge_bytes)."""
        remaining = costs.CANISTER_LOG_CAPACITY - self._log_used
        charge = 2 * min(size, costs.CANISTER_LOG_CAPACITY) + costs.BYTE_TRANSMISSION_COST * min(size, remaining)
        self._log_used = min(costs.CANISTER_LOG_CAPACITY, self._log_used + size)
        return charge

    def _ic0_msg_arg_data_size(self, msg: _Message) -> int:
        return len(msg.arg)

    def _ic0_msg_arg_data_copy(self, msg: _Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, msg.arg, dst, offset, size)

    def _ic0_msg_caller_size(self, msg: _Message) -> int:
        return len(msg.caller)

    def _ic0_msg_caller_copy(self, msg: _Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, msg.caller, dst, offset, size)

    def _ic0_msg_method_name_size(self, msg: _Message) -> int:
        return len(msg.method.encode())

    def _ic0_msg_method_name_copy(self, msg: _Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, msg.method.encode(), dst, offset, size)

    def _ic0_accept_message(self, msg: _Message) -> None:
        if msg.kind != "inspect" or msg.accepted:
            raise Trap("accept_message outside canister_inspect_message, or twice", kind="system_api")
        msg.accepted = True

    def _reply_allowed(self, msg: _Message, what: str) -> None:
        if msg.kind not in ("update", "query"):
            raise Trap(f"{what} in {msg.kind}, which cannot reply", kind="system_api")
        if msg.replied:
            raise Trap(f"{what} after the reply", kind="system_api")

    def _ic0_msg_reply_data_append(self, msg: _Message, src: int, size: int) -> None:
        self._charge(costs.BYTE_TRANSMISSION_COST * size)
        msg.syscall_bytes += size
        self._reply_allowed(msg, "msg_reply_data_append")
        msg.reply += self._read(src, size)

    def _ic0_msg_reply(self, msg: _Message) -> None:
        self._reply_allowed(msg, "msg_reply")
        msg.replied = True

    def _ic0_msg_reject(self, msg: _Message, src: int, size: int) -> None:
        self._charge(costs.BYTE_TRANSMISSION_COST * size)
        msg.syscall_bytes += size
        self._reply_allowed(msg, "msg_reject")
        msg.replied = True
        msg.reject = self._read(src, size).decode("utf-8", "replace")

    def _ic0_trap(self, msg: _Message, src: int, size: int) -> None:
        self._charge(size + self._log_charge(size))
        msg.syscall_bytes += size
        raise Trap(self._read(src, size).decode("utf-8", "replace"), kind="canister")

    def _ic0_debug_print(self, msg: _Message, src: int, size: int) -> None:
        self._charge(self._log_charge(size))
        msg.syscall_bytes += size
        self.debug.append(self._read(src, size).decode("utf-8", "replace"))

    def _ic0_time(self, msg: _Message) -> int:
        return self._clock

    def _ic0_canister_self_size(self, msg: _Message) -> int:
        return len(self.canister_id)

    def _ic0_canister_self_copy(self, msg: _Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, self.canister_id, dst, offset, size)

    def _ic0_is_controller(self, msg: _Message, src: int, size: int) -> int:
        self._charge(size)
        msg.syscall_bytes += size
        return int(self._read(src, size) in self.controllers)

    def _ic0_canister_version(self, msg: _Message) -> int:
        return self.version

    def _ic0_canister_status(self, msg: _Message) -> int:
        return 1  # running

    def _ic0_in_replicated_execution(self, msg: _Message) -> int:
        return int(msg.kind not in ("query", "inspect"))

    def _ic0_certified_data_set(self, msg: _Message, src: int, size: int) -> None:
        self._charge(size)
        if size > 32:
            raise ValueError("certified data is at most 32 bytes")
        self.certified_data = self._read(src, size)

    def _ic0_data_certificate_present(self, msg: _Message) -> int:
        return 0  # no certification here

    def _ic0_performance_counter(self, msg: _Message, kind: int) -> int:
        assert self.store is not None
        used = msg.limit - self._counter.value(self.store)
        fuel = _fuel_used(self.store.get_fuel(), self._fuel_overhead.value(self.store))
        self.counter_readings.append((used, fuel))
        return used

    def _ic0_global_timer_set(self, msg: _Message, timestamp: int) -> int:
        return 0  # no timer was set; timers never fire here

    def _ic0_msg_cycles_available128(self, msg: _Message, dst: int) -> None:
        self._write(dst, bytes(16))

    _ic0_msg_cycles_refunded128 = _ic0_msg_cycles_available128

    def _ic0_canister_cycle_balance128(self, msg: _Message, dst: int) -> None:
        self._write(dst, (10**13).to_bytes(16, "little"))  # a nominal balance: cycles are not accounted

    def _ic0_msg_cycles_accept128(self, msg: _Message, high: int, low: int, dst: int) -> None:
        self._write(dst, bytes(16))

    def _ic0_canister_cycle_balance(self, msg: _Message) -> int:
        return 10**13

    def _ic0_msg_cycles_available(self, msg: _Message) -> int:
        return 0

    _ic0_msg_cycles_refunded = _ic0_msg_cycles_available

    def _ic0_msg_cycles_accept(self, msg: _Message, amount: int) -> int:
        return 0

    # stable memory: 64-bit and 32-bit forms share one byte array
    def _ic0_stable64_size(self, msg: _Message) -> int:
        return len(self.stable) // PAGE

    def _ic0_stable64_grow(self, msg: _Message, pages: int) -> int:
        old = len(self.stable) // PAGE
        if pages < 0 or (old + pages) * PAGE > self.max_stable:
            return -1
        self.stable.extend(bytes(pages * PAGE))
        return old

    def _ic0_stable64_write(self, msg: _Message, offset: int, src: int, size: int) -> None:
        self._charge(size)
        msg.syscall_bytes += size
        if offset < 0 or size < 0 or offset + size > len(self.stable):
            raise IndexError("stable memory write out of bounds")
        if not size:
            return
        pages = range(offset // costs.OS_PAGE, (offset + size - 1) // costs.OS_PAGE + 1)
        fresh = [p for p in pages if p not in msg.dirty]
        self._charge(costs.DIRTY_PAGE_OVERHEAD * len(fresh))
        msg.dirty.update(fresh)
        data = self._read(src, size)
        msg.stable_journal.append((offset, bytes(self.stable[offset:offset + size])))
        self.stable[offset:offset + size] = data

    def _ic0_stable64_read(self, msg: _Message, dst: int, offset: int, size: int) -> None:
        self._charge(size)
        msg.syscall_bytes += size
        if offset < 0 or size < 0 or offset + size > len(self.stable):
            raise IndexError("stable memory read out of bounds")
        self._write(dst, self.stable[offset:offset + size])

    def _ic0_stable_size(self, msg: _Message) -> int:
        size = self._ic0_stable64_size(msg)
        if size > 65536:
            raise ValueError("stable memory is too big for the 32-bit API")
        return size

    def _ic0_stable_grow(self, msg: _Message, pages: int) -> int:
        if len(self.stable) // PAGE + pages > 65536:
            return -1
        return self._ic0_stable64_grow(msg, pages)

    def _ic0_stable_write(self, msg: _Message, offset: int, src: int, size: int) -> None:
        self._ic0_stable64_write(msg, offset, src, size)

    def _ic0_stable_read(self, msg: _Message, dst: int, offset: int, size: int) -> None:
        self._ic0_stable64_read(msg, dst, offset, size)


def _fuel_used(left: int, overhead: int) -> int:
    """Fuel the original module consumed so far in this message (budget minus what is left, minus the fuel of
    the instrumentation)."""
    return FUEL_BUDGET - left - overhead


def _merge(a: Result, b: Result) -> Result:
    """A start function's costs folded into the lifecycle message that follows it (one message on the IC)."""
    return Result(b.reply, b.reject, a.fuel + b.fuel, a.syscalls + b.syscalls, a.syscall_bytes + b.syscall_bytes,
                  a.ic_instructions + b.ic_instructions, b.wasm64)


def _first_line(error: BaseException) -> str:
    """The line of a wasmtime trap that says what happened ("wasm trap: out of bounds memory access")."""
    lines = str(error).splitlines()
    for line in reversed(lines):
        if "wasm trap:" in line:
            return line.strip().split(": ", 1)[-1] if line.strip()[0].isdigit() else line.strip()
    return lines[0] if lines else type(error).__name__


def _as_trap(error: BaseException, export: str, out_of_instructions: bool, limit: int, used: int,
             fuel: int) -> Trap | None:
    if out_of_instructions:
        return Trap(f"{export}: out of instructions (limit {limit:,})", kind="instructions",
                    ic_instructions=used, fuel=fuel)
    first = _first_line(error)
    if isinstance(error, Trap):
        return Trap(f"{export}: {first}", kind=error.kind, ic_instructions=used, fuel=fuel)
    if isinstance(error, (wasmtime.Trap, wasmtime.WasmtimeError)):
        return Trap(f"{export}: {first}", kind="wasm", ic_instructions=used, fuel=fuel)
    return None
