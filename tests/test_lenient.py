"""Lenient decoding (SPEC.md §7.3): exactly four deviations accepted, everything else still an error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from tensorcbor import DecodeError, decode, decode_bundle, encode, encode_bundle
from tensorcbor.testing import invalid_blobs

H = bytes.fromhex
MAGIC = H("d9d9f7 d9cb74")
BMAGIC = H("d9d9f7 d9cb62")
F32 = MAGIC + H("85 01 01 8101 4100 d855 44 0000803f")


def bundle(meta: str = "a0", entries: tuple[str, ...] = (), items: tuple[str, ...] = ()) -> bytes:
    """A bundle from hex pieces; the pad before the tensors is computed (B a multiple of 8)."""
    prefix = BMAGIC + H("85 01") + H(meta) + bytes((0x80 + len(entries),)) + b"".join(H(e) for e in entries)
    k = (-(len(prefix) + 1)) % 8
    return prefix + bytes((0x40 + k,)) + bytes(k) + bytes((0x80 + len(items),)) + b"".join(H(i) for i in items)


def lenient_only(blob: bytes, kind: str = "tensor"):
    """Decode leniently after checking that strict decoding rejects the blob."""
    fn = decode if kind == "tensor" else decode_bundle
    with pytest.raises(DecodeError):
        fn(blob)
    return fn(blob, strict=False)


def test_missing_prefix() -> None:
    out = lenient_only(F32[3:])
    assert out.tolist() == [1.0]
    bundle = lenient_only(encode_bundle({"a": np.arange(3)}, {"k": 1})[3:], "bundle")
    assert bundle["a"].tolist() == [0, 1, 2] and bundle.metadata == {"k": 1}


def test_missing_prefix_still_needs_a_tensorcbor_tag() -> None:
    with pytest.raises(DecodeError) as exc:
        decode(H("d9cb75") + F32[6:], strict=False)
    assert exc.value.code == "BAD_MAGIC"
    with pytest.raises(DecodeError) as exc:
        decode(bundle(), strict=False)
    assert exc.value.code == "BAD_MAGIC"


@pytest.mark.parametrize("blob", [
    MAGIC + H("84 01 1802 8101 d840 41 05"),  # dtype
    MAGIC + H("84 1801 02 8101 d840 41 05"),  # version
    MAGIC + H("84 01 02 9801 1b0000000000000001 d840 5a00000001 05"),  # rank, dim, length
    MAGIC + H("84 01 02 8101 d90040 41 05"),  # data tag
    H("d9d9f7 da0000cb74 84 01 02 8101 d840 41 05"),  # document tag
], ids=["dtype", "version", "shape-and-length", "data-tag", "document-tag"])
def test_non_shortest_heads(blob) -> None:
    out = lenient_only(blob)
    assert out.dtype == np.uint8 and out.tolist() == [5]
    assert encode(out) == MAGIC + H("84 01 02 8101 d840 41 05")  # re-encoding is deterministic


@pytest.mark.parametrize("meta_hex,value", [
    ("fb3ff8000000000000", 1.5),
    ("fa3fc00000", 1.5),
    ("fb7ff0000000000000", float("inf")),
    ("1817", 23),
    ("780161", "a"),
])
def test_non_canonical_metadata_values(meta_hex, value) -> None:
    out = lenient_only(bundle("a1 6161" + meta_hex), "bundle")
    assert out.metadata == {"a": value}


@pytest.mark.parametrize("nan_hex", ["fa7fc00000", "f97e01", "f9fe00", "fb7ff8000000000001"])
def test_nan_payloads_in_metadata(nan_hex) -> None:
    out = lenient_only(bundle("a1 6161" + nan_hex), "bundle")
    value = out.metadata["a"]
    assert value != value
    assert encode_bundle({}, out.metadata) == bundle("a1 6161 f97e00")


def test_unsorted_keys_and_names() -> None:
    out = lenient_only(bundle("a2 6162 01 6161 02"), "bundle")
    assert out.metadata == {"a": 2, "b": 1}
    blob = bundle(entries=("85 6162 02 8101 05 01", "85 6161 02 8101 0a 01"), items=("81 d840 41 06", "81 d840 41 05"))
    out = lenient_only(blob, "bundle")
    assert {k: v.tolist() for k, v in out.items()} == {"a": [5], "b": [6]}
    assert encode_bundle(dict(out)) == encode_bundle({"a": np.array([5], np.uint8), "b": np.array([6], np.uint8)})


def test_any_bundle_padding_and_misaligned_items_are_copied() -> None:
    # A pad of 2 bytes (5 needed): B = 21, not a multiple of 8; the directory offsets follow the items.
    blob = BMAGIC + H("85 01 a0 81 85 6161 01 8101 05 04 42 0000 81 81 d855 44 0000803f")
    out = lenient_only(blob, "bundle")
    assert out["a"].tolist() == [1.0]
    assert out.info("a").offset == 26  # B + 5, misaligned for float32
    assert out["a"].base is None or not np.shares_memory(out["a"], np.frombuffer(blob, np.uint8))


@pytest.mark.parametrize("blob,kind,code", [
    (bundle("a2 6161 01 6161 02"), "bundle", "DUPLICATE_KEY"),
    (bundle("a3 6162 01 6161 02 6162 03"), "bundle", "DUPLICATE_KEY"),  # not adjacent
    (bundle(entries=("85 6161 02 8101 05 01", "85 6161 02 8101 0a 01"), items=("81 d840 41 05", "81 d840 41 06")),
     "bundle", "DUPLICATE_NAME"),
])
def test_duplicates_stay_errors(blob, kind, code) -> None:
    with pytest.raises(DecodeError) as exc:
        decode_bundle(blob, strict=False)
    assert exc.value.code == code


@pytest.mark.parametrize("blob,values", [
    (MAGIC + H("84 01 01 8101 d855 44 0000803f"), [1.0]),  # pad missing: misaligned view
    (MAGIC + H("85 01 01 8101 4107 d855 44 0000803f"), [1.0]),  # non-zero pad
    (MAGIC + H("85 01 01 8101 4500000000ff d855 44 0000803f"), [1.0]),  # overlong pad
    (MAGIC + H("85 01 02 8101 40 d840 41 05"), [5]),  # pad not needed
    (MAGIC + H("85 01 08 8101 40 81 6161"), ["a"]),  # pad on strings
], ids=["missing", "nonzero", "overlong", "unneeded", "string"])
def test_any_padding(blob, values) -> None:
    out = lenient_only(blob)
    assert out.tolist() == values
    assert not out.flags.writeable
    assert decode(encode(out)).tolist() == values


def test_misaligned_float64_view_has_the_right_values() -> None:
    arr = np.array([1.5, -2.25, np.pi])
    good = encode(arr)
    assert good[6] == 0x85 and good[11] == 0x40  # one pad byte: the item 40
    bad = good[:6] + b"\x84" + good[7:11] + good[12:]  # drop it: the elements start at an odd offset
    out = lenient_only(bad)
    assert out.tolist() == arr.tolist()
    # SPEC.md §7.3: never a misaligned view; the lenient decoder copies.
    assert out.flags.aligned and not np.shares_memory(out, np.frombuffer(bad, np.uint8))
    assert not out.flags.writeable


LENIENT_OK = {"NON_SHORTEST_HEAD", "BAD_PADDING", "UNSORTED_KEYS", "NON_CANONICAL_FLOAT"}


@given(invalid_blobs())
def test_other_tensor_errors_remain(case) -> None:
    blob, code = case
    if code in LENIENT_OK:
        out = decode(blob, strict=False)
        decode(encode(out))  # what the lenient decoder read re-encodes deterministically
    else:
        with pytest.raises(DecodeError) as exc:
            decode(blob, strict=False)
        assert exc.value.code == code


@given(invalid_blobs("bundle"))
def test_other_bundle_errors_remain(case) -> None:
    blob, code = case
    if code in LENIENT_OK:
        out = decode_bundle(blob, strict=False)
        decode_bundle(encode_bundle(dict(out), out.metadata))
    else:
        with pytest.raises(DecodeError) as exc:
            decode_bundle(blob, strict=False)
        assert exc.value.code == code


def test_indefinite_trailing_and_tags_stay_errors() -> None:
    cases = [
        (MAGIC + H("84 01 02 9f 01 ff d840 41 05"), "INDEFINITE_LENGTH"),
        (F32 + b"\x00", "TRAILING_BYTES"),
        (MAGIC + H("84 01 02 8101 d848 41 05"), "UNEXPECTED_TAG"),
        (MAGIC + H("84 01 02 8101 d840 42 0506"), "SHAPE_MISMATCH"),
        (MAGIC + H("84 01 09 8101 41 02"), "INVALID_ELEMENT"),
        (MAGIC + H("84 01 00 8101 d840 41 05"), "UNKNOWN_DTYPE"),
    ]
    for blob, code in cases:
        with pytest.raises(DecodeError) as exc:
            decode(blob, strict=False)
        assert exc.value.code == code
