"""A typed client for examples/tensor-store.did over the IC emulation, tensorcbor.ic (used by the e2e test and
the bench); its upload half, `UploadClient`, also drives examples/model-canister (the same upload protocol).

Each method returns ``(value, result)``: the decoded Candid reply (a Result variant as ``("Ok", v)`` /
``("Err", (kind, detail))``) and the ``tensorcbor.ic.Result`` that carries the message's cost (IC instructions
and fuel).

Update calls go as ingress by default (the canister's ``canister_inspect_message`` first; a call it refuses
raises ``tensorcbor.ic.Trap``); ``StoreClient(c, ingress=False)`` sends them as another
canister would, straight to the method, which is how the methods' own checks are tested.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from tensorcbor.ic import Canister, Result, candid

DID = Path(__file__).with_name("tensor-store.did")
NAMES = candid.did_names(DID)
MAX_REPLY = 1_900_000


class UploadClient:
    """The tensor-store upload protocol (begin_upload, put_chunk, finish, clear) of a canister whose Candid
    interface is described by `names` (candid.did_names of its .did)."""

    def __init__(self, canister: Canister, *, ingress: bool = True, names: list[str] = NAMES) -> None:
        self.c = canister
        self.ingress = ingress
        self.names = names

    def _decode(self, res: Result) -> Any:
        (value,) = candid.decode(res.ok(), self.names)
        return value

    def _update(self, method: str, args: list[tuple[Any, Any]],
                caller: bytes | None = None) -> tuple[Any, Result]:
        res = self.c.update(method, candid.encode(args), caller, ingress=self.ingress)
        return self._decode(res), res

    def _query(self, method: str, args: list[tuple[Any, Any]]) -> tuple[Any, Result]:
        res = self.c.query(method, candid.encode(args))
        return self._decode(res), res

    def begin_upload(self, manifest: bytes, digest: bytes, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("begin_upload", [("blob", manifest), ("blob", digest)], caller)

    def put_chunk(self, chunk: bytes, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("put_chunk", [("blob", chunk)], caller)

    def finish(self, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("finish", [], caller)

    def clear(self, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("clear", [], caller)

    def upload(self, chunks: builtins.list[bytes], digest: bytes) -> builtins.list[Result]:
        """The whole stream, manifest first; raises on any Err. Returns each message's result."""
        out = []
        value, res = self.begin_upload(chunks[0], digest)
        _expect_ok(value, "begin_upload")
        out.append(res)
        for i, chunk in enumerate(chunks[1:], 1):
            value, res = self.put_chunk(chunk)
            _expect_ok(value, f"put_chunk {i}")
            out.append(res)
        out += self.finish_all()
        return out

    def finish_all(self, caller: bytes | None = None) -> builtins.list[Result]:
        """`finish` until it stops answering Verifying (a canister whose finish never does: one call); raises on
        Err. Returns each message's result."""
        out = []
        while True:
            value, res = self.finish(caller)
            out.append(res)
            if value[0] != "Verifying":
                _expect_ok(value, "finish")
                return out


class StoreClient(UploadClient):
    """tensor-store.did: the upload protocol plus administration and reads."""

    def allow(self, principal: bytes, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("allow", [("principal", principal)], caller)

    def disallow(self, principal: bytes, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("disallow", [("principal", principal)], caller)

    def set_quota(self, quota: int, caller: bytes | None = None) -> tuple[Any, Result]:
        return self._update("set_quota", [("nat64", quota)], caller)

    def status(self) -> tuple[Any, Result]:
        return self._query("status", [])

    def list(self) -> tuple[Any, Result]:
        return self._query("list", [])

    def get(self, name: str) -> tuple[Any, Result]:
        return self._query("get", [("text", name)])

    def get_range(self, name: str, offset: int, length: int) -> tuple[Any, Result]:
        return self._query("get_range", [("text", name), ("nat64", offset), ("nat64", length)])

    def dense(self, weight: str, bias: str | None, x: bytes) -> tuple[Any, Result]:
        return self._query("dense", [("text", weight), (("opt", "text"), bias), ("blob", x)])

    def call_get(self, canister: bytes, name: str, caller: bytes | None = None) -> tuple[Any, Result]:
        """`get` of another canister, called by this one (its `Result.followups` are the messages it caused)."""
        return self._update("call_get", [("principal", canister), ("text", name)], caller)

    def call_dense(self, canister: bytes, weight: str, bias: str | None, x: bytes,
                   caller: bytes | None = None) -> tuple[Any, Result]:
        """`dense` of another canister, called by this one."""
        return self._update("call_dense", [("principal", canister), ("text", weight), (("opt", "text"), bias),
                                           ("blob", x)], caller)

    def fetch(self, name: str, doc_size: int) -> bytes:
        """A tensor document of any size: `get`, or `get_range` pieces when it exceeds one reply."""
        if doc_size <= MAX_REPLY:
            value, _ = self.get(name)
            return bytes(_expect_ok(value, f"get {name}"))
        parts = []
        for offset in range(0, doc_size, MAX_REPLY):
            value, _ = self.get_range(name, offset, MAX_REPLY)
            parts.append(bytes(_expect_ok(value, f"get_range {name} {offset}")))
        return b"".join(parts)


def _expect_ok(value: Any, what: str) -> Any:
    tag, inner = value
    if tag != "Ok":
        raise AssertionError(f"{what}: {inner}")
    return inner
