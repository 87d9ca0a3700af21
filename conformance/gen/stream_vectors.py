"""Stream profile vectors (SPEC.md §10): ``python3 -m conformance.gen.stream_vectors [--out DIR]``.

A stream vector is a sequence of chunks plus what the receiver knows beforehand (the
expected stream digest, a quota), and what it must answer for each chunk and at the
end. It has its own suite (default: conformance/stream-v1/), described field by field
in conformance/README.md ("Stream suite"):

- ``vectors/<id>.cbor``: ONE CBOR array of byte strings, one element per chunk in
  arrival order (so a truncated or oversized chunk has an unambiguous extent).
- ``manifest.json``: per vector the receiver kind it applies to, the inputs, the
  expected verdict of every chunk and of the end of the stream.

Rejected chunks change no receiver state (SPEC.md §10.4), so a runner feeds EVERY chunk
and records each verdict. The expected answers are written here by hand from the order
of checks of §10.4, never obtained by running the codec; a test runs the reference
receivers over them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import stream

from .builder import head

PROFILE = "stream"
SUITE_VERSION = "2.1.0"
SPEC_VERSION = "1.0.1"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "stream-v1"
MAGIC = bytes.fromhex("d9d9f7d9cb73")
OK = "ok"
RECEIVERS = ("sequential", "storing", "both")


@dataclass
class StreamVector:
    id: str
    description: str
    receiver: str
    chunks: list[bytes]
    verdicts: list[str]
    end: str
    expected_digest: bytes | None = None
    quota: int | None = None
    document: bytes | None = None  # the reassembled document when `end` is "ok"
    flags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.receiver in RECEIVERS, self.id
        assert len(self.verdicts) == len(self.chunks), self.id
        assert (self.end == OK) == (self.document is not None), self.id

    def reference_offsets(self) -> list[int | None]:
        """The byte offset (SPEC.md §8.1) of each rejected chunk, null for an accepted one, as the reference
        receivers report them; their verdicts must be the hand-written ones, and every receiver kind the
        vector applies to must report the same offsets (the Rust receivers are checked against them)."""
        from tensorcbor.conformance.streams import stream_answer

        found: list[int | None] | None = None
        for kind in ("sequential", "storing") if self.receiver == "both" else (self.receiver,):
            got = stream_answer({"receiver": kind, "expected_digest": self.expected_digest.hex() if
                                 self.expected_digest else None, "quota": self.quota,
                                 "chunks": [c.hex() for c in self.chunks]})
            if got["verdicts"] != self.verdicts or got["end"] != self.end:
                raise SystemExit(f"stream vector {self.id}: the reference {kind} receiver answers "
                                 f"{got['verdicts']} / {got['end']}, the generator says {self.verdicts} / {self.end}")
            if any((o is None) != (v == OK) for o, v in zip(got["offsets"], self.verdicts, strict=True)):
                raise SystemExit(f"stream vector {self.id}: a rejection without an offset: {got['offsets']}")
            if found is not None and got["offsets"] != found:
                raise SystemExit(f"stream vector {self.id}: the receivers report different offsets")
            found = got["offsets"]
        assert found is not None
        return found

    def file_bytes(self) -> bytes:
        return head(4, len(self.chunks)) + b"".join(head(2, len(c)) + c for c in self.chunks)

    def record(self) -> dict[str, Any]:
        data = self.file_bytes()
        failures = [(i, v) for i, v in enumerate(self.verdicts) if v != OK]
        first = failures[0] if failures else (None, self.end if self.end != OK else None)
        return {
            "id": self.id, "description": self.description, "profile": PROFILE, "receiver": self.receiver,
            "verdict": "valid" if self.end == OK else "invalid", "flags": self.flags,
            "file": f"vectors/{self.id}.cbor", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "chunks": len(self.chunks),
            "expected_digest": self.expected_digest.hex() if self.expected_digest else None,
            "quota": self.quota,
            "verdicts": self.verdicts, "offsets": self.reference_offsets(), "end": self.end,
            "document_sha256": hashlib.sha256(self.document).hexdigest() if self.document is not None else None,
            "error": first[1], "error_chunk": first[0],
        }


def data_chunk(sid: bytes, index: int, payload: bytes, version: int = 1, fields: int = 4) -> bytes:
    body = head(0, version) + head(2, 32) + sid + head(0, index) + head(2, len(payload)) + payload
    return MAGIC + head(4, fields) + body


def manifest(length: int, max_size: int, doc_sha: bytes, digests: bytes, version: int = 1) -> bytes:
    return (MAGIC + head(4, 5) + head(0, version) + head(0, length) + head(0, max_size) + head(2, 32) + doc_sha
            + head(2, len(digests)) + digests)


def flip(chunk: bytes, at: int = -1) -> bytes:
    b = bytearray(chunk)
    b[at] ^= 0x01
    return bytes(b)


def oks(n: int, **bad: str) -> list[str]:
    """n verdicts, all "ok" except the positions given as c<i>=CODE."""
    out = [OK] * n
    for key, code in bad.items():
        out[int(key[1:])] = code
    return out


def vectors() -> Iterator[StreamVector]:  # noqa: PLR0915 - one flat list reads best
    tensor = tensorcbor.encode(np.arange(16, dtype=np.float32))  # 80 bytes: two chunks at max-size 128
    weights = {"layer.0.weight": (np.arange(600, dtype=np.float32) / 64).reshape(20, 30),
               "layer.0.bias": np.arange(20, dtype=np.float16), "vocab": np.array(["a", "bb"], np.dtypes.StringDType())}
    bundle = tensorcbor.encode_bundle(weights, {"model": "demo"})
    t = list(stream.chunks(tensor, 128))
    b = list(stream.chunks(bundle, 700))
    assert len(t) == 3 and len(b) >= 5
    dt, db = stream.stream_digest(t[0]), stream.stream_digest(b[0])
    other = list(stream.chunks(tensorcbor.encode(np.zeros(16, np.float32)), 128))
    nb = len(b)
    V = StreamVector

    # ---- valid streams, in order
    yield V("stream.tensor.128", "80-byte tensor document cut at max-size 128 (the smallest allowed): manifest "
            "+ 2 chunks", "both",
            t, oks(3), OK, dt, document=tensor, flags=["cut"])
    yield V("stream.tensor.no-digest", "the same stream, receiver given no digest", "both", t, oks(3), OK,
            document=tensor)
    yield V("stream.bundle.700", f"{len(bundle)}-byte bundle cut at max-size 700: {nb - 1} data chunks, tensor "
            "headers never split", "both", b, oks(nb), OK, db, document=bundle, flags=["cut"])
    yield V("stream.bundle.one-chunk", "the bundle in a single data chunk (default limit)", "both",
            list(stream.chunks(bundle)), oks(2), OK, document=bundle, flags=["cut"])
    # The cut of §10.3 moves: at max-size 153 (capacity 101) the first chunk would end at 101, inside the item
    # header [100, 104) of tensor t1, so it ends at 100. A cutter without that rule makes another stream digest.
    small = tensorcbor.encode_bundle({f"t{i}": np.arange(3 + i, dtype=np.float32) for i in range(6)})
    moved = list(stream.chunks(small, 153))
    assert [len(c) - 45 for c in moved[1:]] == [100, 101, 51]  # 45: magic, array, version, id, index, bstr head
    yield V("stream.cut.header-start", f"{len(small)}-byte bundle of six float32 tensors cut at max-size 153: "
            "chunk 1 ends at 100, where tensor t1's item header starts, not at the capacity 101 inside it (§10.3)",
            "both", moved, oks(4), OK, stream.stream_digest(moved[0]), document=small, flags=["cut"])

    # ---- order: storing receivers take any order, sequential ones only index order
    rev = [b[0], *reversed(b[1:])]
    yield V("stream.storing.reverse", "data chunks in reverse order: a storing receiver accepts each", "storing",
            rev, oks(nb), OK, db, document=bundle)
    yield V("stream.sequential.reverse", "data chunks in reverse order: a sequential receiver rejects all but "
            "chunk 1 (CHUNK_OUT_OF_ORDER changes nothing), then chunk 2 is missing", "sequential",
            rev, [OK, *["CHUNK_OUT_OF_ORDER"] * (nb - 2), OK], "MISSING_CHUNK", db)
    swap = [b[0], b[2], b[1], *b[3:]]
    yield V("stream.sequential.out-of-order", "chunk 2 before chunk 1: rejected, so every later chunk is early "
            "too", "sequential", swap, [OK, "CHUNK_OUT_OF_ORDER", OK, *["CHUNK_OUT_OF_ORDER"] * (nb - 3)],
            "MISSING_CHUNK", db)
    yield V("stream.storing.out-of-order", "chunk 2 before chunk 1: a storing receiver never reports "
            "CHUNK_OUT_OF_ORDER", "storing", swap, oks(nb), OK, db, document=bundle)
    yield V("stream.sequential.resend-in-order", "chunk 2 rejected as early, then sent again in its turn",
            "sequential", [b[0], b[2], b[1], b[2], *b[3:]], oks(nb + 1, c1="CHUNK_OUT_OF_ORDER"), OK, db,
            document=bundle, flags=["resend"])

    # ---- a rejected chunk changes nothing: the corrected chunk is accepted
    yield V("stream.resend.altered", "chunk 2 altered (rejected), then the right chunk 2", "both",
            [b[0], b[1], flip(b[2]), *b[2:]], oks(nb + 1, c2="CHUNK_DIGEST_MISMATCH"), OK, db, document=bundle,
            flags=["resend"])
    yield V("stream.resend.truncated", "chunk 1 cut short (rejected), then the whole chunk 1", "both",
            [t[0], t[1][:-1], t[1], t[2]], oks(4, c1="TRUNCATED"), OK, dt, document=tensor, flags=["resend"])
    yield V("stream.resend.wrong-stream", "chunk 1 of another stream (rejected), then this stream's chunk 1",
            "both", [t[0], other[1], t[1], t[2]], oks(4, c1="WRONG_STREAM"), OK, dt, document=tensor,
            flags=["resend"])
    yield V("stream.resend.manifest", "another stream's manifest (rejected: STREAM_DIGEST_MISMATCH), then the "
            "right one", "both", [other[0], *t], oks(4, c0="STREAM_DIGEST_MISMATCH"), OK, dt, document=tensor,
            flags=["resend"])
    yield V("stream.resend.duplicate", "chunk 1 twice: the second is rejected, the stream completes", "both",
            [b[0], b[1], b[1], *b[2:]], oks(nb + 1, c2="DUPLICATE_CHUNK"), OK, db, document=bundle)

    # ---- quota (checked right after M11)
    yield V("stream.quota.exceeded", f"quota of {len(tensor) - 1} bytes, the stream declares {len(tensor)}", "both",
            t, ["QUOTA_EXCEEDED", "STREAM_DIGEST_MISMATCH", "STREAM_DIGEST_MISMATCH"], "MISSING_CHUNK", dt,
            quota=len(tensor) - 1,
            flags=["quota"])
    yield V("stream.quota.exact", f"quota of exactly {len(tensor)} bytes: accepted", "both", t, oks(3), OK, dt,
            quota=len(tensor), document=tensor, flags=["quota"])
    big = manifest(10**6, 1_900_000, bytes(32), bytes(32))
    yield V("stream.quota.before-data", "a 1,000,000-byte declaration against a quota of 1,000 with no expected "
            "digest: QUOTA_EXCEEDED at the manifest", "both", [big], ["QUOTA_EXCEEDED"], "MISSING_CHUNK",
            quota=1000, flags=["quota"])

    # ---- the manifest
    yield V("stream.manifest.digest-mismatch", "expected digest is another stream's", "both",
            t, ["STREAM_DIGEST_MISMATCH"] * 3, "MISSING_CHUNK", stream.stream_digest(other[0]))
    yield V("stream.manifest.is-data-chunk", "first chunk is a data chunk", "both", t[1:], ["UNEXPECTED_TYPE"] * 2,
            "MISSING_CHUNK")
    yield V("stream.manifest.is-document", "first chunk is a tensor document", "both", [tensor], ["BAD_MAGIC"],
            "MISSING_CHUNK")
    yield V("stream.manifest.empty-array", "chunk 0 is 55799(52083([]))", "both", [MAGIC + b"\x80"],
            ["UNEXPECTED_TYPE"], "MISSING_CHUNK")
    yield V("stream.manifest.version", "manifest version 2", "both", [t[0].replace(b"\x85\x01", b"\x85\x02", 1)],
            ["UNSUPPORTED_VERSION"], "MISSING_CHUNK", flags=["future-version"])
    yield V("stream.manifest.version-before-length", "a future manifest [2, doc-length, max-size] of 3 elements: "
            "the version is judged before the array length", "both",
            [MAGIC + b"\x83\x02\x18\x50\x18\x80"], ["UNSUPPORTED_VERSION"], "MISSING_CHUNK",
            flags=["future-version", "check-order"])
    yield V("stream.manifest.short-sha", "doc-sha256 of 31 bytes", "both",
            [MAGIC + b"\x85\x01\x18\x50\x18\x80\x58\x1f" + bytes(31) + b"\x58\x20" + bytes(32)],
            ["UNEXPECTED_TYPE"], "MISSING_CHUNK")
    yield V("stream.manifest.sha-truncated-before-length", "doc-sha256 head claims 33 bytes and the chunk ends 10 "
            "bytes later: TRUNCATED, because M7 reads the bytes before it judges their length", "both",
            [MAGIC + b"\x85\x01\x18\x50\x18\x80\x58\x21" + bytes(10)], ["TRUNCATED"], "MISSING_CHUNK",
            flags=["check-order"])
    yield V("stream.manifest.digests-not-multiple", "digests of 33 bytes", "both",
            [manifest(80, 128, bytes(32), bytes(33))], ["UNEXPECTED_TYPE"], "MISSING_CHUNK")
    yield V("stream.manifest.trailing", "a byte after the manifest", "both", [t[0] + b"\x00"], ["TRAILING_BYTES"],
            "MISSING_CHUNK")
    yield V("stream.manifest.too-large", "manifest longer than its own max-size", "both",
            [manifest(3, 128, bytes(32), bytes(96))], ["CHUNK_TOO_LARGE"], "MISSING_CHUNK")
    yield V("stream.manifest.length", "2 chunks of at most 76 payload bytes cannot carry 200 bytes", "both",
            [manifest(200, 128, bytes(32), bytes(64))], ["STREAM_LENGTH_MISMATCH"], "MISSING_CHUNK")
    yield V("stream.manifest.length-zero", "doc-length 0 (fewer bytes than chunks)", "both",
            [manifest(0, 128, bytes(32), bytes(32))], ["STREAM_LENGTH_MISMATCH"], "MISSING_CHUNK")
    yield V("stream.manifest.doc-length-overflow", "doc-length 2^63", "both",
            [manifest(1 << 63, 128, bytes(32), bytes(32))], ["SIZE_OVERFLOW"], "MISSING_CHUNK")
    yield V("stream.manifest.max-size-127", "max-size 127, one below the smallest allowed; the manifest is also "
            "longer than 127 bytes: INVALID_CHUNK_SIZE (M6) comes before CHUNK_TOO_LARGE (M10)", "both",
            [manifest(80, 127, bytes(32), bytes(96))], ["INVALID_CHUNK_SIZE"], "MISSING_CHUNK",
            flags=["check-order"])
    yield V("stream.manifest.max-size-0", "max-size 0", "both", [manifest(1, 0, bytes(32), bytes(32))],
            ["INVALID_CHUNK_SIZE"], "MISSING_CHUNK")
    yield V("stream.manifest.max-size-2^32", "max-size 2^32, one above the largest allowed", "both",
            [manifest(80, 1 << 32, bytes(32), bytes(32))], ["INVALID_CHUNK_SIZE"], "MISSING_CHUNK")
    yield V("stream.manifest.max-size-2^64-1", "max-size 2^64-1 (a 64-bit product with it would overflow)", "both",
            [manifest(1 << 62, (1 << 64) - 1, bytes(32), bytes(32 * 3))], ["INVALID_CHUNK_SIZE"], "MISSING_CHUNK")
    top = list(stream.chunks(tensor, (1 << 32) - 1))
    yield V("stream.manifest.max-size-2^32-1", "max-size 2^32-1, the largest allowed", "both", top, oks(2), OK,
            stream.stream_digest(top[0]), document=tensor)

    # ---- data chunks
    yield V("stream.chunk.missing-last", "the last chunk never comes", "both", b[:-1], oks(nb - 1),
            "MISSING_CHUNK", db)
    yield V("stream.chunk.missing-all", "only the manifest", "both", b[:1], oks(1), "MISSING_CHUNK", db)
    yield V("stream.chunk.empty-stream", "no chunk at all", "both", [], [], "MISSING_CHUNK", db)
    yield V("stream.chunk.index-zero", "data chunk with index 0", "both", [t[0], data_chunk(dt, 0, tensor[:76])],
            oks(2, c1="CHUNK_OUT_OF_RANGE"), "MISSING_CHUNK", dt)
    yield V("stream.chunk.index-past-end", "data chunk with index 3 of 2", "both",
            [t[0], t[1], t[2], data_chunk(dt, 3, b"x")], oks(4, c3="CHUNK_OUT_OF_RANGE"), OK, dt, document=tensor)
    yield V("stream.chunk.too-large", "data chunk over max-size", "both", [t[0], data_chunk(dt, 1, bytes(90))],
            oks(2, c1="CHUNK_TOO_LARGE"), "MISSING_CHUNK", dt)
    yield V("stream.chunk.too-large-garbage", "130 bytes of garbage: CHUNK_TOO_LARGE before any parsing", "both",
            [t[0], bytes(130)], oks(2, c1="CHUNK_TOO_LARGE"), "MISSING_CHUNK", dt, flags=["check-order"])
    yield V("stream.chunk.second-manifest", "the manifest again where chunk 1 belongs", "both", [t[0], t[0]],
            oks(2, c1="UNEXPECTED_TYPE"), "MISSING_CHUNK", dt)
    yield V("stream.chunk.trailing", "a byte after a data chunk", "both", [t[0], t[1] + b"\x00"],
            oks(2, c1="TRAILING_BYTES"), "MISSING_CHUNK", dt)
    yield V("stream.chunk.id-truncated-before-length", "stream-id head claims 33 bytes and the chunk ends 10 bytes "
            "later: TRUNCATED, because D5 reads the bytes before it judges their length", "both",
            [t[0], MAGIC + b"\x84\x01\x58\x21" + bytes(10)], oks(2, c1="TRUNCATED"), "MISSING_CHUNK", dt,
            flags=["check-order"])
    yield V("stream.chunk.version", "data chunk 1 with version 2", "both",
            [t[0], data_chunk(dt, 1, tensor[:76], version=2), t[1], t[2]], oks(4, c1="UNSUPPORTED_VERSION"), OK,
            dt, document=tensor, flags=["future-version"])
    yield V("stream.chunk.version-before-length", "a future data chunk [2, stream-id, index] of 3 elements: "
            "the version is judged before the array length", "both",
            [t[0], MAGIC + b"\x83\x02\x58\x20" + dt + b"\x01"], oks(2, c1="UNSUPPORTED_VERSION"),
            "MISSING_CHUNK", dt, flags=["future-version", "check-order"])

    # ---- check order (issue #8 section 4): tell the right order from the wrong one
    yield V("stream.order.wrong-stream-before-range", "another stream's chunk with index 9 (out of range here): "
            "WRONG_STREAM (D5) before CHUNK_OUT_OF_RANGE (D6)", "both",
            [t[0], data_chunk(stream.stream_digest(other[0]), 9, b"x")], oks(2, c1="WRONG_STREAM"),
            "MISSING_CHUNK", dt, flags=["check-order"])
    yield V("stream.order.wrong-stream-before-duplicate", "after chunk 1, another stream's chunk 1: WRONG_STREAM "
            "(D5) before DUPLICATE_CHUNK (D7)", "both", [t[0], t[1], other[1], t[2]], oks(4, c2="WRONG_STREAM"),
            OK, dt, document=tensor, flags=["check-order"])
    yield V("stream.order.digest-before-length", "chunk 1 with an altered payload one byte longer than the "
            "document: CHUNK_DIGEST_MISMATCH (D10) before STREAM_LENGTH_MISMATCH (D11)", "both",
            [t[0], data_chunk(dt, 1, tensor[:76] + bytes(5))], oks(2, c1="CHUNK_DIGEST_MISMATCH"),
            "MISSING_CHUNK", dt, flags=["check-order"])
    yield V("stream.order.digest-before-empty", "chunk 1 with an empty payload: CHUNK_DIGEST_MISMATCH (D10) "
            "before STREAM_LENGTH_MISMATCH (D11)", "both", [t[0], data_chunk(dt, 1, b"")],
            oks(2, c1="CHUNK_DIGEST_MISMATCH"), "MISSING_CHUNK", dt, flags=["check-order"])
    yield V("stream.order.duplicate-before-order", "chunks 1, 2, then 1 again: DUPLICATE_CHUNK (D7) before "
            "CHUNK_OUT_OF_ORDER (D8)", "both", [b[0], b[1], b[2], b[1], *b[3:]],
            oks(nb + 1, c3="DUPLICATE_CHUNK"), OK, db, document=bundle, flags=["check-order"])
    yield V("stream.order.range-before-order", "index N+1 first: CHUNK_OUT_OF_RANGE (D6) before "
            "CHUNK_OUT_OF_ORDER (D8)", "both", [t[0], data_chunk(dt, 3, b"x"), t[1], t[2]],
            oks(4, c1="CHUNK_OUT_OF_RANGE"), OK, dt, document=tensor, flags=["check-order"])

    # ---- a dishonest manifest (digests right, totals wrong)
    doc_sha = hashlib.sha256(tensor).digest()
    pieces = [tensor[:76], tensor[76:]]
    m = manifest(len(tensor) + 1, 128, doc_sha, b"".join(hashlib.sha256(p).digest() for p in pieces))
    sid = stream.stream_digest(m)
    c1, c2 = data_chunk(sid, 1, pieces[0]), data_chunk(sid, 2, pieces[1])
    yield V("stream.length.short", "payloads add up to one byte less than doc-length: the last chunk is "
            "rejected", "both", [m, c1, c2], oks(3, c2="STREAM_LENGTH_MISMATCH"), "MISSING_CHUNK", sid)
    yield V("stream.length.short-any-order", "the same, chunk 2 first: a storing receiver rejects chunk 1, the "
            "one that completes the set", "storing", [m, c2, c1], oks(3, c2="STREAM_LENGTH_MISMATCH"),
            "MISSING_CHUNK", sid)
    m = manifest(len(tensor) - 1, 128, doc_sha, b"".join(hashlib.sha256(p).digest() for p in pieces))
    sid = stream.stream_digest(m)
    yield V("stream.length.long", "payloads add up to one byte more than doc-length", "both",
            [m, data_chunk(sid, 1, pieces[0]), data_chunk(sid, 2, pieces[1])], oks(3, c2="STREAM_LENGTH_MISMATCH"),
            "MISSING_CHUNK", sid)
    m = manifest(len(tensor), 128, bytes(32), b"".join(hashlib.sha256(p).digest() for p in pieces))
    sid = stream.stream_digest(m)
    wrong_doc = [m, data_chunk(sid, 1, pieces[0]), data_chunk(sid, 2, pieces[1])]
    yield V("stream.document.digest", "every chunk right, doc-sha256 wrong, stream digest given: a sequential "
            "receiver hashes the document as it arrives (a storing one MAY skip E2 here)", "sequential",
            wrong_doc, oks(3), "DOCUMENT_DIGEST_MISMATCH", sid)
    yield V("stream.document.digest-no-expected", "every chunk right, doc-sha256 wrong, no stream digest: every "
            "receiver checks E2", "both", wrong_doc, oks(3), "DOCUMENT_DIGEST_MISMATCH")
    yield V("stream.document.digest-any-order", "the same in reverse order, no stream digest", "storing",
            [wrong_doc[0], wrong_doc[2], wrong_doc[1]], oks(3), "DOCUMENT_DIGEST_MISMATCH")


def write(out: Path) -> int:
    vecs = list(vectors())
    ids = [v.id for v in vecs]
    assert len(set(ids)) == len(ids), "duplicate vector id"
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    for stale in (out / "vectors").iterdir():
        if stale.suffix != ".cbor" or stale.stem not in ids:
            stale.unlink()
    for v in vecs:
        (out / "vectors" / f"{v.id}.cbor").write_bytes(v.file_bytes())
    doc = {"suite": "tensorcbor-conformance-stream", "suite_version": SUITE_VERSION, "spec_version": SPEC_VERSION,
           "format_version": 1, "generator": "python3 -m conformance.gen.stream_vectors",
           "vectors": [v.record() for v in vecs]}
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
