"""Chunked streams (SPEC.md §12): a document moved in message-sized, verifiable chunks.

A stream is one *manifest chunk* followed by data chunks 1..N. The data chunks'
payloads, concatenated, ARE the v1 document (byte for byte, so its alignment
holds once reassembled in one buffer). The manifest lists the SHA-256 of every
payload; the *stream digest* is the SHA-256 of the manifest chunk's bytes, so a
receiver that knows the stream digest up front can check the manifest, then each
data chunk the moment it arrives, and reject a wrong one at once.

    for chunk in stream.chunks(bundle_bytes):           # sender
        send(chunk)

    asm = stream.Assembler(expected_digest)              # receiver
    for chunk in received:
        for name, array in asm.feed(chunk):              # as soon as each tensor is complete
            use(name, array)
    asm.finish()                                         # MISSING_CHUNK etc.

Memory bound of ``Assembler``: the bytes it holds are those from the start of the
item it is waiting for (the document prefix up to the tensor map, or one tensor
item: name, header and element bytes) to the end of the last chunk received. So
at most ``max(prefix, largest tensor item) + max_size`` bytes, plus the arrays
it hands out (each a read-only view of its own bytes, no second copy), plus the
manifest (32 bytes per chunk).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .bundle import BundlePrefix, ItemCursor, bundle_parts, header_regions, read_tensors_head
from .cbor import Reader, head
from .codec import close_document, open_tensor_array, parse_tensor_document, read_version
from .errors import DecodeError, EncodeError
from .tensor import (
    BUNDLE_TAG,
    MAX_SIZE,
    SELF_DESCRIBE,
    TENSOR_MAGIC,
    TENSOR_TAG,
    TensorInfo,
    materialize,
    read_fields,
)

__all__ = [
    "STREAM_TAG", "DEFAULT_MAX_SIZE", "MIN_MAX_SIZE", "DATA_CHUNK_OVERHEAD", "Manifest", "Verifier",
    "Assembler", "chunks", "join", "parse_manifest", "stream_digest",
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
    """[start, first element byte) of each tensor header, in document order (SPEC.md §12.3)."""
    buf = doc.parts[0] if len(doc.parts) == 1 else doc.joined()
    r = Reader(buf)
    if bytes(buf[3:6]) == TENSOR_MAGIC[3:]:
        return [(0, parse_tensor_document(r).offset)]
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


def parse_manifest(chunk: bytes, expected_digest: bytes | None = None) -> Manifest:
    """Check and parse chunk 0 (SPEC.md §12.5, steps M1-M9)."""
    data = bytes(chunk)
    sid = hashlib.sha256(data).digest()
    if expected_digest is not None and sid != bytes(expected_digest):
        raise DecodeError("STREAM_DIGEST_MISMATCH", f"manifest SHA-256 is {sid.hex()}, expected "
                          f"{bytes(expected_digest).hex()}", 0)
    r = Reader(data)
    _open_chunk(r)
    start = r.pos
    n = r.expect(4, "the manifest array")
    if n != 5:
        raise r.fail("UNEXPECTED_TYPE", f"the manifest (chunk 0) is an array of 5 elements, found {n}"
                     + (" (this is a data chunk)" if n == 4 else ""), start)
    read_version(r)
    at = r.pos
    doc_length = r.expect(0, "the document length")
    if doc_length > MAX_SIZE:
        raise r.fail("SIZE_OVERFLOW", "the document length exceeds 2^63-1", at)
    max_size = r.expect(0, "the chunk size limit")
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
    count = size // DIGEST_SIZE
    cap = max_size - DATA_CHUNK_OVERHEAD
    if not count <= doc_length <= count * max(cap, 0):
        raise DecodeError("STREAM_LENGTH_MISMATCH", f"{count} chunks of 1 to {max(cap, 0)} payload bytes cannot "
                          f"carry a {doc_length}-byte document", 0)
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


def _digest_field(r: Reader, what: str) -> bytes:
    at = r.pos
    size = r.expect(2, what)
    begin = r.take(size, what)
    if size != DIGEST_SIZE:
        raise r.fail("UNEXPECTED_TYPE", f"{what} is 32 bytes, found {size}", at)
    return bytes(r.buf[begin:begin + size])


class Verifier:
    """Checks a stream chunk by chunk, in order (a *sequential receiver*, SPEC.md §12.5).

    ``verify`` returns each data chunk's payload once its stream id, index and digest
    are checked; ``finish`` reports missing chunks and checks the whole document.
    """

    def __init__(self, manifest_chunk: bytes, stream_digest: bytes | None = None) -> None:
        self.manifest = parse_manifest(manifest_chunk, stream_digest)
        self.next_index = 1
        self.received = 0
        self._hash = hashlib.sha256()

    @property
    def done(self) -> bool:
        return self.next_index > self.manifest.count

    def verify(self, chunk: bytes) -> memoryview:
        """Check one data chunk (steps D1-D7) and return its payload."""
        m = self.manifest
        if len(chunk) > m.max_size:
            raise DecodeError("CHUNK_TOO_LARGE", f"chunk of {len(chunk)} bytes exceeds the stream's "
                              f"{m.max_size}-byte limit", 0)
        view = memoryview(chunk).cast("B") if not isinstance(chunk, bytes) else chunk
        r = Reader(view)
        _open_chunk(r)
        start = r.pos
        n = r.expect(4, "the chunk array")
        if n != 4:
            raise r.fail("UNEXPECTED_TYPE", f"a data chunk is an array of 4 elements, found {n}"
                         + (" (this is a manifest)" if n == 5 else ""), start)
        read_version(r)
        sid = _digest_field(r, "the stream id")
        if sid != m.stream_digest:
            raise r.fail("WRONG_STREAM", f"chunk belongs to stream {sid.hex()[:16]}..., not "
                         f"{m.stream_digest.hex()[:16]}...", start + 2)
        at = r.pos
        index = r.expect(0, "the chunk index")
        if not 1 <= index <= m.count:
            raise r.fail("CHUNK_OUT_OF_RANGE", f"chunk index {index} is not in 1..{m.count}", at)
        if index < self.next_index:
            raise r.fail("DUPLICATE_CHUNK", f"chunk {index} was already received", at)
        if index > self.next_index:
            raise r.fail("CHUNK_OUT_OF_ORDER", f"chunk {index} arrived before chunk {self.next_index}", at)
        size = r.expect(2, "the payload")
        begin = r.take(size, "the payload")
        if r.pos != r.end:
            raise r.fail("TRAILING_BYTES", f"{r.end - r.pos} bytes follow the chunk")
        payload = memoryview(view)[begin:begin + size]
        if hashlib.sha256(payload).digest() != m.digest(index):
            raise DecodeError("CHUNK_DIGEST_MISMATCH", f"chunk {index}'s payload does not match its SHA-256 "
                              "in the manifest (altered or corrupted)", begin)
        if size == 0 or self.received + size > m.doc_length or (
                index == m.count and self.received + size != m.doc_length):
            raise DecodeError("STREAM_LENGTH_MISMATCH", f"chunk {index} brings the stream to "
                              f"{self.received + size} bytes; the manifest declares {m.doc_length}", begin)
        self.received += size
        self._hash.update(payload)
        self.next_index += 1
        return payload

    def finish(self) -> None:
        """The end of the stream: every chunk arrived, and the document has the manifest's SHA-256."""
        m = self.manifest
        if self.next_index <= m.count:
            raise DecodeError("MISSING_CHUNK", f"the stream ended after {self.next_index - 1} of {m.count} "
                              f"data chunks; chunk {self.next_index} is missing")
        if self._hash.digest() != m.doc_sha256:
            raise DecodeError("DOCUMENT_DIGEST_MISMATCH", "the reassembled document's SHA-256 differs from "
                              "the manifest's document digest")


def join(stream: Iterable[bytes], stream_digest: bytes | None = None) -> bytes:
    """Verify a whole stream (manifest first) and return the document it carries."""
    it = iter(stream)
    first = next(it, None)
    if first is None:
        raise DecodeError("MISSING_CHUNK", "the stream is empty: chunk 0 (the manifest) is missing")
    v = Verifier(first, stream_digest)
    out = bytearray()
    for chunk in it:
        out += v.verify(chunk)
    v.finish()
    return bytes(out)


# ------------------------------------------------------------------ receiving: tensors as they complete

class _NeedMore(Exception):
    """The parser reached the end of the bytes received so far."""


class _Window:
    """The received bytes [lo, hi) of the document, indexed by document offset.

    Reader and the tensor parser index this like the whole document; asking for a
    byte not received yet raises _NeedMore (once every chunk is in, reads past the
    end clip like bytes, so a truncated document gives TRUNCATED as usual).
    """

    __slots__ = ("data", "lo", "total")

    def __init__(self, total: int) -> None:
        self.data = bytearray()
        self.lo = 0
        self.total = total

    @property
    def hi(self) -> int:
        return self.lo + len(self.data)

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            start = self.lo if key.start is None else key.start
            stop = self.total if key.stop is None else key.stop
            if stop > self.hi and self.hi < self.total:
                raise _NeedMore
            assert start >= self.lo, (start, self.lo)
            return bytes(self.data[start - self.lo:stop - self.lo])
        if key >= self.hi:
            if self.hi < self.total:
                raise _NeedMore
            raise IndexError(key)
        return self.data[key - self.lo]

    def drop_before(self, pos: int) -> None:
        if pos > self.lo:
            del self.data[:pos - self.lo]
            self.lo = pos


class Assembler:
    """Receives a stream chunk by chunk and yields each tensor as soon as its bytes are in.

    The first chunk fed must be the manifest. Every chunk is verified on arrival
    (``Verifier``); the document is parsed incrementally with the strict rules of
    SPEC.md §7.1, so errors in the document itself have their usual codes. Names
    are the bundle's tensor names; a tensor document yields one tensor named "".
    Arrays are read-only (views of a private copy of the tensor's bytes).
    """

    def __init__(self, stream_digest: bytes | None = None) -> None:
        self._expected = stream_digest
        self._verifier: Verifier | None = None
        self._win: _Window | None = None
        self._reader: Reader | None = None
        self._prefix: BundlePrefix | None = None
        self._entries: ItemCursor | None = None
        self._pending: tuple[str, TensorInfo] | None = None
        self._kind = ""  # "", "tensor" or "bundle" once the prefix is read
        self._closed = False
        self.metadata: dict[str, Any] = {}

    @property
    def manifest(self) -> Manifest | None:
        return self._verifier.manifest if self._verifier else None

    @property
    def buffered(self) -> int:
        """Document bytes held right now (the memory bound of the module docstring)."""
        return len(self._win.data) if self._win else 0

    def feed(self, chunk: bytes) -> list[tuple[str, np.ndarray]]:
        """Verify one chunk and return the tensors it completes, in document order."""
        if self._verifier is None:
            self._verifier = Verifier(chunk, self._expected)
            self._win = _Window(self._verifier.manifest.doc_length)
            self._reader = Reader(self._win, 0, self._win.total)
            return []
        payload = self._verifier.verify(chunk)
        assert self._win is not None
        self._win.data += payload
        return self._advance()

    def finish(self) -> None:
        """Call after the last chunk: MISSING_CHUNK, digest and end-of-document checks."""
        if self._verifier is None:
            raise DecodeError("MISSING_CHUNK", "no chunk was received: chunk 0 (the manifest) is missing")
        self._verifier.finish()
        if not self._closed:  # cannot happen with a verified stream of a valid document
            raise DecodeError("TRUNCATED", "the document ends inside an item")

    def _advance(self) -> list[tuple[str, np.ndarray]]:
        out: list[tuple[str, np.ndarray]] = []
        r, win = self._reader, self._win
        assert r is not None and win is not None
        while not self._closed:
            mark = r.pos
            try:
                if not self._kind:
                    self._read_prefix(r)
                    continue
                if self._pending is None:
                    if self._entries is not None and self._entries.remaining == 0:
                        close_document(r)
                        self._closed = True
                        win.drop_before(r.pos)
                        break
                    self._pending = self._read_entry(r)
                name, info = self._pending
                end = info.offset + info.nbytes
                if win.hi < end:
                    break
                out.append((name, self._build(info)))
                self._pending = None
                win.drop_before(end)
                if self._kind == "tensor":
                    close_document(r)
                    self._closed = True
            except _NeedMore:
                r.pos = mark
                break
        return out

    def _read_prefix(self, r: Reader) -> None:
        assert self._win is not None
        if self._prefix is None and self._win[0:6][3:] == TENSOR_MAGIC[3:]:
            self._pending = ("", read_fields(r, open_tensor_array(r)))
            self._kind = "tensor"
            return
        # The bundle prefix [0, B) may span chunks: BundlePrefix resumes where it stopped, so only the
        # bytes from its last complete directory entry are kept (metadata is bounded by its 16 MiB limit).
        if self._prefix is None:
            self._prefix = BundlePrefix(r.strict)
        try:
            self._prefix.advance(r)
        finally:
            self._win.drop_before(self._prefix.pos)
        read_tensors_head(r, self._prefix)
        self.metadata = self._prefix.metadata
        self._entries = ItemCursor(self._prefix)
        self._kind = "bundle"
        self._win.drop_before(r.pos)

    def _read_entry(self, r: Reader) -> tuple[str, TensorInfo]:
        assert self._entries is not None
        return self._entries.read(r)  # ItemCursor changes state only once an item is read whole

    def _build(self, info: TensorInfo) -> np.ndarray:
        assert self._win is not None
        if info.strings is not None:
            return materialize(b"", info, copy=False)
        raw = self._win[info.offset:info.offset + info.nbytes]
        try:
            return materialize(raw, replace(info, offset=0), copy=False)
        except DecodeError as exc:
            where = None if exc.offset is None else exc.offset + info.offset
            message = str(exc).split(": ", 1)[-1]
            raise DecodeError(exc.code, message, where) from None


def assemble(stream: Iterable[bytes], stream_digest: bytes | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (name, array) from a stream of chunks as each tensor completes; checks the end too."""
    asm = Assembler(stream_digest)
    for chunk in stream:
        yield from asm.feed(chunk)
    asm.finish()
