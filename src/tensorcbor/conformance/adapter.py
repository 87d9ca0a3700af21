"""Reference adapter: the conformance protocol implemented with the Python codec.

Run as ``python3 -m tensorcbor.conformance.adapter decode|encode KIND``, ``... stream`` (one stream
request as JSON on stdin) or ``... batch``.
It is the model for Rust, Motoko or canister adapters (see conformance/README.md).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import TensorCBORError
from .streams import stream_answer
from .values import decode_json, encode_json


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """One batch request -> one answer (with the request's id)."""
    rid = request.get("id")
    try:
        if request["op"] == "decode":
            out = decode_json(bytes.fromhex(request["hex"]), request["kind"])
        elif request["op"] == "encode":
            out = {"hex": encode_json(request["value"], request["kind"]).hex()}
        elif request["op"] == "stream":
            out = stream_answer(request)
        else:
            out = {"error": f"unknown op {request['op']!r}"}
    except (TensorCBORError, ValueError, KeyError, TypeError) as exc:
        out = {"error": "ADAPTER_ERROR", "message": str(exc)}
    return {"id": rid, **out}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["batch"]:
        for line in sys.stdin:
            if line.strip():
                sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
                sys.stdout.flush()
        return 0
    if args == ["stream"]:
        sys.stdout.write(json.dumps(answer({"op": "stream", **json.loads(sys.stdin.read())})) + "\n")
        return 0
    if len(args) != 2 or args[0] not in ("decode", "encode") or args[1] not in ("tensor", "bundle"):
        sys.stderr.write("usage: adapter decode|encode tensor|bundle  |  adapter stream  |  adapter batch\n")
        return 2
    op, kind = args
    if op == "decode":
        sys.stdout.write(json.dumps(decode_json(sys.stdin.buffer.read(), kind)) + "\n")
    else:
        sys.stdout.write(encode_json(json.loads(sys.stdin.read()), kind).hex() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
