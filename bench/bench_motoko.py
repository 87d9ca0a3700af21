"""Instruction costs of the Motoko binding (bindings/motoko): IC instructions, and wasmtime fuel beside them.

Compiles bindings/motoko/harness/Bench.mo for the IC target, runs it under the IC emulation (tensorcbor.ic:
the replica's instrumentation and cost table, Wasm64 loads and stores at 2) and reads the instructions spent
inside each library call through ic0.performance_counter; the emulator records the wasmtime fuel at the same
two points. Per-element figures are (cost for 2N elements - cost for N) / N with N = 262,144, so fixed costs
drop out; `candid_vec_float32` is Motoko's own `from_candid` of the same float32 values as `vec float32`,
measured in the same run. Keys without a suffix are fuel (about one per Wasm operator, comparable with older
figures); keys ending `_ic_instructions` are IC instructions. Message limits are off for this harness (the 2N
documents are larger than one ingress message); the whole-call figures are within them. `targets` are judged
in IC instructions, `targets_fuel` in fuel (the unit they were set in). Fuel no longer includes the 1 per byte
the former harness added for stable memory copies (those are IC charges now).

`f16_to_float` / `bf16_to_float` use the tables of `Bits.Scratch.useHalfTables` (built at install, as a
canister that decodes half precision in volume would); `*_no_tables` the default arithmetic route.
`motoko_encode_f32_per_element` is `Encode.float32` ([Float32] to a tensor document) beside
`motoko_candid_encode_f32_per_element`, Motoko's own `to_candid` of the same array; `_tensor_` and `_tensor_in_`
are the general routes from the same array (`Elements.fromFloat32`, then `Encode.tensor` in the heap or
`Encode.tensorIn` through the Region). `motoko_query_bf16_cold` and
`_warm` are whole queries (decode a one-element bfloat16 document, sum it as [Float]) under the emulation,
which discards a query's changes as the IC does: on a freshly installed canister, then after the same work ran in
an update call.

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
from tensorcbor.conformance.canister import CanisterImpl
from tensorcbor.ic import Canister
from tensorcbor.ic.candid import candid_blob, leb128, parse_candid_nat64

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bindings" / "motoko" / "harness"
sys.path.insert(0, str(HARNESS))

from build import BUILD, build  # noqa: E402

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
        "f16_to_float_no_tables": tensorcbor.encode(u16.view(np.float16)),
        "bf16_to_float_no_tables": tensorcbor.encode(u16.view(tensorcbor.dtypes.BY_NAME["bfloat16"].np_dtype)),
        "i32_to_int32": tensorcbor.encode(rng.integers(-(1 << 31), 1 << 31, n, dtype=np.int32)),
        "u8_to_nat8": tensorcbor.encode(rng.integers(0, 256, n, dtype=np.uint8)),
        "candid_vec_float32": b"DIDL\x01\x6d\x73\x01\x00" + leb128(n) + f32.tobytes(),
        "motoko_encode_f32_per_element": tensorcbor.encode(f32),
        "motoko_candid_encode_f32_per_element": tensorcbor.encode(f32),
        "motoko_encode_tensor_f32_per_element": tensorcbor.encode(f32),
        "motoko_encode_tensor_in_f32_per_element": tensorcbor.encode(f32),
    }


OPS = {
    "f32_to_float32": "f32_to_float32", "f32_to_float": "to_float",
    "f16_to_float": "to_float_tables", "bf16_to_float": "to_float_tables",
    "f16_to_float_no_tables": "to_float", "bf16_to_float_no_tables": "to_float",
    "i32_to_int32": "i32_to_int32", "u8_to_nat8": "u8_to_nat8", "candid_vec_float32": "candid_vec_float32",
    "motoko_encode_f32_per_element": "encode_f32", "motoko_candid_encode_f32_per_element": "candid_encode_f32",
    "motoko_encode_tensor_f32_per_element": "encode_f32_tensor",
    "motoko_encode_tensor_in_f32_per_element": "encode_f32_tensor_in",
}


def _measure(c: Canister, doc: bytes, op: str) -> tuple[int, int]:
    """(fuel, IC instructions) spent inside one library call, between the harness's two performance_counter
    readings."""
    c.update("load", candid_blob(doc)).ok()
    ic = parse_candid_nat64(c.update("measure", b"DIDL\x00\x01\x71" + leb128(len(op)) + op.encode()).ok())
    # the harness's two readings among those of the message (the Motoko runtime reads the counter too)
    readings = c.counter_readings
    pairs = [(b[1], a[1]) for i, b in enumerate(readings) for a in readings[i + 1:] if a[0] - b[0] == ic]
    assert len(pairs) == 1, f"the harness's readings are not identifiable among {readings}"
    fuel_before, fuel_after = pairs[0]
    return fuel_after - fuel_before, ic


def query_bf16(wasm: Path) -> dict[str, int]:
    """Cost of one bfloat16 query on a freshly installed canister, and of the same query once the same work
    has run in an update call (which would have kept anything built lazily)."""
    c = Canister(wasm)
    c.install()
    arg = candid_blob(tensorcbor.encode(np.array([1.5], dtype=tensorcbor.dtypes.BY_NAME["bfloat16"].np_dtype)))
    cold = c.query("sumBf16", arg)
    c.update("sumBf16Update", arg).ok()
    warm = c.query("sumBf16", arg)
    assert cold.ok() == warm.ok() == b"DIDL\x00\x01\x72" + np.float64(1.5).tobytes()
    return {"motoko_query_bf16_cold": cold.fuel, "motoko_query_bf16_warm": warm.fuel,
            "motoko_query_bf16_cold_ic_instructions": cold.ic_instructions,
            "motoko_query_bf16_warm_ic_instructions": warm.ic_instructions}


def run(partial: bool = False) -> dict[str, Any]:
    wasm = build(HARNESS / "Bench.mo", BUILD / "Bench.wasm")
    c = Canister(wasm, limits=False)
    c.install()
    rng = np.random.default_rng(7)
    small, big = _docs(N, rng), _docs(2 * N, rng)
    out: dict[str, Any] = {"n": N}
    for key, op in OPS.items():
        a, b = _measure(c, small[key], op), _measure(c, big[key], op)
        out[key] = round((b[0] - a[0]) / N, 1)
        out[key + "_ic_instructions"] = round((b[1] - a[1]) / N, 1)
    if partial:
        return out
    out.update(query_bf16(wasm))
    out["header_rank2"], out["header_rank2_ic_instructions"] = _measure(
        c, tensorcbor.encode(np.zeros((3, 4), np.float32)), "header")
    # the bundle is written by the Motoko encoder (D4 layout), 100 float32 tensors of 4 elements
    value = {"metadata": {"map": [["k", {"int": "1"}]]},
             "tensors": [{"name": f"t{i:03d}", "dtype": "float32", "shape": [4],
                          "data_hex": np.arange(4, dtype=np.float32).tobytes().hex()} for i in range(100)]}
    bundle = CanisterImpl(build()).encode("bench", value, "bundle")  # the adapter canister's Encode.bundle
    out["bundle_100_tensors"], out["bundle_100_tensors_ic_instructions"] = _measure(c, bundle, "bundle")
    doc = tensorcbor.encode(rng.standard_normal(1 << 18).astype(np.float32))  # 1 MiB of float32
    call = c.update("decodeF32", candid_blob(doc))
    call.ok()
    fuel, ic = call.fuel, call.ic_instructions
    out["ic_call_1mib_f32_to_float32"] = fuel
    out["ic_call_1mib_f32_to_float32_ic_instructions"] = ic
    out["ic_call_1mib_fraction_of_query"] = round(ic / QUERY_LIMIT, 5)
    cand = out["candid_vec_float32"]
    out["ratios"] = {k: round(out[k] / cand, 3) for k in (
        "f32_to_float32", "f32_to_float", "f16_to_float", "bf16_to_float", "f16_to_float_no_tables",
        "bf16_to_float_no_tables", "i32_to_int32", "u8_to_nat8")}
    cand_ic = out["candid_vec_float32_ic_instructions"]
    out["ratios_ic_instructions"] = {k: round(out[k + "_ic_instructions"] / cand_ic, 3) for k in out["ratios"]}
    out["targets"] = _targets(out, out["ratios_ic_instructions"], "_ic_instructions")
    out["targets_fuel"] = _targets(out, out["ratios"], "")  # issue 13's targets were set in fuel
    return out


def _targets(out: dict[str, Any], ratios: dict[str, float], unit: str) -> dict[str, bool]:
    """The issue-13/21 targets judged in one unit: `unit` is "_ic_instructions" (IC instructions) or "" (fuel)."""
    return {
        "f32_to_float32 <= 1.15x candid": ratios["f32_to_float32"] <= 1.15,
        "f32_to_float <= 2.5x candid": ratios["f32_to_float"] <= 2.5,
        "f16_to_float <= 1.8x candid": ratios["f16_to_float"] <= 1.8,
        "bf16_to_float <= 1.8x candid": ratios["bf16_to_float"] <= 1.8,
        "header_rank2 <= 10000": out["header_rank2" + unit] <= 10_000,
        "1 MiB call < 1% of a query": out["ic_call_1mib_f32_to_float32" + unit] < 0.01 * QUERY_LIMIT,
        "encode f32 <= 1.5x to_candid": out["motoko_encode_f32_per_element" + unit]
        <= 1.5 * out["motoko_candid_encode_f32_per_element" + unit],
        "bf16 query cold <= 2x warm": out["motoko_query_bf16_cold" + unit] <= 2 * out["motoko_query_bf16_warm" + unit],
    }


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
