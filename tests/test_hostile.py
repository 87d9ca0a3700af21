"""Verdicts on the hostile bundles of issue #18 (timings and memory: bench/bench_hostile.py, not here).

The compiled reader gets the full-size inputs; the pure reference the same constructions at a size its
per-head Python loop reads in seconds (the verdict rule is the same at any size past the limit).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tensorcbor import DecodeError, accel, decode_bundle, load_file, read_layout
from tensorcbor.cbor import MAX_METADATA_BYTES
from tensorcbor.fuzz import hostile


@pytest.fixture(params=[pytest.param(True, id="compiled"), pytest.param(False, id="pure")])
def compiled(request: pytest.FixtureRequest) -> Iterator[bool]:
    if request.param and not accel.available():
        pytest.skip(f"the compiled reader is not in use ({accel.status()})")
    was = accel.use(request.param)
    try:
        yield request.param
    finally:
        accel.use(was)


def test_oversized_metadata_is_rejected_at_the_head_past_16_mib(compiled: bool, tmp_path: Path) -> None:
    doc, at = hostile.oversized_metadata(110_000_000 if compiled else MAX_METADATA_BYTES + 1000)
    assert at > MAX_METADATA_BYTES
    path = tmp_path / "meta.tcb"
    path.write_bytes(doc)
    readers = [lambda: decode_bundle(doc), lambda: load_file(path), lambda: read_layout(doc),
               lambda: read_layout(path)]
    for read in readers if compiled else readers[:1]:  # the pure reference walks 16 MiB in Python per call
        with pytest.raises(DecodeError) as exc:
            read()
        assert (exc.value.code, exc.value.offset) == ("METADATA_TOO_LARGE", at)


def test_valid_16_mib_metadata_of_tiny_entries_is_accepted(compiled: bool) -> None:
    doc, n = hostile.tiny_entry_metadata(MAX_METADATA_BYTES if compiled else 1 << 20)
    b = decode_bundle(doc)
    assert len(b) == 0 and len(b.metadata) == n
    assert b.metadata == {f"{i:08d}": 0 for i in range(n)}
    assert list(b.metadata)[:2] == ["00000000", "00000001"]


def test_a_million_zero_size_tensors(compiled: bool, tmp_path: Path) -> None:
    n = 1_000_000 if compiled else 20_000
    doc = hostile.zero_size_tensors(n)
    b = decode_bundle(doc)
    assert len(b) == n and b.metadata == {}
    last = f"{n - 1:07d}"
    assert b[last].shape == (0,) and b[last].dtype.name == "float32" and last in b
    path = tmp_path / "zero.tcb"
    path.write_bytes(doc)
    with load_file(path) as lazy:
        assert len(lazy) == n and lazy["0000000"].shape == (0,)


class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0
        self.reads = 0

    def read(self, n: int | None = -1) -> bytes:
        got = super().read(n)
        self.read_bytes += len(got)
        self.reads += 1
        return got


def test_a_large_metadata_map_from_a_file_object_takes_a_few_reads(compiled: bool) -> None:
    """read_layout(file object) grows its reads by half inside a metadata map over 64 KiB: a few passes, not one
    per lower bound (which re-read a 2 MiB map for 17 s of CPU), and at most B/2 bytes past B."""
    doc, n = hostile.tiny_entry_metadata(1 << 21)
    base = len(doc) - 1  # no tensors: B is where the tensors array head (one byte) starts
    f = _Counting(doc[:base])
    assert read_layout(f) == []
    assert f.read_bytes == base and f.reads < 60
    f = _Counting(doc + bytes(base))  # bytes after B: read at most B/2 of them
    assert read_layout(f) == [] and f.read_bytes <= base * 3 // 2
    with pytest.raises(DecodeError) as exc:
        read_layout(_Counting(doc[:base // 2]))
    assert exc.value.code == "TRUNCATED" and base // 2 < exc.value.needed <= base
