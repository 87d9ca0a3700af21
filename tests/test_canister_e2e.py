"""End to end: the tensor-store canisters (examples/) built for the IC and run under the IC emulation (tensorcbor.ic).

Builds each canister's real .wasm, installs it, uploads a synthetic transformer-shaped model in verified chunks
(SPEC.md §10), tampers with chunks, lists, reads every tensor back byte-identical, runs the dense layer
against numpy, upgrades and reads again. The model is about 20 MB (some 400 tensors) for the Rust canister and
8 MB for the Motoko one (its upload costs ~208 IC instructions per byte); TENSORCBOR_E2E_MB=100 and
TENSORCBOR_E2E_MOTOKO_MB=100 give the 100 MB runs. Without cargo, the wasm32 target, node or the npm motoko
compiler these tests FAIL, not skip.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorcbor
from tensorcbor import stream
from tensorcbor.errors import CODES
from tensorcbor.ic import UPDATE_LIMIT, Canister, Trap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import canisters  # noqa: E402
from store_client import MAX_REPLY, StoreClient  # noqa: E402

MODEL_MB = float(os.environ.get("TENSORCBOR_E2E_MB", "20"))
# The Motoko canister verifies chunks at ~208 IC instructions per byte (SHA-256 in Motoko): a smaller default.
MOTOKO_MODEL_MB = float(os.environ.get("TENSORCBOR_E2E_MOTOKO_MB", "8"))
CONTROLLER = b"\x01"
STRANGER = b"\x02\x02\x02"
UPLOADER = b"\x03\x03\x03"
KINDS = ["rust", "motoko"]


def _build(kind: str) -> Path:
    try:
        return canisters.STORE_BUILDERS[kind]()
    except canisters.BuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module", params=KINDS)
def wasm(request: pytest.FixtureRequest) -> Iterator[tuple[str, bytes]]:
    yield request.param, _build(request.param).read_bytes()


@pytest.fixture(scope="module")
def model(wasm: tuple[str, bytes]) -> tuple[dict[str, np.ndarray], bytes, list[bytes]]:
    size = MOTOKO_MODEL_MB if wasm[0] == "motoko" else MODEL_MB
    tensors = canisters.synthetic_model(int(size * 1_000_000))
    doc = tensorcbor.encode_bundle(tensors, {"model": "synthetic", "layers": len(tensors) // 12})
    return tensors, doc, list(stream.chunks(doc))


def _fresh(wasm: bytes) -> tuple[Canister, StoreClient]:
    c = Canister(wasm, controllers=[CONTROLLER])
    c.install()
    return c, StoreClient(c)


def _err(value: Any) -> tuple[str, Any]:
    tag, inner = value
    assert tag == "Err", f"expected an error, got {value!r}"
    return inner


def _format_code(value: Any) -> str:
    kind, detail = _err(value)
    assert kind == "Format", f"expected a format error, got {kind}: {detail}"
    assert detail["code"] in CODES, f"{detail['code']} is not a registry code (src/tensorcbor/errors.py)"
    assert detail["message"], "a rejection carries a message"
    return str(detail["code"])


def _tamper(chunk: bytes) -> bytes:
    b = bytearray(chunk)
    b[-100] ^= 0x01  # inside the payload
    return bytes(b)


def test_only_controllers_and_allowed_principals_upload(wasm: tuple[str, bytes],
                                                        model: tuple[Any, bytes, list[bytes]]) -> None:
    _, doc, chunks = model
    c, s = _fresh(wasm[1])
    direct = StoreClient(c, ingress=False)  # as from another canister: no inspect_message, the method decides
    digest = stream.stream_digest(chunks[0])
    assert _err(direct.begin_upload(chunks[0], digest, STRANGER)[0])[0] == "Unauthorized"
    assert _err(direct.allow(UPLOADER, STRANGER)[0])[0] == "Unauthorized"
    assert _err(direct.set_quota(1, STRANGER)[0])[0] == "Unauthorized"
    for call in (lambda: s.begin_upload(chunks[0], digest, STRANGER), lambda: s.allow(UPLOADER, STRANGER),
                 lambda: s.set_quota(1, STRANGER)):
        with pytest.raises(Trap, match="refused by canister_inspect_message"):  # as ingress: refused unrun
            call()
    assert s.status()[0]["upload"] is None
    assert s.allow(UPLOADER)[0] == ("Ok", None)
    status = s.begin_upload(chunks[0], digest, UPLOADER)[0]
    assert status[0] == "Ok" and status[1]["chunks"] == len(chunks) - 1
    assert _err(direct.put_chunk(chunks[1], STRANGER)[0])[0] == "Unauthorized"
    with pytest.raises(Trap, match="refused by canister_inspect_message"):
        s.put_chunk(chunks[1], STRANGER)
    assert s.put_chunk(chunks[1], UPLOADER)[0][0] == "Ok"


def test_a_trapped_message_changes_nothing(wasm: tuple[str, bytes], model: tuple[Any, bytes, list[bytes]]) -> None:
    _, doc, chunks = model
    c, s = _fresh(wasm[1])
    assert s.begin_upload(chunks[0], stream.stream_digest(chunks[0]))[0][0] == "Ok"
    assert s.put_chunk(chunks[1])[0][0] == "Ok"
    before = (s.status()[0], bytes(c.stable))
    with pytest.raises(Trap):
        c.update("put_chunk", b"DIDL\x00\x01\x71\x03abc")  # a text where a blob is expected: Candid traps
    assert (s.status()[0], bytes(c.stable)) == before
    assert s.put_chunk(chunks[2])[0][1]["received"] == 2, "the canister goes on after the trap"


def test_manifest_checks_and_quota_come_before_anything_is_stored(wasm: tuple[str, bytes],
                                                                    model: tuple[Any, bytes, list[bytes]]) -> None:
    _, doc, chunks = model
    c, s = _fresh(wasm[1])
    digest = stream.stream_digest(chunks[0])
    assert _err(s.begin_upload(chunks[0], digest[:31])[0])[0] == "InvalidArgument"
    assert _format_code(s.begin_upload(chunks[0], bytes(32))[0]) == "STREAM_DIGEST_MISMATCH"
    assert _format_code(s.begin_upload(chunks[1], stream.stream_digest(chunks[1]))[0]) == "UNEXPECTED_TYPE"
    assert _err(s.put_chunk(chunks[1])[0])[0] == "InvalidState"
    assert s.set_quota(len(doc) - 1)[0] == ("Ok", None)
    before = bytes(c.stable)
    assert _format_code(s.begin_upload(chunks[0], digest)[0]) == "QUOTA_EXCEEDED"
    assert s.status()[0]["upload"] is None and bytes(c.stable) == before, "a rejected manifest stores nothing"
    assert s.set_quota(len(doc))[0] == ("Ok", None)
    assert s.begin_upload(chunks[0], digest)[0][0] == "Ok"
    assert _format_code(s.finish()[0]) == "MISSING_CHUNK"


def test_upload_list_get_dense_upgrade(wasm: tuple[str, bytes], model: tuple[dict[str, np.ndarray], bytes,
                                                                           list[bytes]]) -> None:
    kind, code = wasm
    tensors, doc, chunks = model
    c, s = _fresh(code)
    digest = stream.stream_digest(chunks[0])
    assert len(chunks) >= 4, "the model spans several chunks"
    assert max(map(len, chunks)) <= stream.DEFAULT_MAX_SIZE

    assert s.begin_upload(chunks[0], digest)[0][0] == "Ok"
    bad = len(chunks) // 2
    other = list(stream.chunks(tensorcbor.encode(np.arange(4096)), 4096))  # another stream
    for k in range(1, len(chunks)):
        if k == bad:
            before = (s.status()[0], hashlib.sha256(c.stable).digest())
            rejections = {
                "CHUNK_DIGEST_MISMATCH": _tamper(chunks[k]),
                "CHUNK_OUT_OF_ORDER": chunks[k + 1],
                "DUPLICATE_CHUNK": chunks[k - 1],
                "WRONG_STREAM": other[1],
                "CHUNK_TOO_LARGE": chunks[k] + bytes(stream.DEFAULT_MAX_SIZE + 1 - len(chunks[k])),
                "BAD_MAGIC": doc[:1000],
            }
            for expected, chunk in rejections.items():
                assert _format_code(s.put_chunk(chunk)[0]) == expected
                assert (s.status()[0], hashlib.sha256(c.stable).digest()) == before, \
                    f"a chunk rejected with {expected} changed the canister's state"
        value, res = s.put_chunk(chunks[k])
        assert value[0] == "Ok", value
        assert value[1]["received"] == k
        assert res.ic_instructions < UPDATE_LIMIT
    stored = s.finish()[0]
    assert stored == ("Ok", {"tensors": len(tensors), "doc_length": len(doc)})

    bundle = tensorcbor.decode_bundle(doc)
    _check_listing(s, bundle)
    _check_every_tensor(s, bundle)
    _check_dense(s, tensors)

    pre, post = c.upgrade()
    assert pre.reject is None and post.reject is None
    _check_listing(s, bundle)
    _check_every_tensor(s, bundle)
    _check_dense(s, tensors)
    assert _err(s.begin_upload(chunks[0], digest)[0])[0] == "InvalidState", "a stored model needs clear() first"


def _check_listing(s: StoreClient, bundle: tensorcbor.Bundle) -> None:
    listing, _ = s.list()
    assert [t["name"] for t in listing] == list(bundle), "list gives every tensor in wire order"
    for t in listing:
        arr = bundle[t["name"]]
        assert t["shape"] == list(arr.shape)
        assert t["doc_size"] == len(tensorcbor.encode(arr))
    infos = {t["name"]: t for t in listing}
    assert infos["head.dense.weight"]["dtype"] == "float32"
    assert infos["head.dense.weight"]["size"] == 1024 * 1024 * 4
    assert infos["layers.000.attn.qkv.weight"]["dtype"] == "bfloat16"
    assert infos["layers.000.rope.int4"]["dtype"] == "int4"
    assert infos["layers.000.attn.mask"]["dtype"] == "bool"
    assert infos["vocab"]["dtype"] == "string"


def _check_every_tensor(s: StoreClient, bundle: tensorcbor.Bundle) -> None:
    listing, _ = s.list()
    large = 0
    for t in listing:
        got = s.fetch(t["name"], t["doc_size"])
        assert got == tensorcbor.encode(bundle[t["name"]]), f"{t['name']} differs"
        large += t["doc_size"] > MAX_REPLY
    assert large >= 1, "at least one tensor needs ranged reads"
    kind, detail = _err(s.get("head.dense.weight")[0])
    assert kind == "ReplyTooLarge" and detail["limit"] == MAX_REPLY
    assert _err(s.get("no such tensor")[0])[0] == "NotFound"
    piece = s.get_range("head.dense.bias", 3, 10)[0]
    assert piece == ("Ok", tensorcbor.encode(bundle["head.dense.bias"])[3:13])


def _check_dense(s: StoreClient, tensors: dict[str, np.ndarray]) -> None:
    w, b = tensors["head.dense.weight"], tensors["head.dense.bias"]
    rng = np.random.default_rng(7)
    for x in (rng.standard_normal(1024, dtype=np.float32), rng.standard_normal((3, 1024), dtype=np.float32)):
        value, res = s.dense("head.dense.weight", "head.dense.bias", tensorcbor.encode(x))
        assert value[0] == "Ok", value
        y = tensorcbor.decode(value[1])
        assert y.dtype == np.float32 and y.shape == x.shape[:-1] + (1024,)
        ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
        bound = np.abs(x).astype(np.float64) @ np.abs(w.T).astype(np.float64) + np.abs(b)
        assert np.all(np.abs(y - ref) <= 1e-5 * bound + 1e-6), "dense differs from numpy beyond float32 rounding"
    value, _ = s.dense("head.dense.weight", None, tensorcbor.encode(np.ones(1024, np.float32)))
    assert np.allclose(tensorcbor.decode(value[1]), w.sum(axis=1), rtol=1e-4, atol=1e-4)
    assert _err(s.dense("head.dense.weight", None, tensorcbor.encode(np.ones(5, np.float32)))[0])[0] == \
        "InvalidArgument"
    assert _err(s.dense("embed.weight", None, tensorcbor.encode(np.ones(128, np.float32)))[0])[0] == \
        "InvalidArgument"
    assert _format_code(s.dense("head.dense.weight", None, b"\x00\x01")[0]) == "BAD_MAGIC"
