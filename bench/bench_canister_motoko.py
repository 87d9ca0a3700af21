"""Motoko keys for bench/bench_canister.py: the Motoko tensor-store canister (`motoko_canister_*`, implementation
in bench_canister_e2e.py) and SHA-256 in Motoko (bindings/motoko/src/Sha256.mo), IC instructions and fuel per
byte."""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tensorcbor.ic import Canister, candid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import bench_canister_e2e  # noqa: E402
import canisters  # noqa: E402

PROBE = ROOT / "tests" / "motoko" / "Sha256Probe.mo"


@functools.cache
def sha256_cost() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        c = Canister(canisters.build_motoko(PROBE, Path(tmp)).read_bytes())
    c.install()
    n = 1 << 20
    runs = [c.query("hash_only", candid.encode([("blob", bytes(size))])) for size in (0, n)]
    return {"motoko_sha256_ic_instructions_per_byte": round((runs[1].ic_instructions - runs[0].ic_instructions) / n, 1),
            "motoko_sha256_fuel_per_byte": round((runs[1].fuel - runs[0].fuel) / n, 1)}


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "motoko_sha256_ic_instructions_per_byte": sha256_cost,
    "motoko_sha256_fuel_per_byte": sha256_cost,
    **bench_canister_e2e.measurements("motoko", bench_canister_e2e.KEYS),
}
