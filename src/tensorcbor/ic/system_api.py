"""The ``ic0`` system API as host functions, with the replica's charges (costs.py).

Why it exists: a canister reaches the world only through ``ic0`` imports; each call here does what the IC's does
for one canister and one caller, subtracts the replica's fixed and per-byte instructions from the message's
counter, and marks the heap pages it writes so that an undone message restores them. `SystemApi` is a mixin of
`Canister` (canister.py), which owns the state these functions read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wasmtime

from . import costs
from .calls import Callback, OutCall
from .instrument import DIRTY_SHIFT, MEMORY_EXPORT
from .result import Trap
from .state import Live, Message, fuel_used

PAGE = 65536
# The replica's names of the message kinds, for its "cannot be executed in <mode> mode" errors.
MODE = {"update": "update", "query": "non replicated query", "replicated_query": "replicated query",
        "reply_callback": "reply callback", "reject_callback": "reject callback", "cleanup": "cleanup",
        "init": "init", "post_upgrade": "init", "start": "start", "pre_upgrade": "pre upgrade",
        "inspect": "inspect message"}
CALLING = ("update", "reply_callback", "reject_callback")  # the kinds that may make calls


class SystemApi:
    """The ic0 functions; the canister state they use is declared here and set by `Canister`."""

    controllers: set[bytes]
    limits: bool
    canister_id: bytes
    stable: bytearray
    max_stable: int
    debug: list[str]
    certified_data: bytes
    version: int
    counter_readings: list[tuple[int, int]]
    performance_counter_scale: int
    _clock: int
    _log_used: int
    _msg: Message | None
    _caller_ctx: Any
    _live: Live | None

    def _require_instance(self) -> Live:
        raise NotImplementedError

    def _host(self, name: str, masks: list[int]) -> Callable[..., Any]:
        """The host function for ic0.<name>; its integer arguments arrive unsigned (as the replica reads them)."""
        impl: Callable[..., Any] | None = getattr(self, f"_ic0_{name}", None)
        overhead = costs.SYSTEM_API_OVERHEAD.get(name, 0)

        def call(caller: Any, *signed: int) -> Any:
            args = [a & m for a, m in zip(signed, masks, strict=True)]
            msg = self._msg
            if msg is None:
                raise Trap(f"ic0.{name} called outside a message", kind="system_api")
            if impl is None:
                raise Trap(f"ic0.{name} is not emulated (certificates, canister creation, ...)",
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
        live = self._require_instance()
        left = live.counter.value(live.store) - instructions
        live.counter.set_value(live.store, wasmtime.Val.i64(max(left, -(1 << 63))))
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
            assert self._live is not None
            self._live.host_dirty.update(range(ptr >> DIRTY_SHIFT, ((ptr + len(data) - 1) >> DIRTY_SHIFT) + 1))

    def _copy_out(self, msg: Message, source: bytes, dst: int, offset: int, size: int) -> None:
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

    @staticmethod
    def _only(msg: Message, name: str, kinds: tuple[str, ...]) -> None:
        """The replica's refusal of a system API call outside the message kinds that may make it."""
        if msg.kind not in kinds:
            raise Trap(f'"ic0_{name}" cannot be executed in {MODE.get(msg.kind, msg.kind)} mode',
                       kind="system_api")

    @staticmethod
    def _refuse(msg: Message, name: str, kinds: tuple[str, ...]) -> None:
        if msg.kind in kinds:
            raise Trap(f'"ic0_{name}" cannot be executed in {MODE.get(msg.kind, msg.kind)} mode',
                       kind="system_api")

    def _ic0_msg_arg_data_size(self, msg: Message) -> int:
        self._refuse(msg, "msg_arg_data_size", _WITHOUT_ARG)
        return len(msg.arg)

    def _ic0_msg_arg_data_copy(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._refuse(msg, "msg_arg_data_copy", _WITHOUT_ARG)
        self._copy_out(msg, msg.arg, dst, offset, size)

    # ------------------------------------------------------------------ inter-canister calls (calls.py)

    def _ic0_call_new(self, msg: Message, callee_src: int, callee_size: int, name_src: int, name_size: int,
                      reply_fun: int, reply_env: int, reject_fun: int, reject_env: int) -> None:
        self._charge(callee_size + name_size)
        msg.syscall_bytes += callee_size + name_size
        self._only(msg, "call_new", CALLING)
        assert msg.context is not None
        callee = self._read(callee_src, callee_size)
        method = self._read(name_src, name_size).decode("utf-8", "replace")
        # a call still under construction is discarded, as the replica does
        msg.building = OutCall(self, msg.context, callee, method,  # type: ignore[arg-type]
                               Callback(reply_fun, reply_env), Callback(reject_fun, reject_env))

    def _building(self, msg: Message, name: str) -> OutCall:
        self._only(msg, name, CALLING)
        if msg.building is None:
            raise Trap(f"ic0.{name}: no call is under construction (call ic0.call_new first)", kind="system_api")
        return msg.building

    def _ic0_call_data_append(self, msg: Message, src: int, size: int) -> None:
        self._charge(costs.BYTE_TRANSMISSION_COST * size)
        msg.syscall_bytes += size
        call = self._building(msg, "call_data_append")
        call.arg += self._read(src, size)
        if self.limits and len(call.arg) > costs.MAX_INTER_CANISTER_PAYLOAD:
            raise Trap(f"ic0.call_data_append: the call's argument exceeds the "
                       f"{costs.MAX_INTER_CANISTER_PAYLOAD}-byte limit", kind="system_api")

    def _ic0_call_on_cleanup(self, msg: Message, fun: int, env: int) -> None:
        call = self._building(msg, "call_on_cleanup")
        if call.cleanup is not None:
            raise Trap("ic0.call_on_cleanup: the call already has a cleanup callback", kind="system_api")
        call.cleanup = Callback(fun, env)

    def _ic0_call_cycles_add(self, msg: Message, amount: int) -> None:
        self._building(msg, "call_cycles_add")  # cycles are not accounted: the amount is ignored

    def _ic0_call_cycles_add128(self, msg: Message, high: int, low: int) -> None:
        self._building(msg, "call_cycles_add128")

    def _ic0_call_with_best_effort_response(self, msg: Message, timeout_seconds: int) -> None:
        self._building(msg, "call_with_best_effort_response")  # accepted; no call ever times out here

    def _ic0_call_perform(self, msg: Message) -> int:
        call = self._building(msg, "call_perform")
        msg.building = None
        msg.outgoing.append(call)
        return 0

    def _ic0_msg_reject_code(self, msg: Message) -> int:
        self._only(msg, "msg_reject_code", ("reply_callback", "reject_callback"))
        return msg.reject_code

    def _ic0_msg_reject_msg_size(self, msg: Message) -> int:
        self._only(msg, "msg_reject_msg_size", ("reject_callback",))
        return len(msg.reject_message.encode())

    def _ic0_msg_reject_msg_copy(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._only(msg, "msg_reject_msg_copy", ("reject_callback",))
        self._copy_out(msg, msg.reject_message.encode(), dst, offset, size)

    def _ic0_msg_deadline(self, msg: Message) -> int:
        return 0  # every call here is a guaranteed-response call

    def _ic0_cost_call(self, msg: Message, method_name_size: int, payload_size: int, dst: int) -> None:
        self._write(dst, bytes(16))  # cycles are not accounted: a call costs 0 here

    def _ic0_canister_liquid_cycle_balance128(self, msg: Message, dst: int) -> None:
        self._write(dst, (10**13).to_bytes(16, "little"))  # the nominal balance of canister_cycle_balance128

    def _ic0_msg_caller_size(self, msg: Message) -> int:
        return len(msg.caller)

    def _ic0_msg_caller_copy(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, msg.caller, dst, offset, size)

    def _ic0_msg_method_name_size(self, msg: Message) -> int:
        return len(msg.method.encode())

    def _ic0_msg_method_name_copy(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, msg.method.encode(), dst, offset, size)

    def _ic0_accept_message(self, msg: Message) -> None:
        if msg.kind != "inspect" or msg.accepted:
            raise Trap("accept_message outside canister_inspect_message, or twice", kind="system_api")
        msg.accepted = True

    def _reply_allowed(self, msg: Message, what: str) -> None:
        if msg.kind not in _REPLYING:
            raise Trap(f"{what} in {msg.kind}, which cannot reply", kind="system_api")
        if msg.replied:
            raise Trap(f"{what} after the reply", kind="system_api")

    def _ic0_msg_reply_data_append(self, msg: Message, src: int, size: int) -> None:
        self._charge(costs.BYTE_TRANSMISSION_COST * size)
        msg.syscall_bytes += size
        self._reply_allowed(msg, "msg_reply_data_append")
        msg.reply += self._read(src, size)

    def _ic0_msg_reply(self, msg: Message) -> None:
        self._reply_allowed(msg, "msg_reply")
        msg.replied = True

    def _ic0_msg_reject(self, msg: Message, src: int, size: int) -> None:
        self._charge(costs.BYTE_TRANSMISSION_COST * size)
        msg.syscall_bytes += size
        self._reply_allowed(msg, "msg_reject")
        msg.replied = True
        msg.reject = self._read(src, size).decode("utf-8", "replace")

    def _ic0_trap(self, msg: Message, src: int, size: int) -> None:
        self._charge(size + self._log_charge(size))
        msg.syscall_bytes += size
        raise Trap(self._read(src, size).decode("utf-8", "replace"), kind="canister")

    def _ic0_debug_print(self, msg: Message, src: int, size: int) -> None:
        self._charge(self._log_charge(size))
        msg.syscall_bytes += size
        self.debug.append(self._read(src, size).decode("utf-8", "replace"))

    def _ic0_time(self, msg: Message) -> int:
        return self._clock

    def _ic0_canister_self_size(self, msg: Message) -> int:
        return len(self.canister_id)

    def _ic0_canister_self_copy(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._copy_out(msg, self.canister_id, dst, offset, size)

    def _ic0_is_controller(self, msg: Message, src: int, size: int) -> int:
        self._charge(size)
        msg.syscall_bytes += size
        return int(self._read(src, size) in self.controllers)

    def _ic0_canister_version(self, msg: Message) -> int:
        return self.version

    def _ic0_canister_status(self, msg: Message) -> int:
        return 1  # running

    def _ic0_in_replicated_execution(self, msg: Message) -> int:
        return int(msg.kind not in ("query", "inspect"))

    def _ic0_certified_data_set(self, msg: Message, src: int, size: int) -> None:
        self._charge(size)
        if size > 32:
            raise ValueError("certified data is at most 32 bytes")
        self.certified_data = self._read(src, size)

    def _ic0_data_certificate_present(self, msg: Message) -> int:
        return 0  # no certification here

    def _ic0_performance_counter(self, msg: Message, kind: int) -> int:
        live = self._require_instance()
        used = msg.limit - live.counter.value(live.store)
        fuel = fuel_used(live.store.get_fuel(), live.fuel_overhead.value(live.store))
        self.counter_readings.append((used, fuel))
        return used * self.performance_counter_scale  # 1 except in tests (Canister's docstring)

    def _ic0_global_timer_set(self, msg: Message, timestamp: int) -> int:
        return 0  # no timer was set; timers never fire here

    def _ic0_msg_cycles_available128(self, msg: Message, dst: int) -> None:
        self._write(dst, bytes(16))

    _ic0_msg_cycles_refunded128 = _ic0_msg_cycles_available128

    def _ic0_canister_cycle_balance128(self, msg: Message, dst: int) -> None:
        self._write(dst, (10**13).to_bytes(16, "little"))  # a nominal balance: cycles are not accounted

    def _ic0_msg_cycles_accept128(self, msg: Message, high: int, low: int, dst: int) -> None:
        self._write(dst, bytes(16))

    def _ic0_canister_cycle_balance(self, msg: Message) -> int:
        return 10**13

    def _ic0_msg_cycles_available(self, msg: Message) -> int:
        return 0

    _ic0_msg_cycles_refunded = _ic0_msg_cycles_available

    def _ic0_msg_cycles_accept(self, msg: Message, amount: int) -> int:
        return 0

    # stable memory: 64-bit and 32-bit forms share one byte array
    def _ic0_stable64_size(self, msg: Message) -> int:
        return len(self.stable) // PAGE

    def _ic0_stable64_grow(self, msg: Message, pages: int) -> int:
        old = len(self.stable) // PAGE
        if pages < 0 or (old + pages) * PAGE > self.max_stable:
            return -1
        self.stable.extend(bytes(pages * PAGE))
        return old

    def _ic0_stable64_write(self, msg: Message, offset: int, src: int, size: int) -> None:
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

    def _ic0_stable64_read(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._charge(size)
        msg.syscall_bytes += size
        if offset < 0 or size < 0 or offset + size > len(self.stable):
            raise IndexError("stable memory read out of bounds")
        self._write(dst, self.stable[offset:offset + size])

    def _ic0_stable_size(self, msg: Message) -> int:
        size = self._ic0_stable64_size(msg)
        if size > 65536:
            raise ValueError("stable memory is too big for the 32-bit API")
        return size

    def _ic0_stable_grow(self, msg: Message, pages: int) -> int:
        if len(self.stable) // PAGE + pages > 65536:
            return -1
        return self._ic0_stable64_grow(msg, pages)

    def _ic0_stable_write(self, msg: Message, offset: int, src: int, size: int) -> None:
        self._ic0_stable64_write(msg, offset, src, size)

    def _ic0_stable_read(self, msg: Message, dst: int, offset: int, size: int) -> None:
        self._ic0_stable64_read(msg, dst, offset, size)


_WITHOUT_ARG = ("reject_callback", "cleanup")
_REPLYING = ("update", "query", "replicated_query", "reply_callback", "reject_callback")
