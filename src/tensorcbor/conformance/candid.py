"""Reading an encoder's output as raw bytes, hex, or the Candid text that `dfx canister call` prints.

Candid's text form of a blob is ``blob "..."``: a text literal in which ``\\XX``
(two hex digits) is one byte, ``\\n \\r \\t \\\\ \\" \\'`` are escapes, ``\\u{X..}``
is a Unicode scalar value written as UTF-8, and every other character stands for
its UTF-8 bytes. ``vec { 1; 2; ... }`` of nat8 (dfx's older output) is read too.
"""

from __future__ import annotations

import re

_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", '"': b'"', "'": b"'"}
_HEX = "0123456789abcdefABCDEF"


def parse_blob_literal(body: str) -> bytes:
    """Bytes of the contents of a Candid blob/text literal (between the quotes)."""
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt]
            i += 2
        elif nxt == "u" and body[i + 2:i + 3] == "{":
            end = body.index("}", i)
            out += chr(int(body[i + 3:end].replace("_", ""), 16)).encode("utf-8")
            i = end + 1
        elif len(body) >= i + 3 and body[i + 1] in _HEX and body[i + 2] in _HEX:
            out.append(int(body[i + 1:i + 3], 16))
            i += 3
        else:
            raise ValueError(f"invalid Candid escape at character {i}: {body[i:i + 4]!r}")
    return bytes(out)


_BLOB = re.compile(r'blob\s*"((?:[^"\\]|\\.)*)"', re.S)
_VEC = re.compile(r"vec\s*\{([^{}]*)\}", re.S)


def parse_candid(text: str) -> bytes:
    """The blob in a Candid textual value such as ``(blob "\\d9\\d9\\f7...")``."""
    m = _BLOB.search(text)
    if m:
        return parse_blob_literal(m.group(1))
    m = _VEC.search(text)
    if m:
        items = [x.split(":")[0].strip().replace("_", "") for x in m.group(1).split(";")]
        return bytes(int(x, 0) for x in items if x)
    raise ValueError("no Candid blob (blob \"...\") or vec { ... } found")


def read_output(data: bytes) -> tuple[bytes, str]:
    """(document bytes, detected form) for raw, hex or Candid text content."""
    try:
        txt = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return data, "raw"
    if "blob" in txt or "vec" in txt:
        return parse_candid(txt), "candid"
    compact = re.sub(r"\s+", "", txt)
    if compact.lower().startswith("0x"):
        compact = compact[2:]
    if compact and re.fullmatch(r"(?:[0-9a-fA-F]{2})+", compact):
        return bytes.fromhex(compact), "hex"
    return data, "raw"
