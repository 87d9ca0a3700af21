"""Extended profile (SPEC.md §11), invalid vectors: each with the code §11.4 (C1-C6, Z1-Z4) assigns.

Frames are hand-built (zstd_frames.py), so these bytes mean the same to every zstd
decoder. The first vector is also what a Core-only decoder must report for any
compressed tensor (UNSUPPORTED_COMPRESSION, §7.1 F5), and an unknown codec gets
that code from Extended decoders too.
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
    head,
    layout,
    text,
    uint,
)
from .common import Vector
from .extended_valid import BOOL, F32, I4, U8, cbundle, cdoc, centry, citem, f32
from .zstd_frames import BLOCK_MAX, content_checksum, frame, raw_frame, skippable

PROFILE = "extended"

W = TensorSpec(F32, (2, 3), f32([0.5, -0.25, 1.0, 0.5, -0.25, 1.0]))
GOOD = raw_frame(W.data)


def T(vid: str, desc: str, data: bytes, error: str, flags: list[str]) -> Vector:
    return Vector(vid, desc, "tensor", data, ["compressed", *flags], error=error)


def tag_then(body: bytes) -> bytes:
    return cdoc(W, head(6, 52090) + body)


def vectors() -> Iterator[Vector]:
    # Core: a Core-only decoder must report UNSUPPORTED_COMPRESSION for any compressed tensor (§7.1 F5)
    core = T("ext-bad-codec", "codec 7 (unknown): UNSUPPORTED_COMPRESSION for Core and Extended decoders alike",
             cdoc(W, citem(GOOD, 24, codec=7)), "UNSUPPORTED_COMPRESSION", ["codec"])
    core.profile = "core"
    yield core
    yield T("ext-bad-filter", "filter 2 (unknown)", cdoc(W, citem(GOOD, 24, filt=2)), "UNSUPPORTED_COMPRESSION",
            ["filter"])
    u8 = TensorSpec(U8, (4,), bytes(4))
    yield T("ext-shuffle-u8", "shuffle filter on uint8 (alignment 1)", cdoc(u8, citem(raw_frame(bytes(4)), 4, filt=1)),
            "INVALID_COMPRESSION", ["filter"])
    pad = MAGIC_TENSOR + head(4, 5) + b"\x01" + uint(1) + array([uint(2), uint(3)]) + b"\x40" + citem(GOOD, 24)
    yield T("ext-with-padding", "a padding item before compressed data", pad, "INVALID_COMPRESSION", ["padding"])
    yield T("ext-not-array", "tag 52090 around a byte string", tag_then(bstr(GOOD)), "INVALID_COMPRESSION",
            ["structure"])
    yield T("ext-array-3", "[codec, filter, length]: 3 elements", tag_then(array([uint(1), uint(0), uint(24)])),
            "INVALID_COMPRESSION", ["structure"])
    yield T("ext-codec-text", "codec as a text string", tag_then(array([text("zstd"), uint(0), uint(24), bstr(GOOD)])),
            "INVALID_COMPRESSION", ["structure"])
    yield T("ext-codec-negative", "codec -1", tag_then(array([b"\x20", uint(0), uint(24), bstr(GOOD)])),
            "INVALID_COMPRESSION", ["structure"])
    yield T("ext-length-mismatch", "length 20 for a 24-byte tensor", cdoc(W, citem(raw_frame(W.data[:20]), 20)),
            "SHAPE_MISMATCH", ["length"])
    yield T("ext-data-text", "compressed data as a text string",
            tag_then(array([uint(1), uint(0), uint(24), text("x")])), "INVALID_COMPRESSION", ["structure"])
    yield T("ext-data-truncated", "the document ends inside the compressed bytes", cdoc(W, citem(GOOD, 24))[:-3],
            "TRUNCATED", ["truncated"])
    yield T("ext-nonshortest-length", "length 24 with a two-byte head",
            tag_then(b"\x84\x01\x00\x19\x00\x18" + bstr(GOOD)), "NON_SHORTEST_HEAD", ["determinism"])
    yield T("ext-in-typed-array-tag", "85(52090(...)): the RFC 8746 tag around compressed data",
            cdoc(W, head(6, 85) + citem(GOOD, 24)), "UNEXPECTED_TAG", ["tag"])
    s = TensorSpec(BY_NAME["string"], (1,), strings=["a"])
    yield T("ext-string", "compression never applies to string tensors (F4 expects an array)",
            cdoc(s, citem(raw_frame(b"\x81\x61a"), 3)), "UNEXPECTED_TAG", ["string"])

    # Z1: frame structure
    yield T("ext-frame-bad-magic", "not a zstd frame", cdoc(W, citem(b"\x00" * 8 + GOOD, 24)),
            "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-empty", "no frame at all", cdoc(W, citem(b"", 24)), "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-truncated", "the frame's last block is cut short", cdoc(W, citem(GOOD[:-2], 24)),
            "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-trailing", "garbage after the frame", cdoc(W, citem(GOOD + b"\x00", 24)),
            "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-reserved-bit", "frame header reserved bit set",
            cdoc(W, citem(frame([("raw", W.data)], fhd_extra=0x08), 24)), "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-reserved-block", "block type 3 (reserved)",
            cdoc(W, citem(frame([("reserved", W.data)]), 24)), "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-dictionary", "the frame names dictionary 1",
            cdoc(W, citem(frame([("raw", W.data)], dict_id=1), 24)), "INVALID_COMPRESSION", ["frame"])
    yield T("ext-frame-window-16mib", "window of 16 MiB, over the 8 MiB limit",
            cdoc(W, citem(raw_frame(W.data, window_log=24), 24)), "INVALID_COMPRESSION", ["window"])
    yield T("ext-frame-corrupt-block", "a compressed block whose content is garbage",
            cdoc(W, citem(frame([("compressed", b"\xff" * 6)]), 24)), "INVALID_COMPRESSION", ["frame"])
    # Z2-Z3: sizes
    yield T("ext-content-size-mismatch", "the frame says 25 bytes, the tensor needs 24",
            cdoc(W, citem(frame([("raw", W.data + b"\x00")], content_size=25), 24)),
            "DECOMPRESSED_SIZE_MISMATCH", ["length"])
    yield T("ext-short-output", "the frames produce 20 of 24 bytes", cdoc(W, citem(raw_frame(W.data[:20]), 24)),
            "DECOMPRESSED_SIZE_MISMATCH", ["length"])
    bomb = frame([("rle", (0, 131072))] * 4096)  # 512 MiB of zeros in 16 KiB
    yield T("ext-zip-bomb", "16 KiB of RLE blocks that expand to 512 MiB, declared as 24 bytes: fails after 24",
            cdoc(W, citem(bomb, 24)), "DECOMPRESSED_SIZE_MISMATCH", ["bomb"])
    # SPEC 1.0.1: questions 1.0 left open (Z1-Z3), each decided in the text and pinned here.
    nine = 9 * 1024 * 1024
    yield T("ext-frame-single-segment-9mib", "a single-segment frame of 9 MiB (its window is its content size, "
            "Z1): over the 8 MiB limit although every byte is a valid RLE block",
            cdoc(TensorSpec(U8, (nine,), b""), citem(frame([("rle", (0, BLOCK_MAX))] * 72, content_size=nine),
                                                      nine)), "INVALID_COMPRESSION", ["window", "frame"])
    yield T("ext-frame-only-skippable", "only a skippable frame: the data needs at least one zstd frame (Z1)",
            cdoc(W, citem(skippable(bytes(8)), 24)), "INVALID_COMPRESSION", ["frame", "multi-frame"])
    k1 = TensorSpec(U8, (1025,), b"")
    yield T("ext-frame-block-over-window", "window 1 KiB, one RLE block of 1025 bytes: a block larger than "
            "Block_Maximum_Size (the window, at most 128 KiB) is corrupt (Z3)",
            cdoc(k1, citem(frame([("rle", (0, 1025))], window_log=10), 1025)), "INVALID_COMPRESSION", ["frame"])
    k128 = TensorSpec(U8, (BLOCK_MAX + 1,), b"")
    yield T("ext-frame-block-over-128kib", "window 256 KiB, one RLE block of 128 KiB + 1: over the 128 KiB block "
            "limit (Z3)", cdoc(k128, citem(frame([("rle", (0, BLOCK_MAX + 1))], window_log=18), BLOCK_MAX + 1)),
            "INVALID_COMPRESSION", ["frame"])
    k1024 = TensorSpec(U8, (1024,), b"")
    yield T("ext-frame-block-over-window-size-first", "window 1 KiB, one RLE block of 1025 bytes, in a frame that "
            "declares 1025 bytes where the tensor needs 1024: Z2 judges the declared size before Z3 judges the block "
            "size (the walk of Z1 sees the block but does not judge it)",
            cdoc(k1024, citem(frame([("rle", (0, 1025))], window_log=10, windowed_size=1025), 1024)),
            "DECOMPRESSED_SIZE_MISMATCH", ["frame", "content-size", "check-order"])
    four = TensorSpec(U8, (4,), bytes(4))
    yield T("ext-frame-output-under-content-size", "a frame declaring 4 bytes that produces 2, then a frame of 2: "
            "the total is right, the first frame is corrupt (Z3)",
            cdoc(four, citem(frame([("raw", bytes(2))], windowed_size=4) + raw_frame(bytes(2)), 4)),
            "INVALID_COMPRESSION", ["frame", "content-size"])
    yield T("ext-frame-output-over-content-size", "a frame declaring 2 bytes that produces 4, then an empty frame: "
            "the total is right, the first frame is corrupt (Z3)",
            cdoc(four, citem(frame([("raw", bytes(4))], windowed_size=2) + raw_frame(b""), 4)),
            "INVALID_COMPRESSION", ["frame", "content-size"])
    yield T("ext-frame-content-size-before-length", "a frame declaring 2 bytes that produces 100, then a frame "
            "declaring no size, where the tensor needs 4: Z2 cannot fire (not every frame declares a size, and 2 < 4), "
            "and in Z3 the frame's own size is judged before the bound on length, INVALID_COMPRESSION",
            cdoc(four, citem(frame([("raw", bytes(100))], windowed_size=2) + raw_frame(b""), 4)),
            "INVALID_COMPRESSION", ["frame", "content-size", "check-order"])
    wrong = bytearray(content_checksum(W.data))
    wrong[0] ^= 1
    yield T("ext-frame-checksum-wrong", "a content checksum that does not match the output (Z3)",
            cdoc(W, citem(frame([("raw", W.data)], checksum=bytes(wrong)), 24)), "INVALID_COMPRESSION",
            ["frame", "checksum"])
    # The decompression limit of a conformance run: the reference default, 2^30 bytes per decode call (§11.4).
    limit = 1 << 30
    yield T("ext-limit-one-tensor", "uint8 [2^30 + 1] compressed: its declared length alone exceeds the 2^30-byte "
            "limit (DECOMPRESSION_LIMIT at C5, before any frame is read)",
            cdoc(TensorSpec(U8, (limit + 1,), b""), citem(GOOD, limit + 1)), "DECOMPRESSION_LIMIT", ["limit"])
    small = TensorSpec(U8, (4,), bytes(4))
    yield Vector("ext-limit-bundle-sum", "bundle: 4 + (2^30 - 3) declared bytes; the second tensor's C5 takes "
                 "the sum over the decode call past 2^30", "bundle",
                 cbundle(M([]), [("a", small, centry(raw_frame(bytes(4)), 4)),
                                 ("b", TensorSpec(U8, (limit - 3,), b""), centry(GOOD, limit - 3))]),
                 ["compressed", "bundle", "limit"], error="DECOMPRESSION_LIMIT")
    yield Vector("ext-limit-bundle-exact", "bundle: 4 + (2^30 - 4) declared bytes, exactly the limit, is allowed; "
                 "the second tensor's frame then fails Z2 (it declares 24 bytes)", "bundle",
                 cbundle(M([]), [("a", small, centry(raw_frame(bytes(4)), 4)),
                                 ("b", TensorSpec(U8, (limit - 4,), b""),
                                  centry(frame([("raw", W.data)], content_size=24), limit - 4))]),
                 ["compressed", "bundle", "limit", "check-order"], error="DECOMPRESSED_SIZE_MISMATCH")
    # Z4: elements after decompression
    b = TensorSpec(BOOL, (3,), b"\x01\x02\x00")
    yield T("ext-bool-element", "a decompressed bool byte 0x02", cdoc(b, citem(raw_frame(b.data), 3)),
            "INVALID_ELEMENT", ["element"])
    i4 = TensorSpec(I4, (3,), bytes.fromhex("78f1"))
    yield T("ext-int4-tail", "decompressed int4 data with non-zero unused high bits",
            cdoc(i4, citem(raw_frame(i4.data), 2)), "INVALID_ELEMENT", ["element", "packed"])


    # Bundles: the directory entry and the item must agree (SPEC.md §5.2, §7.1 bundle step 9).
    yield from bundle_vectors()


def _bundle(entries: list[bytes], items: list[bytes]) -> bytes:
    return assemble_bundle(b"\xa0", entries, items)


def bundle_vectors() -> Iterator[Vector]:
    def B(vid: str, desc: str, data: bytes, error: str) -> Vector:
        return Vector(vid, desc, "bundle", data, ["compressed", "bundle", "directory-mismatch"], error=error)

    c = centry(GOOD, 24)
    (entry,), (item,) = layout([(text("w"), W, c)])
    (core_ok,), (core_item,) = layout([(text("w"), W, None)])
    yield B("ext-bundle-core-entry-compressed-item", "a 5-element (Core) entry whose item is compressed: the entry's "
            "offset is that of the Core layout, the item is compressed",
            _bundle([core_ok], [item]), "DIRECTORY_MISMATCH")
    yield B("ext-bundle-compressed-entry-core-item", "a 7-element (compressed) entry whose item is Core",
            _bundle([entry], [core_item]), "DIRECTORY_MISMATCH")
    shuffled = centry(GOOD, 24, filt=1)
    (_,), (shuffled_item,) = layout([(text("w"), W, shuffled)])
    yield B("ext-bundle-filter-differs", "the entry says filter 0, the item filter 1",
            _bundle([entry], [shuffled_item]), "DIRECTORY_MISMATCH")
    longer = CItem(c.item, c.codec, c.filt, c.zlen + 1)
    (long_entry,), _ = layout([(text("w"), W, longer)])
    yield B("ext-bundle-zstd-length-differs", "the entry's length is one more than the zstd bytes",
            _bundle([long_entry], [item]), "DIRECTORY_MISMATCH")
    u8 = TensorSpec(U8, (4,), bytes(4))
    bad = CItem(citem(raw_frame(bytes(4)), 4, filt=1), 1, 1, len(raw_frame(bytes(4))))
    entries, items = layout([(text("u"), u8, bad)])
    yield B("ext-bundle-entry-shuffle-u8", "a directory entry with the shuffle filter for uint8 (alignment 1)",
            _bundle(entries, items), "INVALID_COMPRESSION")
