"""Motoko keys for bench/bench_canister.py: the Motoko tensor-store canister (`motoko_canister_*`, implementation
in bench_canister_e2e.py) and SHA-256 in Motoko (bindings/motoko/src/Sha256.mo), fuel per byte."""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import bench_canister_e2e  # noqa: E402
import canisters  # noqa: E402
import icemu  # noqa: E402

PROBE = ROOT / "tests" / "motoko" / "Sha256Probe.mo"


@functools.cache
def sha256_cost() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        c = icemu.Canister(canisters.build_motoko(PROBE, Path(tmp)).read_bytes())
    c.install()
    n = 1 << 20
    fuel = [c.query("hash_only", icemu.encode([("blob", bytes(size))])).fuel for size in (0, n)]
    return {"motoko_sha256_fuel_per_byte": round((fuel[1] - fuel[0]) / n, 1)}


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "motoko_sha256_fuel_per_byte": sha256_cost,
    **bench_canister_e2e.measurements("motoko", bench_canister_e2e.KEYS),
}
