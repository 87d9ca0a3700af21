"""The command line as a user meets it: real files through a subprocess, mistakes included (issue 10)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file as st_save_file

from tensorcbor import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def cli(*args: str | Path, cwd: Path | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tensorcbor", *map(str, args)], env=ENV, cwd=cwd,
                          capture_output=True, input=stdin, timeout=300)


def ok(*args: str | Path) -> str:
    done = cli(*args)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def fails(*args: str | Path, cwd: Path | None = None) -> str:
    """Run a command that must fail cleanly: exit status 1 or 2, one message, never a traceback."""
    done = cli(*args, cwd=cwd)
    err = done.stderr.decode()
    assert done.returncode in (1, 2), (done.returncode, err)
    assert "Traceback" not in err and err.strip(), err
    assert ".tmp" not in err and "tmp-" not in err, err  # temporary file names never show
    return err


# ------------------------------------------------------------------ zero-size tensors

def test_zero_size_tensors_through_every_format(tmp_path: Path) -> None:
    empty = np.zeros((0, 5), np.float32)
    np.save(tmp_path / "z.npy", empty)
    np.savez(tmp_path / "z.npz", a=empty, b=np.ones(2))
    st_save_file({"a": empty, "b": np.ones(2, np.float32)}, str(tmp_path / "z.safetensors"),
                 metadata={"format": "pt"})
    for src in ("z.npy", "z.npz", "z.safetensors"):
        ok("convert", tmp_path / src, tmp_path / f"{src}.tcb")
        bundle = load_file(tmp_path / f"{src}.tcb") if src != "z.npy" else None
        if bundle is not None:
            assert bundle["a"].shape == (0, 5) and bundle["a"].dtype == empty.dtype
    ok("convert", tmp_path / "z.npy.tcb", tmp_path / "back.npy")
    assert np.load(tmp_path / "back.npy").shape == (0, 5)
    ok("convert", tmp_path / "z.safetensors.tcb", tmp_path / "back.safetensors")
    assert (tmp_path / "back.safetensors").read_bytes() == (tmp_path / "z.safetensors").read_bytes()
    ok("convert", tmp_path / "z.npz.tcb", tmp_path / "back.npz")
    assert np.load(tmp_path / "back.npz")["a"].shape == (0, 5)


def test_onnx_model_with_an_empty_initializer(tmp_path: Path) -> None:
    init = numpy_helper.from_array(np.zeros((0, 5), np.float32), "empty")
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [init, w])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(model))
    ok("convert", model, tmp_path / "m.tcb")
    assert load_file(tmp_path / "m.tcb")["empty"].shape == (0, 5)
    ok("convert", tmp_path / "m.tcb", tmp_path / "back.onnx", "--model", model)
    back = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(tmp_path / "back.onnx")).graph.initializer}
    assert back["empty"].shape == (0, 5) and back["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    ok("convert", tmp_path / "m.tcb", tmp_path / "m.safetensors")  # the "onnx" record rides along as metadata


# ------------------------------------------------------------------ metadata

def test_safetensors_metadata_is_native_both_ways(tmp_path: Path) -> None:
    weights = {"emb": np.arange(12, dtype=np.float32).reshape(3, 4).astype(ml_dtypes.bfloat16),
               "b": np.ones(4, np.float32)}
    hf = tmp_path / "hf.safetensors"
    st_save_file(weights, str(hf), metadata={"format": "pt"})
    ok("convert", hf, tmp_path / "m.tcb")
    assert load_file(tmp_path / "m.tcb").metadata == {"format": "pt"}
    ok("convert", tmp_path / "m.tcb", tmp_path / "back.safetensors")
    assert (tmp_path / "back.safetensors").read_bytes() == hf.read_bytes()

    # a bundle written by tensorcbor: text values become native entries transformers reads, the rest round-trips
    meta = {"format": "pt", "step": 1200, "lr": 2.5e-4, "tags": ["a", "b"]}
    save_file(weights, tmp_path / "own.tcb", metadata=meta)
    ok("convert", tmp_path / "own.tcb", tmp_path / "own.safetensors")
    from safetensors import safe_open
    with safe_open(str(tmp_path / "own.safetensors"), framework="numpy") as f:
        native = f.metadata()
    assert native["format"] == "pt" and set(native) == {"format", "tensorcbor.metadata"}
    ok("convert", tmp_path / "own.safetensors", tmp_path / "own2.tcb")
    assert (tmp_path / "own2.tcb").read_bytes() == (tmp_path / "own.tcb").read_bytes()


def test_drop_metadata_and_help_says_what_each_format_keeps(tmp_path: Path) -> None:
    save_file({"a": np.ones(3, np.float32)}, tmp_path / "m.tcb", metadata={"format": "pt"})
    err = fails("convert", tmp_path / "m.tcb", tmp_path / "m.npz")
    assert "--drop-metadata" in err and "'format'" in err
    assert not (tmp_path / "m.npz").exists()
    ok("convert", tmp_path / "m.tcb", tmp_path / "m.npz", "--drop-metadata")
    assert np.load(tmp_path / "m.npz")["a"].tolist() == [1, 1, 1]
    text = ok("convert", "--help")
    for fmt in ("safetensors", "safetensors-index", "onnx", "msgpack", "npy", "npz", "torch", "tcb"):
        assert f"\n  {fmt} " in text
    assert "--drop-metadata" in text and "native __metadata__" in text


# ------------------------------------------------------------------ sharded checkpoints

def test_sharded_checkpoint_to_one_bundle_and_back(tmp_path: Path) -> None:
    hf = tmp_path / "hf"
    hf.mkdir()
    rng = np.random.default_rng(1)
    shards = {"model-00001-of-00002.safetensors": {"a.weight": rng.standard_normal((8, 4), np.float32),
                                                   "a.bias": rng.standard_normal(4, np.float32)},
              "model-00002-of-00002.safetensors": {"b.weight": rng.standard_normal((4, 4)).astype(
                  ml_dtypes.bfloat16)}}
    weight_map = {}
    for file, tensors in shards.items():
        st_save_file(tensors, str(hf / file), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, file))
    index = {"metadata": {"total_size": sum(a.nbytes for t in shards.values() for a in t.values())},
             "weight_map": dict(sorted(weight_map.items()))}
    (hf / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")

    ok("convert", hf / "model.safetensors.index.json", tmp_path / "model.tcb")
    bundle = load_file(tmp_path / "model.tcb")
    assert sorted(bundle) == ["a.bias", "a.weight", "b.weight"] and bundle.metadata["format"] == "pt"
    out = tmp_path / "out"
    out.mkdir()
    ok("convert", tmp_path / "model.tcb", out / "model.safetensors.index.json")
    for f in hf.iterdir():  # every shard and the index, byte for byte
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name

    # a plain bundle is split by --max-shard-size, named as transformers names shards
    save_file({f"l{i}": np.ones(1000, np.float32) for i in range(5)}, tmp_path / "plain.tcb")
    split = tmp_path / "split"
    split.mkdir()
    ok("convert", tmp_path / "plain.tcb", split / "w.safetensors.index.json", "--max-shard-size", "8KB")
    names = sorted(p.name for p in split.iterdir())
    assert names == [f"w-0000{i}-of-00003.safetensors" for i in (1, 2, 3)] + ["w.safetensors.index.json"]
    ok("convert", split / "w.safetensors.index.json", tmp_path / "again.tcb")
    resplit = tmp_path / "resplit"
    resplit.mkdir()  # an explicit shard size re-splits a bundle that recorded its shards
    ok("convert", tmp_path / "again.tcb", resplit / "w.safetensors.index.json", "--max-shard-size", "1MB")
    assert sorted(p.name for p in resplit.iterdir()) == ["w-00001-of-00001.safetensors", "w.safetensors.index.json"]
    again = load_file(tmp_path / "again.tcb")
    assert sorted(again) == [f"l{i}" for i in range(5)] and again["l4"].tolist() == [1.0] * 1000


def test_converting_a_finetuned_bundle_next_to_its_checkpoint_never_touches_the_original(tmp_path: Path) -> None:
    """Issue 17: a bundle that came from a sharded checkpoint, written as another index in the same folder, gets
    shards named after OUT; the original shards and index stay byte for byte, every written file is listed, and
    existing shards are replaced only with --force."""
    hf = tmp_path / "hf"
    hf.mkdir()
    rng = np.random.default_rng(2)
    weight_map = {}
    for file, names in {"model-00001-of-00002.safetensors": ["a.weight"],
                        "model-00002-of-00002.safetensors": ["b.weight"]}.items():
        st_save_file({n: rng.standard_normal((4, 4), np.float32) for n in names}, str(hf / file))
        weight_map.update(dict.fromkeys(names, file))
    (hf / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    original = {f.name: f.read_bytes() for f in hf.iterdir()}

    ok("convert", hf / "model.safetensors.index.json", hf / "model.tcb")
    model = load_file(hf / "model.tcb", copy=True)
    tuned = {n: np.asarray(model[n]) + 1 for n in model}
    save_file(tuned, hf / "finetuned.tcb", metadata=model.metadata)
    out = ok("convert", hf / "finetuned.tcb", hf / "finetuned.safetensors.index.json")

    new = ["finetuned-00001-of-00002.safetensors", "finetuned-00002-of-00002.safetensors",
           "finetuned.safetensors.index.json"]
    assert [line.split(" (")[0] for line in out.splitlines()] == [f"wrote {hf / n}" for n in new]
    for name, data in original.items():
        assert (hf / name).read_bytes() == data, f"{name} was changed"
    assert json.loads((hf / new[2]).read_text())["weight_map"] == {"a.weight": new[0], "b.weight": new[1]}
    ok("convert", hf / new[2], tmp_path / "back.tcb")
    back = load_file(tmp_path / "back.tcb")
    assert all(np.array_equal(back[n], tuned[n]) for n in tuned)

    before = {n: (hf / n).read_bytes() for n in new}
    assert "OUTPUT_EXISTS" in fails("convert", tmp_path / "back.tcb", hf / new[2])
    assert {n: (hf / n).read_bytes() for n in new} == before  # refused before anything was written
    ok("convert", tmp_path / "back.tcb", hf / new[2], "--force")


def test_index_cannot_point_outside_its_directory(tmp_path: Path) -> None:
    st_save_file({"a": np.ones(2, np.float32)}, str(tmp_path / "x.safetensors"))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "m.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../x.safetensors"}}))
    assert "MALFORMED" in fails("convert", sub / "m.safetensors.index.json", tmp_path / "o.tcb")


# ------------------------------------------------------------------ lying extensions, stdout, progress

def test_a_tcb_named_npy_is_diagnosed_from_its_magic_bytes(tmp_path: Path) -> None:
    save_file({"a": np.ones(3, np.float32)}, tmp_path / "weights.npy")
    err = fails("convert", tmp_path / "weights.npy", tmp_path / "o.safetensors")
    assert "tensorcbor" in err and "--from tcb" in err and "pickle" not in err
    ok("convert", tmp_path / "weights.npy", tmp_path / "o.safetensors", "--from", "tcb")


def test_convert_to_dash_writes_stdout_not_a_file(tmp_path: Path) -> None:
    save_file({"a": np.ones(3, np.float32)}, tmp_path / "m.tcb", metadata={"format": "pt"})
    done = cli("convert", tmp_path / "m.tcb", "-", "--to", "safetensors", cwd=tmp_path)
    assert done.returncode == 0 and not (tmp_path / "-").exists()
    ok("convert", tmp_path / "m.tcb", tmp_path / "f.safetensors")
    assert done.stdout == (tmp_path / "f.safetensors").read_bytes()
    assert "--to" in fails("convert", tmp_path / "m.tcb", "-", cwd=tmp_path)
    assert not (tmp_path / "-").exists()


def _run_on_a_terminal(args: list[str]) -> str:
    """Run the CLI with stderr on a pseudo-terminal and return what it drew there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tensorcbor", *args], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0, out
    return out.decode(errors="replace")


def test_chunk_and_join_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    save_file({"w": np.arange(300_000, dtype=np.float32)}, tmp_path / "m.tcb")
    drawn = _run_on_a_terminal(["chunk", str(tmp_path / "m.tcb"), str(tmp_path / "c1"), "--max-size", "200000"])
    assert "chunking [" in drawn and "100%" in drawn
    digest = ok("chunk", tmp_path / "m.tcb", tmp_path / "c2", "--max-size", "200000")
    assert "\r" not in digest and "[" not in digest  # a pipe gets the plain summary line only
    assert "joining [" in _run_on_a_terminal(["join", str(tmp_path / "c1"), str(tmp_path / "j1.tcb")])
    piped = cli("join", tmp_path / "c2", tmp_path / "j2.tcb")
    assert piped.returncode == 0 and b"\r" not in piped.stderr + piped.stdout
    assert (tmp_path / "j2.tcb").read_bytes() == (tmp_path / "m.tcb").read_bytes()


# ------------------------------------------------------------------ errors a person can act on

def test_digest_must_be_64_hex_digits_and_join_help_names_its_input(tmp_path: Path) -> None:
    save_file({"w": np.ones(10, np.float32)}, tmp_path / "m.tcb")
    ok("chunk", tmp_path / "m.tcb", tmp_path / "c")
    for bad in ("abc", "zz" * 32, "0" * 63):
        assert "64 hexadecimal digits" in fails("join", tmp_path / "c", tmp_path / "o.tcb", "--digest", bad)
    assert "STREAM_DIGEST_MISMATCH" in fails("join", tmp_path / "c", tmp_path / "o.tcb", "--digest", "0" * 64)
    usage = ok("join", "--help")
    assert "CHUNKDIR" in usage and "OUTDIR" not in usage


def test_join_errors_name_the_output_not_a_temporary_file(tmp_path: Path) -> None:
    from tensorcbor.stream import chunks
    save_file({"w": np.ones(10, np.bool_)}, tmp_path / "m.tcb")
    blob = bytearray((tmp_path / "m.tcb").read_bytes())
    blob[-1] = 2  # a bool byte other than 0/1: not a valid document, but the stream over it is consistent
    (tmp_path / "c").mkdir()
    for i, chunk in enumerate(chunks(bytes(blob))):
        (tmp_path / "c" / f"chunk-{i:06d}.cbor").write_bytes(chunk)
    err = fails("join", tmp_path / "c", tmp_path / "out.tcb")
    assert "out.tcb" in err and "INVALID_ELEMENT" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "m.tcb"]  # no output, no temporary file left


def test_input_errors_never_show_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00[[[[[")
    assert "MALFORMED" in fails("convert", tmp_path / "junk.safetensors", tmp_path / "o.tcb")
    assert "No such file" in fails("convert", tmp_path / "missing.npy", tmp_path / "o.tcb")
    assert "cannot tell the format" in fails("convert", tmp_path / "junk.safetensors", tmp_path / "o.weird")
    save_file({"a": np.ones(2, np.float32)}, tmp_path / "m.tcb")
    err = fails("convert", tmp_path / "m.tcb", tmp_path / "no-such-dir" / "o.safetensors")
    assert "no-such-dir" in err  # the directory it could not write in; the temporary file's name never shows
    assert "no vector 'nope'" in fails("conformance", "check", "nope", tmp_path / "x.hex")
    assert "no vector 'nope'" in fails("conformance", "run", "--id", "nope")


def test_missing_optional_dependency_prints_the_zsh_safe_pip_command(tmp_path: Path) -> None:
    (tmp_path / "m.safetensors").write_bytes(b"")
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "msgpack.py").write_text("raise ImportError('No module named msgpack')\n")
    save_file({"a": np.ones(2, np.float32)}, tmp_path / "m.tcb")
    env = {**ENV, "PYTHONPATH": f"{blocker}{os.pathsep}{ENV['PYTHONPATH']}"}
    done = subprocess.run([sys.executable, "-m", "tensorcbor", "convert", str(tmp_path / "m.tcb"),
                           str(tmp_path / "m.msgpack")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'tensorcbor[msgpack]'" in done.stderr


def test_broken_pipe_exits_quietly() -> None:
    done = subprocess.run(f"{sys.executable} -m tensorcbor conformance list | head -n 1", shell=True, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1 and done.stderr == "", done.stderr


def test_an_impl_that_cannot_start_stops_the_run_at_once(tmp_path: Path) -> None:
    for extra in ([], ["--batch"]):
        err = fails("conformance", "run", "--impl", str(tmp_path / "no-such-program"), *extra)
        assert "cannot start" in err and err.count("\n") == 1 and "FAIL" not in err
    done = cli("conformance", "run", "--impl", "false", "--batch")
    assert done.returncode == 2 and b"before answering anything" in done.stderr and b"FAIL" not in done.stdout


def test_decode_of_a_path_or_a_numpy_array_says_what_to_pass() -> None:
    import tensorcbor
    with pytest.raises(TypeError, match=r"load_file\('w.tcb'\)"):
        tensorcbor.decode("w.tcb")
    with pytest.raises(TypeError, match="read_bytes"):
        tensorcbor.decode(Path("w.tcb"))
    blob = tensorcbor.encode(np.arange(3, dtype=np.float32))
    with pytest.raises(TypeError, match=r"memoryview\(arr\)"):
        tensorcbor.decode(np.frombuffer(blob, np.uint8))
    assert tensorcbor.decode(memoryview(np.frombuffer(blob, np.uint8))).tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="tensorcbor.encode"):
        tensorcbor.decode(np.ones(3))


def test_bundle_is_a_context_manager(tmp_path: Path) -> None:
    save_file({"a": np.arange(3.0)}, tmp_path / "m.tcb")
    with load_file(tmp_path / "m.tcb") as bundle:
        kept = bundle["a"]
    assert kept.tolist() == [0, 1, 2]  # a view handed out stays valid: it keeps the mapping alive
    with load_file(tmp_path / "m.tcb") as bundle:
        assert len(bundle) == 1
    assert bundle._source.closed  # nothing held it: the mapping is closed on leaving the block
