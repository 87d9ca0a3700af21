"""Compressed tensor data, the Extended profile (SPEC.md §11)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorcbor
from tensorcbor import compression, stream
from tensorcbor.cbor import head
from tensorcbor.errors import DecodeError, EncodeError
from tensorcbor.tensor import TENSOR_MAGIC

WEIGHTS = (np.sin(np.arange(4096, dtype=np.float32) / 7) * 0.05).astype(np.float32).reshape(64, 64)
DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.float64, np.int32, np.uint8, np.int64, np.complex64,
          np.complex128, np.bool_, ml_dtypes.int4, ml_dtypes.float8_e4m3fn, ml_dtypes.float6_e2m3fn, np.uint16]


def compressible(dtype: type, n: int = 600) -> np.ndarray:
    base = np.arange(n) % 5
    if np.dtype(dtype).kind == "c":
        return (base + 1j * base).astype(dtype)
    return base.astype(dtype)


def code_of(blob: bytes, **kwargs: int) -> str:
    with pytest.raises(DecodeError) as info:
        tensorcbor.decode(blob, **kwargs)
    return info.value.code


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shuffle", [False, True])
def test_round_trip(dtype: type, shuffle: bool) -> None:
    arr = compressible(dtype).reshape(20, 30)
    blob = tensorcbor.encode(arr, compression="zstd", shuffle=shuffle)
    assert blob[:6] == TENSOR_MAGIC
    assert head(6, compression.COMPRESSED_TAG) in blob
    assert len(blob) < len(tensorcbor.encode(arr))
    out = tensorcbor.decode(blob)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    assert np.array_equal(out.view(np.uint8), arr.view(np.uint8))
    # the canonical form is the Core encoding, whatever the compression
    assert tensorcbor.encode(out) == tensorcbor.encode(arr)
    copy = tensorcbor.decode(blob, copy=True)
    assert copy.flags.writeable and np.array_equal(copy, out)


def test_shuffle_is_recorded_and_inverts() -> None:
    plain = tensorcbor.encode(WEIGHTS, compression="zstd")
    shuffled = tensorcbor.encode(WEIGHTS, compression="zstd", shuffle=True)
    assert plain != shuffled
    assert np.array_equal(tensorcbor.decode(shuffled), WEIGHTS)
    raw = np.arange(24, dtype=np.uint8)
    assert compression.shuffle(raw, 4).tolist()[:6] == [0, 4, 8, 12, 16, 20]
    assert np.array_equal(compression.unshuffle(compression.shuffle(raw, 8), 8), raw)


def test_shuffle_is_ignored_for_one_byte_types() -> None:
    arr = compressible(np.uint8)
    assert tensorcbor.encode(arr, compression="zstd", shuffle=True) == tensorcbor.encode(arr, compression="zstd")


def test_core_form_kept_when_compression_does_not_pay() -> None:
    noise = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)
    for arr in (noise, np.zeros((0, 4), np.float32), np.array(["a", "b"], dtype=np.dtypes.StringDType()),
                np.array([1.5], np.float32)):
        assert tensorcbor.encode(arr, compression="zstd", shuffle=True) == tensorcbor.encode(arr)


def test_deterministic_parameters() -> None:
    blob = tensorcbor.encode(WEIGHTS, compression="zstd", shuffle=True)
    assert blob == tensorcbor.encode(WEIGHTS.copy(), compression="zstd", shuffle=True)
    start = blob.index(head(6, compression.COMPRESSED_TAG))
    frame = blob[start + 3 + 1 + 1 + 1 + 3 + 3:]
    params = zstandard.get_frame_parameters(frame)
    assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert not params.has_checksum and params.dict_id == 0
    assert params.window_size <= 1 << 21


def test_bundle_and_stream() -> None:
    tensors = {"w": WEIGHTS, "b": compressible(np.float16, 64), "names": np.array(["x"], np.dtypes.StringDType()),
               "mask": compressible(np.bool_, 100) > 0}
    blob = tensorcbor.encode_bundle(tensors, {"k": 1}, compression="zstd", shuffle=True)
    assert len(blob) < len(tensorcbor.encode_bundle(tensors, {"k": 1}))
    back = tensorcbor.decode_bundle(blob)
    assert back.metadata == {"k": 1}
    for name, arr in tensors.items():
        assert np.array_equal(back[name], arr)
    assert tensorcbor.encode_bundle(dict(back), back.metadata) == tensorcbor.encode_bundle(tensors, {"k": 1})
    # a compressed bundle streams like any document; the Assembler decompresses
    chunks = list(stream.chunks(blob, 1024))
    got = dict(stream.assemble(chunks, stream.stream_digest(chunks[0])))
    for name, arr in tensors.items():
        assert np.array_equal(got[name], arr)
    # and chunks() can compress a mapping itself
    assert list(stream.chunks(tensors, 1024, metadata={"k": 1}, compression="zstd", shuffle=True)) == chunks


def test_load_file_decompresses_on_access(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.tcb"
    path.write_bytes(tensorcbor.encode_bundle({"w": WEIGHTS}, compression="zstd"))
    assert np.array_equal(tensorcbor.load_file(path)["w"], WEIGHTS)


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(DTYPES), n=st.integers(0, 300), shuffle=st.booleans(), seed=st.integers(0, 3))
def test_any_tensor_round_trips(dtype: type, n: int, shuffle: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    arr = (rng.integers(0, 3, n) if np.dtype(dtype).kind != "b" else rng.integers(0, 2, n)).astype(dtype)
    blob = tensorcbor.encode(arr, compression="zstd", shuffle=shuffle)
    assert np.array_equal(tensorcbor.decode(blob).view(np.uint8), arr.view(np.uint8))


# ------------------------------------------------------------------ Core-only decoders and encoder errors

def test_core_only_decoder_rejects_with_its_own_code(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = tensorcbor.encode(WEIGHTS, compression="zstd")
    monkeypatch.setattr(compression, "_zstd", None)
    assert not compression.available()
    assert code_of(blob) == "UNSUPPORTED_COMPRESSION"
    with pytest.raises(EncodeError):
        tensorcbor.encode(WEIGHTS, compression="zstd")


def test_unknown_compression_name() -> None:
    with pytest.raises(EncodeError):
        tensorcbor.encode(WEIGHTS, compression="lz4")


# ------------------------------------------------------------------ invalid compressed items

def doc(item: bytes, dtype: int = 1, shape: tuple[int, ...] = (4,), pad: bytes = b"") -> bytes:
    """A tensor document with the given raw data item (and optional padding item)."""
    nfields = 5 if pad else 4
    fields = b"\x01" + head(0, dtype) + head(4, len(shape)) + b"".join(head(0, d) for d in shape)
    return TENSOR_MAGIC + bytes((0x80 | nfields,)) + fields + pad + item


def citem(frame: bytes, length: int = 16, codec: int = 1, filt: int = 0) -> bytes:
    return (head(6, 52090) + b"\x84" + head(0, codec) + head(0, filt) + head(0, length)
            + head(2, len(frame)) + frame)


FRAME = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(16))


def test_hand_built_valid_item() -> None:
    assert tensorcbor.decode(doc(citem(FRAME))).tolist() == [0.0] * 4
    with_size = zstandard.ZstdCompressor().compress(bytes(16))  # a content size that agrees is fine
    assert tensorcbor.decode(doc(citem(with_size))).tolist() == [0.0] * 4
    two_frames = zstandard.ZstdCompressor().compress(bytes(8)) * 2  # several frames: accepted
    assert tensorcbor.decode(doc(citem(two_frames))).tolist() == [0.0] * 4


@pytest.mark.parametrize("blob,code", [
    (doc(citem(FRAME), pad=b"\x40"), "INVALID_COMPRESSION"),
    (doc(head(6, 52090) + b"\x83\x01\x00\x10"), "INVALID_COMPRESSION"),
    (doc(head(6, 52090) + b"\x40"), "INVALID_COMPRESSION"),
    (doc(citem(FRAME, codec=2)), "UNSUPPORTED_COMPRESSION"),
    (doc(citem(FRAME, filt=2)), "UNSUPPORTED_COMPRESSION"),
    (doc(citem(FRAME, filt=1), dtype=2, shape=(16,)), "INVALID_COMPRESSION"),
    (doc(citem(FRAME, length=15)), "SHAPE_MISMATCH"),
    (doc(head(6, 52090) + b"\x84\x01\x00\x10\x61x"), "INVALID_COMPRESSION"),
    (doc(head(6, 52090) + b"\x84\x20\x00\x10\x40"), "INVALID_COMPRESSION"),
    (doc(citem(FRAME))[:-2], "TRUNCATED"),
    (doc(citem(b"\x28\xb5\x2f\xfd" + bytes(8))), "INVALID_COMPRESSION"),
    (doc(citem(b"not zstd at all")), "INVALID_COMPRESSION"),
    (doc(citem(FRAME[:-3])), "INVALID_COMPRESSION"),
    (doc(citem(zstandard.ZstdCompressor().compress(bytes(20)))), "DECOMPRESSED_SIZE_MISMATCH"),
    (doc(citem(zstandard.ZstdCompressor(write_content_size=False).compress(bytes(12)))),
     "DECOMPRESSED_SIZE_MISMATCH"),
    (doc(citem(FRAME), dtype=8, shape=(1,)), "UNEXPECTED_TAG"),  # never for strings
    (doc(citem(zstandard.ZstdCompressor(write_content_size=False).compress(b"\x02" * 4)), dtype=9,
         shape=(4,)).replace(b"\x84\x01\x00\x10", b"\x84\x01\x00\x04"), "INVALID_ELEMENT"),
])
def test_invalid_items(blob: bytes, code: str) -> None:
    assert code_of(blob) == code


def test_core_only_code_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "_zstd", None)
    assert code_of(doc(citem(FRAME, codec=7), pad=b"\x40")) == "UNSUPPORTED_COMPRESSION"


def test_window_limit() -> None:
    """A valid frame whose header asks for a 16 MiB window (one raw block of 16 zero bytes)."""
    window_16mib = bytes((14 << 3,))  # Window_Descriptor: exponent 14 -> 2^(10+14) bytes
    raw_block = ((16 << 3) | 1).to_bytes(3, "little") + bytes(16)  # last block, raw, 16 bytes
    frame = b"\x28\xb5\x2f\xfd" + b"\x00" + window_16mib + raw_block
    assert zstandard.ZstdDecompressor(max_window_size=1 << 25).stream_reader(frame).read() == bytes(16)
    assert zstandard.get_frame_parameters(frame).window_size > compression.MAX_WINDOW
    assert code_of(doc(citem(frame))) == "INVALID_COMPRESSION"


def test_zip_bomb_fails_fast() -> None:
    """64 MiB of zeros declared as a 16-byte tensor: rejected after at most 17 bytes of output."""
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(64 << 20))
    assert len(bomb) < 8192
    blob = doc(citem(bomb))
    assert code_of(blob) == "DECOMPRESSED_SIZE_MISMATCH"
    out = compression._decompress(memoryview(zstandard.ZstdCompressor().compress(bytes(1000))), 1000, 0)
    assert len(out) == 1000


def test_large_claimed_length_is_not_allocated() -> None:
    """A shape claiming 2^40 float32 elements with a tiny frame: fails without reserving 4 TiB."""
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(100))
    blob = doc(citem(frame, length=4 << 40), shape=(1 << 40,))
    assert code_of(blob, max_decompressed=8 << 40) == "DECOMPRESSED_SIZE_MISMATCH"
    assert code_of(blob) == "DECOMPRESSION_LIMIT"  # the default limit (1 GiB) stops it first
