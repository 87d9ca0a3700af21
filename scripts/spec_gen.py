#!/usr/bin/env python3
"""Regenerate the generated parts of SPEC.md (or check them with --check).

SPEC.md carries blocks between ``<!-- BEGIN GENERATED: NAME -->`` and
``<!-- END GENERATED: NAME -->``. Their content comes from the package's single
sources (dtype table, error registry) and from encoding the worked examples with
the reference codec; the diagnostic notation is printed from cbor2's parse, an
independent decoder.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cbor2
import ml_dtypes
import numpy as np

import tensorcbor
from tensorcbor import dtypes, errors

SPEC = Path(__file__).resolve().parent.parent / "SPEC.md"
BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=name) -->)",
                   re.S)


# ------------------------------------------------------------------ CDDL

def _data(d: dtypes.DType) -> str:
    if d.kind == "string":
        return "[* tstr]"
    if d.rfc8746_tag is not None:
        return f"#6.{d.rfc8746_tag}(bytes)"
    return "bytes"


def cddl_tensors() -> str:
    """One rule per dtype, with and without the padding item, for the tensor document and the bundle item.

    Written without optional array entries and group choices: cddl-rs (pycddl) does not match
    those inside arrays the way RFC 8610 says, and both validators must agree (tests/test_spec.py).
    """
    names = []
    lines = []
    items = []
    for d in dtypes.TABLE:
        rule = f"t-{d.name.replace('_', '-')}"
        names.append(rule)
        data = _data(d)
        alts = [f"[version, {d.code}, shape, {data}]"]
        if d.align > 1:
            alts.append(f"[version, {d.code}, shape, pad, {data}]")
        lines.append(f"{rule} = " + " / ".join(alts))
        items.append(data)
    tensor = "tensor-v1 = " + " /\n            ".join(
        " / ".join(names[i:i + 6]) for i in range(0, len(names), 6)) + " /\n            t-compressed"
    data_items = sorted(set(items), key=items.index)
    item = ("; a bundle item: [?pad, data]; which data and whether a pad is present follow from its entry\n"
            "item = [item-data] / [pad, item-data] / [compressed]\n"
            "item-data = " + " / ".join(data_items) + "\n")
    return tensor + "\n" + "\n".join(lines) + "\n\n" + item


def cddl_extended() -> str:
    wide = " / ".join(str(d.code) for d in dtypes.TABLE if d.align > 1)
    narrow = " / ".join(str(d.code) for d in dtypes.TABLE if d.align == 1 and d.kind != "string")
    return CDDL_EXTENDED + f"wide-dtype = {wide}\nnarrow-dtype = {narrow}\n"


CDDL_HEAD = """\
tensorcbor-document = tensor-document / bundle-document

tensor-document = #6.55799(#6.52084(tensor-v1))
bundle-document = #6.55799(#6.52066(bundle-v1))

; What every version keeps (SPEC.md section 5.3): the magic, an array, the version first.
; A decoder reads this much of any document and rejects a version other than 1.
future-document = #6.55799(#6.52084([future-version, * any]) / #6.52066([future-version, * any]))
future-version = uint .ne 1

version = 1
bundle-v1 = [version, metadata, directory, bundle-pad, tensors]
directory = [* entry]                       ; sorted by name encoding, names unique
entry = core-entry / compressed-entry
core-entry = [name: name, dtype: dtype, shape: shape, offset: uint, length: uint]
; zero bytes; k is the one length in 0..7 that puts the tensors array at a multiple of 8 (section 5.2)
bundle-pad = bytes .size (0..7)
tensors = [* item]                          ; one item per entry, in the same order

name = tstr .size (1..4096)
dtype = DTYPE_CODES
shape = [0*32 dim]
dim = uint                                  ; the non-zero dimensions multiply to at most 2^53-1
; zero bytes: the padding item is 0..6 zero bytes (SPEC.md section 4.3)
pad = bytes .size (0..6)

; The document rules check only that metadata is a text-keyed map: cddl-rs (pycddl) cannot match a map
; against a type choice in a map value, and both validators must agree. Its data model (section 6.1):
metadata = { * tstr => any }
metadata-model = { * tstr => meta-value }
meta-value = int / float / tstr / bytes / bool / null / [* meta-value] / metadata-model
"""


CDDL_EXTENDED = """\
; Extended profile (SPEC.md section 13): 52090([codec, filter, length, zstd data]). The profile rules are not
; marked with RFC 9165 .feature: cddl-rs (pycddl) treats a .feature control as always satisfied, which would
; make the two validators disagree on every document.
t-compressed = t-compressed-wide / t-compressed-narrow
t-compressed-wide = [version, wide-dtype, shape, compressed]
t-compressed-narrow = [version, narrow-dtype, shape, compressed-unfiltered]
compressed-entry = compressed-entry-wide / compressed-entry-narrow
compressed-entry-wide = [name: name, dtype: wide-dtype, shape: shape, offset: uint, length: uint,
                         codec: 1, filter: 0 / 1]
compressed-entry-narrow = [name: name, dtype: narrow-dtype, shape: shape, offset: uint, length: uint,
                           codec: 1, filter: 0]
compressed = #6.52090([codec: 1, filter: 0 / 1, length: uint, zstd: bytes])
compressed-unfiltered = #6.52090([codec: 1, filter: 0, length: uint, zstd: bytes])
"""

CDDL_STREAM = """\
; Stream profile (SPEC.md section 12): a second root, one chunk
tensorcbor-stream-chunk = manifest-chunk / data-chunk

manifest-chunk = #6.55799(#6.52083(manifest-v1))
manifest-v1 = [version, doc-length: 1..9223372036854775807, max-size: 128..4294967295,
               doc-sha256: sha256, digests: bytes .size (32..4294967200)]
data-chunk = #6.55799(#6.52083(data-v1))
data-v1 = [version, stream-id: sha256, index: 1..134217725,
           payload: bytes .size (1..4294967243)]
sha256 = bytes .size 32
"""


def cddl() -> str:
    codes = " / ".join(str(d.code) for d in dtypes.TABLE)
    return CDDL_HEAD.replace("DTYPE_CODES", codes) + "\n" + cddl_tensors() + "\n" + cddl_extended() + "\n" + CDDL_STREAM


# ------------------------------------------------------------------ diagnostic notation and annotated hex

def diag(obj: Any, indent: int = 0) -> str:
    one = _diag1(obj)
    if len(one) + indent <= 76 or not isinstance(obj, (list, tuple, Mapping, cbor2.CBORTag)):
        return one
    pad = "  " * (indent + 1)
    if isinstance(obj, cbor2.CBORTag):
        return f"{obj.tag}({diag(obj.value, indent)})"
    if isinstance(obj, Mapping):
        inner = ",\n".join(f"{pad}{_diag1(k)}: {diag(v, indent + 1)}" for k, v in obj.items())
        return "{\n" + inner + "\n" + "  " * indent + "}"
    inner = ",\n".join(pad + diag(v, indent + 1) for v in obj)
    return "[\n" + inner + "\n" + "  " * indent + "]"


def document_diag(blob: bytes) -> str:
    """Diagnostic notation of a document; cbor2 drops tag 55799 silently, so it is put back here."""
    text = diag(cbor2.loads(blob))
    return f"55799({text})" if blob.startswith(b"\xd9\xd9\xf7") else text


def _diag1(obj: Any) -> str:
    if isinstance(obj, cbor2.CBORTag):
        return f"{obj.tag}({_diag1(obj.value)})"
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, bytes):
        return f"h'{obj.hex()}'"
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return repr(obj)
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_diag1(v) for v in obj) + "]"
    if isinstance(obj, Mapping):
        return "{" + ", ".join(f"{_diag1(k)}: {_diag1(v)}" for k, v in obj.items()) + "}"
    raise TypeError(type(obj))


def annotate(blob: bytes) -> str:
    """Annotated hex, one head per line, the way an implementer reads the bytes."""
    out: list[str] = []
    _annotate(blob, 0, 0, out)
    width = max(len(hexpart) for hexpart, _ in out)
    return "\n".join(f"{h.ljust(width)}  # {c}" if c else h for h, c in out)


def _annotate(b: bytes, pos: int, depth: int, out: list[tuple[str, str]]) -> int:
    ib = b[pos]
    major, ai = ib >> 5, ib & 31
    n = 0 if ai < 24 else 1 << (ai - 24)
    arg = ai if ai < 24 else int.from_bytes(b[pos + 1:pos + 1 + n], "big")
    head_hex = b[pos:pos + 1 + n].hex()
    ind = "   " * depth
    end = pos + 1 + n
    if major == 0:
        out.append((ind + head_hex, f"unsigned({arg})"))
    elif major == 1:
        out.append((ind + head_hex, f"negative({-1 - arg})"))
    elif major in (2, 3):
        kind = "bytes" if major == 2 else "text"
        out.append((ind + head_hex, f"{kind}({arg})"))
        content = b[end:end + arg]
        for i in range(0, len(content), 16):
            chunk = content[i:i + 16]
            note = json.dumps(content.decode("utf-8"), ensure_ascii=False) if major == 3 and i == 0 else ""
            out.append((ind + "   " + chunk.hex(), note))
        end += arg
    elif major in (4, 5):
        out.append((ind + head_hex, f"{'array' if major == 4 else 'map'}({arg})"))
        for _ in range(arg * (2 if major == 5 else 1)):
            end = _annotate(b, end, depth + 1, out)
    elif major == 6:
        names = {55799: "self-described CBOR", 52084: "tensorcbor tensor", 52066: "tensorcbor bundle",
                 52083: "tensorcbor stream chunk", 52090: "tensorcbor compressed data"}
        names.update({d.rfc8746_tag: f"RFC 8746 {d.name} LE typed array" for d in dtypes.TABLE if d.rfc8746_tag})
        out.append((ind + head_hex, f"tag({arg}) {names.get(arg, '')}".rstrip()))
        end = _annotate(b, end, depth + 1, out)
    else:
        simple = {20: "false", 21: "true", 22: "null"}
        if ai in simple:
            note = simple[ai]
        else:
            note = f"float{8 * n}: {_diag1(cbor2.loads(b[pos:end]))}"
        out.append((ind + head_hex, note))
    return end


# ------------------------------------------------------------------ worked examples

def _examples() -> list[tuple[str, str, bytes]]:
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3) / 2
    nan_payload = np.array([0x7FC00001], dtype=np.uint32).view(np.float32)[0]
    specials = np.array([np.nan, -0.0, np.inf, -np.inf, 5.96e-8, 65504.0], dtype=np.float16)
    return [
        ("float32, rank 2, no padding needed",
         "The smallest common case: 16 bytes of framing, the data lands at offset 16.",
         tensorcbor.encode(f32)),
        ("float32, rank 1: one byte of padding",
         "Without padding the data would start at offset 14; the pad `41 00` (two bytes) moves it to 16.",
         tensorcbor.encode(np.array([1.0, nan_payload, -2.5], dtype=np.float32))),
        ("float64 scalar (rank 0): three bytes of padding",
         "Rank 0 is an empty shape array; one element follows. Pad `42 0000` is three bytes.",
         tensorcbor.encode(np.array(math.pi))),
        ("int32 with a zero-size dimension",
         "Shape [0, 3] has no elements: the data is an empty byte string, still aligned.",
         tensorcbor.encode(np.zeros((0, 3), np.int32))),
        ("float16 special values",
         "NaN, -0.0, +Inf, -Inf, the smallest subnormal and the largest finite half, bit-exact.",
         tensorcbor.encode(specials)),
        ("uint8 extremes",
         "uint8 uses tag 64; no padding for 1-byte elements.",
         tensorcbor.encode(np.array([0, 1, 254, 255], np.uint8))),
        ("int64 minimum and maximum",
         "Tag 79 (sint64, little endian).",
         tensorcbor.encode(np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max], np.int64))),
        ("bool (extension type, no RFC 8746 tag)",
         "One byte per element, 0x00 or 0x01.",
         tensorcbor.encode(np.array([[True, False], [False, True]]))),
        ("bfloat16 (extension type)",
         "A bare byte string of little-endian bfloat16 values: 1.0, -2.0, 0.5.",
         tensorcbor.encode(np.array([1.0, -2.0, 0.5], ml_dtypes.bfloat16))),
        ("float8_e8m0fnu and a two-byte dtype head",
         "float8_e8m0fnu has dtype code 24, which needs the head 18 18.",
         tensorcbor.encode(np.array([1.0, 2.0, 0.5], ml_dtypes.float8_e8m0fnu))),
        ("int4, odd element count, packed low nibble first",
         "[-8, 7, 1] packs to 78 01, exactly ONNX's raw_data; the unused high nibble is zero.",
         tensorcbor.encode(np.array([-8, 7, 1], ml_dtypes.int4))),
        ("float6_e2m3fn: a 6-bit little-endian bit stream",
         "Five elements (1.0, -1.0, 0.5, 1.0, 2.0) take 30 bits, so 4 bytes.",
         tensorcbor.encode(np.array([1.0, -1.0, 0.5, 1.0, 2.0], ml_dtypes.float6_e2m3fn))),
        ("string tensor",
         "UTF-8 text elements: empty, ASCII and non-ASCII.",
         tensorcbor.encode(np.array(["", "tensor", "Grüße ✓"], dtype=np.dtypes.StringDType()))),
        ("complex128: 8-byte alignment",
         "Complex values are (real, imaginary) pairs of float64; alignment is that of float64.",
         tensorcbor.encode(np.array([1 + 2j], np.complex128))),
        ("empty bundle",
         "No tensors, no metadata: an empty directory, then a pad of 5 zero bytes so that the (empty) tensors "
         "array starts at B = 16.",
         tensorcbor.encode_bundle({})),
        _bundle_example(),
        ("compressed float32 (Extended profile)",
         "A 16 x 16 float32 tensor of 0.5, byte-shuffled and compressed with zstd (§13): "
         "52090([codec 1 = zstd, filter 1 = shuffle, length 1024, frame]); no padding item. The frame bytes "
         "are those of the reference zstd (libzstd 1.5.7); other versions may write another valid frame.",
         tensorcbor.encode(np.full((16, 16), 0.5, np.float32), compression="zstd", shuffle=True)),
        *_stream_examples(),
    ]


def _bundle_example() -> tuple[str, str, bytes]:
    blob = tensorcbor.encode_bundle(
        {"layer.weight": np.array([[1, 2], [3, 4]], np.float32), "bias": np.array([0.5], np.float16)},
        {"model": "demo", "step": 1200, "lr": 0.25, "loss": float("nan"), "neg": -1, "ok": True,
         "none": None, "raw": b"\x00\xff", "dims": [2, [2]], "cfg": {"b": False, "a": -0.0}})
    bias, weight = tensorcbor.read_layout(blob)
    base = len(blob) - 28  # after B: 82, [h'', 84(h'0038')] (7 bytes), [85(16 bytes)] (20 bytes)
    assert base % 8 == 0 and bias.offset == base + 6 and weight.offset == base + 12
    return ("bundle with two tensors and metadata",
            "The directory lists the tensors in bytewise order of their encoded names, each as [name, dtype, "
            f"shape, offset, length]; offsets count from B = {base}, the offset of the tensors array, which the "
            f"pad (here one zero byte) makes a multiple of 8: bias's element bytes are at {base} + 6 = "
            f"{bias.offset}, layer.weight's at {base} + 12 = {weight.offset}. Each item is [?pad, data] with the "
            "padding of §4.3 (bias needs one byte, the empty pad item `40`). Metadata shows every allowed value "
            "type.", blob)


def _stream_examples() -> list[tuple[str, str, bytes]]:
    from tensorcbor import stream

    doc = tensorcbor.encode(np.arange(16, dtype=np.float32))
    chunks = list(stream.chunks(doc, 128))
    return [
        ("stream manifest (chunk 0)",
         f"The {len(doc)}-byte tensor document of `arange(16, float32)` cut at max-size 128 (payload capacity 76): "
         f"doc-length {len(doc)}, max-size 128, the document's SHA-256, then the SHA-256 of the two payloads. The "
         f"stream digest is the SHA-256 of these bytes: `{stream.stream_digest(chunks[0]).hex()}`.",
         chunks[0]),
        ("stream data chunk (the last of two)",
         "Stream id (the stream digest), index 2, and the last 4 bytes of the document; chunk 1 carries the "
         "first 76.",
         chunks[2]),
    ]


def examples_markdown() -> str:
    parts = []
    for i, (title, text, blob) in enumerate(_examples(), 1):
        parts.append(f"### B.{i}. {title}\n\n{text} ({len(blob)} bytes.)\n\n"
                     f"```cbor-diag\n{document_diag(blob)}\n```\n\n```hex\n{annotate(blob)}\n```\n")
    return "\n".join(parts)


def blocks() -> dict[str, str]:
    return {
        "dtypes": dtypes.markdown_table(),
        "errors": errors.markdown_table(),
        "cddl": "```cddl\n" + cddl() + "```\n",
        "examples": examples_markdown(),
    }


def render(text: str) -> str:
    generated = blocks()
    seen = set()

    def fill(m: re.Match[str]) -> str:
        seen.add(m.group("name"))
        return m.group(1) + generated[m.group("name")] + m.group(4)

    result = BLOCK.sub(fill, text)
    missing = set(generated) - seen
    if missing:
        raise SystemExit(f"SPEC.md lacks generated blocks: {sorted(missing)}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if SPEC.md is not up to date")
    args = parser.parse_args()
    current = SPEC.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("SPEC.md is out of date: run python3 scripts/spec_gen.py", file=sys.stderr)
            return 1
        return 0
    SPEC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
