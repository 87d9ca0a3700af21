"""The Rust binding (bindings/rust) against the core conformance suite, through the adapter protocol.

Builds `tensorcbor-adapter` with cargo and runs the Python runner (tensorcbor.conformance) against it.
Without cargo these tests FAIL (they do not skip): the Rust binding is part of the project's test suite.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tensorcbor.conformance import load_suite
from tensorcbor.conformance.impl import BatchImpl, ProcessImpl
from tensorcbor.conformance.runner import run

ROOT = Path(__file__).resolve().parent.parent
CRATE = ROOT / "bindings" / "rust"
ADAPTER = CRATE / "target" / "release" / "tensorcbor-adapter"
SUITE = load_suite()
CORE = [v for v in SUITE.vectors if v.profile == "core"]


@pytest.fixture(scope="module")
def adapter() -> str:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("cargo is not installed (or not on PATH): the Rust binding in bindings/rust cannot be built "
                    "and checked; install a Rust toolchain (rustup) to run this test")
    build = subprocess.run(
        [cargo, "build", "--release", "--locked", "--quiet", "--manifest-path", str(CRATE / "Cargo.toml"),
         "--features", "adapter", "--bin", "tensorcbor-adapter"],
        capture_output=True, text=True, timeout=900)
    if build.returncode != 0:
        pytest.fail(f"cargo build of the Rust adapter failed (status {build.returncode}):\n{build.stderr[-4000:]}")
    assert ADAPTER.is_file(), f"cargo succeeded but {ADAPTER} is missing"
    return str(ADAPTER)


def test_rust_adapter_batch_passes_every_core_vector(adapter: str) -> None:
    assert len(CORE) > 1000
    results = run(BatchImpl(adapter, timeout=30), CORE)
    assert len(results) == len(CORE)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, f"{len(failed)} of {len(CORE)} core vectors fail: {failed}"


def test_rust_adapter_single_shot_on_a_sample(adapter: str) -> None:
    ids = ("tensor-float32-rank1", "bundle-metadata-all-types", "string-mixed", "packed-int4-n3-all-ones",
           "pad-nonzero", "meta-duplicate-key")
    results = run(ProcessImpl(adapter, timeout=30), [SUITE.get(i) for i in ids])
    assert all(r.ok for r in results), {r.vector.id: r.failures for r in results if not r.ok}


def test_rust_adapter_refuses_compressed_data_as_a_core_decoder(adapter: str) -> None:
    compressed = [v for v in SUITE.vectors if v.profile == "extended" and v.valid and v.kind == "tensor"][:3]
    assert compressed
    impl = BatchImpl(adapter, timeout=30)
    try:
        for v in compressed:
            assert impl.decode(v.id, v.data(), v.kind).get("error") == "UNSUPPORTED_COMPRESSION", v.id
    finally:
        impl.close()


def test_rust_adapter_passes_the_stream_suite(adapter: str) -> None:
    stream_suite = load_suite("stream")
    assert len(stream_suite.vectors) >= 50
    results = run(BatchImpl(adapter, timeout=60), stream_suite.vectors)  # run() closes the adapter
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, f"{len(failed)} of {len(results)} stream vectors fail: {failed}"
