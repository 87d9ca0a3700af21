"""Hand-built zstd frames (RFC 8878) for the Extended profile vectors (SPEC.md §11).

Frames made of raw and RLE blocks need no entropy coder, so their bytes do not
depend on any zstd library version, yet every conforming zstd decoder must accept
them. That keeps the Extended decoder vectors normative for every implementation.
"""

from __future__ import annotations

MAGIC = (0xFD2FB528).to_bytes(4, "little")
BLOCK_MAX = 128 * 1024


def _block(kind: int, size: int, last: bool) -> bytes:
    return ((size << 3) | (kind << 1) | int(last)).to_bytes(3, "little")


def window_descriptor(log: int) -> int:
    """Window descriptor byte for a window of 2^log bytes (log >= 10), mantissa 0."""
    return (log - 10) << 3


def frame(blocks: list[tuple[str, bytes | tuple[int, int]]], *, window_log: int = 17,
          content_size: int | None = None, fhd_extra: int = 0, dict_id: int | None = None,
          windowed_size: int | None = None, checksum: bytes | None = None) -> bytes:
    """A frame of ("raw", bytes) and ("rle", (byte, count)) blocks.

    Without `content_size`, the header has a window descriptor and no content size; with it, the frame is
    single-segment with an 8-byte content size field. `windowed_size` instead keeps the window descriptor and
    adds a 4-byte content size field. `fhd_extra` ORs bits into the frame header descriptor; `checksum` (4
    bytes) sets Content_Checksum_flag and ends the frame with it.
    """
    out = bytearray(MAGIC)
    dict_flag = 0 if dict_id is None else 3
    check_flag = 0 if checksum is None else 0x04
    if content_size is None:
        out.append(fhd_extra | dict_flag | check_flag | (0x80 if windowed_size is not None else 0))
        out.append(window_descriptor(window_log))
    else:
        out.append(0xC0 | 0x20 | fhd_extra | dict_flag | check_flag)
    if dict_id is not None:
        out += dict_id.to_bytes(4, "little")
    if content_size is not None:
        out += content_size.to_bytes(8, "little")
    if windowed_size is not None:
        out += windowed_size.to_bytes(4, "little")
    for i, (kind, body) in enumerate(blocks):
        last = i == len(blocks) - 1
        if kind == "raw":
            assert isinstance(body, bytes)
            out += _block(0, len(body), last) + body
        elif kind == "rle":
            assert isinstance(body, tuple)
            value, count = body
            out += _block(1, count, last) + bytes([value])
        else:  # "reserved" or "compressed" with the given bytes as content
            assert isinstance(body, bytes)
            out += _block(3 if kind == "reserved" else 2, len(body), last) + body
    if checksum is not None:
        out += checksum
    return bytes(out)


def content_checksum(data: bytes) -> bytes:
    """Content_Checksum: the low 4 bytes of XXH64(data, seed 0), little endian (RFC 8878 §3.1.1).

    Taken from the trailer of a checksummed frame that the zstandard package writes: the checksum depends
    on the content alone, never on how the compressor encoded it.
    """
    import zstandard

    return zstandard.ZstdCompressor(write_checksum=True, write_content_size=False).compress(data)[-4:]


def raw_frame(data: bytes, **kw: int) -> bytes:
    """`data` in raw blocks of at most 128 KiB."""
    pieces = [data[i:i + BLOCK_MAX] for i in range(0, len(data), BLOCK_MAX)] or [b""]
    return frame([("raw", p) for p in pieces], **kw)


def skippable(payload: bytes) -> bytes:
    return (0x184D2A50).to_bytes(4, "little") + len(payload).to_bytes(4, "little") + payload


def shuffle(data: bytes, unit: int) -> bytes:
    """SPEC.md §11.2: shuffled byte j*m + i is original byte i*u + j."""
    m = len(data) // unit
    return bytes(data[i * unit + j] for j in range(unit) for i in range(m))
