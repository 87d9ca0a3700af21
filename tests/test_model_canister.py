"""examples/model-canister end to end under tensorcbor.ic: build the real .wasm, install it, upload a BERT
bundle (written by tensorcbor.save_file with Hugging Face names) in verified chunks with the tensor-store
protocol, call `embed`, and compare with an independent float64 numpy forward pass of the same weights.

CI uses a 2-layer, 1,000-token-vocabulary model of MiniLM's width (hidden 384, 12 heads, intermediate 1536);
bench/bench_canister_model.py runs the full all-MiniLM-L6-v2 shape.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorcbor
from tensorcbor import stream
from tensorcbor.ic import QUERY_LIMIT, Canister

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import model_canister as mc  # noqa: E402

SHAPE = replace(mc.MINILM, vocab_size=1000, num_hidden_layers=2, max_position_embeddings=128)
STRANGER = b"\x02\x02\x02"
TOL = 1e-4


@pytest.fixture(scope="module")
def wasm() -> bytes:
    try:
        return mc.build().read_bytes()
    except mc.BuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], bytes]:
    weights = mc.bert_weights(SHAPE, seed=1)
    path = tmp_path_factory.mktemp("model") / "model.tcb"
    tensorcbor.save_file(weights, path, {"architecture": "BertModel"}, durable=False)
    return weights, path.read_bytes()


def _fresh(wasm: bytes) -> tuple[Canister, mc.ModelClient]:
    c = Canister(wasm)
    c.install(mc.settings_arg(SHAPE))
    return c, mc.ModelClient(c)


@pytest.fixture(scope="module")
def loaded(wasm: bytes, model: tuple[Any, bytes]) -> Iterator[tuple[Canister, mc.ModelClient]]:
    c, client = _fresh(wasm)
    chunks = list(stream.chunks(model[1]))
    assert len(chunks) > 3, "the upload is really chunked"
    client.upload(chunks, stream.stream_digest(chunks[0]))
    yield c, client


def _embedding(client: mc.ModelClient, ids: list[int]) -> tuple[np.ndarray, int]:
    value, res = client.embed(ids)
    doc = bytes(mc.expect_ok(value, "embed"))
    v = tensorcbor.decode(doc)
    assert v.dtype == np.float32 and v.shape == (SHAPE.hidden_size,)
    return v, res.ic_instructions


@pytest.mark.parametrize("n", [1, 8, 33])
def test_embedding_matches_the_reference_forward_pass(loaded: Any, model: Any, n: int) -> None:
    _, client = loaded
    ids = [int(x) for x in np.random.default_rng(n).integers(0, SHAPE.vocab_size, n)]
    got, instructions = _embedding(client, ids)
    want = mc.reference_embedding(model[0], ids, SHAPE)
    assert mc.max_rel_err(got, want) < TOL, mc.max_rel_err(got, want)
    assert abs(float(np.linalg.norm(got)) - 1) < 1e-5
    assert 0 < instructions < QUERY_LIMIT


def test_different_inputs_give_different_embeddings(loaded: Any) -> None:
    _, client = loaded
    a, _ = _embedding(client, [101, 7, 8, 102])
    b, _ = _embedding(client, [101, 8, 7, 102])  # same tokens, other order: positions matter
    assert np.max(np.abs(a - b)) > 1e-3


def test_status_reports_the_inferred_architecture(loaded: Any, model: Any) -> None:
    _, client = loaded
    status, _ = client.status()
    assert status["upload"] is None
    assert status["model"] == {"doc_length": len(model[1]), "vocab_size": SHAPE.vocab_size,
                               "hidden_size": SHAPE.hidden_size, "layers": SHAPE.num_hidden_layers,
                               "heads": SHAPE.num_attention_heads, "max_tokens": SHAPE.max_position_embeddings}
    assert status["stable_bytes"] >= len(model[1])
    assert status["heap_bytes"] > len(model[1]), "the weights live in the heap as candle tensors"


@pytest.mark.parametrize("ids, needle", [([], "0 token ids"), ([5, SHAPE.vocab_size], "token 1 is id 1000"),
                                         ([1] * (SHAPE.max_position_embeddings + 1), "1 to 128")])
def test_bad_token_ids_are_rejected(loaded: Any, ids: list[int], needle: str) -> None:
    _, client = loaded
    tag, (kind, message) = client.embed(ids)[0]
    assert (tag, kind) == ("Err", "InvalidArgument") and needle in message, message


def test_the_model_survives_an_upgrade(wasm: bytes, model: Any) -> None:
    c, client = _fresh(wasm)
    chunks = list(stream.chunks(model[1]))
    client.upload(chunks, stream.stream_digest(chunks[0]))
    before, _ = _embedding(client, [101, 2, 3, 102])
    c.upgrade()
    after, _ = _embedding(client, [101, 2, 3, 102])
    assert before.tobytes() == after.tobytes()


def test_an_upload_continues_across_an_upgrade(wasm: bytes, model: Any) -> None:
    """The upload state machine is rust-store's (examples/store-upload): an upgrade between chunks keeps the
    chunks in stable memory and the receiver's place, and the settings of the install."""
    c, client = _fresh(wasm)
    chunks = list(stream.chunks(model[1]))
    half = len(chunks) // 2
    assert client.begin_upload(chunks[0], stream.stream_digest(chunks[0]))[0][0] == "Ok"
    for chunk in chunks[1:half]:
        assert client.put_chunk(chunk)[0][0] == "Ok"
    before = client.status()[0]["upload"]
    c.upgrade()
    assert client.status()[0]["upload"] == before
    tag, err = client.put_chunk(chunks[half - 1])[0]
    assert tag == "Err" and err[1]["code"] == "DUPLICATE_CHUNK"
    for chunk in chunks[half:]:
        assert client.put_chunk(chunk)[0][0] == "Ok"
    assert client.finish()[0][0] == "Ok"
    ids = [101, 5, 6, 102]
    got, _ = _embedding(client, ids)
    assert mc.max_rel_err(got, mc.reference_embedding(model[0], ids, SHAPE)) < TOL


def test_upload_is_verified_and_controller_only(wasm: bytes, model: Any) -> None:
    c, client = _fresh(wasm)
    tag, (kind, _) = client.embed([1, 2])[0]
    assert (tag, kind) == ("Err", "InvalidState")
    chunks = list(stream.chunks(model[1]))
    digest = stream.stream_digest(chunks[0])
    res = c.update("begin_upload", mc.candid.encode([("blob", chunks[0]), ("blob", digest)]), STRANGER)
    assert client._decode(res)[1][0] == "Unauthorized"
    tag, err = client.begin_upload(chunks[0], bytes(32))[0]
    assert tag == "Err" and err[0] == "Format" and err[1]["code"] == "STREAM_DIGEST_MISMATCH"
    assert client.begin_upload(chunks[0], digest)[0][0] == "Ok"
    bad = bytearray(chunks[1])
    bad[-1] ^= 1
    tag, err = client.put_chunk(bytes(bad))[0]
    assert tag == "Err" and err[1]["code"] == "CHUNK_DIGEST_MISMATCH"
    tag, err = client.put_chunk(chunks[2])[0]
    assert tag == "Err" and err[1]["code"] == "CHUNK_OUT_OF_ORDER"
    tag, err = client.finish()[0]
    assert tag == "Err" and err[1]["code"] == "MISSING_CHUNK"
    for chunk in chunks[1:]:
        assert client.put_chunk(chunk)[0][0] == "Ok"
    assert client.finish()[0][0] == "Ok"
    tag, err = client.begin_upload(chunks[0], digest)[0]
    assert (tag, err[0]) == ("Err", "InvalidState"), "a loaded model must be cleared first"
    assert client.clear()[0] == ("Ok", None)
    assert client.embed([1])[0][1][0] == "InvalidState"


def test_a_bundle_without_a_bert_tensor_is_rejected_by_name(wasm: bytes, model: Any) -> None:
    weights = dict(model[0])
    del weights["encoder.layer.1.attention.self.key.weight"]
    doc = tensorcbor.encode_bundle(weights)
    _, client = _fresh(wasm)
    chunks = list(stream.chunks(doc))
    assert client.begin_upload(chunks[0], stream.stream_digest(chunks[0]))[0][0] == "Ok"
    for chunk in chunks[1:]:
        assert client.put_chunk(chunk)[0][0] == "Ok"
    tag, (kind, message) = client.finish()[0]
    assert (tag, kind) == ("Err", "Model") and "encoder.layer.1.attention.self.key.weight" in message, message
    assert client.status()[0]["model"] is None


def test_the_readme_path_safetensors_convert_chunk_embed(wasm: bytes, model: Any, tmp_path: Path) -> None:
    """A Hugging Face-style model.safetensors, `tensorcbor convert`, `tensorcbor chunk` files, upload, embed."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from tensorcbor.cli import main

    weights = model[0]
    safetensors_numpy.save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    assert main(["convert", str(tmp_path / "model.safetensors"), str(tmp_path / "model.tcb")]) == 0
    assert main(["chunk", str(tmp_path / "model.tcb"), str(tmp_path / "chunks")]) == 0
    chunks = [p.read_bytes() for p in sorted((tmp_path / "chunks").glob("chunk-*.cbor"))]
    _, client = _fresh(wasm)
    client.upload(chunks, stream.stream_digest(chunks[0]))
    ids = [101, 7592, 2088, 102]
    ids = [i % SHAPE.vocab_size for i in ids]
    got, _ = _embedding(client, ids)
    assert mc.max_rel_err(got, mc.reference_embedding(weights, ids, SHAPE)) < TOL
