"""examples/quickstart-rust: the canister built for wasm32 as `dfx deploy` would, run under the IC emulation.

`sum` and `scale` are checked against numpy (inf, -0, NaN, subnormals, every float dtype `sum` takes), and
malformed or unsuitable input must come back as the typed `Err(record { code; offset; message })`, with the
code, offset and message the Python reference gives, never as a trap or reject. The committed `.did` must be
the one the module exports (`ic_cdk::export_candid!`). Without cargo or the wasm32 target this FAILS, not skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
import wasmtime

import tensorcbor
from tensorcbor.conformance import load_suite
from tensorcbor.errors import VIEW_CODES, DecodeError
from tensorcbor.ic import QUERY_LIMIT, Canister, candid
from tensorcbor.ic.instrument import COUNTER_EXPORT

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart-rust"
WASM = QUICKSTART / "target" / "wasm32-unknown-unknown" / "release" / "quickstart.wasm"
DID = QUICKSTART / "quickstart.did"


NAMES = ["Ok", "Err", "code", "offset", "message"]


@pytest.fixture(scope="module")
def canister() -> Any:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("cargo is not on PATH: install a Rust toolchain (rustup) to build examples/quickstart-rust")
    env = dict(os.environ)
    env.pop("CARGO_TARGET_DIR", None)  # dfx.json and icp.yaml name the module's path
    # scripts/wasm32-toolchain.sh's fallback (Debian's rustc-web, no rustup target) builds the standard library from
    # source; ic-cdk needs std, not only core and alloc.
    flags = [f.replace("core,alloc", "std,panic_abort") for f in env.get("TENSORCBOR_WASM32_CARGO_FLAGS", "").split()]
    build = subprocess.run(
        [cargo, "build", "--release", "--locked", "--quiet", "--target", "wasm32-unknown-unknown", *flags],
        cwd=QUICKSTART, capture_output=True, text=True, timeout=1800, env=env)
    if build.returncode != 0:
        pytest.fail(f"cargo build of examples/quickstart-rust failed ({build.returncode}); "
                    f"`source scripts/wasm32-toolchain.sh` installs the target:\n{build.stderr[-4000:]}")
    c = Canister(WASM)
    c.install()
    return c


def call(canister: Any, method: str, *args: tuple[str, Any]) -> tuple[str, Any]:
    result = canister.query(method, candid.encode(list(args)))
    assert result.reply is not None, f"{method} was rejected (a trap): {result.reject}"
    (answer,) = candid.decode(result.reply, NAMES)
    return answer


def python_error(doc: bytes) -> dict[str, Any]:
    with pytest.raises(DecodeError) as info:
        tensorcbor.decode(doc)
    return {"code": info.value.code, "offset": info.value.offset, "message": str(info.value)}


def same_float(got: float, want: float) -> bool:
    """Equal bit for bit (so -0.0 is not 0.0), any NaN matching any NaN."""
    if np.isnan(want):
        return bool(np.isnan(got))
    return np.float64(got).tobytes() == np.float64(want).tobytes()


def numpy_sum(values: np.ndarray) -> float:
    """Left to right in float64, as the canister adds (np.sum's pairwise order rounds differently)."""
    flat = values.astype(np.float64).ravel()
    with np.errstate(all="ignore"):  # inf - inf and overflow are part of the cases
        return float(np.add.accumulate(flat)[-1]) if flat.size else 0.0


SPECIAL = np.array([1.5, -0.0, np.inf, 3.0, 1e-45, -2.5, 0.1, 6.5e4], dtype=np.float32)
RNG = np.random.default_rng(25)
SUM_CASES = {
    "float32-specials": SPECIAL,
    "float32-with-nan": np.array([1.0, np.nan, 2.0], dtype=np.float32),
    "float32-inf-minus-inf": np.array([np.inf, -np.inf], dtype=np.float32),
    "float32-negative-zero": np.array([-0.0, -0.0], dtype=np.float32),
    "float32-rank0": np.array(-0.0, dtype=np.float32),
    "float32-empty": np.zeros((3, 0), dtype=np.float32),
    "float32-65536": RNG.standard_normal((256, 256)).astype(np.float32),
    "float64": np.array([1e308, 1e308, -1e308, 5e-324, -0.0]),
    "float16": np.array([65504, -0.0, 6e-8, 0.5], dtype=np.float16),
    "bfloat16": np.array([1.0, -3.0e38, np.inf, 0.1], dtype=ml_dtypes.bfloat16),
    "float8_e4m3fn": np.array([448, -0.0, 0.001953125, 1.5], dtype=ml_dtypes.float8_e4m3fn),
    "float8_e5m2": np.array([57344, -np.inf, 1.0], dtype=ml_dtypes.float8_e5m2),
}


@pytest.mark.parametrize("name", list(SUM_CASES))
def test_sum_matches_numpy(canister: Any, name: str) -> None:
    values = SUM_CASES[name]
    tag, got = call(canister, "sum", ("blob", tensorcbor.encode(values)))
    assert tag == "Ok", got
    assert same_float(got, numpy_sum(values)), (got, numpy_sum(values))


@pytest.mark.parametrize("factor", [2.0, -0.5, 0.0, 1e-30, np.inf, np.nan])
def test_scale_matches_numpy(canister: Any, factor: float) -> None:
    x = np.concatenate([SPECIAL, [np.nan, -np.inf, 3.4e38, -1e-40]]).astype(np.float32).reshape(3, 1, 4)
    tag, got = call(canister, "scale", ("blob", tensorcbor.encode(x)), ("float32", factor))
    assert tag == "Ok", got
    with np.errstate(all="ignore"):
        want = (x * np.float32(factor)).astype(np.float32)
    y = np.asarray(tensorcbor.decode(got))
    assert (y.dtype, y.shape) == (np.float32, x.shape)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(y), nan)
    assert y[~nan].tobytes() == want[~nan].tobytes(), (y, want)
    if not nan.any():
        assert got == tensorcbor.encode(want)  # byte-identical to the Python reference's document


def test_scale_of_a_large_tensor_is_byte_identical(canister: Any) -> None:
    x = RNG.standard_normal((128, 512)).astype(np.float32)
    tag, got = call(canister, "scale", ("blob", tensorcbor.encode(x)), ("float32", 0.75))
    assert tag == "Ok"
    assert got == tensorcbor.encode(x * np.float32(0.75))


INVALID = [v for v in load_suite().vectors if v.profile == "core" and not v.valid and v.kind == "tensor"]
# Rust names its own function for a bundle given to the tensor decoder; a Core decoder stops at the compression tag.
OTHER_WORDING = {"magic-bundle-to-tensor-decoder", "ext-bad-codec"}


@pytest.mark.parametrize("method", ["sum", "scale"])
def test_every_invalid_tensor_vector_returns_the_typed_error(canister: Any, method: str) -> None:
    assert len(INVALID) > 500
    # `scale` shares `sum`'s decoding: every third vector keeps the run short (both are a few ms per query).
    vectors = INVALID if method == "sum" else INVALID[::3]
    wrong = {}
    for v in vectors:
        doc = v.data()
        args = [("blob", doc)] + ([("float32", 2.0)] if method == "scale" else [])
        tag, err = call(canister, method, *args)  # a trap fails here
        assert tag == "Err", (v.id, err)
        if v.id in OTHER_WORDING:
            ok = err["code"] == v.error and err["message"].startswith(f"{v.error} at byte {err['offset']}: ")
        else:  # code, offset and the very message of the Python reference
            ok = err == python_error(doc)
        if not ok:
            wrong[v.id] = err
    assert not wrong, f"{len(wrong)} of {len(INVALID)}: {wrong}"


@pytest.mark.parametrize(("method", "array"), [
    ("scale", np.arange(3, dtype=np.int32)),
    ("scale", np.arange(3, dtype=np.float16)),
    ("sum", np.array(["a", "b"])),
    ("sum", np.arange(3, dtype=np.int64)),
])
def test_an_unsuitable_dtype_is_a_typed_error(canister: Any, method: str, array: np.ndarray) -> None:
    args = [("blob", tensorcbor.encode(array))] + ([("float32", 2.0)] if method == "scale" else [])
    tag, err = call(canister, method, *args)
    assert tag == "Err"
    assert err["code"] == "DTYPE_MISMATCH" and err["code"] in VIEW_CODES and err["offset"] == 0
    found = "string" if array.dtype.kind == "U" else array.dtype.name
    assert f"the tensor is {found}, not " in err["message"], err


def test_the_committed_did_is_the_one_the_module_exports(canister: Any) -> None:
    exports = canister.instance.exports(canister.store)
    # Called outside a message (it is candid-extractor's entry, not a canister method): give the metered module an
    # instruction budget first, as the emulation does for each message.
    exports[COUNTER_EXPORT].set_value(canister.store, wasmtime.Val.i64(QUERY_LIMIT))
    pointer = exports["get_candid_pointer"](canister.store)
    memory = bytes(canister._memory_view()[pointer:pointer + 65536])
    exported = memory[:memory.index(b"\0")].decode()
    assert DID.read_text() == exported, f"regenerate {DID.name}:\n{exported}"
    assert "type Error = record { code : text; offset : nat64; message : text };" in exported
