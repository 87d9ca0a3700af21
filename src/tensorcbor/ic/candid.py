"""The Candid encoding of the messages a canister takes and gives (the subset examples/tensor-store.did uses).

Why it exists: the emulator passes raw message bytes; tests and benches need to build Candid arguments and read
Candid replies without a Candid library (none is a dependency). A type is a primitive name ("nat64", "text",
"blob", ...) or ("opt"|"vec", T) or ("record"|"variant", {name: T}). Decoded values: record -> dict,
variant -> (tag, value), opt -> None or value, blob -> bytes, vec -> list.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .leb import enc_sleb as _sleb
from .leb import enc_uleb as _uleb
from .leb import read_leb, signed

Type = Any
_PRIM = {"null": 0x7F, "bool": 0x7E, "nat": 0x7D, "int": 0x7C, "nat8": 0x7B, "nat16": 0x7A, "nat32": 0x79,
         "nat64": 0x78, "int8": 0x77, "int16": 0x76, "int32": 0x75, "int64": 0x74, "float32": 0x73,
         "float64": 0x72, "text": 0x71, "reserved": 0x70, "empty": 0x6F, "principal": 0x68}
_PRIM_BY_CODE = {code - 0x80: name for name, code in _PRIM.items()}
_FIXED = {"nat8": "<B", "nat16": "<H", "nat32": "<I", "nat64": "<Q", "int8": "<b", "int16": "<h", "int32": "<i",
          "int64": "<q", "float32": "<f", "float64": "<d"}
_OPT, _VEC, _RECORD, _VARIANT = -18, -19, -20, -21


def idl_hash(name: str) -> int:
    """Candid field id of a name."""
    h = 0
    for b in name.encode():
        h = (h * 223 + b) % (1 << 32)
    return h


def _fields(t: Type) -> list[tuple[int, str, Type]]:
    return sorted((idl_hash(k), k, v) for k, v in t[1].items())


class _TypeTable:
    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.index: dict[str, int] = {}

    def ref(self, t: Type) -> bytes:
        if isinstance(t, str) and t != "blob":
            return _sleb(_PRIM[t] - 0x80)
        key = repr(t)
        if key not in self.index:
            if t == "blob":
                body = _sleb(_VEC) + _sleb(_PRIM["nat8"] - 0x80)
            elif t[0] in ("opt", "vec"):
                body = _sleb(_OPT if t[0] == "opt" else _VEC) + self.ref(t[1])
            else:
                fs = _fields(t)
                body = _sleb(_RECORD if t[0] == "record" else _VARIANT) + _uleb(len(fs)) + b"".join(
                    _uleb(h) + self.ref(ft) for h, _, ft in fs)
            self.index[key] = len(self.entries)
            self.entries.append(body)
        return _sleb(self.index[key])


def _enc_value(t: Type, v: Any) -> bytes:
    if t == "blob":
        return _uleb(len(v)) + bytes(v)
    if isinstance(t, str):
        if t in _FIXED:
            return struct.pack(_FIXED[t], v)
        if t == "text":
            b = v.encode()
            return _uleb(len(b)) + b
        if t == "nat":
            return _uleb(v)
        if t == "int":
            return _sleb(v)
        if t == "bool":
            return bytes([bool(v)])
        if t == "principal":
            return b"\x01" + _uleb(len(v)) + bytes(v)
        if t in ("null", "reserved"):
            return b""
        raise ValueError(f"cannot encode a value of type {t}")
    kind = t[0]
    if kind == "opt":
        return b"\x00" if v is None else b"\x01" + _enc_value(t[1], v)
    if kind == "vec":
        return _uleb(len(v)) + b"".join(_enc_value(t[1], x) for x in v)
    if kind == "record":
        return b"".join(_enc_value(ft, v[name]) for _, name, ft in _fields(t))
    tag, inner = v
    fs = _fields(t)
    i = next(i for i, (_, name, _) in enumerate(fs) if name == tag)
    return _uleb(i) + _enc_value(fs[i][2], inner)


def encode(args: Sequence[tuple[Type, Any]]) -> bytes:
    """A Candid message of the given (type, value) arguments."""
    table = _TypeTable()
    refs = [table.ref(t) for t, _ in args]
    return b"".join([b"DIDL", _uleb(len(table.entries)), *table.entries, _uleb(len(args)), *refs,
                     *(_enc_value(t, v) for t, v in args)])


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uleb(self) -> int:
        n, _, self.pos = read_leb(self.data, self.pos)
        return n

    def sleb(self) -> int:
        n, shift, self.pos = read_leb(self.data, self.pos)
        return signed(n, shift)

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("Candid message truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def decode(data: bytes, names: Iterable[str] = ()) -> list[Any]:
    """The argument values of a Candid message; record/variant field names come from `names` (others stay
    as their numeric ids)."""
    by_hash = {idl_hash(n): n for n in names}
    r = _Reader(data)
    if r.take(4) != b"DIDL":
        raise ValueError("not a Candid message")
    table: list[tuple[int, Any]] = []
    for _ in range(r.uleb()):
        code = r.sleb()
        if code in (_OPT, _VEC):
            table.append((code, r.sleb()))
        elif code in (_RECORD, _VARIANT):
            table.append((code, [(r.uleb(), r.sleb()) for _ in range(r.uleb())]))
        else:
            raise ValueError(f"unsupported Candid type constructor {code}")
    arg_types = [r.sleb() for _ in range(r.uleb())]

    def value(t: int) -> Any:
        if t < 0:
            prim = _PRIM_BY_CODE[t]
            if prim in _FIXED:
                fmt = _FIXED[prim]
                return struct.unpack(fmt, r.take(struct.calcsize(fmt)))[0]
            if prim == "text":
                return r.take(r.uleb()).decode()
            if prim == "nat":
                return r.uleb()
            if prim == "int":
                return r.sleb()
            if prim == "bool":
                return r.take(1) == b"\x01"
            if prim == "principal":
                if r.take(1) != b"\x01":
                    raise ValueError("opaque principal reference")
                return r.take(r.uleb())
            if prim in ("null", "reserved"):
                return None
            raise ValueError(f"cannot decode {prim}")
        code, arg = table[t]
        if code == _OPT:
            return value(arg) if r.take(1) == b"\x01" else None
        if code == _VEC:
            n = r.uleb()
            if arg == _PRIM["nat8"] - 0x80:
                return r.take(n)
            return [value(arg) for _ in range(n)]
        if code == _RECORD:
            return {by_hash.get(h, h): value(ft) for h, ft in arg}
        h, ft = arg[r.uleb()]
        return (by_hash.get(h, h), value(ft))

    return [value(t) for t in arg_types]


def did_names(did: Path) -> list[str]:
    """Every identifier of a .did file (field and variant names for `decode`)."""
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", did.read_text())


def leb128(n: int) -> bytes:
    """Unsigned LEB128, as Candid writes lengths and `nat`."""
    return _uleb(n)


BLOB_PREFIX = b"DIDL\x01\x6d\x7b\x01\x00"


def candid_blob(b: bytes) -> bytes:
    """The Candid message of one `blob` argument."""
    return BLOB_PREFIX + _uleb(len(b)) + b


def parse_candid_blob(reply: bytes) -> bytes:
    """The blob of a Candid reply `(blob)`."""
    if not reply.startswith(BLOB_PREFIX):
        raise ValueError(f"reply is not a single Candid blob: {reply[:16].hex()}")
    r = _Reader(reply)
    r.pos = len(BLOB_PREFIX)
    return r.take(r.uleb())


def parse_candid_nat64(reply: bytes) -> int:
    """The value of a Candid reply `(nat64)`."""
    prefix = b"DIDL\x00\x01\x78"
    if not reply.startswith(prefix) or len(reply) < len(prefix) + 8:
        raise ValueError(f"reply is not a single Candid nat64: {reply[:16].hex()}")
    return int.from_bytes(reply[len(prefix):len(prefix) + 8], "little")
