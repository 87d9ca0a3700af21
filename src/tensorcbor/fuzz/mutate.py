"""Structure-aware mutation of CBOR documents: the edits that reach deep into a strict decoder.

Random bytes rarely get past a magic number; these edits keep most of a valid
document and change one thing a decoder must check: a head's width, a length, a
tag, the order or uniqueness of map keys, or the bytes themselves. Every choice
comes from the `random.Random` passed in, so a seed fixes the whole sequence.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Item", "scan", "mutate", "MUTATORS"]

_MAX_DEPTH = 64
_MAX_ITEMS = 4096


@dataclass(frozen=True)
class Item:
    """One data item found by `scan`: where its head and its whole encoding lie."""

    start: int
    head_end: int
    end: int
    major: int
    arg: int
    children: tuple[int, ...] = ()
    """Indices (in scan's list) of the direct children of an array, map or tag."""


def _head(buf: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """(major, additional info, argument, position after the head), or None if it does not fit."""
    if pos >= len(buf):
        return None
    ib = buf[pos]
    major, ai = ib >> 5, ib & 31
    if ai < 24:
        return major, ai, ai, pos + 1
    if ai < 28:
        size = 1 << (ai - 24)
        if pos + 1 + size > len(buf):
            return None
        return major, ai, int.from_bytes(buf[pos + 1:pos + 1 + size], "big"), pos + 1 + size
    return major, ai, 0, pos + 1  # indefinite or reserved: no argument


def scan(buf: bytes) -> list[Item]:
    """The definite-length items of `buf` in pre-order, as far as they are well-formed and complete.

    A lenient walker, not a validator: it stops quietly at the first item it cannot
    delimit, so mutated documents still yield the items before the damage.
    """
    items: list[Item] = []

    def walk(pos: int, depth: int) -> int | None:
        if depth > _MAX_DEPTH or len(items) >= _MAX_ITEMS:
            return None
        h = _head(buf, pos)
        if h is None:
            return None
        major, ai, arg, after = h
        if ai >= 28:
            return None
        index = len(items)
        items.append(Item(pos, after, after, major, arg))
        end: int | None = after
        kids: list[int] = []
        if major in (2, 3):
            end = after + arg if after + arg <= len(buf) else None
        elif major in (4, 5):
            count = arg * (2 if major == 5 else 1)
            if count > len(buf) - after:
                end = None
            for _ in range(count):
                if end is None:
                    break
                kids.append(len(items))
                end = walk(end, depth + 1)
        elif major == 6:
            kids.append(len(items))
            end = walk(after, depth + 1)
        if end is None:
            return None
        items[index] = Item(pos, after, end, major, arg, tuple(kids))
        return end

    pos = 0
    while pos < len(buf) and len(items) < _MAX_ITEMS:
        nxt = walk(pos, 0)
        if nxt is None:
            break
        pos = nxt
    return items


def encode_head(major: int, arg: int, width: int | None = None) -> bytes:
    """A head for (major, arg); `width` forces 0 (inline), 1, 2, 4 or 8 argument bytes when the argument fits."""
    if width is None:
        width = 0 if arg < 24 else 1 if arg < 1 << 8 else 2 if arg < 1 << 16 else 4 if arg < 1 << 32 else 8
    if width == 0:
        return bytes(((major << 5) | arg,))
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes(((major << 5) | ai,)) + arg.to_bytes(width, "big")


_HUGE = (24, 255, 256, 65535, 65536, (1 << 31) - 1, 1 << 32, (1 << 53) - 1, 1 << 53, (1 << 57), (1 << 63) - 1,
         1 << 63, (1 << 64) - 1, 4096, 4097, 16 << 20, (16 << 20) + 1, (1 << 30) + 1)
_TAGS = (55799, 52084, 52066, 52083, 52090, 64, 65, 68, 69, 70, 71, 72, 77, 78, 79, 84, 85, 86, 87, 0, 1, 2, 24, 40)
_BYTES = (0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x40, 0x5f, 0x60, 0x7f, 0x80, 0x9f, 0xa0, 0xbf,
          0xc0, 0xd8, 0xd9, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff)


def _flip(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    if not buf:
        return bytes((rng.choice(_BYTES),))
    i = rng.randrange(len(buf))
    return buf[:i] + bytes((buf[i] ^ (1 << rng.randrange(8)),)) + buf[i + 1:]


def _set_byte(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    if not buf:
        return bytes((rng.choice(_BYTES),))
    i = rng.randrange(len(buf))
    b = rng.choice(_BYTES) if rng.random() < 0.5 else rng.randrange(256)
    return buf[:i] + bytes((b,)) + buf[i + 1:]


def _insert(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    i = rng.randrange(len(buf) + 1)
    n = rng.choice((1, 1, 1, 2, 4, 8))
    return buf[:i] + bytes(rng.choice(_BYTES) if rng.random() < 0.5 else rng.randrange(256) for _ in range(n)) + buf[i:]


def _delete(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    if not buf:
        return buf
    i = rng.randrange(len(buf))
    n = rng.choice((1, 1, 2, 3, 8, 32))
    return buf[:i] + buf[i + n:]


def _truncate(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    return buf[:rng.randrange(len(buf))] if buf else buf


def _extend(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    return buf + bytes(rng.choice(_BYTES) for _ in range(rng.choice((1, 1, 2, 9))))


def _splice(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """A prefix of one document and a suffix of another, cut at item boundaries when possible."""
    a, b = scan(buf), scan(other)
    i = rng.choice(a).start if a and rng.random() < 0.8 else rng.randrange(len(buf) + 1)
    j = rng.choice(b).start if b and rng.random() < 0.8 else rng.randrange(len(other) + 1)
    return buf[:i] + other[j:]


def _transplant(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Replace one item with an item of another document (a whole subtree)."""
    a, b = scan(buf), scan(other)
    if not a or not b:
        return _splice(buf, rng, other)
    x, y = rng.choice(a), rng.choice(b)
    return buf[:x.start] + other[y.start:y.end] + buf[x.end:]


def _non_shortest(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Re-encode one head in a wider form than needed (NON_SHORTEST_HEAD)."""
    items = scan(buf)
    if not items:
        return _flip(buf, rng, other)
    it = rng.choice(items)
    wider = [w for w in (1, 2, 4, 8) if it.arg < 1 << (8 * w) and w > it.head_end - it.start - 1]
    if not wider:
        return _flip(buf, rng, other)
    return buf[:it.start] + encode_head(it.major, it.arg, rng.choice(wider)) + buf[it.head_end:]


def _huge(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Give one head a huge or boundary argument: lengths, counts, dimensions, dtype codes, versions."""
    items = scan(buf)
    if not items:
        return _flip(buf, rng, other)
    it = rng.choice(items)
    arg = rng.choice(_HUGE) if rng.random() < 0.8 else max(0, it.arg + rng.choice((-1, 1, 2, -2)))
    return buf[:it.start] + encode_head(it.major, min(arg, (1 << 64) - 1)) + buf[it.head_end:]


def _retype(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Keep a head's argument, change its major type (an array where a map belongs, ...)."""
    items = scan(buf)
    if not items:
        return _flip(buf, rng, other)
    it = rng.choice(items)
    major = rng.choice([m for m in range(8) if m != it.major])
    if major == 7:
        return buf[:it.start] + bytes((rng.choice((0xf4, 0xf5, 0xf6, 0xf7, 0xf9)),)) + buf[it.head_end:]
    return buf[:it.start] + encode_head(major, it.arg) + buf[it.head_end:]


def _swap_tag(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Replace a tag number with another meaningful one, or add or drop a tag."""
    items = scan(buf)
    tags = [it for it in items if it.major == 6]
    choice = rng.random()
    if tags and choice < 0.6:
        it = rng.choice(tags)
        return buf[:it.start] + encode_head(6, rng.choice(_TAGS)) + buf[it.head_end:]
    if tags and choice < 0.8:
        it = rng.choice(tags)
        return buf[:it.start] + buf[it.head_end:]
    if not items:
        return _flip(buf, rng, other)
    it = rng.choice(items)
    return buf[:it.start] + encode_head(6, rng.choice(_TAGS)) + buf[it.start:]


def _entries(items: list[Item], m: Item) -> list[tuple[int, int]]:
    """(start, end) of each key-value pair of map item `m`."""
    kids = [items[k] for k in m.children]
    return [(kids[i].start, kids[i + 1].end) for i in range(0, len(kids) - 1, 2)]


def _reorder_keys(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Swap two entries of a map (UNSORTED_KEYS) or, for a bundle's tensor map, two tensors."""
    items = scan(buf)
    maps = [it for it in items if it.major == 5 and len(it.children) >= 4]
    if not maps:
        return _duplicate_key(buf, rng, other)
    m = rng.choice(maps)
    pairs = _entries(items, m)
    i, j = sorted(rng.sample(range(len(pairs)), 2))
    (a0, a1), (b0, b1) = pairs[i], pairs[j]
    return buf[:a0] + buf[b0:b1] + buf[a1:b0] + buf[a0:a1] + buf[b1:]


def _duplicate_key(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Repeat one map entry (DUPLICATE_KEY / DUPLICATE_NAME), fixing the map's count."""
    items = scan(buf)
    maps = [it for it in items if it.major == 5 and it.children]
    if not maps:
        arrays = [it for it in items if it.major == 4 and it.children]
        if not arrays:
            return _flip(buf, rng, other)
        a = rng.choice(arrays)
        kid = items[rng.choice(a.children)]
        return (buf[:a.start] + encode_head(4, a.arg + 1) + buf[a.head_end:kid.end] + buf[kid.start:kid.end]
                + buf[kid.end:])
    m = rng.choice(maps)
    s, e = rng.choice(_entries(items, m))
    return buf[:m.start] + encode_head(5, m.arg + 1) + buf[m.head_end:e] + buf[s:e] + buf[e:]


def _indefinite(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Turn a definite-length string, array or map into an indefinite-length one (INDEFINITE_LENGTH)."""
    items = [it for it in scan(buf) if it.major in (2, 3, 4, 5)]
    if not items:
        return _flip(buf, rng, other)
    it = rng.choice(items)
    if it.major in (2, 3):
        body = buf[it.head_end:it.end]
        chunk = encode_head(it.major, len(body)) + body
        return buf[:it.start] + bytes(((it.major << 5) | 31,)) + chunk + b"\xff" + buf[it.end:]
    return buf[:it.start] + bytes(((it.major << 5) | 31,)) + buf[it.head_end:it.end] + b"\xff" + buf[it.end:]


def _resize_string(buf: bytes, rng: random.Random, other: bytes) -> bytes:
    """Grow or shrink a byte or text string's content, keeping its head consistent (lengths move)."""
    items = [it for it in scan(buf) if it.major in (2, 3)]
    if not items:
        return _insert(buf, rng, other)
    it = rng.choice(items)
    body = buf[it.head_end:it.end]
    delta = rng.choice((-8, -4, -2, -1, 1, 2, 4, 8))
    body = body[:max(0, len(body) + delta)] if delta < 0 else body + bytes(delta)
    return buf[:it.start] + encode_head(it.major, len(body)) + body + buf[it.end:]


Mutator = Callable[[bytes, random.Random, bytes], bytes]
MUTATORS: tuple[tuple[str, Mutator, int], ...] = (
    ("flip", _flip, 10), ("set-byte", _set_byte, 6), ("insert", _insert, 4), ("delete", _delete, 4),
    ("truncate", _truncate, 4), ("extend", _extend, 2), ("splice", _splice, 3), ("transplant", _transplant, 3),
    ("non-shortest", _non_shortest, 5), ("huge", _huge, 8), ("retype", _retype, 4), ("swap-tag", _swap_tag, 5),
    ("reorder-keys", _reorder_keys, 4), ("duplicate-key", _duplicate_key, 4), ("indefinite", _indefinite, 2),
    ("resize-string", _resize_string, 4),
)
_NAMES = [name for name, _, _ in MUTATORS]
_FUNCS = [fn for _, fn, _ in MUTATORS]
_WEIGHTS = [w for _, _, w in MUTATORS]


def mutate(buf: bytes, rng: random.Random, other: bytes, rounds: int = 1) -> tuple[bytes, list[str]]:
    """`rounds` random structure-aware edits of `buf` (`other` feeds splicing); returns the bytes and edit names."""
    names = []
    for _ in range(rounds):
        k = rng.choices(range(len(_FUNCS)), _WEIGHTS)[0]
        if rng.random() < _KEEP_MAGIC and buf[:3] == b"\xd9\xd9\xf7" and len(buf) > _MAGIC:
            # Most edits leave the 6-byte magic alone: past it is where the decoders differ most.
            buf = buf[:_MAGIC] + _FUNCS[k](buf[_MAGIC:], rng, other[_MAGIC:])
        else:
            buf = _FUNCS[k](buf, rng, other)
        names.append(_NAMES[k])
    return buf, names


_MAGIC = 6
_KEEP_MAGIC = 0.9
