"""One canister run as the replica runs it: its module validated and instrumented, its messages metered in IC
instructions, each message undone when it traps.

Why it exists: the project's canisters must be tested and measured as deployed, and no replica (dfx, PocketIC)
can be installed here. `Canister` gives the real ``.wasm`` the ``ic0`` system API as Python host functions on
wasmtime, refuses at install what the replica refuses (validate.py), meters with the replica's instrumentation
(instrument.py) and charges the system API as the replica does (costs.py).

What it is NOT: no consensus, subnet or ingress envelope (a message is a Python call); no certification
(certified data is kept, no certificate is given); inter-canister calls only between canisters of one
`Network` (calls.py: no subnets, latency or cross-subnet ordering); no cycles balance or accounting beyond
converting instructions to cycles (costs.py; cycles attached to calls are ignored); no timers or heartbeats;
an update's 40e9 instructions are one limit, not 2e9 slices over rounds.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import wasmtime

from . import costs
from .calls import CANISTER_ERROR, CANISTER_REJECT, CallContext, Network, OutCall, principal_text
from .instrument import (
    BYTEMAP_EXPORT,
    COUNTER_EXPORT,
    DIRTY_SHIFT,
    FUEL_OVERHEAD_EXPORT,
    MEMORY_EXPORT,
    START_EXPORT,
    TABLE_EXPORT,
    Instrumented,
    instrument_cached,
)
from .result import Result, Trap
from .state import FUEL_BUDGET, Live, Message, fuel_used
from .system_api import PAGE, SystemApi
from .validate import InvalidModule, check_body, validate
from .wasm import WasmFormatError

MAX_STABLE = 16 << 30  # the emulator's cap on stable memory (the IC allows hundreds of GiB); held in RAM
_DEFAULT_ID = b"\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01"  # a canister's principal unless told
SYSTEM_METHODS = ("canister_init", "canister_pre_upgrade", "canister_post_upgrade", START_EXPORT)


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
        cfg.wasm_multi_memory = True  # the dirty-page bytemap is a second memory
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


class Canister(SystemApi):
    """One canister: its module, its live instance and its stable memory (which survives upgrades).

    `limits=False` switches the message limits off (instructions, argument and reply sizes) for conformance
    runs that feed whole suites through one call; instructions are still counted.

    `performance_counter_scale` (tests only; default 1, the IC's behaviour) multiplies what
    ``ic0.performance_counter`` returns to the canister, as if every instruction cost that many: a canister
    that budgets its own work on the counter (e.g. a verification split over several messages) then shows
    that behaviour on a small input. Metering, limits and `Result` figures are unaffected.

    `network`: the `Network` (calls.py) whose canisters this one can call and be called by; its principal is
    then the network's next unless `canister_id` says. Without one, a canister can call only itself."""

    def __init__(self, wasm: bytes | Path, *, controllers: Iterable[bytes] = (b"\x01",),
                 canister_id: bytes | None = None, limits: bool = True,
                 max_stable: int = MAX_STABLE, performance_counter_scale: int = 1,
                 network: Network | None = None) -> None:
        if performance_counter_scale < 1:
            raise ValueError("performance_counter_scale must be a positive integer")
        self.limits = limits
        self.max_stable = max_stable
        self.performance_counter_scale = performance_counter_scale
        self._loaded = load(wasm)
        self.controllers = set(controllers)
        if canister_id is None:
            canister_id = network.next_id() if network is not None else _DEFAULT_ID
        self.canister_id = canister_id
        self.stable = bytearray()
        self.debug: list[str] = []
        self.certified_data = b""
        self.version = 0
        self.counter_readings: list[tuple[int, int]] = []  # (ic instructions, fuel) per performance_counter call
        self._clock = 1_700_000_000_000_000_000
        self._log_used = 0
        self._msg: Message | None = None
        self._caller_ctx: Any = None
        self._txn: list[tuple[int, bytes]] | None = None  # stable memory journal of an upgrade in progress
        self._live: Live | None = None
        self.network: Network | None = None  # set by Network.add; a lone canister gets a network of its own
        if network is not None:
            network.add(self)

    # -------------------------------------------------------------- properties

    @property
    def store(self) -> wasmtime.Store | None:
        return self._live.store if self._live else None

    @property
    def instance(self) -> wasmtime.Instance | None:
        return self._live.instance if self._live else None

    @property
    def memory(self) -> wasmtime.Memory | None:
        """The canister's Wasm heap."""
        return self._live.memory if self._live else None

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
            self._live = None
            self.stable = bytearray()
            raise
        return _merge(start, init)

    def upgrade(self, wasm: bytes | Path | None = None, arg: bytes = b"DIDL\x00\x00") -> tuple[Result, Result]:
        """``canister_pre_upgrade`` on the old instance, then a new instance (same or new module) with the same
        stable memory (and heap, for enhanced orthogonal persistence), its start function and
        ``canister_post_upgrade``, within one install budget. If any of them traps, the canister is left as it
        was before the upgrade and Trap is raised. Returns (pre, post)."""
        self._require_instance()
        old = (self._loaded, self._live)
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
            self._loaded, self._live = old
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
        (the Result has no reply, a reject starting with "refused", and the inspect run in `inspect`).

        If the method calls other canisters (calls.py), the calls, their callbacks and any calls those make
        run before this returns: the Result's costs are the first message's, its reply or reject the call
        context's answer, and `followups` every later message (callee methods and callbacks, all canisters)."""
        who = self.first_controller if caller is None else caller
        self._check_arg(arg)
        inspect: Result | None = None
        if ingress and self._export("canister_inspect_message") is not None:
            inspect = self.inspect(method, arg, who)
            if inspect.reject is not None:
                return Result(None, f"refused by canister_inspect_message: {inspect.reject}", 0, 0, 0, 0,
                              self.wasm64, inspect)
        network = self.network if self.network is not None else Network().add(self).network
        assert network is not None
        context = CallContext(self, who, None)
        res = self._run(f"canister_update {method}", arg, who, self._limit(costs.UPDATE_LIMIT), "update",
                        method=method, context=context)
        res.inspect = inspect
        res.label = f"{self.label}: update {method}"
        network.run(res.followups)  # every call made on the way is delivered, even after an early reply
        network.settle(context)
        if context.answered:
            res.reply = context.reply
            res.reject = None if context.reply is not None else context.reject_message
            res.reject_code = context.reject_code
        return res

    # -------------------------------------------------------------- inter-canister calls (calls.py)

    @property
    def label(self) -> str:
        """How traces name this canister: its principal's text."""
        return principal_text(self.canister_id)

    def run_request(self, call: OutCall, trace: list[Result]) -> None:
        """A call from another canister (or this one): its method as an update, or as a replicated query
        (changes discarded). Traps and missing methods reject the call with CANISTER_ERROR."""
        assert self.network is not None
        context = CallContext(self, call.caller.canister_id, call)
        if self._export(f"canister_update {call.method}") is not None:
            export, kind, limit = f"canister_update {call.method}", "update", costs.UPDATE_LIMIT
        elif self._export(f"canister_query {call.method}") is not None:
            export, kind, limit = f"canister_query {call.method}", "replicated_query", costs.QUERY_LIMIT
        else:
            self.network.answer(context, None, CANISTER_ERROR,
                                f"Canister {self.label} has no update method '{call.method}'")
            return
        arg = bytes(call.arg)
        if self.limits and len(arg) > costs.MAX_MESSAGE:
            self.network.answer(context, None, CANISTER_ERROR,
                                f"the argument of {len(arg)} bytes exceeds the {costs.MAX_MESSAGE}-byte limit")
            return
        try:
            res = self._run(export, arg, call.caller.canister_id, self._limit(limit), kind, method=call.method,
                            context=context, needs_reply=False)
        except Trap as trap:
            trace.append(_trapped(trap, f"{self.label}: {kind} {call.method}", self.wasm64))
            self.network.settle(context, str(trap))
            return
        res.label = f"{self.label}: {kind} {call.method}"
        trace.append(res)
        self.network.settle(context)

    def run_response(self, call: OutCall, reply: bytes | None, code: int, message: str,
                     trace: list[Result]) -> None:
        """The response to a call this canister made: its reply or reject callback as a message of its own, in
        the call context that made the call; on a trap, that callback is undone and the cleanup callback
        runs."""
        assert self.network is not None
        context = call.context
        context.outstanding -= 1
        callback, kind = (call.reply, "reply_callback") if reply is not None else (call.reject, "reject_callback")
        label = f"{self.label}: {kind} ({call.method})"
        try:
            res = self._run_callback(callback.fun, callback.env, reply or b"", kind, context,
                                     reject=(code, message) if reply is None else (0, ""))
        except Trap as trap:
            trace.append(_trapped(trap, label, self.wasm64))
            if call.cleanup is not None:
                try:
                    cleaned = self._run_callback(call.cleanup.fun, call.cleanup.env, b"", "cleanup", context)
                    cleaned.label = f"{self.label}: cleanup ({call.method})"
                    trace.append(cleaned)
                except Trap as failed:
                    trace.append(_trapped(failed, f"{self.label}: cleanup ({call.method})", self.wasm64))
            self.network.settle(context, str(trap))
            return
        res.label = label
        trace.append(res)
        self.network.settle(context)

    def _run_callback(self, fun: int, env: int, arg: bytes, kind: str, context: CallContext, *,
                      reject: tuple[int, str] = (0, "")) -> Result:
        live = self._require_instance()
        table = live.instance.exports(live.store).get(TABLE_EXPORT)
        if not isinstance(table, wasmtime.Table):
            raise Trap(f"{kind}: the module has no function table", kind="system_api")
        size = table.size(live.store)
        func = table.get(live.store, fun) if fun < size else None
        if not isinstance(func, wasmtime.Func):
            raise Trap(f"{kind}: function table index {fun} is out of bounds or empty", kind="wasm")
        params = [str(t) for t in func.type(live.store).params]
        if params != ["i64" if self.wasm64 else "i32"] or list(func.type(live.store).results):
            raise Trap(f"{kind}: function {fun} of the table does not have the callback type", kind="wasm")
        value = wasmtime.Val.i64(env - (1 << 64) if env >= 1 << 63 else env) if self.wasm64 else \
            wasmtime.Val.i32(env - (1 << 32) if env >= 1 << 31 else env)
        return self._run(kind, arg, context.caller, self._limit(costs.UPDATE_LIMIT), kind, context=context,
                         needs_reply=False, invoke=lambda store: func(store, value), rejected=reject)

    def inspect(self, method: str, arg: bytes, caller: bytes | None = None) -> Result:
        """Only the ingress filter of an update call: ``canister_inspect_message`` as the IC runs it before an
        ingress update (200M instruction limit, its changes discarded). The Result's `reject` is None when the
        canister accepted the message, else why not (it did not call ``ic0.accept_message``, or it trapped:
        the costs are then those spent until the trap). A module without the export accepts everything."""
        who = self.first_controller if caller is None else caller
        self._check_arg(arg)
        if self._export("canister_inspect_message") is None:
            return Result(None, None, 0, 0, 0, 0, self.wasm64)
        try:
            return self._run("canister_inspect_message", arg, who, self._limit(costs.INSPECT_MESSAGE_LIMIT),
                             "inspect", needs_reply=False, method=method)
        except Trap as exc:
            return Result(None, str(exc), exc.fuel, exc.syscalls, exc.syscall_bytes, exc.ic_instructions,
                          self.wasm64)

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

    def _require_instance(self) -> Live:
        if self._live is None:
            raise Trap("the canister is empty: install() first", kind="message")
        return self._live

    def _export(self, name: str) -> Any:
        live = self._require_instance()
        return live.instance.exports(live.store).get(name)

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
        counter, fuel = exports.get(COUNTER_EXPORT), exports.get(FUEL_OVERHEAD_EXPORT)
        bytemap = exports.get(BYTEMAP_EXPORT)
        assert isinstance(counter, wasmtime.Global) and isinstance(fuel, wasmtime.Global)
        assert isinstance(bytemap, wasmtime.Memory)
        globals_ = [g for g in exports.values() if isinstance(g, wasmtime.Global) and g.type(store).mutable]
        self._live = Live(store, instance, memory, counter, fuel, bytemap, globals_,
                           bytearray(_view(memory, store)))

    def _run(self, export: str, arg: bytes, caller: bytes, limit: int, kind: str, *, needs_reply: bool = True,
             method: str = "", context: CallContext | None = None, invoke: Any = None,
             rejected: tuple[int, str] = (0, "")) -> Result:
        live = self._require_instance()
        store = live.store
        if invoke is None:
            func = self._export(export)
            if func is None:
                if export in SYSTEM_METHODS:
                    return Result(None, None, 0, 0, 0, 0, self.wasm64)
                raise Trap(f"the module exports no {export!r}", kind="message")
            assert isinstance(func, wasmtime.Func)
            invoke = func
        self._clock += 1_000_000_000
        msg = self._msg = Message(kind, arg, caller, method, limit, stable_size_before=len(self.stable),
                                  context=context, reject_code=rejected[0], reject_message=rejected[1])
        answered_before = context is not None and context.answered
        if answered_before:
            msg.replied = True  # a callback of a context already answered may not reply again
        heap_len = live.memory.data_len(store)
        globals_ = [(g, g.value(store)) for g in live.globals]
        self.counter_readings = []
        live.counter.set_value(store, wasmtime.Val.i64(limit))
        live.fuel_overhead.set_value(store, wasmtime.Val.i64(0))
        store.set_fuel(FUEL_BUDGET)
        error: BaseException | None = None
        try:
            invoke(store)
        except Exception as exc:  # noqa: BLE001 - every failure undoes the message, then is reported
            error = exc
        finally:
            self._msg = None
        counter = live.counter.value(store)
        used = limit - counter
        fuel = fuel_used(store.get_fuel(), live.fuel_overhead.value(store))
        if error is None and counter < 0:
            error = Trap("out of instructions", kind="instructions")
        if error is None and needs_reply and not msg.replied and not msg.outgoing and \
                (context is None or not context.outstanding):
            error = Trap(f"{export} returned without replying", kind="message")
        if error is None and self.limits and len(msg.reply) > costs.MAX_MESSAGE:
            error = Trap(f"reply of {len(msg.reply)} bytes exceeds the {costs.MAX_MESSAGE}-byte limit",
                         kind="message")
        if error is not None:
            self._undo(live, msg, heap_len, globals_)
            trap = _as_trap(error, export, counter < 0, limit, used, fuel)
            if trap is None:
                raise error  # an emulator bug, not the canister's: the message is undone, the error shown
            trap.syscalls, trap.syscall_bytes = msg.syscalls, msg.syscall_bytes
            raise trap from error
        if kind in ("query", "inspect", "replicated_query"):
            self._undo(live, msg, heap_len, globals_)  # the IC discards a query's changes
        else:
            self._commit(live, heap_len)
            if self._txn is not None:
                self._txn.extend(msg.stable_journal)
        if context is not None:
            network = self.network
            assert network is not None
            for call in msg.outgoing:
                network.send(call)  # calls leave only with a committed message
            if msg.replied and not context.answered:
                if msg.reject is None:
                    network.answer(context, bytes(msg.reply))
                else:
                    network.answer(context, None, CANISTER_REJECT, msg.reject)
        if kind == "inspect":
            reject = None if msg.accepted else "the canister did not accept the message"
            return Result(None, reject, fuel, msg.syscalls, msg.syscall_bytes, used, self.wasm64)
        reply = bytes(msg.reply) if msg.replied and not answered_before and msg.reject is None else None
        return Result(reply, msg.reject, fuel, msg.syscalls, msg.syscall_bytes, used, self.wasm64)

    def _memory_view(self) -> Any:
        live = self._require_instance()
        return _view(live.memory, live.store)

    def _snapshot(self) -> tuple[bytes, list[tuple[wasmtime.Global, Any]]]:
        """The whole Wasm heap and every mutable global (for an upgrade, which may replace the instance)."""
        live = self._require_instance()
        return bytes(self._memory_view()), [(g, g.value(live.store)) for g in live.globals]

    def _restore(self, heap: bytes, globals_: list[tuple[wasmtime.Global, Any]]) -> None:
        """The heap and globals of `_snapshot` back in place (a heap that grew keeps its size, its new pages
        zeroed)."""
        live = self._require_instance()
        view = self._memory_view()
        ctypes.memmove(view, heap, len(heap))
        if len(view) > len(heap):
            ctypes.memset(ctypes.addressof(view) + len(heap), 0, len(view) - len(heap))
        for g, value in globals_:
            g.set_value(live.store, value)
        live.shadow = bytearray(_view(live.memory, live.store))
        _dirty_pages(live, len(live.shadow))

    def _commit(self, live: Live, old_len: int) -> None:
        """A message succeeded: the pages it wrote become the shadow's."""
        heap = memoryview(_view(live.memory, live.store)).cast("B")
        for page in _dirty_pages(live, len(heap)):
            lo = page << DIRTY_SHIFT
            hi = min(lo + (1 << DIRTY_SHIFT), old_len)
            if lo < hi:
                live.shadow[lo:hi] = heap[lo:hi]
        if len(heap) > old_len:
            live.shadow += heap[old_len:]

    def _undo(self, live: Live, msg: Message, old_len: int, globals_: list[tuple[wasmtime.Global, Any]]) -> None:
        """Undo a message: the pages it wrote from the shadow, the globals, stable memory; a heap that grew keeps
        its size, its new pages zeroed."""
        view = _view(live.memory, live.store)
        heap = memoryview(view).cast("B")
        for page in _dirty_pages(live, len(heap)):
            lo = page << DIRTY_SHIFT
            hi = min(lo + (1 << DIRTY_SHIFT), old_len)
            if lo < hi:
                heap[lo:hi] = live.shadow[lo:hi]
        if len(heap) > old_len:
            ctypes.memset(ctypes.addressof(view) + old_len, 0, len(heap) - old_len)
            live.shadow += bytes(len(heap) - old_len)
        for g, value in globals_:
            g.set_value(live.store, value)
        for at, old in reversed(msg.stable_journal):
            self.stable[at:at + len(old)] = old
        del self.stable[msg.stable_size_before:]

def _view(memory: wasmtime.Memory, store: wasmtime.Store) -> Any:
    """A Wasm memory as a ctypes byte array over wasmtime's own buffer (valid until the memory grows)."""
    n = memory.data_len(store)
    return (ctypes.c_ubyte * n).from_address(ctypes.addressof(memory.data_ptr(store).contents))


def _dirty_pages(live: Live, heap_len: int) -> list[int]:
    """The heap pages written since the last call (by the module's barrier or by the host), marks cleared."""
    bytemap = _view(live.bytemap, live.store)
    n = min(len(bytemap), (heap_len >> DIRTY_SHIFT) + 2)
    marks = np.frombuffer(bytemap, dtype=np.uint8, count=n)
    pages = set(np.flatnonzero(marks).tolist()) | live.host_dirty
    ctypes.memset(ctypes.addressof(bytemap), 0, n)
    live.host_dirty = set()
    return sorted(pages)


def _trapped(trap: Trap, label: str, wasm64: bool) -> Result:
    """A trapped message as a trace entry: no reply, the trap as its reject, the costs until the trap."""
    return Result(None, f"{trap.kind} trap: {trap}", trap.fuel, trap.syscalls, trap.syscall_bytes,
                  trap.ic_instructions, wasm64, label=label)


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
