"""Motoko keys for bench/bench_canister.py: the Motoko tensor-store canister (`motoko_canister_*`, implementation
in bench_canister_e2e.py) and SHA-256 in Motoko (bindings/motoko/src/Sha256.mo), IC instructions and fuel per
byte.

Issue-21 keys: `motoko_sha256_per_byte` (SHA-256 over 1 MiB, per byte), `motoko_canister_upload_per_byte`
(put_chunk over a ~20 MB model, per payload byte; with `motoko_canister_upload_over_sha256`, its ratio to the
SHA-256 cost) and `motoko_canister_dense_1024`: wasmtime fuel, the unit issue 21 set them in. Each has a
`<key>_ic_instructions` twin in IC instructions (the unit the IC limits and bills). The same SHA-256 figures are
also under the bench's general names `motoko_sha256_ic_instructions_per_byte` / `motoko_sha256_fuel_per_byte`.
"""

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
    ic = round((runs[1].ic_instructions - runs[0].ic_instructions) / n, 1)
    fuel = round((runs[1].fuel - runs[0].fuel) / n, 1)
    return {"motoko_sha256_ic_instructions_per_byte": ic, "motoko_sha256_fuel_per_byte": fuel,
            "motoko_sha256_per_byte": fuel, "motoko_sha256_per_byte_ic_instructions": ic}


def issue21_keys() -> dict[str, Any]:
    """The canister figures under the names issue 21 uses, and the upload's ratio to SHA-256 alone."""
    store = bench_canister_e2e.measure("motoko")
    sha = sha256_cost()
    upload = store["motoko_canister_upload_fuel_per_byte"]
    upload_ic = store["motoko_canister_upload_ic_instructions_per_byte"]
    return {**sha, **store,
            "motoko_canister_upload_per_byte": upload,
            "motoko_canister_upload_over_sha256": round(upload / sha["motoko_sha256_per_byte"], 3),
            "motoko_canister_upload_per_byte_ic_instructions": upload_ic,
            "motoko_canister_upload_over_sha256_ic_instructions":
                round(upload_ic / sha["motoko_sha256_per_byte_ic_instructions"], 3)}


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "motoko_sha256_per_byte": sha256_cost,
    "motoko_sha256_per_byte_ic_instructions": sha256_cost,
    "motoko_sha256_ic_instructions_per_byte": sha256_cost,
    "motoko_sha256_fuel_per_byte": sha256_cost,
    **bench_canister_e2e.measurements("motoko", bench_canister_e2e.KEYS),
    "motoko_canister_upload_per_byte": issue21_keys,
}
