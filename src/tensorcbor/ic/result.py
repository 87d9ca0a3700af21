"""What a message gives back: its reply and costs (`Result`), or the trap that undid it (`Trap`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import costs


class Trap(Exception):
    """The message trapped and changed nothing. `kind` says why: "canister" (ic0.trap), "wasm" (a Wasm trap:
    unreachable, out-of-bounds access, ...), "instructions" (the message's instruction limit), "system_api"
    (a misuse of ic0 or an emulator limit), "message" (argument or reply too large, no reply, rejected).
    The costs are those spent until the trap (`syscalls`/`syscall_bytes` as in `Result`)."""

    def __init__(self, message: str, *, kind: str = "canister", ic_instructions: int = 0, fuel: int = 0,
                 syscalls: int = 0, syscall_bytes: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.ic_instructions = ic_instructions
        self.fuel = fuel
        self.syscalls = syscalls
        self.syscall_bytes = syscall_bytes


@dataclass
class Result:
    """One message: its reply bytes or reject message, and what it cost. `ic_instructions` is the replica's
    count (the unit the IC limits and bills), `fuel` the wasmtime fuel of the original module (about one per
    operator: a second column, comparable with older figures). `syscalls`/`syscall_bytes` count ic0 calls and
    the bytes they copied. `inspect` is the canister_inspect_message run that preceded an ingress update.

    An update that calls other canisters (calls.py) answers when its call context does: `reply`/`reject` are
    that answer (`reject_code` the IC's code when the answer is a reject from the network: 4 for the
    canister's own ``msg_reject``, 5 for a trap or no reply), the costs stay the first message's, and
    `followups` lists every message run for it afterwards (callee methods, callbacks; trapped ones with their
    trap as `reject`), each with a `label` naming canister, kind and method."""

    reply: bytes | None
    reject: str | None
    fuel: int
    syscalls: int
    syscall_bytes: int
    ic_instructions: int = 0
    wasm64: bool = False
    inspect: Result | None = None
    label: str = ""
    reject_code: int = 0
    followups: list[Result] = field(default_factory=list)

    def ok(self) -> bytes:
        if self.reply is None:
            raise Trap(f"rejected: {self.reject}", kind="message")
        return self.reply

    @property
    def total_ic_instructions(self) -> int:
        """IC instructions of this message and of every message in `followups` (all canisters)."""
        return self.ic_instructions + sum(r.ic_instructions for r in self.followups)

    @property
    def cycles(self) -> int:
        """Cycles for this message's instructions at the 13-node application subnet price (Wasm64 at 2x)."""
        return costs.instructions_to_cycles(self.ic_instructions, wasm64=self.wasm64)
