"""Compressed tensor data, the Extended profile (SPEC.md §11).

The data item of a tensor may be ``52090([codec, filter, length, compressed])``
instead of the Core byte string: codec 1 is zstd (RFC 8878), filter 1 a byte
shuffle by the dtype's alignment (as Blosc does for floats), `length` the
uncompressed data length the shape implies. The padding item is never present.

Decoding is bounded: the output never grows past the declared length (a frame
that would produce more fails with DECOMPRESSED_SIZE_MISMATCH as soon as it
tries), and memory is allocated as output actually appears, never up front from
the claimed length beyond ``64 x`` the compressed size.

Without the ``zstandard`` package this module still imports, and the decoder
acts as a Core decoder: a compressed tensor fails with UNSUPPORTED_COMPRESSION.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .cbor import Reader, head
from .dtypes import DType
from .errors import DecodeError, EncodeError
from .tensor import COMPRESSED_TAG, Payload, TensorInfo

_zstd: Any
try:  # optional dependency: tensorcbor[zstd]
    import zstandard as _zstd
except ImportError:  # pragma: no cover - exercised by the Core-only test with a monkeypatch
    _zstd = None

__all__ = ["COMPRESSED_TAG", "CODEC_ZSTD", "FILTER_NONE", "FILTER_SHUFFLE", "ZSTD_LEVEL", "MAX_WINDOW",
           "CompressedInfo", "available", "body_parts", "compressed_item", "read_codec_filter", "read_compressed",
           "shuffle", "unshuffle"]

CODEC_ZSTD = 1
FILTER_NONE = 0
FILTER_SHUFFLE = 1
ZSTD_LEVEL = 3
MAX_WINDOW = 1 << 23
"""Largest zstd window a decoder must accept (8 MiB); the encoder's level-3 frames use at most 2 MiB."""
CODECS = {"zstd": CODEC_ZSTD}
_STEP = 1 << 20
_TAG_HEAD = head(6, COMPRESSED_TAG)


def available() -> bool:
    """True when this installation implements the Extended profile (``zstandard`` is importable)."""
    return _zstd is not None


# ------------------------------------------------------------------ filter

def shuffle(raw: Any, unit: int) -> np.ndarray:
    """Byte shuffle: byte j of every `unit`-byte element, for j = 0..unit-1, one plane after another."""
    flat = np.frombuffer(raw, np.uint8)
    return np.ascontiguousarray(flat.reshape(-1, unit).T).reshape(-1)


def unshuffle(raw: Any, unit: int) -> np.ndarray:
    flat = np.frombuffer(raw, np.uint8)
    return np.ascontiguousarray(flat.reshape(unit, -1).T).reshape(-1)


# ------------------------------------------------------------------ encoding

_cctx: Any = None


def _compressor() -> Any:
    global _cctx
    if _cctx is None:
        # SPEC.md §11.3: level 3, one frame, no checksum, no content size, no dictionary id, one thread.
        _cctx = _zstd.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=False, write_content_size=False,
                                     write_dict_id=False, threads=0)
    return _cctx


def body_parts(dt: DType, shape: tuple[int, ...], payload: Payload, *, version: bool, codec: str,
               shuffle_bytes: bool) -> tuple[bytes, bytes] | None:
    """Header and compressed bytes of a compressed tensor array, or None to keep the Core form.

    The Core form is kept for string tensors, empty data, and whenever compression would
    not make the data item smaller (SPEC.md §11.3).
    """
    found = compressed_item(dt, payload, codec=codec, shuffle_bytes=shuffle_bytes)
    if found is None:
        return None
    item, cdata, _ = found
    fields = b"".join((b"\x01" if version else b"", head(0, dt.code), head(4, len(shape)),
                       *(head(0, d) for d in shape)))
    nfields = 4 if version else 3
    return bytes((0x80 | nfields,)) + fields + item, cdata


def compressed_item(dt: DType, payload: Payload, *, codec: str, shuffle_bytes: bool) -> tuple[bytes, bytes, int] | None:
    """The compressed data item's heads (tag to byte-string head), the zstd bytes and the filter; None: Core form."""
    if codec not in CODECS:
        raise EncodeError(f"unknown compression {codec!r}; the Extended profile defines {sorted(CODECS)}")
    if _zstd is None:
        raise EncodeError("compression needs the zstandard package (pip install 'tensorcbor[zstd]')")
    if dt.kind == "string":
        return None
    if isinstance(payload, np.ndarray):
        raw: Any = payload.reshape(-1).view(np.uint8)
    else:
        raw = memoryview(payload)
        if raw.nbytes == 0:
            return None
        raw = raw.cast("B")
    ulen = raw.nbytes
    if ulen == 0:
        return None
    filt = FILTER_SHUFFLE if shuffle_bytes and dt.align > 1 else FILTER_NONE
    src = shuffle(raw, dt.align) if filt else raw
    cdata = _compressor().compress(src)
    item = b"".join((_TAG_HEAD, b"\x84", head(0, CODECS[codec]), head(0, filt), head(0, ulen),
                     head(2, len(cdata))))
    core = (len(head(6, dt.rfc8746_tag)) if dt.rfc8746_tag is not None else 0) + len(head(2, ulen)) + ulen
    if len(item) + len(cdata) >= core:
        return None
    return item, cdata, filt


# ------------------------------------------------------------------ decoding

@dataclass(frozen=True)
class CompressedInfo(TensorInfo):
    """A compressed tensor: `offset`/`nbytes` locate the compressed bytes in the document."""

    codec: int = CODEC_ZSTD
    filter: int = FILTER_NONE
    raw_nbytes: int = 0

    def element_source(self, buf: Any) -> tuple[Any, TensorInfo]:
        raw: Any = _decompress(memoryview(buf)[self.offset:self.offset + self.nbytes], self.raw_nbytes, self.offset)
        if self.filter == FILTER_SHUFFLE:
            raw = unshuffle(raw, self.dtype.align)
        return raw, TensorInfo(self.dtype, self.shape, 0, self.raw_nbytes)


def read_compressed(r: Reader, dt: DType, shape: tuple[int, ...], count: int, pad_len: int,
                    at: int) -> CompressedInfo:
    """Read the compressed data item after its tag head (SPEC.md §11.4 steps C1-C6)."""
    if _zstd is None:
        raise r.fail("UNSUPPORTED_COMPRESSION", "this decoder implements the Core profile only; the tensor "
                     "data is compressed (tag 52090, Extended profile)", at)
    if pad_len and r.strict:
        raise r.fail("INVALID_COMPRESSION", "a compressed tensor never has a padding item", at)
    start = r.pos
    m, _, n = r.head()
    if m != 4 or n != 4:
        raise r.fail("INVALID_COMPRESSION", "compressed data is an array [codec, filter, length, bytes]", start)
    codec, filt = read_codec_filter(r, dt, at)
    lpos = r.pos
    ulen = _uint(r, "the uncompressed length")
    expected = dt.nbytes(count)
    if ulen != expected:
        raise r.fail("SHAPE_MISMATCH", f"shape {list(shape)} of {dt.name} needs {expected} data bytes, "
                     f"the compressed item declares {ulen}", lpos)
    if ulen > r.budget:  # summed over the decode call, before anything is decompressed
        raise r.fail("DECOMPRESSION_LIMIT", f"decompressing {ulen} more bytes would exceed this decoder's "
                     "limit on decompressed data per decode call; if the document is trusted, raise it "
                     "with max_decompressed=", lpos)
    r.budget -= ulen
    cpos = r.pos
    m, _, clen = r.head()
    if m != 2:
        raise r.fail("INVALID_COMPRESSION", "the compressed data must be a byte string", cpos)
    offset = r.take(clen, "the compressed data")
    return CompressedInfo(dt, shape, offset, clen, None, codec, filt, ulen)


def read_codec_filter(r: Reader, dt: DType, at: int | None = None) -> tuple[int, int]:
    """C3-C4: codec and filter (also the last two fields of a compressed bundle directory entry).

    UNSUPPORTED_COMPRESSION is reported at `at`, where a Core decoder stops (SPEC.md §8.1): the tag 52090
    head of a data item, the codec head of a directory entry (the default). So Core and Extended decoders
    give the same code and offset for an unknown codec or filter.
    """
    cpos = r.pos
    unsupported_at = cpos if at is None else at
    codec = _uint(r, "the codec")
    if codec != CODEC_ZSTD:
        raise r.fail("UNSUPPORTED_COMPRESSION", f"compression codec {codec} is unknown (1 is zstd)", unsupported_at)
    fpos = r.pos
    filt = _uint(r, "the filter")
    if filt not in (FILTER_NONE, FILTER_SHUFFLE):
        raise r.fail("UNSUPPORTED_COMPRESSION", f"compression filter {filt} is unknown (0 none, 1 shuffle)",
                     unsupported_at)
    if filt == FILTER_SHUFFLE and dt.align == 1:
        raise r.fail("INVALID_COMPRESSION", f"the shuffle filter does not apply to {dt.name} "
                     "(one-byte alignment)", fpos)
    return codec, filt


def _uint(r: Reader, what: str) -> int:
    start = r.pos
    m, _, arg = r.head()
    if m != 0:
        raise r.fail("INVALID_COMPRESSION", f"{what} of compressed data must be an unsigned integer", start)
    return arg


def check_frames(data: Any, length: int, at: int = 0) -> None:
    """Walk the zstd frames of `data` without decompressing (SPEC.md §11.4 Z1-Z2).

    Every frame must be complete, the data must end with the last one, no frame may
    name a dictionary or need a window over 8 MiB, and the content sizes that frame
    headers declare may not contradict `length`. Corrupt block contents are left to
    the decompressor.
    """
    b = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else data
    end, pos, frames, declared, all_declared = len(b), 0, 0, 0, True

    def bad(why: str) -> DecodeError:
        return DecodeError("INVALID_COMPRESSION", f"zstd data: {why}", at)

    while pos < end or frames == 0:
        if end - pos < 4:
            raise bad("a frame is truncated or missing")
        magic = int.from_bytes(b[pos:pos + 4], "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
            if end - pos < 8:
                raise bad("a skippable frame is truncated")
            pos += 8 + int.from_bytes(b[pos + 4:pos + 8], "little")
            if pos > end:
                raise bad("a skippable frame is truncated")
            continue
        if magic != 0xFD2FB528:
            raise bad("not a zstd frame (bad magic number)")
        if end - pos < 5:
            raise bad("a frame header is truncated")
        fhd = b[pos + 4]
        fcs_flag, single, checksum, dict_flag = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3
        if fhd & 0x08:
            raise bad("the reserved bit of the frame header is set")
        q = pos + 5
        window = 0
        if not single:
            if q >= end:
                raise bad("a frame header is truncated")
            wd = b[q]
            base = 1 << (10 + (wd >> 3))
            window = base + (base >> 3) * (wd & 7)
            q += 1
        dict_size = (0, 1, 2, 4)[dict_flag]
        fcs_size = (1 if single else 0, 2, 4, 8)[fcs_flag]
        if q + dict_size + fcs_size > end:
            raise bad("a frame header is truncated")
        if dict_size and int.from_bytes(b[q:q + dict_size], "little"):
            raise bad("dictionaries are not allowed")
        q += dict_size
        if fcs_size:
            fcs = int.from_bytes(b[q:q + fcs_size], "little") + (256 if fcs_size == 2 else 0)
            declared += fcs
            if single:
                window = fcs
        else:
            all_declared = False
        q += fcs_size
        if window > MAX_WINDOW:
            raise DecodeError("INVALID_COMPRESSION", f"a zstd window of {window} bytes exceeds the "
                              f"{MAX_WINDOW}-byte limit", at)
        while True:  # blocks
            if end - q < 3:
                raise bad("a block header is truncated")
            bh = int.from_bytes(b[q:q + 3], "little")
            last, btype, bsize = bh & 1, (bh >> 1) & 3, bh >> 3
            if btype == 3:
                raise bad("reserved block type")
            q += 3 + (1 if btype == 1 else bsize)
            if q > end:
                raise bad("a block is truncated")
            if last:
                break
        q += 4 * checksum
        if q > end:
            raise bad("the frame checksum is truncated")
        pos = q
        frames += 1
    if declared > length or (all_declared and declared != length):
        raise DecodeError("DECOMPRESSED_SIZE_MISMATCH", f"the zstd frame headers declare {declared} bytes, "
                          f"the tensor needs {length}", at)


def _decompress(cdata: memoryview, ulen: int, at: int) -> memoryview:
    """Exactly `ulen` bytes from zstd data, or a DecodeError; never more output than that."""
    if _zstd is None:  # pragma: no cover
        raise DecodeError("UNSUPPORTED_COMPRESSION", "zstandard is not installed", at)
    check_frames(cdata, ulen, at)
    # Grow the output as it appears; the first allocation is bounded by the input's size.
    out = bytearray(min(ulen + 1, 64 * len(cdata) + _STEP))
    filled = 0
    try:
        reader = _zstd.ZstdDecompressor().stream_reader(cdata, read_across_frames=True)
        with reader:
            while filled <= ulen:
                if filled == len(out):
                    out.extend(bytes(min(len(out), ulen + 1 - len(out))))
                got = reader.readinto(memoryview(out)[filled:min(len(out), filled + 16 * _STEP)])
                if not got:
                    break
                filled += got
    except _zstd.ZstdError as exc:
        raise DecodeError("INVALID_COMPRESSION", f"invalid zstd data: {exc}", at) from None
    if filled != ulen:
        more = "more" if filled > ulen else f"only {filled}"
        raise DecodeError("DECOMPRESSED_SIZE_MISMATCH", f"the zstd data decompresses to {more} bytes; the "
                          f"tensor needs {ulen}", at)
    return memoryview(out)[:ulen]
