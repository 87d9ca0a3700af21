"""The Rust tensor-store canister's keys for bench/bench_canister.py (implementation: bench_canister_e2e.py)."""

from __future__ import annotations

import bench_canister_e2e

MEASUREMENTS = bench_canister_e2e.measurements("rust", bench_canister_e2e.KEYS)
