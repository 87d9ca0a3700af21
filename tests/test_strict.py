"""The strict decoder: one hand-built invalid document per error code, each with the exact code.

Every blob is a valid document (checked by a control test) edited by hand, so each
case isolates one defect. Offsets are from the document start.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from tensorcbor import DecodeError, decode, decode_bundle, encode, encode_bundle
from tensorcbor.errors import REGISTRY

H = bytes.fromhex
MAGIC = H("d9d9f7 d9cb74")
BMAGIC = H("d9d9f7 d9cb62")

# Valid documents the defects are made from.
F32 = MAGIC + H("85 01 01 8101 4100 d855 44 0000803f")  # float32 [1.0], two bytes of padding
U8 = MAGIC + H("84 01 02 8101 d840 41 05")  # uint8 [5]
BOOL = MAGIC + H("84 01 09 8102 42 0001")  # bool [False, True]
INT4 = MAGIC + H("84 01 16 8103 42 2103")  # int4 [1, 2, 3]
STR = MAGIC + H("84 01 08 8101 81 6161")  # string ["a"]
C128 = MAGIC + H("85 01 0f 8101 43000000 50") + bytes(16)  # complex128 [0j]


def bundle(meta: str = "a0", entries: tuple[str | bytes, ...] = (), items: tuple[str, ...] = ()) -> bytes:
    """A bundle from hex pieces: metadata, directory entries, items; the pad before the tensors is computed."""
    raw = [e if isinstance(e, bytes) else H(e) for e in entries]
    prefix = BMAGIC + H("85 01") + H(meta) + bytes((0x80 + len(raw),)) + b"".join(raw)
    k = (-(len(prefix) + 1)) % 8
    return prefix + bytes((0x40 + k,)) + bytes(k) + bytes((0x80 + len(items),)) + b"".join(H(i) for i in items)


EMPTY_BUNDLE = bundle()
A5 = "85 6161 02 8101 05 01"  # entry: "a", uint8, [1], offset 5 from B, 1 byte
ONE = bundle(entries=(A5,), items=("81 d840 41 05",))  # {"a": uint8 [5]}: B = 24
TWO = bundle(entries=(A5, "85 6162 02 8101 0a 01"), items=("81 d840 41 05", "81 d840 41 06"))


def bundle_meta(meta_hex: str) -> bytes:
    """An empty-tensor bundle whose metadata map is `meta_hex`."""
    return bundle(meta_hex)


def named(*names: str | bytes) -> bytes:
    """A bundle of uint8 [5] tensors under the given raw name encodings (hex or bytes)."""
    entries, items = [], []
    for i, n in enumerate(names):
        key = n if isinstance(n, bytes) else H(n)
        entries.append(b"\x85" + key + H("02 8101") + bytes((5 + 5 * i, 1)))
        items.append("81 d840 41 05")
    return bundle(entries=tuple(entries), items=tuple(items))


def nested(levels: int) -> bytes:
    """Metadata {"a": [[...[0]...]]} with `levels` arrays inside the map."""
    return bundle_meta("a1 6161" + "81" * levels + "00")


T, B = "tensor", "bundle"

CASES: list[tuple[str, bytes, str, str, int | None]] = [
    # id, blob, decoder, code, offset (None: not checked)
    ("reserved-ai-28", MAGIC + H("84 01 1c"), T, "MALFORMED", 8),
    ("break-as-dtype", MAGIC + H("84 01 ff"), T, "MALFORMED", 8),
    ("two-byte-simple-below-32", bundle_meta("a1 6161 f8 05"), B, "MALFORMED", 11),
    ("empty", b"", T, "TRUNCATED", 0),
    ("prefix-of-magic", H("d9d9"), T, "TRUNCATED", None),
    ("ends-in-head", MAGIC + H("84 01 01 81 1a 0000"), T, "TRUNCATED", 10),
    ("ends-in-data", U8[:-1], T, "TRUNCATED", None),
    ("data-longer-than-input", MAGIC + H("84 01 02 8105 d840 45 0102"), T, "TRUNCATED", None),
    ("ends-in-string", STR[:-1], T, "TRUNCATED", None),
    ("ends-in-metadata", BMAGIC + H("85 01 a1 6161 63 6262"), B, "TRUNCATED", 12),
    ("empty-bundle-input", b"", B, "TRUNCATED", 0),
    ("trailing-zero", U8 + b"\x00", T, "TRAILING_BYTES", len(U8)),
    ("trailing-item", ONE + H("f6"), B, "TRAILING_BYTES", len(ONE)),
    ("directory-offset-wrong", bundle(entries=("85 6161 02 8101 06 01",), items=("81 d840 41 05",)), B,
     "DIRECTORY_MISMATCH", 16),
    ("directory-item-count", bundle(entries=(A5,), items=("81 d840 41 05", "81 d840 41 05")), B,
     "DIRECTORY_MISMATCH", 24),
    ("no-prefix", U8[3:], T, "BAD_MAGIC", 0),
    ("wrong-first-byte", b"\x00" + U8[1:], T, "BAD_MAGIC", 0),
    ("other-tag", H("d9d9f7 d9cb75") + U8[6:], T, "BAD_MAGIC", 3),
    ("bundle-given-to-decode", EMPTY_BUNDLE, T, "BAD_MAGIC", 3),
    ("tensor-given-to-decode_bundle", U8, B, "BAD_MAGIC", 3),
    ("prefix-then-integer", H("d9d9f7 00"), T, "BAD_MAGIC", 3),
    ("version-2", MAGIC + H("84 02 02 8101 d840 41 05"), T, "UNSUPPORTED_VERSION", 7),
    ("version-0", MAGIC + H("84 00 02 8101 d840 41 05"), T, "UNSUPPORTED_VERSION", 7),
    ("bundle-version-2", BMAGIC + H("85 02 a0 80 45 0000000000 80"), B, "UNSUPPORTED_VERSION", 7),
    ("bundle-version-2-draft-layout", BMAGIC + H("83 02 a0 a0"), B, "UNSUPPORTED_VERSION", 7),
    ("version-2-array-of-1", MAGIC + H("81 02"), T, "UNSUPPORTED_VERSION", 7),
    ("array-of-3", MAGIC + H("83 01 02 8101"), T, "UNEXPECTED_TYPE", 6),
    ("array-of-6", MAGIC + H("86 01 02 8101 40 40 d840 41 05"), T, "UNEXPECTED_TYPE", 6),
    ("map-instead-of-array", MAGIC + H("a0"), T, "UNEXPECTED_TYPE", 6),
    ("dtype-negative", MAGIC + H("84 01 21 8101 d840 41 05"), T, "UNEXPECTED_TYPE", 8),
    ("shape-is-map", MAGIC + H("84 01 02 a0 d840 40"), T, "UNEXPECTED_TYPE", 9),
    ("dim-is-text", MAGIC + H("84 01 02 81 6131 d840 41 05"), T, "UNEXPECTED_TYPE", 10),
    ("data-is-text", MAGIC + H("84 01 09 8102 62 0001"), T, "UNEXPECTED_TYPE", 11),
    ("pad-is-text", MAGIC + H("85 01 01 8101 6100 d855 44 0000803f"), T, "UNEXPECTED_TYPE", 11),
    ("string-element-is-bytes", MAGIC + H("84 01 08 8101 81 4161"), T, "UNEXPECTED_TYPE", 12),
    ("bundle-array-of-4", BMAGIC + H("84 01 a0 80 40"), B, "UNEXPECTED_TYPE", 6),
    ("bundle-draft-layout", BMAGIC + H("83 01 a0 a0"), B, "UNEXPECTED_TYPE", 6),
    ("bundle-directory-not-array", BMAGIC + H("85 01 a0 a0"), B, "UNEXPECTED_TYPE", 9),
    ("bundle-metadata-not-map", BMAGIC + H("85 01 80 80"), B, "UNEXPECTED_TYPE", 8),
    ("bundle-entry-array-of-4", bundle(entries=("84 6161 02 8101 05",), items=("81 d840 41 05",)), B,
     "UNEXPECTED_TYPE", 10),
    ("bundle-name-is-int", named("01"), B, "UNEXPECTED_TYPE", 11),
    ("bundle-pad-missing", BMAGIC + H("85 01 a0 80 80"), B, "UNEXPECTED_TYPE", 10),
    ("bundle-item-array-of-3", bundle(entries=(A5,), items=("83 02 8101 d840 41 05",)), B, "UNEXPECTED_TYPE", 25),
    ("uint8-with-int8-tag", MAGIC + H("84 01 02 8101 d848 41 05"), T, "UNEXPECTED_TAG", 11),
    ("uint8-without-tag", MAGIC + H("84 01 02 8101 41 05"), T, "UNEXPECTED_TAG", 11),
    ("bool-with-tag", MAGIC + H("84 01 09 8102 d840 42 0001"), T, "UNEXPECTED_TAG", 11),
    ("float32-double-tag", MAGIC + H("85 01 01 8101 40 d855 d855 44 0000803f"), T, "UNEXPECTED_TAG", 12),
    ("tagged-version", MAGIC + H("84 c1 01 02 8101 d840 41 05"), T, "UNEXPECTED_TAG", 7),
    ("tagged-dim", MAGIC + H("84 01 02 81 c101 d840 41 05"), T, "UNEXPECTED_TAG", 10),
    ("tagged-name", named("c0 6161"), B, "UNEXPECTED_TAG", 11),
    ("dtype-0", MAGIC + H("84 01 00 8101 d840 41 05"), T, "UNKNOWN_DTYPE", 8),
    ("dtype-65536", MAGIC + H("84 01 1a00010000 8101 d840 41 05"), T, "UNKNOWN_DTYPE", 8),
    ("dtype-2^32", MAGIC + H("84 01 1b0000000100000000 8101 d840 41 05"), T, "UNKNOWN_DTYPE", 8),
    ("rank-33", MAGIC + H("84 01 02 9821") + b"\x01" * 33 + H("d840 41 05"), T, "RANK_TOO_LARGE", 9),
    ("dims-2^32-x-2^32", MAGIC + H("84 01 02 82 1b0000000100000000 1b0000000100000000 d840 40"), T,
     "SIZE_OVERFLOW", 19),
    ("dim-2^64-1", MAGIC + H("84 01 02 81 1bffffffffffffffff d840 40"), T, "SIZE_OVERFLOW", 10),
    ("dim-2^53", MAGIC + H("84 01 02 81 1b0020000000000000 d840 40"), T, "SIZE_OVERFLOW", 10),
    ("zero-and-2^53", MAGIC + H("84 01 02 82 00 1b0020000000000000 d840 40"), T, "SIZE_OVERFLOW", 11),
    ("uint8-too-many-bytes", MAGIC + H("84 01 02 8101 d840 42 0506"), T, "SHAPE_MISMATCH", 11),
    ("uint8-too-few-bytes", MAGIC + H("84 01 02 8102 d840 41 05"), T, "SHAPE_MISMATCH", 11),
    ("int4-3-in-1-byte", MAGIC + H("84 01 16 8103 41 21"), T, "SHAPE_MISMATCH", 11),
    ("zero-size-with-data", MAGIC + H("84 01 02 8100 d840 41 05"), T, "SHAPE_MISMATCH", 11),
    ("strings-too-many", MAGIC + H("84 01 08 8101 82 6161 6162"), T, "SHAPE_MISMATCH", 11),
    ("strings-too-few", MAGIC + H("84 01 08 8102 81 6161"), T, "SHAPE_MISMATCH", 11),
    ("pad-missing", MAGIC + H("84 01 01 8101 d855 44 0000803f"), T, "BAD_PADDING", 11),
    ("pad-nonzero", MAGIC + H("85 01 01 8101 4101 d855 44 0000803f"), T, "BAD_PADDING", 11),
    ("pad-too-long", MAGIC + H("85 01 01 8101 4500000000 00 d855 44 0000803f"), T, "BAD_PADDING", None),
    ("pad-not-needed", MAGIC + H("85 01 02 8101 40 d840 41 05"), T, "BAD_PADDING", 12),
    ("pad-empty-when-aligned", MAGIC + H("85 01 01 8102 40 d855 48 0000803f 0000803f"), T, "BAD_PADDING", 12),
    ("pad-on-string", MAGIC + H("85 01 08 8101 40 81 6161"), T, "BAD_PADDING", 11),
    ("complex128-pad-short", MAGIC + H("85 01 0f 8101 420000 50") + bytes(16), T, "BAD_PADDING", 14),
    ("bool-2", MAGIC + H("84 01 09 8102 42 0002"), T, "INVALID_ELEMENT", 13),
    ("bool-ff", MAGIC + H("84 01 09 8102 42 ff00"), T, "INVALID_ELEMENT", 12),
    ("int4-tail-bits", MAGIC + H("84 01 16 8103 42 2113"), T, "INVALID_ELEMENT", 13),
    ("int2-tail-bits", MAGIC + H("84 01 181a 8101 41 04"), T, "INVALID_ELEMENT", 13),
    ("float6-tail-bits", MAGIC + H("84 01 181b 8101 41 40"), T, "INVALID_ELEMENT", 13),
    ("bundle-bool-2", bundle(entries=("85 6161 09 8101 03 01",), items=("81 41 02",)), B, "INVALID_ELEMENT", 27),
    ("bool-2-then-trailing", MAGIC + H("84 01 09 8102 42 0002 00"), T, "INVALID_ELEMENT", 13),
    ("string-ff", MAGIC + H("84 01 08 8101 81 61ff"), T, "INVALID_UTF8", 13),
    ("string-overlong-nul", MAGIC + H("84 01 08 8101 81 62c080"), T, "INVALID_UTF8", 13),
    ("string-surrogate", MAGIC + H("84 01 08 8101 81 63eda080"), T, "INVALID_UTF8", 13),
    ("name-invalid", named("61ff"), B, "INVALID_UTF8", 12),
    ("metadata-key-invalid", bundle_meta("a1 61fe 00"), B, "INVALID_UTF8", 10),
    ("metadata-text-invalid", bundle_meta("a1 6161 62 c328"), B, "INVALID_UTF8", None),
    ("empty-name", named("60"), B, "INVALID_NAME", 11),
    ("name-4097-bytes", named(H("791001") + b"n" * 4097), B, "INVALID_NAME", 11),
    ("duplicate-name", named("6161", "6161"), B, "DUPLICATE_NAME", 19),
    ("duplicate-key", bundle_meta("a2 6161 00 6161 01"), B, "DUPLICATE_KEY", 12),
    ("duplicate-key-nested", bundle_meta("a1 6161 a2 6178 00 6178 00"), B, "DUPLICATE_KEY", 15),
    ("unsorted-keys", bundle_meta("a2 6162 00 6161 00"), B, "UNSORTED_KEYS", 12),
    ("unsorted-keys-by-length", bundle_meta("a2 626161 00 6162 00"), B, "UNSORTED_KEYS", 13),
    ("unsorted-keys-nested", bundle_meta("a1 6161 a2 6179 00 6178 00"), B, "UNSORTED_KEYS", 15),
    ("unsorted-names", named("6162", "6161"), B, "UNSORTED_KEYS", 19),
    ("dtype-non-shortest", MAGIC + H("84 01 1802 8101 d840 41 05"), T, "NON_SHORTEST_HEAD", 8),
    ("version-non-shortest", MAGIC + H("84 1801 02 8101 d840 41 05"), T, "NON_SHORTEST_HEAD", 7),
    ("rank-non-shortest", MAGIC + H("84 01 02 9801 01 d840 41 05"), T, "NON_SHORTEST_HEAD", 9),
    ("dim-non-shortest", MAGIC + H("84 01 02 81 190001 d840 41 05"), T, "NON_SHORTEST_HEAD", 10),
    ("dim-4-bytes-for-2", MAGIC + H("84 01 02 81 1a0000ffff d840 40"), T, "NON_SHORTEST_HEAD", 10),
    ("dim-8-bytes-for-4", MAGIC + H("84 01 02 81 1b00000000ffffffff d840 40"), T, "NON_SHORTEST_HEAD", 10),
    ("bytes-head-non-shortest", MAGIC + H("84 01 02 8101 d840 5801 05"), T, "NON_SHORTEST_HEAD", 13),
    ("data-tag-non-shortest", MAGIC + H("84 01 02 8101 d90040 41 05"), T, "NON_SHORTEST_HEAD", 11),
    ("document-tag-non-shortest", H("d9d9f7 da0000cb74") + U8[6:], T, "NON_SHORTEST_HEAD", 3),
    ("array-head-non-shortest", MAGIC + H("9804 01 02 8101 d840 41 05"), T, "NON_SHORTEST_HEAD", 6),
    ("metadata-int-non-shortest", bundle_meta("a1 6161 1817"), B, "NON_SHORTEST_HEAD", 11),
    ("metadata-key-non-shortest", bundle_meta("a1 780161 00"), B, "NON_SHORTEST_HEAD", 9),
    ("name-non-shortest", named("780161"), B, "NON_SHORTEST_HEAD", 11),
    ("float-1.5-as-double", bundle_meta("a1 6161 fb3ff8000000000000"), B, "NON_CANONICAL_FLOAT", 11),
    ("float-1.5-as-single", bundle_meta("a1 6161 fa3fc00000"), B, "NON_CANONICAL_FLOAT", 11),
    ("float-inf-as-double", bundle_meta("a1 6161 fb7ff0000000000000"), B, "NON_CANONICAL_FLOAT", 11),
    ("float-minus-zero-as-single", bundle_meta("a1 6161 fa80000000"), B, "NON_CANONICAL_FLOAT", 11),
    ("nan-single", bundle_meta("a1 6161 fa7fc00000"), B, "NON_CANONICAL_FLOAT", 11),
    ("nan-payload", bundle_meta("a1 6161 f97e01"), B, "NON_CANONICAL_FLOAT", 11),
    ("nan-negative", bundle_meta("a1 6161 f9fe00"), B, "NON_CANONICAL_FLOAT", 11),
    ("shape-indefinite", MAGIC + H("84 01 02 9f 01 ff d840 41 05"), T, "INDEFINITE_LENGTH", 9),
    ("data-indefinite", MAGIC + H("84 01 02 8101 d840 5f 41 05 ff"), T, "INDEFINITE_LENGTH", 13),
    ("tensor-array-indefinite", MAGIC + H("9f 01 02 8101 d840 41 05 ff"), T, "INDEFINITE_LENGTH", 6),
    ("strings-indefinite", MAGIC + H("84 01 08 8101 9f 6161 ff"), T, "INDEFINITE_LENGTH", 11),
    ("metadata-map-indefinite", bundle_meta("bf ff"), B, "INDEFINITE_LENGTH", 8),
    ("metadata-text-indefinite", bundle_meta("a1 6161 7f 6161 ff"), B, "INDEFINITE_LENGTH", 11),
    ("directory-indefinite", BMAGIC + H("85 01 a0 9f ff"), B, "INDEFINITE_LENGTH", 9),
    ("metadata-tag", bundle_meta("a1 6161 c1 00"), B, "UNSUPPORTED_VALUE", 11),
    ("metadata-undefined", bundle_meta("a1 6161 f7"), B, "UNSUPPORTED_VALUE", 11),
    ("metadata-simple-16", bundle_meta("a1 6161 f0"), B, "UNSUPPORTED_VALUE", 11),
    ("metadata-simple-32", bundle_meta("a1 6161 f820"), B, "UNSUPPORTED_VALUE", 11),
    ("metadata-int-key", bundle_meta("a1 01 00"), B, "UNSUPPORTED_VALUE", 9),
    ("metadata-bytes-key", bundle_meta("a1 4161 00"), B, "UNSUPPORTED_VALUE", 9),
    ("nested-map-int-key", bundle_meta("a1 6161 a1 00 00"), B, "UNSUPPORTED_VALUE", 12),
    ("nesting-33", nested(32), B, "NESTING_TOO_DEEP", 11 + 31),
    ("nesting-33-maps", bundle_meta("a1 6161" + "a1 6161" * 31 + "80"), B, "NESTING_TOO_DEEP", None),
]

OUT_OF_SCOPE = {  # stream and compression profiles: not produced by the tensor/bundle codec
    "STREAM_DIGEST_MISMATCH", "WRONG_STREAM", "CHUNK_OUT_OF_RANGE", "DUPLICATE_CHUNK", "CHUNK_OUT_OF_ORDER",
    "MISSING_CHUNK", "CHUNK_DIGEST_MISMATCH", "CHUNK_TOO_LARGE", "STREAM_LENGTH_MISMATCH",
    "DOCUMENT_DIGEST_MISMATCH", "UNSUPPORTED_COMPRESSION", "INVALID_COMPRESSION", "DECOMPRESSED_SIZE_MISMATCH",
    "INVALID_CHUNK_SIZE", "QUOTA_EXCEEDED", "DECOMPRESSION_LIMIT",
}


def run(blob: bytes, kind: str, strict: bool = True):
    return (decode if kind == T else decode_bundle)(blob, strict=strict)


def test_base_documents_are_valid() -> None:
    assert F32 == encode(np.array([1.0], np.float32))
    assert U8 == encode(np.array([5], np.uint8))
    assert BOOL == encode(np.array([False, True]))
    assert INT4 == encode(np.array([1, 2, 3], ml_dtypes.int4))
    assert STR == encode(np.array(["a"]))
    assert C128 == encode(np.zeros(1, np.complex128))
    assert EMPTY_BUNDLE == encode_bundle({})
    assert ONE == encode_bundle({"a": np.array([5], np.uint8)})
    assert TWO == encode_bundle({"a": np.array([5], np.uint8), "b": np.array([6], np.uint8)})
    assert bundle_meta("a1 6161 a2 6178 00 6179 00") == encode_bundle({}, {"a": {"x": 0, "y": 0}})
    decode_bundle(nested(31))  # 31 arrays inside the level-1 map: level 32 is allowed


@pytest.mark.parametrize("name,blob,kind,code,offset", CASES, ids=[c[0] for c in CASES])
def test_invalid_document(name, blob, kind, code, offset) -> None:
    with pytest.raises(DecodeError) as exc:
        run(blob, kind)
    assert exc.value.code == code, str(exc.value)
    if offset is not None:
        assert exc.value.offset == offset, str(exc.value)
    assert str(exc.value).startswith(code)


def test_metadata_too_large() -> None:
    limit = 16 * 1024 * 1024
    value = bytes(limit)
    blob = bundle("a1 6161 5a01000000" + value.hex())
    with pytest.raises(DecodeError) as exc:
        decode_bundle(blob)
    # Reported at the byte-string head whose claimed content passes the limit (SPEC.md §7.1 D6).
    assert exc.value.code == "METADATA_TOO_LARGE" and exc.value.offset == 11
    with pytest.raises(DecodeError) as exc:
        decode_bundle(blob[:20])  # the content need not be there
    assert exc.value.code == "METADATA_TOO_LARGE" and exc.value.offset == 11
    # Exactly at the limit is allowed: map head 1 + key 2 + bytes head 5 + content.
    at_limit = bundle("a1 6161 5a" + (limit - 8).to_bytes(4, "big").hex() + bytes(limit - 8).hex())
    assert decode_bundle(at_limit).metadata == {"a": bytes(limit - 8)}


def test_every_codec_error_code_has_a_case() -> None:
    covered = {c[3] for c in CASES} | {"METADATA_TOO_LARGE"}
    assert covered == {code for code, _ in REGISTRY} - OUT_OF_SCOPE


def test_name_of_4096_bytes_is_allowed() -> None:
    blob = named(H("791000") + b"n" * 4096)
    assert list(decode_bundle(blob)) == ["n" * 4096]


def test_decode_error_is_a_value_error_with_code_and_offset() -> None:
    with pytest.raises(ValueError) as exc:
        decode(U8 + b"\x00")
    assert isinstance(exc.value, DecodeError)
    assert exc.value.code == "TRAILING_BYTES" and exc.value.offset == len(U8)


def test_first_defect_wins() -> None:
    # Unknown dtype and a trailing byte: the dtype is read first (SPEC.md §7.1 order).
    with pytest.raises(DecodeError) as exc:
        decode(MAGIC + H("84 01 00 8101 d840 41 05 00"))
    assert exc.value.code == "UNKNOWN_DTYPE"
    # Bad padding is checked before the data length.
    with pytest.raises(DecodeError) as exc:
        decode(MAGIC + H("84 01 01 8101 d855 48 0000803f"))
    assert exc.value.code == "BAD_PADDING"
