"""Bundles an attacker would send at scale (issue #18): inputs of bench/bench_hostile.py and tests/test_hostile.py.

Each is built directly as bytes (numpy for the repeated parts), in well under a second, with the verdict the
reference gives computed from the construction, so a test can check a reader's verdict without running the
slow pure-Python reader on hundreds of megabytes.
"""

from __future__ import annotations

import numpy as np

from ..cbor import MAX_METADATA_BYTES, head
from ..tensor import BUNDLE_MAGIC

__all__ = ["oversized_metadata", "tiny_entry_metadata", "zero_size_tensors", "METADATA_START", "ENTRY_BYTES"]

METADATA_START = len(BUNDLE_MAGIC) + 2
"""Where a bundle's metadata map starts: after the magic, the array head and the version."""
ENTRY_BYTES = 10
"""One metadata entry of the tiny-entry maps: an 8-digit key (0x68 + 8 ASCII digits) and the integer 0."""


def _entries(n: int) -> bytes:
    """`n` metadata entries "00000000": 0, "00000001": 0, ... (keys sorted, unique), 10 bytes each."""
    rows = np.zeros((n, ENTRY_BYTES), np.uint8)
    rows[:, 0] = 0x68
    k = np.arange(n, dtype=np.int64)
    for digit in range(8):
        rows[:, 8 - digit] = 48 + (k // 10**digit) % 10
    return rows.tobytes()


def _close(prefix: bytes, directory: bytes, count: int, items: bytes = b"") -> bytes:
    """`prefix` (magic, head, version, metadata) + directory + the pad that puts B on a multiple of 8 + items."""
    body = prefix + directory
    k = (-(len(body) + 1)) % 8
    return body + bytes((0x40 | k,)) + bytes(k) + head(4, count) + items


def oversized_metadata(total: int = 110_000_000) -> tuple[bytes, int]:
    """A bundle whose metadata map of tiny entries runs to about `total` bytes: (document, offset of the head
    where the reference reports METADATA_TOO_LARGE, the first whose position plus claimed content passes
    16 MiB from the map's start)."""
    n = max(0, total - METADATA_START - 5) // ENTRY_BYTES
    prefix = BUNDLE_MAGIC + b"\x85\x01" + head(5, n) + _entries(n)
    first = METADATA_START + len(head(5, n))  # the first key head
    # key head of entry i at first + 10i: its end (+1) plus its 8 content bytes passes the limit when
    # first + 10i + 9 - METADATA_START > MAX; the value head (first + 10i + 9, no content) never passes first.
    i = (MAX_METADATA_BYTES - (first + 9 - METADATA_START)) // ENTRY_BYTES + 1
    return _close(prefix, b"\x80", 0), first + ENTRY_BYTES * i


def tiny_entry_metadata(size: int = MAX_METADATA_BYTES) -> tuple[bytes, int]:
    """A valid bundle with no tensors whose metadata map of tiny entries encodes to at most `size` bytes:
    (document, number of entries "%08d" % i -> 0)."""
    n = (size - 5) // ENTRY_BYTES
    return _close(BUNDLE_MAGIC + b"\x85\x01" + head(5, n) + _entries(n), b"\x80", 0), n


def zero_size_tensors(n: int = 1_000_000) -> bytes:
    """A valid bundle of `n` float32 tensors of shape (0,), named "%07d" % i (at most 10^7)."""
    # Items: [tag 85 (bytes)] is 4 bytes (0x81 d8 55 40); the first item starts at len(head(4, n)) from B and
    # gets a pad item when its data would not be 4-aligned; every later item then starts 4-aligned.
    first = len(head(4, n))
    pad = (-(first + 4)) % 4
    data0 = first + 4 + pad
    entries = [b"\x85" + b"\x67" + b"%07d" % i + b"\x01\x81\x00" + head(0, data0 + 4 * i) + b"\x00"
               for i in range(n)]
    first_item = (bytes((0x82, 0x40 | (pad - 1))) + bytes(pad - 1) if pad else b"\x81") + b"\xd8\x55\x40"
    items = first_item + b"\x81\xd8\x55\x40" * (n - 1) if n else b""
    return _close(BUNDLE_MAGIC + b"\x85\x01\xa0", head(4, n) + b"".join(entries), n, items)
