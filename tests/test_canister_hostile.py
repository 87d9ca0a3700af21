"""The tensor-store canisters against hostile callers and inputs, and what the IC's tooling expects of them.

Both canisters (examples/rust-store, examples/motoko-store) are built as `dfx deploy` / `icp build` would and
run under the IC emulation (tensorcbor.ic), which runs `canister_inspect_message` before an ingress update.
`StoreClient(c, ingress=False)` (the tests' `s`) calls the methods as another canister would, to test their own
checks; ingress calls go through `c.update` / `c.inspect`.
Each test runs on both canisters and, where both answer the same input, asserts they answer alike. Without
cargo, the wasm32 target, node, the npm motoko compiler or ic-wasm (`npm ci --prefix examples`) these tests
FAIL, not skip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tensorcbor
from tensorcbor import stream
from tensorcbor.cbor import head
from tensorcbor.errors import CODES, DecodeError
from tensorcbor.ic import Canister, candid
from tensorcbor.ic.costs import MAX_MESSAGE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import canisters  # noqa: E402
from store_client import NAMES, StoreClient  # noqa: E402

CONTROLLER = b"\x01"
STRANGER = b"\x02\x02\x02"
UPLOADER = b"\x03\x03\x03"
KINDS = ["rust", "motoko"]


def _build(kind: str) -> Path:
    try:
        return canisters.STORE_BUILDERS[kind]()
    except canisters.BuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def wasms() -> dict[str, bytes]:
    return {kind: _build(kind).read_bytes() for kind in KINDS}


def _model() -> dict[str, np.ndarray]:
    """Small tensors for hostile dense inputs: w [8192, 4] gives a y past one reply from a tiny x."""
    rng = np.random.default_rng(3)
    return {
        "w": rng.standard_normal((8192, 4), dtype=np.float32),
        "b": rng.standard_normal(8192, dtype=np.float32),
        "b_short": rng.standard_normal(4, dtype=np.float32),
        "h": rng.standard_normal((8, 4), dtype=np.float32).astype(np.float16),
        "v": rng.standard_normal(4, dtype=np.float32),
        "z": np.zeros((0, 4), np.float32),
        "big": rng.standard_normal((1024, 1024), dtype=np.float32),
        "flags": rng.random(100) < 0.5,
        "bf": rng.standard_normal((64, 64), dtype=np.float32).astype(ml_dtypes.bfloat16),
        "words": np.array(["alpha", "beta", "γ"]),
    }


MODEL = _model()
DOC = tensorcbor.encode_bundle(MODEL, {"model": "hostile"})
CHUNKS = list(stream.chunks(DOC))


def _installed(wasm: bytes, chunks: list[bytes] | None = CHUNKS) -> tuple[Canister, StoreClient]:
    c = Canister(wasm, controllers=[CONTROLLER])
    c.install()
    s = StoreClient(c, ingress=False)
    if chunks is not None:
        s.upload(chunks, stream.stream_digest(chunks[0]))
    return c, s


@pytest.fixture(scope="module", params=KINDS)
def loaded(request: pytest.FixtureRequest, wasms: dict[str, bytes]) -> Iterator[tuple[str, Canister,
                                                                                     StoreClient]]:
    c, s = _installed(wasms[request.param])
    yield request.param, c, s


def _err(value: Any) -> tuple[str, Any]:
    tag, inner = value
    assert tag == "Err", f"expected an error, got {value!r}"
    return inner


# ------------------------------------------------------------------ item 3: Candid metadata, endpoints

@pytest.mark.parametrize("kind", KINDS)
def test_public_candid_service_is_the_did_and_endpoints_match(kind: str) -> None:
    wasm = _build(kind)
    listing = canisters.ic_wasm(wasm, "metadata").stdout.splitlines()
    # One section of that name, and public (not a public one beside the compiler's private one).
    assert [line for line in listing if line.endswith(" candid:service")] == ["icp:public candid:service"], listing
    text = canisters.ic_wasm(wasm, "metadata", "candid:service").stdout
    assert text.strip() == canisters.DID.read_text().strip()
    check = canisters.check_endpoints(kind, wasm)
    assert check.returncode == 0, check.stdout + check.stderr


def test_icp_build_builds_both_canisters(wasms: dict[str, bytes]) -> None:
    """examples/icp.yaml: `icp build` (icp-cli from examples/package.json) gives the modules the tests run."""
    icp = canisters.EXAMPLES / "node_modules" / "@icp-sdk" / "icp-cli-linux-x64" / "bin" / "icp"
    assert icp.is_file(), "run `npm ci --prefix examples` (icp-cli from npm)"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    proc = subprocess.run([str(icp), "build"], cwd=canisters.EXAMPLES, capture_output=True, text=True, timeout=1800,
                          env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for kind, name in (("rust", "rust_store"), ("motoko", "motoko_store")):
        built = canisters.EXAMPLES / ".icp" / "cache" / "artifacts" / name
        assert built.read_bytes() == wasms[kind], f"icp build's {name} differs from the tested module"
        check = canisters.check_endpoints(kind, built)
        assert check.returncode == 0, check.stdout + check.stderr


# ------------------------------------------------------------------ item 4: inspect_message

def _put_chunk_arg(size: int) -> bytes:
    return candid.encode([("blob", bytes(size))])


def test_a_strangers_2mib_call_costs_only_the_inspect(wasms: dict[str, bytes]) -> None:
    arg = _put_chunk_arg(MAX_MESSAGE - 64)
    for kind in KINDS:
        c, s = _installed(wasms[kind], chunks=None)
        assert s.begin_upload(CHUNKS[0], stream.stream_digest(CHUNKS[0]))[0][0] == "Ok"
        before = (s.status()[0], bytes(c.stable))
        # Without the filter the call runs and is refused by the method, after receiving the 2 MiB.
        direct = c.update("put_chunk", arg, STRANGER, ingress=False)
        assert _err(candid.decode(direct.ok(), NAMES)[0])[0] == "Unauthorized"
        refused = c.update("put_chunk", arg, STRANGER)  # as ingress: inspect_message first
        assert refused.reply is None and refused.reject is not None and refused.reject.startswith("refused"), \
            f"{kind}: inspect accepted a stranger's put_chunk: {refused.reject}"
        assert refused.ic_instructions == refused.fuel == 0, "a refused call is not executed"
        call = refused.inspect
        assert call is not None and call.reject is not None
        assert (s.status()[0], bytes(c.stable)) == before
        # The filter's Wasm work does not grow with the call. The Rust filter reads no argument; Motoko's
        # runtime copies the argument into the heap for any `system func inspect` (its `arg` field), whatever
        # the function reads: one system-API copy of the 2 MiB, nothing more.
        copied = 1024 if kind == "rust" else len(arg) + 1024
        assert call.syscall_bytes < copied, (kind, call.syscall_bytes)
        assert call.fuel * 20 < direct.fuel, (kind, call.fuel, direct.fuel)
        small = c.inspect("put_chunk", _put_chunk_arg(10), STRANGER)
        assert small.reject is not None and abs(small.fuel - call.fuel) < 1000, (kind, small.fuel, call.fuel)
        print(f"{kind}: stranger's 2 MiB put_chunk: inspect {call.ic_instructions} IC instructions "
              f"({call.fuel} fuel) + {call.syscalls} system calls copying {call.syscall_bytes} bytes; without "
              f"inspect the update costs {direct.ic_instructions} ({direct.fuel} fuel) + {direct.syscall_bytes} "
              "bytes")


@pytest.mark.parametrize("kind", KINDS)
def test_inspect_accepts_exactly_the_calls_a_caller_may_make(kind: str, wasms: dict[str, bytes]) -> None:
    c, s = _installed(wasms[kind], chunks=None)
    assert s.allow(UPLOADER)[0] == ("Ok", None)
    upload = {"begin_upload": candid.encode([("blob", CHUNKS[0]), ("blob", stream.stream_digest(CHUNKS[0]))]),
              "put_chunk": _put_chunk_arg(100), "finish": candid.encode([])}
    admin = {"clear": candid.encode([]), "allow": candid.encode([("principal", STRANGER)]),
             "disallow": candid.encode([("principal", UPLOADER)]), "set_quota": candid.encode([("nat64", 5)])}
    reads = {"status": candid.encode([]), "list": candid.encode([]), "get": candid.encode([("text", "w")])}
    for method, arg in {**upload, **admin, **reads}.items():
        for who in (CONTROLLER, UPLOADER, STRANGER):
            expected = method in reads or who == CONTROLLER or (who == UPLOADER and method in upload)
            accepted = c.inspect(method, arg, who).reject is None
            assert accepted == expected, f"{kind}: {method} by {who!r}: accepted={accepted}"
    assert c.inspect("no_such_method", candid.encode([]), CONTROLLER).reject is not None


# ------------------------------------------------------------------ item 5: allow list, clear

@pytest.mark.parametrize("kind", KINDS)
def test_removal_from_the_allow_list(kind: str, wasms: dict[str, bytes]) -> None:
    c, s = _installed(wasms[kind], chunks=None)
    digest = stream.stream_digest(CHUNKS[0])
    assert s.allow(UPLOADER)[0] == ("Ok", None)
    assert s.begin_upload(CHUNKS[0], digest, UPLOADER)[0][0] == "Ok"
    assert _err(s.disallow(UPLOADER, UPLOADER)[0])[0] == "Unauthorized"
    assert _err(s.disallow(UPLOADER, STRANGER)[0])[0] == "Unauthorized"
    assert s.disallow(UPLOADER)[0] == ("Ok", None)
    assert s.disallow(UPLOADER)[0] == ("Ok", None), "removing an absent principal is not an error"
    assert _err(s.put_chunk(CHUNKS[1], UPLOADER)[0])[0] == "Unauthorized"
    refused = c.update("put_chunk", candid.encode([("blob", CHUNKS[1])]), UPLOADER)
    assert refused.reply is None and refused.inspect is not None and refused.inspect.reject is not None
    assert s.allow(UPLOADER)[0] == ("Ok", None)
    assert s.put_chunk(CHUNKS[1], UPLOADER)[0][0] == "Ok"


@pytest.mark.parametrize("kind", KINDS)
def test_clear_by_controllers_only(kind: str, wasms: dict[str, bytes]) -> None:
    c, s = _installed(wasms[kind])
    assert s.allow(UPLOADER)[0] == ("Ok", None)
    for who in (UPLOADER, STRANGER):
        assert _err(s.clear(who)[0])[0] == "Unauthorized"
    assert s.status()[0]["model"] is not None, "a refused clear() dropped the model"
    assert s.clear()[0] == ("Ok", None)
    assert s.status()[0]["model"] is None


# ------------------------------------------------------------------ item 5: upgrades keep stable memory flat

@pytest.mark.parametrize("kind", KINDS)
def test_stable_memory_flat_over_ten_upgrades(kind: str, wasms: dict[str, bytes]) -> None:
    c, s = _installed(wasms[kind])
    c.upgrade()  # the first upgrade may lay out what later ones reuse
    sizes = []
    for _ in range(10):
        pre, post = c.upgrade()
        assert pre.reject is None and post.reject is None
        sizes.append((len(c.stable), s.status()[0]["stable_bytes"]))
    assert len(set(sizes)) == 1, f"{kind}: stable memory over 10 upgrades (bytes, status): {sizes}"
    assert s.get("b")[0] == ("Ok", tensorcbor.encode(MODEL["b"]))


# ------------------------------------------------------------------ item 5: get_range in proportion to the range

def test_get_range_costs_in_proportion_to_the_range(loaded: tuple[str, Canister, StoreClient]) -> None:
    kind, c, s = loaded
    doc = tensorcbor.encode(MODEL["big"])  # 4 MiB
    costs = {}
    for offset, length in [(0, 0), (10, 100), (len(doc) - 1000, 1000), (100_000, 1_000_000)]:
        value, res = s.get_range("big", offset, length)
        assert value == ("Ok", doc[offset:offset + length])
        # Bytes the system API copies: the range (stable read, reply) and the argument, not the tensor.
        assert res.syscall_bytes <= 3 * length + 4096, (kind, offset, length, res.syscall_bytes)
        costs[length] = res.fuel
    assert costs[0] * 50 < costs[1_000_000], (kind, costs)
    assert costs[100] * 50 < costs[1_000_000], (kind, costs)


# ------------------------------------------------------------------ item 5: dense

def _x(shape: tuple[int, ...], dtype: Any = np.float32) -> bytes:
    return tensorcbor.encode(np.ones(shape, dtype))


def _y_doc_size(shape: tuple[int, ...]) -> int:
    return len(tensorcbor.encode(np.zeros(shape, np.float32)))


OK = ("Ok", None)
# The largest batch whose y ([batch, 8192] float32) fits one reply of 1,900,000 bytes.
FIT = max(n for n in range(1, 64) if _y_doc_size((n, 8192)) <= 1_900_000)
# (weight, bias, x) -> the answer both canisters give: ("Ok", None) (checked against numpy), an error kind, a
# Format code, or ("ReplyTooLarge", size).
DENSE_CASES: list[tuple[str, str | None, bytes, tuple[str, Any]]] = [
    ("nope", None, _x((4,)), ("NotFound", None)),
    ("h", None, _x((4,)), ("InvalidArgument", None)),  # float16 weight
    ("v", None, _x((4,)), ("InvalidArgument", None)),  # rank-1 weight
    ("words", None, _x((4,)), ("InvalidArgument", None)),  # string weight
    ("z", None, _x((4,)), ("InvalidArgument", None)),  # a zero dimension
    ("w", "nope", _x((4,)), ("NotFound", None)),
    ("w", "b_short", _x((4,)), ("InvalidArgument", None)),
    ("w", "h", _x((4,)), ("InvalidArgument", None)),
    ("w", "b", b"", ("Format", "TRUNCATED")),
    ("w", "b", b"\x00\x01", ("Format", "BAD_MAGIC")),
    ("w", "b", _x((4,))[:-1], ("Format", "TRUNCATED")),
    ("w", "b", _x((4,)) + b"\x00", ("Format", "TRAILING_BYTES")),
    ("w", "b", DOC[:64], ("Format", "BAD_MAGIC")),  # a bundle, not a tensor
    ("w", "b", _x((4,), np.float64), ("InvalidArgument", None)),
    ("w", "b", _x((4,), np.int32), ("InvalidArgument", None)),
    ("w", "b", _x((5,)), ("InvalidArgument", None)),
    ("w", "b", _x(()), ("InvalidArgument", None)),
    ("w", "b", _x((1, 1, 4)), ("InvalidArgument", None)),
    ("w", "b", _x((0, 2**32 + 4)), ("InvalidArgument", None)),  # 2^32 + 4 is 4 in a 32-bit usize
    ("w", "b", _x((2**32 + 4, 0)), ("InvalidArgument", None)),
    ("w", "b", _x((0, 4)), OK),
    ("w", "b", _x((3, 4)), OK),
    ("w", None, _x((4,)), OK),
    ("w", "b", _x((FIT, 4)), OK),
    ("w", "b", _x((FIT + 1, 4)), ("ReplyTooLarge", _y_doc_size((FIT + 1, 8192)))),
    ("w", "b", _x((220, 4)), ("ReplyTooLarge", _y_doc_size((220, 8192)))),  # a 7.2 MB y
]


def _answer(value: Any) -> tuple[str, Any]:
    if value[0] == "Ok":
        return OK
    kind, detail = _err(value)
    if kind == "Format":
        assert detail["code"] in CODES and detail["message"]
        return kind, detail["code"]
    if kind == "ReplyTooLarge":
        assert detail["limit"] == 1_900_000
        return kind, detail["size"]
    assert isinstance(detail, str) and detail
    return kind, None


def test_hostile_dense_inputs_get_the_same_answers_from_both(wasms: dict[str, bytes]) -> None:
    stores = {kind: _installed(wasms[kind])[1] for kind in KINDS}
    for weight, bias, x, expected in DENSE_CASES:
        for kind, s in stores.items():
            value, res = s.dense(weight, bias, x)
            label = f"{kind}: dense({weight}, {bias}, {len(x)} bytes)"
            assert _answer(value) == expected, f"{label}: {value if value[0] != 'Ok' else 'Ok'}"
            assert res.reply is not None and len(res.reply) <= MAX_MESSAGE
            if expected == OK:
                xs = np.asarray(tensorcbor.decode(x)).astype(np.float64)
                ref = xs @ MODEL[weight].T.astype(np.float64) + (MODEL[bias] if bias else 0)
                y = np.asarray(tensorcbor.decode(value[1]))
                assert y.dtype == np.float32 and y.shape == ref.shape, (label, y.shape, ref.shape)
                bound = np.abs(xs) @ np.abs(MODEL[weight].T.astype(np.float64)) + (np.abs(MODEL[bias]) if bias
                                                                                    else 0)
                assert np.all(np.abs(y - ref) <= 1e-5 * bound + 1e-6), label


def test_dense_checks_x_before_reading_any_weight(loaded: tuple[str, Canister, StoreClient]) -> None:
    kind, c, s = loaded
    weight_bytes = MODEL["big"].nbytes
    good, good_res = s.dense("big", None, _x((1024,)))
    assert good[0] == "Ok"
    for x in (b"\x00\x01", _x((5,)), _x((0, 2**32 + 1024)), _x((1024,), np.float64), _x((2, 1024))[:-3]):
        value, res = s.dense("big", None, x)
        assert value[0] == "Err"
        assert res.syscall_bytes < weight_bytes // 8, (kind, res.syscall_bytes)
        assert res.fuel * 20 < good_res.fuel, (kind, res.fuel, good_res.fuel)
    x = _x((465, 1024))  # a y past one reply: refused before the weights are read
    value, res = s.dense("big", None, x)
    assert _answer(value) == ("ReplyTooLarge", _y_doc_size((465, 1024)))
    assert res.syscall_bytes < len(x) + 65536, (kind, res.syscall_bytes)  # the argument, no weight


# ------------------------------------------------------------------ finish: hostile documents

def _bad_documents() -> dict[str, bytes]:
    flags = tensorcbor.encode_bundle({"a": np.zeros(40, np.float32), "flags": np.array([True, False] * 8)})
    at = flags.rindex(b"\x01\x00\x01\x00")
    return {
        "INVALID_ELEMENT": flags[:at] + b"\x02" + flags[at + 1:],
        "TRAILING_BYTES": DOC + b"\x00",
        "TRUNCATED": DOC[:-5],
        "BAD_MAGIC": tensorcbor.encode(np.zeros(40, np.float32)),
    }


def _raw_chunks(doc: bytes, payload: int) -> list[bytes]:
    """A valid stream of any bytes (stream.chunks parses its document; a hostile sender need not): manifest,
    then payloads of `payload` bytes."""
    pieces = [doc[i:i + payload] for i in range(0, len(doc), payload)]
    digests = b"".join(hashlib.sha256(p).digest() for p in pieces)
    manifest = stream._encode_manifest(len(doc), stream.DEFAULT_MAX_SIZE, hashlib.sha256(doc).digest(), digests)
    sid = stream.stream_digest(manifest)
    return [manifest] + [stream.STREAM_MAGIC + b"\x84\x01" + head(2, 32) + sid + head(0, i) + head(2, len(p)) + p
                         for i, p in enumerate(pieces, 1)]


@pytest.mark.parametrize("kind", KINDS)
def test_finish_rejects_a_bad_document_with_the_reference_code(kind: str, wasms: dict[str, bytes]) -> None:
    for code, doc in _bad_documents().items():
        with pytest.raises(DecodeError) as ref:
            tensorcbor.decode_bundle(doc)
        assert ref.value.code == code, (code, ref.value.code)
        c, s = _installed(wasms[kind], chunks=None)
        chunks = _raw_chunks(doc, 1000)
        assert s.begin_upload(chunks[0], stream.stream_digest(chunks[0]))[0][0] == "Ok"
        for chunk in chunks[1:]:
            assert s.put_chunk(chunk)[0][0] == "Ok"
        value, _ = s.finish()
        assert _answer(value) == ("Format", code), (kind, code, value)
        assert s.status()[0]["model"] is None and s.list()[0] == []


# ------------------------------------------------------------------ item 6: finish over several messages

# ic0.performance_counter as if every instruction cost SLOWDOWN (Canister's performance_counter_scale): `finish`
# then runs out of its per-message budget after a window or two, as it does on the IC for a document of tens of GB.
SLOWDOWN = 10_000


def test_rust_finish_verifies_over_several_messages_and_restarts_after_an_upgrade(wasms: dict[str, bytes]) -> None:
    tensors = canisters.synthetic_model(20_000_000)
    doc = tensorcbor.encode_bundle(tensors)
    chunks = list(stream.chunks(doc))
    c = Canister(wasms["rust"], controllers=[CONTROLLER], performance_counter_scale=SLOWDOWN)
    c.install()
    s = StoreClient(c)
    assert s.begin_upload(chunks[0], stream.stream_digest(chunks[0]))[0][0] == "Ok"
    for chunk in chunks[1:]:
        assert s.put_chunk(chunk)[0][0] == "Ok"
    progress = []
    for _ in range(2):
        value, _ = s.finish()
        assert value[0] == "Verifying", value
        assert value[1]["doc_length"] == len(doc)
        progress.append(value[1]["verified"])
    assert 0 < progress[0] < progress[1] < len(doc)
    assert s.status()[0]["model"] is None
    c.upgrade()  # the verification in progress is heap state: it starts over, the upload stays
    value, _ = s.finish()
    assert value[0] == "Verifying" and value[1]["verified"] <= progress[0], value
    results = s.finish_all()
    assert len(results) >= 3
    assert s.status()[0]["model"] == {"tensors": len(tensors), "doc_length": len(doc)}
    bundle = tensorcbor.decode_bundle(doc)
    for name in ("head.dense.bias", "vocab", "layers.000.rope.int4", "layers.000.attn.mask"):
        assert s.get(name)[0] == ("Ok", tensorcbor.encode(bundle[name])), name


@pytest.mark.parametrize("kind", KINDS)
def test_an_upload_continues_across_an_upgrade(kind: str, wasms: dict[str, bytes]) -> None:
    c, s = _installed(wasms[kind], chunks=None)
    assert len(CHUNKS) >= 3
    assert s.begin_upload(CHUNKS[0], stream.stream_digest(CHUNKS[0]))[0][0] == "Ok"
    assert s.put_chunk(CHUNKS[1])[0][0] == "Ok"
    c.upgrade()
    rx = stream.SequentialReceiver(stream.stream_digest(CHUNKS[0]))
    rx.accept(CHUNKS[0])
    first = rx.accept(CHUNKS[1])
    assert first is not None
    status = s.status()[0]["upload"]
    assert (status["received"], status["bytes"], status["chunks"]) == (1, first.payload.nbytes, len(CHUNKS) - 1)
    assert _answer(s.put_chunk(CHUNKS[1])[0]) == ("Format", "DUPLICATE_CHUNK")
    for chunk in CHUNKS[2:]:
        assert s.put_chunk(chunk)[0][0] == "Ok"
    s.finish_all()
    assert s.get("b")[0] == ("Ok", tensorcbor.encode(MODEL["b"]))

