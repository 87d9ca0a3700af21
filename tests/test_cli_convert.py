"""``tensorcbor convert`` and ``tensorcbor inspect`` on real files of every format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import ml_dtypes
import msgpack_numpy
import numpy as np
import onnx
import pytest
from safetensors.numpy import save_file

from tensorcbor import decode, load_file
from tensorcbor.cli import main
from tensorcbor.cli.convert import ProgressBar

LIGHT = sorted((Path(onnx.__file__).parent / "backend" / "test" / "data" / "light").glob("*.onnx"))[0]


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    save_file({"emb": np.arange(24, dtype=np.float32).reshape(4, 6).astype(ml_dtypes.bfloat16),
               "bias": np.linspace(0, 1, 6, dtype=np.float32), "ids": np.arange(3, dtype=np.int64)},
              str(path), metadata={"format": "pt"})
    return path


def test_safetensors_to_tcb_and_back_is_byte_identical(weights: Path, tmp_path: Path) -> None:
    assert main(["convert", str(weights), str(tmp_path / "m.tcb")]) == 0
    bundle = load_file(tmp_path / "m.tcb")
    assert bundle.metadata == {"format": "pt"}  # native safetensors metadata <-> text entries
    assert bundle["emb"].dtype == ml_dtypes.bfloat16
    assert main(["convert", str(tmp_path / "m.tcb"), str(tmp_path / "back.safetensors")]) == 0
    assert (tmp_path / "back.safetensors").read_bytes() == weights.read_bytes()


def test_chain_through_every_bundle_format(weights: Path, tmp_path: Path) -> None:
    tcb = tmp_path / "a.tcb"
    main(["convert", str(weights), str(tcb)])
    main(["convert", str(tcb), str(tmp_path / "b.msgpack")])
    main(["convert", str(tmp_path / "b.msgpack"), str(tmp_path / "c.tcb")])
    main(["convert", str(tmp_path / "c.tcb"), str(tmp_path / "d.safetensors")])
    main(["convert", str(tmp_path / "d.safetensors"), str(tmp_path / "e.tcb")])
    # msgpack adds its layout record to the metadata; everything else is unchanged at every step
    assert (tmp_path / "e.tcb").read_bytes() == (tmp_path / "c.tcb").read_bytes()
    c = load_file(tmp_path / "c.tcb")
    assert c.metadata["format"] == "pt" and "msgpack" in c.metadata
    a = load_file(tcb)
    assert list(a) == list(c) and all(a[n].tobytes() == c[n].tobytes() and a[n].dtype == c[n].dtype for n in a)
    got = msgpack_numpy.unpackb((tmp_path / "b.msgpack").read_bytes())
    assert got["ids"].tolist() == [0, 1, 2]


def test_npy_and_single_tensor_documents(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(5, dtype=np.int16))
    assert main(["convert", str(tmp_path / "x.npy"), str(tmp_path / "x.tcb")]) == 0
    assert decode((tmp_path / "x.tcb").read_bytes()).tolist() == [0, 1, 2, 3, 4]
    assert main(["convert", str(tmp_path / "x.tcb"), str(tmp_path / "y.npy")]) == 0
    assert (tmp_path / "y.npy").read_bytes() == (tmp_path / "x.npy").read_bytes()


def test_onnx_model_round_trip_with_model_flag(tmp_path: Path) -> None:
    assert main(["convert", str(LIGHT), str(tmp_path / "w.tcb")]) == 0
    assert main(["convert", str(tmp_path / "w.tcb"), str(tmp_path / "out.onnx"), "--model", str(LIGHT)]) == 0
    assert onnx.load(str(tmp_path / "out.onnx")) == onnx.load(str(LIGHT))


def test_errors_exit_1_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.weird").write_bytes(b"x")
    assert main(["convert", str(tmp_path / "a.weird"), str(tmp_path / "b.tcb")]) == 1
    assert "--from" in capsys.readouterr().err
    (tmp_path / "bad.safetensors").write_bytes(b"\x01")
    assert main(["convert", str(tmp_path / "bad.safetensors"), str(tmp_path / "b.tcb")]) == 1
    assert "TRUNCATED" in capsys.readouterr().err
    assert not (tmp_path / "b.tcb").exists()
    np.save(tmp_path / "x.npy", np.ones(2))
    assert main(["convert", str(tmp_path / "x.npy"), str(tmp_path / "o.onnx")]) == 1
    assert "--model" in capsys.readouterr().err


def test_explicit_formats_and_progress_bar(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "weights.bin"
    assert main(["convert", str(weights), str(out), "--to", "tcb", "--progress"]) == 0
    assert "100%" in capsys.readouterr().err
    assert main(["convert", str(out), str(tmp_path / "w.st"), "--from", "tcb", "--to", "safetensors"]) == 0
    assert (tmp_path / "w.st").read_bytes() == weights.read_bytes()


def test_progress_bar_draws_and_finishes() -> None:
    buf = io.StringIO()
    bar = ProgressBar(200 << 20, "x", stream=buf)
    bar(100 << 20)
    assert "50% 100/200 MiB" in buf.getvalue()
    bar(100 << 20)
    bar.close()
    last = buf.getvalue().split("\r")[-1]
    assert "100% 200/200 MiB" in last and "#" * 30 in last and last.endswith(" MiB/s\n")


@pytest.mark.parametrize("kind", ["tcb", "safetensors", "onnx", "npy", "npz", "msgpack", "tensor"])
def test_inspect_every_format(kind: str, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = {"safetensors": weights, "onnx": LIGHT}
    if kind in ("tcb", "npz", "msgpack"):
        paths[kind] = tmp_path / f"w.{kind}"
        main(["convert", str(weights), str(paths[kind])]) if kind != "npz" else np.savez(
            paths[kind], a=np.ones((2, 3), np.float32), b=np.arange(4))
    elif kind in ("npy", "tensor"):
        np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
        paths[kind] = tmp_path / ("x.npy" if kind == "npy" else "x.tcb")
        if kind == "tensor":
            main(["convert", str(tmp_path / "x.npy"), str(paths[kind])])
    capsys.readouterr()
    assert main(["inspect", str(paths[kind]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tensors"] and report["total_bytes"] == sum(t["nbytes"] for t in report["tensors"])
    assert main(["inspect", str(paths[kind])]) == 0
    table = capsys.readouterr().out
    assert "name" in table and "tensor" in table
    if kind in ("tcb", "safetensors", "npy", "tensor"):  # formats with fixed data offsets: the offsets are right
        raw = Path(paths[kind]).read_bytes()
        for t in report["tensors"]:
            if t["dtype"] == "float32" and t["offset"] is not None:
                arr = np.frombuffer(raw, np.float32, int(np.prod(t["shape"])), t["offset"])
                assert arr.size == 0 or np.isfinite(arr).all()
    if kind == "safetensors":
        assert report["metadata"] == {"format": "pt"}
        bias = next(t for t in report["tensors"] if t["name"] == "bias")
        assert np.frombuffer(raw, np.float32, 6, bias["offset"]).tolist() == \
            np.linspace(0, 1, 6, dtype=np.float32).tolist()
