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
    verdicts: list[str] = []
    offsets: list[int | None] = []
    for text in request["chunks"]:
        try:
            data = rx.accept(bytes.fromhex(text))
        except DecodeError as exc:
            verdicts.append(exc.code)
            offsets.append(exc.offset)
            continue
        if data is not None and isinstance(rx, SequentialReceiver):
            doc += data.payload
        verdicts.append(OK)
        offsets.append(None)
    try:
        result = rx.finish()
    except DecodeError as exc:
        return {"verdicts": verdicts, "offsets": offsets, "end": exc.code, "document_sha256": None}
    document = result if isinstance(result, bytes) else bytes(doc)
    return {"verdicts": verdicts, "offsets": offsets, "end": OK,
            "document_sha256": hashlib.sha256(document).hexdigest()}


def answer_diffs(record: dict[str, Any], got: dict[str, Any], offsets: bool = True) -> list[str]:
    """How an answer differs from the vector's expectations (empty: it passes).

    With `offsets`, the byte offset of every rejected chunk (SPEC.md §8.1) must be the vector's too.
    """
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
        if offsets and not out:
            got_offsets = got.get("offsets")
            want_offsets = record["offsets"]
            if not isinstance(got_offsets, list) or len(got_offsets) != len(want_offsets):
                out.append(f"expected {len(want_offsets)} chunk offsets (null for an accepted chunk), got "
                           f"{got_offsets!r}; run with --no-offsets if the implementation reports none")
            else:
                for i, (w, g) in enumerate(zip(want_offsets, got_offsets, strict=True)):
                    if w is not None and w != g:
                        out.append(f"chunk {i}: {want[i]} expected at byte {w}, reported at {g}")
    if got.get("end") != record["end"]:
        out.append(f"end of stream: expected {record['end']}, got {got.get('end')}")
    elif record["end"] == OK and got.get("document_sha256") != record["document_sha256"]:
        out.append(f"document SHA-256: expected {record['document_sha256']}, got {got.get('document_sha256')}")
    return out
