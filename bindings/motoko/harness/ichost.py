"""Run a Motoko IC-target module under wasmtime without a replica, and count its instructions (fuel).

The compiled actor imports the `ic0` system API; this host defines it in Python (message argument and reply,
stable memory, trap, debug print; the rest return neutral values), instantiates the module once and calls its
exported `canister_query <name>` / `canister_update <name>` functions with Candid-framed arguments. Fuel is about
one per Wasm operator: a lower bound of IC instructions (see ../../shared toolchain notes in the README).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

PAGE = 65536
FUEL = 10**13


class Trap(Exception):
    """The canister trapped (Motoko runtime error or explicit trap)."""


@dataclass
class _Call:
    arg: bytes = b""
    reply: bytearray = field(default_factory=bytearray)
    replied: bool = False
    rejected: str | None = None


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def candid_blob(b: bytes) -> bytes:
    """Candid encoding of one `blob` (vec nat8) argument."""
    return b"DIDL\x01\x6d\x7b\x01\x00" + leb128(len(b)) + b


def _read_leb(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, pos


def parse_candid_blob(reply: bytes) -> bytes:
    """The blob of a Candid reply `(blob)`."""
    prefix = b"DIDL\x01\x6d\x7b\x01\x00"
    if not reply.startswith(prefix):
        raise ValueError(f"reply is not a single Candid blob: {reply[:16].hex()}")
    n, pos = _read_leb(reply, len(prefix))
    return reply[pos:pos + n]


def parse_candid_nat64(reply: bytes) -> int:
    """The value of a Candid reply `(nat64)`."""
    prefix = b"DIDL\x00\x01\x78"
    if not reply.startswith(prefix):
        raise ValueError(f"reply is not a single Candid nat64: {reply[:16].hex()}")
    return int.from_bytes(reply[len(prefix):len(prefix) + 8], "little")


class Canister:
    """One instance of a compiled Motoko actor; `call` runs one message and returns the raw reply."""

    def __init__(self, wasm: Path | str) -> None:
        cfg = wasmtime.Config()
        cfg.consume_fuel = True
        cfg.wasm_memory64 = True
        self.engine = wasmtime.Engine(cfg)
        self.module = wasmtime.Module.from_file(self.engine, str(wasm))
        self.stable = bytearray()
        self.debug: list[str] = []
        self._instantiate()

    def _instantiate(self) -> None:
        self.store = wasmtime.Store(self.engine)
        self.store.set_fuel(FUEL)
        self.call_state = _Call()
        imports = [self._import(imp) for imp in self.module.imports]
        self.instance = wasmtime.Instance(self.store, self.module, imports)
        exports = self.instance.exports(self.store)
        mem = exports["mem"] if "mem" in exports else exports["memory"]
        assert isinstance(mem, wasmtime.Memory)
        self.memory = mem
        self.exports = exports
        self.call("canister_init", b"DIDL\x00\x00", require_reply=False)

    # ---- memory helpers
    def _read(self, ptr: int, size: int) -> bytes:
        return bytes(self.memory.read(self.store, ptr, ptr + size))

    def _write(self, ptr: int, data: bytes) -> None:
        if data:
            self.memory.write(self.store, data, ptr)

    # ---- ic0
    def _import(self, imp: Any) -> wasmtime.Func:
        ty = imp.type
        name = imp.name
        impl = getattr(self, "_ic0_" + name, None)
        results = list(ty.results)

        def default(*_args: Any) -> Any:
            if not results:
                return None
            return 0 if len(results) == 1 else [0] * len(results)

        return wasmtime.Func(self.store, ty, impl if impl is not None else default)

    def _ic0_msg_arg_data_size(self) -> int:
        return len(self.call_state.arg)

    def _ic0_msg_arg_data_copy(self, dst: int, off: int, size: int) -> None:
        self._write(dst, self.call_state.arg[off:off + size])

    def _ic0_msg_reply_data_append(self, src: int, size: int) -> None:
        self.call_state.reply += self._read(src, size)

    def _ic0_msg_reply(self) -> None:
        self.call_state.replied = True

    def _ic0_msg_reject(self, src: int, size: int) -> None:
        self.call_state.rejected = self._read(src, size).decode("utf-8", "replace")

    def _ic0_trap(self, src: int, size: int) -> None:
        raise Trap(self._read(src, size).decode("utf-8", "replace"))

    def _ic0_debug_print(self, src: int, size: int) -> None:
        self.debug.append(self._read(src, size).decode("utf-8", "replace"))

    def _ic0_msg_caller_size(self) -> int:
        return 1

    def _ic0_msg_caller_copy(self, dst: int, off: int, size: int) -> None:
        self._write(dst, b"\x04"[off:off + size])

    def _ic0_canister_self_size(self) -> int:
        return 10

    def _ic0_canister_self_copy(self, dst: int, off: int, size: int) -> None:
        self._write(dst, bytes(range(1, 11))[off:off + size])

    def _ic0_canister_status(self) -> int:
        return 1

    def _ic0_time(self) -> int:
        return 1_700_000_000_000_000_000

    def _ic0_performance_counter(self, kind: int) -> int:
        return FUEL - self.store.get_fuel()

    def _ic0_stable64_size(self) -> int:
        return len(self.stable) // PAGE

    def _ic0_stable64_grow(self, pages: int) -> int:
        old = len(self.stable) // PAGE
        if old + pages > 65536 * 4:
            return (1 << 64) - 1
        self.stable.extend(bytes(pages * PAGE))
        return old

    def _charge(self, size: int) -> None:
        """Stable memory copies cost one fuel per byte, as memory.copy does (the IC charges more)."""
        self.store.set_fuel(max(0, self.store.get_fuel() - size))

    def _ic0_stable64_read(self, dst: int, off: int, size: int) -> None:
        self._charge(size)
        if off + size > len(self.stable):
            raise Trap("stable memory read out of bounds")
        self._write(dst, bytes(self.stable[off:off + size]))

    def _ic0_stable64_write(self, off: int, src: int, size: int) -> None:
        self._charge(size)
        if off + size > len(self.stable):
            raise Trap("stable memory write out of bounds")
        self.stable[off:off + size] = self._read(src, size)

    # ---- calls
    def call(self, export: str, arg: bytes, require_reply: bool = True) -> bytes:
        """Run one message; returns the reply bytes. Raises Trap (and re-instantiates) on a trap."""
        func = self.exports[export] if export in self.exports else None
        if func is None:
            if require_reply:
                raise KeyError(export)
            return b""
        assert isinstance(func, wasmtime.Func)
        self.call_state = _Call(arg=arg)
        try:
            func(self.store)
        except (wasmtime.Trap, wasmtime.WasmtimeError, Trap) as exc:
            self.stable = bytearray()
            self._instantiate()
            raise Trap(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        if self.call_state.rejected is not None:
            raise Trap("rejected: " + self.call_state.rejected)
        if require_reply and not self.call_state.replied:
            raise Trap(f"{export} did not reply")
        return bytes(self.call_state.reply)

    def query(self, method: str, arg: bytes) -> bytes:
        return self.call("canister_query " + method, arg)

    def update(self, method: str, arg: bytes) -> bytes:
        return self.call("canister_update " + method, arg)

    def fuel_used(self, method: str, arg: bytes, update: bool = False) -> tuple[int, bytes]:
        """(fuel consumed by one call, reply)."""
        before = self.store.get_fuel()
        reply = self.update(method, arg) if update else self.query(method, arg)
        return before - self.store.get_fuel(), reply


if __name__ == "__main__":  # pragma: no cover
    c = Canister(sys.argv[1])
    print([imp.name for imp in c.module.imports])
