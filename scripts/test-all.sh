#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what it needs, then runs
# lint, type checks and the test suites. Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --disable-pip-version-check -q -e '.[dev]'
echo "== ruff"; python3 -m ruff check src tests bench conformance examples
echo "== mypy"; python3 -m mypy
# cbor-x is pinned exactly in package.json and package-lock.json; `npm install` honours the lock (npm ci rejects
# this lock on npm 11, which leaves platform-specific optional packages of cbor-extract out of it).
echo "== npm (cbor-x)"; npm install --prefix conformance/js --no-audit --no-fund --ignore-scripts --loglevel=error
echo "== npm (motoko compiler)"; npm install --prefix bindings/motoko --no-audit --no-fund --loglevel=error
# The canister examples (tests/test_canister_e2e.py) build for the IC's Wasm target.
echo "== rustup target wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown
echo "== cargo test"; cargo test --quiet --manifest-path bindings/rust/Cargo.toml --all-features
echo "== cargo fmt"; cargo fmt --manifest-path bindings/rust/Cargo.toml --all --check
echo "== cargo clippy"; cargo clippy --quiet --manifest-path bindings/rust/Cargo.toml --all-features --all-targets -- -D warnings
echo "== cargo build (no_std, --no-default-features)"; cargo build --quiet --manifest-path bindings/rust/Cargo.toml --no-default-features
echo "== wasm32 (no_std crate + probe module)"; source scripts/wasm32-toolchain.sh
cargo build --quiet --manifest-path bindings/rust/Cargo.toml -p tensorcbor --no-default-features --features stream \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}"
cargo build --quiet --locked --manifest-path bindings/rust/Cargo.toml -p tensorcbor-wasm-probe --profile wasm \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}"
cargo clippy --quiet --manifest-path bindings/rust/Cargo.toml -p tensorcbor-wasm-probe --features stream \
  --target wasm32-unknown-unknown "${WASM32_CARGO_FLAGS[@]}" -- -D warnings
echo "== pytest"; python3 -m pytest -q -p no:cacheprovider "$@"
