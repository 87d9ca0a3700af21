"""Extended profile (SPEC.md §11), valid vectors: compressed tensor data that every Extended decoder accepts.

Frames are hand-built from raw and RLE blocks (zstd_frames.py), so the bytes do not
depend on a zstd library; the expected value is the element bytes after
decompression and unshuffling. These are decoder vectors: re-encoding gives the
Core form (the canonical one, §11.3), not these bytes, so generate.py checks them
by decoding with tensorcbor instead of encoding.
"""

from __future__ import annotations

from collections.abc import Iterator

from .builder import (
    BY_NAME,
    MAGIC_TENSOR,
    CItem,
    M,
    TensorSpec,
    array,
    assemble_bundle,
    bstr,
    enc_value,
    head,
    layout,
    text,
    uint,
)
from .common import Vector, bundle_expected, tensor_expected
from .zstd_frames import content_checksum, frame, raw_frame, shuffle, skippable

PROFILE = "extended"

F32, F16, BF16, U8, BOOL, I4, C64, F64 = (BY_NAME[n] for n in ("float32", "float16", "bfloat16", "uint8", "bool",
                                                              "int4", "complex64", "float64"))


def citem(zstd: bytes, length: int, filt: int = 0, codec: int = 1) -> bytes:
    """The compressed data item 52090([codec, filter, length, bytes])."""
    return head(6, 52090) + array([uint(codec), uint(filt), uint(length), bstr(zstd)])


def ctensor(t: TensorSpec, item: bytes, version: bool = True) -> bytes:
    """A tensor array whose data item is `item` (no padding item, §11.1)."""
    return head(4, 4 if version else 3) + (b"\x01" if version else b"") + uint(t.dt.code) \
        + array([uint(d) for d in t.shape]) + item


def cdoc(t: TensorSpec, item: bytes) -> bytes:
    return MAGIC_TENSOR + ctensor(t, item)


def centry(zstd: bytes, length: int, filt: int = 0, codec: int = 1) -> CItem:
    """A compressed bundle item with what its directory entry says (codec, filter, zstd length)."""
    return CItem(citem(zstd, length, filt, codec), codec, filt, len(zstd))


def cbundle(metadata: M, entries: list[tuple[str, TensorSpec, CItem | None]]) -> bytes:
    """A bundle; an entry with a CItem is compressed (a 7-element directory entry), one with None is Core."""
    ordered = sorted(((text(n), t, c) for n, t, c in entries), key=lambda e: e[0])
    dir_entries, items = layout(ordered)
    return assemble_bundle(enc_value(metadata), dir_entries, items)


def V(vid: str, desc: str, t: TensorSpec, item: bytes, flags: list[str]) -> Vector:
    return Vector(vid, desc, "tensor", cdoc(t, item), ["compressed", *flags], expected=tensor_expected(t),
                  source=None)


def f32(values: list[float]) -> bytes:
    import struct
    return b"".join(struct.pack("<f", v) for v in values)


def vectors() -> Iterator[Vector]:
    w = TensorSpec(F32, (2, 3), f32([0.5, -0.25, 1.0, 0.5, -0.25, 1.0]))
    yield V("ext-f32-raw-block", "float32 [2, 3] in one raw block, no filter", w, citem(raw_frame(w.data), 24), [])
    yield V("ext-f32-shuffle", "float32 [2, 3], byte-shuffled (filter 1), one raw block", w,
            citem(raw_frame(shuffle(w.data, 4)), 24, filt=1), ["shuffle"])
    zeros = TensorSpec(F32, (64, 64), bytes(16384))
    yield V("ext-f32-rle-zeros", "64 x 64 float32 zeros: one RLE block of 16384 bytes", zeros,
            citem(frame([("rle", (0, 16384))]), 16384), ["rle"])
    big = TensorSpec(U8, (3, 100000), bytes([7]) * 300000)
    yield V("ext-u8-many-blocks", "300000 uint8 sevens: three RLE blocks (128 KiB maximum each)", big,
            citem(frame([("rle", (7, 131072)), ("rle", (7, 131072)), ("rle", (7, 300000 - 262144))]), 300000),
            ["rle", "multi-block"])
    half = TensorSpec(F16, (4,), bytes.fromhex("003c00c0003800b8"))
    yield V("ext-f16-shuffle", "float16 1, -2, 0.5, -0.5, shuffled", half,
            citem(raw_frame(shuffle(half.data, 2)), 8, filt=1), ["shuffle"])
    bf = TensorSpec(BF16, (3,), bytes.fromhex("803f00c0003f"))
    yield V("ext-bf16-raw", "bfloat16 1, -2, 0.5", bf, citem(raw_frame(bf.data), 6), [])
    c = TensorSpec(C64, (1,), f32([1.0, -1.0]))
    yield V("ext-c64-shuffle", "complex64 1-1j: the shuffle unit is the alignment, 4", c,
            citem(raw_frame(shuffle(c.data, 4)), 8, filt=1), ["shuffle", "complex"])
    b = TensorSpec(BOOL, (5,), bytes([1, 0, 0, 1, 1]))
    yield V("ext-bool", "bool, compressed (no filter for one-byte types)", b, citem(raw_frame(b.data), 5), [])
    i4 = TensorSpec(I4, (3,), bytes.fromhex("7801"))
    yield V("ext-int4-packed", "int4 [-8, 7, 1]: the packed bytes are what is compressed", i4,
            citem(raw_frame(i4.data), 2), ["packed"])
    yield V("ext-two-frames", "the data split over two frames (decoders accept several)", w,
            citem(raw_frame(w.data[:10]) + raw_frame(w.data[10:]), 24), ["multi-frame"])
    yield V("ext-skippable-frame", "a skippable frame before the data frame", w,
            citem(skippable(b"note") + raw_frame(w.data), 24), ["multi-frame"])
    yield V("ext-content-size", "a single-segment frame that states its content size, 24", w,
            citem(frame([("raw", w.data)], content_size=24), 24), ["content-size"])
    yield V("ext-window-8mib", "window descriptor of 8 MiB, the largest a decoder must accept", w,
            citem(raw_frame(w.data, window_log=23), 24), ["window"])
    # SPEC 1.0.1: questions left open by 1.0, decided permissively (each has an invalid twin in extended_invalid).
    yield V("ext-frame-dictionary-id-zero", "a Dictionary_ID field of value 0 names no dictionary (Z1): accepted",
            w, citem(frame([("raw", w.data)], dict_id=0), 24), ["frame", "dictionary"])
    yield V("ext-skippable-not-counted", "a frame declaring 24 bytes plus an 8-byte skippable frame: skippable "
            "frames declare no content size and do not count in Z2's sum", w,
            citem(frame([("raw", w.data)], content_size=24) + skippable(bytes(8)), 24), ["multi-frame", "content-size"])
    yield V("ext-content-checksum", "a frame with a correct content checksum (Z3 verifies it)", w,
            citem(frame([("raw", w.data)], checksum=content_checksum(w.data)), 24), ["checksum"])
    q8 = TensorSpec(BY_NAME["q8_0"], (2, 32), bytes.fromhex("0038") + bytes(range(32)) + bytes.fromhex("00bc")
                    + bytes(range(256 - 32, 256)))
    yield V("ext-q8_0-shuffle", "q8_0 [2, 32] (two blocks), byte-shuffled by its alignment 2: blocks compress like "
            "any other element bytes", q8, citem(raw_frame(shuffle(q8.data, 2)), 68, filt=1), ["shuffle", "block"])
    mx = TensorSpec(BY_NAME["mxfp4"], (32,), bytes([127]) + bytes(range(16)))
    yield V("ext-mxfp4-raw", "mxfp4 [32] (one block, alignment 1: no filter)", mx, citem(raw_frame(mx.data), 17),
            ["block"])
    d = TensorSpec(F64, (), bytes.fromhex("182d4454fb210940"))
    yield V("ext-f64-scalar", "float64 scalar (rank 0): no padding item when compressed", d,
            citem(raw_frame(d.data), 8), ["rank0"])

    meta = M([("model", "demo")])
    bias = TensorSpec(F16, (1,), b"\x00\x38")
    entries = [("layer.weight", zeros, frame([("rle", (0, 16384))])), ("bias", bias, None)]
    tensors = [("layer.weight", zeros), ("bias", bias)]
    yield Vector("ext-bundle-mixed", "bundle: one compressed tensor, one Core tensor (with its padding)",
                 "bundle", cbundle(meta, [(n, t, centry(z, len(t.data)) if z is not None else None)
                                          for n, t, z in entries]),
                 ["compressed", "bundle"], expected=bundle_expected(meta, tensors), source=None)
