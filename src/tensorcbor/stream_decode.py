"""Decoding a stream's document while its chunks arrive (SPEC.md §10.5), in linear time and about one copy.

The document is read as a sequence of *units* (the document prefix with the metadata,
then one tensor item after another). A unit is parsed by the ordinary strict decoder
(`Reader`, `read_fields`, ...) over the bytes received so far; when it runs out of
bytes, the attempt is dropped and repeated only once the bytes it asked for have
arrived. Two kinds of unit can be long and made of many small items, the metadata and
a string tensor's array: for those a resumable scanner (`_ItemScanner`, each head read
once) finds where the item ends first, so each is parsed once. Hence the total work is
linear in the document, whatever the chunk size.

Memory: element bytes of a numeric (or compressed) tensor never stay in the parsing
window: from its header on, they are copied once into a buffer of the tensor's own,
which becomes the array's storage (`_Fill`). The window holds only the unit being
parsed plus the rest of the current payload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from .bundle import BundlePrefix, ItemCursor, read_tensors_head
from .cbor import DEFAULT_MAX_DECOMPRESSED, MAX_METADATA_BYTES, MAX_NESTING, Reader
from .codec import close_document, open_tensor_array
from .errors import DecodeError
from .stream import Manifest, SequentialReceiver
from .tensor import BUNDLE_MAGIC, TENSOR_MAGIC, TensorInfo, materialize, read_fields

__all__ = ["Assembler", "assemble"]

_LAZY_TAKES = frozenset({"the element data", "the compressed data"})
"""`Reader.take` calls whose bytes the parser never reads (they go to the tensor's own buffer)."""
_STRING_ARRAY = "the string array"
"""What `read_fields` expects when a string tensor's array begins (the scanner starts there)."""
_MAX_HEAD = 9
_METADATA_START = 8  # magic (6), the bundle array head (1), the version (1)
_BUNDLE_OPENING = BUNDLE_MAGIC + b"\x85\x01"  # what makes _METADATA_START right
_SCAN_FIRST = 65536
"""A bundle prefix longer than this in the first bytes received is scanned for its end before it is parsed."""


class _NeedMore(Exception):
    """The parser asked for bytes that have not arrived; `end` is the buffer position it needs."""

    def __init__(self, end: int) -> None:
        super().__init__(end)
        self.end = end


class _Window:
    """The received, not yet consumed document bytes [lo, hi), kept in one bytearray.

    The consumed prefix is cut off lazily (when it is more than half the buffer), so
    dropping consumed bytes costs amortized O(1) per byte. Buffer index and document
    offset stay congruent modulo 8, so the parser's alignment checks (SPEC.md §4.3)
    see the document's offsets.
    """

    __slots__ = ("data", "start", "lo")

    def __init__(self) -> None:
        self.data = bytearray()
        self.start = 0
        self.lo = 0

    @property
    def hi(self) -> int:
        return self.lo + len(self.data) - self.start

    @property
    def delta(self) -> int:
        """Document offset minus buffer index."""
        return self.lo - self.start

    def __len__(self) -> int:
        return len(self.data) - self.start

    def append(self, view: memoryview) -> None:
        self.data += view

    def drop_before(self, pos: int) -> None:
        """Forget the bytes before document offset `pos` (lo <= pos <= hi)."""
        self.start += pos - self.lo
        self.lo = pos
        if self.start > 65536 and self.start * 2 > len(self.data):
            cut = self.start - self.start % 8
            del self.data[:cut]
            self.start -= cut

    def restart(self, pos: int) -> None:
        """An empty window whose next byte is document offset `pos`."""
        assert len(self) == 0
        self.start = pos % 8
        self.data = bytearray(self.start)
        self.lo = pos


class _StreamReader(Reader):
    """A strict `Reader` over the window: a read past the received bytes raises `_NeedMore`.

    Reads past the document's end still raise TRUNCATED (the length is known), and the
    element data of a tensor is skipped without being present (it goes to a `_Fill`).
    """

    __slots__ = ("avail", "string_start")

    def __init__(self, win: _Window, pos: int, total: int) -> None:
        super().__init__(win.data, pos - win.delta, total - win.delta)
        self.avail = len(win.data)
        self.string_start: int | None = None

    def need(self, n: int, what: str) -> None:
        if self.end - self.pos < n:
            super().need(n, what)  # TRUNCATED: the document is shorter
        if self.avail - self.pos < n:
            raise _NeedMore(self.pos + n)

    def take(self, n: int, what: str) -> int:
        if what in _LAZY_TAKES:
            if self.end - self.pos < n:
                super().need(n, what)
            start = self.pos
            self.pos = start + n
            return start
        return super().take(n, what)

    def expect(self, major: int, what: str) -> int:
        if what == _STRING_ARRAY:
            self.string_start = self.pos
        return super().expect(major, what)


class _ItemScanner:
    """Finds where one CBOR data item ends, resuming as bytes arrive; every head is read once.

    It checks nothing: on anything the strict parser must judge (a reserved or
    indefinite-length initial byte, deep nesting, metadata past 16 MiB) it stops
    ("stuck"), and the parser is run over the bytes up to there.
    """

    __slots__ = ("pos", "stack", "done", "stuck", "limit", "over_limit")

    def __init__(self, pos: int, limit: int | None = None) -> None:
        self.pos = pos  # document offset of the next head
        self.stack = [1]  # items still to read at each open level
        self.done = False
        self.stuck = False
        self.limit = limit  # document offset that no head plus string content may pass
        self.over_limit = False

    def advance(self, win: _Window) -> None:
        data, delta, hi = win.data, win.delta, win.hi
        while not (self.done or self.stuck) and self.pos < hi:
            at = self.pos - delta
            ib = data[at]
            major, ai = ib >> 5, ib & 31
            if ai < 24:
                size, arg = 1, ai
            elif ai < 28:
                size = 1 + (1 << (ai - 24))
                if self.pos + size > hi:
                    return
                arg = int.from_bytes(data[at + 1:at + size], "big")
            else:
                self.stuck = True
                return
            end = self.pos + size + (arg if major in (2, 3) else 0)
            if self.limit is not None and end > self.limit:
                self.stuck = self.over_limit = True
                return
            self.pos = end
            if major == 6:
                continue  # the tagged item follows and completes this slot
            if major in (4, 5) and arg:
                if len(self.stack) > MAX_NESTING + 1:
                    self.stuck = True
                    return
                self.stack.append(arg if major == 4 else 2 * arg)
                continue
            self._completed()

    def _completed(self) -> None:
        while True:
            self.stack[-1] -= 1
            if self.stack[-1]:
                return
            self.stack.pop()
            if not self.stack:
                self.done = True
                return

    def ready(self, hi: int) -> bool:
        """Whether the parser can now get past this item (or reach what stopped the scan)."""
        if self.done:
            return hi >= self.pos
        return self.stuck and hi >= self.pos + _MAX_HEAD


class _Gate:
    """When to retry a unit: only once the bytes the last attempt asked for are in."""

    __slots__ = ("need", "scanner", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.need = start
        self.scanner: _ItemScanner | None = None

    def ready(self, win: _Window, total: int) -> bool:
        hi = win.hi
        if hi >= total:
            return True
        if hi < self.need:
            return False
        if self.scanner is None:
            return True
        self.scanner.advance(win)
        return self.scanner.ready(hi)


class _Fill:
    """A tensor's element bytes, copied once into storage of their own as they arrive."""

    __slots__ = ("name", "info", "doc_offset", "buf")

    def __init__(self, name: str, info: TensorInfo, doc_offset: int) -> None:
        self.name = name
        self.info = replace(info, offset=0)
        self.doc_offset = doc_offset
        self.buf = bytearray()

    @property
    def end(self) -> int:
        return self.doc_offset + self.info.nbytes

    @property
    def missing(self) -> int:
        return self.info.nbytes - len(self.buf)

    def build(self) -> np.ndarray:
        """The array (element checks of SPEC.md §7.2 included), a read-only view of this buffer."""
        try:
            return materialize(self.buf, self.info, copy=False)
        except DecodeError as exc:
            raise _moved(exc, self.doc_offset) from None


def _moved(exc: DecodeError, shift: int) -> DecodeError:
    """The same error with its offset moved by `shift` (buffer or tensor offsets -> document offsets)."""
    if exc.offset is None or not shift:
        return exc
    message = str(exc).split(": ", 1)[-1]
    return DecodeError(exc.code, message, exc.offset + shift)


Step = Callable[[_StreamReader], None]


class Assembler:
    """Receives a stream chunk by chunk and yields each tensor as soon as its bytes are in.

    The first chunk accepted must be the manifest. Every chunk is checked on arrival
    (a `SequentialReceiver`: a rejected chunk changes nothing, the right one can follow);
    the document is parsed incrementally with the strict rules of SPEC.md §7, so errors
    in the document itself have their usual codes, and once one is found the Assembler
    reports it for every later call. Names are the bundle's tensor names; a tensor
    document yields one tensor named "". Arrays are read-only views of a buffer of their
    own (no second copy).
    """

    def __init__(self, stream_digest: bytes | None = None, *, quota: int | None = None) -> None:
        self._rx = SequentialReceiver(stream_digest, quota=quota)
        self._win = _Window()
        self._total = 0
        self._pos = 0  # document offset where the current unit starts
        self._step: Step = self._read_start
        self._gate = _Gate(0)
        self._fill: _Fill | None = None
        self._prefix: BundlePrefix | None = None
        self._prefix_pos = 0  # document offset where the BundlePrefix resumes
        self._base = 0  # B, the data base, as a document offset
        self._items: ItemCursor | None = None
        self._bundle = False
        self._out: list[tuple[str, np.ndarray]] = []
        self._closed = False
        self._error: DecodeError | None = None
        self._budget = DEFAULT_MAX_DECOMPRESSED  # one decode call's limit on declared decompressed bytes (§11.4)
        self.metadata: dict[str, Any] = {}

    @property
    def manifest(self) -> Manifest | None:
        return self._rx.manifest

    @property
    def buffered(self) -> int:
        """Document bytes held right now: the parsing window plus a tensor's bytes so far."""
        return len(self._win) + (len(self._fill.buf) if self._fill else 0)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[tuple[str, np.ndarray]]:
        """Check one chunk and return the tensors it completes, in document order."""
        if self._error is not None:
            raise self._error
        data = self._rx.accept(chunk)  # a rejected chunk raises here, before any state changes
        if data is None:
            assert self._rx.manifest is not None
            self._total = self._rx.manifest.doc_length
            return []
        try:
            self._take(data.payload)
        except DecodeError as exc:
            self._error = exc
            raise
        out, self._out = self._out, []
        return out

    def finish(self) -> None:
        """Call after the last chunk: MISSING_CHUNK, the document digest, and the end of the document."""
        if self._error is not None:
            raise self._error
        self._rx.finish()
        if not self._closed:  # cannot happen: once every byte is in, parsing ends or fails
            raise DecodeError("TRUNCATED", "the document ends inside an item", self._total)

    # -------------------------------------------------------------- routing the payload

    def _take(self, payload: memoryview) -> None:
        i, n = 0, payload.nbytes
        while i < n:
            fill = self._fill
            if fill is not None:
                k = min(fill.missing, n - i)
                fill.buf += payload[i:i + k]
                i += k
                if not fill.missing:
                    self._complete(fill)
                    self._advance()
                continue
            self._win.append(payload[i:])
            i = n
            self._advance()

    def _complete(self, fill: _Fill) -> None:
        self._fill = None
        self._out.append((fill.name, fill.build()))
        if len(self._win):
            assert self._win.lo == fill.end
        else:
            self._win.restart(fill.end)

    def _advance(self) -> None:
        """Parse units while their bytes are in; stop at a tensor being filled or missing bytes."""
        win = self._win
        if self._step == self._read_start and self._gate.scanner is None:
            self._maybe_scan_metadata()
        while not self._closed and self._fill is None and self._gate.ready(win, self._total):
            r = _StreamReader(win, self._pos, self._total)
            r.budget = self._budget  # summed over the whole document, as one decode call (SPEC.md §11.4)
            delta = win.delta
            try:
                self._step(r)
            except _NeedMore as more:
                self._wait(r, more.end + delta)
                return
            except DecodeError as exc:
                raise _moved(exc, delta) from None
            self._budget = r.budget  # spent only by a unit read whole
            self._gate = _Gate(self._pos)
            fill = self._fill
            if fill is not None and not fill.missing:
                self._complete(fill)

    def _wait(self, r: _StreamReader, need: int) -> None:
        gate = self._gate
        gate.need = need
        if self._step == self._read_prefix:
            self._win.drop_before(self._pos)  # directory entries read so far are consumed
        if gate.scanner is None:
            if r.string_start is not None:
                gate.scanner = _ItemScanner(r.string_start + self._win.delta)
            elif self._bundle and (self._prefix is None or self._prefix.count < 0) \
                    and need > _METADATA_START + _MAX_HEAD:
                gate.scanner = _ItemScanner(_METADATA_START, _METADATA_START + MAX_METADATA_BYTES)
        scanner = gate.scanner
        if scanner is None:
            return
        scanner.advance(self._win)
        if scanner.over_limit and self._win.hi >= scanner.pos + _MAX_HEAD:
            # the parser got up to the head that passes the limit and waits for its content: SPEC.md §7.1 (D6)
            raise DecodeError("METADATA_TOO_LARGE", f"the metadata reaches past the {MAX_METADATA_BYTES}-byte "
                              "limit", _METADATA_START)

    # -------------------------------------------------------------- the units (layout-specific)

    def _maybe_scan_metadata(self) -> None:
        """A bundle whose metadata is long and not all in: find its end before the first parse (one parse)."""
        win = self._win
        if win.hi - _METADATA_START > _SCAN_FIRST and win.hi < self._total and win.lo == 0 \
                and bytes(win.data[win.start:win.start + 8]) == _BUNDLE_OPENING:
            self._bundle = True
            self._gate.scanner = _ItemScanner(_METADATA_START, _METADATA_START + MAX_METADATA_BYTES)

    def _read_start(self, r: _StreamReader) -> None:
        """The document's start: a tensor document's header, or the start of a bundle's prefix."""
        r.need(min(6, self._total), "the document tag")
        if bytes(r.buf[r.pos:r.pos + 6]) == TENSOR_MAGIC:
            info = read_fields(r, open_tensor_array(r))
            self._step = self._read_end
            self._begin("", info, r)
            return
        self._bundle = True
        self._prefix = BundlePrefix(strict=True)
        self._step = self._read_prefix
        self._read_prefix(r)

    def _read_prefix(self, r: _StreamReader) -> None:
        """The bundle prefix [0, B): resumed entry by entry (BundlePrefix), then the tensors array head.

        BundlePrefix keeps buffer positions; they are translated from and to document offsets
        around each call, because the window's buffer moves as consumed bytes are dropped.
        """
        prefix = self._prefix
        assert prefix is not None
        delta = self._win.delta
        prefix.pos = self._prefix_pos - delta
        if prefix.done:
            prefix.base = self._base - delta
        try:
            prefix.advance(r)
        finally:
            self._prefix_pos = prefix.pos + delta
            if prefix.done:
                self._base = prefix.base + delta
            self._pos = self._prefix_pos  # the prefix read so far is consumed
        r.pos = prefix.base
        read_tensors_head(r, prefix)
        self.metadata = prefix.metadata
        self._items = ItemCursor(prefix)
        self._step = self._read_item
        self._pos = r.pos + delta
        self._win.drop_before(self._pos)

    def _read_item(self, r: _StreamReader) -> None:
        """One tensor item, checked against its directory entry (its elements follow in a `_Fill`)."""
        items, prefix = self._items, self._prefix
        assert items is not None and prefix is not None
        if not items.remaining:
            self._read_end(r)
            return
        prefix.base = self._base - self._win.delta
        name, info = items.read(r)
        self._begin(name, info, r)

    def _read_end(self, r: _StreamReader) -> None:
        close_document(r)
        self._closed = True

    def _begin(self, name: str, info: TensorInfo, r: _StreamReader) -> None:
        """A tensor's header is read: hand out a string tensor now, or start copying the element bytes."""
        delta = self._win.delta
        self._pos = r.pos + delta
        if info.strings is not None:
            self._out.append((name, materialize(b"", info, copy=False)))
            self._win.drop_before(self._pos)
            return
        fill = _Fill(name, info, info.offset + delta)
        win = self._win
        got = min(win.hi, fill.end)
        win.drop_before(fill.doc_offset)
        fill.buf += win.data[win.start:win.start + got - fill.doc_offset]
        win.drop_before(got)
        self._fill = fill  # completed by the caller when no byte is missing


def assemble(stream: Iterable[bytes], stream_digest: bytes | None = None, *,
             quota: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (name, array) from a stream of chunks as each tensor completes; checks the end too."""
    asm = Assembler(stream_digest, quota=quota)
    for chunk in stream:
        yield from asm.feed(chunk)
    asm.finish()
