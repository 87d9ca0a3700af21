"""Fuzzing: any input either decodes or raises DecodeError (never another exception), and never hangs;
whatever decodes strictly re-encodes to exactly the same bytes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorcbor import DecodeError, EncodeError, decode, decode_bundle, encode, encode_bundle
from tensorcbor.testing import bundle_blobs, mutated_blobs, tensor_blobs

TENSOR_MAGIC = bytes.fromhex("d9d9f7d9cb74")
BUNDLE_MAGIC = bytes.fromhex("d9d9f7d9cb62")
HANG_SECONDS = 20  # a guard against infinite loops, not a speed requirement


@contextmanager
def no_hang() -> Iterator[None]:
    def on_alarm(signum, frame):
        raise AssertionError(f"decoding took more than {HANG_SECONDS} s: hang?")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check_tensor(blob: bytes) -> None:
    with no_hang():
        for strict in (True, False):
            try:
                arr = decode(blob, strict=strict)
            except DecodeError as exc:
                assert exc.code and (exc.offset is None or 0 <= exc.offset <= len(blob))
                continue
            if strict:
                assert encode(arr) == blob
            else:
                decode(encode(arr))  # re-encoding a lenient read gives a valid document
            if arr.dtype.kind != "T":
                np.asarray(arr).tobytes()  # the view is usable


def check_bundle(blob: bytes) -> None:
    with no_hang():
        for strict in (True, False):
            try:
                bundle = decode_bundle(blob, strict=strict)
            except DecodeError as exc:
                assert exc.code and (exc.offset is None or 0 <= exc.offset <= len(blob))
                continue
            again = encode_bundle(dict(bundle), bundle.metadata)
            if strict:
                assert again == blob
            else:
                decode_bundle(again)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_random_bytes(blob) -> None:
    check_tensor(blob)
    check_bundle(blob)


@settings(max_examples=300)
@given(st.binary(max_size=48))
def test_random_bytes_after_tensor_magic(tail) -> None:
    check_tensor(TENSOR_MAGIC + tail)
    check_tensor(TENSOR_MAGIC[3:] + tail)


@settings(max_examples=300)
@given(st.binary(max_size=48))
def test_random_bytes_after_bundle_magic(tail) -> None:
    check_bundle(BUNDLE_MAGIC + b"\x85\x01" + tail)
    check_bundle(BUNDLE_MAGIC + b"\x85\x01\xa0\x81\x85" + tail)  # inside a directory entry


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=24), st.sampled_from(range(1, 29)))
def test_random_tensor_fields(tail, code) -> None:
    # A valid prefix up to the dtype, then noise: reaches shape, padding and data parsing.
    check_tensor(TENSOR_MAGIC + bytes((0x84 + tail[0] % 2, 1)) + (bytes((code,)) if code < 24 else
                                                                    bytes((0x18, code))) + tail[1:])


@settings(max_examples=300)
@given(mutated_blobs())
def test_mutated_blobs(blob) -> None:
    check_tensor(blob)
    check_bundle(blob)


@settings(max_examples=100)
@given(tensor_blobs())
def test_valid_tensor_blobs_round_trip(blob) -> None:
    check_tensor(blob)
    assert encode(decode(blob)) == blob


@settings(max_examples=60)
@given(bundle_blobs())
def test_valid_bundle_blobs_round_trip(blob) -> None:
    check_bundle(blob)
    bundle = decode_bundle(blob)
    assert encode_bundle(dict(bundle), bundle.metadata) == blob


@pytest.mark.parametrize("blob", [
    TENSOR_MAGIC + bytes.fromhex("840108 9b7fffffffffffffff"),  # rank claims 2^63: bounded by input
    TENSOR_MAGIC + bytes.fromhex("840108 811b7fffffffffffffff 9b7fffffffffffffff"),  # 2^63-1 strings
    TENSOR_MAGIC + bytes.fromhex("840102 811b7fffffffffffffff d840 5b7fffffffffffffff"),  # huge data
    BUNDLE_MAGIC + bytes.fromhex("8501 bb7fffffffffffffff"),  # huge metadata map
    BUNDLE_MAGIC + bytes.fromhex("8501 a1 6161 9b7fffffffffffffff"),  # huge metadata array
    BUNDLE_MAGIC + bytes.fromhex("8501 a1 6161 7b7fffffffffffffff"),  # huge metadata text: METADATA_TOO_LARGE
    BUNDLE_MAGIC + bytes.fromhex("8501 a0 9b7fffffffffffffff"),  # huge directory
    BUNDLE_MAGIC + bytes.fromhex("8501 a0 81 85 6161 01 81 1a00100000 1b7fffffffffffffff 1b7fffffffffffffff"),
    BUNDLE_MAGIC + bytes.fromhex("8501 a0 80 5b7fffffffffffffff"),  # huge pad
    BUNDLE_MAGIC + bytes.fromhex("8501 a0 80 45 0000000000 9b7fffffffffffffff"),  # huge tensors array
])
def test_huge_claims_fail_fast(blob) -> None:
    with no_hang():
        with pytest.raises(DecodeError):
            (decode if blob.startswith(TENSOR_MAGIC) else decode_bundle)(blob)


def test_huge_dim_times_zero_is_valid() -> None:
    # SPEC.md §4.2: the non-zero dimensions may multiply up to 2^53 - 1, whatever else is zero.
    blob = encode(np.zeros((2**53 - 1, 0), np.complex128))
    assert decode(blob).shape == (2**53 - 1, 0)
    with pytest.raises(EncodeError):
        encode(np.zeros((2**53, 0), np.uint8))
