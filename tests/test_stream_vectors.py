"""The stream conformance vectors (conformance/gen/stream_vectors.py) against the reference receiver."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import cbor2
import pytest

from tensorcbor import stream
from tensorcbor.errors import DecodeError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.gen import stream_vectors  # noqa: E402

VECTORS = list(stream_vectors.vectors())


def split_sequence(data: bytes) -> list[bytes]:
    """Split a CBOR sequence (RFC 8742) into its items, the way a runner reads a .cbors file."""
    fp = io.BytesIO(data)
    out = []
    while fp.tell() < len(data):
        start = fp.tell()
        cbor2.CBORDecoder(fp).decode()
        out.append(data[start:fp.tell()])
    return out


@pytest.mark.parametrize("v", VECTORS, ids=[v.id for v in VECTORS])
def test_vector(v: stream_vectors.StreamVector) -> None:
    asm = stream.Assembler(v.expected_digest)
    doc = bytearray()
    failed_at: int | None = -1
    try:
        for i, chunk in enumerate(v.chunks):
            failed_at = i
            asm.feed(chunk)
            if i:
                doc += cbor2.loads(chunk).value[3]
        failed_at = None
        asm.finish()
    except DecodeError as exc:
        assert v.error == exc.code, (v.id, str(exc))
        assert failed_at == v.error_chunk, v.id
        return
    assert v.error is None, f"{v.id}: expected {v.error}"
    assert bytes(doc) == v.document


def test_generated_suite_is_current(tmp_path: Path) -> None:
    stream_vectors.write(tmp_path)
    committed = ROOT / "conformance" / "stream-v1"
    assert (tmp_path / "manifest.json").read_text() == (committed / "manifest.json").read_text()
    for rec in json.loads((committed / "manifest.json").read_text())["vectors"]:
        data = (committed / rec["file"]).read_bytes()
        assert data == (tmp_path / rec["file"]).read_bytes()
        if rec["verdict"] == "valid":
            assert hashlib.sha256(stream.join(split_sequence(data))).hexdigest() == rec["document_sha256"]


def test_every_stream_code_has_a_vector() -> None:
    codes = {v.error for v in VECTORS}
    assert {"STREAM_DIGEST_MISMATCH", "WRONG_STREAM", "CHUNK_OUT_OF_RANGE", "DUPLICATE_CHUNK", "CHUNK_OUT_OF_ORDER",
            "MISSING_CHUNK", "CHUNK_DIGEST_MISMATCH", "CHUNK_TOO_LARGE", "STREAM_LENGTH_MISMATCH",
            "DOCUMENT_DIGEST_MISMATCH"} <= codes
