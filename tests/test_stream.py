"""Chunked streams (SPEC.md §10): round trips, the memory bound, and one code per way a chunk can be wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cbor2
import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorcbor
from tensorcbor import stream
from tensorcbor.bundle import parse_bundle
from tensorcbor.cli import main as cli_main
from tensorcbor.errors import DecodeError, EncodeError

TENSORS = {
    "a.weight": np.arange(1000, dtype=np.float32).reshape(10, 100),
    "b": np.array(["x", "", "Grüße"], dtype=np.dtypes.StringDType()),
    "c": np.arange(15, dtype=np.int8).astype(ml_dtypes.int4).reshape(3, 5),
    "d": np.zeros((0, 3), np.int64),
    "e": np.array(3.5),
    "f": np.ones((20, 3), ml_dtypes.bfloat16),
    "g": np.array([True, False, True]),
}
META = {"model": "demo", "layers": [1, 2]}
DOC = tensorcbor.encode_bundle(TENSORS, META)


def feed_all(chunks: list[bytes], digest: bytes | None = None) -> tuple[dict[str, np.ndarray], stream.Assembler]:
    asm = stream.Assembler(digest)
    got: dict[str, np.ndarray] = {}
    for c in chunks:
        for name, arr in asm.feed(c):
            assert name not in got
            got[name] = arr
    asm.finish()
    return got, asm


def code_of(fn) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError) as info:
        fn()
    return info.value.code


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("max_size", [700, 1000, 1500, 4096, stream.DEFAULT_MAX_SIZE])
def test_round_trip_bundle(max_size: int) -> None:
    cs = list(stream.chunks(DOC, max_size))
    assert all(len(c) <= max_size for c in cs)
    digest = stream.stream_digest(cs[0])
    assert stream.join(cs, digest) == DOC
    got, asm = feed_all(cs, digest)
    assert list(got) == sorted(TENSORS, key=cbor2.dumps)  # wire order
    for name, arr in TENSORS.items():
        assert got[name].dtype == arr.dtype and np.array_equal(got[name], arr)
    assert asm.metadata == META
    # the payloads, concatenated, are the document
    assert b"".join(cbor2.loads(c).value[3] for c in cs[1:]) == DOC


def test_mapping_input_equals_bytes_input() -> None:
    assert list(stream.chunks(TENSORS, 1000, metadata=META)) == list(stream.chunks(DOC, 1000))
    bundle = tensorcbor.decode_bundle(DOC)
    assert list(stream.chunks(bundle, 1000)) == list(stream.chunks(DOC, 1000))


def test_tensor_document() -> None:
    arr = np.arange(300, dtype=np.float64).reshape(3, 100)
    doc = tensorcbor.encode(arr)
    cs = list(stream.chunks(doc, 500))
    assert len(cs) > 3
    got, _ = feed_all(cs)
    assert list(got) == [""] and np.array_equal(got[""], arr)
    assert not got[""].flags.writeable


def test_deterministic_and_manifest_fields() -> None:
    a = list(stream.chunks(DOC, 1000))
    assert a == list(stream.chunks(DOC, 1000))
    m = stream.parse_manifest(a[0])
    assert m.doc_length == len(DOC) and m.max_size == 1000 and m.count == len(a) - 1
    assert m.doc_sha256 == hashlib.sha256(DOC).digest()
    assert m.stream_digest == hashlib.sha256(a[0]).digest()
    diag = cbor2.loads(a[1])
    assert diag.tag == stream.STREAM_TAG and diag.value[1] == m.stream_digest and diag.value[2] == 1


def test_headers_are_not_split() -> None:
    """The chunk that holds a tensor's first header byte holds the whole header (dtype and shape)."""
    doc = tensorcbor.encode_bundle({f"t{i:02d}": np.arange(11 * i + 1, dtype=np.float32) for i in range(30)})
    cs = list(stream.chunks(doc, 1100))
    regions = stream._header_regions(stream._Concat([doc]))
    starts = [0]
    for c in cs[1:]:
        starts.append(starts[-1] + len(cbor2.loads(c).value[3]))
    for h, d in regions:
        assert not any(h < s < d for s in starts), (h, d)


def test_the_default_limit_fits_an_ingress_message() -> None:
    assert stream.DEFAULT_MAX_SIZE + 150 * 1024 < 2 * 1024 * 1024


@st.composite
def bundles(draw: st.DrawFn) -> dict[str, np.ndarray]:
    names = draw(st.lists(st.text(min_size=1, max_size=8), max_size=6, unique=True))
    dtypes = [np.float32, np.float16, np.uint8, np.int64, ml_dtypes.bfloat16, ml_dtypes.int4, np.bool_]
    out = {}
    for name in names:
        dt = draw(st.sampled_from(dtypes))
        shape = tuple(draw(st.lists(st.integers(0, 40), max_size=3)))
        n = int(np.prod(shape))
        out[name] = (np.arange(n) % 7).astype(dt).reshape(shape)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensors=bundles(), max_size=st.integers(300, 3000))
def test_any_split_round_trips_within_the_memory_bound(tensors: dict[str, np.ndarray], max_size: int) -> None:
    doc = tensorcbor.encode_bundle(tensors)
    try:
        cs = list(stream.chunks(doc, max_size))
    except EncodeError:  # too many chunks for one manifest at this size
        return
    assert stream.join(cs) == doc
    regions = stream._header_regions(stream._Concat([doc]))
    infos = parse_bundle(doc)
    items = [d + infos.info(n).nbytes - h for (h, d), n in zip(regions, infos, strict=True)]
    prefix = regions[0][0] if regions else len(doc)
    bound = max([prefix, *items]) + max_size - stream.DATA_CHUNK_OVERHEAD
    asm = stream.Assembler(stream.stream_digest(cs[0]))
    got = {}
    for c in cs:
        got.update(asm.feed(c))
        assert asm.buffered <= bound
    asm.finish()
    assert set(got) == set(tensors)
    for name, arr in tensors.items():
        assert np.array_equal(got[name], arr)


# ------------------------------------------------------------------ each failure has its own code

CHUNKS = list(stream.chunks(DOC, 1000))
DIGEST = stream.stream_digest(CHUNKS[0])
OTHER = list(stream.chunks(tensorcbor.encode_bundle({"x": np.zeros(400, np.float32)}), 1000))


def altered(chunk: bytes, at: int = -1) -> bytes:
    b = bytearray(chunk)
    b[at] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("sequence,code", [
    (lambda c: [c[0], c[2], c[1], *c[3:]], "CHUNK_OUT_OF_ORDER"),
    (lambda c: [c[0], c[1], c[1], *c[2:]], "DUPLICATE_CHUNK"),
    (lambda c: c[:-1], "MISSING_CHUNK"),
    (lambda c: [c[0], OTHER[1], *c[2:]], "WRONG_STREAM"),
    (lambda c: [c[0], altered(c[1]), *c[2:]], "CHUNK_DIGEST_MISMATCH"),

    (lambda c: [c[0], c[1][:-3]], "TRUNCATED"),
    (lambda c: [c[0], c[1] + b"\x00"], "TRAILING_BYTES"),
    (lambda c: [c[1]], "UNEXPECTED_TYPE"),
    (lambda c: [c[0], c[0]], "UNEXPECTED_TYPE"),
    (lambda c: [DOC], "BAD_MAGIC"),
    (lambda c: [], "MISSING_CHUNK"),
    (lambda c: [*c, c[-1]], "DUPLICATE_CHUNK"),
])
def test_bad_sequences(sequence, code: str) -> None:  # type: ignore[no-untyped-def]
    seq = sequence(CHUNKS)
    assert code_of(lambda: feed_all(seq)) == code
    assert code_of(lambda: stream.join(seq)) == code
    if seq and seq[0] == CHUNKS[0]:  # knowing the digest changes nothing when the manifest is right
        assert code_of(lambda: feed_all(seq, DIGEST)) == code


def test_expected_digest() -> None:
    bad = altered(CHUNKS[0], 20)  # inside the document length: still a well-formed manifest
    assert code_of(lambda: feed_all([bad, *CHUNKS[1:]], DIGEST)) == "STREAM_DIGEST_MISMATCH"
    assert code_of(lambda: stream.join(OTHER, DIGEST)) == "STREAM_DIGEST_MISMATCH"
    # without the digest, the altered manifest is self-consistent but no chunk matches it
    assert code_of(lambda: feed_all([bad, *CHUNKS[1:]])) == "WRONG_STREAM"


def _data_chunk(sid: bytes, index: int, payload: bytes) -> bytes:
    return stream.STREAM_MAGIC + b"\x84\x01\x58\x20" + sid + cbor2.dumps(index) + cbor2.dumps(payload)


def test_index_out_of_range_and_oversized_chunk() -> None:
    m = stream.parse_manifest(CHUNKS[0])
    v = stream.Verifier(CHUNKS[0])
    assert code_of(lambda: v.verify(_data_chunk(m.stream_digest, m.count + 1, b"x"))) == "CHUNK_OUT_OF_RANGE"
    assert code_of(lambda: v.verify(_data_chunk(m.stream_digest, 0, b"x"))) == "CHUNK_OUT_OF_RANGE"
    assert code_of(lambda: v.verify(_data_chunk(m.stream_digest, 1, bytes(1000)))) == "CHUNK_TOO_LARGE"


def _manifest(length: int, max_size: int, doc_sha: bytes, payloads: list[bytes]) -> bytes:
    digests = b"".join(hashlib.sha256(p).digest() for p in payloads)
    return stream._encode_manifest(length, max_size, doc_sha, digests)


def test_inconsistent_manifests() -> None:
    doc = tensorcbor.encode(np.arange(10, dtype=np.float32))
    good = hashlib.sha256(doc).digest()
    # payloads that do not add up to the declared length
    m = _manifest(len(doc) + 1, 1000, good, [doc])
    sid = stream.stream_digest(m)
    assert code_of(lambda: stream.join([m, _data_chunk(sid, 1, doc)])) == "STREAM_LENGTH_MISMATCH"
    # a manifest claiming more than its chunks can carry
    assert code_of(lambda: stream.parse_manifest(_manifest(10**6, 200, good, [doc]))) == "STREAM_LENGTH_MISMATCH"
    # a manifest larger than its own limit
    assert code_of(lambda: stream.parse_manifest(_manifest(1, 128, good, [b"x"] * 3))) == "CHUNK_TOO_LARGE"
    # chunk digests right, document digest wrong
    m = _manifest(len(doc), 1000, bytes(32), [doc])
    sid = stream.stream_digest(m)
    assert code_of(lambda: stream.join([m, _data_chunk(sid, 1, doc)])) == "DOCUMENT_DIGEST_MISMATCH"


def test_errors_inside_the_document_keep_their_codes() -> None:
    bad = bytearray(tensorcbor.encode(np.array([True, False])))
    bad[-1] = 2
    doc = bytes(bad)
    m = _manifest(len(doc), 1000, hashlib.sha256(doc).digest(), [doc])
    chunk = _data_chunk(stream.stream_digest(m), 1, doc)
    assert code_of(lambda: feed_all([m, chunk])) == "INVALID_ELEMENT"
    with pytest.raises(DecodeError):  # the encoder refuses to chunk an invalid document
        list(stream.chunks(b"\xd9\xd9\xf7\xd9\xcb\x74\x84\x02", 1000))


def test_encoder_limits() -> None:
    with pytest.raises(EncodeError):
        list(stream.chunks(DOC, 100))
    with pytest.raises(EncodeError):  # 4088 bytes in 76-byte payloads: the manifest cannot list them all
        list(stream.chunks(DOC, 128))
    with pytest.raises(EncodeError):
        list(stream.chunks(DOC, 1000, metadata={"x": 1}))


# ------------------------------------------------------------------ CLI

def test_cli_chunk_and_join(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "m.tcb"
    src.write_bytes(DOC)
    out = tmp_path / "chunks"
    assert cli_main(["chunk", str(src), str(out), "--max-size", "1000"]) == 0
    digest = capsys.readouterr().out.split()[0]
    assert bytes.fromhex(digest) == DIGEST
    assert sorted(p.name for p in out.iterdir()) == [f"chunk-{i:06d}.cbor" for i in range(len(CHUNKS))]
    assert cli_main(["join", str(out), str(tmp_path / "back.tcb"), "--digest", digest]) == 0
    assert (tmp_path / "back.tcb").read_bytes() == DOC
    # an altered chunk is named
    bad = out / "chunk-000002.cbor"
    bad.write_bytes(altered(bad.read_bytes()))
    assert cli_main(["join", str(out), str(tmp_path / "x.tcb")]) == 1
    err = capsys.readouterr().err
    assert "chunk-000002.cbor" in err and "CHUNK_DIGEST_MISMATCH" in err
    assert not (tmp_path / "x.tcb").exists()
    # a missing chunk is named
    bad.unlink()
    assert cli_main(["join", str(out), str(tmp_path / "x.tcb")]) == 1
    err = capsys.readouterr().err
    assert "chunk-000002.cbor" in err and "MISSING_CHUNK" in err
    # the last chunk missing
    assert cli_main(["chunk", str(src), str(tmp_path / "c2"), "--max-size", "1000"]) == 0
    (tmp_path / "c2" / f"chunk-{len(CHUNKS) - 1:06d}.cbor").unlink()
    assert cli_main(["join", str(tmp_path / "c2"), str(tmp_path / "x.tcb")]) == 1
    assert "MISSING_CHUNK" in capsys.readouterr().err
