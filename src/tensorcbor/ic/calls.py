"""Inter-canister calls: a network of installed canisters that deliver each other's requests and responses.

Why it exists: canisters pass tensors to each other with ``ic0.call_new`` ... ``ic0.call_perform``, and the
replica runs the reply (or reject) callback as a message of its own. `Network` holds canisters by principal
and runs those messages in order, with the replica's semantics:

- a call leaves only if the message that made it commits (a trap after ``call_perform`` drops it);
- the callee runs the method as an update (``canister_update``, 40e9 instructions) or a replicated query
  (``canister_query``, 5e9: its changes are discarded, it may not call); no inspect_message;
- the response runs the caller's reply or reject callback, through the function table with its env, as a
  new message with its own limit (40e9), in the call context of the message that made the call: the state
  committed when that message ended is what the callback sees (the await point); a trap in the callback
  undoes only the callback, then the cleanup callback (``call_on_cleanup``) runs (here with a 40e9 limit of
  its own) and its changes are kept;
- a call context stays open while it has calls outstanding; when its last message ends without a reply and
  nothing is outstanding, the caller gets reject code 5 (CANISTER_ERROR), as the replica answers;
- rejects carry the replica's codes: 3 (DESTINATION_INVALID) for an unknown canister, 5 (CANISTER_ERROR) for
  a missing method or a trap of the callee, 4 (CANISTER_REJECT) when the callee called ``ic0.msg_reject``;
- a non-replicated query (an ingress query) that calls ``ic0.call_new`` traps, as the replica refuses it.

What it does not model: cycles (``call_cycles_add*`` are charged and ignored, ``cost_call`` answers 0, no
balance moves), subnets and their latency (every canister is local, a call is delivered when the queue reaches
it), message ordering across subnets (one FIFO queue), best-effort timeouts (``call_with_best_effort_response``
is accepted; no call ever times out), composite queries.
"""

from __future__ import annotations

import base64
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .canister import Canister
    from .result import Result

# Reject codes of the IC interface specification (ic_error_types::RejectCode).
SYS_FATAL, SYS_TRANSIENT, DESTINATION_INVALID, CANISTER_REJECT, CANISTER_ERROR, SYS_UNKNOWN = range(1, 7)


def principal_text(raw: bytes) -> str:
    """A principal's textual form (CRC-32 then the bytes, base32, groups of five): what the replica prints."""
    data = zlib.crc32(raw).to_bytes(4, "big") + raw
    text = base64.b32encode(data).decode().lower().rstrip("=")
    return "-".join(text[i:i + 5] for i in range(0, len(text), 5))


@dataclass
class Callback:
    """A function-table index and the env the replica passes to it."""

    fun: int
    env: int


@dataclass
class OutCall:
    """A call built by ``call_new`` ... ``call_perform``, then in flight."""

    caller: Canister
    context: CallContext  # the caller's call context, which the callbacks run in
    callee: bytes
    method: str
    reply: Callback
    reject: Callback
    arg: bytearray = field(default_factory=bytearray)
    cleanup: Callback | None = None


@dataclass
class CallContext:
    """One call being answered by a canister: from ingress (`origin` None) or from another canister's
    `OutCall`. Open until answered; `outstanding` counts the calls it made that have not been answered."""

    canister: Canister
    caller: bytes
    origin: OutCall | None
    outstanding: int = 0
    answered: bool = False
    reply: bytes | None = None
    reject_code: int = 0
    reject_message: str = ""


@dataclass
class _Response:
    call: OutCall
    reply: bytes | None
    reject_code: int
    reject_message: str


class Network:
    """Canisters that can call each other: ``Canister(wasm, network=net)`` joins with the next principal
    (`next_id`); `add` takes a canister already made. An ingress update of any of them (`Canister.update`)
    runs until its call context is answered, delivering every call and response on the way."""

    def __init__(self) -> None:
        self.canisters: dict[bytes, Canister] = {}
        self._queue: deque[OutCall | _Response] = deque()
        self._next_id = 1

    def next_id(self) -> bytes:
        """A principal no canister of this network has (of the form ``00..00 <n> 01 01``, as the replica's)."""
        while True:
            canister_id = self._next_id.to_bytes(8, "big") + b"\x01\x01"
            self._next_id += 1
            if canister_id not in self.canisters:
                return canister_id

    def add(self, canister: Canister) -> Canister:
        if canister.canister_id in self.canisters and self.canisters[canister.canister_id] is not canister:
            raise ValueError(f"a canister {principal_text(canister.canister_id)} is already on this network")
        self.canisters[canister.canister_id] = canister
        canister.network = self
        return canister

    # ------------------------------------------------------------------ delivery

    def send(self, call: OutCall) -> None:
        """A call leaves its caller (the message that made it committed)."""
        call.context.outstanding += 1
        self._queue.append(call)

    def answer(self, context: CallContext, reply: bytes | None, code: int = 0, message: str = "") -> None:
        """The call context is answered (once): a reply, or a reject with its code."""
        if context.answered:
            return
        context.answered, context.reply, context.reject_code, context.reject_message = True, reply, code, message
        if context.origin is not None:
            self._queue.append(_Response(context.origin, reply, code, message))

    def settle(self, context: CallContext, trap: str | None = None) -> None:
        """After a message of `context` ended: with nothing outstanding and no answer, the caller is rejected
        (the trap's message, or "did not reply")."""
        if context.answered or context.outstanding:
            return
        who = principal_text(context.canister.canister_id)
        message = f"Canister {who} trapped: {trap}" if trap is not None else f"Canister {who} did not reply to the call"
        self.answer(context, None, CANISTER_ERROR, message)

    def run(self, trace: list[Result]) -> None:
        """Deliver queued calls and responses until none is left; every message run is appended to `trace`."""
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, OutCall):
                self._deliver_call(item, trace)
            else:
                item.call.caller.run_response(item.call, item.reply, item.reject_code, item.reject_message, trace)

    def _deliver_call(self, call: OutCall, trace: list[Result]) -> None:
        callee = self.canisters.get(call.callee)
        if callee is None or callee.instance is None:
            state = "not found" if callee is None else "is empty"
            self._queue.append(_Response(call, None, DESTINATION_INVALID,
                                         f"Canister {principal_text(call.callee)} {state}"))
            return
        callee.run_request(call, trace)
