"""Regression tests of issue #9: memory safety of views, the decompression limit, and safe file handling."""

from __future__ import annotations

import gc
import mmap
import os
import stat
import sys
import threading
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorcbor
from tensorcbor import DecodeError, decode, decode_bundle, encode, encode_bundle, load_file, save_file
from tensorcbor.errors import FILE_CODES, FileError

zstandard = pytest.importorskip("zstandard")


# ------------------------------------------------------------------ views pin their buffer

def _inputs(blob: bytes) -> dict[str, Any]:
    m = mmap.mmap(-1, len(blob))
    m.write(blob)
    return {"bytearray": bytearray(blob), "memoryview": memoryview(bytearray(blob)), "mmap": m,
            "numpy": np.frombuffer(blob, np.uint8).copy()}  # passed as memoryview(arr): decode(arr) explains that


@pytest.mark.parametrize("arr", [np.full(1000, 7, np.float32), np.arange(3, dtype=np.float64),  # 3 pad bytes
                                 np.arange(6, dtype=np.int16).reshape(2, 3)], ids=["f32", "f64-padded", "i16"])
@pytest.mark.parametrize("strict", [True, False])
def test_a_view_of_a_bytearray_forbids_resizing_it(arr: np.ndarray, strict: bool) -> None:
    b = bytearray(encode(arr))
    a = decode(b, strict=strict)
    with pytest.raises(BufferError):
        b.clear()  # before the fix: allowed, and a.sum() read freed memory (segfault)
    with pytest.raises(BufferError):
        b.extend(bytes(10 ** 6))
    assert np.array_equal(a, arr)
    del a
    gc.collect()
    b.clear()  # once the view is gone the bytearray is the caller's again


def test_the_issue_reproducer_no_longer_reads_freed_memory() -> None:
    b = bytearray(encode(np.full(10 ** 6, 7, np.float32)))
    a = decode(b)
    with pytest.raises(BufferError):
        b.clear()
    assert float(a.sum()) == 7.0 * 10 ** 6


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "mmap", "numpy"])
def test_every_input_type_is_pinned_and_read_only(kind: str) -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = _inputs(encode(arr))[kind]
    a = decode(memoryview(data) if kind == "numpy" else data)
    assert np.array_equal(a, arr) and not a.flags.writeable
    with pytest.raises(ValueError):
        a.flags.writeable = True  # read-only for good, even over a mutable buffer
    if kind == "mmap":
        with pytest.raises(BufferError):
            data.close()
    elif kind == "bytearray":
        with pytest.raises(BufferError):
            data.clear()
    if kind in ("bytearray", "numpy"):  # copy=False over a mutable buffer: later writes show through
        new = np.float32(99).tobytes()
        data[-4:] = np.frombuffer(new, np.uint8) if kind == "numpy" else new
        assert a[2, 3] == 99
        assert decode(bytes(data), copy=True)[2, 3] == 99


def test_bundle_arrays_pin_their_buffer() -> None:
    b = bytearray(encode_bundle({"w": np.ones(100, np.float32), "b": np.zeros(3, np.float64)}, {"k": 1}))
    bundle = decode_bundle(b)
    w = bundle["w"]
    del bundle
    gc.collect()
    with pytest.raises(BufferError):
        b.clear()
    assert float(w.sum()) == 100.0
    with pytest.raises(ValueError):
        w.flags.writeable = True


def test_load_file_arrays_keep_the_map_alive(tmp_path: Path) -> None:
    path = tmp_path / "m.tcb"
    save_file({"w": np.arange(1000, dtype=np.float32)}, path)
    w = load_file(path)["w"]
    gc.collect()
    assert float(w.sum()) == float(np.arange(1000).sum())


# ------------------------------------------------------------------ decompression limit

def _compressed_doc(shape: tuple[int, ...], frame: bytes, dtype_code: int = 1) -> bytes:
    from tensorcbor.cbor import head
    length = 4 * int(np.prod(shape)) if dtype_code == 1 else int(np.prod(shape))
    item = (head(6, 52090) + b"\x84\x01\x00" + head(0, length) + head(2, len(frame)) + frame)
    return (bytes.fromhex("d9d9f7d9cb74") + b"\x84\x01" + head(0, dtype_code) + head(4, len(shape))
            + b"".join(head(0, d) for d in shape) + item)


def _rejected_with_peak(fn: Callable[[], object]) -> tuple[DecodeError, int]:
    """The DecodeError `fn` raises and the peak of Python allocations (tracemalloc) while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError) as exc:
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return exc.value, peak


def test_a_131_kb_document_claiming_4_gib_fails_fast_with_the_limit() -> None:
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(32 << 20))  # a real bomb's start
    blob = _compressed_doc((1 << 30,), frame)  # 4 GiB of float32
    assert len(blob) < 131_000
    error, peak = _rejected_with_peak(lambda: decode(blob))
    assert error.code == "DECOMPRESSION_LIMIT"
    assert error.offset == blob.index(b"\x1b\x00\x00\x00\x01\x00\x00\x00\x00")  # at C5, the length field
    assert peak < 8 << 20


def _bomb_bundle(n: int = 8, each: int = 256 << 20) -> bytes:
    """A small bundle of n compressed uint8 tensors that each declare `each` bytes (each under the limit).

    Built by hand in the 1.0 layout (SPEC.md §5.2): 7-element directory entries, the pad, then the items.
    """
    from tensorcbor.bundle import data_position
    from tensorcbor.cbor import encode_text, head
    from tensorcbor.dtypes import BY_CODE
    from tensorcbor.tensor import BUNDLE_MAGIC, COMPRESSED_TAG
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(1 << 20))
    item = b"\x81" + head(6, COMPRESSED_TAG) + b"\x84\x01\x00" + head(0, each) + head(2, len(frame)) + frame
    pos = len(head(4, n))  # relative to B: the tensors array head comes first
    entries, items = [], []
    for name in sorted(f"t{i}" for i in range(n)):
        offset = data_position(pos, BY_CODE[2], len(frame), (1, 0), each)
        entries.append(b"\x87" + encode_text(name) + b"\x02\x81" + head(0, each) + head(0, offset)
                       + head(0, len(frame)) + b"\x01\x00")
        items.append(item)
        pos = offset + len(frame)
    prefix = BUNDLE_MAGIC + b"\x85\x01\xa0" + head(4, n) + b"".join(entries)
    k = (-(len(prefix) + 1)) % 8
    return prefix + bytes((0x40 | k,)) + bytes(k) + head(4, n) + b"".join(items)


def test_a_bundle_of_many_large_claims_fails_before_decompressing(tmp_path: Path) -> None:
    blob = _bomb_bundle()
    assert len(blob) < 420_000
    with pytest.raises(DecodeError) as exc:  # lazy: every item's C5 runs before anything is decompressed
        tensorcbor.bundle.parse_bundle(blob)
    assert exc.value.code == "DECOMPRESSION_LIMIT"
    # decode_bundle checks each tensor's elements right after its item (SPEC.md §7.1, element checks before the
    # next item), so it decompresses tensor 0 first: its frame falls short of the 256 MiB it declares, and
    # decoding stops there with at most that one tensor's output ever allocated.
    error, peak = _rejected_with_peak(lambda: decode_bundle(blob))
    assert error.code == "DECOMPRESSED_SIZE_MISMATCH" and peak < 64 << 20
    path = tmp_path / "bomb.tcb"
    path.write_bytes(blob)
    for copy in (False, True):
        with pytest.raises(DecodeError) as exc:
            load_file(path, copy=copy)
        assert exc.value.code == "DECOMPRESSION_LIMIT"


def test_the_stream_assembler_is_bounded_by_the_default_limit() -> None:
    from tensorcbor.stream import Assembler, chunks
    blob = _bomb_bundle(n=5)
    asm = Assembler()
    with pytest.raises(DecodeError) as exc:
        for c in chunks(blob, 4096):
            asm.feed(c)
    assert exc.value.code == "DECOMPRESSION_LIMIT"


def test_max_decompressed_is_configurable() -> None:
    arr = np.zeros((64, 64), np.float32)
    blob = encode(arr, compression="zstd")
    assert np.array_equal(decode(blob, max_decompressed=arr.nbytes), arr)
    with pytest.raises(DecodeError) as exc:
        decode(blob, max_decompressed=arr.nbytes - 1)
    assert exc.value.code == "DECOMPRESSION_LIMIT"
    both = encode_bundle({"a": arr, "b": arr}, compression="zstd")
    assert len(decode_bundle(both, max_decompressed=2 * arr.nbytes)) == 2
    with pytest.raises(DecodeError) as exc:  # the limit is on the sum over the decode call
        decode_bundle(both, max_decompressed=2 * arr.nbytes - 1)
    assert exc.value.code == "DECOMPRESSION_LIMIT"


# ------------------------------------------------------------------ load_file refuses non-regular files

def _no_block(fn: Any) -> BaseException | None:
    """Run fn in a thread; fail the test if it blocks (a FIFO open without O_NONBLOCK hangs forever)."""
    box: list[BaseException | None] = [None]

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001
            box[0] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "blocked"
    return box[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_load_file_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.tcb"
    os.mkfifo(fifo)
    err = _no_block(lambda: load_file(fifo))
    assert isinstance(err, FileError) and err.code == "NOT_A_REGULAR_FILE" and "FIFO" in str(err)


@pytest.mark.parametrize("path", ["dir", "/dev/null"])
def test_load_file_refuses_directories_and_devices(tmp_path: Path, path: str) -> None:
    target = tmp_path if path == "dir" else Path(path)
    if not target.exists():
        pytest.skip(f"{target} does not exist here")
    with pytest.raises(FileError) as exc:
        load_file(target)
    assert exc.value.code == "NOT_A_REGULAR_FILE"
    assert exc.value.code in FILE_CODES


def test_load_file_copy_keeps_no_mapping(tmp_path: Path) -> None:
    path = tmp_path / "m.tcb"
    arr = np.arange(4096, dtype=np.float32)
    save_file({"w": arr}, path)
    bundle = load_file(path, copy=True)
    w = bundle["w"]
    os.truncate(path, 10)  # with a live map, touching w now would raise SIGBUS
    assert np.array_equal(w, arr)
    base: Any = w
    while base is not None:
        assert not isinstance(base, mmap.mmap)
        base = getattr(base, "base", None) if not isinstance(base, memoryview) else base.obj


# ------------------------------------------------------------------ atomic writes

def test_save_file_does_not_write_through_a_planted_temp_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "out.tcb"
    os.symlink(victim, f"{out}.tmp-{os.getpid()}")  # the old, predictable temp name
    save_file({"w": np.ones(4, np.float32)}, out)
    assert victim.read_bytes() == b"precious"
    assert np.array_equal(load_file(out)["w"], np.ones(4, np.float32))


def test_save_file_replaces_a_symlink_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "out.tcb"
    os.symlink(victim, out)
    save_file({"w": np.ones(4, np.float32)}, out)
    assert victim.read_bytes() == b"precious" and not out.is_symlink()


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.tcb"
    save_file({"old": np.ones(4, np.float32)}, out)
    before = out.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save_file({"new": np.zeros(1000, np.float32)}, out)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tcb"]


def test_save_file_fsyncs_file_and_directory_unless_told_not_to(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bool] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    tensors = {"w": np.arange(6, dtype=np.float32)}
    save_file(tensors, tmp_path / "a.tcb")
    assert synced == [False, True]  # the file, then the directory that holds the new entry
    synced.clear()
    save_file(tensors, tmp_path / "b.tcb", durable=False)
    assert synced == []
    assert (tmp_path / "a.tcb").read_bytes() == (tmp_path / "b.tcb").read_bytes() == encode_bundle(tensors)
    assert (os.stat(tmp_path / "b.tcb").st_mode & 0o777) == 0o666 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tcb", "b.tcb"]


def test_concurrent_saves_to_one_path_do_not_fail_each_other(tmp_path: Path) -> None:
    out = tmp_path / "shared.tcb"
    errors: list[BaseException] = []
    versions = [{"w": np.full(2000, i, np.float32)} for i in range(6)]

    def writer(i: int) -> None:
        try:
            for _ in range(15):
                save_file(versions[i], out)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    w = load_file(out)["w"]
    assert any(np.array_equal(w, v["w"]) for v in versions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.tcb"]
    assert (os.stat(out).st_mode & 0o777) == 0o666 & ~_umask()


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_converter_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    from tensorcbor import convert
    src = tmp_path / "m.tcb"
    save_file({"w": np.ones(4, np.float32)}, src)
    link = tmp_path / "alias.tcb"
    os.symlink(src, link)
    t = convert.read(src)
    with pytest.raises(FileError) as exc:
        convert.write(t, link)
    assert exc.value.code == "SAME_FILE"
    assert np.array_equal(load_file(src)["w"], np.ones(4, np.float32))


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors", "tcb", "msgpack"])
def test_a_failing_converter_keeps_the_existing_output(tmp_path: Path, fmt: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("msgpack") if fmt == "msgpack" else None
    pytest.importorskip("safetensors") if fmt == "safetensors" else None
    from tensorcbor import convert
    from tensorcbor.convert import Tensors
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(b"existing output")
    t = Tensors({"w": np.ones(4, np.float32)}, single=fmt == "npy")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        convert.write(t, out)
    monkeypatch.undo()
    assert out.read_bytes() == b"existing output"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    convert.write(t, out)
    assert out.read_bytes() != b"existing output"


# ------------------------------------------------------------------ ONNX external data

onnx = pytest.importorskip("onnx")


def _external(tmp_path: Path, location: str) -> Any:
    proto = onnx.TensorProto(name="x", data_type=1, dims=[2], data_location=onnx.TensorProto.EXTERNAL)
    proto.external_data.add(key="location", value=location)
    return proto


def test_onnx_external_data_symlink_outside_the_model_directory_is_refused(tmp_path: Path) -> None:
    from tensorcbor.convert import onnx as conv
    if not Path("/etc/passwd").exists():
        pytest.skip("no /etc/passwd")
    os.symlink("/etc/passwd", tmp_path / "w.bin")
    with pytest.raises(FileError) as exc:
        conv.to_array(_external(tmp_path, "w.bin"), tmp_path)
    assert exc.value.code == "UNSAFE_EXTERNAL_DATA" and "/etc/passwd" in str(exc.value)
    os.symlink("/etc", tmp_path / "sub")
    with pytest.raises(FileError):
        conv.to_array(_external(tmp_path, "sub/passwd"), tmp_path)


@pytest.mark.parametrize("location", [".", "a/..", "w\0.bin", "/etc/passwd", "../w.bin", ""])
def test_onnx_external_data_odd_locations_are_refused(tmp_path: Path, location: str) -> None:
    from tensorcbor.convert import onnx as conv
    with pytest.raises(FileError) as exc:
        conv.to_array(_external(tmp_path, location), tmp_path)
    assert exc.value.code == "UNSAFE_EXTERNAL_DATA"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_onnx_external_data_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    from tensorcbor.convert import onnx as conv
    os.mkfifo(tmp_path / "w.bin")
    err = _no_block(lambda: conv.to_array(_external(tmp_path, "w.bin"), tmp_path))
    assert isinstance(err, FileError) and err.code == "NOT_A_REGULAR_FILE"


def test_onnx_external_data_symlink_inside_the_directory_is_fine(tmp_path: Path) -> None:
    from tensorcbor.convert import onnx as conv
    (tmp_path / "real.bin").write_bytes(np.array([1, 2], np.float32).tobytes())
    os.symlink("real.bin", tmp_path / "w.bin")
    assert np.array_equal(conv.to_array(_external(tmp_path, "w.bin"), tmp_path), [1, 2])


# ------------------------------------------------------------------ torch

@pytest.mark.parametrize(("version", "ok"), [("2.5.1", False), ("2.6.0", False), ("2.9.1+cpu", False),
                                              ("2.10.0", True), ("2.10.0a0+git123", True), ("3.0", True)])
def test_pt_reading_needs_a_torch_without_known_weights_only_bypasses(version: str, ok: bool, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorcbor.convert import torch as conv
    fake = types.ModuleType("torch")
    fake.__version__ = version  # type: ignore[attr-defined]
    calls: list[Any] = []
    fake.load = lambda *a, **k: calls.append(a) or {}  # type: ignore[attr-defined]
    fake.Tensor = type("Tensor", (), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", fake)
    path = tmp_path / "m.pt"
    path.write_bytes(b"not really a pickle")
    if ok:
        assert conv.load(path).arrays == {} and calls
    else:
        with pytest.raises(FileError) as exc:
            conv.load(path)
        assert exc.value.code == "UNSAFE_TORCH" and "2.10.0" in str(exc.value)
        assert not calls  # refused before torch.load ever saw the file


def test_onnx_model_with_external_data_is_published_atomically(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from onnx import helper, numpy_helper

    from tensorcbor.convert import Tensors
    from tensorcbor.convert import onnx as conv
    w = np.arange(4096, dtype=np.float32)
    template = tmp_path / "in.onnx"
    graph = helper.make_graph([], "g", [], [], initializer=[numpy_helper.from_array(np.zeros_like(w), "w")])
    onnx.save_model(helper.make_model(graph), template)
    monkeypatch.setattr(conv, "EXTERNAL_THRESHOLD", 0)
    out = tmp_path / "out.onnx"
    conv.save_model(Tensors({"w": w}), template, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.onnx", "out.onnx", "out.onnx.data"]
    assert np.array_equal(conv.load_model(out).arrays["w"], w)
