"""The CBOR subset tensorcbor needs, with RFC 8949 §4.2.1 deterministic checks built in.

A general CBOR library cannot tell a deterministic encoding from any other
(cbor2 decodes non-shortest heads silently), and the strict decoder must name
the exact violation, so heads are read here. Values are limited to the metadata
data model of SPEC.md §6: integers, floats, text, bytes, bool, null, arrays and
text-keyed maps.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import DecodeError, EncodeError

MAX_NESTING = 32
MAX_METADATA_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED = 1 << 30
"""Default limit on the total declared uncompressed length per decode call (SPEC.md §11.4, DECOMPRESSION_LIMIT)."""
NO_LIMIT = 1 << 80

_HALF = struct.Struct(">e")
_SINGLE = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_CANONICAL_NAN = b"\xf9\x7e\x00"


def head(major: int, arg: int) -> bytes:
    """Shortest head for (major type, argument)."""
    mt = major << 5
    if arg < 24:
        return bytes((mt | arg,))
    if arg < 0x100:
        return bytes((mt | 24, arg))
    if arg < 0x10000:
        return bytes((mt | 25,)) + _U16.pack(arg)
    if arg < 0x100000000:
        return bytes((mt | 26,)) + _U32.pack(arg)
    return bytes((mt | 27,)) + _U64.pack(arg)


def encode_float(x: float) -> bytes:
    """Shortest of binary16/32/64 that keeps the value; every NaN becomes f97e00."""
    if x != x:
        return _CANONICAL_NAN
    for prefix, fmt in ((0xF9, _HALF), (0xFA, _SINGLE)):
        try:
            packed = fmt.pack(x)
        except OverflowError:
            continue
        if fmt.unpack(packed)[0] == x:  # +-0 and +-inf are exact in every width
            return bytes((prefix,)) + packed
    return b"\xfb" + _DOUBLE.pack(x)


def encode_text(s: str) -> bytes:
    try:
        raw = s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"text {s[:40]!r} is not valid Unicode (lone surrogate?): {exc}") from None
    return head(3, len(raw)) + raw


def encode_value(obj: Any, out: bytearray, depth: int = 1) -> None:
    """Append the deterministic encoding of a metadata value to `out`."""
    if obj is None:
        out += b"\xf6"
    elif obj is True or obj is False or isinstance(obj, np.bool_):
        out += b"\xf5" if obj else b"\xf4"
    elif isinstance(obj, (int, np.integer)):
        n = int(obj)
        if 0 <= n < 1 << 64:
            out += head(0, n)
        elif -(1 << 64) <= n < 0:
            out += head(1, -1 - n)
        else:
            raise EncodeError(f"integer {n} is outside CBOR's 64-bit range; store it as text")
    elif isinstance(obj, (float, np.floating)):
        out += encode_float(float(obj))
    elif isinstance(obj, str):
        out += encode_text(obj)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        out += head(2, len(raw))
        out += raw
    elif isinstance(obj, (list, tuple)):
        _check_depth(depth)
        out += head(4, len(obj))
        for item in obj:
            encode_value(item, out, depth + 1)
    elif isinstance(obj, Mapping):
        _check_depth(depth)
        encode_map(obj, out, depth)
    else:
        raise EncodeError(f"metadata value of type {type(obj).__name__} has no tensorcbor encoding; "
                          "use text, int, float, bool, None, bytes, list or dict with str keys")


def _check_depth(depth: int) -> None:
    if depth > MAX_NESTING:
        raise EncodeError(f"metadata nests deeper than {MAX_NESTING} arrays/maps; flatten it")


def encode_map(mapping: Mapping[Any, Any], out: bytearray, depth: int = 1) -> None:
    """Text-keyed map with keys sorted bytewise by their encoding (RFC 8949 §4.2.1)."""
    items = []
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise EncodeError(f"map key {key!r} is not text; metadata maps take str keys only")
        items.append((encode_text(key), value))
    items.sort(key=lambda kv: kv[0])
    out += head(5, len(items))
    for key_bytes, value in items:
        out += key_bytes
        encode_value(value, out, depth + 1)


class Reader:
    """Cursor over a buffer that reads CBOR heads and metadata values.

    `strict` enables the deterministic-encoding checks; the lenient mode of
    SPEC.md §7.3 turns off exactly those (shortest heads, float widths, key order).
    """

    __slots__ = ("buf", "pos", "end", "strict", "budget", "limit")

    def __init__(self, buf: Any, pos: int = 0, end: int | None = None, strict: bool = True,
                 max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.strict = strict
        self.budget = max_decompressed
        """Decompressed bytes this decode may still declare (Extended profile); compressed items spend it."""
        self.limit = NO_LIMIT
        """While metadata is read: the offset the metadata must not reach past (SPEC.md §7.1 D6)."""

    def fail(self, code: str, message: str, at: int | None = None) -> DecodeError:
        return DecodeError(code, message, self.pos if at is None else at)

    def need(self, n: int, what: str) -> None:
        if self.end - self.pos < n:
            raise DecodeError("TRUNCATED", f"{what} needs {n} bytes but only {self.end - self.pos} remain",
                              self.pos, needed=self.pos + n)

    def meta_head(self) -> tuple[int, int, int]:
        """A head inside metadata: METADATA_TOO_LARGE as soon as it (and a string's content) passes the limit."""
        start = self.pos
        major, ai, arg = self.head()
        if self.pos + (arg if major == 2 or major == 3 else 0) > self.limit:
            raise self.fail("METADATA_TOO_LARGE", f"the metadata reaches past the {MAX_METADATA_BYTES}-byte "
                            "limit at this item", start)
        return major, ai, arg

    def head(self) -> tuple[int, int, int]:
        """Read one head: (major, additional info, argument). Rejects indefinite lengths."""
        start = self.pos
        self.need(1, "a data item")
        ib = self.buf[start]
        major, ai = ib >> 5, ib & 31
        if ai < 24:
            self.pos = start + 1
            return major, ai, ai
        if ai > 27:
            if ai == 31 and 2 <= major <= 5:
                raise self.fail("INDEFINITE_LENGTH", "indefinite-length items are not allowed; "
                                "encode strings, arrays and maps with a definite length")
            raise self.fail("MALFORMED", f"initial byte 0x{ib:02x} is not well-formed CBOR")
        size = 1 << (ai - 24)
        self.need(1 + size, "a data item head")
        arg = int.from_bytes(self.buf[start + 1:start + 1 + size], "big")
        self.pos = start + 1 + size
        if major == 7:
            if ai == 24 and arg < 32:
                raise self.fail("MALFORMED", f"simple value {arg} must use the one-byte form", start)
            return major, ai, arg
        if self.strict and arg < (24 if ai == 24 else 1 << (size * 4)):
            raise self.fail("NON_SHORTEST_HEAD", f"argument {arg} is not in its shortest form "
                            f"(initial byte 0x{ib:02x})", start)
        return major, ai, arg

    def expect(self, major: int, what: str) -> int:
        """Read a head of the given major type (never a tag) and return its argument."""
        start = self.pos
        m, _, arg = self.head()
        if m != major:
            if m == 6:
                raise self.fail("UNEXPECTED_TAG", f"tag {arg} where {what} was expected", start)
            raise self.fail("UNEXPECTED_TYPE", f"{_MAJOR_NAMES[m]} where {what} was expected", start)
        return arg

    def take(self, n: int, what: str) -> int:
        """Skip n content bytes; return where they start."""
        self.need(n, what)
        start = self.pos
        self.pos = start + n
        return start

    def text(self, n: int, what: str) -> str:
        start = self.take(n, what)
        try:
            return bytes(self.buf[start:start + n]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail("INVALID_UTF8", f"{what} is not valid UTF-8 ({exc.reason})",
                            start + exc.start) from None

    def value(self, depth: int) -> Any:
        """Read one metadata value (SPEC.md §6)."""
        start = self.pos
        major, ai, arg = self.meta_head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            begin = self.take(arg, "a byte string")
            return bytes(self.buf[begin:begin + arg])
        if major == 3:
            return self.text(arg, "a text string")
        if major == 4:
            self._nest(depth, start)
            items = []
            for i in range(arg):  # each item needs a byte, so this is bounded by the input
                try:
                    items.append(self.value(depth + 1))
                except DecodeError as exc:
                    _more(exc, arg - i - 1)
                    raise
            return items
        if major == 5:
            self._nest(depth, start)
            return self.map_body(arg, depth)
        if major == 6:
            raise self.fail("UNSUPPORTED_VALUE", f"tag {arg} is not allowed in metadata", start)
        return self._simple(ai, arg, start)

    def _nest(self, depth: int, start: int) -> None:
        if depth > MAX_NESTING:
            raise self.fail("NESTING_TOO_DEEP", f"metadata nests deeper than {MAX_NESTING} levels", start)

    def map_body(self, count: int, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        prev: bytes | None = None
        for i in range(count):
            value_next = False
            try:
                prev, key = self._key(prev, result)
                value_next = True
                result[key] = self.value(depth + 1)
            except DecodeError as exc:
                _more(exc, 2 * (count - i - 1) + (not value_next))
                raise
        return result

    def _key(self, prev: bytes | None, result: dict[str, Any]) -> tuple[bytes, str]:
        key_start = self.pos
        major, _, arg = self.meta_head()
        if major != 3:
            raise self.fail("UNSUPPORTED_VALUE", f"map key of type {_MAJOR_NAMES[major]}; "
                            "metadata keys must be text", key_start)
        key = self.text(arg, "a map key")
        key_bytes = bytes(self.buf[key_start:self.pos])
        if prev is not None and self.strict:
            if key_bytes == prev:
                raise self.fail("DUPLICATE_KEY", f"map key {key!r} appears twice", key_start)
            if key_bytes < prev:
                raise self.fail("UNSORTED_KEYS", f"map key {key!r} is out of order; keys must be "
                                "sorted bytewise by their encoding", key_start)
        elif key in result:
            raise self.fail("DUPLICATE_KEY", f"map key {key!r} appears twice", key_start)
        return key_bytes, key

    def _simple(self, ai: int, arg: int, start: int) -> Any:
        if ai == 20:
            return False
        if ai == 21:
            return True
        if ai == 22:
            return None
        if ai < 25:
            raise self.fail("UNSUPPORTED_VALUE", f"simple value {arg} is not allowed in metadata", start)
        raw = bytes(self.buf[start:self.pos])
        value = (_HALF, _SINGLE, _DOUBLE)[ai - 25].unpack(raw[1:])[0]
        if self.strict and encode_float(value) != raw:
            if value != value:
                raise self.fail("NON_CANONICAL_FLOAT", "a NaN in metadata must be encoded as f97e00", start)
            raise self.fail("NON_CANONICAL_FLOAT", f"float {value!r} must use its shortest exact width", start)
        return value


def _more(exc: DecodeError, items: int) -> None:
    """Raise a TRUNCATED error's lower bound by the items still to come (each needs at least one byte)."""
    if exc.needed is not None:
        exc.needed += items


_MAJOR_NAMES = ("an unsigned integer", "a negative integer", "a byte string", "a text string",
                "an array", "a map", "a tag", "a simple value or float")
