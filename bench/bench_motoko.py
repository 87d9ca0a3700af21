"""Instruction costs of the Motoko binding (bindings/motoko), measured as wasmtime fuel.

Compiles bindings/motoko/harness/Bench.mo for the IC target, runs it under wasmtime with the ic0 API defined in
Python (bindings/motoko/harness/ichost.py), and reads the instructions spent inside each library call through
ic0.performance_counter. Per-element figures are (fuel for 2N elements - fuel for N) / N with N = 262,144, so
fixed costs drop out; `candid_vec_float32` is Motoko's own `from_candid` of the same float32 values as
`vec float32`, measured in the same run. Fuel is about one per Wasm operator (a lower bound of IC
instructions); stable-memory copies are charged one per byte.

    python3 bench/bench_motoko.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor.ic import Canister
from tensorcbor.ic.candid import candid_blob, leb128, parse_candid_nat64

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bindings" / "motoko" / "harness"
sys.path.insert(0, str(HARNESS))

from protocol import BUILD, MotokoCodec, build  # noqa: E402

N = 262_144
QUERY_LIMIT = 5e9


def _docs(n: int, rng: np.random.Generator) -> dict[str, bytes]:
    f32 = rng.standard_normal(n).astype(np.float32)
    f32.view(np.uint32)[:8] = [0x7FC00001, 0xFF800001, 0x7F800001, 0x80000000, 1, 0x7F800000, 0xFFC12345, 0x7FBFFFFF]
    u16 = rng.integers(0, 1 << 16, n, dtype=np.uint16)
    return {
        "f32_to_float32": tensorcbor.encode(f32),
        "f32_to_float": tensorcbor.encode(f32),
        "f16_to_float": tensorcbor.encode(u16.view(np.float16)),
        "bf16_to_float": tensorcbor.encode(u16.view(tensorcbor.dtypes.BY_NAME["bfloat16"].np_dtype)),
        "i32_to_int32": tensorcbor.encode(rng.integers(-(1 << 31), 1 << 31, n, dtype=np.int32)),
        "u8_to_nat8": tensorcbor.encode(rng.integers(0, 256, n, dtype=np.uint8)),
        "candid_vec_float32": b"DIDL\x01\x6d\x73\x01\x00" + leb128(n) + f32.tobytes(),
    }


OPS = {"f32_to_float32": "f32_to_float32", "f32_to_float": "to_float", "f16_to_float": "to_float",
       "bf16_to_float": "to_float", "i32_to_int32": "i32_to_int32", "u8_to_nat8": "u8_to_nat8",
       "candid_vec_float32": "candid_vec_float32"}


def _measure(c: Canister, doc: bytes, op: str) -> int:
    c.update("load", candid_blob(doc))
    return parse_candid_nat64(c.update("measure", b"DIDL\x00\x01\x71" + leb128(len(op)) + op.encode()))


def run(partial: bool = False) -> dict[str, Any]:
    wasm = build(HARNESS / "Bench.mo", BUILD / "Bench.wasm")
    c = Canister(wasm)
    rng = np.random.default_rng(7)
    small, big = _docs(N, rng), _docs(2 * N, rng)
    # the float16/bfloat16 tables are built once per canister: build them before measuring
    for key in ("f16_to_float", "bf16_to_float"):
        _measure(c, _docs(16, rng)[key], "to_float")
    out: dict[str, Any] = {"n": N}
    for key, op in OPS.items():
        a, b = _measure(c, small[key], op), _measure(c, big[key], op)
        out[key] = round((b - a) / N, 1)
    if partial:
        return out
    out["header_rank2"] = _measure(c, tensorcbor.encode(np.zeros((3, 4), np.float32)), "header")
    # the bundle is written by the Motoko encoder (D4 layout), 100 float32 tensors of 4 elements
    value = {"metadata": {"map": [["k", {"int": "1"}]]},
             "tensors": [{"name": f"t{i:03d}", "dtype": "float32", "shape": [4],
                          "data_hex": np.arange(4, dtype=np.float32).tobytes().hex()} for i in range(100)]}
    bundle = bytes.fromhex(MotokoCodec().encode(value, "bundle")["hex"])
    out["bundle_100_tensors"] = _measure(c, bundle, "bundle")
    doc = tensorcbor.encode(rng.standard_normal(1 << 18).astype(np.float32))  # 1 MiB of float32
    fuel, _ = c.fuel_used("decodeF32", candid_blob(doc), update=True)
    out["ic_call_1mib_f32_to_float32"] = fuel
    out["ic_call_1mib_fraction_of_query"] = round(fuel / QUERY_LIMIT, 5)
    cand = out["candid_vec_float32"]
    out["ratios"] = {k: round(out[k] / cand, 3) for k in ("f32_to_float32", "f32_to_float", "f16_to_float",
                                                           "bf16_to_float", "i32_to_int32", "u8_to_nat8")}
    out["targets"] = {
        "f32_to_float32 <= 1.15x candid": out["ratios"]["f32_to_float32"] <= 1.15,
        "f32_to_float <= 2.5x candid": out["ratios"]["f32_to_float"] <= 2.5,
        "f16_to_float <= 1.8x candid": out["ratios"]["f16_to_float"] <= 1.8,
        "bf16_to_float <= 1.8x candid": out["ratios"]["bf16_to_float"] <= 1.8,
        "header_rank2 <= 10000": out["header_rank2"] <= 10_000,
        "1 MiB call < 1% of a query": fuel < 0.01 * QUERY_LIMIT,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--only", nargs="*", help="measure only these per-element keys (development)")
    args = p.parse_args(argv)
    if args.only:
        for key in list(OPS):
            if key not in args.only:
                del OPS[key]
        out = run(partial=True)
    else:
        out = run()
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:32} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
