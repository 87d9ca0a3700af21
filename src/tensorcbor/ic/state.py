"""The state the emulator keeps while it runs a canister: the message in progress and the live instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import wasmtime

if TYPE_CHECKING:
    from .calls import CallContext, OutCall

FUEL_BUDGET = 1 << 62  # wasmtime fuel per message: never the limit (the instruction counter is)


@dataclass
class Message:
    """The message being executed: its argument and caller, what it replied, what it wrote to stable memory."""


    # init, start, update, query, inspect, pre_upgrade, post_upgrade; for inter-canister calls (calls.py):
    # replicated_query, reply_callback, reject_callback, cleanup
    kind: str
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
    context: CallContext | None = None  # the call context an update, replicated query or callback runs in
    reject_code: int = 0  # in a reject callback: the reject's code and message (msg_reject_code, msg_reject_msg)
    reject_message: str = ""
    building: OutCall | None = None  # the call between call_new and call_perform
    outgoing: list[OutCall] = field(default_factory=list)  # performed calls, sent if the message commits


@dataclass
class Live:
    """A running instance and what the emulator keeps beside it: the heap as of the last committed message
    (`shadow`), from which the pages a failed message wrote are restored."""

    store: wasmtime.Store
    instance: wasmtime.Instance
    memory: wasmtime.Memory
    counter: wasmtime.Global
    fuel_overhead: wasmtime.Global
    bytemap: wasmtime.Memory
    globals: list[wasmtime.Global]
    shadow: bytearray
    host_dirty: set[int] = field(default_factory=set)


def fuel_used(left: int, overhead: int) -> int:
    """Fuel the original module consumed so far in this message (budget minus what is left, minus the fuel of
    the instrumentation)."""
    return FUEL_BUDGET - left - overhead
