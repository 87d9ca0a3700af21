"""Saying exactly what differs between an expected value and what an implementation produced."""

from __future__ import annotations

import math
from typing import Any

from ..dtypes import BY_NAME
from .values import parse_float


def first_byte_difference(want: bytes, got: bytes) -> str | None:
    """'first difference at byte N: expected 0xAA, got 0xBB' (or a length note), None when equal."""
    if want == got:
        return None
    for i, (a, b) in enumerate(zip(want, got, strict=False)):
        if a != b:
            return (f"first difference at byte {i}: expected 0x{a:02x}, got 0x{b:02x} "
                    f"(lengths {len(want)} and {len(got)})")
    shorter = min(len(want), len(got))
    return (f"identical for {shorter} bytes, then the output is {'shorter' if len(got) < len(want) else 'longer'}: "
            f"expected {len(want)} bytes, got {len(got)}")


def _tensor_diffs(want: dict[str, Any], got: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    if got.get("dtype") != want["dtype"]:
        return [f"{where}dtype: expected {want['dtype']}, got {got.get('dtype')}"]
    if [int(d) for d in got.get("shape", [])] != list(want["shape"]) or "shape" not in got:
        return [f"{where}shape: expected {want['shape']}, got {got.get('shape')}"]
    if "strings" in want:
        gs = got.get("strings")
        if not isinstance(gs, list) or len(gs) != len(want["strings"]):
            return [f"{where}strings: expected {len(want['strings'])} strings, got {gs!r}"[:300]]
        for i, (a, b) in enumerate(zip(want["strings"], gs, strict=False)):
            if a != b:
                return [f"{where}element {i}: expected {a!r}, got {b!r}"]
        return out
    wh, gh = str(want["data_hex"]).lower(), str(got.get("data_hex", "")).lower()
    if wh == gh:
        return out
    dt = BY_NAME[want["dtype"]]
    w, g = bytes.fromhex(wh), bytes.fromhex(gh) if _is_hex(gh) else b""
    if len(w) != len(g):
        return [f"{where}data: expected {len(w)} bytes, got {len(g)}"]
    i = next(k for k in range(len(w)) if w[k] != g[k])
    if dt.packed:
        elem = i * 8 // dt.bits
        return [f"{where}data byte {i} (around element {elem}): expected 0x{w[i]:02x}, got 0x{g[i]:02x}"]
    size = max(1, dt.bits // 8)
    elem = i // size
    return [f"{where}element {elem}: expected bytes {w[elem * size:(elem + 1) * size].hex()}, "
            f"got {g[elem * size:(elem + 1) * size].hex()}"]


def _is_hex(s: str) -> bool:
    try:
        bytes.fromhex(s)
        return True
    except ValueError:
        return False


def meta_equal(want: Any, got: Any) -> bool:
    """Typed metadata equality; floats compare by value (NaN equals NaN, -0 differs from 0)."""
    if isinstance(want, dict) and isinstance(got, dict) and len(want) == 1 and want.keys() == got.keys():
        (tag, wb), = want.items()
        gb = got[tag]
        try:
            if tag == "int":
                return int(wb) == int(gb)
            if tag == "float":
                a, b = parse_float(str(wb)), parse_float(str(gb))
                return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
            if tag == "bytes":
                return str(wb).lower() == str(gb).lower()
            if tag == "array":
                return len(wb) == len(gb) and all(meta_equal(x, y) for x, y in zip(wb, gb, strict=False))
            if tag == "map":
                return len(wb) == len(gb) and all(
                    kw == kg and meta_equal(vw, vg) for (kw, vw), (kg, vg) in zip(wb, gb, strict=False))
        except (TypeError, ValueError):
            return False
        return False
    return type(want) is type(got) and want == got


def _meta_diffs(want: Any, got: Any, path: str) -> list[str]:
    if meta_equal(want, got):
        return []
    if isinstance(want, dict) and "map" in want and isinstance(got, dict) and "map" in got:
        wk = [k for k, _ in want["map"]]
        gk = [k for k, _ in got["map"]]
        if wk != gk:
            return [f"metadata{path}: keys expected {wk}, got {gk}"]
        for (k, wv), (_, gv) in zip(want["map"], got["map"], strict=False):
            if not meta_equal(wv, gv):
                return _meta_diffs(wv, gv, f"{path}[{k!r}]")
    return [f"metadata{path}: expected {want}, got {got}"]


def decoded_diffs(kind: str, expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Differences between a valid vector's expected value and a decoder's protocol output."""
    if "error" in got:
        return [f"rejected a valid vector with {got['error']}"]
    if got.get("kind") != kind:
        return [f"kind: expected {kind}, got {got.get('kind')}"]
    if kind == "tensor":
        return _tensor_diffs(expected, got, "")
    out = _meta_diffs(expected["metadata"], got.get("metadata"), "")
    wt, gt = expected["tensors"], got.get("tensors") or []
    wn, gn = [t["name"] for t in wt], [t.get("name") for t in gt]
    if wn != gn:
        return out + [f"tensor names: expected {wn}, got {gn}"]
    for w, g in zip(wt, gt, strict=False):
        out += _tensor_diffs(w, g, f"tensor {w['name']!r}: ")
    return out
