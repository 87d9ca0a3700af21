"""Core profile, invalid vectors: hand-made byte mutations, each with the code SPEC.md §7.1 assigns.

Nothing here asks the codec what it rejects. Each vector is a valid sample with
(preferably) one defect, and its code follows from the order of checks in §7.1:
the first failing check wins, so e.g. a non-shortest head is reported before a
padding error that the longer head would cause, structure before elements
(§7.2), and a version other than 1 before anything after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .builder import (
    BY_NAME,
    MAGIC_BUNDLE,
    MAGIC_TENSOR,
    Dt,
    F,
    M,
    TensorSpec,
    array,
    assemble_bundle,
    bstr,
    bundle_doc,
    bundle_pad,
    head,
    item_end,
    layout,
    pack_bits,
    read_head,
    tensor_doc,
    text,
    uint,
    walk,
    wide_head,
)
from .common import Vector

PROFILE = "core"

F32, F64, U8, I8, BOOL, STR = (BY_NAME[n] for n in ("float32", "float64", "uint8", "int8", "bool", "string"))
U4, I4, F16, C128, BF16 = (BY_NAME[n] for n in ("uint4", "int4", "float16", "complex128", "bfloat16"))

# Samples that mutations start from.
S_F32 = tensor_doc(TensorSpec(F32, (3,), bytes.fromhex("0000803f0100c07f000020c0")))  # SPEC.md B.2, pad 41 00
S_F32_ALIGNED = tensor_doc(TensorSpec(F32, (2, 3), bytes(range(24))))  # no pad item
S_U8 = tensor_doc(TensorSpec(U8, (4,), bytes.fromhex("0001feff")))
S_STR = tensor_doc(TensorSpec(STR, (3,), strings=["", "tensor", "Grüße ✓"]))
S_U4 = tensor_doc(TensorSpec(U4, (3,), pack_bits([8, 7, 1], 4)))
S_BOOL = tensor_doc(TensorSpec(BOOL, (2, 2), bytes.fromhex("01000001")))
META = M([("lr", F(0.25)), ("ok", True), ("cfg", M([("a", F(-0.0)), ("b", False)])), ("neg", -1),
          ("raw", b"\x00\xff"), ("dims", [2, [2]]), ("none", None), ("step", 1200), ("model", "demo")])
S_BUNDLE = bundle_doc(META, [("bias", TensorSpec(F16, (1,), b"\x00\x38")),
                             ("layer.weight", TensorSpec(F32, (2, 2), bytes(16))),
                             ("tok", TensorSpec(STR, (2,), strings=["a", "é"]))])
SAMPLES = {"f32": ("tensor", S_F32), "u8": ("tensor", S_U8), "str": ("tensor", S_STR), "u4": ("tensor", S_U4),
           "bundle": ("bundle", S_BUNDLE)}


def T(vid: str, desc: str, data: bytes, error: str, flags: list[str]) -> Vector:
    return Vector(vid, desc, "tensor", data, flags, error=error)


def B(vid: str, desc: str, data: bytes, error: str, flags: list[str]) -> Vector:
    return Vector(vid, desc, "bundle", data, flags, error=error)


def raw_tensor(dtype: bytes, shape: bytes, data_heads: bytes, content: bytes, align: int,
               pad: bytes | None = None, version: bytes = b"\x01") -> bytes:
    """A tensor document from raw pieces; the pad item follows §4.3 unless `pad` is given (b"" = absent)."""
    if pad is None:
        p = len(MAGIC_TENSOR) + 1 + len(version) + len(dtype) + len(shape) + len(data_heads)
        s = (-p) % align
        pad = head(2, s - 1) + bytes(s - 1) if s else b""
    return MAGIC_TENSOR + head(4, 5 if pad else 4) + version + dtype + shape + pad + data_heads + content


def dims(*ds: int) -> bytes:
    return array([uint(d) for d in ds])


U8_SCALAR = TensorSpec(BY_NAME["uint8"], (), b"\x00")


def bundle_raw(meta: bytes, entries: list[tuple[bytes, TensorSpec]]) -> bytes:
    """A bundle from an encoded metadata map and (raw key, tensor) pairs in the given order, laid out by the
    rule of SPEC.md §5.2 (so only what the caller puts in the keys or tensors is wrong)."""
    dir_entries, items = layout([(k, t, None) for k, t in entries])
    return assemble_bundle(meta, dir_entries, items)


def names_bundle(*keys: bytes) -> bytes:
    """A bundle of uint8 scalars under the given raw name encodings."""
    return bundle_raw(b"\xa0", [(k, U8_SCALAR) for k in keys])


def item_at(doc: bytes, pos: int) -> tuple[int, int]:
    return pos, item_end(doc, pos)


def one_tensor_bundle_meta(meta: bytes) -> bytes:
    """A bundle with the given raw metadata map and no tensors."""
    return assemble_bundle(meta, [], [])


def meta_with(value: bytes, key: bytes = text("k")) -> bytes:
    """A bundle whose metadata is {key: value} with raw encodings."""
    return one_tensor_bundle_meta(b"\xa1" + key + value)


# ---------------------------------------------------------------- systematic mutations

def non_shortest_heads() -> Iterator[Vector]:
    """Every head of every sample, re-encoded with each longer argument width."""
    for name, (kind, doc) in SAMPLES.items():
        for h in walk(doc):
            if h.pos == 0:
                continue  # the d9d9f7 prefix: a longer form is BAD_MAGIC, see magic_vectors
            minimal = 0 if h.arg < 24 else 1 if h.arg < 256 else 2 if h.arg < 65536 else 4 if h.arg < 1 << 32 else 8
            if h.major == 7:
                continue  # floats and simple values: NON_CANONICAL_FLOAT / MALFORMED, see metadata_vectors
            for size in (1, 2, 4, 8):
                if size <= minimal:
                    continue
                mutated = doc[:h.pos] + wide_head(h.major, h.arg, size) + doc[h.end:]
                yield Vector(f"nonshortest-{name}-at{h.pos}-w{size}",
                             f"{name} sample: head at offset {h.pos} (major {h.major}, argument {h.arg}) "
                             f"with a {size}-byte argument", kind, mutated, ["non-shortest-head", "determinism"],
                             error="NON_SHORTEST_HEAD", offset=h.pos)  # §8.1: the head's first byte


def indefinite_lengths() -> Iterator[Vector]:
    """Every string, array and map of every sample in its indefinite-length form."""
    for name, (kind, doc) in SAMPLES.items():
        for h in walk(doc):
            if h.major not in (2, 3, 4, 5):
                continue
            end = item_end(doc, h.pos)
            body = doc[h.end:end]
            if h.major in (2, 3):
                new = bytes([h.major << 5 | 31]) + (head(h.major, len(body)) + body if body else b"") + b"\xff"
            else:
                new = bytes([h.major << 5 | 31]) + body + b"\xff"
            yield Vector(f"indefinite-{name}-at{h.pos}", f"{name} sample: item at offset {h.pos} (major {h.major}) "
                         "with indefinite length", kind, doc[:h.pos] + new + doc[end:], ["indefinite-length"],
                         error="INDEFINITE_LENGTH", offset=h.pos)


def truncations() -> Iterator[Vector]:
    """Every proper prefix of some samples: whatever is cut, a strict decoder says TRUNCATED."""
    for name in ("f32", "str", "u4", "bundle"):
        kind, doc = SAMPLES[name]
        heads = walk(doc)
        starts = {h.pos for h in heads}
        inside = {p for h in heads for p in range(h.pos + 1, h.end)}
        for cut in range(len(doc)):
            where = "boundary" if cut in starts else "mid-head" if cut in inside else "in-content"
            yield Vector(f"truncated-{name}-{cut:03d}", f"{name} sample cut to its first {cut} bytes ({where})",
                         kind, doc[:cut], ["truncated", f"truncated-{where}"], error="TRUNCATED",
                         offset=truncation_offset(heads, cut))


def truncation_offset(heads: list[Any], cut: int) -> int:
    """SPEC.md §8.1 for a document cut after `cut` bytes: a prefix of d9d9f7 at 0; a cut inside a head at the
    head's first byte (at a head boundary, the head that would start there); inside a string's content at the
    content's first byte."""
    if cut < 3:
        return 0
    for h in heads:
        if h.pos <= cut < h.end:
            return int(h.pos)
        if h.major in (2, 3) and h.end <= cut < h.end + h.arg:
            return int(h.end)
    raise AssertionError(f"cut {cut} is in no head or string")


def trailing() -> Iterator[Vector]:
    for name, (kind, doc) in SAMPLES.items():
        for label, extra in (("zero", b"\x00"), ("break", b"\xff"), ("null", b"\xf6"), ("copy", doc)):
            yield Vector(f"trailing-{name}-{label}", f"{name} sample followed by {label} bytes", kind,
                         doc + extra, ["trailing-bytes"], error="TRAILING_BYTES", offset=len(doc))


# ---------------------------------------------------------------- magic and document structure

def magic_vectors() -> Iterator[Vector]:
    body = S_F32[6:]
    yield T("magic-empty", "empty input: a prefix of d9d9f7", b"", "TRUNCATED", ["magic", "truncated"])
    yield T("magic-d9", "one byte, a prefix of d9d9f7", b"\xd9", "TRUNCATED", ["magic", "truncated"])
    yield T("magic-d9d9", "two bytes, a prefix of d9d9f7", b"\xd9\xd9", "TRUNCATED", ["magic", "truncated"])
    yield T("magic-self-describe-only", "only the self-described CBOR tag", b"\xd9\xd9\xf7", "TRUNCATED",
            ["magic", "truncated"])
    yield B("magic-bundle-d9", "bundle decoder, one byte d9", b"\xd9", "TRUNCATED", ["magic", "truncated"])
    yield T("magic-zero", "a single 00 byte", b"\x00", "BAD_MAGIC", ["magic"])
    yield T("magic-short-not-prefix", "two bytes that are not a prefix of d9d9f7", b"\xd9\x00", "BAD_MAGIC",
            ["magic"])
    yield T("magic-missing-self-describe", "document without the d9d9f7 prefix (lenient-only form)", S_F32[3:],
            "BAD_MAGIC", ["magic", "lenient-only"])
    yield B("magic-bundle-missing-self-describe", "bundle without the d9d9f7 prefix", S_BUNDLE[3:], "BAD_MAGIC",
            ["magic", "lenient-only"])
    yield T("magic-wrong-self-describe", "d9d9f6 instead of d9d9f7", b"\xd9\xd9\xf6" + S_F32[3:], "BAD_MAGIC",
            ["magic"])
    yield T("magic-self-describe-wide", "tag 55799 with a 4-byte argument", b"\xda\x00\x00\xd9\xf7" + S_F32[3:],
            "BAD_MAGIC", ["magic", "non-shortest-head"])
    yield T("magic-wrong-doc-tag", "tag 52085 instead of 52084", b"\xd9\xd9\xf7\xd9\xcb\x75" + body, "BAD_MAGIC",
            ["magic", "tag"])
    yield T("magic-bundle-to-tensor-decoder", "a valid bundle given to the tensor decoder", S_BUNDLE, "BAD_MAGIC",
            ["magic", "kind"])
    yield B("magic-tensor-to-bundle-decoder", "a valid tensor given to the bundle decoder", S_F32, "BAD_MAGIC",
            ["magic", "kind"])
    yield T("magic-no-doc-tag", "d9d9f7 followed directly by the array", b"\xd9\xd9\xf7" + body, "BAD_MAGIC",
            ["magic"])
    yield T("magic-double-self-describe", "d9d9f7 twice", b"\xd9\xd9\xf7" + S_F32, "BAD_MAGIC", ["magic"])
    yield T("magic-doc-tag-reserved-ai", "reserved additional information 28 after d9d9f7",
            b"\xd9\xd9\xf7\x1c" + body, "MALFORMED", ["magic", "malformed"])
    yield T("magic-doc-tag-indefinite", "an indefinite array where the document tag belongs",
            b"\xd9\xd9\xf7\x9f\xff", "INDEFINITE_LENGTH", ["magic", "indefinite-length"])
    yield T("magic-doc-tag-cut", "input ends inside the document tag head", b"\xd9\xd9\xf7\xd9\xcb", "TRUNCATED",
            ["magic", "truncated-mid-head"])
    for label, data in (("zip", b"PK\x03\x04\x14\x00"), ("npy", b"\x93NUMPY\x01\x00"), ("json", b'{"a":1}'),
                        ("safetensors", bytes.fromhex("0800000000000000") + b'{"a":{}}')):
        yield T(f"magic-foreign-{label}", f"a {label} file", data, "BAD_MAGIC", ["magic", "foreign"])


def structure_vectors() -> Iterator[Vector]:
    pre = MAGIC_TENSOR
    rest = S_F32[8:]  # after array head and version
    for n in (0, 2, 3, 6, 7, 31):
        yield T(f"tensor-array-len{n}", f"tensor array of {n} elements (4 or 5 required)",
                pre + head(4, n) + S_F32[7:], "UNEXPECTED_TYPE", ["structure", "array-length"])
    yield T("tensor-array-len-huge", "tensor array claiming 2^64-1 elements, version 1",
            pre + wide_head(4, (1 << 64) - 1, 8) + b"\x01", "UNEXPECTED_TYPE", ["structure", "array-length"])
    yield T("tensor-array-len-huge-cut", "tensor array claiming 2^64-1 elements and nothing after it: the version "
            "is read before the length is judged", pre + wide_head(4, (1 << 64) - 1, 8), "TRUNCATED",
            ["structure", "array-length", "check-order"])
    # A future version is UNSUPPORTED_VERSION whatever its array length (the version is read first).
    for n, label in ((1, "len1"), (2, "len2"), (3, "len3"), (6, "len6"), (31, "len31"), ((1 << 64) - 1, "len-huge")):
        yield T(f"version-2-{label}", f"version 2 in a tensor array of {n} elements: the version is judged "
                "before the length", pre + head(4, n) + b"\x02" + S_F32[8:], "UNSUPPORTED_VERSION",
                ["version", "array-length", "check-order"])
    yield T("tensor-as-map", "a map instead of the tensor array", pre + b"\xa2\x01\x01\x01\x01", "UNEXPECTED_TYPE",
            ["structure"])
    yield T("tensor-as-bytes", "a byte string instead of the tensor array", pre + b"\x41\x00", "UNEXPECTED_TYPE",
            ["structure"])
    yield T("tensor-array-tagged", "a tag around the tensor array", pre + b"\xd8\x28" + S_F32[6:], "UNEXPECTED_TAG",
            ["structure", "tag"])
    for v in (0, 2, 24, (1 << 64) - 1):
        yield T(f"version-{v}", f"version {v}", pre + b"\x85" + uint(v) + rest, "UNSUPPORTED_VERSION", ["version"])
    yield T("version-2-then-garbage", "version 2 followed by bytes a v1 decoder must not interpret",
            pre + b"\x84\x02\xff\xff\x1c", "UNSUPPORTED_VERSION", ["version", "check-order"])
    yield T("version-2-then-end", "version 2 and nothing after it", pre + b"\x84\x02", "UNSUPPORTED_VERSION",
            ["version", "check-order"])
    yield T("version-negative", "version -1", pre + b"\x85\x20" + rest, "UNEXPECTED_TYPE", ["version"])
    yield T("version-text", "version \"1\"", pre + b"\x85\x61\x31" + rest, "UNEXPECTED_TYPE", ["version"])
    yield T("version-float", "version 1.0", pre + b"\x85\xf9\x3c\x00" + rest, "UNEXPECTED_TYPE", ["version"])
    yield T("version-tagged", "version 1 inside tag 1", pre + b"\x85\xc1\x01" + rest, "UNEXPECTED_TAG",
            ["version", "tag"])
    yield T("version-reserved-ai", "reserved additional information where the version belongs",
            pre + b"\x85\x1d" + rest, "MALFORMED", ["version", "malformed"])


def dtype_shape_vectors() -> Iterator[Vector]:
    pre = MAGIC_TENSOR + b"\x84\x01"
    tail = S_U8[9:]  # shape and data of the uint8 sample
    # Only codes reserved forever (SPEC.md §3): growth of the table never turns these vectors valid.
    for code in (0, 65536, 1 << 32, (1 << 64) - 1):
        yield T(f"dtype-unknown-{code}", f"dtype code {code} is reserved forever, never assigned",
                pre + uint(code) + tail, "UNKNOWN_DTYPE", ["dtype"])
    yield T("dtype-unknown-then-garbage", "unknown dtype followed by malformed bytes",
            pre + uint(65536) + b"\x1c\x1c", "UNKNOWN_DTYPE", ["dtype", "check-order"])
    yield T("dtype-negative", "dtype -2", pre + b"\x21" + tail, "UNEXPECTED_TYPE", ["dtype"])
    yield T("dtype-text", "dtype \"uint8\"", pre + text("uint8") + tail, "UNEXPECTED_TYPE", ["dtype"])
    yield T("dtype-float", "dtype 2.0", pre + b"\xf9\x40\x00" + tail, "UNEXPECTED_TYPE", ["dtype"])
    yield T("dtype-tagged", "dtype 2 inside tag 1 (expect-type rule: a tag is UNEXPECTED_TAG)",
            pre + b"\xc1\x02" + tail, "UNEXPECTED_TAG", ["dtype", "tag"])
    yield T("dtype-break", "a break code where the dtype belongs", pre + b"\xff" + tail, "MALFORMED",
            ["dtype", "malformed"])
    for ai in (28, 29, 30):
        yield T(f"dtype-reserved-ai{ai}", f"additional information {ai} in the dtype head",
                pre + bytes([ai]) + tail, "MALFORMED", ["dtype", "malformed"])
    yield T("dtype-major0-ai31", "major type 0 with additional information 31", pre + b"\x1f" + tail,
            "MALFORMED", ["dtype", "malformed"])

    data = b"\xd8\x40\x40"  # uint8: tag 64, empty byte string
    u8 = b"\x02"
    yield T("rank-33", "shape of rank 33", pre + u8 + dims(*([1] * 33)) + data, "RANK_TOO_LARGE", ["rank", "limits"])
    yield T("rank-33-zero-dims", "rank 33 with zero dimensions", pre + u8 + dims(*([0] * 33)) + data,
            "RANK_TOO_LARGE", ["rank", "limits"])
    yield T("rank-33-no-dims", "rank-33 head and nothing after it: the rank is checked at the head",
            pre + u8 + head(4, 33), "RANK_TOO_LARGE", ["rank", "check-order"])
    yield T("rank-huge", "shape claiming 2^64-1 dimensions", pre + u8 + wide_head(4, (1 << 64) - 1, 8),
            "RANK_TOO_LARGE", ["rank", "limits"])
    yield T("rank-1000", "shape claiming 1000 dimensions", pre + u8 + head(4, 1000), "RANK_TOO_LARGE", ["rank"])
    yield T("shape-as-map", "shape is a map", pre + u8 + b"\xa1\x00\x04" + data, "UNEXPECTED_TYPE", ["shape"])
    yield T("shape-as-bytes", "shape is a byte string", pre + u8 + b"\x41\x04" + data, "UNEXPECTED_TYPE", ["shape"])
    yield T("shape-as-uint", "shape is an integer", pre + u8 + b"\x04" + data, "UNEXPECTED_TYPE", ["shape"])
    yield T("shape-tag40", "shape wrapped in RFC 8746 tag 40", pre + u8 + b"\xd8\x28\x81\x04" + data,
            "UNEXPECTED_TAG", ["shape", "tag"])
    yield T("shape-dim-negative", "dimension -1", pre + u8 + b"\x81\x20" + data, "UNEXPECTED_TYPE", ["shape"])
    yield T("shape-dim-float", "dimension 4.0", pre + u8 + b"\x81\xf9\x44\x00" + data, "UNEXPECTED_TYPE", ["shape"])
    yield T("shape-dim-text", "dimension \"4\"", pre + u8 + b"\x81\x61\x34" + data, "UNEXPECTED_TYPE", ["shape"])
    yield T("shape-dim-bignum", "dimension as a tag-2 bignum", pre + u8 + b"\x81\xc2\x41\x04" + data,
            "UNEXPECTED_TAG", ["shape", "tag"])
    yield T("shape-dim-array", "dimension is an array", pre + u8 + b"\x81\x81\x04" + data, "UNEXPECTED_TYPE",
            ["shape"])

    big = (1 << 53) - 1  # the largest product of non-zero dimensions (SPEC.md §4.2)
    overflow = {
        "dim-2p63": (U8, (1 << 63,)), "dim-max-u64": (U8, ((1 << 64) - 1,)), "2p32x2p32": (U8, (1 << 32, 1 << 32)),
        "2p32x2p32x0": (U8, (1 << 32, 1 << 32, 0)), "0x2p32x2p32": (U8, (0, 1 << 32, 1 << 32)),
        "3x2p62": (I8, (3, 1 << 62)), "float32-max": (F32, ((1 << 63) - 1,)), "float32-2p61": (F32, (1 << 61,)),
        "int16-2p62": (BY_NAME["int16"], (1 << 62,)), "complex128-2p59": (C128, (1 << 59,)),
        "float64-2p60": (F64, (1 << 60,)), "bool-2p63": (BOOL, (1 << 63,)),
        "dim-2p53": (U8, (1 << 53,)), "0x2p53": (F32, (0, 1 << 53)), "2p26x2p27": (U8, (1 << 26, 1 << 27)),
        "2p53-1x2": (U8, (big, 2)), "complex128-2p53": (C128, (1 << 53,)),
    }
    for label, (dt, shape) in overflow.items():
        yield T(f"size-overflow-{label}", f"{dt.name} shape {list(shape)}: the non-zero dimensions multiply past "
                "2^53-1", _overflow_doc(dt, shape), "SIZE_OVERFLOW", ["size-overflow", "limits"])
    yield T("size-overflow-before-bad-padding", "float64 [2^53] with a wrong padding item: F2 judges the shape "
            "before the padding is looked at", raw_tensor(uint(11), dims(1 << 53), b"\xd8\x56\x40", b"", 8,
                                                         pad=b"\x41\x01"),
            "SIZE_OVERFLOW", ["size-overflow", "padding", "check-order"])
    yield T("size-overflow-before-truncation", "dimensions overflow before the input ends (checked per dimension)",
            pre + u8 + head(4, 3) + uint(1 << 32) + uint(1 << 32), "SIZE_OVERFLOW", ["size-overflow", "check-order"])
    # Near misses: huge but representable; the 64-bit product n*bits must not overflow in the check itself.
    for dt in (U4, BY_NAME["uint2"], BY_NAME["float6_e2m3fn"], BOOL, I8, C128):
        yield T(f"size-near-max-{dt.name}", f"{dt.name} [2^53-1]: the largest allowed size, but the byte string "
                "is empty", _overflow_doc(dt, (big,)), "SHAPE_MISMATCH", ["size-overflow", "intermediate-overflow"])
    yield T("length-claims-2p53-1", "int8 [2^53-1] with a matching length of 2^53-1 and no bytes",
            raw_tensor(uint(3), dims(big), b"\xd8\x48" + head(2, big), b"", 1), "TRUNCATED",
            ["truncated", "claimed-length"])
    yield T("length-claims-1000", "uint8 [1000] with a 1000-byte length and 10 bytes",
            raw_tensor(uint(2), dims(1000), b"\xd8\x40" + head(2, 1000), bytes(10), 1), "TRUNCATED",
            ["truncated", "claimed-length"])
    yield T("string-array-claims-2p40", "string [2^40] with an array claiming 2^40 strings, one present",
            raw_tensor(uint(8), dims(1 << 40), head(4, 1 << 40), text("a"), 1), "TRUNCATED",
            ["truncated", "claimed-length", "string"])


def _overflow_doc(dt: Dt, shape: tuple[int, ...]) -> bytes:
    """Correct padding (F6 checks padding first), then a byte-string head with a small length."""
    tag = head(6, dt.tag) if dt.tag is not None else b""
    return raw_tensor(uint(dt.code), dims(*shape), tag + b"\x40", b"", dt.align)


def padding_vectors() -> Iterator[Vector]:
    f32_data = bytes.fromhex("0000803f0100c07f000020c0")
    heads = b"\xd8\x55" + head(2, 12)
    f32 = (uint(1), dims(3), heads, f32_data, 4)
    yield T("pad-absent-when-needed", "float32 [3] without its 1-byte pad item", raw_tensor(*f32, pad=b""),
            "BAD_PADDING", ["padding"])
    yield T("pad-nonzero", "pad item 41 01: right length, non-zero byte", raw_tensor(*f32, pad=b"\x41\x01"),
            "BAD_PADDING", ["padding"])
    yield T("pad-nonzero-ff", "pad item 41 ff", raw_tensor(*f32, pad=b"\x41\xff"), "BAD_PADDING", ["padding"])
    yield T("pad-nonzero-before-tag", "pad item 41 01 and no tag 85 around the data: F3 judges the pad byte "
            "before F5 looks at the data", raw_tensor(uint(1), dims(3), head(2, 12), f32_data, 4, pad=b"\x41\x01"),
            "BAD_PADDING", ["padding", "check-order"])
    yield T("pad-nonzero-before-shape-mismatch", "pad item 41 01 and 16 data bytes for 12: F3 judges the pad byte "
            "before F6", raw_tensor(uint(1), dims(3), b"\xd8\x55" + head(2, 16), bytes(16), 4, pad=b"\x41\x01"),
            "BAD_PADDING", ["padding", "check-order"])
    yield T("pad-missing-before-shape-mismatch", "float32 [3] without its pad item and 16 data bytes for 12: "
            "the padding is judged before the length", raw_tensor(uint(1), dims(3), b"\xd8\x55" + head(2, 16),
                                                                  bytes(16), 4, pad=b""),
            "BAD_PADDING", ["padding", "check-order"])
    yield T("pad-missing-before-truncation", "float32 [3] without its pad item and only 5 of its 12 data bytes: "
            "the padding is judged before the content is read", raw_tensor(*f32, pad=b"")[:-7], "BAD_PADDING",
            ["padding", "check-order", "truncated"])
    yield T("pad-wrong-before-truncation", "float32 [3] with a 2-byte pad item (1 needed) and the document cut "
            "inside the data", raw_tensor(*f32, pad=b"\x42\x00\x00")[:-3], "BAD_PADDING",
            ["padding", "check-order", "truncated"])
    yield T("pad-claims-more-than-input", "pad item claiming 255 bytes: truncated before padding is judged",
            raw_tensor(*f32, pad=b"\x58\xff"), "TRUNCATED", ["padding", "truncated", "claimed-length"])
    yield T("pad-as-text", "pad item is a text string", raw_tensor(*f32, pad=b"\x61\x00"), "UNEXPECTED_TYPE",
            ["padding"])
    yield T("pad-as-uint", "pad item is the integer 0", raw_tensor(*f32, pad=b"\x00"), "UNEXPECTED_TYPE",
            ["padding"])
    yield T("pad-tagged", "pad item inside tag 64", raw_tensor(*f32, pad=b"\xd8\x40\x40"), "UNEXPECTED_TAG",
            ["padding", "tag"])
    yield T("pad-indefinite", "pad item as an indefinite byte string", raw_tensor(*f32, pad=b"\x5f\x41\x00\xff"),
            "INDEFINITE_LENGTH", ["padding", "indefinite-length"])
    yield T("pad-on-uint8", "uint8 (alignment 1) with an empty pad item",
            raw_tensor(uint(2), dims(4), b"\xd8\x40\x44", b"\x00\x01\xfe\xff", 1, pad=b"\x40"), "BAD_PADDING",
            ["padding"])
    yield T("pad-on-bool", "bool with a 2-byte pad item",
            raw_tensor(uint(9), dims(2), b"\x42", b"\x01\x00", 1, pad=b"\x41\x00"), "BAD_PADDING", ["padding"])
    st = raw_tensor(uint(8), dims(1), b"\x81", text("x"), 1, pad=b"\x40")
    yield T("pad-on-string", "string tensor with an empty pad item", st, "BAD_PADDING", ["padding", "string"])
    yield T("pad-on-string-nonzero", "string tensor with pad 41 01 (F3 rejects the byte first)",
            raw_tensor(uint(8), dims(1), b"\x81", text("x"), 1, pad=b"\x41\x01"), "BAD_PADDING",
            ["padding", "string"])
    yield T("pad-on-string-as-text", "string tensor whose pad item is text",
            raw_tensor(uint(8), dims(1), b"\x81", text("x"), 1, pad=b"\x60"), "UNEXPECTED_TYPE", ["padding", "string"])
    # Every wrong pad length for every needed length, float64 (alignment 8).
    for rank in range(8):
        shape = (1,) * rank
        tag = b"\xd8\x56\x48"
        p = len(MAGIC_TENSOR) + 2 + 1 + 1 + rank + len(tag)
        need = (-p) % 8
        for got in range(8):
            if got == need:
                continue
            pad = head(2, got - 1) + bytes(got - 1) if got else b""
            yield T(f"pad-float64-need{need}-got{got}", f"float64 rank {rank} needs {need} padding bytes, has {got}",
                    raw_tensor(uint(11), dims(*shape), tag, bytes(8), 8, pad=pad), "BAD_PADDING",
                    ["padding", "alignment", f"pad{need}"])
    # Bundle: an item padded as if offsets started at the item, with a directory that follows the layout rule.
    t = TensorSpec(F32, (1,), bytes(4))
    good = bundle_doc(M(), [("w", t)])
    entries, items = layout([(text("w"), t, None)])
    assert items[0] == b"\x82\x42\x00\x00\xd8\x55\x44" + bytes(4)  # the heads end at B + 5: 3 bytes of padding
    wrong = b"\x81\xd8\x55\x44" + bytes(4)  # counted from the item's start the heads end at 4: no padding
    yield B("pad-bundle-relative-to-item", "bundle tensor padded as if offsets started at its own item",
            good[:-len(items[0])] + wrong, "BAD_PADDING", ["padding", "bundle"])


def data_vectors() -> Iterator[Vector]:
    f32_data = bytes.fromhex("0000803f0100c07f000020c0")

    def f32(heads: bytes, content: bytes = f32_data) -> bytes:
        return raw_tensor(uint(1), dims(3), heads, content, 4)

    yield T("tag-missing", "float32 data without tag 85", f32(head(2, 12)), "UNEXPECTED_TAG", ["tag"])
    yield T("tag-float64-on-float32", "float32 data under tag 86 (float64)", f32(b"\xd8\x56\x4c"), "UNEXPECTED_TAG",
            ["tag"])
    yield T("tag-big-endian", "float32 data under tag 81 (big-endian float32)", f32(b"\xd8\x51\x4c"),
            "UNEXPECTED_TAG", ["tag"])
    yield T("tag-40-on-data", "float32 data under tag 40", f32(b"\xd8\x28\x4c"), "UNEXPECTED_TAG", ["tag"])
    yield T("tag-doubled", "tag 85 twice", f32(b"\xd8\x55\xd8\x55\x4c"), "UNEXPECTED_TAG", ["tag"])
    yield T("tag-then-text", "tag 85 around a text string", f32(b"\xd8\x55\x6c"), "UNEXPECTED_TYPE", ["tag"])
    yield T("tag-then-array", "tag 85 around an array of three floats",
            f32(b"\xd8\x55\x83", b"\xf9\x3c\x00" * 3), "UNEXPECTED_TYPE", ["tag"])
    yield T("tag-on-bool", "bool data under tag 64", raw_tensor(uint(9), dims(2), b"\xd8\x40\x42", b"\x01\x00", 1),
            "UNEXPECTED_TAG", ["tag"])
    yield T("tag-on-bfloat16", "bfloat16 data under tag 84 (float16)",
            raw_tensor(uint(16), dims(1), b"\xd8\x54\x42", b"\x80\x3f", 2), "UNEXPECTED_TAG", ["tag"])
    yield T("tag-uint8-data-as-array", "uint8 data as an array of integers",
            raw_tensor(uint(2), dims(2), b"\x82", b"\x01\x02", 1), "UNEXPECTED_TAG", ["tag"])
    yield T("data-int4-as-array", "int4 data as an array of integers",
            raw_tensor(uint(22), dims(2), b"\x82", b"\x01\x02", 1), "UNEXPECTED_TYPE", ["packed"])
    yield T("data-bool-as-text", "bool data as a text string", raw_tensor(uint(9), dims(1), b"\x61", b"\x01", 1),
            "UNEXPECTED_TYPE", [])
    yield T("data-reserved-ai", "reserved additional information where the data belongs",
            raw_tensor(uint(9), dims(1), b"\x5c", b"\x01", 1), "MALFORMED", ["malformed"])
    yield T("string-data-as-bytes", "string data as a byte string", raw_tensor(uint(8), dims(1), b"\x41", b"x", 1),
            "UNEXPECTED_TYPE", ["string"])
    yield T("string-data-tagged", "string array inside a tag", raw_tensor(uint(8), dims(1), b"\xc1\x81", text("x"), 1),
            "UNEXPECTED_TAG", ["string", "tag"])
    yield T("string-element-bytes", "string element as a byte string",
            raw_tensor(uint(8), dims(1), b"\x81", b"\x41x", 1), "UNEXPECTED_TYPE", ["string"])
    yield T("string-element-int", "string element as an integer", raw_tensor(uint(8), dims(1), b"\x81", b"\x01", 1),
            "UNEXPECTED_TYPE", ["string"])
    yield T("string-element-tagged", "string element inside tag 32",
            raw_tensor(uint(8), dims(1), b"\x81", b"\xd8\x20" + text("x"), 1), "UNEXPECTED_TAG", ["string", "tag"])
    yield T("string-element-null", "string element is null", raw_tensor(uint(8), dims(1), b"\x81", b"\xf6", 1),
            "UNEXPECTED_TYPE", ["string"])
    yield T("string-element-cut", "string element claiming more bytes than remain",
            raw_tensor(uint(8), dims(1), b"\x81", b"\x65ab", 1), "TRUNCATED", ["string", "truncated"])

    # SHAPE_MISMATCH: lengths that disagree with shape (padding kept correct).
    mism = {
        "float32-short": (F32, (3,), 11), "float32-long": (F32, (3,), 13), "uint8-long": (U8, (4,), 5),
        "uint8-empty": (U8, (4,), 0), "uint4-short": (U4, (3,), 1), "uint4-long": (U4, (3,), 3),
        "float6-short": (BY_NAME["float6_e2m3fn"], (5,), 3), "float6-long": (BY_NAME["float6_e2m3fn"], (5,), 5),
        "zero-size-with-byte": (F32, (0, 3), 4), "rank0-empty": (F64, (), 0), "complex64-half": (BY_NAME["complex64"],
                                                                                                    (1,), 4),
        "int2-one-extra": (BY_NAME["int2"], (4,), 2), "bool-short": (BOOL, (2, 2), 3),
        "unpacked-uint4": (U4, (4,), 4),
    }
    for label, (dt, shape, length) in mism.items():
        tag = head(6, dt.tag) if dt.tag is not None else b""
        yield T(f"shape-mismatch-{label}", f"{dt.name} {list(shape)} with {length} data bytes",
                raw_tensor(uint(dt.code), dims(*shape), tag + head(2, length), bytes(length), dt.align),
                "SHAPE_MISMATCH", ["shape-mismatch"])
    yield T("shape-mismatch-before-truncation", "float32 [3] claiming 16 bytes with only 12 present",
            f32(b"\xd8\x55\x50"), "SHAPE_MISMATCH", ["shape-mismatch", "check-order"])
    for label, count, shape in (("fewer", 2, (3,)), ("more", 4, (3,)), ("zero-shape", 1, (0,)), ("rank0", 0, ())):
        yield T(f"shape-mismatch-strings-{label}", f"string shape {list(shape)} with {count} strings",
                raw_tensor(uint(8), dims(*shape), head(4, count), text("s") * count, 1), "SHAPE_MISMATCH",
                ["shape-mismatch", "string"])
    yield from string_order_vectors()


def string_order_vectors() -> Iterator[Vector]:
    """F4's order (SPEC.md §7.1): a padding item, then the string count, then each element.

    A decoder that reads the elements before judging their count, or the count before the padding item,
    reports another code. The offsets are stated here (SPEC.md §8.1): the padding item's head, or the string
    array's head when there is none, is at 11 (magic 6 bytes, array head, version, dtype, shape 81 0n).
    """
    def string_doc(ndims: int, count: int, body: bytes, pad: bytes = b"") -> bytes:
        return raw_tensor(uint(8), dims(ndims), head(4, count), body, 1, pad=pad)

    v = T("string-pad-before-count", "string [2] with an empty padding item and 3 strings: BAD_PADDING (F4 judges "
          "the padding item before the count)", string_doc(2, 3, text("a") * 3, pad=b"\x40"), "BAD_PADDING",
          ["string", "padding", "check-order"])
    v.offset = 11
    yield v
    v = T("string-count-before-utf8", "string [1] with 2 strings, the first not UTF-8: SHAPE_MISMATCH (the count "
          "is judged before any element)", string_doc(1, 2, b"\x61\xff" + text("b")), "SHAPE_MISMATCH",
          ["string", "utf8", "check-order"])
    v.offset = 11
    yield v
    v = T("string-count-before-element-type", "string [1] with 2 elements, the first an integer: SHAPE_MISMATCH",
          string_doc(1, 2, b"\x01" + text("b")), "SHAPE_MISMATCH", ["string", "check-order"])
    v.offset = 11
    yield v
    v = T("string-count-before-truncation", "string [3] with an array of 2 whose second string is cut short: "
          "SHAPE_MISMATCH before TRUNCATED", string_doc(3, 2, text("a") + b"\x65ab"), "SHAPE_MISMATCH",
          ["string", "truncated", "check-order"])
    v.offset = 11
    yield v
    v = T("string-element-utf8-after-count", "string [2] with 2 strings, the second not UTF-8: INVALID_UTF8 at "
          "the bad byte", string_doc(2, 2, text("ab") + b"\x63x\xc0\x80"), "INVALID_UTF8", ["string", "utf8"])
    v.offset = 11 + 1 + 3 + 1 + 1
    yield v


def element_vectors() -> Iterator[Vector]:
    for label, data in (("02", b"\x01\x02"), ("ff", b"\xff\x00"), ("80", b"\x80\x01"), ("last", b"\x01\x00\x00\x03")):
        yield T(f"element-bool-{label}", f"bool bytes {data.hex()}",
                tensor_doc(TensorSpec(BOOL, (len(data),), data)), "INVALID_ELEMENT", ["element", "bool"])
    yield T("element-bool-rank0", "bool scalar 0x02", tensor_doc(TensorSpec(BOOL, (), b"\x02")), "INVALID_ELEMENT",
            ["element", "bool", "rank0"])
    for dt in (BY_NAME[n] for n in ("uint4", "int4", "float4_e2m1fn", "uint2", "int2", "float6_e2m3fn",
                                    "float6_e3m2fn")):
        for n in range(1, 5):
            tail = (-n * dt.bits) % 8
            if not tail:
                continue
            good = pack_bits([1] * n, dt.bits)
            for which, bit in (("low", 8 - tail), ("high", 7)):
                bad = good[:-1] + bytes([good[-1] | 1 << bit])
                yield T(f"element-tail-{dt.name}-n{n}-{which}", f"{dt.name} [{n}]: unused tail bit {bit} of the last "
                        "byte set", tensor_doc(TensorSpec(dt, (n,), bad)), "INVALID_ELEMENT",
                        ["element", "packed", "tail-bits"])
    # SPEC.md §7.1: a tensor's element checks follow its fields at once, before anything after it.
    yield T("element-bool-then-trailing", "invalid bool byte and a trailing byte: the element check comes first",
            tensor_doc(TensorSpec(BOOL, (1,), b"\x07")) + b"\x00", "INVALID_ELEMENT", ["element", "check-order"])
    yield T("element-int4-tail-then-trailing", "int4 with a non-zero tail nibble and a trailing byte",
            tensor_doc(TensorSpec(I4, (1,), b"\xf1")) + b"\xf6", "INVALID_ELEMENT", ["element", "check-order"])
    bad_bool = TensorSpec(BOOL, (1,), b"\x05")
    good = TensorSpec(U8, (1,), b"\x05")
    doc = bundle_doc(M(), [("a", bad_bool), ("b", good)])
    yield B("element-bundle-bool", "bundle whose first tensor has a bool byte 0x05", doc, "INVALID_ELEMENT",
            ["element", "bundle"])
    bad_dtype = doc.replace(b"\x85\x61b\x02", b"\x85\x61b" + uint(65536))
    assert bad_dtype != doc
    yield B("element-bundle-directory-first", "bundle: bad bool in tensor a, unknown dtype in the directory entry "
            "of b; the directory is read before any item", bad_dtype, "UNKNOWN_DTYPE",
            ["element", "bundle", "check-order"])
    assert doc.endswith(b"\x81\xd8\x40\x41\x05")
    untagged = doc[:-4] + b"\x41\x05"  # b's item without its tag 64
    yield B("element-bundle-before-next-item", "bundle: bad bool in tensor a, a missing tag in tensor b's item: "
            "a's elements are checked before b's item is read", untagged, "INVALID_ELEMENT",
            ["element", "bundle", "check-order"])
    yield B("element-bundle-before-truncation", "bundle: bad bool in tensor a, the document cut inside b's item",
            doc[:-1], "INVALID_ELEMENT", ["element", "bundle", "check-order", "truncated"])
    yield B("element-bundle-then-trailing", "bundle with a bad bool tensor and a trailing byte",
            doc + b"\x00", "INVALID_ELEMENT", ["element", "bundle", "check-order"])
    late = bundle_doc(M(), [("a", good), ("b", bad_bool)])
    yield B("element-bundle-last-then-trailing", "bundle whose last tensor has a bad bool byte, then a trailing "
            "byte", late + b"\x00", "INVALID_ELEMENT", ["element", "bundle", "check-order"])


BAD_UTF8 = {"ff": b"\xff", "overlong": b"\xc0\x80", "surrogate": b"\xed\xa0\x80", "above-max": b"\xf4\x90\x80\x80",
            "cut-sequence": b"\xe2\x9c", "lone-continuation": b"\x80", "five-byte": b"\xf8\x88\x80\x80\x80",
            "overlong-3": b"\xe0\x80\xaf"}


def text_vectors() -> Iterator[Vector]:
    for label, raw in BAD_UTF8.items():
        yield T(f"utf8-string-element-{label}", f"string element with invalid UTF-8 ({label})",
                raw_tensor(uint(8), dims(2), b"\x82", text("ok") + head(3, len(raw)) + raw, 1), "INVALID_UTF8",
                ["utf8", "string"])
    for label, raw in list(BAD_UTF8.items())[:4]:
        key = head(3, len(raw)) + raw
        yield B(f"utf8-meta-key-{label}", f"metadata key with invalid UTF-8 ({label})", meta_with(b"\x01", key),
                "INVALID_UTF8", ["utf8", "metadata"])
        yield B(f"utf8-meta-value-{label}", f"metadata text value with invalid UTF-8 ({label})",
                meta_with(key), "INVALID_UTF8", ["utf8", "metadata"])
        yield B(f"utf8-name-{label}", f"tensor name with invalid UTF-8 ({label})", names_bundle(key),
                "INVALID_UTF8", ["utf8", "name"])
    # The key 61 ff is invalid UTF-8 and sorts before 62 6262 ("bb"): an order check before the UTF-8 check
    # would say UNSORTED_KEYS.
    bad = b"\x61\xff"
    assert bad < text("bb")
    yield B("utf8-key-before-order", "metadata key that is invalid UTF-8 and sorts before the previous key: "
            "UTF-8 is checked first", one_tensor_bundle_meta(b"\xa2" + text("bb") + b"\x01" + bad + b"\x02"),
            "INVALID_UTF8", ["utf8", "check-order"])
    yield B("utf8-name-before-order", "tensor name that is invalid UTF-8 and sorts before the previous name: "
            "UTF-8 is checked first", names_bundle(text("bb"), bad), "INVALID_UTF8",
            ["utf8", "name", "check-order"])
    yield B("utf8-key-cut", "metadata key claiming more bytes than remain", MAGIC_BUNDLE + b"\x85\x01\xa1\x65ab",
            "TRUNCATED", ["truncated", "metadata"])


def name_vectors() -> Iterator[Vector]:
    yield B("name-empty", "empty tensor name", names_bundle(text("")), "INVALID_NAME", ["name"])
    yield B("name-4097", "tensor name of 4097 bytes", names_bundle(text("n" * 4097)), "INVALID_NAME",
            ["name", "limits"])
    yield B("name-4097-utf8", "tensor name of 4097 bytes (2047 two-byte characters + 3 ASCII)",
            names_bundle(text("é" * 2047 + "abc")), "INVALID_NAME", ["name", "limits"])
    yield B("name-empty-after-other", "an empty name after \"a\": the name check precedes the order check",
            names_bundle(text("a"), text("")), "INVALID_NAME", ["name", "check-order"])
    # The name's bytes are read (TRUNCATED, INVALID_UTF8) before its length is judged (INVALID_NAME).
    long_head = head(3, 5000)
    cut = MAGIC_BUNDLE + b"\x85\x01\xa0\x81\x85" + long_head + b"n" * 100
    yield B("name-long-cut", "a 5000-byte name of which 100 bytes are present: TRUNCATED before INVALID_NAME",
            cut, "TRUNCATED", ["name", "truncated", "check-order"])
    yield B("name-long-bad-utf8", "a 5000-byte name that is not UTF-8: INVALID_UTF8 before INVALID_NAME",
            names_bundle(long_head + b"n" * 4999 + b"\xff"), "INVALID_UTF8", ["name", "utf8", "check-order"])
    yield B("name-duplicate", "two tensors named \"w\"", names_bundle(text("w"), text("w")), "DUPLICATE_NAME",
            ["name"])
    yield B("name-duplicate-later", "names a, b, b", names_bundle(*(text(n) for n in "abb")), "DUPLICATE_NAME",
            ["name"])
    yield B("name-unsorted", "names b, a", names_bundle(text("b"), text("a")), "UNSORTED_KEYS", ["name", "key-order"])
    yield B("name-unsorted-length-first", "names aa, b: bytewise order of encodings puts the shorter b first",
            names_bundle(text("aa"), text("b")), "UNSORTED_KEYS", ["name", "key-order"])
    yield B("name-int", "tensor name is an integer", names_bundle(b"\x01"), "UNEXPECTED_TYPE", ["name"])
    yield B("name-bytes", "tensor name is a byte string", names_bundle(bstr(b"w")), "UNEXPECTED_TYPE", ["name"])
    yield B("name-tagged", "tensor name inside a tag", names_bundle(b"\xc1" + text("w")), "UNEXPECTED_TAG",
            ["name", "tag"])
    yield B("name-cut", "tensor name claiming more bytes than remain", MAGIC_BUNDLE + b"\x85\x01\xa0\x81\x85\x64ab",
            "TRUNCATED", ["name", "truncated"])


def _entry(name: str, t: TensorSpec, offset: int, length: int, *extra: int) -> bytes:
    return array([text(name), uint(t.dt.code), array([uint(d) for d in t.shape]), uint(offset), uint(length),
                  *(uint(x) for x in extra)])


def bundle_structure_vectors() -> Iterator[Vector]:
    pre = MAGIC_BUNDLE
    empty_rest = b"\xa0\x80" + bundle_pad(len(pre) + 4) + b"\x80"  # {}, [], pad, []
    for n in (0, 2, 3, 4, 6, 7):
        body = b"" if n == 0 else b"\x01" + b"\xa0" * (n - 1)
        yield B(f"bundle-array-len{n}", f"bundle array of {n} elements (5 required)", pre + head(4, n) + body,
                "UNEXPECTED_TYPE", ["bundle", "array-length"])
    yield B("bundle-draft-layout", "the v1 draft layout [1, {}, {}] (3 elements): not a 1.0 bundle",
            pre + b"\x83\x01\xa0\xa0", "UNEXPECTED_TYPE", ["bundle", "array-length"])
    yield B("bundle-version-2", "bundle version 2", pre + b"\x85\x02" + empty_rest, "UNSUPPORTED_VERSION",
            ["bundle", "version"])
    for n, label in ((1, "len1"), (3, "len3"), (4, "len4"), (6, "len6"), ((1 << 64) - 1, "len-huge")):
        yield B(f"bundle-version-2-{label}", f"version 2 in a bundle array of {n} elements: the version is judged "
                "before the length", pre + head(4, n) + b"\x02\xa0\xa0", "UNSUPPORTED_VERSION",
                ["bundle", "version", "array-length", "check-order"])
    yield B("bundle-metadata-array", "metadata is an array", pre + b"\x85\x01\x80\x80", "UNEXPECTED_TYPE",
            ["bundle", "metadata"])
    yield B("bundle-metadata-null", "metadata is null", pre + b"\x85\x01\xf6\x80", "UNEXPECTED_TYPE",
            ["bundle", "metadata"])
    yield B("bundle-metadata-tagged", "metadata map inside a tag", pre + b"\x85\x01\xc1\xa0\x80", "UNEXPECTED_TAG",
            ["bundle", "metadata", "tag"])
    yield B("bundle-directory-map", "the directory is a map", pre + b"\x85\x01\xa0\xa0", "UNEXPECTED_TYPE",
            ["bundle", "directory"])
    yield B("bundle-directory-tagged", "the directory inside a tag", pre + b"\x85\x01\xa0\xc1\x80",
            "UNEXPECTED_TAG", ["bundle", "directory", "tag"])
    yield B("bundle-directory-claims-2p32", "directory claiming 2^32 entries", pre + b"\x85\x01\xa0" +
            head(4, 1 << 32) + _entry("a", U8_SCALAR, 13, 1), "TRUNCATED", ["bundle", "truncated", "claimed-length"])

    # Directory entries: arity and field types.
    w = TensorSpec(F32, (2,), bytes(8))
    good_entries, good_items = layout([(text("w"), w, None)])
    entry = good_entries[0]
    OFF = 8  # noqa: N806 - B+0: tensors head, B+1: item head, B+2..4: pad, B+5..6: tag 85, B+7: byte-string head
    assert entry == _entry("w", w, OFF, 8), entry.hex()

    def with_entry(e: bytes, items: list[bytes] = good_items, count: int | None = None) -> bytes:
        return assemble_bundle(b"\xa0", [e], items, count)

    for n in (0, 4, 6, 8):
        fields = [text("w"), uint(1), dims(2), uint(OFF), uint(8), uint(1), uint(0), uint(0)][:n]
        yield B(f"bundle-entry-len{n}", f"directory entry of {n} elements (5 or 7 required)",
                with_entry(array(fields)), "UNEXPECTED_TYPE", ["bundle", "directory", "array-length"])
    yield B("bundle-entry-map", "directory entry is a map", with_entry(b"\xa1" + text("w") + b"\x01"),
            "UNEXPECTED_TYPE", ["bundle", "directory"])
    yield B("bundle-entry-v1-draft", "an old-style item [dtype, shape, ?pad, data] where the entry belongs",
            with_entry(b"\x83\x01\x81\x02\xd8\x55\x48" + bytes(8)), "UNEXPECTED_TYPE", ["bundle", "directory"])
    yield B("bundle-entry-offset-text", "entry offset as a text string",
            with_entry(array([text("w"), uint(1), dims(2), text("8"), uint(8)])), "UNEXPECTED_TYPE",
            ["bundle", "directory"])
    yield B("bundle-entry-offset-tagged", "entry offset inside a tag",
            with_entry(array([text("w"), uint(1), dims(2), b"\xc1\x08", uint(8)])), "UNEXPECTED_TAG",
            ["bundle", "directory", "tag"])
    yield B("bundle-entry-length-negative", "entry length -1",
            with_entry(array([text("w"), uint(1), dims(2), uint(OFF), b"\x20"])), "UNEXPECTED_TYPE",
            ["bundle", "directory"])
    yield B("bundle-entry-dtype-unknown", "entry dtype 65536 (reserved forever)",
            with_entry(array([text("w"), uint(65536), dims(2), uint(OFF), uint(8)])), "UNKNOWN_DTYPE",
            ["bundle", "directory", "dtype"])
    yield B("bundle-entry-size-overflow", "entry shape [2^53]",
            with_entry(array([text("w"), uint(1), dims(1 << 53), uint(OFF), uint(8)])), "SIZE_OVERFLOW",
            ["bundle", "directory", "size-overflow"])
    yield B("bundle-entry-length-mismatch", "entry length 12 for a float32 [2] (8 bytes)",
            with_entry(_entry("w", w, OFF, 12)), "SHAPE_MISMATCH", ["bundle", "directory", "shape-mismatch"])
    yield B("bundle-entry-length-before-offset", "entry length 12 for 8 bytes and a wrong offset: the length is "
            "judged first", with_entry(_entry("w", w, OFF + 1, 12)), "SHAPE_MISMATCH",
            ["bundle", "directory", "shape-mismatch", "check-order"])
    yield B("bundle-entry-string-compressed", "a string tensor with a 7-element (compressed) entry",
            with_entry(_entry("s", TensorSpec(STR, (1,), strings=["x"]), 1, 3, 1, 0),
                       [b"\x81\x81\x61x"]), "INVALID_COMPRESSION", ["bundle", "directory", "string", "compressed"])
    yield B("bundle-entry-codec-unknown", "a 7-element entry with codec 7: UNSUPPORTED_COMPRESSION for Core and "
            "Extended decoders alike", with_entry(_entry("w", w, 9, 8, 7, 0)), "UNSUPPORTED_COMPRESSION",
            ["bundle", "directory", "compressed"])

    # DIRECTORY_MISMATCH: the directory and the items must agree.
    yield B("directory-offset-plus-1", "entry offset one past the layout rule's",
            with_entry(_entry("w", w, OFF + 1, 8)),
            "DIRECTORY_MISMATCH", ["bundle", "directory", "directory-mismatch"])
    yield B("directory-offset-minus-1", "entry offset one before the layout rule's",
            with_entry(_entry("w", w, OFF - 1, 8)),
            "DIRECTORY_MISMATCH", ["bundle", "directory", "directory-mismatch"])
    good_doc = with_entry(entry)
    base = len(good_doc) - len(good_items[0]) - 1
    yield B("directory-offset-absolute", "entry offset counted from the document start instead of from B",
            with_entry(_entry("w", w, base + OFF, 8)), "DIRECTORY_MISMATCH",
            ["bundle", "directory", "directory-mismatch"])
    two = [("a", TensorSpec(BY_NAME["uint8"], (3,), b"abc")), ("b", TensorSpec(F64, (1,), bytes(8)))]
    entries2, items2 = layout([(text(n), t, None) for n, t in two])
    assert entries2[1] == _entry("b", two[1][1], 16, 8)
    yield B("directory-offset-second", "the second entry's offset ignores the first item's padding rule",
            assemble_bundle(b"\xa0", [entries2[0], _entry("b", two[1][1], 12, 8)], items2), "DIRECTORY_MISMATCH",
            ["bundle", "directory", "directory-mismatch"])
    yield B("directory-offset-before-pad", "a wrong offset and a non-zero pad: the directory is judged first",
            with_entry(_entry("w", w, OFF + 1, 8)).replace(b"\x45" + bytes(5), b"\x45\x00\x01" + bytes(3)),
            "DIRECTORY_MISMATCH", ["bundle", "directory", "directory-mismatch", "check-order"])
    yield B("directory-more-items", "directory of 1 entry, tensors array of 2 items",
            with_entry(entry, good_items + good_items, count=2), "DIRECTORY_MISMATCH",
            ["bundle", "directory-mismatch"])
    yield B("directory-fewer-items", "directory of 1 entry, empty tensors array", with_entry(entry, [], count=0),
            "DIRECTORY_MISMATCH", ["bundle", "directory-mismatch"])
    s1 = TensorSpec(STR, (2,), strings=["a", "bc"])
    s_entries, s_items = layout([(text("s"), s1, None)])
    assert s_entries[0] == _entry("s", s1, 2, 6)
    yield B("directory-string-length", "a string entry whose length (7) is not that of its string array (6)",
            assemble_bundle(b"\xa0", [_entry("s", s1, 2, 7)], s_items), "DIRECTORY_MISMATCH",
            ["bundle", "directory-mismatch", "string"])
    yield B("directory-string-length-short", "a string entry whose length (5) is not that of its string array (6)",
            assemble_bundle(b"\xa0", [_entry("s", s1, 2, 5)], s_items), "DIRECTORY_MISMATCH",
            ["bundle", "directory-mismatch", "string"])

    # The pad before the tensors (B must be a multiple of 8).
    prefix = MAGIC_BUNDLE + b"\x85\x01\xa0" + array([entry])
    pad = bundle_pad(len(prefix))
    k = len(pad) - 1
    assert k == 5, pad.hex()
    rest = b"\x81" + good_items[0]

    def with_pad(p: bytes) -> bytes:
        return prefix + p + rest

    assert with_pad(pad) == good_doc
    yield B("bundle-pad-absent", "no pad item: the tensors array where the pad belongs", with_pad(b""),
            "UNEXPECTED_TYPE", ["bundle", "padding"])
    yield B("bundle-pad-nonzero", "pad 45 0000010000", with_pad(b"\x45\x00\x00\x01\x00\x00"), "BAD_PADDING",
            ["bundle", "padding"])
    yield B("bundle-pad-short", "pad of 4 bytes where 5 are needed", with_pad(b"\x44" + bytes(4)), "BAD_PADDING",
            ["bundle", "padding"])
    yield B("bundle-pad-long", "pad of 13 bytes where 5 are needed (B still a multiple of 8)",
            with_pad(b"\x4d" + bytes(13)), "BAD_PADDING", ["bundle", "padding"])
    yield B("bundle-pad-nonzero-short", "pad of 4 bytes, one non-zero", with_pad(b"\x44\x00\x07\x00\x00"),
            "BAD_PADDING", ["bundle", "padding"])
    yield B("bundle-pad-wide-head", "pad with a two-byte head 58 05", with_pad(b"\x58\x05" + bytes(5)),
            "NON_SHORTEST_HEAD", ["bundle", "padding", "non-shortest-head"])
    yield B("bundle-pad-text", "pad as a text string", with_pad(b"\x65" + bytes(5)), "UNEXPECTED_TYPE",
            ["bundle", "padding"])
    yield B("bundle-pad-tagged", "pad inside a tag", with_pad(b"\xc1\x45" + bytes(5)), "UNEXPECTED_TAG",
            ["bundle", "padding", "tag"])
    yield B("bundle-pad-claims-more", "pad claiming 255 bytes", prefix + b"\x58\xff" + bytes(10), "TRUNCATED",
            ["bundle", "padding", "truncated", "claimed-length"])
    yield B("bundle-pad-nonzero-before-items", "a non-zero pad byte and a malformed item: the pad is judged first",
            prefix + b"\x45\x00\x00\x01\x00\x00" + b"\x81\x1c", "BAD_PADDING", ["bundle", "padding", "check-order"])

    # The tensors array and its items.
    yield B("bundle-tensors-map", "the tensors are a map", with_pad(pad)[:-len(rest)] + b"\xa1" + text("w") +
            good_items[0], "UNEXPECTED_TYPE", ["bundle"])
    for n in (0, 3):
        item = head(4, n) + good_items[0][1:] + b"\x00" * max(0, n - 1)
        yield B(f"bundle-item-len{n}", f"tensor item array of {n} elements (1 or 2 required)",
                with_entry(entry, [item]), "UNEXPECTED_TYPE", ["bundle", "array-length"])
    yield B("bundle-item-v1-draft", "a v1-draft item [dtype, shape, data] where [data] belongs",
            with_entry(entry, [b"\x83\x01\x81\x02" + good_items[0][1:]]), "UNEXPECTED_TYPE", ["bundle"])
    yield B("bundle-item-map", "tensor item is a map", with_entry(entry, [b"\xa0"]), "UNEXPECTED_TYPE", ["bundle"])
    yield B("bundle-item-bare-data", "the pad and data items without their item array",
            with_entry(entry, [good_items[0][1:]]), "UNEXPECTED_TYPE", ["bundle"])
    yield B("bundle-item-tagged", "the item array inside a tag", with_entry(entry, [b"\xc1" + good_items[0]]),
            "UNEXPECTED_TAG", ["bundle", "tag"])


def metadata_vectors() -> Iterator[Vector]:
    k = text("k")
    one = one_tensor_bundle_meta
    yield B("meta-duplicate-key", "metadata {\"a\": 1, \"a\": 2}", one(b"\xa2" + text("a") + b"\x01" + text("a") +
            b"\x02"), "DUPLICATE_KEY", ["metadata", "duplicate-key"])
    yield B("meta-duplicate-key-nested", "nested map with a repeated key",
            meta_with(b"\xa2" + text("x") + b"\x01" + text("x") + b"\x01"), "DUPLICATE_KEY",
            ["metadata", "duplicate-key"])
    yield B("meta-duplicate-key-in-array", "map inside an array with a repeated key",
            meta_with(b"\x81\xa2" + text("x") + b"\xf6" + text("x") + b"\xf6"), "DUPLICATE_KEY",
            ["metadata", "duplicate-key"])
    yield B("meta-unsorted", "metadata keys b, a", one(b"\xa2" + text("b") + b"\x01" + text("a") + b"\x02"),
            "UNSORTED_KEYS", ["metadata", "key-order"])
    yield B("meta-unsorted-length-first", "metadata keys aa, b (text order, not encoded order)",
            one(b"\xa2" + text("aa") + b"\x01" + text("b") + b"\x02"), "UNSORTED_KEYS", ["metadata", "key-order"])
    yield B("meta-unsorted-nested", "nested map keys z, y", meta_with(b"\xa2" + text("z") + b"\x01" + text("y") +
            b"\x01"), "UNSORTED_KEYS", ["metadata", "key-order"])
    yield B("meta-unsorted-before-duplicate", "keys b, a, b: the first defect is the order",
            one(b"\xa3" + text("b") + b"\x01" + text("a") + b"\x01" + text("b") + b"\x01"), "UNSORTED_KEYS",
            ["metadata", "key-order", "check-order"])
    ncf = {"one-f32": "fa3f800000", "one-f64": "fb3ff0000000000000", "nan-f32": "fa7fc00000",
           "nan-f64": "fb7ff8000000000000", "nan-payload-f16": "f97e01", "nan-negative-f16": "f9fe00",
           "snan-f16": "f97c01", "negzero-f32": "fa80000000", "inf-f32": "fa7f800000", "neginf-f64":
           "fbfff0000000000000", "quarter-f64": "fb3fd0000000000000", "65504-f32": "fa477fe000",
           "half-subnormal-f32": "fa33800000", "f32-exact-as-f64": "fb3ff0000020000000",
           "nan-in-array": "81fa7fc00000"}
    for label, hx in ncf.items():
        yield B(f"meta-float-{label}", f"metadata float {hx} is not in its canonical form",
                meta_with(bytes.fromhex(hx)),
                "NON_CANONICAL_FLOAT", ["metadata", "float", "determinism"])
    unsupported = {"tag-date": "c074323032302d30312d30315430303a30303a30305a", "tag-bignum": "c24101",
                   "tag-epoch": "c100", "tag-self-describe": "d9d9f701", "tag-typed-array": "d84041ff",
                   "undefined": "f7", "simple-16": "f0", "simple-32": "f820", "simple-255": "f8ff",
                   "tag-in-array": "8201c100"}
    for label, hx in unsupported.items():
        yield B(f"meta-unsupported-{label}", f"metadata value {hx}", meta_with(bytes.fromhex(hx)), "UNSUPPORTED_VALUE",
                ["metadata", "unsupported-value"])
    keys = {"int": "01", "negative": "20", "bytes": "4161", "array": "8161", "map": "a0", "null": "f6",
            "true": "f5", "float": "f93c00", "tag": "c16161"}
    for label, hx in keys.items():
        yield B(f"meta-key-{label}", f"metadata key of type {label}", meta_with(b"\x01", bytes.fromhex(hx)),
                "UNSUPPORTED_VALUE", ["metadata", "unsupported-value", "key"])
    yield B("meta-key-int-nested", "nested map with an integer key", meta_with(b"\xa1\x01\x01"),
            "UNSUPPORTED_VALUE", ["metadata", "unsupported-value", "key"])
    malformed = {"ai28": "1c", "ai29-neg": "3d", "ai30-bytes": "5e", "ai28-text": "7c", "ai29-array": "9d",
                 "ai30-map": "be", "ai28-tag": "dc", "ai28-simple": "fc", "uint-ai31": "1f", "neg-ai31": "3f",
                 "tag-ai31": "df", "break": "ff", "simple-2byte-0": "f800", "simple-2byte-31": "f81f",
                 "simple-2byte-20": "f814", "break-in-array": "82ff01"}
    for label, hx in malformed.items():
        yield B(f"meta-malformed-{label}", f"metadata value {hx} is not well-formed CBOR",
                meta_with(bytes.fromhex(hx)), "MALFORMED", ["metadata", "malformed"])
    yield B("meta-widened-true", "true encoded as f8 15", meta_with(b"\xf8\x15"), "MALFORMED",
            ["metadata", "malformed"])
    for label, hx in {"bytes": "5f4100ff", "text": "7f6161ff", "array": "9f01ff", "map": "bf6161f6ff"}.items():
        yield B(f"meta-indefinite-{label}", f"metadata indefinite-length {label}", meta_with(bytes.fromhex(hx)),
                "INDEFINITE_LENGTH", ["metadata", "indefinite-length"])
    yield B("meta-indefinite-top", "the metadata map itself has indefinite length",
            MAGIC_BUNDLE + b"\x85\x01\xbf\xff\x80", "INDEFINITE_LENGTH", ["metadata", "indefinite-length"])

    def deep(levels: int, leaf: bytes, kind: str) -> bytes:
        """`levels` containers (arrays, maps or alternating) around `leaf`."""
        out = leaf
        for i in range(levels):
            use_map = kind == "map" or (kind == "mixed" and i % 2)
            out = (b"\xa1" + k + out) if use_map else (b"\x81" + out)
        return out

    # The metadata map is level 1, so its value may hold 31 more levels; 32 more is level 33.
    for kind in ("array", "map", "mixed"):
        yield B(f"meta-nesting-33-{kind}", f"metadata nested 33 levels ({kind}s)", meta_with(deep(32, b"\x01", kind)),
                "NESTING_TOO_DEEP", ["metadata", "nesting", "limits"])
    yield B("meta-nesting-33-empty", "an empty array at level 33", meta_with(deep(31, b"\x80", "array")),
            "NESTING_TOO_DEEP", ["metadata", "nesting", "limits"])
    yield B("meta-nesting-33-empty-map", "an empty map at level 33", meta_with(deep(31, b"\xa0", "array")),
            "NESTING_TOO_DEEP", ["metadata", "nesting", "limits"])
    yield B("meta-nesting-10000", "10000 nested arrays (a decoder must not recurse that deep)",
            meta_with(b"\x81" * 10000 + b"\x01"), "NESTING_TOO_DEEP", ["metadata", "nesting", "limits"])
    yield B("meta-nesting-before-truncation", "nesting limit reached before the input ends",
            meta_with(b"\x81" * 40), "NESTING_TOO_DEEP", ["metadata", "nesting", "check-order"])
    # A string claiming more than 16 MiB passes the metadata limit at its head (METADATA_TOO_LARGE); a
    # container's count claims no bytes by itself, so it ends in TRUNCATED.
    for label, hx, code in (("bytes-2p64", "5bffffffffffffffff", "METADATA_TOO_LARGE"),
                            ("text-2p32", "7b0000000100000000", "METADATA_TOO_LARGE"),
                            ("text-1000", "7903e8", "TRUNCATED"), ("bytes-1000", "5903e8", "TRUNCATED"),
                            ("array-2p32", "9b0000000100000000", "TRUNCATED"),
                            ("map-2p32", "bb0000000100000000", "TRUNCATED")):
        yield B(f"meta-claims-{label}", f"metadata item {hx[:2]} claiming more than the input holds",
                MAGIC_BUNDLE + b"\x85\x01\xa1" + k + bytes.fromhex(hx) + text("a") + b"\x01", code,
                ["metadata", "truncated", "claimed-length"])
    yield B("meta-map-claims-2p32", "metadata map claiming 2^32 entries", MAGIC_BUNDLE + b"\x85\x01" +
            head(5, 1 << 32) + text("a") + b"\x01", "TRUNCATED", ["metadata", "truncated", "claimed-length"])

    # METADATA_TOO_LARGE: the encoded map is 16 MiB + 1 byte (a1 61 6d 5a <len> <zeros>).
    limit = 16 * 1024 * 1024
    filler = limit + 1 - (1 + 2 + 5)
    meta = b"\xa1" + text("m") + head(2, filler) + bytes(filler)
    assert len(meta) == limit + 1
    yield B("meta-too-large", "metadata map of 16 MiB + 1 byte (a byte string of zeros)", one(meta),
            "METADATA_TOO_LARGE", ["metadata", "limits", "large-file"])
    # As soon as a head (with a string's claimed content) reaches past the limit, before TRUNCATED/INVALID_UTF8.
    pre = MAGIC_BUNDLE + b"\x85\x01"
    yield B("meta-too-large-early-text", "a metadata text value claiming 100 MB, 3 bytes present: "
            "METADATA_TOO_LARGE at its head, not TRUNCATED", pre + b"\xa1" + k + head(3, 100_000_000) + b"abc",
            "METADATA_TOO_LARGE", ["metadata", "limits", "check-order", "claimed-length"])
    yield B("meta-too-large-early-bytes", "a metadata byte string claiming 2^64-1 bytes",
            pre + b"\xa1" + k + head(2, (1 << 64) - 1), "METADATA_TOO_LARGE",
            ["metadata", "limits", "check-order", "claimed-length"])
    yield B("meta-too-large-early-key", "a metadata key claiming 16 MiB, invalid UTF-8 in its first bytes",
            pre + b"\xa1" + head(3, limit) + b"\xff\xff", "METADATA_TOO_LARGE",
            ["metadata", "limits", "check-order", "utf8"])
    # The limit is judged right after the generic head checks, before the head's type (SPEC.md §7.1 step 6).
    yield B("meta-too-large-before-type", "a text string claiming 2^32-1 bytes where the metadata map belongs: "
            "METADATA_TOO_LARGE, not UNEXPECTED_TYPE", pre + head(3, (1 << 32) - 1) + b"zzzz",
            "METADATA_TOO_LARGE", ["metadata", "limits", "check-order", "claimed-length"])
    yield B("meta-too-large-before-key-type", "a byte-string key claiming 2^32 bytes: METADATA_TOO_LARGE, not "
            "UNSUPPORTED_VALUE", pre + b"\xa1" + head(2, 1 << 32), "METADATA_TOO_LARGE",
            ["metadata", "limits", "check-order", "claimed-length"])
    yield B("meta-key-type-within-limit", "a byte-string key of 1 byte: UNSUPPORTED_VALUE (within the limit)",
            pre + b"\xa1" + head(2, 1) + b"k" + b"\x01", "UNSUPPORTED_VALUE", ["metadata", "check-order"])
    at_limit = limit - (1 + 2 + 5)  # a1, 61 6d, 5a <len>: the map is exactly 16 MiB
    yield B("meta-limit-exact-cut", "a metadata byte string that ends exactly at the 16 MiB limit, cut short: "
            "TRUNCATED (the limit is not passed)", pre + b"\xa1" + text("m") + head(2, at_limit) + bytes(10),
            "TRUNCATED", ["metadata", "limits", "truncated"])
    yield B("meta-too-large-by-one-cut", "a metadata byte string that would end 1 byte past the limit, cut short",
            pre + b"\xa1" + text("m") + head(2, at_limit + 1) + bytes(10), "METADATA_TOO_LARGE",
            ["metadata", "limits", "check-order"])


MODULES = [magic_vectors, structure_vectors, dtype_shape_vectors, padding_vectors, data_vectors, element_vectors,
           text_vectors, name_vectors, bundle_structure_vectors, metadata_vectors, non_shortest_heads,
           indefinite_lengths, truncations, trailing]


def vectors() -> Iterator[Vector]:
    for make in MODULES:
        yield from make()


__all__ = ["PROFILE", "vectors", "read_head", "item_at"]
