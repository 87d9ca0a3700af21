"""The Motoko binding (bindings/motoko) against the conformance suites and the Python reference.

Compiles bindings/motoko/harness/Adapter.mo with the npm `motoko` compiler (IC target) and installs it under the
package's IC emulation (tensorcbor.ic). Conformance, property and message tests go through the canister
conformance convention (`tensorcbor_conformance`, the binding's Conformance module) with CanisterImpl, exactly as
`tensorcbor conformance run --canister` does; element and Region tests call the actor's own methods. Without
node or the compiler these tests FAIL (they do not skip): scripts/test-all.sh installs the compiler with
`npm install --prefix bindings/motoko`.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorcbor
from tensorcbor import testing
from tensorcbor.conformance import load_suite
from tensorcbor.conformance.canister import ADAPTER_ERROR, CanisterImpl, ConformanceError
from tensorcbor.conformance.compare import decoded_diffs
from tensorcbor.conformance.plain import encode_input
from tensorcbor.conformance.runner import run
from tensorcbor.conformance.values import decode_json
from tensorcbor.dtypes import BY_NAME
from tensorcbor.errors import DecodeError
from tensorcbor.ic import Canister, candid
from tensorcbor.ic.candid import candid_blob, leb128, parse_candid_blob

ROOT = Path(__file__).resolve().parent.parent
MOTOKO = ROOT / "bindings" / "motoko"
sys.path.insert(0, str(MOTOKO / "harness"))

from build import build  # noqa: E402

SUITE = load_suite()
CORE = [v for v in SUITE.vectors if v.profile == "core"]
STREAMS = load_suite(name="stream-v1").vectors
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def wasm() -> Path:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the Motoko binding is compiled with the npm `motoko` compiler")
    if not (MOTOKO / "node_modules" / "motoko").exists():
        pytest.fail("the Motoko compiler is missing: run `npm install --prefix bindings/motoko` "
                    "(scripts/test-all.sh does)")
    try:
        return build()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"compiling bindings/motoko/harness/Adapter.mo failed: {exc}")


class Codec:
    """The adapter canister through its conformance method (CanisterImpl, with the IC's query limits; the one
    vector over 2 MiB is delivered with the limits lifted), and the same module installed for direct calls of its
    element and Region methods (limits off: those tests send documents larger than one message)."""

    def __init__(self, wasm: Path) -> None:
        self.impl = CanisterImpl(wasm, lift_message_limit=True)
        self.canister = Canister(wasm, limits=False)
        self.canister.install()

    def decode(self, doc: bytes, kind: str) -> dict[str, Any]:
        return self.impl.decode("test", doc, kind)

    def encode(self, value: dict[str, Any], kind: str) -> bytes | ConformanceError:
        return self.impl.call(f"encode_{kind}", encode_input(value, kind), "test")


@pytest.fixture(scope="module")
def codec(wasm: Path) -> Codec:
    return Codec(wasm)


def test_generated_tables_are_current() -> None:
    gen = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_motoko.py"), "--check"],
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")})
    assert gen.returncode == 0, gen.stderr


def test_canister_passes_every_core_vector(codec: Codec) -> None:
    """Codes, values, re-encoded bytes, and the byte offset of every rejection (SPEC.md §8.1), through the
    canister's conformance method; every call within the IC's query instruction limit."""
    assert len(CORE) > 1000
    results = run(codec.impl, CORE)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, f"{len(failed)} of {len(CORE)} core vectors fail: {dict(list(failed.items())[:20])}"
    costs = codec.impl.cost_by_vector()
    assert set(costs) == {v.id for v in CORE}, "every vector's calls report their IC instructions"


def test_canister_passes_the_stream_suite(codec: Codec) -> None:
    """Both receivers of Stream.mo: every chunk's verdict and offset, the end of the stream, the document's
    SHA-256 (conformance/stream-v1)."""
    assert len(STREAMS) > 50
    results = run(codec.impl, STREAMS)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, f"{len(failed)} of {len(STREAMS)} stream vectors fail: {dict(list(failed.items())[:20])}"
    kinds = {c.op for c in codec.impl.calls}
    assert {"stream_sequential", "stream_storing"} <= kinds


def test_an_unknown_operation_is_refused_as_such(codec: Codec) -> None:
    got = codec.impl.call("decode_everything", b"", "test")
    assert isinstance(got, ConformanceError) and got.code == "UNSUPPORTED_OPERATION", got
    got = codec.impl.call("stream_sequential", b"\x83\xf6", "test")  # an array of 3 that ends after one item
    assert isinstance(got, ConformanceError) and got.code == ADAPTER_ERROR and "TRUNCATED" in got.message, got


def _same_detail(code: str, py: str, mo: str) -> bool:
    """Whether the Motoko message says what the Python one says. Exceptions, each for a stated reason:
    INVALID_UTF8 (Python appends its codec's reason, which Prim.decodeUtf8 does not give), NON_CANONICAL_FLOAT
    (Python prints the float's value; Motoko has no shortest-repr float printer), UNSUPPORTED_COMPRESSION (a Core
    decoder refuses the Extended profile before reading the codec) and the BAD_MAGIC hint naming each language's
    own reader function."""
    if code == "INVALID_UTF8":
        return py.startswith(mo + " (")
    if code in ("NON_CANONICAL_FLOAT", "UNSUPPORTED_COMPRESSION"):
        return bool(mo)
    if code == "BAD_MAGIC" and "; read it with " in py:
        return py.split("; read it with ")[0] == mo.split("; read it with ")[0]
    return py == mo


def test_error_messages_agree_with_python(codec: Codec) -> None:
    differ = {}
    was = tensorcbor.accel.use(False)  # the reference parser's messages (the compiled reader gives the registry's)
    try:
        for v in CORE:
            if v.valid:
                continue
            try:
                (tensorcbor.decode if v.kind == "tensor" else tensorcbor.decode_bundle)(v.data())
            except DecodeError as exc:
                py = str(exc).split(": ", 1)[1]
                mo = codec.decode(v.data(), v.kind).get("message", "")
                if not _same_detail(exc.code, py, mo):
                    differ[v.id] = (py, mo)
    finally:
        tensorcbor.accel.use(was)
    assert not differ, f"{len(differ)} differ: {dict(list(differ.items())[:10])}"


def test_core_decoder_refuses_compressed_data(codec: Codec) -> None:
    compressed = [v for v in SUITE.vectors if v.profile == "extended" and v.valid and v.kind == "tensor"][:3]
    assert compressed
    for v in compressed:
        assert codec.decode(v.data(), "tensor").get("error") == "UNSUPPORTED_COMPRESSION", v.id


def _python_verdict(blob: bytes, kind: str) -> dict[str, Any]:
    try:
        return decode_json(blob, kind)
    except DecodeError as exc:
        return {"error": exc.code}


def _same_as_python(codec: Codec, blob: bytes, kind: str) -> None:
    want = _python_verdict(blob, kind)
    got = codec.decode(blob, kind)  # a trap, or a reply that is no ConformanceResult, raises
    if "error" in want:
        assert got.get("error") == want["error"], (blob.hex()[:200], got)
    else:
        assert not decoded_diffs(kind, want, got), decoded_diffs(kind, want, got)
        encoded = codec.encode(want, kind)
        assert encoded == blob, encoded


@FAST
@given(testing.tensor_blobs())
def test_random_tensors_decode_and_reencode_as_python(codec: Codec, blob: bytes) -> None:
    _same_as_python(codec, blob, "tensor")


@FAST
@given(testing.bundle_blobs())
def test_random_bundles_decode_and_reencode_as_python(codec: Codec, blob: bytes) -> None:
    _same_as_python(codec, blob, "bundle")


@FAST
@given(testing.invalid_blobs("tensor"))
def test_invalid_tensors_give_pythons_code(codec: Codec, case: tuple[bytes, str]) -> None:
    blob, code = case
    assert codec.decode(blob, "tensor").get("error") == code


@FAST
@given(testing.invalid_blobs("bundle"))
def test_invalid_bundles_give_pythons_code(codec: Codec, case: tuple[bytes, str]) -> None:
    blob, code = case
    assert codec.decode(blob, "bundle").get("error") == code


@FAST
@given(testing.mutated_blobs(), st.sampled_from(["tensor", "bundle"]))
def test_mutated_blobs_give_pythons_verdict_and_never_trap(codec: Codec, blob: bytes, kind: str) -> None:
    want = _python_verdict(blob, kind)
    got = codec.decode(blob, kind)  # a trap raises
    assert got.get("error") == want.get("error"), (blob.hex()[:200], want.get("error"), got)


# ---------------------------------------------------------------- typed element access


def _elements(codec: Codec, doc: bytes, method: str = "elements") -> dict[str, Any]:
    reply = codec.canister.update(method, candid_blob(doc)).ok()
    out: dict[str, Any] = json.loads(parse_candid_blob(reply))
    return out


def _widen_bits(bits: int, name: str) -> int:
    """binary64 bits of an IEEE float16/bfloat16/float32 pattern, payload shifted (reference for NaNs)."""
    e_bits, m_bits = {"float16": (5, 10), "bfloat16": (8, 7), "float32": (8, 23)}[name]
    sign = bits >> (e_bits + m_bits)
    man = bits & ((1 << m_bits) - 1)
    return (sign << 63) | (0x7FF << 52) | (man << (52 - m_bits))


def _expected_f64_bits(arr: np.ndarray, name: str) -> list[int]:
    flat = arr.reshape(-1)
    if name.startswith("complex"):
        flat = flat.view(np.float32 if name == "complex64" else np.float64)
        name = "float32" if name == "complex64" else "float64"
    wide = flat.astype(np.float64).view(np.uint64).tolist()
    width = BY_NAME[name].bits
    if name in ("float16", "bfloat16", "float32"):
        raw = flat.view({16: np.uint16, 32: np.uint32}[width]).tolist()
        triples = zip(raw, flat.tolist(), wide, strict=True)
        return [_widen_bits(r, name) if math.isnan(float(x)) else w for r, x, w in triples]
    if name == "float64":
        return flat.view(np.uint64).tolist()
    return wide  # ml_dtypes defines the binary64 value of every pattern, NaNs included


FLOATS = ["float16", "bfloat16", "float32", "float64", "complex64", "complex128", "float8_e4m3fn",
          "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn", "float6_e2m3fn",
          "float6_e3m2fn"]


@pytest.mark.parametrize("name", FLOATS)
def test_float_elements_are_bit_exact_both_ways(codec: Codec, name: str) -> None:
    dt = BY_NAME[name]
    if dt.bits in (16, 32, 64):
        patterns = testing.special_bit_patterns(dt.bits)
        raw = np.array(patterns, dtype={16: np.uint16, 32: np.uint32, 64: np.uint64}[dt.bits])
        arr = raw.view(dt.np_dtype)
    elif dt.kind == "complex":
        half = dt.bits // 2
        patterns = testing.special_bit_patterns(half)
        raw = np.array(patterns + patterns[::-1], dtype={32: np.uint32, 64: np.uint64}[half])
        arr = raw.view(dt.np_dtype)
    else:
        arr = np.arange(1 << dt.bits, dtype=np.uint8).view(dt.np_dtype)  # every pattern of the format
    doc = tensorcbor.encode(arr)
    got = _elements(codec, doc)
    want = _expected_f64_bits(arr, name)
    assert [int(h, 16) for h in got["floats"]] == want
    if name in ("float16", "bfloat16", "float32", "float64", "complex64", "complex128"):
        assert got["reverse"] == tensorcbor.decode(doc).tobytes().hex()
    if name == "float32":
        assert got["float32"] == arr.tobytes().hex()


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize(("count", "method"), [(65536, "elements"), (65535, "elements"), (65535, "elementsTabled")])
def test_every_16_bit_pattern_is_bit_exact(codec: Codec, name: str, count: int, method: str) -> None:
    """All 65,536 patterns through the arithmetic route (specials through the Region) and through the tables
    of `useHalfTables`, after the pairwise Candid decoding, also with an odd element count."""
    arr = np.arange(count, dtype=np.uint32).astype(np.uint16)[::-1].copy().view(BY_NAME[name].np_dtype)
    got = _elements(codec, tensorcbor.encode(arr), method)
    assert [int(h, 16) for h in got["floats"]] == _expected_f64_bits(arr, name)


INTS = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool", "int4", "uint4", "int2",
        "uint2"]


@pytest.mark.parametrize("name", INTS)
def test_integer_elements_both_ways(codec: Codec, name: str) -> None:
    dt = BY_NAME[name]
    if name == "bool":
        arr = np.array([True, False, True, True, False])
    elif dt.bits < 8:
        lo, hi = (-(1 << (dt.bits - 1)), 1 << (dt.bits - 1)) if dt.kind == "int" else (0, 1 << dt.bits)
        arr = np.array(list(range(lo, hi)) + [lo], dtype=np.int64).astype(dt.np_dtype)
    else:
        info = np.iinfo(dt.np_dtype)
        arr = np.array([info.min, info.max, 0, 1, info.max // 3, info.min // 7], dtype=dt.np_dtype)
    doc = tensorcbor.encode(arr)
    got = _elements(codec, doc)
    assert got["ints"] == [int(x) for x in arr.astype(np.int64 if name != "uint64" else np.uint64).tolist()]
    assert got["reverse"] == bytes.fromhex(decode_json(doc, "tensor")["data_hex"]).hex()


def test_string_elements(codec: Codec) -> None:
    strings = ["", "tensor", "Grüße ✓", "a\"b\\c\n"]
    got = _elements(codec, tensorcbor.encode(np.array(strings, dtype=np.dtypes.StringDType())))
    assert got["strings"] == strings


# ---------------------------------------------------------------- stable memory


def _from_stable(codec: Codec, doc: bytes, chunk: int) -> dict[str, Any]:
    body = b"DIDL\x01\x6d\x7b\x02\x00\x7d" + leb128(len(doc)) + doc + leb128(chunk)
    reply = codec.canister.update("fromStable", body).ok()
    out: dict[str, Any] = json.loads(parse_candid_blob(reply))
    return out


@FAST
@given(st.one_of(testing.tensor_blobs(), testing.mutated_blobs()), st.integers(1, 300))
def test_tensor_read_from_a_region_matches_python(codec: Codec, blob: bytes, chunk: int) -> None:
    want = _python_verdict(blob, "tensor")
    got = _from_stable(codec, blob, chunk)
    if "error" in want:
        assert got.get("error") == want["error"], got
    else:
        assert not decoded_diffs("tensor", want, got), decoded_diffs("tensor", want, got)


def test_region_read_of_a_large_tensor_loads_only_a_prefix_for_the_header(codec: Codec) -> None:
    arr = np.arange(100_000, dtype=np.float32)
    got = _from_stable(codec, tensorcbor.encode(arr), 65536)
    assert got["data_hex"] == arr.tobytes().hex()


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"array": []}
    for _ in range(levels - 2):  # the metadata map itself is level 1
        value = {"array": [value]}
    return value


def test_encoder_rejects_what_has_no_encoding(codec: Codec) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"dtype": "float32", "shape": [3], "data_hex": "00" * 8}, "tensor"),
        ({"dtype": "bool", "shape": [1], "data_hex": "02"}, "tensor"),
        ({"dtype": "int4", "shape": [1], "data_hex": "f0"}, "tensor"),
        ({"metadata": {"map": []}, "tensors": [{"name": "", "dtype": "uint8", "shape": [0], "data_hex": ""}]},
         "bundle"),
        ({"metadata": {"map": [["x", _nested(33)]]}, "tensors": []}, "bundle"),
        ({"metadata": {"map": []}, "tensors": [{"name": "a", "dtype": "uint8", "shape": [0], "data_hex": ""}] * 2},
         "bundle")]
    # The encoder's refusal is the err record with its registry code, except the deep nesting, which
    # Conformance.mo's reader of the plain value refuses (ADAPTER_ERROR, naming the code) before Encode sees it.
    codes = ["SHAPE_MISMATCH", "INVALID_ELEMENT", "INVALID_ELEMENT", "INVALID_NAME", ADAPTER_ERROR, "DUPLICATE_NAME"]
    for (value, kind), code in zip(bad, codes, strict=True):
        got = codec.encode(value, kind)
        assert isinstance(got, ConformanceError) and got.code == code and got.message, (value, got)
        if code == ADAPTER_ERROR:
            assert "NESTING_TOO_DEEP" in got.message, got


def test_metadata_floats_take_their_shortest_width(codec: Codec) -> None:
    floats = ["0.25", "-0", "inf", "nan", "1.0000001192092896", "0.1", "65504.0", "5.960464477539063e-08",
              "1e-40", "3.4028234663852886e+38", "1e300"]
    value = {"metadata": {"map": [[f"k{i:02d}", {"float": f}] for i, f in enumerate(floats)]}, "tensors": []}
    from tensorcbor.conformance.values import encode_json
    assert codec.encode(value, "bundle") == encode_json(value, "bundle")


# ---------------------------------------------------------------- the README example


def test_readme_example_compiles_and_runs(codec: Codec) -> None:
    """The README's first example: typed access, typed encoding, chunked upload, the Candid error record and the
    conformance method, compiled and run under the emulation (tensorcbor.ic)."""
    text = (MOTOKO / "README.md").read_text(encoding="utf-8")
    source = text.split("```motoko\n", 1)[1].split("```", 1)[0]
    entry = MOTOKO / "build" / "readme" / "ReadmeExample.mo"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(source, encoding="utf-8")
    wasm = build(entry, MOTOKO / "build" / "ReadmeExample.wasm")
    c = Canister(wasm)
    c.install()
    names = ["ok", "err", "code", "offset", "message"]

    def call(method: str, args: list[tuple[Any, Any]], update: bool = False) -> Any:
        res = (c.update if update else c.query)(method, candid.encode(args))
        return candid.decode(res.ok(), names)[0]

    arr = np.array([[1.5, -2.0, 0.25], [4.0, 8.0, -0.5]], dtype=np.float32)
    doc = tensorcbor.encode(arr)
    assert call("sum", [("blob", doc)]) == ("ok", float(arr.sum()))
    tag, err = call("sum", [("blob", b"\x00" + doc[1:])])
    assert (tag, err["code"], err["offset"]) == ("err", "BAD_MAGIC", 0) and "d9d9f7" in err["message"]
    assert call("sum", [("blob", tensorcbor.encode(np.arange(3, dtype=np.int32)))])[1]["code"] == "UNEXPECTED_TYPE"
    xs = arr.reshape(-1).tolist()
    assert call("encode", [(("vec", "float32"), xs), ("nat", 2), ("nat", 3)]) == ("ok", doc)
    err = call("encode", [(("vec", "float32"), xs), ("nat", 4), ("nat", 3)])
    assert err == ("err", {"code": "SHAPE_MISMATCH", "offset": 0,
                           "message": "shape [4, 3] needs 12 float32 values, found 6"})
    for k in range(0, len(doc), 7):
        c.update("upload", candid.encode([("blob", doc[k:k + 7])])).ok()
    got = call("slice", [("nat", 2), ("nat", 3)])
    assert got[0] == "ok" and np.array(got[1], np.float32).tobytes() == arr.reshape(-1)[2:5].tobytes()
    assert call("slice", [("nat", 5), ("nat", 3)])[1]["code"] == "SHAPE_MISMATCH"
    assert call("tensorcbor_conformance", [("text", "decode_tensor"), ("blob", doc)]) == ("ok", doc)
    tag, err = call("tensorcbor_conformance", [("text", "decode_tensor"), ("blob", doc[:-1])])
    assert (tag, err["code"]) == ("err", "TRUNCATED")

