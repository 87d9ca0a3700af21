"""Framing between the conformance adapter protocol (JSON lines) and the Motoko actor's `handle` method.

Python only frames: a decode request is the document bytes; an encode request is the manifest's `expected`
value written as plain CBOR (metadata floats always as binary64, map entries in reverse order, so the Motoko
encoder must choose float widths and sort keys itself). The answer is the JSON the actor produced.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
from pathlib import Path
from typing import Any

from tensorcbor.ic import Canister, Trap
from tensorcbor.ic.candid import candid_blob, parse_candid_blob

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
ADAPTER_SRC = ROOT / "harness" / "Adapter.mo"
ADAPTER_WASM = BUILD / "Adapter.wasm"


def _sources() -> list[Path]:
    return sorted([*(ROOT / "src").glob("*.mo"), *(ROOT / "harness").glob("*.mo"), ROOT / "scripts" / "build.js"])


def build(entry: Path = ADAPTER_SRC, wasm: Path = ADAPTER_WASM, target: str = "ic") -> Path:
    """Compile `entry` with the npm compiler unless `wasm` is newer than every source."""
    if wasm.exists() and wasm.stat().st_mtime >= max(p.stat().st_mtime for p in [*_sources(), entry]):
        return wasm
    if not (ROOT / "node_modules" / "motoko").exists():
        raise RuntimeError("the Motoko compiler is not installed: run `npm install --prefix bindings/motoko`")
    subprocess.run(["node", str(ROOT / "scripts" / "build.js"), "--target", target, str(wasm.parent), str(entry)],
                   check=True, cwd=ROOT)
    return wasm


def _head(major: int, arg: int) -> bytes:
    mt = major << 5
    if arg < 24:
        return bytes((mt | arg,))
    for ai, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * width):
            return bytes((mt | ai,)) + arg.to_bytes(width, "big")
    raise ValueError(f"argument {arg} does not fit 64 bits")


def _text(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _head(3, len(raw)) + raw


_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0": -0.0}


def _meta(j: Any) -> bytes:
    if j is None:
        return b"\xf6"
    if j is True:
        return b"\xf5"
    if j is False:
        return b"\xf4"
    if isinstance(j, str):
        return _text(j)
    (tag, body), = j.items()
    if tag == "int":
        n = int(body)
        return _head(0, n) if n >= 0 else _head(1, -1 - n)
    if tag == "float":
        return b"\xfb" + struct.pack(">d", _SPECIAL.get(body, None) if body in _SPECIAL else float(body))
    if tag == "bytes":
        raw = bytes.fromhex(body)
        return _head(2, len(raw)) + raw
    if tag == "array":
        return _head(4, len(body)) + b"".join(_meta(x) for x in body)
    if tag == "map":
        return _head(5, len(body)) + b"".join(_text(k) + _meta(v) for k, v in reversed(body))
    raise ValueError(f"unknown typed JSON value {tag!r}")


def _tensor(t: dict[str, Any]) -> bytes:
    out = _text(t["dtype"]) + _head(4, len(t["shape"])) + b"".join(_head(0, int(d)) for d in t["shape"])
    if "strings" in t:
        return out + _head(4, len(t["strings"])) + b"".join(_text(s) for s in t["strings"])
    raw = bytes.fromhex(t["data_hex"])
    return out + _head(2, len(raw)) + raw


def encode_request(value: dict[str, Any], kind: str) -> bytes:
    if kind == "tensor":
        return b"et" + b"\x83" + _tensor(value)
    body = _head(4, len(value["tensors"])) + b"".join(
        b"\x84" + _text(t["name"]) + _tensor(t)[0:] for t in value["tensors"])
    return b"eb" + b"\x82" + _meta(value["metadata"]) + body


def decode_request(doc: bytes, kind: str) -> bytes:
    return b"d" + (b"t" if kind == "tensor" else b"b") + doc


class MotokoCodec:
    """The compiled adapter actor, installed once. Message limits are off: a conformance request may be larger
    than an ingress message or take more instructions than one update (its figures are not IC costs)."""

    def __init__(self, wasm: Path | None = None) -> None:
        self.canister = Canister(wasm or build(), limits=False)
        self.canister.install()

    def handle(self, request: bytes) -> dict[str, Any]:
        try:
            reply = self.canister.update("handle", candid_blob(request)).ok()
        except Trap as exc:
            return {"error": "TRAP", "message": str(exc)}
        answer: dict[str, Any] = json.loads(parse_candid_blob(reply).decode("utf-8"))
        return answer

    def decode(self, doc: bytes, kind: str) -> dict[str, Any]:
        return self.handle(decode_request(doc, kind))

    def encode(self, value: dict[str, Any], kind: str) -> dict[str, Any]:
        return self.handle(encode_request(value, kind))
