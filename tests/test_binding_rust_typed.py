"""The Rust crate's typed API and error messages, judged by the Python reference (and ml_dtypes).

Builds the crate's `typed_probe` example (bindings/rust/examples/typed_probe.rs) and checks:
- `TensorView::widen_f32` against ml_dtypes' own conversion to float32 for every bit pattern of float16,
  bfloat16, each float8 type and the packed float6/float4 types;
- `as_slice` + `encode_slice` and a `TensorWriter` filled in place reproduce `tensorcbor.encode` byte for byte
  for every native dtype (inf, -0, NaN, integer extremes, odd shapes);
- `Display` of the Rust decoder's errors equals `str(DecodeError)` of the Python reference on the invalid core
  vectors (a short list differs by design, each with its reason).
Without cargo these tests FAIL (they do not skip), as tests/test_binding_rust.py does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tensorcbor
from tensorcbor.conformance import load_suite
from tensorcbor.errors import DecodeError

ROOT = Path(__file__).resolve().parent.parent
CRATE = ROOT / "bindings" / "rust"
PROBE = CRATE / "target" / "release" / "examples" / "typed_probe"

# (dtype, number of bits of one element): every pattern of that many bits is checked.
WIDENED = [("float16", 16), ("bfloat16", 16), ("float8_e4m3fn", 8), ("float8_e4m3fnuz", 8), ("float8_e5m2", 8),
           ("float8_e5m2fnuz", 8), ("float8_e8m0fnu", 8), ("float8_e4m3", 8), ("float8_e3m4", 8),
           ("float8_e4m3b11fnuz", 8), ("float6_e2m3fn", 6), ("float6_e3m2fn", 6), ("float4_e2m1fn", 4)]

# Vectors whose Rust message differs from Python's by design (the code and offset are still checked):
DIFFERENT_BY_DESIGN = {
    # each names its own language's function to call instead
    "magic-bundle-to-tensor-decoder", "magic-tensor-to-bundle-decoder",
    # the Python reference reads the Extended profile; a Core decoder stops at the compression tag (and may
    # report it at another offset, as the conformance suite allows for this vector)
    "ext-bad-codec", "bundle-entry-codec-unknown",
    # Python names the tensor inside the expected-item phrase; Rust keeps that phrase static
    "bundle-item-map", "bundle-item-bare-data", "bundle-item-tagged",
}


@pytest.fixture(scope="module")
def probe() -> Path:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("cargo is not installed (or not on PATH): install a Rust toolchain (rustup) to check the "
                    "Rust binding's typed API")
    build = subprocess.run(
        [cargo, "build", "--release", "--locked", "--quiet", "--manifest-path", str(CRATE / "Cargo.toml"),
         "--example", "typed_probe"], capture_output=True, text=True, timeout=900)
    if build.returncode != 0:
        pytest.fail(f"cargo build of typed_probe failed ({build.returncode}):\n{build.stderr[-4000:]}")
    assert PROBE.is_file()
    return PROBE


def run(probe: Path, mode: str, doc: bytes) -> bytes:
    proc = subprocess.run([str(probe), mode], input=doc, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout


def every_pattern(name: str, bits: int) -> np.ndarray:
    """All 2**bits encodings of `name`, plus one more so that packed types end in a partial byte."""
    codes = np.arange(2 ** bits)
    codes = np.append(codes, 1)
    raw = codes.astype(np.uint16 if bits == 16 else np.uint8)
    return raw.view(getattr(ml_dtypes, name) if hasattr(ml_dtypes, name) else np.dtype(name))


@pytest.mark.parametrize(("name", "bits"), WIDENED, ids=[w[0] for w in WIDENED])
def test_widen_f32_matches_ml_dtypes_for_every_bit_pattern(probe: Path, name: str, bits: int) -> None:
    values = every_pattern(name, bits)
    doc = tensorcbor.encode(values)
    assert tensorcbor.decode(doc).dtype == values.dtype
    got = np.frombuffer(run(probe, "widen", doc), dtype="<f4")
    want = values.astype(np.float32)
    assert got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), f"{name}: NaN patterns differ"
    # Everything else bit for bit (so -0.0 stays -0.0 and infinities keep their sign).
    mismatch = np.flatnonzero(got[~nan].view(np.uint32) != want[~nan].view(np.uint32))
    assert mismatch.size == 0, f"{name}: codes {np.flatnonzero(~nan)[mismatch][:8]} widen to " \
                               f"{got[~nan][mismatch][:8]}, ml_dtypes gives {want[~nan][mismatch][:8]}"


def native_arrays() -> list[np.ndarray]:
    floats = [0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-40, 3.4e38]
    arrays: list[np.ndarray] = [
        np.array(floats, dtype=np.float32).reshape(3, 3),
        np.array(floats + [1e-310, 1.7976931348623157e308, np.pi], dtype=np.float64).reshape(2, 6),
        np.array([[True, False, True]]),
        np.array([1 + 2j, -0.0 - np.inf * 1j, np.nan], dtype=np.complex64),
        np.array([1 + 2j, 3e300 - 1e-300j], dtype=np.complex128).reshape(2, 1),
        np.zeros((0, 4), dtype=np.float32),
        np.array(7.5, dtype=np.float32),  # rank 0
    ]
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        info = np.iinfo(t)
        arrays.append(np.array([info.min, info.max, 0, 1, info.max // 3], dtype=t))
    return arrays


@pytest.mark.parametrize("array", native_arrays(), ids=lambda a: f"{a.dtype}-{'x'.join(map(str, a.shape))}")
def test_typed_reencode_is_byte_identical_to_python(probe: Path, array: np.ndarray) -> None:
    doc = tensorcbor.encode(array)
    assert run(probe, "reencode", doc) == doc



def _python_message(v: Any) -> str:
    try:
        (tensorcbor.decode if v.kind == "tensor" else tensorcbor.decode_bundle)(v.data())
    except DecodeError as exc:
        return str(exc)
    return ""


def test_error_messages_match_the_python_reference(probe: Path) -> None:
    vectors = [v for v in load_suite().vectors if v.profile == "core" and not v.valid]
    assert len(vectors) > 1000
    mismatched = {}
    # The reference parser's messages: the compiled bundle reader reports the registry sentence.
    was = tensorcbor.accel.use(False)
    try:
        python_messages = {v.id: _python_message(v) for v in vectors}
    finally:
        tensorcbor.accel.use(was)
    for v in vectors:
        data = v.data()
        python = python_messages[v.id]
        rust = run(probe, "error" if v.kind == "tensor" else "error-bundle", data).decode()
        assert rust.split(":")[0].split(" ")[0] == v.error, (v.id, rust)
        if v.id in DIFFERENT_BY_DESIGN:
            assert rust != python and rust.startswith(f"{v.error} at byte "), (v.id, rust)
        elif rust != python:
            mismatched[v.id] = (python, rust)
    assert not mismatched, f"{len(mismatched)} of {len(vectors)} messages differ: {mismatched}"
