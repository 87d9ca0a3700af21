"""Motoko keys for bench/bench_canister.py: the Motoko tensor-store canister (`motoko_canister_*`, implementation
in bench_canister_e2e.py) and SHA-256 in Motoko (bindings/motoko/src/Sha256.mo), fuel per byte.

Issue-21 keys: `motoko_sha256_per_byte` (SHA-256 over 1 MiB, per byte), `motoko_canister_upload_per_byte`
(put_chunk over a ~20 MB model, per payload byte; with `motoko_canister_upload_over_sha256`, its ratio to the
SHA-256 cost) and `motoko_canister_dense_1024`. Each has a `<key>_ic_instructions` twin, null until the emulation
meters IC instructions (the canister-fidelity issue): never an estimate.
"""

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
    return {"motoko_sha256_per_byte": round((fuel[1] - fuel[0]) / n, 1),
            "motoko_sha256_per_byte_ic_instructions": None}


def issue21_keys() -> dict[str, Any]:
    """The canister figures under the names issue 21 uses, and the upload's ratio to SHA-256 alone."""
    store = bench_canister_e2e.measure("motoko")
    sha = sha256_cost()["motoko_sha256_per_byte"]
    upload = store["motoko_canister_upload_fuel_per_byte"]
    return {**sha256_cost(), **store,
            "motoko_canister_upload_per_byte": upload,
            "motoko_canister_upload_over_sha256": round(upload / sha, 3),
            "motoko_canister_upload_per_byte_ic_instructions": None,
            "motoko_canister_dense_1024_ic_instructions": None}


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "motoko_sha256_per_byte": sha256_cost,
    **bench_canister_e2e.measurements("motoko", bench_canister_e2e.KEYS),
    "motoko_canister_upload_per_byte": issue21_keys,
}
