"""Chunk-sequence fuzzing through the stream adapter protocol (conformance/README.md, "Stream adapter protocol").

A stream input is a receiver kind (sequential or storing), an optional expected stream
digest, an optional quota, and a list of chunks. Inputs start from real chunk
sequences (``tensorcbor.stream.chunks`` of the corpus documents, at small chunk sizes)
and are edited at two levels: the sequence (drop, duplicate, swap, resend, truncate,
take a chunk from another stream) and the bytes of one chunk (the document mutations).
Answers are the per-chunk verdicts, the end verdict and the reassembled document's
SHA-256; any difference is a disagreement.

An input travels through the drivers as kind ``"stream"`` with a JSON body, so the
document drivers carry it unchanged: the Python driver asks the reference adapter's
``answer`` in process, an adapter program gets an ``op: "stream"`` request.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from .corpus import Seed
from .mutate import mutate

__all__ = ["STREAM", "stream_seeds", "mutate_stream", "request", "encode_input", "decode_input", "same_answer",
           "shrink_candidates"]

STREAM = "stream"


def encode_input(receiver: str, digest: bytes | None, quota: int | None, chunks: list[bytes]) -> bytes:
    return json.dumps({"receiver": receiver, "expected_digest": digest.hex() if digest is not None else None,
                       "quota": quota, "chunks": [c.hex() for c in chunks]}, separators=(",", ":")).encode()


def decode_input(data: bytes) -> dict[str, Any]:
    return dict(json.loads(data))


def request(data: bytes) -> dict[str, Any]:
    """The protocol request (without id) for a stream input."""
    body = decode_input(data)
    return {"op": "stream", **body}


def stream_seeds(corpus: list[Seed], rng: random.Random, count: int = 200) -> list[list[bytes]]:
    """Valid chunk sequences of corpus documents, cut at small chunk sizes (so a stream has several chunks)."""
    from ..stream import chunks

    out: list[list[bytes]] = []
    docs = [b for _, b in corpus]
    for _ in range(count * 3):
        if len(out) >= count:
            break
        doc = docs[rng.randrange(len(docs))]
        try:
            out.append(list(chunks(doc, rng.choice((128, 160, 200, 256, 512, 4096)))))
        except Exception:  # noqa: BLE001 - invalid documents cannot be cut; only valid ones make seeds
            continue
    return out


def mutate_stream(seeds: list[list[bytes]], rng: random.Random) -> tuple[bytes, list[str]]:
    """One stream input: a seed sequence with a few sequence-level or chunk-level edits, and its receiver setup."""
    base = seeds[rng.randrange(len(seeds))]
    seq = list(base)
    names: list[str] = []
    for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 4)):
        op = rng.choice(("drop", "duplicate", "swap", "resend", "truncate", "foreign", "chunk-bytes",
                         "chunk-bytes", "chunk-bytes", "reverse-data"))
        names.append(op)
        if not seq:
            seq = [b""]
        i = rng.randrange(len(seq))
        if op == "drop":
            del seq[i]
        elif op == "duplicate":
            seq.insert(rng.randrange(len(seq) + 1), seq[i])
        elif op == "swap" and len(seq) > 1:
            j = rng.randrange(len(seq))
            seq[i], seq[j] = seq[j], seq[i]
        elif op == "resend":  # a damaged chunk, then the right one (rejections change nothing)
            bad, _ = mutate(seq[i], rng, seq[i])
            seq.insert(i, bad)
        elif op == "truncate":
            seq = seq[:i]
        elif op == "foreign":
            other = seeds[rng.randrange(len(seeds))]
            seq.insert(rng.randrange(len(seq) + 1), other[rng.randrange(len(other))])
        elif op == "reverse-data":
            seq = seq[:1] + seq[1:][::-1]
        else:
            seq[i], _ = mutate(seq[i], rng, seq[rng.randrange(len(seq))])
    receiver = rng.choice(("sequential", "storing"))
    digest = hashlib.sha256(base[0]).digest() if base and rng.random() < 0.5 else None
    roll = rng.random()
    quota = None if roll < 0.8 else rng.choice((0, 1, 127, 128, 1 << 20, (1 << 64) - 1))
    return encode_input(receiver, digest, quota, seq), names


def same_answer(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Where two stream answers differ ('verdicts', 'end', 'document'), or None."""
    va, vb = a.get("verdicts"), b.get("verdicts")
    if va != vb:
        if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            k = next(i for i in range(len(va)) if va[i] != vb[i])
            return f"chunk {k}: {va[k]} / {vb[k]}"
        return "verdicts"
    if a.get("end") != b.get("end"):
        return f"end: {a.get('end')} / {b.get('end')}"
    if a.get("document_sha256") != b.get("document_sha256"):
        return "document"
    return None


def shrink_candidates(data: bytes) -> list[bytes]:
    """Smaller stream inputs: one chunk fewer, or one chunk cut in half."""
    body = decode_input(data)
    chunks = [bytes.fromhex(c) for c in body["chunks"]]
    digest = bytes.fromhex(body["expected_digest"]) if body["expected_digest"] else None
    out = []
    for i in range(len(chunks)):
        out.append(encode_input(body["receiver"], digest, body["quota"], chunks[:i] + chunks[i + 1:]))
    for i, c in enumerate(chunks):
        if len(c) > 1:
            cut = chunks[:i] + [c[:len(c) // 2]] + chunks[i + 1:]
            out.append(encode_input(body["receiver"], digest, body["quota"], cut))
    return out
