"""The stream conformance suite (conformance/stream-v1) against the reference receivers and the Assembler."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import cbor2
import pytest

from tensorcbor import stream
from tensorcbor.conformance.runner import run
from tensorcbor.conformance.streams import OK, answer_diffs, stream_answer, stream_request
from tensorcbor.conformance.suite import load_suite
from tensorcbor.errors import CODES, DecodeError

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance" / "stream-v1"
sys.path.insert(0, str(ROOT))

from conformance.gen import stream_vectors  # noqa: E402

VECTORS = list(stream_vectors.vectors())
RECORDS = {v.id: v.record() for v in VECTORS}


def kinds(receiver: str) -> tuple[str, ...]:
    return ("sequential", "storing") if receiver == "both" else (receiver,)


@pytest.mark.parametrize("v", VECTORS, ids=[v.id for v in VECTORS])
def test_reference_receivers(v: stream_vectors.StreamVector) -> None:
    for kind in kinds(v.receiver):
        got = stream_answer(stream_request(v.id, RECORDS[v.id], kind, v.chunks))
        assert answer_diffs(RECORDS[v.id], got) == [], (v.id, kind, got)


# Where the Assembler, which also decodes the document, must answer otherwise: the manifest of
# stream.length.long declares 79 bytes, so the document it carries is an 80-byte tensor cut to 79; its
# header (in chunk 1) already shows the element data running past the end: TRUNCATED, and it sticks.
DOCUMENT_ERRORS = {"stream.length.long": (["ok", "TRUNCATED", "TRUNCATED"], "TRUNCATED")}


@pytest.mark.parametrize("v", [v for v in VECTORS if v.receiver != "storing"], ids=lambda v: v.id)
def test_assembler_gives_the_same_verdicts(v: stream_vectors.StreamVector) -> None:
    """The Assembler is a sequential receiver: same verdict per chunk, and it decodes the document."""
    want_verdicts, want_end = DOCUMENT_ERRORS.get(v.id, (v.verdicts, v.end))
    asm = stream.Assembler(v.expected_digest, quota=v.quota)
    verdicts = []
    tensors = []
    for chunk in v.chunks:
        try:
            tensors += asm.feed(chunk)
            verdicts.append(OK)
        except DecodeError as exc:
            verdicts.append(exc.code)
    assert verdicts == want_verdicts
    try:
        asm.finish()
        end = OK
    except DecodeError as exc:
        end = exc.code
    assert end == want_end
    if end == OK:
        assert tensors and all(name is not None for name, _ in tensors)


def test_vector_records_are_consistent() -> None:
    for v in VECTORS:
        rec = RECORDS[v.id]
        assert rec["receiver"] in ("sequential", "storing", "both")
        assert all(x == OK or x in CODES for x in rec["verdicts"]) and (rec["end"] == OK or rec["end"] in CODES)
        assert cbor2.loads(v.file_bytes()) == v.chunks  # one CBOR array of byte strings
        assert (rec["verdict"] == "valid") == (rec["end"] == OK)


def test_committed_suite_equals_a_fresh_generation(tmp_path: Path) -> None:
    stream_vectors.write(tmp_path)
    assert (tmp_path / "manifest.json").read_text() == (SUITE / "manifest.json").read_text()
    committed = sorted(p.name for p in (SUITE / "vectors").iterdir())
    assert committed == sorted(p.name for p in (tmp_path / "vectors").iterdir())
    for name in committed:
        assert (SUITE / "vectors" / name).read_bytes() == (tmp_path / "vectors" / name).read_bytes(), name


def test_every_stream_code_and_both_receivers_have_vectors() -> None:
    codes = {x for v in VECTORS for x in [*v.verdicts, v.end]}
    assert {"STREAM_DIGEST_MISMATCH", "WRONG_STREAM", "CHUNK_OUT_OF_RANGE", "DUPLICATE_CHUNK", "CHUNK_OUT_OF_ORDER",
            "MISSING_CHUNK", "CHUNK_DIGEST_MISMATCH", "CHUNK_TOO_LARGE", "STREAM_LENGTH_MISMATCH",
            "DOCUMENT_DIGEST_MISMATCH", "INVALID_CHUNK_SIZE", "QUOTA_EXCEEDED", "UNSUPPORTED_VERSION"} <= codes
    assert {v.receiver for v in VECTORS} == {"sequential", "storing", "both"}
    resent = [v for v in VECTORS if v.end == OK and any(x != OK for x in v.verdicts)]
    assert len(resent) >= 4  # a rejected chunk, then its correction, and the stream completes


def test_runner_passes_the_reference_and_catches_a_wrong_answer() -> None:
    suite = load_suite("stream")
    assert suite.is_stream and len(suite.vectors) == len(VECTORS)

    class Wrong:
        name = "wrong"

        def stream(self, vid: str, request: dict[str, Any]) -> dict[str, Any]:
            got = stream_answer(request)
            if vid == "stream.resend.altered":
                got["verdicts"][2] = OK
            if vid == "stream.tensor.128":
                got["document_sha256"] = "00" * 32
            if vid == "stream.chunk.trailing":
                got["offsets"][1] -= 1  # the right code at the wrong byte
            return got

        def close(self) -> None:
            pass

    results = run(Wrong(), suite.vectors)  # type: ignore[arg-type]
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert set(failed) == {"stream.resend.altered", "stream.tensor.128", "stream.chunk.trailing"}
    assert "chunk 1: TRAILING_BYTES expected at byte" in failed["stream.chunk.trailing"][0]
    results = run(Wrong(), suite.vectors, offsets=False)  # type: ignore[arg-type]
    assert {r.vector.id for r in results if not r.ok} == {"stream.resend.altered", "stream.tensor.128"}


# ------------------------------------------------------------------ the cut of §10.3

def _naive_chunks(doc: bytes, max_size: int) -> list[bytes]:
    """Wrong: every chunk as long as the capacity allows, tensor headers ignored."""
    cap = max_size - 52
    payloads = [doc[i:i + cap] for i in range(0, len(doc), cap)]
    m = stream_vectors.manifest(len(doc), max_size, hashlib.sha256(doc).digest(),
                                b"".join(hashlib.sha256(p).digest() for p in payloads))
    sid = stream.stream_digest(m)
    return [m, *(stream_vectors.data_chunk(sid, i + 1, p) for i, p in enumerate(payloads))]


def test_cut_vectors_are_the_cut_of_their_document() -> None:
    """A `cut` vector's chunks are what §10.3 makes of its document and max-size; the header rule matters."""
    cut = [v for v in VECTORS if "cut" in v.flags]
    assert {"stream.cut.header-start", "stream.tensor.128", "stream.bundle.700"} <= {v.id for v in cut}
    for v in cut:
        assert v.document is not None
        max_size = cbor2.loads(v.chunks[0]).value[2]
        assert list(stream.chunks(v.document, max_size)) == v.chunks, v.id
    moved = next(v for v in cut if v.id == "stream.cut.header-start")
    assert moved.document is not None
    naive = _naive_chunks(moved.document, 153)
    assert stream.stream_digest(naive[0]) != moved.expected_digest  # a cutter without the rule fails the vector
    assert _verdicts(stream.SequentialReceiver(moved.expected_digest), naive)[0] == "STREAM_DIGEST_MISMATCH"


# ------------------------------------------------------------------ the order vectors tell wrong orders apart

class _LengthBeforeDigest(stream.SequentialReceiver):
    """Wrong: D11 before D10."""

    def _check(self, chunk: bytes | bytearray | memoryview) -> stream.DataChunk:
        payload = cbor2.loads(bytes(chunk)).value[3]
        assert self.manifest is not None
        if not payload or self.received + len(payload) > self.manifest.doc_length:
            raise DecodeError("STREAM_LENGTH_MISMATCH", "wrong order")
        return super()._check(chunk)


class _IndexBeforeStream(stream.SequentialReceiver):
    """Wrong: D6/D7 before D5."""

    def _check(self, chunk: bytes | bytearray | memoryview) -> stream.DataChunk:
        index = cbor2.loads(bytes(chunk)).value[2]
        assert self.manifest is not None
        if not 1 <= index <= self.manifest.count:
            raise DecodeError("CHUNK_OUT_OF_RANGE", "wrong order")
        if index in self.have:
            raise DecodeError("DUPLICATE_CHUNK", "wrong order")
        return super()._check(chunk)


def _verdicts(rx: stream.SequentialReceiver, chunks: list[bytes]) -> list[str]:
    out = []
    for c in chunks:
        try:
            rx.accept(c)
            out.append(OK)
        except DecodeError as exc:
            out.append(exc.code)
    return out


@pytest.mark.parametrize("vid,wrong", [
    ("stream.order.digest-before-length", _LengthBeforeDigest),
    ("stream.order.digest-before-empty", _LengthBeforeDigest),
    ("stream.order.wrong-stream-before-range", _IndexBeforeStream),
    ("stream.order.wrong-stream-before-duplicate", _IndexBeforeStream),
])
def test_order_vectors_reject_the_wrong_order(vid: str, wrong: type[stream.SequentialReceiver]) -> None:
    v = next(v for v in VECTORS if v.id == vid)
    assert _verdicts(stream.SequentialReceiver(v.expected_digest), v.chunks) == v.verdicts
    assert _verdicts(wrong(v.expected_digest), v.chunks) != v.verdicts


def test_manifest_matches_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")  # a dev dependency
    schema = json.loads((ROOT / "conformance" / "stream-manifest.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    manifest = json.loads((SUITE / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft202012Validator)
    for v in manifest["vectors"]:  # what a schema cannot say: one offset per verdict, null exactly for "ok"
        assert len(v["offsets"]) == len(v["verdicts"]) == v["chunks"], v["id"]
        assert all((o is None) == (c == "ok") for o, c in zip(v["offsets"], v["verdicts"], strict=True)), v["id"]


def test_manifest_json_documents_every_field() -> None:
    readme = (ROOT / "conformance" / "README.md").read_text(encoding="utf-8")
    manifest = json.loads((SUITE / "manifest.json").read_text())
    for key in [*manifest, *manifest["vectors"][0]]:
        assert f"`{key}`" in readme, key


ADAPTER = f"{sys.executable} -m tensorcbor.conformance.adapter"


def test_adapter_batch_mode_passes_the_stream_suite() -> None:
    from tensorcbor.conformance.impl import BatchImpl

    results = run(BatchImpl(ADAPTER, timeout=30), load_suite("stream").vectors)
    assert all(r.ok for r in results), {r.vector.id: r.failures for r in results if not r.ok}


def test_adapter_single_mode_and_cli_on_the_stream_suite(capsys: pytest.CaptureFixture[str]) -> None:
    from tensorcbor.cli import main
    from tensorcbor.conformance.impl import ProcessImpl

    suite = load_suite("stream")
    sample = [suite.get(i) for i in ("stream.resend.altered", "stream.storing.reverse", "stream.quota.exceeded")]
    results = run(ProcessImpl(ADAPTER, timeout=30), sample)
    assert all(r.ok for r in results), [r.failures for r in results]
    assert main(["conformance", "run", "--suite", "stream"]) == 0
    assert f"total {len(VECTORS)} 0" in " ".join(capsys.readouterr().out.split())
