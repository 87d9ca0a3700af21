"""Ingress as the IC delivers it: ``canister_inspect_message`` first, the update only if it accepted.

examples/icemu.py runs an update directly, as if it came from another canister. A user's call arrives as an
ingress message, and the IC first runs the canister's ``canister_inspect_message`` export (when it has one)
with the method name, caller and argument available; the call goes ahead only if that export called
``ic0.accept_message`` (returning without it, or trapping, refuses the call). Its changes are discarded and its
instruction limit is 200M. This helper adds that
step (and ``ic0.msg_method_name_*``) to icemu's ``Canister`` for the tensor-store tests, until the one IC
emulation module does it itself.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import icemu  # noqa: E402

INSPECT_LIMIT = 200_000_000
INSPECT = "canister_inspect_message"


@dataclass
class Ingress:
    """An ingress call: what inspect cost, and the update's result if inspect accepted it."""

    accepted: bool
    inspect: icemu.Result
    update: icemu.Result | None


class IngressCanister(icemu.Canister):
    """icemu's Canister plus ingress delivery through ``canister_inspect_message``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._method = ""
        self._accepted = False
        self._last: icemu._Message | None = None  # the message the last system-API call counted in

    def ingress(self, method: str, arg: bytes, caller: bytes | None = None) -> Ingress:
        """Deliver an update call as ingress: inspect, then (if accepted) the update."""
        accepted, inspect = self.inspect(method, arg, caller)
        update = self.update(method, arg, caller) if accepted else None
        return Ingress(accepted, inspect, update)

    def inspect(self, method: str, arg: bytes, caller: bytes | None = None) -> tuple[bool, icemu.Result]:
        """Run ``canister_inspect_message`` for an ingress call (changing nothing); whether it accepted."""
        caller = self._caller(caller)
        assert self.instance is not None, "install() first"
        if self.instance.exports(self.store).get(INSPECT) is None:
            return True, icemu.Result(None, None, 0, 0, 0)  # no filter: the IC accepts every ingress message
        self._method, self._accepted, self._last = method, False, None
        saved = self._save()
        stable = bytes(self.stable)
        try:
            inspect = self._run(INSPECT, arg, caller, INSPECT_LIMIT, needs_reply=False)
        except icemu.Trap as trap:
            # A trap in inspect refuses the message (Motoko traps when its `inspect` returns false).
            self._accepted = False
            last = self._last
            inspect = icemu.Result(None, str(trap), INSPECT_LIMIT - self.store.get_fuel(),
                                   last.syscalls if last else 0, last.syscall_bytes if last else 0)
        finally:
            # The IC discards whatever inspect changed.
            self._restore(saved, icemu._Message(arg=b"", caller=b"", stable_size_before=len(stable)))
            self.stable[:] = stable
            self._method = ""
        return self._accepted, inspect

    def _count(self, nbytes: int = 0) -> icemu._Message:
        self._last = super()._count(nbytes)
        return self._last

    def _ic0_accept_message(self) -> None:
        self._count()
        self._accepted = True

    def _ic0_msg_method_name_size(self) -> int:
        self._count()
        return len(self._method.encode())

    def _ic0_msg_method_name_copy(self, dst: int, offset: int, size: int) -> None:
        self._count(size)
        name = self._method.encode()
        if offset + size > len(name):
            raise icemu.Trap("msg_method_name_copy out of bounds")
        self._mem_write(dst, name[offset:offset + size])
