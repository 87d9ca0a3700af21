"""Stream profile vectors (SPEC.md §12): ``python3 -m conformance.gen.stream_vectors [--out DIR]``.

Stand-alone for now: the suite's manifest (conformance/manifest.schema.json) knows
vectors of kind "tensor" and "bundle", one document per file, while a stream vector
is a *sequence of chunks* plus what the receiver knows beforehand. So this module
writes its own small suite (default: conformance/stream-v1/):

- ``vectors/<id>.cbors``: the chunks in arrival order, concatenated. That is a CBOR
  sequence (RFC 8742); a runner splits it by reading one data item at a time and
  feeds each item to a *sequential* receiver as one chunk.
- ``manifest.json``: for each vector ``id``, ``description``, ``profile`` ("stream"),
  ``verdict``, ``expected_digest`` (hex of the stream digest the receiver is given
  up front, or null), ``chunks`` (how many items the file holds), and either
  ``error`` (the code of the first failing check of §12.4, at the chunk ``error_chunk``,
  0-based, or at the end of the stream when ``error_chunk`` is null) or
  ``document_sha256`` (valid: the SHA-256 of the reassembled document).

The chunk bytes come from ``tensorcbor.stream.chunks`` for valid streams, and the
invalid ones are hand-made from them (reordered, repeated, dropped, altered, or
rebuilt with a dishonest manifest); each code follows from the order of checks in
§12.4, not from asking the codec. A test runs the reference receiver over all of them.
When the suite manifest grows a "stream" kind, these records move into it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import stream

from .builder import head

PROFILE = "stream"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "stream-v1"
MAGIC = bytes.fromhex("d9d9f7d9cb73")


@dataclass
class StreamVector:
    id: str
    description: str
    chunks: list[bytes]
    expected_digest: bytes | None = None
    error: str | None = None
    error_chunk: int | None = None  # which chunk (0-based, arrival order) fails; None: at the end
    document: bytes | None = None

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "id": self.id, "description": self.description, "profile": PROFILE,
            "verdict": "invalid" if self.error else "valid", "file": f"vectors/{self.id}.cbors",
            "chunks": len(self.chunks),
            "expected_digest": self.expected_digest.hex() if self.expected_digest else None,
        }
        if self.error:
            rec["error"] = self.error
            rec["error_chunk"] = self.error_chunk
        else:
            assert self.document is not None
            rec["document_sha256"] = hashlib.sha256(self.document).hexdigest()
        return rec


def data_chunk(sid: bytes, index: int, payload: bytes) -> bytes:
    return MAGIC + b"\x84\x01" + head(2, 32) + sid + head(0, index) + head(2, len(payload)) + payload


def manifest(length: int, max_size: int, doc_sha: bytes, digests: bytes) -> bytes:
    return (MAGIC + b"\x85\x01" + head(0, length) + head(0, max_size) + head(2, 32) + doc_sha
            + head(2, len(digests)) + digests)


def flip(chunk: bytes, at: int = -1) -> bytes:
    b = bytearray(chunk)
    b[at] ^= 0x01
    return bytes(b)


def vectors() -> Iterator[StreamVector]:
    tensor = tensorcbor.encode(np.arange(16, dtype=np.float32))  # 80 bytes: two chunks at max-size 128
    weights = {"layer.0.weight": (np.arange(600, dtype=np.float32) / 64).reshape(20, 30),
               "layer.0.bias": np.arange(20, dtype=np.float16), "vocab": np.array(["a", "bb"], np.dtypes.StringDType())}
    bundle = tensorcbor.encode_bundle(weights, {"model": "demo"})
    t = list(stream.chunks(tensor, 128))
    b = list(stream.chunks(bundle, 700))
    dt, db = stream.stream_digest(t[0]), stream.stream_digest(b[0])
    other = list(stream.chunks(tensorcbor.encode(np.zeros(16, np.float32)), 128))

    # valid
    yield StreamVector("stream.tensor.128", "80-byte tensor document cut at max-size 128: manifest + 2 chunks",
                       t, dt, document=tensor)
    yield StreamVector("stream.tensor.no-digest", "the same stream, receiver given no digest", t, None,
                       document=tensor)
    yield StreamVector("stream.bundle.700", f"{len(bundle)}-byte bundle cut at max-size 700: "
                       f"{len(b) - 1} data chunks, tensor headers never split", b, db, document=bundle)
    yield StreamVector("stream.bundle.one-chunk", "the bundle in a single data chunk (default limit)",
                       list(stream.chunks(bundle)), None, document=bundle)

    # invalid: the manifest
    yield StreamVector("stream.manifest.digest-mismatch", "expected digest is another stream's",
                       t, stream.stream_digest(other[0]), "STREAM_DIGEST_MISMATCH", 0)
    yield StreamVector("stream.manifest.is-data-chunk", "first chunk is a data chunk", t[1:], None,
                       "UNEXPECTED_TYPE", 0)
    yield StreamVector("stream.manifest.is-document", "first chunk is a tensor document", [tensor], None,
                       "BAD_MAGIC", 0)
    yield StreamVector("stream.manifest.version", "manifest version 2", [t[0].replace(b"\x85\x01", b"\x85\x02", 1)],
                       None, "UNSUPPORTED_VERSION", 0)
    yield StreamVector("stream.manifest.short-sha", "doc-sha256 of 31 bytes",
                       [MAGIC + b"\x85\x01\x18\x50\x18\x80\x58\x1f" + bytes(31) + b"\x58\x20" + bytes(32)], None,
                       "UNEXPECTED_TYPE", 0)
    yield StreamVector("stream.manifest.digests-not-multiple", "digests of 33 bytes",
                       [manifest(80, 128, bytes(32), bytes(33))], None, "UNEXPECTED_TYPE", 0)
    yield StreamVector("stream.manifest.trailing", "a byte after the manifest", [t[0] + b"\x00"], None,
                       "TRAILING_BYTES", 0)
    yield StreamVector("stream.manifest.too-large", "manifest longer than its own max-size",
                       [manifest(3, 128, bytes(32), bytes(96))], None, "CHUNK_TOO_LARGE", 0)
    yield StreamVector("stream.manifest.length", "2 chunks of at most 76 payload bytes cannot carry 200 bytes",
                       [manifest(200, 128, bytes(32), bytes(64))], None, "STREAM_LENGTH_MISMATCH", 0)

    # invalid: data chunks
    yield StreamVector("stream.chunk.out-of-order", "chunk 2 before chunk 1", [b[0], b[2], b[1], *b[3:]], db,
                       "CHUNK_OUT_OF_ORDER", 1)
    yield StreamVector("stream.chunk.duplicate", "chunk 1 twice", [b[0], b[1], b[1], *b[2:]], db,
                       "DUPLICATE_CHUNK", 2)
    yield StreamVector("stream.chunk.missing-last", "the last chunk never comes", b[:-1], db, "MISSING_CHUNK", None)
    yield StreamVector("stream.chunk.missing-all", "only the manifest", b[:1], db, "MISSING_CHUNK", None)
    yield StreamVector("stream.chunk.other-stream", "chunk 1 of another stream", [t[0], other[1], t[2]], dt,
                       "WRONG_STREAM", 1)
    yield StreamVector("stream.chunk.altered", "one payload bit flipped", [b[0], b[1], flip(b[2]), *b[3:]], db,
                       "CHUNK_DIGEST_MISMATCH", 2)
    yield StreamVector("stream.chunk.index-zero", "data chunk with index 0",
                       [t[0], data_chunk(dt, 0, tensor[:76])], dt, "CHUNK_OUT_OF_RANGE", 1)
    yield StreamVector("stream.chunk.index-past-end", "data chunk with index 3 of 2",
                       [t[0], t[1], t[2], data_chunk(dt, 3, b"x")], dt, "CHUNK_OUT_OF_RANGE", 3)
    yield StreamVector("stream.chunk.too-large", "data chunk over max-size", [t[0], data_chunk(dt, 1, bytes(90))],
                       dt, "CHUNK_TOO_LARGE", 1)
    yield StreamVector("stream.chunk.truncated", "data chunk cut short", [t[0], t[1][:-1]], dt, "TRUNCATED", 1)
    yield StreamVector("stream.chunk.second-manifest", "the manifest again where chunk 1 belongs", [t[0], t[0]],
                       dt, "UNEXPECTED_TYPE", 1)
    yield StreamVector("stream.chunk.trailing", "a byte after a data chunk", [t[0], t[1] + b"\x00"], dt,
                       "TRAILING_BYTES", 1)

    # invalid: a dishonest manifest (digests right, totals wrong)
    doc_sha = hashlib.sha256(tensor).digest()
    m = manifest(len(tensor) + 1, 128, doc_sha, hashlib.sha256(tensor[:76]).digest()
                 + hashlib.sha256(tensor[76:]).digest())
    sid = stream.stream_digest(m)
    yield StreamVector("stream.length.short", "payloads add up to one byte less than doc-length",
                       [m, data_chunk(sid, 1, tensor[:76]), data_chunk(sid, 2, tensor[76:])], sid,
                       "STREAM_LENGTH_MISMATCH", 2)
    m = manifest(len(tensor), 128, bytes(32), hashlib.sha256(tensor[:76]).digest()
                 + hashlib.sha256(tensor[76:]).digest())
    sid = stream.stream_digest(m)
    yield StreamVector("stream.document.digest", "every chunk right, doc-sha256 wrong",
                       [m, data_chunk(sid, 1, tensor[:76]), data_chunk(sid, 2, tensor[76:])], sid,
                       "DOCUMENT_DIGEST_MISMATCH", None)


def write(out: Path) -> int:
    vecs = list(vectors())
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    for stale in (out / "vectors").glob("*.cbors"):
        if stale.stem not in {v.id for v in vecs}:
            stale.unlink()
    for v in vecs:
        (out / "vectors" / f"{v.id}.cbors").write_bytes(b"".join(v.chunks))
    doc = {"suite": "tensorcbor-conformance-stream", "format_version": 1,
           "generator": "python3 -m conformance.gen.stream_vectors", "vectors": [v.record() for v in vecs]}
    (out / "manifest.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return len(vecs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print(f"wrote {write(args.out)} stream vectors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
