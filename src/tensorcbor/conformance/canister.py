"""A canister under test: the suite and the fuzzer call its ``tensorcbor_conformance`` query method.

The convention (conformance/README.md, "Checking a canister")::

    type ConformanceError = record { code : text; offset : nat64; message : text };
    type ConformanceResult = variant { ok : blob; err : ConformanceError };
    tensorcbor_conformance : (op : text, input : blob) -> (ConformanceResult) query;

`CanisterImpl` implements the runner's `Impl` protocol over that method: decode ops answer the decoded content
re-encoded by the canister's own encoder, which the reference strict-decodes and compares as for ``--impl``;
encode ops answer the encoding; stream ops answer every chunk's verdict (``plain``). The canister runs under the
one IC emulation (``tensorcbor.ic``: installed once, each call a query with the IC's limits, its IC instructions
recorded per call), or, deployed, through dfx or icp-cli (``remote``).

A trap, running out of instructions, a reject or a reply that is not a ConformanceResult fails that vector with
a message saying which; the run goes on (a query's changes are discarded, so the next call starts clean).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..ic import Canister, InvalidModule, Trap, costs
from ..ic.candid import encode as candid_encode
from ..ic.candid import idl_hash
from .impl import ImplError, ImplUnavailable
from .plain import AnswerError, encode_input, read_stream_answer, stream_input
from .suite import Vector
from .values import decode_json

METHOD = "tensorcbor_conformance"
OPS = ("decode_tensor", "decode_bundle", "encode_tensor", "encode_bundle", "stream_sequential", "stream_storing")
UNSUPPORTED = "UNSUPPORTED_OPERATION"
"""The err code of an op the canister does not implement (not a registry code: no document is at fault)."""
ADAPTER_ERROR = "ADAPTER_ERROR"
"""The err code of an input blob the canister cannot read as the op's input (the runner's fault, not a verdict)."""
MAX_MESSAGE = costs.MAX_MESSAGE


class CallFailed(ImplError):
    """The call gave no ConformanceResult: a trap, out of instructions, a reject, a malformed reply, a transport
    failure. `ic_instructions`: what it cost until then, when known."""

    def __init__(self, message: str, ic_instructions: int | None = None) -> None:
        super().__init__(message)
        self.ic_instructions = ic_instructions


@dataclass(frozen=True)
class ConformanceError:
    """The canister's `err` answer."""

    code: str
    offset: int
    message: str


@dataclass(frozen=True)
class Call:
    """One call of the method: for which vector, which op, the request's size and its IC instructions (None
    when the transport cannot tell, as for a deployed canister)."""

    vid: str
    op: str
    request_bytes: int
    ic_instructions: int | None


class Transport(Protocol):
    """Something that sends one query to the canister: the emulation or a deployed canister."""

    name: str

    def query(self, method: str, arg: bytes) -> tuple[bytes, int | None]:
        """The Candid reply and the IC instructions of the call (None if unknown); raises CallFailed."""
        ...

    def close(self) -> None: ...


class EmulatedCanister:
    """The wasm installed once under tensorcbor.ic, with the IC's query limits (5e9 instructions, 2 MiB
    messages). `lift_message_limit`: a request over 2 MiB is delivered anyway, with every limit off for that
    call (the IC would refuse it before the canister runs; the emulation can still show what the code does)."""

    def __init__(self, wasm: bytes | bytearray | str | Path, *, name: str | None = None,
                 lift_message_limit: bool = False, method: str = METHOD) -> None:
        raw = Path(wasm).read_bytes() if isinstance(wasm, (str, Path)) else bytes(wasm)
        self.name = name or (f"canister {Path(wasm).name} (IC emulation)" if isinstance(wasm, (str, Path))
                             else "canister (IC emulation)")
        self.lift_message_limit = lift_message_limit
        try:
            self.canister = Canister(raw)
            self.canister.install()
        except InvalidModule as exc:
            raise ImplUnavailable(f"the replica would refuse this module at install: {exc}") from None
        except Trap as exc:
            raise ImplUnavailable(f"installing the canister trapped: {exc}") from None
        store, instance = self.canister.store, self.canister.instance
        assert store is not None and instance is not None
        exports = instance.exports(store)
        if exports.get(f"canister_query {method}") is None:
            also = " (it is an update method: declare it `query`)" if exports.get(
                f"canister_update {method}") is not None else ""
            raise ImplUnavailable(f"the module exports no query method {method!r}{also}; a canister implements "
                                  "the convention of conformance/README.md, \"Checking a canister\"")

    def query(self, method: str, arg: bytes) -> tuple[bytes, int | None]:
        lift = self.lift_message_limit and len(arg) > MAX_MESSAGE
        if len(arg) > MAX_MESSAGE and not lift:
            raise CallFailed(f"the request is {len(arg):,} bytes, over the IC's {MAX_MESSAGE:,}-byte message "
                             "limit: no deployed canister can receive it in one message")
        self.canister.limits = not lift
        try:
            res = self.canister.query(method, arg)
        except Trap as exc:
            raise CallFailed(_trap_message(exc), exc.ic_instructions) from None
        finally:
            self.canister.limits = True
        if res.reply is None:
            raise CallFailed(f"the canister rejected the call: {res.reject}", res.ic_instructions)
        return res.reply, res.ic_instructions

    def close(self) -> None:
        pass


def _trap_message(exc: Trap) -> str:
    if exc.kind == "instructions":
        return f"the canister ran out of instructions (the IC's query limit is {costs.QUERY_LIMIT:,})"
    if exc.kind == "message":
        return f"the call was refused: {exc}"
    return f"the canister trapped ({exc.kind}) after {exc.ic_instructions:,} IC instructions: {exc}"


def request(op: str, payload: bytes) -> bytes:
    """The Candid argument of one call: (op : text, input : blob)."""
    return candid_encode([("text", op), ("blob", payload)])


def request_sizes(v: Vector, encode: bool = True) -> list[int]:
    """The sizes of the Candid arguments the runner sends for vector `v` (a stream vector's at most: its chunk
    file is the chunk array, plus a digest and a quota), to compare with the IC's message limit."""
    if v.kind == "stream":
        return [len(request("stream_sequential", v.data())) + 34 + 9]
    sizes = [len(request(f"decode_{v.kind}", v.data()))]
    if encode and v.valid and v.reencode_identical:
        sizes.append(len(request(f"encode_{v.kind}", encode_input(v.expected, v.kind))))
    return sizes


class CanisterImpl:
    """The runner's `Impl` over a canister's ``tensorcbor_conformance`` method.

    `target`: a .wasm (path or bytes), installed once under the IC emulation, or a `Transport` (a deployed
    canister: `tensorcbor.conformance.remote`). Every call is recorded in `calls` (its IC instructions
    included); `cost_by_vector()` sums them per vector.
    """

    def __init__(self, target: bytes | bytearray | str | Path | Transport, *, name: str | None = None,
                 lift_message_limit: bool = False, method: str = METHOD) -> None:
        if isinstance(target, (bytes, bytearray, str, Path)):
            self.transport: Transport = EmulatedCanister(target, name=name, lift_message_limit=lift_message_limit,
                                                         method=method)
        else:
            self.transport = target
        self.name = name or self.transport.name
        self.method = method
        self.calls: list[Call] = []

    # ------------------------------------------------------------------ the method

    def call(self, op: str, payload: bytes, vid: str = "") -> bytes | ConformanceError:
        """One call: the `ok` blob or the `err` record; CallFailed when there is neither."""
        arg = request(op, payload)
        try:
            reply, used = self.transport.query(self.method, arg)
        except CallFailed as exc:
            self.calls.append(Call(vid, op, len(arg), exc.ic_instructions))
            raise CallFailed(f"{op} {vid}: {exc}", exc.ic_instructions) from None
        self.calls.append(Call(vid, op, len(arg), used))
        try:
            return read_result(reply)
        except ValueError as exc:
            raise CallFailed(f"{op} {vid}: the reply is not a ConformanceResult ({exc}): {reply[:48].hex()}",
                             used) from None

    def _refusal(self, op: str, vid: str, err: ConformanceError) -> ImplError:
        if err.code == UNSUPPORTED:
            return ImplError(f"{op} {vid}: not supported by the canister ({UNSUPPORTED}: {err.message})")
        return ImplError(f"{op} {vid}: the canister refused its input ({err.code}: {err.message})")

    # ------------------------------------------------------------------ Impl

    def decode(self, vid: str, data: bytes, kind: str) -> dict[str, Any]:
        op = f"decode_{kind}"
        got = self.call(op, data, vid)
        if isinstance(got, ConformanceError):
            if got.code in (UNSUPPORTED, ADAPTER_ERROR):
                raise self._refusal(op, vid, got)
            return {"error": got.code, "offset": got.offset, "message": got.message}
        answer = decode_json(got, kind)
        if "error" in answer:
            raise ImplError(f"{op} {vid}: the canister accepted the document but its answer (the content "
                            f"re-encoded, {len(got)} bytes) is not a valid {kind} document: {answer['error']} at "
                            f"byte {answer['offset']}: {answer.get('message', '')}")
        return answer

    def encode(self, vid: str, value: dict[str, Any], kind: str) -> bytes:
        op = f"encode_{kind}"
        got = self.call(op, encode_input(value, kind), vid)
        if isinstance(got, ConformanceError):
            if got.code in (UNSUPPORTED, ADAPTER_ERROR):
                raise self._refusal(op, vid, got)
            raise ImplError(f"{op} {vid}: the encoder refused: {got.code} ({got.message})")
        return got

    def stream(self, vid: str, request: dict[str, Any]) -> dict[str, Any]:
        op = f"stream_{request['receiver']}"
        got = self.call(op, stream_input(request), vid)
        if isinstance(got, ConformanceError):
            raise self._refusal(op, vid, got)
        try:
            return read_stream_answer(got)
        except AnswerError as exc:
            raise ImplError(f"{op} {vid}: {exc}") from None

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ costs

    def cost_by_vector(self) -> dict[str, int]:
        """IC instructions per vector id (every call for it summed), for the calls whose cost is known."""
        out: dict[str, int] = {}
        for c in self.calls:
            if c.ic_instructions is not None:
                out[c.vid] = out.get(c.vid, 0) + c.ic_instructions
        return out


# ---------------------------------------------------------------------- the reply

_OK, _ERR = idl_hash("ok"), idl_hash("err")
_CODE, _OFFSET, _MESSAGE = idl_hash("code"), idl_hash("offset"), idl_hash("message")
_TEXT, _NAT64, _NAT8 = -15, -8, -5
_OPT, _VEC, _RECORD, _VARIANT = -18, -19, -20, -21


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise ValueError(f"truncated at byte {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def leb(self, signed: bool = False) -> int:
        n = shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n - (1 << shift) if signed and b & 0x40 else n
            if shift > 70:
                raise ValueError(f"LEB128 number too long at byte {self.pos}")


def read_result(reply: bytes) -> bytes | ConformanceError:
    """The ConformanceResult of a Candid reply: the ok blob or the err record. ValueError says what else it is.

    Strict about the type (one argument, variant { ok : blob; err : record { code : text; offset : nat64;
    message : text } }, the type table in any order) and bounded by the reply's length."""
    r = _Cursor(reply)
    if r.take(4) != b"DIDL":
        raise ValueError("no Candid magic DIDL")
    table: list[tuple[int, Any]] = []
    for _ in range(r.leb()):
        code = r.leb(signed=True)
        if code in (_OPT, _VEC):
            table.append((code, r.leb(signed=True)))
        elif code in (_RECORD, _VARIANT):
            n = r.leb()
            if n > len(reply):
                raise ValueError("a type with more fields than the reply has bytes")
            table.append((code, [(r.leb(), r.leb(signed=True)) for _ in range(n)]))
        else:
            raise ValueError(f"unexpected type constructor {code} in the type table")
    if r.leb() != 1:
        raise ValueError("the reply does not hold exactly one value")
    top = r.leb(signed=True)

    def entry(t: int) -> tuple[int, Any]:
        """A type: (constructor, body) of the table, or (the primitive's code, None)."""
        if t < 0:
            return t, None
        if t >= len(table):
            raise ValueError(f"type index {t} past the type table")
        return table[t]

    def fields(t: int, want: int, names: dict[int, str]) -> dict[int, int]:
        code, fs = entry(t)
        if code != want or sorted(h for h, _ in fs) != sorted(names):
            raise ValueError(f"expected a {'variant' if want == _VARIANT else 'record'} with fields "
                             f"{sorted(names.values())}")
        return dict(fs)

    variant = fields(top, _VARIANT, {_OK: "ok", _ERR: "err"})
    blob = entry(variant[_OK])
    if blob != (_VEC, _NAT8):
        raise ValueError("ok is not a blob")
    record = fields(variant[_ERR], _RECORD, {_CODE: "code", _OFFSET: "offset", _MESSAGE: "message"})
    if (record[_CODE], record[_OFFSET], record[_MESSAGE]) != (_TEXT, _NAT64, _TEXT):
        raise ValueError("err is not record { code : text; offset : nat64; message : text }")
    case = r.leb()
    order = sorted(variant)
    if case >= len(order):
        raise ValueError(f"variant case {case} of 2")
    if order[case] == _OK:
        out: bytes | ConformanceError = r.take(r.leb())
    else:
        values: dict[int, Any] = {}
        for h in sorted(record):
            if h == _OFFSET:
                values[h] = struct.unpack("<Q", r.take(8))[0]
            else:
                try:
                    values[h] = r.take(r.leb()).decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError("a text is not UTF-8") from None
        out = ConformanceError(values[_CODE], values[_OFFSET], values[_MESSAGE])
    if r.pos != len(reply):
        raise ValueError(f"{len(reply) - r.pos} bytes after the value")
    return out


__all__ = ["ADAPTER_ERROR", "METHOD", "OPS", "UNSUPPORTED", "Call", "CallFailed", "CanisterImpl",
           "ConformanceError", "EmulatedCanister", "Transport", "read_result", "request", "request_sizes"]
