"""Framing between the conformance adapter protocol (JSON lines) and the Motoko actor's `handle` method.

Python only frames: a decode request is the document bytes; an encode request is the manifest's `expected`
value written as plain CBOR (metadata floats always as binary64, map entries in reverse order, so the Motoko
encoder must choose float widths and sort keys itself). The answer is the JSON the actor produced.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tensorcbor.conformance.plain import encode_input
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


def encode_request(value: dict[str, Any], kind: str) -> bytes:
    """The value as plain CBOR (tensorcbor.conformance.plain, the one copy of that conversion) behind the op tag."""
    return (b"et" if kind == "tensor" else b"eb") + encode_input(value, kind)


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
