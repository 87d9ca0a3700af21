"""GGUF ⇄ bundle: synthetic files written by gguf-py's GGUFWriter convert to a bundle and back byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tensorcbor import BlockArray, DecodeError, EncodeError, decode_bundle, encode_bundle
from tensorcbor.convert import Tensors, read, write

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as Q  # noqa: E402

from tensorcbor.convert import gguf as conv  # noqa: E402

RNG = np.random.default_rng(7)


def _write_sample(path: Path, *, alignment: int | None = None) -> dict[str, Any]:
    """A GGUF file with every supported tensor type, every KV type and a rank-3 tensor."""
    w = gguf.GGUFWriter(str(path), "llama")
    if alignment is not None:
        w.add_custom_alignment(alignment)
    w.add_uint8("k.u8", 200)
    w.add_int8("k.i8", -5)
    w.add_uint16("k.u16", 65535)
    w.add_int16("k.i16", -300)
    w.add_uint32("k.u32", 4_000_000_000)
    w.add_int32("k.i32", -2_000_000_000)
    w.add_float32("k.f32", 0.1)
    w.add_bool("k.bool", True)
    w.add_string("k.str", "Grüße ✓")
    w.add_uint64("k.u64", 2**64 - 1)
    w.add_int64("k.i64", -(2**63))
    w.add_float64("k.f64", 1e300)
    w.add_array("k.arr_str", ["a", "", "é"])
    w.add_array("k.arr_int", [1, 2, 3])
    w.add_array("k.arr_f", [0.5, -1.25])
    x = (RNG.standard_normal((4, 64)) * 3).astype(np.float32)
    plain: dict[str, np.ndarray] = {
        "f32": RNG.standard_normal((2, 3, 5)).astype(np.float32),
        "f16": RNG.standard_normal((7,)).astype(np.float16),
        "f64": RNG.standard_normal((3, 2)),
        "i8": np.arange(-5, 5, dtype=np.int8),
        "i16": np.arange(6, dtype=np.int16).reshape(2, 3),
        "i32": np.arange(4, dtype=np.int32),
        "i64": np.array([-(2**63), 2**63 - 1], np.int64),
    }
    for name, arr in plain.items():
        w.add_tensor(name, arr)
    bf16 = RNG.standard_normal((3, 4)).astype(ml_dtypes.bfloat16)
    w.add_tensor("bf16", bf16.view(np.uint8), raw_shape=bf16.view(np.uint8).shape, raw_dtype=Q.BF16)
    blocks = {}
    for name, q in (("q8", Q.Q8_0), ("q4", Q.Q4_0), ("mx", Q.MXFP4)):
        raw = gguf.quants.quantize(x, q)
        w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=q)
        blocks[name] = (raw, q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"plain": plain, "bf16": bf16, "blocks": blocks, "x": x}


def test_read_every_type_and_round_trip_byte_identical(tmp_path: Path) -> None:
    src = tmp_path / "m.gguf"
    sample = _write_sample(src)
    t = read(src)
    for name, arr in sample["plain"].items():
        got = t.arrays[name]
        assert got.dtype == arr.dtype and got.shape == arr.shape and got.tobytes() == arr.tobytes(), name
    assert t.arrays["bf16"].dtype == ml_dtypes.bfloat16 and t.arrays["bf16"].tobytes() == sample["bf16"].tobytes()
    for name, (raw, q) in sample["blocks"].items():
        b = t.arrays[name]
        assert isinstance(b, BlockArray) and b.shape == (4, 64) and b.data.tobytes() == raw.tobytes()
        ref = gguf.quants.dequantize(raw, q)
        if q != Q.MXFP4:
            assert np.array_equal(b.dequantize().view(np.uint32), ref.view(np.uint32))
        else:  # SPEC §4.6: float4 code 0b1000 is -0.0 (ggml: +0.0); values are otherwise bit-identical
            assert np.array_equal(b.dequantize(), ref)
    kv = {k: (kind, v) for k, kind, v in t.metadata["gguf"]["kv"]}
    assert kv["k.u64"] == ("UINT64", 2**64 - 1) and kv["k.str"] == ("STRING", "Grüße ✓")
    assert kv["k.arr_str"] == ("ARRAY:STRING", ["a", "", "é"]) and kv["k.bool"] == ("BOOL", True)
    assert kv["general.architecture"] == ("STRING", "llama")
    # through a .tcb bundle and back: the same file
    tcb = tmp_path / "m.tcb"
    write(t, tcb)
    back = read(tcb)
    assert isinstance(back.arrays["q8"], BlockArray)
    out = tmp_path / "back.gguf"
    write(back, out)
    assert out.read_bytes() == src.read_bytes()


def test_custom_alignment_round_trips(tmp_path: Path) -> None:
    src = tmp_path / "a.gguf"
    _write_sample(src, alignment=64)
    out = tmp_path / "b.gguf"
    conv.save(conv.load(src), out)
    assert out.read_bytes() == src.read_bytes()


def test_dimension_order_is_reversed(tmp_path: Path) -> None:
    src = tmp_path / "d.gguf"
    w = gguf.GGUFWriter(str(src), "x")
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    w.add_tensor("t", arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    reader = gguf.GGUFReader(str(src))
    assert reader.tensors[0].shape.tolist() == [4, 3, 2]  # ne[0] innermost
    got = conv.load(src).arrays["t"]
    assert got.shape == (2, 3, 4) and np.array_equal(got, arr)


def test_unsupported_type_is_refused_by_name(tmp_path: Path) -> None:
    src = tmp_path / "k.gguf"
    w = gguf.GGUFWriter(str(src), "x")
    raw = np.zeros((1, 144), np.uint8)
    w.add_tensor("k", raw, raw_shape=raw.shape, raw_dtype=Q.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(DecodeError, match="Q4_K") as exc:
        conv.load(src)
    assert exc.value.code == "UNKNOWN_DTYPE"


def test_not_a_gguf_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 20)
    with pytest.raises(DecodeError):
        conv.load(bad)


def test_bundle_to_gguf_from_scratch(tmp_path: Path) -> None:
    b = BlockArray.quantize(RNG.standard_normal((2, 32)).astype(np.float32), "q4_0")
    t = Tensors({"w": b, "v": np.arange(3, dtype=np.float32)}, {"general.name": "demo", "n": 3})
    out = tmp_path / "s.gguf"
    conv.save(t, out)
    reader = gguf.GGUFReader(str(out))
    assert [x.name for x in reader.tensors] == ["w", "v"]
    assert reader.tensors[0].tensor_type == Q.Q4_0 and reader.tensors[0].shape.tolist() == [32, 2]
    assert bytes(reader.tensors[0].data.reshape(-1)) == b.data.tobytes()
    assert reader.fields["general.name"].contents() == "demo"
    again = conv.load(out)
    assert again.arrays["w"] == b


@pytest.mark.parametrize(("arr", "match"), [
    (np.zeros(3, np.uint8), "uint8"),
    (np.zeros((), np.float32), "rank 0"),
    (np.zeros((1,) * 5, np.float32), "rank 5"),
])
def test_write_refusals(tmp_path: Path, arr: np.ndarray, match: str) -> None:
    with pytest.raises(EncodeError, match=match):
        conv.save(Tensors({"t": arr}), tmp_path / "r.gguf")


def test_bundle_with_blocks_and_gguf_metadata_is_a_valid_bundle(tmp_path: Path) -> None:
    src = tmp_path / "m.gguf"
    _write_sample(src)
    t = conv.load(src)
    blob = encode_bundle(t.arrays, t.metadata)
    back = decode_bundle(blob)
    assert back["mx"] == t.arrays["mx"]
    assert back.metadata["gguf"]["tensors"] == list(t.arrays)


def test_cli_convert_gguf_to_tcb_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tensorcbor.cli import main
    src = tmp_path / "m.gguf"
    _write_sample(src)
    assert main(["convert", str(src), str(tmp_path / "m.tcb")]) == 0
    assert main(["convert", str(tmp_path / "m.tcb"), str(tmp_path / "back.gguf")]) == 0
    assert (tmp_path / "back.gguf").read_bytes() == src.read_bytes()
    # a block tensor has no safetensors form: a clear refusal, exit status 1
    assert main(["convert", str(src), str(tmp_path / "m.safetensors")]) == 1
    assert "q" in capsys.readouterr().err.lower()


def test_inspect_lists_block_tensors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tensorcbor.cli import main
    src = tmp_path / "m.gguf"
    _write_sample(src)
    assert main(["inspect", str(src)]) == 0
    out = capsys.readouterr().out
    assert "q8_0" in out and "[4, 64]" in out and "mxfp4" in out
    write(read(src), tmp_path / "m.tcb")
    assert main(["inspect", str(tmp_path / "m.tcb")]) == 0
    assert "q4_0" in capsys.readouterr().out
