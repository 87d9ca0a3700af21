"""The Rust crate built no_std for wasm32-unknown-unknown, run under wasmtime, against Python on real documents.

The module is bindings/rust/wasm-probe (see bench/bench_rust_wasm.py for its ABI). Every core conformance
vector goes through the wasm decoder; float32 sums and encodings are compared with the Python reference.
Without cargo or the wasm32 target these tests FAIL (they do not skip): scripts/test-all.sh installs both.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import tensorcbor
from tensorcbor.conformance import load_suite

ROOT = Path(__file__).resolve().parent.parent
SUITE = load_suite()
CORE = [v for v in SUITE.vectors if v.profile == "core"]


def _bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rust_wasm", ROOT / "bench" / "bench_rust_wasm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench_module()


@pytest.fixture(scope="module")
def probe() -> object:
    if shutil.which("cargo") is None:
        pytest.fail("cargo is not installed: the Rust crate cannot be built for wasm32 (install rustup)")
    return BENCH.Probe(BENCH.build_probe())


def test_every_core_tensor_vector_decodes_as_in_python(probe: object) -> None:
    tensors = [v for v in CORE if v.kind == "tensor"]
    assert len(tensors) > 500
    wrong = {}
    for v in tensors:
        doc = v.data()
        got, _ = probe.decode_view(doc)  # type: ignore[attr-defined]
        if v.valid:
            data = bytes.fromhex(v.expected.get("data_hex", ""))
            if got < 0 or ("data_hex" in v.expected and doc[got:got + len(data)] != data):
                wrong[v.id] = f"valid vector: got {BENCH.registry_code(got) or got}"
        elif BENCH.registry_code(got) != v.error:
            wrong[v.id] = f"expected {v.error}, got {BENCH.registry_code(got) or 'accepted'}"
    assert not wrong, f"{len(wrong)} of {len(tensors)} tensor vectors differ: {wrong}"


def test_every_core_bundle_vector_decodes_as_in_python(probe: object) -> None:
    bundles = [v for v in CORE if v.kind == "bundle"]
    assert len(bundles) > 50
    wrong = {}
    for v in bundles:
        got, _ = probe.bundle_tensor_count(v.data())  # type: ignore[attr-defined]
        if v.valid:
            if got != len(v.expected["tensors"]):
                wrong[v.id] = f"valid vector: got {BENCH.registry_code(got) or got}"
        elif BENCH.registry_code(got) != v.error:
            wrong[v.id] = f"expected {v.error}, got {BENCH.registry_code(got) or 'accepted'}"
    assert not wrong, f"{len(wrong)} of {len(bundles)} bundle vectors differ: {wrong}"


def test_float32_sums_match_python(probe: object) -> None:
    checked = 0
    for v in CORE:
        if v.kind != "tensor" or not v.valid or v.expected["dtype"] != "float32":
            continue
        arr = tensorcbor.decode(v.data())
        want = 0.0
        for x in np.asarray(arr, dtype=np.float32).ravel():
            want += float(x)
        got, _ = probe.sum_f32(v.data())  # type: ignore[attr-defined]
        assert got == want or (math.isnan(got) and math.isnan(want)), v.id
        checked += 1
    assert checked >= 5
    rng = np.random.default_rng(13)
    arr = rng.standard_normal(100_003).astype(np.float32)
    got, _ = probe.sum_f32(tensorcbor.encode(arr))  # type: ignore[attr-defined]
    assert got == math.fsum([]) + sum(float(x) for x in arr)


def test_encode_matches_python(probe: object) -> None:
    rng = np.random.default_rng(8)
    for dtype, code in ((np.float32, 1), (np.int64, 7), (np.uint8, 2), (np.float64, 11)):
        for n in (0, 1, 3, 1000):
            arr = (rng.standard_normal(n) * 100).astype(dtype)
            doc, _ = probe.encode(arr.tobytes(), code, n)  # type: ignore[attr-defined]
            assert doc == tensorcbor.encode(arr), (dtype, n)
    bad, _ = probe.encode(b"\x00" * 5, 1, 1)  # type: ignore[attr-defined]
    assert BENCH.registry_code(bad) == "SHAPE_MISMATCH"


def test_viewing_a_float32_tensor_costs_the_same_fuel_whatever_its_size(probe: object) -> None:
    fuel = {}
    for size in (1 << 20, 4 << 20, 16 << 20):  # same head widths: the fuel may not depend on the size
        doc = BENCH.float32_doc(size)
        offset, fuel[size] = probe.decode_view(doc)  # type: ignore[attr-defined]
        assert offset >= 0 and offset % 4 == 0
    assert fuel[1 << 20] == fuel[4 << 20] == fuel[16 << 20], fuel
    assert fuel[1 << 20] < 5000, f"issue 13 target: a 1 MiB float32 view under 5,000 fuel, got {fuel}"


def test_stream_receiver_on_wasm32_verifies_chunks() -> None:
    from tensorcbor import stream

    wasm = BENCH.Probe(BENCH.build_probe(stream=True))
    doc = BENCH.float32_doc(300_000)
    chunks = list(stream.chunks(doc, 65_536))
    assert len(chunks) >= 6
    bad = bytearray(chunks[3])
    bad[-1] ^= 1
    fed = [*chunks[:3], bytes(bad), chunks[4], *chunks[3:]]
    results, _ = wasm.stream_accept(fed)
    codes = [BENCH.registry_code(r) or r for r in results]
    n = len(chunks)
    assert codes == [0, 1, 2, "CHUNK_DIGEST_MISMATCH", "CHUNK_OUT_OF_ORDER", *range(3, n)], codes
