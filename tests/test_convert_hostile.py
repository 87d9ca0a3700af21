"""Hostile converter input: every rejection is a DecodeError with a registry code, never a crash (issue 9)."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

from tensorcbor import CODES, DecodeError
from tensorcbor.convert import Tensors, msgpack_numpy, npy, read, safetensors


def _code(fn: Any, *args: Any) -> str:
    with pytest.raises(DecodeError) as exc:
        fn(*args)
    assert exc.value.code in CODES
    return exc.value.code


def _array(type_: Any, shape: Any = (2,), data: bytes = b"\0" * 8) -> bytes:
    return msgpack.packb({b"nd": True, b"type": type_, b"kind": b"", b"shape": list(shape), b"data": data},
                         use_bin_type=True)


# ------------------------------------------------------------------ msgpack-numpy

@pytest.mark.parametrize("type_", ["<f3", "<i3", "<u16", "<c4", "<U999999999", "<V4", "|O", "<M8", "S5", "f",
                                   "", 12, None, b"<f4", "<f4\x00", "float32; import os", "(2,)f4"])
def test_msgpack_nonsense_type_strings(type_: Any) -> None:
    assert _code(msgpack_numpy.loads, _array(type_)) == "UNKNOWN_DTYPE"


@pytest.mark.parametrize(("blob", "code"), [
    (b"\x91" * 100_000 + b"\x00", "NESTING_TOO_DEEP"),
    (b"\x81\x00" * 100_000 + b"\x00", "NESTING_TOO_DEEP"),
    (b"\xdd\xff\xff\xff\xff", "TRUNCATED"),          # an array claiming 4 billion items in 5 bytes
    (b"\xc6\xff\xff\xff\xff", "TRUNCATED"),          # a byte string claiming 4 GiB
    (_array("<f4", (2**62, 2**62), b""), "SIZE_OVERFLOW"),
    (_array("<f4", (-1,), b""), "MALFORMED"),
    (_array("<f4", (3,)), "SHAPE_MISMATCH"),
    (b"\xc1", "MALFORMED"),
])
def test_msgpack_hostile_structure(blob: bytes, code: str) -> None:
    assert _code(msgpack_numpy.loads, blob) == code


def test_msgpack_read_memory_stays_below_three_times_the_file(tmp_path: Path) -> None:
    """Measured with tracemalloc (Python heap): reading copies each array once; writing streams."""
    arrays = {f"l{i}": np.full((256, 1024), i, np.float32) for i in range(32)}  # 32 MiB
    path = tmp_path / "w.msgpack"
    msgpack_numpy.save(Tensors(arrays), path)
    size = path.stat().st_size
    tracemalloc.start()
    t = msgpack_numpy.load(path)
    _, read_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    msgpack_numpy.save(t, tmp_path / "again.msgpack")
    _, write_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (tmp_path / "again.msgpack").read_bytes() == path.read_bytes()
    assert read_peak < 1.5 * size, (read_peak, size)
    assert write_peak - read_peak < 0.25 * size, (write_peak, size)


# ------------------------------------------------------------------ safetensors

def _st(header: Any, data: bytes = b"", raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize(("blob", "code"), [
    (_st(None, raw=b"[" * 100_000 + b"]" * 100_000), "NESTING_TOO_DEEP"),
    (_st(None, raw=b'{"a":' * 100_000 + b"1" + b"}" * 100_000), "NESTING_TOO_DEEP"),
    (_st({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 0]}}), "SIZE_OVERFLOW"),
    (_st({"a": {"dtype": "F32", "shape": [0, 2**62, 2**62], "data_offsets": [0, 0]}}), "SIZE_OVERFLOW"),
    (struct.pack("<Q", 100_000_001) + b"{}", "MALFORMED"),        # over safetensors' own 100 MB header limit
    (_st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, b"\0" * 4), "MALFORMED"),   # gap at 0
    (_st({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
          "b": {"dtype": "U8", "shape": [1], "data_offsets": [2, 3]}}, b"\0" * 3), "MALFORMED"),   # gap between
    (_st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 3), "TRAILING_BYTES"),
    (_st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
          "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3), "MALFORMED"),   # overlap
    (_st(None, raw=b'{"a":1,"a":2}'), "DUPLICATE_NAME"),
    (_st(None, raw=b"\xff\xfe"), "MALFORMED"),
])
def test_safetensors_hostile_headers(blob: bytes, code: str) -> None:
    assert _code(safetensors.loads, blob) == code


def test_safetensors_library_agrees_gaps_and_tails_are_invalid(tmp_path: Path) -> None:
    from safetensors.numpy import load
    for blob in (_st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 3),
                 _st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, b"\0" * 4)):
        with pytest.raises(Exception):  # noqa: B017 - the library's own error type
            load(blob)


# ------------------------------------------------------------------ .npz

def _npz_with(path: Path, name: str, member: bytes, compress: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compress) as zf:
        zf.writestr(name, member)


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_npz_member_claiming_terabytes(tmp_path: Path) -> None:
    path = tmp_path / "tb.npz"
    _npz_with(path, "a.npy", _npy_header((1 << 40,)) + b"\0" * 16)
    assert _code(npy.load_npz, path) == "SHAPE_MISMATCH"
    # the zip directory itself lying about the member's size
    raw = bytearray(path.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 1 << 31)  # uncompressed size in the central directory
    path.write_bytes(raw)
    assert _code(npy.load_npz, path) in ("MALFORMED", "TRUNCATED")


def test_npz_deflate_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    member = _npy_header((1 << 24,)) + bytes(1 << 26)  # 64 MiB of zeros deflate to ~64 KiB
    _npz_with(path, "a.npy", member, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DecodeError) as exc:
        npy.load_npz(path, max_decompressed=1 << 20)  # a 1 MiB budget
    assert exc.value.code == npy.LIMIT_CODE
    assert npy.load_npz(path).arrays["a"].shape == (1 << 24,)   # within the default budget it reads
    # a member claiming more than deflate can produce from its compressed bytes
    raw = bytearray(path.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 0xFFFFFFF0)
    path.write_bytes(raw)
    assert _code(npy.load_npz, path) == "MALFORMED"


def test_npz_object_member_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    _npz_with(path, "a.npy", _npy_header((1,), "|O") + b"\0" * 8)
    assert _code(npy.load_npz, path) == "UNKNOWN_DTYPE"
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04" + zlib.compress(b"x" * 100))
    assert _code(read, tmp_path / "junk.npz") == "MALFORMED"


# ------------------------------------------------------------------ GGUF (issue 17)

def _gguf(kvs: bytes = b"", n_kv: int = 0, tensors: bytes = b"", n_tensors: int = 0, data: bytes = b"") -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kvs + tensors
    return head + bytes(-len(head) % 32) + data


def _kv_array(key: bytes, item_type: int, count: int, items: bytes = b"") -> bytes:
    return struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, item_type, count) + items


def _tensor(name: bytes, dims: tuple[int, ...], ggml_type: int, offset: int) -> bytes:
    return (struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
            + struct.pack("<IQ", ggml_type, offset))


def _nested_arrays(depth: int) -> bytes:
    """KV "k" = an array of one array of one array ... `depth` levels deep."""
    return _kv_array(b"k", 9, 1, struct.pack("<IQ", 9, 1) * (depth - 2) + struct.pack("<IQ", 0, 0))


_HOSTILE_GGUF = {
    # The 49-byte file: a UINT8 array claiming 2^62 items.
    "array-claims-2^62-items": (bytes.fromhex("47475546030000000000000000000000010000000000000001000000000000006b09"
                                              "000000000000000000000000000040"), "TRUNCATED"),
    "string-claims-2^63-bytes": (_gguf(struct.pack("<Q", 1) + b"k" + struct.pack("<IQ", 8, 1 << 63), 1), "TRUNCATED"),
    "kv-count-2^64-1": (b"GGUF" + struct.pack("<IQQ", 3, 0, 2**64 - 1), "TRUNCATED"),
    "tensor-count-2^64-1": (b"GGUF" + struct.pack("<IQQ", 3, 2**64 - 1, 0), "TRUNCATED"),
    "arrays-nested-20000-deep": (_gguf(_nested_arrays(20_000), 1), "UNSUPPORTED_VALUE"),
    "4M-empty-arrays": (_gguf(_kv_array(b"k", 9, 4_000_000, struct.pack("<IQ", 0, 0) * 4_000_000), 1),
                        "UNSUPPORTED_VALUE"),
    "overlapping-tensors": (_gguf(tensors=_tensor(b"a", (16,), 0, 0) + _tensor(b"b", (16,), 0, 32), n_tensors=2,
                                  data=bytes(128)), "MALFORMED"),
    "misaligned-tensor": (_gguf(tensors=_tensor(b"a", (4,), 0, 8), n_tensors=1, data=bytes(64)), "MALFORMED"),
    "tensor-past-the-end": (_gguf(tensors=_tensor(b"a", (64,), 0, 0), n_tensors=1, data=bytes(32)), "TRUNCATED"),
    "dims-overflow": (_gguf(tensors=_tensor(b"a", (2**40, 2**40), 0, 0), n_tensors=1), "SIZE_OVERFLOW"),
    "five-dims": (_gguf(tensors=_tensor(b"a", (1,) * 5, 0, 0), n_tensors=1), "MALFORMED"),
    "big-endian": (b"GGUF" + struct.pack(">IQQ", 3, 0, 0), "MALFORMED"),
}


@pytest.mark.parametrize("case", sorted(_HOSTILE_GGUF))
def test_gguf_hostile_files_end_with_a_code_in_bounded_time_and_memory(case: str, tmp_path: Path) -> None:
    """`tensorcbor convert m.gguf m.tcb` in a child process capped at 1 GiB of address space beyond Python's own:
    every case ends with its registry code (no hang, MemoryError or RecursionError)."""
    import subprocess
    import sys

    blob, code = _HOSTILE_GGUF[case]
    src = tmp_path / "m.gguf"
    src.write_bytes(blob)
    child = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
             "from tensorcbor.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", child, "convert", str(src), str(tmp_path / "m.tcb")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"tensorcbor: error: {code}") and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "m.tcb").exists()


def test_gguf_scan_accepts_what_gguf_py_writes(tmp_path: Path) -> None:
    """The bounds check refuses nothing a real writer produces: gguf-py's GGUFWriter, arrays and all."""
    gguf = pytest.importorskip("gguf")
    from tensorcbor.convert.gguf_scan import scan

    path = tmp_path / "ok.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_array("tokenizer.ggml.tokens", ["a", "bc", ""])
    w.add_array("some.ints", [1, 2, 3])
    w.add_tensor("w", np.arange(64, dtype=np.float32).reshape(8, 8))
    w.add_tensor("b", np.ones(3, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    version, infos = scan(memoryview(path.read_bytes()), str(path))
    assert version == 3 and [(t.name, t.nbytes) for t in infos] == [("w", 256), ("b", 12)]
    assert sorted(read(path).arrays) == ["b", "w"]
