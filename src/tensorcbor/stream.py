"""Chunked streams (SPEC.md §10): a document moved in message-sized, verifiable chunks.

A stream is one *manifest chunk* followed by data chunks 1..N. The data chunks'
payloads, concatenated, ARE the v1 document (byte for byte, so its alignment
holds once reassembled in one buffer). The manifest lists the SHA-256 of every
payload; the *stream digest* is the SHA-256 of the manifest chunk's bytes, so a
receiver that knows the stream digest up front can check the manifest, then each
data chunk the moment it arrives, and reject a wrong one at once.

    for chunk in stream.chunks(bundle_bytes):           # sender
        send(chunk)

    asm = stream.Assembler(expected_digest, quota=q)     # receiver that decodes as chunks arrive
    for chunk in received:
        for name, array in asm.feed(chunk):              # as soon as each tensor is complete
            use(name, array)
    asm.finish()                                         # MISSING_CHUNK, DOCUMENT_DIGEST_MISMATCH

Receivers (SPEC.md §10.4): ``SequentialReceiver`` takes data chunks in index order and
hashes the document as it arrives; ``StoringReceiver`` keeps verified chunks in any
order and assembles the document as its contiguous prefix grows; ``Assembler``
(stream_decode.py) is a sequential receiver that also decodes. All run the same
checks, and a rejected chunk changes none of them: the right chunk may follow.

Memory bound of ``Assembler`` (SPEC.md §10.5): the parsing window holds the unit being
read (the document prefix with the metadata, or one tensor header or string array)
plus the rest of the current payload; a tensor's element bytes are copied once into
storage of their own, which the returned array views. So about one copy of the
largest tensor, plus one payload, plus the manifest (32 bytes per chunk).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .bundle import bundle_parts, header_regions
from .cbor import Reader, head
from .codec import open_versioned_array, parse_tensor_document
from .errors import DecodeError, EncodeError
from .tensor import (
    BUNDLE_TAG,
    MAX_SIZE,
    SELF_DESCRIBE,
    TENSOR_MAGIC,
    TENSOR_TAG,
)

__all__ = [
    "STREAM_TAG", "DEFAULT_MAX_SIZE", "MIN_MAX_SIZE", "MAX_MAX_SIZE", "DATA_CHUNK_OVERHEAD", "Manifest", "DataChunk",
    "SequentialReceiver", "StoringReceiver", "Verifier", "Assembler", "assemble", "chunks", "join",
    "parse_manifest", "stream_digest",
]

STREAM_TAG = 52083  # 0xcb73, "s"
STREAM_MAGIC = SELF_DESCRIBE + head(6, STREAM_TAG)
DEFAULT_MAX_SIZE = 1_900_000
"""Default chunk size limit, in bytes of the whole encoded chunk.

An ICP ingress message is at most 2 MiB (2,097,152 bytes) including its HTTP/CBOR
envelope (sender, canister id, method name, nonce, expiry, signature, public key
and a delegation chain of a few KiB) and the Candid encoding of the arguments.
1,900,000 bytes leaves 197,152 bytes (193 KiB) for all of that, the same margin
the IC asset uploader (``ic-asset``'s 1,900,000-byte chunks) relies on."""
MIN_MAX_SIZE = 128
MAX_MAX_SIZE = (1 << 32) - 1
DATA_CHUNK_OVERHEAD = 52
"""Bytes of a data chunk besides its payload, at most: magic 6, array head 1, version 1,
stream id 34, index head 5, payload head 5. A payload holds ``max_size - 52`` bytes."""
DIGEST_SIZE = 32
_MANIFEST_FIXED = 6 + 2 + 9 + 5 + 2 + DIGEST_SIZE + 5  # magic, array+version, doc length, max size, doc sha, head
_ID_HEAD = head(2, DIGEST_SIZE)

Source = bytes | bytearray | memoryview | Mapping[str, Any]


# ------------------------------------------------------------------ sending

def chunks(data_or_bundle: Source, max_size: int = DEFAULT_MAX_SIZE, *,
           metadata: Mapping[str, Any] | None = None, **encode_options: Any) -> Iterator[bytes]:
    """The chunks of a stream: the manifest first, then data chunks 1..N, each at most `max_size` bytes.

    `data_or_bundle` is an encoded document (tensor or bundle; it is parsed to find the
    tensor headers, which are never split when they fit in a chunk), or a mapping of
    name -> array that is encoded as a bundle with `metadata` (a decoded ``Bundle``
    brings its own metadata). `encode_options` go to the bundle encoder. The output is a
    deterministic function of (document, max_size), so is the stream digest.
    """
    if not MIN_MAX_SIZE <= max_size <= MAX_MAX_SIZE:
        raise EncodeError(f"max_size must be between {MIN_MAX_SIZE} and {MAX_MAX_SIZE} bytes, got {max_size}")
    doc = _Concat(_source_parts(data_or_bundle, metadata, encode_options))
    regions = _header_regions(doc)
    bounds = _boundaries(doc.length, max_size - DATA_CHUNK_OVERHEAD, regions)
    doc_hash = hashlib.sha256()
    digests = bytearray()
    for start, end in bounds:
        piece = doc.slice(start, end)
        doc_hash.update(piece)
        digests += hashlib.sha256(piece).digest()
    manifest = _encode_manifest(doc.length, max_size, doc_hash.digest(), bytes(digests))
    if len(manifest) > max_size:
        raise EncodeError(f"{len(bounds)} chunks do not fit in one {max_size}-byte manifest; "
                          "choose a larger max_size")
    yield manifest
    sid = hashlib.sha256(manifest).digest()
    prefix = STREAM_MAGIC + b"\x84\x01" + _ID_HEAD + sid
    for index, (start, end) in enumerate(bounds, 1):
        piece = doc.slice(start, end)
        yield b"".join((prefix, head(0, index), head(2, len(piece)), piece))


def stream_digest(manifest_chunk: bytes) -> bytes:
    """The stream digest: SHA-256 of the manifest chunk's bytes (also every data chunk's stream id)."""
    return hashlib.sha256(manifest_chunk).digest()


def _encode_manifest(length: int, max_size: int, doc_sha: bytes, digests: bytes) -> bytes:
    return b"".join((STREAM_MAGIC, b"\x85\x01", head(0, length), head(0, max_size), _ID_HEAD, doc_sha,
                     head(2, len(digests)), digests))


def _source_parts(src: Source, metadata: Mapping[str, Any] | None,
                  options: Mapping[str, Any]) -> list[Any]:
    if isinstance(src, (bytes, bytearray, memoryview)):
        if metadata is not None or options:
            raise EncodeError("metadata and encoding options apply to a mapping of tensors, not to encoded bytes")
        return [src]
    if isinstance(src, Mapping):
        meta = metadata if metadata is not None else getattr(src, "metadata", None)
        return list(bundle_parts(src, meta, **options))
    raise EncodeError(f"chunks() takes an encoded document (bytes) or a mapping of tensors, "
                      f"not {type(src).__name__}")


class _Concat:
    """A document given as pieces (the encoder's zero-copy parts), sliced without joining it."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = [_byte_view(p) for p in parts]
        self.starts = []
        pos = 0
        for p in self.parts:
            self.starts.append(pos)
            pos += p.nbytes
        self.length = pos

    def slice(self, start: int, end: int) -> bytes:
        out = []
        for p, s in zip(self.parts, self.starts, strict=True):
            e = s + p.nbytes
            if e <= start or s >= end:
                continue
            out.append(p[max(start - s, 0):min(end, e) - s])
        return b"".join(out)

    def joined(self) -> bytes:
        return self.parts[0].tobytes() if len(self.parts) == 1 else b"".join(self.parts)


def _byte_view(part: Any) -> memoryview:
    view = memoryview(part)
    if view.nbytes == 0:
        return memoryview(b"")
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _header_regions(doc: _Concat) -> list[tuple[int, int]]:
    """[start, first byte of the data range) of each tensor header, in document order (SPEC.md §10.3)."""
    buf = doc.parts[0] if len(doc.parts) == 1 else doc.joined()
    if bytes(buf[3:6]) == TENSOR_MAGIC[3:]:
        return [(0, parse_tensor_document(Reader(buf)).offset)]
    return header_regions(buf)


def _boundaries(length: int, cap: int, regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The canonical payload boundaries: greedy, but never ending inside a header that starts later."""
    out = []
    start, i = 0, 0
    while start < length:
        end = min(start + cap, length)
        while i < len(regions) and regions[i][1] <= end:
            i += 1  # regions entirely before `end` cannot contain it
        if i < len(regions):
            h, d = regions[i]
            if h < end < d and h > start:
                end = h
        out.append((start, end))
        start = end
    return out


# ------------------------------------------------------------------ receiving: integrity

@dataclass(frozen=True)
class Manifest:
    """A parsed manifest chunk."""

    doc_length: int
    max_size: int
    doc_sha256: bytes
    digests: bytes
    """SHA-256 of each data chunk's payload, 32 bytes each, chunk 1 first."""
    stream_digest: bytes

    @property
    def count(self) -> int:
        """Number of data chunks."""
        return len(self.digests) // DIGEST_SIZE

    def digest(self, index: int) -> bytes:
        return self.digests[(index - 1) * DIGEST_SIZE:index * DIGEST_SIZE]


def parse_manifest(chunk: bytes | bytearray | memoryview, expected_digest: bytes | None = None,
                   quota: int | None = None) -> Manifest:
    """Check and parse chunk 0 (SPEC.md §10.4, steps M1-M12); `quota` bounds the declared document length."""
    data = bytes(chunk)
    sid = hashlib.sha256(data).digest()
    if expected_digest is not None and sid != bytes(expected_digest):
        raise DecodeError("STREAM_DIGEST_MISMATCH", f"manifest SHA-256 is {sid.hex()}, expected "
                          f"{bytes(expected_digest).hex()}", 0)
    r = Reader(data)
    _open_chunk(r)
    _open_array(r, 5, "the manifest (chunk 0)", " (this is a data chunk)")
    at = r.pos
    doc_length = r.expect(0, "the document length")
    if doc_length > MAX_SIZE:
        raise r.fail("SIZE_OVERFLOW", "the document length exceeds 2^63-1", at)
    at = r.pos
    max_size = r.expect(0, "the chunk size limit")
    if not MIN_MAX_SIZE <= max_size <= MAX_MAX_SIZE:
        raise r.fail("INVALID_CHUNK_SIZE", f"max-size {max_size} is outside {MIN_MAX_SIZE}..{MAX_MAX_SIZE}", at)
    doc_sha = _digest_field(r, "the document SHA-256")
    at = r.pos
    size = r.expect(2, "the chunk digests")
    begin = r.take(size, "the chunk digests")
    if size == 0 or size % DIGEST_SIZE:
        raise r.fail("UNEXPECTED_TYPE", f"the chunk digests are 32 bytes per chunk and at least one chunk, "
                     f"found {size} bytes", at)
    if r.pos != r.end:
        raise r.fail("TRAILING_BYTES", f"{r.end - r.pos} bytes follow the manifest")
    if len(data) > max_size:
        raise DecodeError("CHUNK_TOO_LARGE", f"the manifest is {len(data)} bytes, over its own chunk size "
                          f"limit of {max_size}", 0)
    count = size // DIGEST_SIZE  # < 2^27 now (the manifest holds 32 bytes per chunk in < 2^32 bytes)
    cap = max_size - DATA_CHUNK_OVERHEAD  # >= 76 after M6; count * cap < 2^59: no 64-bit overflow
    if not count <= doc_length <= count * cap:
        raise DecodeError("STREAM_LENGTH_MISMATCH", f"{count} chunks of 1 to {cap} payload bytes cannot "
                          f"carry a {doc_length}-byte document", 0)
    if quota is not None and doc_length > quota:
        raise DecodeError("QUOTA_EXCEEDED", f"the stream declares a {doc_length}-byte document; this receiver "
                          f"accepts at most {quota} bytes", 0)
    return Manifest(doc_length, max_size, doc_sha, data[begin:begin + size], sid)


def _open_chunk(r: Reader) -> None:
    if r.buf[:6] == STREAM_MAGIC:
        r.pos = 6
        return
    if len(r.buf) < 3 and bytes(r.buf) == SELF_DESCRIBE[:len(r.buf)]:
        raise r.fail("TRUNCATED", "the input ends inside the self-described CBOR tag")
    if bytes(r.buf[:3]) != SELF_DESCRIBE:
        raise r.fail("BAD_MAGIC", "not a tensorcbor chunk: it must start with d9d9f7 d9cb73")
    r.pos = 3
    m, _, tag = r.head()
    what = {TENSOR_TAG: " (a tensor document)", BUNDLE_TAG: " (a bundle document)"}.get(tag, "") if m == 6 else ""
    raise r.fail("BAD_MAGIC", f"not a tensorcbor chunk{what}: expected tag 52083 after d9d9f7", 3)


def _open_array(r: Reader, want: int, what: str, hint: str) -> None:
    """The array head, the version, then the array length (the version order of SPEC.md §5.3)."""
    start = r.pos
    n = open_versioned_array(r, what)
    if n != want:
        other = hint if n in (4, 5) else ""
        raise r.fail("UNEXPECTED_TYPE", f"{what} is an array of {want} elements, found {n}{other}", start)


def _digest_field(r: Reader, what: str) -> bytes:
    at = r.pos
    size = r.expect(2, what)
    begin = r.take(size, what)
    if size != DIGEST_SIZE:
        raise r.fail("UNEXPECTED_TYPE", f"{what} is 32 bytes, found {size}", at)
    return bytes(r.buf[begin:begin + size])


@dataclass(frozen=True)
class DataChunk:
    """A data chunk that passed every check of SPEC.md §10.4 (D1-D11)."""

    index: int
    payload: memoryview


class _Receiver:
    """What sequential and storing receivers share: the manifest, and checks D1-D11 of SPEC.md §10.4.

    A rejected chunk changes nothing (every check runs before any state is touched), so an
    honest uploader can resend a corrected chunk after a bad one. Until a manifest is
    accepted, every chunk is checked as a manifest.
    """

    sequential = False

    def __init__(self, expected_digest: bytes | None = None, *, quota: int | None = None) -> None:
        self.expected_digest = None if expected_digest is None else bytes(expected_digest)
        self.quota = quota
        self.manifest: Manifest | None = None
        self.received = 0
        """Payload bytes accepted so far."""
        self.have: set[int] = set()

    @property
    def complete(self) -> bool:
        return self.manifest is not None and len(self.have) == self.manifest.count

    def accept(self, chunk: bytes | bytearray | memoryview) -> DataChunk | None:
        """Check one chunk; the manifest if none is accepted yet (returns None), else a data chunk."""
        if self.manifest is None:
            self.manifest = parse_manifest(chunk, self.expected_digest, self.quota)
            return None
        data = self._check(chunk)
        self.received += data.payload.nbytes
        self.have.add(data.index)
        self._store(data)
        return data

    def _store(self, data: DataChunk) -> None:
        """Keep an accepted chunk (subclasses)."""

    def _check(self, chunk: bytes | bytearray | memoryview) -> DataChunk:
        m = self.manifest
        assert m is not None
        size = memoryview(chunk).nbytes
        if size > m.max_size:
            raise DecodeError("CHUNK_TOO_LARGE", f"chunk of {size} bytes exceeds the stream's "
                              f"{m.max_size}-byte limit", 0)
        view = chunk if isinstance(chunk, bytes) else memoryview(chunk).cast("B")
        r = Reader(view)
        _open_chunk(r)
        start = r.pos
        _open_array(r, 4, "a data chunk", " (this is a manifest)")
        sid = _digest_field(r, "the stream id")
        if sid != m.stream_digest:
            raise r.fail("WRONG_STREAM", f"chunk belongs to stream {sid.hex()[:16]}..., not "
                         f"{m.stream_digest.hex()[:16]}...", start + 2)
        at = r.pos
        index = r.expect(0, "the chunk index")
        if not 1 <= index <= m.count:
            raise r.fail("CHUNK_OUT_OF_RANGE", f"chunk index {index} is not in 1..{m.count}", at)
        if index in self.have:
            raise r.fail("DUPLICATE_CHUNK", f"chunk {index} was already received", at)
        if self.sequential and index != len(self.have) + 1:
            raise r.fail("CHUNK_OUT_OF_ORDER", f"chunk {index} arrived before chunk {len(self.have) + 1}", at)
        size = r.expect(2, "the payload")
        begin = r.take(size, "the payload")
        if r.pos != r.end:
            raise r.fail("TRAILING_BYTES", f"{r.end - r.pos} bytes follow the chunk")
        payload = memoryview(view)[begin:begin + size]
        if hashlib.sha256(payload).digest() != m.digest(index):
            raise DecodeError("CHUNK_DIGEST_MISMATCH", f"chunk {index}'s payload does not match its SHA-256 "
                              "in the manifest (altered or corrupted)", begin)
        total = self.received + size
        if size == 0 or total > m.doc_length or (len(self.have) + 1 == m.count and total != m.doc_length):
            raise DecodeError("STREAM_LENGTH_MISMATCH", f"chunk {index} brings the stream to {total} bytes; "
                              f"the manifest declares {m.doc_length}", begin)
        return DataChunk(index, payload)

    def _check_end(self) -> Manifest:
        """E1: the manifest and every data chunk arrived."""
        m = self.manifest
        if m is None:
            raise DecodeError("MISSING_CHUNK", "no manifest was accepted: chunk 0 (the manifest) is missing")
        if len(self.have) < m.count:
            missing = next(i for i in range(1, m.count + 1) if i not in self.have)
            raise DecodeError("MISSING_CHUNK", f"the stream ended with {len(self.have)} of {m.count} data "
                              f"chunks; chunk {missing} is missing")
        return m


class SequentialReceiver(_Receiver):
    """A receiver that takes data chunks in index order (SPEC.md §10.4) and hashes the document as it arrives.

    ``accept`` returns each data chunk's payload view once checked: the caller consumes
    it (writes it out, decodes it) before the next chunk.
    """

    sequential = True

    def __init__(self, expected_digest: bytes | None = None, *, quota: int | None = None) -> None:
        super().__init__(expected_digest, quota=quota)
        self._hash = hashlib.sha256()

    @property
    def next_index(self) -> int:
        return len(self.have) + 1

    def _store(self, data: DataChunk) -> None:
        self._hash.update(data.payload)  # E2, incrementally

    def finish(self) -> None:
        """The end of the stream: E1, then E2 (the document's SHA-256, hashed as it arrived)."""
        m = self._check_end()
        if self._hash.digest() != m.doc_sha256:
            raise DecodeError("DOCUMENT_DIGEST_MISMATCH", "the reassembled document's SHA-256 differs from "
                              "the manifest's document digest")


class StoringReceiver(_Receiver):
    """A receiver that keeps verified chunks in any order and assembles the document (SPEC.md §10.4).

    The document grows as a contiguous prefix: a chunk that extends it is appended (and
    hashed for E2) at once, together with any later chunks already waiting; others wait
    in a dictionary. So the document is held once, and never hashed a second time.
    ``skip_document_digest`` (allowed only with an expected stream digest, which already
    fixes the document) skips E2.
    """

    def __init__(self, expected_digest: bytes | None = None, *, quota: int | None = None,
                 skip_document_digest: bool = False) -> None:
        super().__init__(expected_digest, quota=quota)
        if skip_document_digest and expected_digest is None:
            raise ValueError("skip_document_digest needs an expected stream digest (SPEC.md §10.4, E2)")
        self._skip = skip_document_digest
        self._hash = hashlib.sha256()
        self._doc = bytearray()
        self._waiting: dict[int, bytes] = {}
        self._next = 1

    def _store(self, data: DataChunk) -> None:
        if data.index != self._next:
            self._waiting[data.index] = bytes(data.payload)
            return
        self._append(data.payload)
        while self._next in self._waiting:
            self._append(self._waiting.pop(self._next))

    def _append(self, payload: bytes | memoryview) -> None:
        self._doc += payload
        if not self._skip:
            self._hash.update(payload)
        self._next += 1

    def finish(self) -> bytes:
        """E1 and E2; returns the document."""
        m = self._check_end()
        if not self._skip and self._hash.digest() != m.doc_sha256:
            raise DecodeError("DOCUMENT_DIGEST_MISMATCH", "the reassembled document's SHA-256 differs from "
                              "the manifest's document digest")
        return bytes(self._doc)


class Verifier(SequentialReceiver):
    """A sequential receiver built from its manifest chunk (the older interface, kept for callers)."""

    def __init__(self, manifest_chunk: bytes, stream_digest: bytes | None = None, *,
                 quota: int | None = None) -> None:
        super().__init__(stream_digest, quota=quota)
        self.accept(manifest_chunk)

    @property
    def done(self) -> bool:
        return self.complete

    def verify(self, chunk: bytes | bytearray | memoryview) -> memoryview:
        """Check one data chunk (steps D1-D11) and return its payload."""
        data = self.accept(chunk)
        assert data is not None
        return data.payload


def join(stream: Iterable[bytes], stream_digest: bytes | None = None, *, quota: int | None = None) -> bytes:
    """Verify a whole stream in order (manifest first) and return the document it carries."""
    rx = SequentialReceiver(stream_digest, quota=quota)
    out = bytearray()
    for chunk in stream:
        data = rx.accept(chunk)
        if data is not None:
            out += data.payload
    rx.finish()
    return bytes(out)


from .stream_decode import Assembler, assemble  # noqa: E402  (it builds on the receivers above)
