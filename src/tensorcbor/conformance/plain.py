"""The plain-CBOR blobs of the canister conformance method (conformance/README.md, "Checking a canister").

A canister has its binding's tensorcbor decoder and encoder but no JSON parser, so the runner hands it values
as plain CBOR and reads its stream answers as plain CBOR:

- encode input: tensor = ``[dtype name, shape, bytes | [text...]]``; bundle = ``[metadata, [[name, dtype name,
  shape, bytes | [text...]] ...]]``. Metadata floats are always binary64 and map entries come in reverse order,
  so the canister's encoder must choose float widths and sort keys itself (what a deterministic encoder is for).
- stream input: ``[expected_digest: bytes(32) / null, quota: uint / null, chunks: [bytes ...]]``.
- stream answer: ``[verdicts: [v ...], end: v, document_sha256: bytes(32) / null]``, v = null (accepted) or
  ``[code: text, offset: uint]``.

These encoders write shortest heads; the answer reader accepts any well-formed heads (it reads a transport
form, not a tensorcbor document).
"""

from __future__ import annotations

import struct
from typing import Any

from ..cbor import Reader, encode_text, head
from ..errors import DecodeError
from .values import parse_float

OK = "ok"


def _meta(j: Any) -> bytes:
    """A typed-JSON metadata value as plain CBOR (floats binary64, maps in reverse order)."""
    if j is None:
        return b"\xf6"
    if j is True:
        return b"\xf5"
    if j is False:
        return b"\xf4"
    if isinstance(j, str):
        return encode_text(j)
    if not isinstance(j, dict) or len(j) != 1:
        raise ValueError(f"not a typed metadata value: {j!r}")
    (tag, body), = j.items()
    if tag == "int":
        n = int(body)
        return head(0, n) if n >= 0 else head(1, -1 - n)
    if tag == "float":
        return b"\xfb" + struct.pack(">d", parse_float(str(body)))
    if tag == "bytes":
        raw = bytes.fromhex(body)
        return head(2, len(raw)) + raw
    if tag == "array":
        return head(4, len(body)) + b"".join(_meta(x) for x in body)
    if tag == "map":
        return head(5, len(body)) + b"".join(encode_text(k) + _meta(v) for k, v in reversed(body))
    raise ValueError(f"unknown typed metadata value {tag!r}")


def _tensor_fields(t: dict[str, Any]) -> bytes:
    """dtype name, shape and elements (bytes, or an array of text for the string dtype): the fields both the
    tensor input and a bundle's tensor entries carry."""
    out = encode_text(t["dtype"]) + head(4, len(t["shape"])) + b"".join(head(0, int(d)) for d in t["shape"])
    if "strings" in t:
        return out + head(4, len(t["strings"])) + b"".join(encode_text(s) for s in t["strings"])
    raw = bytes.fromhex(t["data_hex"])
    return out + head(2, len(raw)) + raw


def encode_input(value: dict[str, Any], kind: str) -> bytes:
    """The input blob of "encode_tensor" / "encode_bundle" for a manifest `expected` value."""
    if kind == "tensor":
        return b"\x83" + _tensor_fields(value)
    if kind != "bundle":
        raise ValueError(f"kind must be tensor or bundle, not {kind!r}")
    entries = head(4, len(value["tensors"])) + b"".join(
        b"\x84" + encode_text(t["name"]) + _tensor_fields(t) for t in value["tensors"])
    return b"\x82" + _meta(value["metadata"]) + entries


def stream_input(request: dict[str, Any]) -> bytes:
    """The input blob of "stream_sequential" / "stream_storing" for a runner stream request (hex chunks)."""
    digest = request.get("expected_digest")
    quota = request.get("quota")
    out = bytearray(b"\x83")
    if digest:
        raw = bytes.fromhex(digest)
        out += head(2, len(raw)) + raw
    else:
        out += b"\xf6"
    out += b"\xf6" if quota is None else head(0, int(quota))
    out += head(4, len(request["chunks"]))
    for c in request["chunks"]:
        raw = bytes.fromhex(c)
        out += head(2, len(raw)) + raw
    return bytes(out)


class AnswerError(ValueError):
    """A stream answer that is not the CBOR the convention specifies (the message says what is wrong)."""


def _verdict(v: Any, where: str) -> tuple[str, int | None]:
    if v is None:
        return OK, None
    if (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int)
            and not isinstance(v[1], bool) and v[1] >= 0):
        return v[0], v[1]
    raise AnswerError(f"{where} is {v!r}, expected null (accepted) or [code, offset]")


def read_stream_answer(blob: bytes) -> dict[str, Any]:
    """A canister's stream answer as the runner's answer dict ({"verdicts", "offsets", "end",
    "document_sha256"}, as tensorcbor.conformance.streams.stream_answer gives)."""
    r = Reader(blob, strict=False)
    try:
        value = r.value(0)
    except (DecodeError, RecursionError) as exc:
        raise AnswerError(f"the stream answer is not CBOR: {exc}") from None
    if r.pos != len(blob):
        raise AnswerError(f"{len(blob) - r.pos} bytes follow the stream answer")
    if not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], list):
        raise AnswerError(f"the stream answer is {str(value)[:120]}, expected [verdicts, end, document_sha256]")
    verdicts, offsets = [], []
    for i, v in enumerate(value[0]):
        code, offset = _verdict(v, f"the verdict of chunk {i}")
        verdicts.append(code)
        offsets.append(offset)
    end, _ = _verdict(value[1], "the end verdict")
    sha = value[2]
    if sha is not None and not (isinstance(sha, bytes) and len(sha) == 32):
        raise AnswerError(f"document_sha256 is {str(sha)[:80]}, expected 32 bytes or null")
    return {"verdicts": verdicts, "offsets": offsets, "end": end,
            "document_sha256": sha.hex() if isinstance(sha, bytes) else None}


__all__ = ["encode_input", "stream_input", "read_stream_answer", "AnswerError"]
