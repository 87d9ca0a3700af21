"""Block-quantized dtypes (SPEC.md §4.6): BlockArray, the F2 shape rule, and dequantization against gguf-py."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tensorcbor import BY_NAME, BlockArray, DecodeError, EncodeError, decode, decode_bundle, encode, encode_bundle
from tensorcbor.blocks import BLOCK_DTYPES

RNG = np.random.default_rng(3)
MAGIC = bytes.fromhex("d9d9f7d9cb74")


def _raw(name: str, nblocks: int) -> bytes:
    return RNG.integers(0, 256, nblocks * BY_NAME[name].block[1], dtype=np.uint8).tobytes()


@pytest.mark.parametrize("name", BLOCK_DTYPES)
def test_round_trip_is_zero_copy_and_deterministic(name: str) -> None:
    b = BlockArray(name, (3, 64), _raw(name, 6))
    blob = encode(b)
    out = decode(blob)
    assert isinstance(out, BlockArray) and out == b and out.shape == (3, 64)
    assert not out.data.flags.writeable
    assert np.shares_memory(out.data, np.frombuffer(blob, np.uint8))
    offset = len(blob) - out.nbytes
    assert offset % BY_NAME[name].align == 0 and blob[offset:] == b.data.tobytes()
    assert encode(out) == blob
    copied = decode(blob, copy=True)
    assert isinstance(copied, BlockArray) and copied == b and not np.shares_memory(copied.data, b.data)


def test_wire_bytes_by_hand() -> None:
    # q8_0, shape [32]: d = 1.0 (3c00 little endian: 00 3c), codes 0..31
    block = bytes.fromhex("003c") + bytes(range(32))
    blob = encode(BlockArray("q8_0", (32,), block))
    # magic, [1, 161, [32], pad, data]: 161 = 18 a1; without the pad (40) the data would start at 15 (odd)
    assert blob == MAGIC + bytes.fromhex("8501 18a1 811820 40 5822") + block
    assert blob[-34:] == block and (len(blob) - 34) % 2 == 0
    assert decode(blob).dequantize().tolist() == [float(i) for i in range(32)]


@pytest.mark.parametrize(("shape", "why"), [((), "rank >= 1"), ((31,), "multiple of 32"), ((32, 16), "multiple")])
def test_shape_rule_on_decode_is_shape_mismatch_at_the_shape(shape: tuple[int, ...], why: str) -> None:
    from tensorcbor.cbor import head
    fields = b"\x01" + head(0, 162) + head(4, len(shape)) + b"".join(head(0, d) for d in shape)
    blob = MAGIC + bytes([0x84]) + fields + head(2, 18) + bytes(18)
    with pytest.raises(DecodeError, match=why) as exc:
        decode(blob)
    assert exc.value.code == "SHAPE_MISMATCH"
    assert exc.value.offset == len(MAGIC) + 1 + 1 + 2  # the shape's array head


def test_data_length_must_match() -> None:
    good = encode(BlockArray("q4_0", (2, 32), bytes(36)))
    bad = good.replace(bytes.fromhex("5824") + bytes(36), bytes.fromhex("5822") + bytes(34))
    with pytest.raises(DecodeError) as exc:
        decode(bad)
    assert exc.value.code in ("SHAPE_MISMATCH", "BAD_PADDING")


def test_zero_size_shapes() -> None:
    for shape in [(0,), (3, 0), (0, 32)]:
        b = BlockArray("mxfp4", shape, b"")
        out = decode(encode(b))
        assert out == b and out.dequantize().shape == shape


@pytest.mark.parametrize(("args", "match"), [
    (("float32", (32,), bytes(128)), "not a block dtype"),
    (("q8_0", (33,), bytes(34)), "multiple of 32"),
    (("q8_0", (), bytes(34)), "rank"),
    (("q8_0", (32,), bytes(33)), "needs 34 bytes"),
    (("q8_0", (32,), np.zeros(17, np.uint16)), "uint8"),
    (("q8_0", (-32,), b""), "negative"),
])
def test_constructor_validates(args: tuple, match: str) -> None:
    with pytest.raises(EncodeError, match=match):
        BlockArray(*args)


def test_block_tensors_in_bundles_and_compressed() -> None:
    tensors = {"a": BlockArray("q8_0", (2, 32), _raw("q8_0", 2)), "b": np.arange(3, dtype=np.float32),
               "c": BlockArray("mxfp4", (1, 96), _raw("mxfp4", 3))}
    bundle = decode_bundle(encode_bundle(tensors, {"k": 1}))
    assert bundle["a"] == tensors["a"] and bundle["c"] == tensors["c"]
    pytest.importorskip("zstandard")
    z = BlockArray("q4_0", (64, 32), bytes(18 * 64))
    blob = encode(z, compression="zstd", shuffle=True)
    assert len(blob) < z.nbytes
    assert decode(blob) == z


gguf = pytest.importorskip("gguf")


@pytest.mark.parametrize("name", ["q8_0", "q4_0"])
def test_dequantize_is_bit_exact_with_gguf_on_every_byte_pattern(name: str) -> None:
    raw = _raw(name, 4000)
    b = BlockArray(name, (125, 1024), raw)
    with np.errstate(invalid="ignore", over="ignore"):
        ref = gguf.quants.dequantize(np.frombuffer(raw, np.uint8).reshape(125, -1),
                                     gguf.GGMLQuantizationType[BY_NAME[name].gguf])
    assert np.array_equal(b.dequantize().view(np.uint32), ref.view(np.uint32))


def test_mxfp4_matches_gguf_except_the_two_documented_cases() -> None:
    raw = np.frombuffer(_raw("mxfp4", 4000), np.uint8).copy()
    b = BlockArray("mxfp4", (4000 * 32,), raw)
    with np.errstate(over="ignore"):
        ref = gguf.quants.dequantize(raw.reshape(1, -1), gguf.GGMLQuantizationType.MXFP4).reshape(-1)
    mine = b.dequantize()
    e = np.repeat(raw.reshape(-1, 17)[:, 0], 32)
    differ = mine.view(np.uint32) != ref.view(np.uint32)
    nan_scale = e == 0xFF
    assert np.isnan(mine[nan_scale]).all() and not np.isnan(ref[nan_scale]).any()
    rest = differ & ~nan_scale
    # float4 code 0b1000 is -0.0 (OCP MX); ggml's integer table gives +0.0
    assert (mine[rest] == 0).all() and np.signbit(mine[rest]).all() and not np.signbit(ref[rest]).any()
    assert rest.sum() > 0 and nan_scale.sum() > 0


def test_mxfp4_values_by_hand() -> None:
    # e = 127 (scale 1): nibbles 0..15 -> 0, .5, 1, 1.5, 2, 3, 4, 6, -0, -.5, ... ; element j+16 is the high nibble
    qs = bytes((j | ((15 - j) << 4)) for j in range(16))
    vals = BlockArray("mxfp4", (32,), bytes([127]) + qs).dequantize()
    fp4 = [0, .5, 1, 1.5, 2, 3, 4, 6, -0.0, -.5, -1, -1.5, -2, -3, -4, -6]
    assert vals[:16].tolist() == fp4 and vals[16:].tolist() == fp4[::-1]
    assert BlockArray("mxfp4", (32,), bytes([130]) + qs).dequantize()[7] == 48.0
    assert BlockArray("mxfp4", (32,), bytes([0]) + qs).dequantize()[1] == np.float32(2.0**-128)
    assert np.isposinf(BlockArray("mxfp4", (32,), bytes([254]) + qs).dequantize()[7])


@pytest.mark.parametrize("name", BLOCK_DTYPES)
def test_quantize_uses_gguf(name: str) -> None:
    x = RNG.standard_normal((4, 96)).astype(np.float32)
    b = BlockArray.quantize(x, name)
    ref = gguf.quants.quantize(x, gguf.GGMLQuantizationType[BY_NAME[name].gguf])
    assert b.shape == (4, 96) and b.data.tobytes() == ref.tobytes()
    assert np.max(np.abs(b.dequantize() - x)) < np.max(np.abs(x)) / 2
    with pytest.raises(EncodeError, match="multiple of 32"):
        BlockArray.quantize(np.zeros(40, np.float32), name)


def test_quantize_without_gguf_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(ImportError, match=r"tensorcbor\[gguf\]"):
        BlockArray.quantize(np.zeros(32, np.float32), "q8_0")


def test_table_agrees_with_gguf_py() -> None:
    """GGUF names, type numbers and block sizes of the dtype table are gguf-py's (GGMLQuantizationType, sizes)."""
    from tensorcbor.dtypes import GGUF_TYPE_NUMBERS, TABLE
    for d in TABLE:
        if d.gguf is None:
            continue
        q = gguf.GGMLQuantizationType[d.gguf]
        assert int(q) == GGUF_TYPE_NUMBERS[d.gguf]
        elems, nbytes = gguf.GGML_QUANT_SIZES[q]
        if d.block:
            assert d.block == (elems, nbytes)
        else:
            assert (elems, nbytes * 8) == (1, d.bits)


def test_block_tensors_through_a_chunked_stream() -> None:
    from tensorcbor import stream
    b = BlockArray("q8_0", (4, 64), _raw("q8_0", 8))
    doc = encode_bundle({"w": b, "x": np.arange(100, dtype=np.float32)})
    chunks = list(stream.chunks(doc, 256))
    assembler = stream.Assembler(stream.stream_digest(chunks[0]))
    got = [item for c in chunks for item in assembler.feed(c)]
    assembler.finish()
    assert [n for n, _ in got] == ["w", "x"] and got[0][1] == b
