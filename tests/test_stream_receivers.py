"""Stream receivers (SPEC.md §10.4-12.5): rejected chunks change nothing, storing receivers, quota, max-size,
and the Assembler's linear work and one-copy memory."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from pathlib import Path

import cbor2
import numpy as np
import pytest

import tensorcbor
from tensorcbor import stream, stream_decode
from tensorcbor.bundle import BundlePrefix, ItemCursor
from tensorcbor.cli import main as cli_main
from tensorcbor.errors import DecodeError

TENSORS = {
    "a.weight": np.arange(3000, dtype=np.float32).reshape(30, 100),
    "b": np.array(["x", "", "Grüße"] * 50, dtype=np.dtypes.StringDType()),
    "c": np.arange(200, dtype=np.float64),
    "d": np.array([True, False] * 40),
}
DOC = tensorcbor.encode_bundle(TENSORS, {"model": "demo", "notes": ["n" * 30] * 40})
CHUNKS = list(stream.chunks(DOC, 1500))
DIGEST = stream.stream_digest(CHUNKS[0])


def code_of(fn) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError) as info:
        fn()
    return info.value.code


def altered(chunk: bytes, at: int = -1) -> bytes:
    b = bytearray(chunk)
    b[at] ^= 0x01
    return bytes(b)


def cut(doc: bytes, payload: int, max_size: int | None = None) -> list[bytes]:
    """An honest stream of any document (valid or not) with fixed-size payloads (not the canonical cut)."""
    pieces = [doc[i:i + payload] for i in range(0, len(doc), payload)]
    max_size = max_size or max(32 * len(pieces) + 100, payload + 100)
    m = stream._encode_manifest(len(doc), max_size, hashlib.sha256(doc).digest(),
                                b"".join(hashlib.sha256(p).digest() for p in pieces))
    sid = stream.stream_digest(m)
    prefix = stream.STREAM_MAGIC + b"\x84\x01\x58\x20" + sid
    return [m] + [prefix + cbor2.dumps(i) + cbor2.dumps(p) for i, p in enumerate(pieces, 1)]


# ------------------------------------------------------------------ a rejected chunk changes nothing

@pytest.mark.parametrize("bad", [
    lambda c: altered(c),  # CHUNK_DIGEST_MISMATCH
    lambda c: c[:-1],  # TRUNCATED
    lambda c: c + b"\x00",  # TRAILING_BYTES
    lambda c: CHUNKS[0],  # UNEXPECTED_TYPE
    lambda c: c.replace(b"\x84\x01", b"\x84\x02", 1),  # UNSUPPORTED_VERSION
])
@pytest.mark.parametrize("kind", ["assembler", "sequential", "storing"])
def test_bad_chunk_then_the_corrected_chunk(bad, kind: str) -> None:  # type: ignore[no-untyped-def]
    rx = {"assembler": stream.Assembler, "sequential": stream.SequentialReceiver,
          "storing": stream.StoringReceiver}[kind](DIGEST)
    feed = rx.feed if isinstance(rx, stream.Assembler) else rx.accept
    got = {}
    for i, chunk in enumerate(CHUNKS):
        if i == 3:
            with pytest.raises(DecodeError):
                feed(bad(chunk))
        out = feed(chunk)
        if isinstance(rx, stream.Assembler):
            got.update(out)
    result = rx.finish()
    if kind == "storing":
        assert result == DOC
    if kind == "assembler":
        assert set(got) == set(TENSORS)
        for name, arr in TENSORS.items():
            assert np.array_equal(got[name], arr)


def test_bad_manifest_then_the_right_one() -> None:
    other = list(stream.chunks(tensorcbor.encode(np.zeros(3)), 128))
    asm = stream.Assembler(DIGEST)
    assert code_of(lambda: asm.feed(other[0])) == "STREAM_DIGEST_MISMATCH"
    assert code_of(lambda: asm.feed(CHUNKS[1])) == "STREAM_DIGEST_MISMATCH"  # still awaiting the manifest
    got = {}
    for c in CHUNKS:
        got.update(asm.feed(c))
    asm.finish()
    assert set(got) == set(TENSORS)


def test_a_document_error_sticks() -> None:
    bad = bytearray(tensorcbor.encode(np.array([True, False] * 100)))
    bad[-1] = 2
    cs = cut(bytes(bad), 60, 200)
    asm = stream.Assembler()
    with pytest.raises(DecodeError) as first:
        for c in cs:
            asm.feed(c)
    assert first.value.code == "INVALID_ELEMENT" and first.value.offset == len(bad) - 1
    assert code_of(lambda: asm.feed(cs[-1])) == "INVALID_ELEMENT"
    assert code_of(asm.finish) == "INVALID_ELEMENT"


# ------------------------------------------------------------------ storing receivers

def test_storing_receiver_any_order() -> None:
    rng = random.Random(7)
    for _ in range(20):
        data = CHUNKS[1:]
        rng.shuffle(data)
        rx = stream.StoringReceiver(DIGEST)
        assert rx.accept(CHUNKS[0]) is None
        for c in data:
            assert rx.accept(c) is not None
        assert rx.finish() == DOC
    # never CHUNK_OUT_OF_ORDER; duplicates are still rejected
    rx = stream.StoringReceiver()
    rx.accept(CHUNKS[0])
    rx.accept(CHUNKS[3])
    assert code_of(lambda: rx.accept(CHUNKS[3])) == "DUPLICATE_CHUNK"
    assert code_of(rx.finish) == "MISSING_CHUNK"


def test_storing_receiver_document_digest() -> None:
    doc = tensorcbor.encode(np.arange(40, dtype=np.float32))
    pieces = [doc[:100], doc[100:]]
    m = stream._encode_manifest(len(doc), 200, bytes(32), b"".join(hashlib.sha256(p).digest() for p in pieces))
    sid = stream.stream_digest(m)
    prefix = stream.STREAM_MAGIC + b"\x84\x01\x58\x20" + sid
    chunks = [m] + [prefix + cbor2.dumps(i) + cbor2.dumps(p) for i, p in enumerate(pieces, 1)]
    rx = stream.StoringReceiver()
    for c in [chunks[0], chunks[2], chunks[1]]:
        rx.accept(c)
    assert code_of(rx.finish) == "DOCUMENT_DIGEST_MISMATCH"
    # with the stream digest held, E2 may be skipped (the manifest, hence every payload, is fixed by it)
    rx = stream.StoringReceiver(sid, skip_document_digest=True)
    for c in chunks:
        rx.accept(c)
    assert rx.finish() == doc
    with pytest.raises(ValueError):
        stream.StoringReceiver(skip_document_digest=True)


# ------------------------------------------------------------------ quota and max-size

def test_quota() -> None:
    assert code_of(lambda: stream.Assembler(quota=len(DOC) - 1).feed(CHUNKS[0])) == "QUOTA_EXCEEDED"
    assert code_of(lambda: stream.join(CHUNKS, quota=len(DOC) - 1)) == "QUOTA_EXCEEDED"
    assert stream.join(CHUNKS, quota=len(DOC)) == DOC
    rx = stream.StoringReceiver(quota=10)
    assert code_of(lambda: rx.accept(CHUNKS[0])) == "QUOTA_EXCEEDED"
    assert rx.manifest is None  # nothing changed: another manifest may follow


@pytest.mark.parametrize("max_size,code", [(0, "INVALID_CHUNK_SIZE"), (127, "INVALID_CHUNK_SIZE"),
                                           (1 << 32, "INVALID_CHUNK_SIZE"), ((1 << 64) - 1, "INVALID_CHUNK_SIZE"),
                                           (128, None), ((1 << 32) - 1, None)])
def test_max_size_bounds(max_size: int, code: str | None) -> None:
    m = stream._encode_manifest(1, max_size, bytes(32), bytes(32))
    if code is None:
        assert stream.parse_manifest(m).max_size == max_size
    else:
        assert code_of(lambda: stream.parse_manifest(m)) == code


def test_cli_join_quota(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "m.tcb"
    src.write_bytes(DOC)
    assert cli_main(["chunk", str(src), str(tmp_path / "c"), "--max-size", "1500"]) == 0
    assert cli_main(["join", str(tmp_path / "c"), str(tmp_path / "o.tcb"), "--quota", str(len(DOC) - 1)]) == 1
    assert "QUOTA_EXCEEDED" in capsys.readouterr().err
    assert cli_main(["join", str(tmp_path / "c"), str(tmp_path / "o.tcb"), "--quota", str(len(DOC))]) == 0


# ------------------------------------------------------------------ linear work, one copy

def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    calls = [0]
    real = getattr(owner, name)

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.parametrize("payload", [76, 200_000])
def test_metadata_is_parsed_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch, payload: int) -> None:
    """200 KB of metadata over ~2,700 chunks (or 2): parsed a few times, not once per chunk (linear work)."""
    doc = tensorcbor.encode_bundle({"w": np.ones(4, np.float32)}, {"vocab": [f"t{i:06d}" for i in range(25000)]})
    cs = cut(doc, payload)
    calls = _count_calls(monkeypatch, BundlePrefix, "_read_head")
    got = list(stream.assemble(cs))
    assert [n for n, _ in got] == ["w"]
    assert calls[0] <= (1 if payload > 100_000 else 3)


def test_string_tensor_is_parsed_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    strings = np.array([f"s{i}" for i in range(20000)], dtype=np.dtypes.StringDType())
    cs = cut(tensorcbor.encode(strings), 248)
    calls = _count_calls(monkeypatch, stream_decode, "read_fields")
    got = list(stream.assemble(cs))
    assert len(cs) > 500 and np.array_equal(got[0][1], strings)
    assert calls[0] <= 3
    cs = cut(tensorcbor.encode_bundle({"s": strings}), 248)
    calls = _count_calls(monkeypatch, ItemCursor, "read")
    got = list(stream.assemble(cs))
    assert np.array_equal(got[0][1], strings) and calls[0] <= 4


def test_a_directory_is_read_once_per_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 entries and 4,096-byte names split over many chunks: each entry is read about once."""
    tensors = {f"{i:04d}" + "n" * 4092: np.ones(1, np.float32) for i in range(200)}
    tensors.update({f"t{i:05d}": np.ones(i % 5, np.int8) for i in range(2000)})
    doc = tensorcbor.encode_bundle(tensors)
    calls = _count_calls(monkeypatch, BundlePrefix, "_read_entry")
    got = list(stream.assemble(cut(doc, 40)))
    assert len(got) == len(tensors)
    assert calls[0] <= 2 * len(tensors)


def test_element_bytes_are_held_once() -> None:
    """SPEC.md §10.5: a tensor's bytes are copied once into its own storage (tracemalloc peak ~1x)."""
    arr = np.arange(2 << 20, dtype=np.float32)  # 8 MiB
    cs = list(stream.chunks(tensorcbor.encode_bundle({"big": arr, "z": np.ones(3, np.int8)}), 65536))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    got = dict(stream.assemble(cs))
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert np.array_equal(got["big"], arr) and not got["big"].flags.writeable
    assert peak < 1.3 * arr.nbytes, peak / arr.nbytes


def test_metadata_too_large_is_reported_early() -> None:
    """Metadata claiming 17 MiB: METADATA_TOO_LARGE at the chunk that shows the head, not at the end."""
    big = 17 << 20
    doc = (tensorcbor.tensor.BUNDLE_MAGIC + b"\x85\x01\xa1\x61x\x5a" + big.to_bytes(4, "big") + bytes(big) + b"\xa0")
    cs = cut(doc, 1 << 20, (1 << 20) + 100)
    asm = stream.Assembler()
    asm.feed(cs[0])
    with pytest.raises(DecodeError) as info:
        asm.feed(cs[1])
    assert info.value.code == "METADATA_TOO_LARGE"


# ------------------------------------------------------------------ incremental decoding = whole decoding

SUITE = Path(__file__).resolve().parent.parent / "conformance" / "v1"

def _suite_cases() -> list[tuple[str, bytes, str | None]]:
    import json

    out = []
    for v in json.loads((SUITE / "manifest.json").read_text())["vectors"]:
        if v["size"] > 200_000:
            continue
        doc = (SUITE / v["file"]).read_bytes()
        want = v.get("error") if v["verdict"] == "invalid" else None
        if want == "BAD_MAGIC" or not doc:  # kind-specific, or nothing to stream
            continue
        out.append((v["id"], doc, want))
    return out


def test_the_assembler_reports_what_whole_decoding_reports() -> None:
    """Every document vector, cut into 1-byte and random-size payloads: the same first error (or none)."""
    rng = random.Random(5)
    cases = _suite_cases()
    assert len(cases) > 900
    wrong = []
    for vid, doc, want in cases:
        for payload in (1, rng.randint(2, 200)):
            try:
                for _ in stream.assemble(cut(doc, payload)):
                    pass
                got = None
            except DecodeError as exc:
                got = exc.code
            if got != want:
                wrong.append((vid, payload, want, got))
    assert not wrong, wrong[:10]
