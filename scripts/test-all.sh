#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what it needs, then runs
# lint, type checks and the test suites. Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --disable-pip-version-check -q -e '.[dev]'
echo "== ruff"; python3 -m ruff check src tests bench conformance
echo "== mypy"; python3 -m mypy
# cbor-x is pinned exactly in package.json and package-lock.json; `npm install` honours the lock (npm ci rejects
# this lock on npm 11, which leaves platform-specific optional packages of cbor-extract out of it).
echo "== npm (cbor-x)"; npm install --prefix conformance/js --no-audit --no-fund --ignore-scripts --loglevel=error
# The Motoko compiler (npm `motoko`, pinned exactly in bindings/motoko/package.json and its lock) for tests/test_motoko.py.
echo "== npm (motoko compiler)"; npm install --prefix bindings/motoko --no-audit --no-fund --loglevel=error
echo "== cargo test"; cargo test --quiet --manifest-path bindings/rust/Cargo.toml --all-features
echo "== cargo build (no_std, --no-default-features)"; cargo build --quiet --manifest-path bindings/rust/Cargo.toml --no-default-features
echo "== pytest"; python3 -m pytest -q -p no:cacheprovider "$@"
