"""read_layout (SPEC.md §5.2): the whole layout of a bundle from its prefix [0, B), reading nothing after B."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from tensorcbor import DecodeError, LayoutEntry, decode_bundle, encode_bundle, read_layout
from tensorcbor.bundle import BundlePrefix
from tensorcbor.cbor import Reader

ROOT = Path(__file__).resolve().parent.parent


class CountingFile(io.RawIOBase):
    """A binary file that counts the bytes it hands out."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        got = self._f.read(n)
        self.read_bytes += len(got)
        return got


def data_base(blob: bytes) -> int:
    prefix = BundlePrefix()
    prefix.advance(Reader(blob))
    return prefix.base


def mixed() -> dict[str, np.ndarray]:
    return {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "s": np.array(["a", "bc", ""]),
            "b": np.array([True, False]), "h": np.ones(3, ml_dtypes.bfloat16), "e": np.zeros((0, 5), np.float64),
            "c": np.array([1 + 2j], np.complex128), "i4": np.array([1, -2, 3], ml_dtypes.int4)}


def test_layout_agrees_with_the_decoder() -> None:
    blob = encode_bundle(mixed(), {"k": "v"})
    layout = read_layout(blob)
    bundle = decode_bundle(blob)
    assert [e.name for e in layout] == list(bundle)
    for e in layout:
        info = bundle.info(e.name)
        assert isinstance(e, LayoutEntry) and e.compression is None
        assert (e.dtype, e.shape, e.offset, e.nbytes) == (info.dtype, info.shape, info.offset, info.nbytes)
        assert e.offset % e.dtype.align == 0
    base = data_base(blob)
    assert base % 8 == 0 and all(e.offset > base for e in layout)


def test_compressed_entries_locate_the_zstd_bytes() -> None:
    pytest.importorskip("zstandard")
    blob = encode_bundle({"z": np.zeros((64, 64), np.float32), "s": np.array(["x"])}, compression="zstd",
                         shuffle=True)
    z = {e.name: e for e in read_layout(blob)}["z"]
    assert z.compression == (1, 1)
    assert blob[z.offset:z.offset + 4] == bytes.fromhex("28b52ffd")  # a zstd frame starts there
    assert decode_bundle(blob)["z"].shape == (64, 64)


def test_every_short_prefix_says_how_much_it_needs() -> None:
    blob = encode_bundle(mixed(), {"meta": [1, 2, {"x": "y" * 30}]})
    base = data_base(blob)
    assert [e.offset for e in read_layout(blob[:base])] == [e.offset for e in read_layout(blob)]
    for cut in range(base):
        with pytest.raises(DecodeError) as exc:
            read_layout(blob[:cut])
        assert exc.value.code == "TRUNCATED"
        assert exc.value.needed is not None and cut < exc.value.needed <= base, (cut, exc.value.needed, base)


def test_20000_tensors_from_the_prefix_alone(tmp_path) -> None:
    tensors = {f"layer.{i:05d}.weight": np.full(64, i, np.float32) for i in range(20000)}
    blob = encode_bundle(tensors, {"model": "many"})
    base = data_base(blob)
    assert base < len(blob) // 2  # the element data is most of the file
    # Only the prefix bytes exist: every entry is still found.
    layout = read_layout(memoryview(blob)[:base])
    assert len(layout) == 20000 and layout[123].name == "layer.00123.weight"
    assert blob[layout[123].offset:layout[123].offset + 256] == np.full(64, 123, np.float32).tobytes()
    # A file object hands out exactly the prefix, never an element byte.
    f = CountingFile(blob)
    assert read_layout(f) == layout
    assert f.read_bytes == base
    # A path: a file holding only the prefix is enough.
    path = tmp_path / "prefix.tcb"
    path.write_bytes(blob[:base])
    assert read_layout(path) == layout
    assert read_layout(str(path)) == layout


def test_truncated_file_raises_with_needed() -> None:
    blob = encode_bundle(mixed())
    with pytest.raises(DecodeError) as exc:
        read_layout(CountingFile(blob[:30]))
    assert exc.value.code == "TRUNCATED" and exc.value.needed > 30


def test_layout_checks_the_directory() -> None:
    blob = bytearray(encode_bundle({"a": np.zeros(3, np.float32)}))
    first = read_layout(bytes(blob))[0]
    at = blob.index(bytes([0x85, 0x61, 0x61, 0x01, 0x81, 0x03]))  # the entry ["a", 1, [3], offset, 12]
    blob[at + 6] += 1  # offset + 1
    with pytest.raises(DecodeError) as exc:
        read_layout(bytes(blob))
    assert exc.value.code == "DIRECTORY_MISMATCH" and first.offset


def test_inspect_reads_only_the_prefix(tmp_path) -> None:
    tensors = {f"t{i}": np.arange(i + 1, dtype=np.int16) for i in range(50)}
    blob = encode_bundle(tensors, {"k": 1})
    base = data_base(blob)
    path = tmp_path / "cut.tcb"
    path.write_bytes(blob[:base])  # no element data at all
    out = subprocess.run([sys.executable, "-m", "tensorcbor", "inspect", "--json", str(path)], capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT / "src")})
    listing = json.loads(out.stdout)
    assert [t["name"] for t in listing["tensors"]] == sorted(tensors, key=lambda n: (len(n), n))
    assert listing["metadata"] == {"k": 1}
    assert [t["offset"] for t in listing["tensors"]] == [e.offset for e in read_layout(blob)]


def test_stream_assembler_reads_a_prefix_spanning_many_chunks() -> None:
    from tensorcbor import stream

    tensors = {f"t{i:04d}": np.full(3, i, np.int32) for i in range(150)}
    blob = encode_bundle(tensors, {"k": "v" * 300})
    assert data_base(blob) > 4 * 548  # the prefix alone spans more than 4 chunks (payloads of 548 bytes)
    asm = stream.Assembler()
    got = {}
    peak = 0
    for chunk in stream.chunks(blob, 600):
        got.update(asm.feed(chunk))
        peak = max(peak, asm.buffered)
    asm.finish()
    assert asm.metadata == {"k": "v" * 300}
    assert list(got) == sorted(tensors) and all(got[n].tolist() == tensors[n].tolist() for n in tensors)
    assert peak < 2 * 600 + 400  # only the bytes from the last complete directory entry (or metadata) are kept
