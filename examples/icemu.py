"""Run an Internet Computer canister's real ``.wasm`` under PyPI ``wasmtime``, without a replica.

Why it exists: a replica (dfx, PocketIC) cannot be installed on the project's machines, yet the tests must run
the very module a user deploys. This module gives that module the ``ic0`` system API it imports as Python host
functions, calls its exported entry points (``canister_init``, ``canister_update <m>``, ``canister_query <m>``,
``canister_pre_upgrade``/``canister_post_upgrade``) and counts Wasm fuel per message. It also holds the minimal
Candid codec the calls need (``encode`` / ``decode``, the types of examples/tensor-store.did).

What it is NOT (say so wherever its figures are quoted):
- no consensus, no subnet, no ingress envelope, no certified data or certificates, no HTTP gateway;
- no cycles accounting, no inter-canister calls (``call_*`` imports trap if used), no timers or heartbeats;
- fuel counts Wasm operators executed by wasmtime (about one each; 0 for block/loop/end/nop/drop, memory.copy
  and memory.fill one per byte): a LOWER BOUND of the instructions the IC charges, which weights calls,
  branches, globals and Wasm64 memory accesses higher and adds a fee per system-API call and per byte it copies.
  ``Result.syscalls`` and ``Result.syscall_bytes`` count those calls and bytes so a caller can add them;
- an upgrade keeps stable memory, and also the Wasm heap for modules marked for Motoko's enhanced orthogonal
  persistence (as the IC does); other state starts from the new instance;
- a trapped update and every query are undone as on the IC (Wasm heap, globals, stable memory), except that a
  heap that grew keeps its size (its new pages zeroed);
- per-message limits enforced: instructions (40e9 update, 5e9 query, as fuel), argument and reply size (2 MiB).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

PAGE = 65536
UPDATE_LIMIT = 40_000_000_000
QUERY_LIMIT = 5_000_000_000
MAX_MESSAGE = 2 * 1024 * 1024
MAX_STABLE = 8 << 30  # the emulator's own cap on stable memory (the IC allows hundreds of GiB)


def _read_uleb(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def export_globals(wasm: bytes) -> bytes:
    """The module with every global it defines also exported (as ``icemu.global.<index>``), so that the
    emulator can save and restore them around a message: modules keep their stack pointer (Rust) or runtime
    state (Motoko) in globals they do not export. A start function is exported as ``icemu.start`` instead of
    run at instantiation, so that an upgrade can put the retained heap in place first (as the IC does)."""
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise ValueError("not a Wasm module")
    sections: list[tuple[int, bytes]] = []
    pos = 8
    while pos < len(wasm):
        sid = wasm[pos]
        size, begin = _read_uleb(wasm, pos + 1)
        sections.append((sid, wasm[begin:begin + size]))
        pos = begin + size
    imported = defined = 0
    start: int | None = None
    for sid, body in sections:
        if sid == 2:
            imported = _imported_globals(body)
        elif sid == 6:
            defined = _read_uleb(body, 0)[0]
        elif sid == 8:
            start = _read_uleb(body, 0)[0]
    out = bytearray(wasm[:8])
    for sid, body in sections:
        if sid == 8:
            continue
        if sid == 7:
            count, p = _read_uleb(body, 0)
            extra = [_uleb(len(name)) + name + b"\x03" + _uleb(i) for i in range(imported, imported + defined)
                     for name in [f"icemu.global.{i}".encode()]]
            if start is not None:
                extra.append(_uleb(11) + b"icemu.start" + b"\x00" + _uleb(start))
            body = _uleb(count + len(extra)) + body[p:] + b"".join(extra)
        out += bytes([sid]) + _uleb(len(body)) + body
    return bytes(out)


def _imported_globals(body: bytes) -> int:
    count, p = _read_uleb(body, 0)
    globals_ = 0
    for _ in range(count):
        for _name in range(2):
            n, p = _read_uleb(body, p)
            p += n
        kind = body[p]
        p += 1
        if kind == 0:  # function: type index
            p = _read_uleb(body, p)[1]
        elif kind == 3:  # global: value type, mutability
            globals_ += 1
            p += 2
        else:
            raise ValueError(f"import of kind {kind} is not supported by icemu")
    return globals_


class Trap(Exception):
    """The canister trapped (ic0.trap, a Wasm trap, or the instruction limit)."""


@dataclass
class Result:
    """One message: the reply bytes or the reject message, and what it cost."""

    reply: bytes | None
    reject: str | None
    fuel: int
    syscalls: int
    syscall_bytes: int

    def ok(self) -> bytes:
        if self.reply is None:
            raise Trap(f"rejected: {self.reject}")
        return self.reply


@dataclass
class _Message:
    arg: bytes
    caller: bytes
    reply: bytearray = field(default_factory=bytearray)
    replied: bool = False
    reject: str | None = None
    syscalls: int = 0
    syscall_bytes: int = 0
    stable_journal: list[tuple[int, bytes]] = field(default_factory=list)
    stable_size_before: int = 0
    limit: int = 0


class Canister:
    """One canister: a compiled module, its live instance, and its stable memory (which survives upgrades)."""

    def __init__(self, wasm: bytes | Path, *, controllers: Iterable[bytes] = (b"\x01",),
                 canister_id: bytes = b"\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01") -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.wasm_memory64 = True  # Motoko's IC target is Wasm64
        self.engine = wasmtime.Engine(config)
        self.module = self._compile(wasm)
        self.controllers = set(controllers)
        self.canister_id = canister_id
        self.stable = bytearray()
        self.debug: list[str] = []
        self._clock = 1_700_000_000_000_000_000
        self._msg: _Message | None = None
        self.store = wasmtime.Store(self.engine)
        self.instance: wasmtime.Instance | None = None
        self.memory: wasmtime.Memory | None = None
        self._caller_ctx: Any = None

    def _compile(self, wasm: bytes | Path) -> wasmtime.Module:
        data = Path(wasm).read_bytes() if isinstance(wasm, Path) else wasm
        # Motoko's enhanced orthogonal persistence: the IC keeps the Wasm heap across upgrades.
        self.keeps_heap = b"enhanced-orthogonal-persistence" in data
        return wasmtime.Module(self.engine, export_globals(data))

    # -------------------------------------------------------------- lifecycle

    def install(self, arg: bytes = b"DIDL\x00\x00") -> Result:
        """Instantiate with empty stable memory and run ``canister_init``."""
        self.stable = bytearray()
        self._instantiate()
        return self._run("canister_init", arg, self.first_controller, UPDATE_LIMIT, needs_reply=False)

    def upgrade(self, wasm: bytes | Path | None = None, arg: bytes = b"DIDL\x00\x00") -> tuple[Result, Result]:
        """``canister_pre_upgrade`` on the old instance, then a new instance (same or new module) with the same
        stable memory and ``canister_post_upgrade``. Returns both results."""
        pre = self._run("canister_pre_upgrade", b"", self.first_controller, UPDATE_LIMIT, needs_reply=False)
        heap = bytes(self._memory_view()) if self.keeps_heap else b""
        if wasm is not None:
            self.module = self._compile(wasm)
        self._instantiate(heap)
        post = self._run("canister_post_upgrade", arg, self.first_controller, UPDATE_LIMIT, needs_reply=False)
        return pre, post

    def update(self, method: str, arg: bytes, caller: bytes | None = None) -> Result:
        return self._run(f"canister_update {method}", arg, self._caller(caller), UPDATE_LIMIT)

    def query(self, method: str, arg: bytes, caller: bytes | None = None) -> Result:
        return self._run(f"canister_query {method}", arg, self._caller(caller), QUERY_LIMIT)

    @property
    def first_controller(self) -> bytes:
        return next(iter(sorted(self.controllers)))

    def _caller(self, caller: bytes | None) -> bytes:
        return self.first_controller if caller is None else caller

    def _instantiate(self, heap: bytes = b"") -> None:
        self.store = wasmtime.Store(self.engine)
        imports = []
        for imp in self.module.imports:
            if imp.module != "ic0" or not isinstance(imp.type, wasmtime.FuncType):
                raise Trap(f"unsupported import {imp.module}.{imp.name}")
            imports.append(wasmtime.Func(self.store, imp.type, self._host(imp.name or ""), access_caller=True))
        # A module's start function (Motoko has one) runs at instantiation, as part of install or upgrade, after
        # a retained heap is in place.
        self.store.set_fuel(UPDATE_LIMIT)
        self._msg = _Message(arg=b"", caller=self.first_controller, limit=UPDATE_LIMIT)
        try:
            self.instance = wasmtime.Instance(self.store, self.module, imports)
            exports = self.instance.exports(self.store)
            memory = exports["memory"] if "memory" in exports else exports["mem"]
            assert isinstance(memory, wasmtime.Memory)
            if heap:
                have = memory.data_len(self.store)
                if have < len(heap):
                    memory.grow(self.store, (len(heap) - have + PAGE - 1) // PAGE)
                memory.write(self.store, heap, 0)
            start = exports["icemu.start"] if "icemu.start" in exports else None
            if isinstance(start, wasmtime.Func):
                start(self.store)
        except wasmtime.WasmtimeError as exc:
            raise Trap(f"instantiation: {exc}") from exc
        finally:
            self._msg = None
        # Rust modules export "memory", Motoko modules "mem".
        memories = [e for e in self.instance.exports(self.store).values() if isinstance(e, wasmtime.Memory)]
        if len(memories) != 1:
            raise Trap(f"the module exports {len(memories)} memories, expected one")
        self.memory = memories[0]

    def _run(self, export: str, arg: bytes, caller: bytes, limit: int, *, needs_reply: bool = True) -> Result:
        if len(arg) > MAX_MESSAGE:
            raise Trap(f"argument of {len(arg)} bytes exceeds the {MAX_MESSAGE}-byte message limit")
        assert self.instance is not None, "install() first"
        func = self.instance.exports(self.store).get(export)
        if func is None:
            if export in ("canister_init", "canister_pre_upgrade", "canister_post_upgrade"):
                return Result(None, None, 0, 0, 0)
            raise Trap(f"the module exports no {export!r}")
        assert isinstance(func, wasmtime.Func)
        self._clock += 1_000_000_000
        msg = self._msg = _Message(arg=arg, caller=caller, stable_size_before=len(self.stable), limit=limit)
        saved = self._save()
        self.store.set_fuel(limit)
        try:
            func(self.store)
        except (wasmtime.WasmtimeError, Trap) as exc:
            self._restore(saved, msg)
            raise Trap(f"{export}: {str(exc).splitlines()[0]}") from exc
        finally:
            fuel = limit - self.store.get_fuel()
            self._msg = None
        if export.startswith("canister_query "):
            self._restore(saved, msg)  # the IC discards a query's changes
        if needs_reply and not msg.replied:
            raise Trap(f"{export} returned without replying")
        if len(msg.reply) > MAX_MESSAGE:
            raise Trap(f"reply of {len(msg.reply)} bytes exceeds the {MAX_MESSAGE}-byte limit")
        reply = bytes(msg.reply) if msg.replied and msg.reject is None else None
        return Result(reply, msg.reject, fuel, msg.syscalls, msg.syscall_bytes)

    def _memory_view(self) -> Any:
        assert self.memory is not None
        n = self.memory.data_len(self.store)
        return (ctypes.c_ubyte * n).from_address(ctypes.addressof(self.memory.data_ptr(self.store).contents))

    def _save(self) -> tuple[bytes, list[tuple[wasmtime.Global, Any]]]:
        """The Wasm heap and every mutable global (all exported by `export_globals`)."""
        assert self.instance is not None
        globals_ = [(g, g.value(self.store)) for g in self.instance.exports(self.store).values()
                    if isinstance(g, wasmtime.Global) and g.type(self.store).mutable]
        return bytes(self._memory_view()), globals_

    def _restore(self, saved: tuple[bytes, list[tuple[wasmtime.Global, Any]]], msg: _Message) -> None:
        """Undo a message: heap, globals and stable memory as they were (a heap that grew keeps its size, its
        new pages zeroed)."""
        heap, globals_ = saved
        view = self._memory_view()
        ctypes.memmove(view, heap, len(heap))
        if len(view) > len(heap):
            ctypes.memset(ctypes.addressof(view) + len(heap), 0, len(view) - len(heap))
        for g, value in globals_:
            g.set_value(self.store, value)
        for at, old in reversed(msg.stable_journal):
            self.stable[at:at + len(old)] = old
        del self.stable[msg.stable_size_before:]

    # -------------------------------------------------------------- ic0

    def _caller_memory(self) -> tuple[wasmtime.Memory, Any]:
        """The calling instance's memory (also during instantiation, when a start function calls ic0)."""
        caller = self._caller_ctx
        for name in ("memory", "mem"):
            m = caller.get(name) if caller is not None else None
            if isinstance(m, wasmtime.Memory):
                return m, caller
        assert self.memory is not None
        return self.memory, self.store

    def _mem_read(self, ptr: int, size: int) -> bytes:
        memory, ctx = self._caller_memory()
        return bytes(memory.read(ctx, ptr, ptr + size))

    def _mem_write(self, ptr: int, data: bytes | bytearray) -> None:
        memory, ctx = self._caller_memory()
        if data:
            memory.write(ctx, data, ptr)

    def _count(self, nbytes: int = 0) -> _Message:
        msg = self._msg
        if msg is None:
            raise Trap("system API called outside a message")
        msg.syscalls += 1
        msg.syscall_bytes += nbytes
        return msg

    def _host(self, name: str) -> Callable[..., Any]:
        impl: Callable[..., Any] | None = getattr(self, f"_ic0_{name}", None)

        def call(caller: Any, *args: int) -> Any:
            if impl is None:
                raise Trap(f"ic0.{name} is not emulated")
            self._caller_ctx = caller
            try:
                return impl(*args)
            finally:
                self._caller_ctx = None
        return call

    def _ic0_msg_arg_data_size(self) -> int:
        return len(self._count().arg)

    def _ic0_msg_arg_data_copy(self, dst: int, offset: int, size: int) -> None:
        msg = self._count(size)
        if offset + size > len(msg.arg):
            raise Trap("msg_arg_data_copy out of bounds")
        self._mem_write(dst, msg.arg[offset:offset + size])

    def _ic0_msg_caller_size(self) -> int:
        return len(self._count().caller)

    def _ic0_msg_caller_copy(self, dst: int, offset: int, size: int) -> None:
        msg = self._count(size)
        self._mem_write(dst, msg.caller[offset:offset + size])

    def _ic0_msg_reply_data_append(self, src: int, size: int) -> None:
        msg = self._count(size)
        if msg.replied:
            raise Trap("msg_reply_data_append after the reply")
        msg.reply += self._mem_read(src, size)

    def _ic0_msg_reply(self) -> None:
        msg = self._count()
        if msg.replied:
            raise Trap("replied twice")
        msg.replied = True

    def _ic0_msg_reject(self, src: int, size: int) -> None:
        msg = self._count(size)
        if msg.replied:
            raise Trap("rejected after the reply")
        msg.replied = True
        msg.reject = self._mem_read(src, size).decode("utf-8", "replace")

    def _ic0_msg_method_name_size(self) -> int:
        return 0

    def _ic0_accept_message(self) -> None:
        self._count()

    def _ic0_trap(self, src: int, size: int) -> None:
        self._count(size)
        raise Trap(self._mem_read(src, size).decode("utf-8", "replace"))

    def _ic0_debug_print(self, src: int, size: int) -> None:
        self._count(size)
        self.debug.append(self._mem_read(src, size).decode("utf-8", "replace"))

    def _ic0_time(self) -> int:
        self._count()
        return self._clock

    def _ic0_canister_self_size(self) -> int:
        self._count()
        return len(self.canister_id)

    def _ic0_canister_self_copy(self, dst: int, offset: int, size: int) -> None:
        self._count(size)
        self._mem_write(dst, self.canister_id[offset:offset + size])

    def _ic0_is_controller(self, src: int, size: int) -> int:
        self._count(size)
        return int(self._mem_read(src, size) in self.controllers)

    def _ic0_canister_version(self) -> int:
        self._count()
        return 0

    def _ic0_canister_status(self) -> int:
        self._count()
        return 1  # running

    def _ic0_performance_counter(self, kind: int) -> int:
        msg = self._count()
        return int(msg.limit - self.store.get_fuel())

    def _ic0_global_timer_set(self, timestamp: int) -> int:
        self._count()
        return 0  # no timer was set; timers never fire here

    # stable memory: 64-bit and 32-bit forms share one byte array
    def _ic0_stable64_size(self) -> int:
        self._count()
        return len(self.stable) // PAGE

    def _ic0_stable64_grow(self, pages: int) -> int:
        self._count()
        old = len(self.stable) // PAGE
        if (old + pages) * PAGE > MAX_STABLE:
            return -1
        self.stable.extend(bytes(pages * PAGE))
        return old

    def _ic0_stable64_write(self, offset: int, src: int, size: int) -> None:
        msg = self._count(size)
        if offset + size > len(self.stable):
            raise Trap("stable memory write out of bounds")
        msg.stable_journal.append((offset, bytes(self.stable[offset:offset + size])))
        self.stable[offset:offset + size] = self._mem_read(src, size)

    def _ic0_stable64_read(self, dst: int, offset: int, size: int) -> None:
        self._count(size)
        if offset + size > len(self.stable):
            raise Trap("stable memory read out of bounds")
        self._mem_write(dst, self.stable[offset:offset + size])

    def _ic0_stable_size(self) -> int:
        return self._ic0_stable64_size()

    def _ic0_stable_grow(self, pages: int) -> int:
        if len(self.stable) // PAGE + pages > 65536:
            return -1
        return self._ic0_stable64_grow(pages)

    def _ic0_stable_write(self, offset: int, src: int, size: int) -> None:
        self._ic0_stable64_write(offset, src, size)

    def _ic0_stable_read(self, dst: int, offset: int, size: int) -> None:
        self._ic0_stable64_read(dst, offset, size)


# ------------------------------------------------------------------ Candid (the subset the .did uses)
# A type is a primitive name ("nat64", "text", "blob", ...) or ("opt"|"vec", T) or ("record"|"variant", {name: T}).
# Decoded values: record -> dict, variant -> (tag, value), opt -> None or value, blob -> bytes, vec -> list.

Type = Any
_PRIM = {"null": 0x7F, "bool": 0x7E, "nat": 0x7D, "int": 0x7C, "nat8": 0x7B, "nat16": 0x7A, "nat32": 0x79,
         "nat64": 0x78, "int8": 0x77, "int16": 0x76, "int32": 0x75, "int64": 0x74, "float32": 0x73,
         "float64": 0x72, "text": 0x71, "reserved": 0x70, "empty": 0x6F, "principal": 0x68}
_PRIM_BY_CODE = {code - 0x80: name for name, code in _PRIM.items()}
_FIXED = {"nat8": "<B", "nat16": "<H", "nat32": "<I", "nat64": "<Q", "int8": "<b", "int16": "<h", "int32": "<i",
          "int64": "<q", "float32": "<f", "float64": "<d"}
_OPT, _VEC, _RECORD, _VARIANT = -18, -19, -20, -21


def idl_hash(name: str) -> int:
    """Candid field id of a name."""
    h = 0
    for b in name.encode():
        h = (h * 223 + b) % (1 << 32)
    return h


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        done = (n == 0 and not b & 0x40) or (n == -1 and b & 0x40)
        out.append(b | (0 if done else 0x80))
        if done:
            return bytes(out)


def _fields(t: Type) -> list[tuple[int, str, Type]]:
    return sorted((idl_hash(k), k, v) for k, v in t[1].items())


class _TypeTable:
    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.index: dict[str, int] = {}

    def ref(self, t: Type) -> bytes:
        if isinstance(t, str) and t != "blob":
            return _sleb(_PRIM[t] - 0x80)
        key = repr(t)
        if key not in self.index:
            if t == "blob":
                body = _sleb(_VEC) + _sleb(_PRIM["nat8"] - 0x80)
            elif t[0] in ("opt", "vec"):
                body = _sleb(_OPT if t[0] == "opt" else _VEC) + self.ref(t[1])
            else:
                fs = _fields(t)
                body = _sleb(_RECORD if t[0] == "record" else _VARIANT) + _uleb(len(fs)) + b"".join(
                    _uleb(h) + self.ref(ft) for h, _, ft in fs)
            self.index[key] = len(self.entries)
            self.entries.append(body)
        return _sleb(self.index[key])


def _enc_value(t: Type, v: Any) -> bytes:
    if t == "blob":
        return _uleb(len(v)) + bytes(v)
    if isinstance(t, str):
        if t in _FIXED:
            return struct.pack(_FIXED[t], v)
        if t == "text":
            b = v.encode()
            return _uleb(len(b)) + b
        if t == "nat":
            return _uleb(v)
        if t == "int":
            return _sleb(v)
        if t == "bool":
            return bytes([bool(v)])
        if t == "principal":
            return b"\x01" + _uleb(len(v)) + bytes(v)
        if t in ("null", "reserved"):
            return b""
        raise ValueError(f"cannot encode a value of type {t}")
    kind = t[0]
    if kind == "opt":
        return b"\x00" if v is None else b"\x01" + _enc_value(t[1], v)
    if kind == "vec":
        return _uleb(len(v)) + b"".join(_enc_value(t[1], x) for x in v)
    if kind == "record":
        return b"".join(_enc_value(ft, v[name]) for _, name, ft in _fields(t))
    tag, inner = v
    fs = _fields(t)
    i = next(i for i, (_, name, _) in enumerate(fs) if name == tag)
    return _uleb(i) + _enc_value(fs[i][2], inner)


def encode(args: Sequence[tuple[Type, Any]]) -> bytes:
    """A Candid message of the given (type, value) arguments."""
    table = _TypeTable()
    refs = [table.ref(t) for t, _ in args]
    return b"".join([b"DIDL", _uleb(len(table.entries)), *table.entries, _uleb(len(args)), *refs,
                     *(_enc_value(t, v) for t, v in args)])


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uleb(self) -> int:
        n = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def sleb(self) -> int:
        n = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n - (1 << shift) if b & 0x40 else n

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("Candid message truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def decode(data: bytes, names: Iterable[str] = ()) -> list[Any]:
    """The argument values of a Candid message; record/variant field names come from `names` (others stay
    as their numeric ids)."""
    by_hash = {idl_hash(n): n for n in names}
    r = _Reader(data)
    if r.take(4) != b"DIDL":
        raise ValueError("not a Candid message")
    table: list[tuple[int, Any]] = []
    for _ in range(r.uleb()):
        code = r.sleb()
        if code in (_OPT, _VEC):
            table.append((code, r.sleb()))
        elif code in (_RECORD, _VARIANT):
            table.append((code, [(r.uleb(), r.sleb()) for _ in range(r.uleb())]))
        else:
            raise ValueError(f"unsupported Candid type constructor {code}")
    arg_types = [r.sleb() for _ in range(r.uleb())]

    def value(t: int) -> Any:
        if t < 0:
            prim = _PRIM_BY_CODE[t]
            if prim in _FIXED:
                fmt = _FIXED[prim]
                return struct.unpack(fmt, r.take(struct.calcsize(fmt)))[0]
            if prim == "text":
                return r.take(r.uleb()).decode()
            if prim == "nat":
                return r.uleb()
            if prim == "int":
                return r.sleb()
            if prim == "bool":
                return r.take(1) == b"\x01"
            if prim == "principal":
                if r.take(1) != b"\x01":
                    raise ValueError("opaque principal reference")
                return r.take(r.uleb())
            if prim in ("null", "reserved"):
                return None
            raise ValueError(f"cannot decode {prim}")
        code, arg = table[t]
        if code == _OPT:
            return value(arg) if r.take(1) == b"\x01" else None
        if code == _VEC:
            n = r.uleb()
            if arg == _PRIM["nat8"] - 0x80:
                return r.take(n)
            return [value(arg) for _ in range(n)]
        if code == _RECORD:
            return {by_hash.get(h, h): value(ft) for h, ft in arg}
        h, ft = arg[r.uleb()]
        return (by_hash.get(h, h), value(ft))

    return [value(t) for t in arg_types]


def did_names(did: Path) -> list[str]:
    """Every identifier of a .did file (field and variant names for `decode`)."""
    import re
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", did.read_text())

