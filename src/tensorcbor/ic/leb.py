"""LEB128 integers, written by both the Wasm binary format and Candid."""

from __future__ import annotations


class LebError(ValueError):
    """A LEB128 number that runs past the end of its bytes, or is longer than the caller allows."""


def read_leb(buf: bytes, pos: int, max_bytes: int | None = None) -> tuple[int, int, int]:
    """The 7-bit groups of a LEB128 at `pos`: (value as unsigned, bits read, position after it).

    The one reading loop of the Wasm decoder and the Candid reader; a signed value is derived from the bits read.
    """
    n = shift = 0
    while True:
        if pos >= len(buf):
            raise LebError("LEB128 number runs past the end")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, shift, pos
        if max_bytes is not None and shift > 7 * max_bytes:
            raise LebError(f"LEB128 number longer than {max_bytes} bytes")


def signed(n: int, shift: int) -> int:
    """The value of a signed LEB128 from its unsigned groups: the last group's bit 6 is the sign."""
    return n - (1 << shift) if n >> (shift - 1) & 1 else n


def enc_uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def enc_sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        done = (n == 0 and not b & 0x40) or (n == -1 and b & 0x40)
        out.append(b | (0 if done else 0x80))
        if done:
            return bytes(out)
