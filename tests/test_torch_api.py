"""tensorcbor.torch, the safetensors-style API (issue 10). Needs torch from PyPI; skipped visibly without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tensorcbor
import tensorcbor.torch as tt
from tensorcbor import EncodeError

TORCH_MISSING = ("torch is not installed; to run these tests: pip install torch (scripts/test-all.sh installs it "
                 "and requires these tests; they are skipped only where the registry refused it)")


def test_without_torch_the_api_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['torch'] = None\n"
            "import tensorcbor.torch as t\n"
            "try:\n    t.load_file('x.tcb')\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install torch" in out


try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_MISSING)


@needs_torch
def test_save_file_load_file_like_safetensors(tmp_path: Path) -> None:
    sd = {"w": torch.randn(4, 3), "b": torch.arange(3, dtype=torch.int64), "e": torch.zeros(0, 5)}
    tt.save_file(sd, tmp_path / "m.tcb", metadata={"format": "pt"})
    back = tt.load_file(tmp_path / "m.tcb")
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)
    assert tensorcbor.load_file(tmp_path / "m.tcb").metadata == {"format": "pt"}
    assert back["w"].device.type == "cpu"
    back["w"] += 1  # writable views of a private mapping: the file is not changed
    assert torch.equal(tt.load_file(tmp_path / "m.tcb")["w"], sd["w"])
    blob = tt.save(sd)
    again = tt.load(blob)
    assert all(torch.equal(again[k], sd[k]) for k in sd)
    assert tt.load(blob, device="cpu")["b"].dtype == torch.int64


@needs_torch
@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                                  "float8_e5m2fnuz"])
def test_bfloat16_and_float8_directly(name: str, tmp_path: Path) -> None:
    dtype = getattr(torch, name, None)
    if dtype is None:
        pytest.skip(f"this torch has no {name}")
    t = torch.tensor([0.5, -1.0, 2.0, 0.0]).to(dtype)
    tt.save_file({"x": t}, tmp_path / "x.tcb")
    arr = tensorcbor.load_file(tmp_path / "x.tcb")["x"]
    assert arr.dtype == np.dtype(getattr(ml_dtypes, name))
    assert arr.view(np.uint8).tobytes() == t.view(torch.uint8).numpy().tobytes()
    back = tt.load_file(tmp_path / "x.tcb")["x"]
    assert back.dtype == dtype and torch.equal(back.view(torch.uint8), t.view(torch.uint8))


@needs_torch
def test_requires_grad_is_detached(tmp_path: Path) -> None:
    w = torch.nn.Linear(3, 2).weight
    assert w.requires_grad
    tt.save_file({"w": w}, tmp_path / "w.tcb")
    back = tt.load_file(tmp_path / "w.tcb")["w"]
    assert not back.requires_grad and torch.equal(back, w.detach())


@needs_torch
def test_shared_storage_is_refused_as_safetensors_does(tmp_path: Path) -> None:
    base = torch.randn(4, 4)
    with pytest.raises(EncodeError, match="share memory") as exc:
        tt.save_file({"emb": base, "lm_head": base}, tmp_path / "tied.tcb")
    assert "emb" in str(exc.value) and "lm_head" in str(exc.value)
    with pytest.raises(EncodeError, match="share memory"):
        tt.save({"a": base, "row": base[0]})
    assert not (tmp_path / "tied.tcb").exists()
    tt.save_file({"emb": base, "lm_head": base.clone()}, tmp_path / "ok.tcb")  # the documented fix
    e = torch.zeros(0)
    tt.save({"a": e, "b": e})  # zero-size tensors never count as shared


@needs_torch
def test_one_way_between_bundle_and_state_dict(tmp_path: Path) -> None:
    tensorcbor.save_file({"a": np.arange(4, dtype=np.float32),
                          "h": np.ones(2, ml_dtypes.bfloat16)}, tmp_path / "m.tcb")
    sd = tt.to_state_dict(tensorcbor.load_file(tmp_path / "m.tcb"))
    assert sd["a"].tolist() == [0, 1, 2, 3] and sd["h"].dtype == torch.bfloat16
    arrays = tt.from_state_dict(sd)
    assert arrays["h"].dtype == ml_dtypes.bfloat16
    assert tensorcbor.encode_bundle(arrays) == tensorcbor.encode_bundle(dict(tensorcbor.load_file(tmp_path / "m.tcb")))
    from tensorcbor.convert.torch import to_state_dict
    assert torch.equal(to_state_dict(tensorcbor.load_file(tmp_path / "m.tcb"))["a"], sd["a"])


@needs_torch
def test_pt_files_convert_from_the_command_line(tmp_path: Path) -> None:
    torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, tmp_path / "m.pt")
    from tensorcbor.cli import main
    assert main(["convert", str(tmp_path / "m.pt"), str(tmp_path / "m.tcb")]) == 0
    assert tensorcbor.load_file(tmp_path / "m.tcb")["w"].tolist() == [[0, 1, 2], [3, 4, 5]]


@needs_torch
def test_load_file_views_a_checked_private_mapping(tmp_path: Path) -> None:
    """As safetensors.torch.load_file: views of one copy-on-write file storage, each with a storage of its own (so
    saving them back is not refused as shared memory); the strict decoder checks the mapped bytes themselves."""
    sd = {"a": torch.randn(64, 64), "b": torch.randn(64).to(torch.bfloat16), "c": torch.tensor([True, False]),
          "i4": torch.arange(6, dtype=torch.int64)}
    path = tmp_path / "m.tcb"
    tt.save_file(sd, path, durable=False)
    back = tt.load_file(path)
    assert all(torch.equal(back[k], sd[k]) and back[k].dtype == sd[k].dtype for k in sd)
    ptrs = {back[k].untyped_storage().data_ptr() for k in ("a", "b", "i4")}
    assert len(ptrs) == 3
    tt.save_file(back, tmp_path / "again.tcb")  # not refused as shared storage
    assert (tmp_path / "again.tcb").read_bytes() == path.read_bytes()
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # the int64 data: still a valid document, so it loads with the changed value
    (tmp_path / "changed.tcb").write_bytes(bytes(raw))
    assert tt.load_file(tmp_path / "changed.tcb")["i4"][-1].item() != 5
    (tmp_path / "short.tcb").write_bytes(bytes(raw[:-1]))
    with pytest.raises(tensorcbor.DecodeError) as exc:
        tt.load_file(tmp_path / "short.tcb")
    assert exc.value.code in ("TRUNCATED", "SHAPE_MISMATCH")
    (tmp_path / "empty.tcb").write_bytes(b"")
    with pytest.raises(tensorcbor.DecodeError):
        tt.load_file(tmp_path / "empty.tcb")
