"""Build the tensor-store canisters and make synthetic models for them (shared by tests and bench).

Building is part of the test: the module under test is the one `dfx deploy` would install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import ml_dtypes
import numpy as np

EXAMPLES = Path(__file__).resolve().parent
RUST_STORE = EXAMPLES / "rust-store"
RUST_WASM = RUST_STORE / "target" / "wasm32-unknown-unknown" / "release" / "tensor_store.wasm"
WASM_TARGET = "wasm32-unknown-unknown"


class BuildError(Exception):
    """A canister could not be built; the message says what to install."""


DID = EXAMPLES / "tensor-store.did"
IC_WASM = EXAMPLES / "node_modules" / "@icp-sdk" / "ic-wasm-linux-x64" / "bin" / "ic-wasm"
# Exports that are not methods of tensor-store.did (lifecycle, inspect, each compiler's runtime), for
# `ic-wasm check-endpoints --hidden`.
HIDDEN_ENDPOINTS = {"rust": EXAMPLES / "rust-store" / "hidden-endpoints.txt",
                    "motoko": EXAMPLES / "motoko-store" / "hidden-endpoints.txt"}


def ic_wasm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ic-wasm (npm @icp-sdk/ic-wasm-linux-x64, pinned in examples/package.json)."""
    if not IC_WASM.is_file():
        raise BuildError(f"{IC_WASM} is missing: run `npm ci --prefix examples` (ic-wasm from npm)")
    return subprocess.run([str(IC_WASM), *map(str, args)], capture_output=True, text=True, timeout=300)


def add_candid_metadata(wasm: Path) -> Path:
    """Put tensor-store.did into `wasm` as its public `candid:service` section (what dfx, icp-cli,
    dashboards and `ic-wasm check-endpoints` read), in place."""
    proc = ic_wasm(wasm, "-o", wasm, "metadata", "candid:service", "-f", DID, "-v", "public")
    if proc.returncode != 0:
        raise BuildError(f"ic-wasm metadata on {wasm} failed:\n{proc.stderr[-4000:]}")
    return wasm


def build_rust_store() -> Path:
    """`cargo build --release --target wasm32-unknown-unknown` in examples/rust-store; the .wasm path."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise BuildError("cargo is not on PATH: install a Rust toolchain (rustup) to build examples/rust-store")
    env = dict(os.environ)
    env.pop("CARGO_TARGET_DIR", None)  # the path of the module is fixed (dfx.json names it)
    proc = subprocess.run([cargo, "build", "--release", "--locked", "--quiet", "--target", WASM_TARGET],
                          cwd=RUST_STORE, capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        hint = ""
        if "target may not be installed" in proc.stderr or "can't find crate for `core`" in proc.stderr:
            hint = f"\n(install the target: rustup target add {WASM_TARGET})"
        raise BuildError(f"cargo build of examples/rust-store failed ({proc.returncode}):\n{proc.stderr[-4000:]}{hint}")
    if not RUST_WASM.is_file():
        raise BuildError(f"cargo succeeded but {RUST_WASM} is missing")
    return add_candid_metadata(RUST_WASM)


MOTOKO_BUILD = EXAMPLES.parent / "bindings" / "motoko" / "scripts" / "build.js"


def build_motoko(entry: Path, out_dir: Path, *, public_metadata: tuple[str, ...] = ()) -> Path:
    """Compile a Motoko actor for the IC (Wasm64) with the npm `motoko` compiler (bindings/motoko/package.json:
    `npm install --prefix bindings/motoko`); the library is importable as "mo:tensorcbor/<Module>".
    `public_metadata`: sections the compiler emits as public (else private)."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is not on PATH: install Node.js to compile Motoko")
    flags = [f for name in public_metadata for f in ("--public-metadata", name)]
    proc = subprocess.run([node, str(MOTOKO_BUILD), "--target", "ic", *flags, str(out_dir), str(entry)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise BuildError(f"compiling {entry.name} failed (did `npm install --prefix bindings/motoko` run?):\n"
                         f"{proc.stderr[-4000:]}")
    return out_dir / entry.with_suffix(".wasm").name


MOTOKO_STORE = EXAMPLES / "motoko-store" / "main.mo"


def build_motoko_store() -> Path:
    """examples/motoko-store/main.mo compiled for the IC into examples/motoko-store/build/main.wasm, with
    tensor-store.did as its public `candid:service` (the compiler's own section is made public first, so that
    ic-wasm replaces it rather than adding a second section of the same name)."""
    wasm = build_motoko(MOTOKO_STORE, MOTOKO_STORE.parent / "build", public_metadata=("candid:service",))
    return add_candid_metadata(wasm)


# The two tensor-store canisters by kind, as the tests and benchmarks name them.
STORE_BUILDERS = {"rust": build_rust_store, "motoko": build_motoko_store}


def check_endpoints(kind: str, wasm: Path) -> subprocess.CompletedProcess[str]:
    """`ic-wasm <wasm> check-endpoints --candid tensor-store.did --hidden <kind>-store/hidden-endpoints.txt`."""
    return ic_wasm(wasm, "check-endpoints", "--candid", DID, "--hidden", HIDDEN_ENDPOINTS[kind])


def synthetic_model(target_bytes: int, *, hidden: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """A transformer-shaped model of about `target_bytes`: a 1024x1024 float32 dense layer with its bias, an
    embedding, then repeated layers of 12 tensors in float32, float16, bfloat16, int8, bool, int4 and string
    (about 460 KB per layer at hidden 128, so 20 MB is some 360 tensors)."""
    rng = np.random.default_rng(seed)
    h = hidden
    model: dict[str, np.ndarray] = {
        "head.dense.weight": (rng.standard_normal((1024, 1024), dtype=np.float32) / 32).astype(np.float32),
        "head.dense.bias": rng.standard_normal(1024, dtype=np.float32),
        "embed.weight": rng.standard_normal((2000, h), dtype=np.float32).astype(np.float16),
        "vocab": np.array([f"tok{i}" for i in range(64)]),
    }

    def layer(i: int) -> dict[str, np.ndarray]:
        p = f"layers.{i:03d}."
        return {
            p + "attn.qkv.weight": rng.standard_normal((3 * h, h), dtype=np.float32).astype(ml_dtypes.bfloat16),
            p + "attn.qkv.bias": rng.standard_normal(3 * h, dtype=np.float32),
            p + "attn.out.weight": rng.standard_normal((h, h), dtype=np.float32).astype(np.float16),
            p + "mlp.up.weight": rng.integers(-128, 128, (4 * h, h), dtype=np.int8),
            p + "mlp.up.scale": rng.random(4 * h, dtype=np.float32),
            p + "mlp.down.weight": rng.standard_normal((h, 4 * h), dtype=np.float32),
            p + "norm1.weight": np.ones(h, np.float32),
            p + "norm1.bias": np.zeros(h, np.float32),
            p + "norm2.weight": rng.random(h, dtype=np.float32),
            p + "norm2.bias": rng.random(h, dtype=np.float32),
            p + "attn.mask": rng.random(h) < 0.5,
            p + "rope.int4": rng.integers(-8, 8, 2 * h - 1).astype(ml_dtypes.int4),
        }

    size = sum(a.nbytes for a in model.values())
    i = 0
    while size < target_bytes:
        part = layer(i)
        model.update(part)
        size += sum(a.nbytes for a in part.values())
        i += 1
    return model
