#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what it needs, then runs
# lint, type checks and the test suites. Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# Python packages go into the active virtual environment; without one, into ./.venv when it exists (the README's
# first command makes it) or when the system Python refuses installs (PEP 668 "externally managed"), else into
# the system Python as before (CI's fresh machine).
if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python3 ] && python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    python3 -m venv .venv || { echo "python3 -m venv failed: install your Python's venv support (Debian/Ubuntu:" \
      "apt install python3-venv)" >&2; exit 1; }
  fi
  if [ -x .venv/bin/python3 ]; then . .venv/bin/activate; fi
fi
python3 -m pip install --disable-pip-version-check -q -e '.[dev]'
# PyTorch is a first-class path (tensorcbor.torch, the torch converter): installed from PyPI (about 150 s and 5 GB
# the first time) and its tests must run. Only when the registry refuses it are they skipped, and this says so.
echo "== torch (PyPI)"
if python3 -c 'import torch' 2>/dev/null || python3 -m pip install --disable-pip-version-check -q torch; then
  export TENSORCBOR_REQUIRE_TORCH=1
else
  echo "!! pip could not install torch from the registry: the torch tests will be skipped (pytest -rs lists them)"
fi
# The compiled bundle reader (tensorcbor._native: bindings/python-accel, the Rust crate behind PyO3) is built by the
# `pip install -e` above (setuptools-rust, with cargo). Both paths are tested: everything below runs with it
# (TENSORCBOR_REQUIRE_ACCEL makes its tests fail, not skip, if it is missing), then the bundle tests run again with
# it off; the packaging tests build a wheel and an sdist (the latter installed without cargo).
echo "== ruff"; python3 -m ruff check src tests bench conformance examples
echo "== mypy"; python3 -m mypy
# cbor-x is pinned exactly in package.json and package-lock.json; `npm install` honours the lock (npm ci rejects
# this lock on npm 11, which leaves platform-specific optional packages of cbor-extract out of it).
echo "== npm (cbor-x)"; npm install --prefix conformance/js --no-audit --no-fund --ignore-scripts --loglevel=error
# The Motoko compiler (npm `motoko`, pinned exactly in bindings/motoko/package.json and its lock) for tests/test_motoko.py.
echo "== npm (motoko compiler)"; npm install --prefix bindings/motoko --no-audit --no-fund --loglevel=error
# The JavaScript binding: TypeScript, @icp-sdk/core and @huggingface/hub (dev dependencies, pinned by its lock);
# tests/test_binding_js.py builds it and runs node's test runner, the conformance suites and a headless Chromium.
# ic-wasm and icp-cli (npm, pinned by examples/package-lock.json): the canisters' public candid:service section,
# `ic-wasm check-endpoints` and `icp build` in the canister tests.
echo "== npm (ic-wasm, icp-cli)"; npm install --prefix examples --no-audit --no-fund --loglevel=error
echo "== npm (bindings/js)"; npm ci --prefix bindings/js --no-audit --no-fund --loglevel=error
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "== chromium (Debian, for the browser test of bindings/js)"
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "!! apt-get could not install chromium"
  else
    echo "!! chromium is not installed and this is not root: the browser test of bindings/js will be skipped"
  fi
fi
echo "== cargo test"; cargo test --quiet --manifest-path bindings/rust/Cargo.toml --all-features
echo "== cargo fmt"; cargo fmt --manifest-path bindings/rust/Cargo.toml --all --check
echo "== cargo clippy"; cargo clippy --quiet --manifest-path bindings/rust/Cargo.toml --all-features --all-targets -- -D warnings
echo "== cargo fmt + clippy (python-accel)"; cargo fmt --manifest-path bindings/python-accel/Cargo.toml --check
cargo clippy --quiet --locked --manifest-path bindings/python-accel/Cargo.toml --release -- -D warnings
echo "== cargo build (no_std, --no-default-features)"; cargo build --quiet --manifest-path bindings/rust/Cargo.toml --no-default-features
echo "== wasm32 (no_std crate + probe module)"; source scripts/wasm32-toolchain.sh
cargo build --quiet --manifest-path bindings/rust/Cargo.toml -p tensorcbor --no-default-features --features stream \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}"
cargo build --quiet --manifest-path bindings/rust/Cargo.toml -p tensorcbor --no-default-features --features conformance \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}"
cargo build --quiet --locked --manifest-path bindings/rust/Cargo.toml -p tensorcbor-wasm-probe --profile wasm \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}"
cargo clippy --quiet --manifest-path bindings/rust/Cargo.toml -p tensorcbor-wasm-probe --features stream \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}" -- -D warnings
# From its own directory: its .cargo/config.toml selects getrandom's `custom` backend for wasm32 (cargo reads
# configuration from the working directory, not from --manifest-path).
echo "== model-canister (fmt + clippy, wasm32; candle)"
(cd examples/model-canister && cargo fmt --check && cargo clippy --quiet --locked --release \
  --target wasm32-unknown-unknown --all-features "${WASM32_CARGO_FLAGS[@]/core,alloc/std,panic_abort}" -- -D warnings)
echo "== quickstart-rust (fmt + clippy, wasm32)"; cargo fmt --manifest-path examples/quickstart-rust/Cargo.toml --check
cargo clippy --quiet --locked --manifest-path examples/quickstart-rust/Cargo.toml --target wasm32-unknown-unknown \
  "${WASM32_CARGO_FLAGS[@]/core,alloc/std,panic_abort}" -- -D warnings
echo "== rust-store (fmt + clippy, wasm32)"; cargo fmt --manifest-path examples/rust-store/Cargo.toml --check
cargo clippy --quiet --locked --manifest-path examples/rust-store/Cargo.toml --target wasm32-unknown-unknown \
  "${WASM32_CARGO_FLAGS[@]/core,alloc/std,panic_abort}" -- -D warnings
echo "== store-upload (fmt + clippy, wasm32)"; cargo fmt --manifest-path examples/store-upload/Cargo.toml --check
cargo clippy --quiet --locked --manifest-path examples/store-upload/Cargo.toml --target wasm32-unknown-unknown \
  "${WASM32_CARGO_FLAGS[@]/core,alloc/std,panic_abort}" -- -D warnings
echo "== pytest"; TENSORCBOR_REQUIRE_ACCEL=1 python3 -m pytest -q -p no:cacheprovider "$@"
if [ $# -eq 0 ]; then
  echo "== pytest, bundle tests with the accelerator off (TENSORCBOR_NO_ACCEL=1)"
  TENSORCBOR_NO_ACCEL=1 python3 -m pytest -q -p no:cacheprovider tests/test_bundle.py tests/test_files.py \
    tests/test_buffers.py tests/test_hostile.py \
    tests/test_harden.py tests/test_layout.py tests/test_strict.py tests/test_lenient.py tests/test_conformance_suite.py
fi
