"""The stream suite (conformance/stream-v1): the reference answer to a stream request, and checking answers.

A stream request gives a receiver kind, what it knows beforehand and the chunks in
arrival order; the answer is the verdict of every chunk, of the end of the stream, and
the SHA-256 of the document it reassembled (conformance/README.md, "Stream suite").
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import DecodeError
from ..stream import SequentialReceiver, StoringReceiver

OK = "ok"
RECEIVER_KINDS = ("sequential", "storing")


def stream_request(vid: str, record: dict[str, Any], receiver: str, chunks: list[bytes]) -> dict[str, Any]:
    """The adapter request for one vector and one receiver kind."""
    return {"id": vid, "op": "stream", "receiver": receiver, "expected_digest": record["expected_digest"],
            "quota": record["quota"], "chunks": [c.hex() for c in chunks]}


def stream_answer(request: dict[str, Any]) -> dict[str, Any]:
    """Run the reference receiver over a request's chunks: feed every chunk, then end the stream."""
    kind = request["receiver"]
    if kind not in RECEIVER_KINDS:
        raise ValueError(f"unknown receiver {kind!r}; expected one of {RECEIVER_KINDS}")
    digest = request.get("expected_digest")
    expected = bytes.fromhex(digest) if digest else None
    quota = request.get("quota")
    rx: SequentialReceiver | StoringReceiver = (SequentialReceiver if kind == "sequential" else StoringReceiver)(
        expected, quota=quota)
    doc = bytearray()
    verdicts = []
    for text in request["chunks"]:
        try:
            data = rx.accept(bytes.fromhex(text))
        except DecodeError as exc:
            verdicts.append(exc.code)
            continue
        if data is not None and isinstance(rx, SequentialReceiver):
            doc += data.payload
        verdicts.append(OK)
    try:
        result = rx.finish()
    except DecodeError as exc:
        return {"verdicts": verdicts, "end": exc.code, "document_sha256": None}
    document = result if isinstance(result, bytes) else bytes(doc)
    return {"verdicts": verdicts, "end": OK, "document_sha256": hashlib.sha256(document).hexdigest()}


def answer_diffs(record: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """How an answer differs from the vector's expectations (empty: it passes)."""
    out = []
    if "error" in got and "verdicts" not in got:
        return [f"the adapter failed: {got.get('error')} {got.get('message', '')}".strip()]
    verdicts = got.get("verdicts")
    want = record["verdicts"]
    if not isinstance(verdicts, list) or len(verdicts) != len(want):
        out.append(f"expected {len(want)} chunk verdicts, got {verdicts!r}")
    else:
        for i, (w, g) in enumerate(zip(want, verdicts, strict=True)):
            if w != g:
                out.append(f"chunk {i}: expected {w}, got {g}")
    if got.get("end") != record["end"]:
        out.append(f"end of stream: expected {record['end']}, got {got.get('end')}")
    elif record["end"] == OK and got.get("document_sha256") != record["document_sha256"]:
        out.append(f"document SHA-256: expected {record['document_sha256']}, got {got.get('document_sha256')}")
    return out
